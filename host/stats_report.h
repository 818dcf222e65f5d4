/* The running pipeline's state as JSON (control API) and as totals
 * (control API and Prometheus metrics). */
#ifndef SC_HOST_STATS_REPORT_H
#define SC_HOST_STATS_REPORT_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "runtime.h"

typedef struct sc_stats_totals {
    uint64_t streams;
    uint64_t streams_live;
    uint64_t memory_bytes;
    uint64_t segments_emitted;
    uint64_t segments_rejected;
    uint64_t segments_dropped;     /* by sink queue overflow */
    uint64_t sink_failures;
    uint64_t sync_sets;
} sc_stats_totals;

void sc_stats_global_totals(sc_pipeline *pipeline, sc_stats_totals *totals);
sc_source_runtime *sc_stats_find_source(sc_pipeline *pipeline, const char *id);
/** One source as a JSON object: state, type, redacted URL, buffer, clock,
 * sync, counters, the strategies reading it. */
void sc_stats_add_source(JsonBuilder *builder, sc_source_runtime *source);
/** {"counters": {...}} member of an instance. */
void sc_stats_add_counters(JsonBuilder *builder, sc_ctx *ctx);
/** The whole report (only_source NULL) or one existing source's object;
 * g_free the text. */
char *sc_stats_json(sc_pipeline *pipeline, const char *only_source, gint64 uptime_us);
/** The builder's document as compact JSON text (g_free it); frees the builder. */
char *sc_json_builder_finish(JsonBuilder *builder);
/** The URL with user:password@ hidden and the query reduced to "?...";
 * g_free it. */
char *sc_redact_url(const char *url);

#endif
