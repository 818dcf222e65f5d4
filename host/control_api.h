/* The HTTP control API of a running pipeline ([host] control). */
#ifndef SC_HOST_CONTROL_API_H
#define SC_HOST_CONTROL_API_H

#include <glib.h>

#include "runtime.h"

typedef struct sc_control sc_control;

/** Starts the API when [host] control is set. NULL with nothing in
 * `errors` when it is not; NULL with "FILE:LINE: message" lines when it
 * cannot start (bad address, beyond loopback without a token, port taken). */
sc_control *sc_control_start(sc_pipeline *pipeline, const char *config_path, GPtrArray *errors);
/** Stops accepting, waits for the requests in progress, frees. */
void sc_control_stop(sc_control *control);
/** "127.0.0.1:8750", the address it listens on (the real port when 0 was asked). */
const char *sc_control_address(const sc_control *control);

#endif
