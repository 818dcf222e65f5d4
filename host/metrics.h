/* Prometheus text exposition of a running pipeline (GET /metrics). */
#ifndef SC_HOST_METRICS_H
#define SC_HOST_METRICS_H

#include <glib.h>

#include "runtime.h"

/** The exposition text; g_free it. */
char *sc_metrics_render(sc_pipeline *pipeline, gint64 uptime_us);

#endif
