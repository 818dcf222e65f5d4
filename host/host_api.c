/* The services table modules receive: every entry dispatches on the
 * instance's sc_ctx to the host piece that owns the work. */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "packet.h"
#include "resolver.h"
#include "runtime.h"

static void api_log(sc_ctx *ctx, int level, const char *fmt, ...) SC_PRINTF(3, 4);

static void api_log(sc_ctx *ctx, int level, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    if (level == SC_LOG_ERROR && ctx && ctx->kind == SC_SECTION_SOURCE && ctx->source) {
        /* A source's last error is part of its state (stats, reconnects). */
        va_list copy;
        va_copy(copy, args);
        char *message = g_strdup_vprintf(fmt, copy);
        va_end(copy);
        g_mutex_lock(&ctx->source->error_lock);
        g_free(ctx->source->last_error);
        ctx->source->last_error = message;
        g_mutex_unlock(&ctx->source->error_lock);
    }
    sc_logv(level, ctx ? ctx->name : NULL, fmt, args);
    va_end(args);
}

const sc_option_value *sc_ctx_option(sc_ctx *ctx, const char *name)
{
    if (!ctx || !name) return NULL;
    for (guint i = 0; ctx->options && i < ctx->options->len; i++) {
        const sc_option_value *value = &g_array_index(ctx->options, sc_option_value, i);
        if (strcmp(value->spec->name, name) == 0) return value;
    }
    sc_log(SC_LOG_ERROR, ctx->name, "module asked for option '%s', which its schema does not declare", name);
    return NULL;
}

static const char *api_option_string(sc_ctx *ctx, const char *name)
{
    const sc_option_value *value = sc_ctx_option(ctx, name);
    return value ? value->text : NULL;
}

static int64_t api_option_int(sc_ctx *ctx, const char *name)
{
    const sc_option_value *value = sc_ctx_option(ctx, name);
    return value ? value->as_int : 0;
}

static double api_option_double(sc_ctx *ctx, const char *name)
{
    const sc_option_value *value = sc_ctx_option(ctx, name);
    return value ? value->as_double : 0.0;
}

static int api_option_bool(sc_ctx *ctx, const char *name)
{
    const sc_option_value *value = sc_ctx_option(ctx, name);
    return value ? (int)value->as_int : 0;
}

static int api_option_is_set(sc_ctx *ctx, const char *name)
{
    const sc_option_value *value = sc_ctx_option(ctx, name);
    return value ? value->set : 0;
}

static const char *api_instance_name(sc_ctx *ctx) { return ctx ? ctx->name : ""; }

static int64_t api_monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * SC_NSEC_PER_SEC + now.tv_nsec;
}

static int64_t api_wallclock_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * SC_NSEC_PER_SEC + now.tv_nsec;
}

static sc_packet *api_packet_alloc(sc_ctx *ctx, size_t size, uint8_t **data)
{
    return sc_packet_alloc(size, data);
}

static sc_packet *api_packet_wrap(sc_ctx *ctx, const uint8_t *data, size_t size,
                                  void (*release)(void *opaque), void *opaque)
{
    return sc_packet_wrap(data, size, release, opaque);
}

static const sc_packet *api_packet_ref(const sc_packet *packet) { return sc_packet_ref(packet); }
static void api_packet_unref(const sc_packet *packet) { sc_packet_unref(packet); }

static bool is_source(sc_ctx *ctx, const char *what)
{
    if (ctx && ctx->kind == SC_SECTION_SOURCE && ctx->source) return true;
    sc_log(SC_LOG_ERROR, ctx ? ctx->name : NULL, "%s is only for source instances", what);
    return false;
}

static int api_source_add_stream(sc_ctx *ctx, const sc_stream_info *info)
{
    if (!is_source(ctx, "source_add_stream") || !info) return SC_ERR_INVALID;
    return sc_source_runtime_add_stream(ctx->source, info);
}

static int api_source_push(sc_ctx *ctx, sc_packet *packet)
{
    if (!packet) return SC_ERR_INVALID;
    if (!is_source(ctx, "source_push")) {
        sc_packet_unref(packet);
        return SC_ERR_INVALID;
    }
    return sc_source_runtime_push(ctx->source, packet);
}

static int api_source_should_stop(sc_ctx *ctx)
{
    return ctx && ctx->source ? atomic_load(&ctx->source->stop_requested) : 1;
}

static void api_source_set_live(sc_ctx *ctx, int live)
{
    if (is_source(ctx, "source_set_live")) sc_buffer_set_live(ctx->source->buffer, live != 0);
}

static size_t api_stream_count(sc_ctx *ctx)
{
    if (!ctx || !ctx->source) return 0;
    g_mutex_lock(&ctx->source->streams_lock);
    size_t count = ctx->source->streams->len;
    g_mutex_unlock(&ctx->source->streams_lock);
    return count;
}

static const sc_stream_info *api_stream_get(sc_ctx *ctx, size_t index)
{
    if (!ctx || !ctx->source) return NULL;
    const sc_stream_info *info = NULL;
    g_mutex_lock(&ctx->source->streams_lock);
    if (index < ctx->source->streams->len) info = g_ptr_array_index(ctx->source->streams, index);
    g_mutex_unlock(&ctx->source->streams_lock);
    return info;
}

/* A view is just the packets' references in an array. */
struct sc_view {
    GPtrArray *packets;
};

static sc_view *make_view(sc_ctx *ctx, int64_t start, int64_t end, uint32_t flags)
{
    if (!ctx || !ctx->source) return NULL;
    sc_view *view = g_new0(sc_view, 1);
    view->packets = g_ptr_array_new();
    sc_buffer_copy_time_range(ctx->source->buffer, start, end, (flags & SC_VIEW_FROM_KEYFRAME) != 0,
                              view->packets);
    return view;
}

static sc_view *api_view_range(sc_ctx *ctx, int64_t start, int64_t end, uint32_t flags)
{
    return make_view(ctx, start, end, flags);
}

static sc_view *api_view_last(sc_ctx *ctx, int64_t duration, uint32_t flags)
{
    if (!ctx || !ctx->source) return NULL;
    sc_buffer_stats stats;
    sc_buffer_get_stats(ctx->source->buffer, &stats);
    if (stats.newest_ts == SC_TIME_NONE) return make_view(ctx, 0, 0, 0);
    return make_view(ctx, stats.newest_ts - duration, SC_TIME_NONE, flags);
}

static sc_view *api_view_seq(sc_ctx *ctx, uint64_t first, uint64_t end)
{
    if (!ctx || !ctx->source) return NULL;
    sc_view *view = g_new0(sc_view, 1);
    view->packets = g_ptr_array_new();
    sc_buffer_copy_seq_range(ctx->source->buffer, first, end, view->packets);
    return view;
}

static size_t api_view_count(const sc_view *view) { return view ? view->packets->len : 0; }

static const sc_packet *api_view_packet(const sc_view *view, size_t index)
{
    return view && index < view->packets->len ? g_ptr_array_index(view->packets, index) : NULL;
}

static void api_view_release(sc_view *view)
{
    if (!view) return;
    for (guint i = 0; i < view->packets->len; i++) sc_packet_unref(g_ptr_array_index(view->packets, i));
    g_ptr_array_free(view->packets, TRUE);
    g_free(view);
}

static int64_t api_segment_emit(sc_ctx *ctx, const sc_segment_request *request)
{
    if (!ctx || (ctx->kind != SC_SECTION_STRATEGY && ctx->kind != SC_SECTION_SYNC) || !ctx->strategy) {
        sc_log(SC_LOG_ERROR, ctx ? ctx->name : NULL, "segment_emit is only for strategy instances");
        return SC_ERR_INVALID;
    }
    if (!request || request->struct_size < offsetof(sc_segment_request, extra_json) + sizeof(char *)) {
        sc_log(SC_LOG_ERROR, ctx->name, "segment_emit: request missing or too small");
        return SC_ERR_INVALID;
    }
    return sc_strategy_runtime_emit(ctx->strategy, request);
}

static const sc_segment *api_segment_ref(const sc_segment *segment) { return sc_segment_ref(segment); }
static void api_segment_unref(const sc_segment *segment) { sc_segment_unref(segment); }

static int api_segment_set_attr(sc_ctx *ctx, const sc_segment *segment, const char *key, const char *value)
{
    return segment ? sc_segment_set_attribute(segment, key, value) : SC_ERR_INVALID;
}

static int api_segment_get_attr(sc_ctx *ctx, const sc_segment *segment, const char *key, char *buffer,
                                size_t length)
{
    return segment && key ? sc_segment_get_attribute(segment, key, buffer, length) : SC_ERR_INVALID;
}

static int api_segment_attr_at(sc_ctx *ctx, const sc_segment *segment, size_t index, char *key,
                               size_t key_length, char *value, size_t value_length)
{
    return segment ? sc_segment_attribute_at(segment, index, key, key_length, value, value_length)
                   : SC_ERR_INVALID;
}

static void api_source_set_type(sc_ctx *ctx, const char *type)
{
    if (!is_source(ctx, "source_set_type") || !type || ctx->source->type_locked) return;
    ctx->source->type = g_intern_string(type);
}

static int api_source_resolve_url(sc_ctx *ctx, char *url, size_t length)
{
    if (!is_source(ctx, "source_resolve_url") || !url || length == 0) return SC_ERR_INVALID;
    const sc_option_value *page = NULL;
    for (guint i = 0; ctx->options && i < ctx->options->len && !page; i++) {
        const sc_option_value *value = &g_array_index(ctx->options, sc_option_value, i);
        if (strcmp(value->spec->name, "url") == 0) page = value;
    }
    if (!page || !page->text) {
        sc_log(SC_LOG_ERROR, ctx->name, "source_resolve_url: the module has no 'url' option");
        return SC_ERR_INVALID;
    }
    const char *command = ctx->source->resolver;
    if (!command || !*command) {
        if (strlen(page->text) >= length) return SC_ERR_INVALID;
        g_strlcpy(url, page->text, length);
        return (int)strlen(page->text);
    }
    char *error = NULL;
    int result = sc_resolve_url(command, page->text, ctx->source->resolver_timeout_ns, url, length, &error);
    if (result < 0) {
        api_log(ctx, SC_LOG_ERROR, "%s", error);
        g_free(error);
    }
    return result;
}

static int api_strategy_hold(sc_ctx *ctx, int64_t from)
{
    if (!ctx || !ctx->strategy || !ctx->strategy->reader) return SC_ERR_INVALID;
    sc_buffer *buffer = ctx->strategy->source->buffer;
    uint64_t seq = UINT64_MAX;
    if (ctx->strategy->group) {
        /* A sync group's driver sees the reference clock: its members keep
         * this instant too, each on its own timeline. */
        atomic_store(&ctx->strategy->group->driver_hold_utc, from);
        if (from != SC_TIME_NONE) {
            int64_t media = sc_reference_clock_to_media(ctx->strategy->source->reference, from);
            from = media != SC_TIME_NONE ? media + SC_KEYFRAME_SNAP_NS : 0;
        }
    }
    if (from != SC_TIME_NONE) {
        sc_keyframe_entry keyframe;
        seq = sc_buffer_keyframe_at_or_before(buffer, from, &keyframe) ? keyframe.seq : 0;
    }
    ctx->strategy->module_hold = seq;
    sc_strategy_runtime_apply_hold(ctx->strategy);
    return SC_OK;
}

static int api_event_post(sc_ctx *ctx, const sc_event *event)
{
    if (!ctx || !ctx->source || !event) return SC_ERR_INVALID;
    if (event->struct_size < offsetof(sc_event, name) + sizeof(const char *) || !event->name) {
        sc_log(SC_LOG_ERROR, ctx->name, "event_post: event without a name, or its struct_size %u too small",
               event->struct_size);
        return SC_ERR_INVALID;
    }
    return sc_source_runtime_post_event(ctx->source, event);
}

void sc_ctx_counter_add(sc_ctx *ctx, const char *name, int64_t delta)
{
    if (!ctx || !name) return;
    g_mutex_lock(&ctx->counters_lock);
    int64_t *value = g_hash_table_lookup(ctx->counters, name);
    if (!value) {
        value = g_new0(int64_t, 1);
        g_hash_table_insert(ctx->counters, g_strdup(name), value);
    }
    *value += delta;
    g_mutex_unlock(&ctx->counters_lock);
}

static void api_counter_add(sc_ctx *ctx, const char *name, int64_t delta)
{
    sc_ctx_counter_add(ctx, name, delta);
}

static const sc_host_api host_api = {
    .struct_size = sizeof(sc_host_api),
    .abi_major = SC_ABI_MAJOR,
    .abi_minor = SC_ABI_MINOR,
    .log = api_log,
    .option_string = api_option_string,
    .option_int = api_option_int,
    .option_double = api_option_double,
    .option_bool = api_option_bool,
    .option_duration = api_option_int,
    .option_size = api_option_int,
    .option_is_set = api_option_is_set,
    .instance_name = api_instance_name,
    .monotonic_ns = api_monotonic_ns,
    .wallclock_ns = api_wallclock_ns,
    .packet_alloc = api_packet_alloc,
    .packet_wrap = api_packet_wrap,
    .packet_ref = api_packet_ref,
    .packet_unref = api_packet_unref,
    .source_add_stream = api_source_add_stream,
    .source_push = api_source_push,
    .source_should_stop = api_source_should_stop,
    .source_set_live = api_source_set_live,
    .stream_count = api_stream_count,
    .stream_get = api_stream_get,
    .view_range = api_view_range,
    .view_last = api_view_last,
    .view_count = api_view_count,
    .view_packet = api_view_packet,
    .view_release = api_view_release,
    .segment_emit = api_segment_emit,
    .segment_ref = api_segment_ref,
    .segment_unref = api_segment_unref,
    .segment_set_attr = api_segment_set_attr,
    .segment_get_attr = api_segment_get_attr,
    .segment_attr_at = api_segment_attr_at,
    .event_post = api_event_post,
    .counter_add = api_counter_add,
    .view_seq = api_view_seq,
    .source_set_type = api_source_set_type,
    .source_resolve_url = api_source_resolve_url,
    .strategy_hold = api_strategy_hold,
};

const sc_host_api *sc_host_api_table(void) { return &host_api; }
