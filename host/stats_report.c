/* The running pipeline's state as JSON: what the control API serves at
 * /v1/streams and /v1/stats. Names follow the original design's
 * get_stream_stats (current_frames, memory_usage_mb, frames_dropped,
 * keyframe_ratio, buffer_duration_seconds) so its users find them. Safe
 * to call from any thread while the pipeline runs: everything read here
 * is atomic, copied under its lock, or fixed after start. */
#include "stats_report.h"

#include <string.h>

static const char *module_option_text(const sc_ctx *ctx, const char *name)
{
    for (guint i = 0; ctx->options && i < ctx->options->len; i++) {
        const sc_option_value *value = &g_array_index(ctx->options, sc_option_value, i);
        if (strcmp(value->spec->name, name) == 0) return value->text;
    }
    return NULL;
}

char *sc_redact_url(const char *url)
{
    if (!url) return NULL;
    const char *scheme_end = strstr(url, "://");
    const char *authority = scheme_end ? scheme_end + 3 : url;
    size_t authority_length = strcspn(authority, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < authority_length; i++)
        if (authority[i] == '@') at = authority + i;
    GString *out = g_string_new_len(url, authority - url);
    if (at) g_string_append(out, "***@");
    const char *host = at ? at + 1 : authority;
    g_string_append_len(out, host, authority + authority_length - host);
    const char *rest = authority + authority_length;
    /* Queries carry tokens and signatures (signed CDN URLs, stream keys). */
    size_t path_length = strcspn(rest, "?#");
    g_string_append_len(out, rest, path_length);
    if (rest[path_length] == '?') g_string_append(out, "?...");
    return g_string_free(out, FALSE);
}

static void add_uint(JsonBuilder *builder, const char *name, uint64_t value)
{
    json_builder_set_member_name(builder, name);
    json_builder_add_int_value(builder, (gint64)value);
}

static void add_double(JsonBuilder *builder, const char *name, double value)
{
    json_builder_set_member_name(builder, name);
    json_builder_add_double_value(builder, value);
}

static void add_string(JsonBuilder *builder, const char *name, const char *value)
{
    json_builder_set_member_name(builder, name);
    if (value) json_builder_add_string_value(builder, value);
    else json_builder_add_null_value(builder);
}

void sc_stats_add_counters(JsonBuilder *builder, sc_ctx *ctx)
{
    json_builder_set_member_name(builder, "counters");
    json_builder_begin_object(builder);
    g_mutex_lock(&ctx->counters_lock);
    GList *keys = g_list_sort(g_hash_table_get_keys(ctx->counters), (GCompareFunc)(void *)g_strcmp0);
    for (GList *key = keys; key; key = key->next)
        add_uint(builder, key->data, (uint64_t)*(int64_t *)g_hash_table_lookup(ctx->counters, key->data));
    g_list_free(keys);
    g_mutex_unlock(&ctx->counters_lock);
    json_builder_end_object(builder);
}

static void add_buffer(JsonBuilder *builder, sc_source_runtime *source)
{
    sc_buffer_stats stats;
    sc_buffer_get_stats(source->buffer, &stats);
    json_builder_set_member_name(builder, "buffer");
    json_builder_begin_object(builder);
    add_uint(builder, "current_frames", stats.current_frames);
    add_double(builder, "memory_usage_mb", stats.memory_usage_mb);
    add_uint(builder, "memory_usage_bytes", stats.memory_usage_bytes);
    add_uint(builder, "frames_dropped", stats.frames_dropped);
    add_double(builder, "keyframe_ratio", stats.keyframe_ratio);
    add_double(builder, "buffer_duration_seconds", stats.buffer_duration_seconds);
    add_uint(builder, "packets_in", stats.packets_in);
    add_uint(builder, "bytes_in", stats.bytes_in);
    json_builder_set_member_name(builder, "evicted");
    json_builder_begin_object(builder);
    add_uint(builder, "retention", stats.evicted_retention);
    add_uint(builder, "memory", stats.evicted_memory);
    add_uint(builder, "items", stats.evicted_items);
    add_uint(builder, "host_memory", stats.evicted_host_memory);
    json_builder_end_object(builder);
    add_uint(builder, "thinned", stats.thinned);
    add_uint(builder, "pinned_bytes", stats.pinned_bytes);
    add_uint(builder, "reader_missed", stats.reader_missed);
    add_uint(builder, "gc_runs", stats.gc_runs);
    json_builder_end_object(builder);
}

static void add_sync(JsonBuilder *builder, sc_source_runtime *source)
{
    json_builder_set_member_name(builder, "clock");
    json_builder_begin_object(builder);
    add_string(builder, "timestamp_format", sc_timestamp_format_name(source->timestamp_format));
    add_uint(builder, "ts_fixed", atomic_load(&source->clock.stats.fixed));
    add_uint(builder, "interpolated", atomic_load(&source->clock.stats.interpolated));
    add_uint(builder, "outliers", atomic_load(&source->clock.stats.outliers));
    add_uint(builder, "wraps", atomic_load(&source->clock.stats.wraps));
    add_uint(builder, "discontinuities", atomic_load(&source->clock.stats.discontinuities));
    json_builder_end_object(builder);

    sc_reference_stats reference;
    sc_reference_clock_get_stats(source->reference, &reference);
    json_builder_set_member_name(builder, "sync");
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "drift_ppm");
    if (reference.valid) json_builder_add_double_value(builder, reference.drift_ppm);
    else json_builder_add_null_value(builder);
    json_builder_set_member_name(builder, "offset_ms");
    if (reference.valid) json_builder_add_double_value(builder, reference.offset_ms);
    else json_builder_add_null_value(builder);
    add_uint(builder, "samples", reference.samples);
    json_builder_end_object(builder);
}

void sc_stats_add_source(JsonBuilder *builder, sc_source_runtime *source)
{
    sc_ctx *ctx = source->ctx;
    json_builder_begin_object(builder);
    add_string(builder, "id", ctx->name);
    add_string(builder, "module", ctx->module->descriptor.name);
    add_string(builder, "state", sc_source_state_name(atomic_load(&source->state)));
    g_mutex_lock(&source->error_lock);
    add_string(builder, "type", source->type);
    add_string(builder, "last_error", source->last_error);
    g_mutex_unlock(&source->error_lock);
    const char *url = module_option_text(ctx, "url");
    char *redacted = url && *url ? sc_redact_url(url) : NULL;
    add_string(builder, "url", redacted);
    g_free(redacted);
    add_uint(builder, "reconnects", atomic_load(&source->reconnects));
    add_uint(builder, "packets_pushed", atomic_load(&source->packets_pushed));
    add_buffer(builder, source);
    add_sync(builder, source);
    sc_stats_add_counters(builder, ctx);
    json_builder_set_member_name(builder, "strategies");
    json_builder_begin_array(builder);
    for (guint i = 0; i < source->strategies->len; i++) {
        sc_strategy_runtime *strategy = g_ptr_array_index(source->strategies, i);
        if (strategy->ctx->kind == SC_SECTION_STRATEGY) json_builder_add_string_value(builder, strategy->ctx->name);
    }
    json_builder_end_array(builder);
    json_builder_end_object(builder);
}

sc_source_runtime *sc_stats_find_source(sc_pipeline *pipeline, const char *id)
{
    for (guint i = 0; i < pipeline->sources->len; i++) {
        sc_source_runtime *source = g_ptr_array_index(pipeline->sources, i);
        if (strcmp(source->ctx->name, id) == 0) return source;
    }
    return NULL;
}

void sc_stats_global_totals(sc_pipeline *pipeline, sc_stats_totals *totals)
{
    *totals = (sc_stats_totals){.streams = pipeline->sources->len};
    for (guint i = 0; i < pipeline->sources->len; i++) {
        sc_source_runtime *source = g_ptr_array_index(pipeline->sources, i);
        totals->memory_bytes += sc_buffer_memory(source->buffer);
        if (atomic_load(&source->state) == SC_SOURCE_LIVE) totals->streams_live++;
    }
    for (guint i = 0; i < pipeline->strategies->len; i++) {
        sc_strategy_runtime *strategy = g_ptr_array_index(pipeline->strategies, i);
        totals->segments_emitted += atomic_load(&strategy->segments_emitted);
        totals->segments_rejected += atomic_load(&strategy->segments_rejected);
    }
    for (guint i = 0; i < pipeline->sinks->len; i++) {
        sc_sink_runtime *sink = g_ptr_array_index(pipeline->sinks, i);
        totals->segments_dropped += atomic_load(&sink->dropped_overflow);
        totals->sink_failures += atomic_load(&sink->failed);
    }
    for (guint i = 0; i < pipeline->groups->len; i++) {
        sc_sync_group *group = g_ptr_array_index(pipeline->groups, i);
        totals->sync_sets += atomic_load(&group->sets_complete) + atomic_load(&group->sets_partial);
    }
}

char *sc_stats_json(sc_pipeline *pipeline, const char *only_source, gint64 uptime_us)
{
    JsonBuilder *builder = json_builder_new();
    if (only_source) {
        sc_stats_add_source(builder, sc_stats_find_source(pipeline, only_source));
    } else {
        json_builder_begin_object(builder);
        sc_stats_totals totals;
        sc_stats_global_totals(pipeline, &totals);
        json_builder_set_member_name(builder, "global");
        json_builder_begin_object(builder);
        add_uint(builder, "streams", totals.streams);
        add_uint(builder, "streams_live", totals.streams_live);
        add_double(builder, "memory_usage_mb", (double)totals.memory_bytes / (1024.0 * 1024.0));
        add_uint(builder, "segments_emitted", totals.segments_emitted);
        add_uint(builder, "segments_rejected", totals.segments_rejected);
        add_uint(builder, "segments_dropped", totals.segments_dropped);
        add_uint(builder, "sink_failures", totals.sink_failures);
        add_uint(builder, "sync_sets", totals.sync_sets);
        add_double(builder, "uptime_seconds", (double)uptime_us / 1e6);
        json_builder_end_object(builder);
        json_builder_set_member_name(builder, "streams");
        json_builder_begin_array(builder);
        for (guint i = 0; i < pipeline->sources->len; i++)
            sc_stats_add_source(builder, g_ptr_array_index(pipeline->sources, i));
        json_builder_end_array(builder);
        json_builder_set_member_name(builder, "strategies");
        json_builder_begin_array(builder);
        for (guint i = 0; i < pipeline->strategies->len; i++) {
            sc_strategy_runtime *strategy = g_ptr_array_index(pipeline->strategies, i);
            if (strategy->ctx->kind != SC_SECTION_STRATEGY) continue;
            json_builder_begin_object(builder);
            add_string(builder, "id", strategy->ctx->name);
            add_string(builder, "source", strategy->source->ctx->name);
            add_uint(builder, "segments_emitted", atomic_load(&strategy->segments_emitted));
            add_uint(builder, "segments_rejected", atomic_load(&strategy->segments_rejected));
            add_uint(builder, "segments_empty", atomic_load(&strategy->segments_empty));
            sc_stats_add_counters(builder, strategy->ctx);
            json_builder_end_object(builder);
        }
        json_builder_end_array(builder);
        json_builder_set_member_name(builder, "sinks");
        json_builder_begin_array(builder);
        for (guint i = 0; i < pipeline->sinks->len; i++) {
            sc_sink_runtime *sink = g_ptr_array_index(pipeline->sinks, i);
            json_builder_begin_object(builder);
            add_string(builder, "id", sink->ctx->name);
            add_string(builder, "module", sink->ctx->module->descriptor.name);
            add_uint(builder, "consumed", atomic_load(&sink->consumed));
            add_uint(builder, "failed", atomic_load(&sink->failed));
            add_uint(builder, "dropped_overflow", atomic_load(&sink->dropped_overflow));
            g_mutex_lock(&sink->lock);
            add_uint(builder, "queued", sink->queue.length);
            g_mutex_unlock(&sink->lock);
            sc_stats_add_counters(builder, sink->ctx);
            json_builder_end_object(builder);
        }
        json_builder_end_array(builder);
        json_builder_set_member_name(builder, "observers");
        json_builder_begin_array(builder);
        for (guint i = 0; i < pipeline->observers->len; i++) {
            sc_observer_runtime *observer = g_ptr_array_index(pipeline->observers, i);
            json_builder_begin_object(builder);
            add_string(builder, "id", observer->ctx->name);
            add_string(builder, "module", observer->ctx->module->descriptor.name);
            add_uint(builder, "packets", atomic_load(&observer->packets_seen));
            add_uint(builder, "segments", atomic_load(&observer->segments_seen));
            add_uint(builder, "dropped_packets", atomic_load(&observer->dropped_packets));
            add_uint(builder, "dropped_segments", atomic_load(&observer->dropped_segments));
            sc_stats_add_counters(builder, observer->ctx);
            json_builder_end_object(builder);
        }
        json_builder_end_array(builder);
        json_builder_end_object(builder);
    }
    return sc_json_builder_finish(builder);
}

char *sc_json_builder_finish(JsonBuilder *builder)
{
    JsonNode *root = json_builder_get_root(builder);
    char *text = json_to_string(root, FALSE);
    json_node_unref(root);
    g_object_unref(builder);
    return text;
}
