/* The host's housekeeping thread: the buffers' garbage collection timer
 * (expiring stalled inputs by wall clock) and returning idle packet boxes
 * to the system. */
#ifndef SC_HOST_HOUSEKEEPING_H
#define SC_HOST_HOUSEKEEPING_H

#include "runtime.h"

typedef struct sc_housekeeping sc_housekeeping;

sc_housekeeping *sc_housekeeping_start(sc_pipeline *pipeline);
/** Stop and join the thread. */
void sc_housekeeping_stop(sc_housekeeping *housekeeping);

#endif
