/* Prometheus text exposition (format 0.0.4) of the running pipeline, for
 * GET /metrics. Every family is declared once (HELP, TYPE) and its samples
 * follow it, as the format requires; instance names go into labels
 * (source, strategy, sink, reason), escaped. Module counters, whose names
 * are the modules' own, become one family per instance kind with the
 * counter's name in a `name` label, so a new module counter never
 * needs a new metric name. */
#include "metrics.h"

#include <inttypes.h>
#include <string.h>

#include "stats_report.h"

static void append_label_value(GString *out, const char *value)
{
    for (const char *c = value; *c; c++) {
        if (*c == '\\') g_string_append(out, "\\\\");
        else if (*c == '"') g_string_append(out, "\\\"");
        else if (*c == '\n') g_string_append(out, "\\n");
        else g_string_append_c(out, *c);
    }
}

static void family(GString *out, const char *name, const char *type, const char *help)
{
    g_string_append_printf(out, "# HELP streamcut_%s %s\n# TYPE streamcut_%s %s\n", name, help, name, type);
}

/* One sample; `labels` alternate names and values, NULL-terminated. */
static void sample(GString *out, const char *name, double value, ...)
{
    g_string_append_printf(out, "streamcut_%s", name);
    va_list args;
    va_start(args, value);
    const char *label = va_arg(args, const char *);
    if (label) g_string_append_c(out, '{');
    bool first = true;
    while (label) {
        const char *text = va_arg(args, const char *);
        g_string_append_printf(out, "%s%s=\"", first ? "" : ",", label);
        append_label_value(out, text ? text : "");
        g_string_append_c(out, '"');
        first = false;
        label = va_arg(args, const char *);
    }
    va_end(args);
    if (!first) g_string_append_c(out, '}');
    char number[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append_printf(out, " %s\n", g_ascii_dtostr(number, sizeof number, value));
}

static void counter_samples(GString *out, const char *metric, const char *label, sc_ctx *ctx)
{
    g_mutex_lock(&ctx->counters_lock);
    GList *keys = g_list_sort(g_hash_table_get_keys(ctx->counters), (GCompareFunc)(void *)g_strcmp0);
    for (GList *key = keys; key; key = key->next)
        sample(out, metric, (double)*(int64_t *)g_hash_table_lookup(ctx->counters, key->data), label, ctx->name,
               "name", (const char *)key->data, NULL);
    g_list_free(keys);
    g_mutex_unlock(&ctx->counters_lock);
}

static sc_buffer_stats *buffer_stats_of(sc_pipeline *pipeline)
{
    sc_buffer_stats *all = g_new0(sc_buffer_stats, pipeline->sources->len ? pipeline->sources->len : 1);
    for (guint i = 0; i < pipeline->sources->len; i++)
        sc_buffer_get_stats(((sc_source_runtime *)g_ptr_array_index(pipeline->sources, i))->buffer, &all[i]);
    return all;
}

static double packets_in(const sc_buffer_stats *stats) { return (double)stats->packets_in; }
static double bytes_in(const sc_buffer_stats *stats) { return (double)stats->bytes_in; }
static double frames_held(const sc_buffer_stats *stats) { return (double)stats->current_frames; }
static double memory_held(const sc_buffer_stats *stats) { return (double)stats->memory_usage_bytes; }
static double duration_held(const sc_buffer_stats *stats) { return stats->buffer_duration_seconds; }
static double keyframe_ratio(const sc_buffer_stats *stats) { return stats->keyframe_ratio; }

/* The per-source buffer metrics that are one number each. */
static const struct {
    const char *name, *type, *help;
    double (*value)(const sc_buffer_stats *stats);
} buffer_metrics[] = {
    {"buffer_packets_in_total", "counter", "Packets that entered the source's buffer.", packets_in},
    {"buffer_bytes_in_total", "counter", "Payload bytes that entered the source's buffer.", bytes_in},
    {"buffer_frames", "gauge", "Packets the buffer holds now.", frames_held},
    {"buffer_memory_bytes", "gauge", "Memory the buffer holds now (payload and per-packet overhead).", memory_held},
    {"buffer_duration_seconds", "gauge", "Stream time the buffer holds now.", duration_held},
    {"buffer_keyframe_ratio", "gauge", "Reference-stream keyframes among the packets held.", keyframe_ratio},
};

#define EACH_SOURCE(i, source) \
    for (guint i = 0; i < pipeline->sources->len; i++) \
        for (sc_source_runtime *source = g_ptr_array_index(pipeline->sources, i); source; source = NULL)

char *sc_metrics_render(sc_pipeline *pipeline, gint64 uptime_us)
{
    GString *out = g_string_new(NULL);
    sc_stats_totals totals;
    sc_stats_global_totals(pipeline, &totals);
    family(out, "uptime_seconds", "gauge", "Seconds since the pipeline started.");
    sample(out, "uptime_seconds", (double)uptime_us / 1e6, NULL);
    family(out, "streams", "gauge", "Sources configured.");
    sample(out, "streams", (double)totals.streams, NULL);
    family(out, "streams_live", "gauge", "Sources receiving media now.");
    sample(out, "streams_live", (double)totals.streams_live, NULL);
    family(out, "memory_bytes", "gauge", "Memory all buffers hold together.");
    sample(out, "memory_bytes", (double)totals.memory_bytes, NULL);

    family(out, "source_up", "gauge", "1 while the source is live, else 0 (state label tells why).");
    EACH_SOURCE(i, source) {
        int state = atomic_load(&source->state);
        sample(out, "source_up", state == SC_SOURCE_LIVE ? 1 : 0, "source", source->ctx->name, "state",
               sc_source_state_name(state), NULL);
    }
    family(out, "source_reconnects_total", "counter", "Reconnections of the source.");
    EACH_SOURCE(i, source)
        sample(out, "source_reconnects_total", (double)atomic_load(&source->reconnects), "source", source->ctx->name,
               NULL);

    sc_buffer_stats *buffers = buffer_stats_of(pipeline);
    for (size_t m = 0; m < G_N_ELEMENTS(buffer_metrics); m++) {
        family(out, buffer_metrics[m].name, buffer_metrics[m].type, buffer_metrics[m].help);
        EACH_SOURCE(i, source)
            sample(out, buffer_metrics[m].name, buffer_metrics[m].value(&buffers[i]), "source", source->ctx->name, NULL);
    }
    family(out, "buffer_evicted_total", "counter", "Packets evicted from the buffer, by reason.");
    EACH_SOURCE(i, source) {
        const char *name = source->ctx->name;
        sample(out, "buffer_evicted_total", (double)buffers[i].evicted_retention, "source", name, "reason",
               "retention", NULL);
        sample(out, "buffer_evicted_total", (double)buffers[i].evicted_memory, "source", name, "reason", "memory",
               NULL);
        sample(out, "buffer_evicted_total", (double)buffers[i].evicted_items, "source", name, "reason", "items", NULL);
        sample(out, "buffer_evicted_total", (double)buffers[i].evicted_host_memory, "source", name, "reason",
               "host_memory", NULL);
        sample(out, "buffer_evicted_total", (double)buffers[i].thinned, "source", name, "reason", "thinned", NULL);
    }
    family(out, "buffer_dropped_total", "counter", "Packets refused by the buffer, by reason.");
    EACH_SOURCE(i, source)
        sample(out, "buffer_dropped_total", (double)buffers[i].frames_dropped, "source", source->ctx->name, "reason",
               "stopping", NULL);
    g_free(buffers);

    family(out, "clock_corrections_total", "counter", "Timestamps the synchronizer corrected, by reason.");
    EACH_SOURCE(i, source) {
        const char *name = source->ctx->name;
        const sc_clock_stats *clock = &source->clock.stats;
        sample(out, "clock_corrections_total", (double)atomic_load(&clock->fixed), "source", name, "reason",
               "dts_fixed", NULL);
        sample(out, "clock_corrections_total", (double)atomic_load(&clock->interpolated), "source", name, "reason",
               "interpolated", NULL);
        sample(out, "clock_corrections_total", (double)atomic_load(&clock->outliers), "source", name, "reason",
               "outlier", NULL);
        sample(out, "clock_corrections_total", (double)atomic_load(&clock->wraps), "source", name, "reason", "wrap",
               NULL);
        sample(out, "clock_corrections_total", (double)atomic_load(&clock->discontinuities), "source", name, "reason",
               "discontinuity", NULL);
    }
    family(out, "sync_drift_ppm", "gauge", "Estimated drift of the media clock against the wall-clock reference.");
    family(out, "sync_offset_seconds", "gauge", "Offset of the media clock from the wall-clock reference now.");
    EACH_SOURCE(i, source) {
        sc_reference_stats reference;
        sc_reference_clock_get_stats(source->reference, &reference);
        if (!reference.valid) continue;
        sample(out, "sync_drift_ppm", reference.drift_ppm, "source", source->ctx->name, NULL);
    }
    EACH_SOURCE(i, source) {
        sc_reference_stats reference;
        sc_reference_clock_get_stats(source->reference, &reference);
        if (!reference.valid) continue;
        sample(out, "sync_offset_seconds", reference.offset_ms / 1000.0, "source", source->ctx->name, NULL);
    }
    family(out, "source_module_events_total", "counter", "A source module's own counters.");
    EACH_SOURCE(i, source) counter_samples(out, "source_module_events_total", "source", source->ctx);

    family(out, "segments_total", "counter", "Segments a strategy produced, by outcome.");
    for (guint i = 0; i < pipeline->strategies->len; i++) {
        sc_strategy_runtime *strategy = g_ptr_array_index(pipeline->strategies, i);
        if (strategy->ctx->kind != SC_SECTION_STRATEGY) continue;
        const char *name = strategy->ctx->name, *source = strategy->source->ctx->name;
        sample(out, "segments_total", (double)atomic_load(&strategy->segments_emitted), "strategy", name, "source",
               source, "reason", "emitted", NULL);
        sample(out, "segments_total", (double)atomic_load(&strategy->segments_rejected), "strategy", name, "source",
               source, "reason", "rejected", NULL);
        sample(out, "segments_total", (double)atomic_load(&strategy->segments_empty), "strategy", name, "source",
               source, "reason", "empty", NULL);
    }
    family(out, "strategy_module_events_total", "counter", "A strategy module's own counters.");
    for (guint i = 0; i < pipeline->strategies->len; i++) {
        sc_strategy_runtime *strategy = g_ptr_array_index(pipeline->strategies, i);
        if (strategy->ctx->kind == SC_SECTION_STRATEGY)
            counter_samples(out, "strategy_module_events_total", "strategy", strategy->ctx);
    }

    family(out, "sink_segments_total", "counter", "Segments a sink handled, by outcome.");
    for (guint i = 0; i < pipeline->sinks->len; i++) {
        sc_sink_runtime *sink = g_ptr_array_index(pipeline->sinks, i);
        const char *name = sink->ctx->name;
        sample(out, "sink_segments_total", (double)atomic_load(&sink->consumed), "sink", name, "reason", "consumed",
               NULL);
        sample(out, "sink_segments_total", (double)atomic_load(&sink->failed), "sink", name, "reason", "failed", NULL);
        sample(out, "sink_segments_total", (double)atomic_load(&sink->dropped_overflow), "sink", name, "reason",
               "dropped_overflow", NULL);
    }
    family(out, "sink_queue_length", "gauge", "Segments waiting for the sink.");
    for (guint i = 0; i < pipeline->sinks->len; i++) {
        sc_sink_runtime *sink = g_ptr_array_index(pipeline->sinks, i);
        g_mutex_lock(&sink->lock);
        guint queued = sink->queue.length;
        g_mutex_unlock(&sink->lock);
        sample(out, "sink_queue_length", queued, "sink", sink->ctx->name, NULL);
    }
    family(out, "sink_module_events_total", "counter", "A sink module's own counters.");
    for (guint i = 0; i < pipeline->sinks->len; i++) {
        sc_sink_runtime *sink = g_ptr_array_index(pipeline->sinks, i);
        counter_samples(out, "sink_module_events_total", "sink", sink->ctx);
    }
    family(out, "observer_items_total", "counter", "Packets and segments an observer handled or dropped, by reason.");
    for (guint i = 0; i < pipeline->observers->len; i++) {
        sc_observer_runtime *observer = g_ptr_array_index(pipeline->observers, i);
        const char *name = observer->ctx->name;
        sample(out, "observer_items_total", (double)atomic_load(&observer->packets_seen), "observer", name, "reason",
               "packet", NULL);
        sample(out, "observer_items_total", (double)atomic_load(&observer->segments_seen), "observer", name, "reason",
               "segment", NULL);
        sample(out, "observer_items_total", (double)atomic_load(&observer->dropped_packets), "observer", name,
               "reason", "dropped_packet", NULL);
        sample(out, "observer_items_total", (double)atomic_load(&observer->dropped_segments), "observer", name,
               "reason", "dropped_segment", NULL);
    }
    return g_string_free(out, FALSE);
}
