/* The progress line of file runs on a terminal. */
#ifndef SC_HOST_PROGRESS_H
#define SC_HOST_PROGRESS_H

#include "runtime.h"

typedef struct sc_progress sc_progress;

/** NULL (and every call below a no-op) unless stderr is a terminal and
 * the log level is at least info. */
sc_progress *sc_progress_new(sc_pipeline *pipeline);
/** From the main loop; prints at most twice a second. */
void sc_progress_tick(sc_progress *progress);
/** The final state, a newline, and free. */
void sc_progress_finish(sc_progress *progress);

#endif
