/* Source threads: each runs its module's run() and turns what it pushes
 * into normalized, buffered packets on the source's timeline. */
#include <string.h>

#include "log.h"
#include "packet.h"
#include "pipeline.h"
#include "runtime.h"

static char *copy_string(const char *text) { return text ? g_strdup(text) : NULL; }

sc_event *sc_event_copy(const sc_event *event)
{
    sc_event *copy = g_new0(sc_event, 1);
    /* Fields a smaller (older) writer does not have take their defaults. */
    copy->time = copy->pre_roll = copy->post_roll = SC_TIME_NONE;
    memcpy(copy, event, MIN((size_t)event->struct_size, sizeof *copy));
    copy->struct_size = sizeof *copy;
    copy->name = g_strdup(event->name);
    copy->payload_json = copy_string(event->payload_json);
    return copy;
}

void sc_event_free(gpointer data)
{
    sc_event *event = data;
    g_free((char *)event->name);
    g_free((char *)event->payload_json);
    g_free(event);
}

int sc_source_runtime_add_stream(sc_source_runtime *source, const sc_stream_info *info)
{
    if (info->struct_size < offsetof(sc_stream_info, language) + sizeof(const char *) || !info->codec_name) {
        sc_log(SC_LOG_ERROR, source->ctx->name, "source_add_stream: stream info too small or without codec name");
        return SC_ERR_INVALID;
    }
    sc_stream_info *copy = g_new0(sc_stream_info, 1);
    memcpy(copy, info, MIN((size_t)info->struct_size, sizeof *copy));
    if (info->struct_size < offsetof(sc_stream_info, duration) + sizeof(int64_t)) copy->duration = SC_TIME_NONE;
    copy->struct_size = sizeof *copy;
    copy->codec_name = copy_string(info->codec_name);
    copy->format_name = copy_string(info->format_name);
    copy->language = copy_string(info->language);
    if (info->extradata && info->extradata_size) {
        uint8_t *extradata = g_malloc0(info->extradata_size + SC_PACKET_PADDING);
        memcpy(extradata, info->extradata, info->extradata_size);
        copy->extradata = extradata;
    } else {
        copy->extradata = NULL;
        copy->extradata_size = 0;
    }
    g_mutex_lock(&source->streams_lock);
    /* After a reconnection the same streams come back: the i-th one declared
     * in this run is stream i when it is the same kind of stream. */
    guint position = source->declared_this_run++;
    if (position < source->streams->len) {
        const sc_stream_info *known = g_ptr_array_index(source->streams, position);
        if (known->media_type == copy->media_type && g_strcmp0(known->codec_name, copy->codec_name) == 0) {
            g_mutex_unlock(&source->streams_lock);
            sc_stream_info_free(copy);
            return (int)position;
        }
    }
    copy->index = source->streams->len;
    g_ptr_array_add(source->streams, copy);
    g_mutex_unlock(&source->streams_lock);
    sc_log(SC_LOG_DEBUG, source->ctx->name, "stream %u: %s %s", copy->index,
           copy->media_type == SC_MEDIA_VIDEO ? "video" : copy->media_type == SC_MEDIA_AUDIO ? "audio" : "other",
           copy->codec_name);
    return (int)copy->index;
}

const char *sc_source_state_name(int state)
{
    switch (state) {
    case SC_SOURCE_CONNECTING: return "connecting";
    case SC_SOURCE_LIVE: return "live";
    case SC_SOURCE_RECONNECTING: return "reconnecting";
    case SC_SOURCE_ENDED: return "ended";
    default: return "failed";
    }
}

void sc_stream_info_free(gpointer data)
{
    sc_stream_info *info = data;
    g_free((char *)info->codec_name);
    g_free((char *)info->format_name);
    g_free((char *)info->language);
    g_free((uint8_t *)info->extradata);
    g_free(info);
}

/* GOPs are counted on the first video stream, or the first audio stream of
 * an audio-only source. */
static int choose_reference_stream(sc_source_runtime *source)
{
    int first_audio = -1;
    for (guint i = 0; i < source->streams->len; i++) {
        const sc_stream_info *info = g_ptr_array_index(source->streams, i);
        if (info->media_type == SC_MEDIA_VIDEO) return (int)i;
        if (info->media_type == SC_MEDIA_AUDIO && first_audio < 0) first_audio = (int)i;
    }
    return first_audio >= 0 ? first_audio : 0;
}

/* How much a source may deliver before its reference stream shows up; past
 * that the timeline starts at its first packet instead. */
#define STARTUP_MAX_PACKETS 512
#define STARTUP_MAX_SPAN_NS (2 * SC_NSEC_PER_SEC)

static int64_t raw_presentation(const sc_packet *packet)
{
    int64_t ticks = packet->orig_pts != SC_TIME_NONE ? packet->orig_pts : packet->orig_dts;
    return sc_clock_ticks_to_ns(ticks, packet->time_base_num, packet->time_base_den);
}

static int buffer_normalized(sc_source_runtime *source, sc_packet *packet)
{
    /* The first packet after a reconnection starts a new stretch of input. */
    if (atomic_exchange(&source->discontinuity_pending, 0)) packet->flags |= SC_PACKET_DISCONTINUITY;
    atomic_fetch_add(&source->packets_pushed, 1);
    g_mutex_lock(&source->streams_lock);
    const sc_stream_info *info = g_ptr_array_index(source->streams, packet->stream_index);
    g_mutex_unlock(&source->streams_lock);
    if (packet->arrival_ns <= 0) packet->arrival_ns = g_get_real_time() * 1000;
    sc_clock_normalize(&source->clock, packet, info);
    if ((int)packet->stream_index == source->reference_stream && (packet->flags & SC_PACKET_DISCONTINUITY))
        sc_reference_clock_restart(source->reference);
    if ((int)packet->stream_index == source->reference_stream)
        sc_reference_clock_add(source->reference, packet->pts, packet->source_utc_ns, packet->arrival_ns);
    /* Before the push: once buffered, the packet may be evicted at once. */
    if (source->observers) sc_observers_packet(source, packet, info);
    return sc_buffer_push(source->buffer, packet) ? SC_OK : SC_ERR_STOPPED;
}

/* The timeline's 0 is the first picture of the reference stream, not
 * whatever packet the demuxer happens to deliver first (a B-frame's earlier
 * dts, or primed audio), so windows line up with what a viewer sees. Until
 * that packet arrives the others wait here, in order. */
static int start_timeline(sc_source_runtime *source, sc_packet *packet)
{
    g_ptr_array_add(source->startup, packet);
    int64_t origin = SC_TIME_NONE;
    if ((int)packet->stream_index == source->reference_stream) origin = raw_presentation(packet);
    const sc_packet *first = g_ptr_array_index(source->startup, 0);
    int64_t first_time = raw_presentation(first), this_time = raw_presentation(packet);
    bool waited_enough = source->startup->len >= STARTUP_MAX_PACKETS ||
                         (first_time != SC_TIME_NONE && this_time != SC_TIME_NONE &&
                          this_time - first_time > STARTUP_MAX_SPAN_NS);
    if (origin == SC_TIME_NONE && !waited_enough) return SC_OK;
    return sc_source_runtime_flush_startup(source, origin);
}

int sc_source_runtime_flush_startup(sc_source_runtime *source, int64_t origin)
{
    if (source->startup->len == 0) return SC_OK;
    if (origin == SC_TIME_NONE) {
        const sc_packet *first = g_ptr_array_index(source->startup, 0);
        origin = sc_clock_ticks_to_ns(first->orig_dts != SC_TIME_NONE ? first->orig_dts : first->orig_pts,
                                      first->time_base_num, first->time_base_den);
    }
    if (origin != SC_TIME_NONE) sc_clock_set_origin(&source->clock, origin);
    int status = SC_OK;
    for (guint i = 0; i < source->startup->len; i++) {
        int result = buffer_normalized(source, g_ptr_array_index(source->startup, i));
        if (result != SC_OK) status = result;
    }
    g_ptr_array_set_size(source->startup, 0);
    return status;
}

/* The configured timestamp format, or the one the source type implies. */
static sc_timestamp_format effective_format(const sc_source_runtime *source)
{
    if (source->timestamp_format != SC_TIMESTAMPS_AUTO) return (sc_timestamp_format)source->timestamp_format;
    const char *type = source->type ? source->type : "";
    if (strstr(type, "HLS")) return SC_TIMESTAMPS_HLS;
    if (strstr(type, "RTMP")) return SC_TIMESTAMPS_RTMP;
    return SC_TIMESTAMPS_RELATIVE_SECONDS;
}

int sc_source_runtime_push(sc_source_runtime *source, sc_packet *packet)
{
    if (atomic_load(&source->stop_requested)) {
        sc_source_runtime_flush_startup(source, SC_TIME_NONE);
        sc_buffer_stop(source->buffer);
        sc_buffer_push(source->buffer, packet);  /* counted as dropped */
        return SC_ERR_STOPPED;
    }
    g_mutex_lock(&source->streams_lock);
    const sc_stream_info *info = packet->stream_index < source->streams->len
        ? g_ptr_array_index(source->streams, packet->stream_index) : NULL;
    if (info && !source->reference_decided) {
        source->reference_decided = true;
        source->reference_stream = choose_reference_stream(source);
        sc_buffer_set_reference_stream(source->buffer, source->reference_stream);
    }
    g_mutex_unlock(&source->streams_lock);
    if (!info) {
        sc_log(SC_LOG_ERROR, source->ctx->name, "packet for undeclared stream %u dropped", packet->stream_index);
        sc_ctx_counter_add(source->ctx, "packets_bad_stream", 1);
        sc_packet_unref(packet);
        return SC_ERR_INVALID;
    }
    packet->struct_size = sizeof(sc_packet);
    packet->media_type = info->media_type;
    int state = atomic_load(&source->state);
    if (state == SC_SOURCE_CONNECTING || state == SC_SOURCE_RECONNECTING) atomic_store(&source->state, SC_SOURCE_LIVE);
    if (!source->clock.started) {
        if (source->startup->len == 0) sc_clock_set_format(&source->clock, effective_format(source));
        return start_timeline(source, packet);
    }
    return buffer_normalized(source, packet);
}

static int64_t monotonic_ns(void)
{
    return g_get_monotonic_time() * 1000;
}

/* Sleep up to `duration` ns, waking early when the source is told to stop. */
static void wait_unless_stopped(sc_source_runtime *source, int64_t duration)
{
    int64_t deadline = monotonic_ns() + duration;
    while (!atomic_load(&source->stop_requested)) {
        int64_t left = deadline - monotonic_ns();
        if (left <= 0) return;
        g_usleep((gulong)(MIN(left, 50 * SC_NSEC_PER_MSEC) / 1000));
    }
}

static gpointer source_thread(gpointer data)
{
    sc_source_runtime *source = data;
    sc_ctx *ctx = source->ctx;
    const sc_reconnect_policy *policy = &source->reconnect;
    int64_t delay = policy->initial_delay_ns, failing_since = 0;
    int result;
    for (;;) {
        g_mutex_lock(&source->streams_lock);
        source->declared_this_run = 0;
        g_mutex_unlock(&source->streams_lock);
        uint64_t pushed_before = atomic_load(&source->packets_pushed);
        result = ctx->module->ops.source.run(ctx->instance);
        sc_source_runtime_flush_startup(source, SC_TIME_NONE);
        if (atomic_load(&source->stop_requested) || result == SC_OK || result == SC_ERR_PERMANENT) break;
        /* A run that delivered something was a working connection: the
         * next outage starts its backoff afresh. */
        int64_t now = monotonic_ns();
        if (atomic_load(&source->packets_pushed) != pushed_before) {
            delay = policy->initial_delay_ns;
            failing_since = now;
        } else if (failing_since == 0) {
            failing_since = now;
        }
        if (policy->give_up_after_ns > 0 && now - failing_since >= policy->give_up_after_ns) {
            sc_log(SC_LOG_ERROR, ctx->name, "giving up after %.1f s of failed reconnections",
                   (now - failing_since) / 1e9);
            break;
        }
        atomic_store(&source->state, SC_SOURCE_RECONNECTING);
        atomic_fetch_add(&source->reconnects, 1);
        /* Jitter keeps many sources that failed together from retrying in step. */
        int64_t jittered = (int64_t)((double)delay * g_random_double_range(0.8, 1.2));
        sc_log(SC_LOG_WARNING, ctx->name, "input lost (status %d); reconnecting in %.1f s", result, jittered / 1e9);
        wait_unless_stopped(source, jittered);
        delay = MIN(delay * 2, policy->max_delay_ns);
        atomic_store(&source->discontinuity_pending, 1);
    }
    source->result = result;
    if (atomic_load(&source->stop_requested) || result == SC_OK) {
        atomic_store(&source->state, SC_SOURCE_ENDED);
        sc_log(SC_LOG_INFO, ctx->name, atomic_load(&source->stop_requested) ? "stopped" : "input ended");
    } else {
        atomic_store(&source->state, SC_SOURCE_FAILED);
        sc_log(SC_LOG_ERROR, ctx->name, "source failed (status %d)", result);
    }
    sc_buffer_end(source->buffer);
    return NULL;
}

void sc_source_runtime_start(sc_source_runtime *source)
{
    char *name = g_strdup_printf("src:%s", source->ctx->name);
    source->thread = g_thread_new(name, source_thread, source);
    g_free(name);
}

void sc_source_runtime_request_stop(sc_source_runtime *source)
{
    atomic_store(&source->stop_requested, 1);
    if (source->ctx->module->ops.source.stop) source->ctx->module->ops.source.stop(source->ctx->instance);
    sc_buffer_stop(source->buffer);
}

int sc_source_runtime_post_event(sc_source_runtime *source, const sc_event *event)
{
    for (guint i = 0; i < source->strategies->len; i++) {
        sc_strategy_runtime *strategy = g_ptr_array_index(source->strategies, i);
        sc_event *copy = sc_event_copy(event);
        g_mutex_lock(&strategy->events_lock);
        g_queue_push_tail(&strategy->events, copy);
        g_mutex_unlock(&strategy->events_lock);
    }
    sc_buffer_wake_readers(source->buffer);
    return SC_OK;
}
