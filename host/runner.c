/* The threads of a running pipeline: one per source (the module's run),
 * one per strategy (follows its source's buffer, resolves segments), one
 * per sink (a bounded queue with an explicit overflow policy). */
#include <string.h>

#include "log.h"
#include "packet.h"
#include "pipeline.h"
#include "runtime.h"

/* How far past a segment's end the reference stream may run before the
 * other streams' stragglers stop being waited for. */
#define INTERLEAVE_WAIT_NS (2 * SC_NSEC_PER_SEC)
/* How far before the start keyframe interleaved packets are looked for. */
#define INTERLEAVE_LOOKBACK_NS (2 * SC_NSEC_PER_SEC)
/* Rounding slack when judging whether the input reached a segment's end. */
#define END_TOLERANCE_NS SC_NSEC_PER_MSEC
#define READ_BATCH 64
#define READ_TIMEOUT_NS (50 * SC_NSEC_PER_MSEC)

/* ---- sources ---------------------------------------------------------- */

static char *copy_string(const char *text) { return text ? g_strdup(text) : NULL; }

int sc_source_runtime_add_stream(sc_source_runtime *source, const sc_stream_info *info)
{
    if (info->struct_size < offsetof(sc_stream_info, language) + sizeof(const char *) || !info->codec_name) {
        sc_log(SC_LOG_ERROR, source->ctx->name, "source_add_stream: stream info too small or without codec name");
        return SC_ERR_INVALID;
    }
    sc_stream_info *copy = g_new0(sc_stream_info, 1);
    memcpy(copy, info, MIN((size_t)info->struct_size, sizeof *copy));
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
    copy->index = source->streams->len;
    g_ptr_array_add(source->streams, copy);
    g_mutex_unlock(&source->streams_lock);
    sc_log(SC_LOG_DEBUG, source->ctx->name, "stream %u: %s %s", copy->index,
           copy->media_type == SC_MEDIA_VIDEO ? "video" : copy->media_type == SC_MEDIA_AUDIO ? "audio" : "other",
           copy->codec_name);
    return (int)copy->index;
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
    g_mutex_lock(&source->streams_lock);
    const sc_stream_info *info = g_ptr_array_index(source->streams, packet->stream_index);
    g_mutex_unlock(&source->streams_lock);
    sc_clock_normalize(&source->clock, packet, info);
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
    if (atomic_load(&source->state) == SC_SOURCE_CONNECTING) atomic_store(&source->state, SC_SOURCE_LIVE);
    if (!source->clock.started) return start_timeline(source, packet);
    return buffer_normalized(source, packet);
}

static gpointer source_thread(gpointer data)
{
    sc_source_runtime *source = data;
    sc_ctx *ctx = source->ctx;
    int result = ctx->module->ops.source.run(ctx->instance);
    sc_source_runtime_flush_startup(source, SC_TIME_NONE);
    source->result = result;
    if (result == SC_OK || (result == SC_ERR_STOPPED && atomic_load(&source->stop_requested))) {
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
        sc_event *copy = g_new0(sc_event, 1);
        memcpy(copy, event, MIN((size_t)event->struct_size, sizeof *copy));
        copy->struct_size = sizeof *copy;
        copy->name = g_strdup(event->name);
        copy->payload_json = copy_string(event->payload_json);
        g_mutex_lock(&strategy->events_lock);
        g_queue_push_tail(&strategy->events, copy);
        g_mutex_unlock(&strategy->events_lock);
    }
    sc_buffer_wake_readers(source->buffer);
    return SC_OK;
}

static void free_event(gpointer data)
{
    sc_event *event = data;
    g_free((char *)event->name);
    g_free((char *)event->payload_json);
    g_free(event);
}

/* ---- sinks ------------------------------------------------------------ */

/* A segment on its way through the file sinks to the record sinks. */
typedef struct delivery {
    const sc_segment *segment;
    atomic_int file_sinks_left;
    sc_strategy_runtime *strategy;
} delivery;

typedef struct sink_item {
    const sc_segment *segment;   /* reference held */
    delivery *pending;           /* non-NULL for file sinks */
} sink_item;

static void enqueue(sc_sink_runtime *sink, const sc_segment *segment, delivery *pending);

static void deliver_to_records(sc_strategy_runtime *strategy, const sc_segment *segment)
{
    for (guint i = 0; i < strategy->record_sinks->len; i++)
        enqueue(g_ptr_array_index(strategy->record_sinks, i), segment, NULL);
}

static void delivery_done(delivery *pending)
{
    if (atomic_fetch_sub(&pending->file_sinks_left, 1) != 1) return;
    deliver_to_records(pending->strategy, pending->segment);
    sc_segment_unref(pending->segment);
    g_free(pending);
}

static void item_finish(sink_item *item)
{
    if (item->pending) delivery_done(item->pending);
    sc_segment_unref(item->segment);
    g_free(item);
}

static sc_overflow_policy effective_policy(const sc_sink_runtime *sink, const sc_segment *segment)
{
    if (sink->overflow != SC_OVERFLOW_AUTO) return sink->overflow;
    /* Live input must not wait for a slow sink; a file read ahead of real
     * time can, and then loses nothing. */
    return ((const sc_segment_box *)(const void *)segment)->source_live ? SC_OVERFLOW_DROP_OLDEST
                                                                         : SC_OVERFLOW_BLOCK;
}

static void enqueue(sc_sink_runtime *sink, const sc_segment *segment, delivery *pending)
{
    sink_item *item = g_new0(sink_item, 1);
    item->segment = sc_segment_ref(segment);
    item->pending = pending;
    sink_item *dropped = NULL;
    g_mutex_lock(&sink->lock);
    sc_overflow_policy policy = effective_policy(sink, segment);
    if (policy == SC_OVERFLOW_BLOCK)
        while (g_queue_get_length(&sink->queue) >= sink->capacity && !sink->closing)
            g_cond_wait(&sink->changed, &sink->lock);
    if (g_queue_get_length(&sink->queue) >= sink->capacity && !sink->closing) {
        if (policy == SC_OVERFLOW_DROP_NEWEST) {
            dropped = item;
            item = NULL;
        } else {
            dropped = g_queue_pop_head(&sink->queue);
        }
    }
    if (item) g_queue_push_tail(&sink->queue, item);
    g_cond_broadcast(&sink->changed);
    g_mutex_unlock(&sink->lock);
    if (dropped) {
        atomic_fetch_add(&sink->dropped_overflow, 1);
        sc_log(SC_LOG_WARNING, sink->ctx->name, "queue full (%u): dropped segment %s/%" G_GUINT64_FORMAT,
               sink->capacity, dropped->segment->strategy, dropped->segment->index);
        item_finish(dropped);
    }
}

static gpointer sink_thread(gpointer data)
{
    sc_sink_runtime *sink = data;
    sc_ctx *ctx = sink->ctx;
    for (;;) {
        g_mutex_lock(&sink->lock);
        while (g_queue_is_empty(&sink->queue) && !sink->closing) g_cond_wait(&sink->changed, &sink->lock);
        sink_item *item = g_queue_pop_head(&sink->queue);
        g_cond_broadcast(&sink->changed);
        g_mutex_unlock(&sink->lock);
        if (!item) break;
        int result = ctx->module->ops.sink.consume(ctx->instance, item->segment);
        if (result == SC_OK) {
            atomic_fetch_add(&sink->consumed, 1);
        } else {
            atomic_fetch_add(&sink->failed, 1);
            sc_log(SC_LOG_ERROR, ctx->name, "failed on segment %s/%" G_GUINT64_FORMAT " (status %d)",
                   item->segment->strategy, item->segment->index, result);
        }
        item_finish(item);
    }
    if (ctx->module->ops.sink.stop) ctx->module->ops.sink.stop(ctx->instance);
    return NULL;
}

void sc_sink_runtime_start(sc_sink_runtime *sink)
{
    char *name = g_strdup_printf("sink:%s", sink->ctx->name);
    sink->thread = g_thread_new(name, sink_thread, sink);
    g_free(name);
}

void sc_sink_runtime_close(sc_sink_runtime *sink)
{
    g_mutex_lock(&sink->lock);
    sink->closing = true;
    g_cond_broadcast(&sink->changed);
    g_mutex_unlock(&sink->lock);
    if (sink->thread) g_thread_join(sink->thread);
    sink->thread = NULL;
}

static void dispatch(sc_strategy_runtime *strategy, const sc_segment *segment)
{
    if (strategy->file_sinks->len == 0) {
        deliver_to_records(strategy, segment);
        return;
    }
    delivery *pending = g_new0(delivery, 1);
    pending->segment = sc_segment_ref(segment);
    pending->strategy = strategy;
    atomic_init(&pending->file_sinks_left, (int)strategy->file_sinks->len);
    for (guint i = 0; i < strategy->file_sinks->len; i++)
        enqueue(g_ptr_array_index(strategy->file_sinks, i), segment, pending);
}

/* ---- strategies ------------------------------------------------------- */

struct sc_pending_segment {
    uint64_t index;
    int64_t start;
    int64_t end;
    uint32_t flags;
    char *label;
    char *extra_json;
    bool anchored;              /* the start keyframe is known */
    sc_keyframe_entry keyframe;
    GPtrArray *packets;         /* candidates, references held */
};

static void pending_free(sc_pending_segment *pending)
{
    for (guint i = 0; i < pending->packets->len; i++) sc_packet_unref(g_ptr_array_index(pending->packets, i));
    g_ptr_array_free(pending->packets, TRUE);
    g_free(pending->label);
    g_free(pending->extra_json);
    g_free(pending);
}

static int64_t presentation_time(const sc_packet *packet)
{
    return packet->pts != SC_TIME_NONE ? packet->pts : packet->dts;
}

/* Whether a packet belongs to the segment: the reference stream in decode
 * order from the start keyframe, the others by presentation time from the
 * keyframe's, so audio and video begin together. */
static bool belongs(const sc_pending_segment *pending, const sc_packet *packet, int reference_stream)
{
    if ((int)packet->stream_index == reference_stream)
        return packet->seq >= pending->keyframe.seq && packet->dts < pending->end;
    int64_t t = presentation_time(packet);
    return t >= pending->keyframe.pts && t < pending->end;
}

/* Collect the candidates already buffered once the start keyframe is known. */
static void anchor(sc_strategy_runtime *strategy, sc_pending_segment *pending, const sc_keyframe_entry *keyframe)
{
    sc_buffer *buffer = strategy->source->buffer;
    pending->anchored = true;
    pending->keyframe = *keyframe;
    if (keyframe->pts < pending->start) pending->flags |= SC_SEGMENT_MID_GOP_START;
    if (keyframe->pts > pending->start) {
        sc_buffer_stats stats;
        sc_buffer_get_stats(buffer, &stats);
        if (stats.evicted_items + stats.evicted_memory + stats.evicted_retention > 0)
            pending->flags |= SC_SEGMENT_TRUNCATED;
    }
    uint64_t first = sc_buffer_seq_back(buffer, keyframe->seq, keyframe->dts - INTERLEAVE_LOOKBACK_NS);
    GPtrArray *candidates = g_ptr_array_new();
    /* Holes from the keyframe on mean the buffer thinned or lost part of it. */
    sc_buffer_copy_seq_range(buffer, first, keyframe->seq, candidates);
    if (sc_buffer_copy_seq_range(buffer, keyframe->seq, strategy->processed_end, candidates) > 0)
        pending->flags |= SC_SEGMENT_THINNED;
    for (guint i = 0; i < candidates->len; i++) {
        const sc_packet *packet = g_ptr_array_index(candidates, i);
        if (belongs(pending, packet, strategy->reference_stream)) g_ptr_array_add(pending->packets, (gpointer)packet);
        else sc_packet_unref(packet);
    }
    g_ptr_array_free(candidates, TRUE);
}

static void try_anchor(sc_strategy_runtime *strategy, sc_pending_segment *pending)
{
    sc_keyframe_entry keyframe;
    sc_buffer *buffer = strategy->source->buffer;
    if (sc_buffer_keyframe_at_or_before(buffer, pending->start, &keyframe) && keyframe.seq < strategy->processed_end) {
        anchor(strategy, pending, &keyframe);
        return;
    }
    /* Nothing at or before the start (evicted, or the input began later):
     * start at the first keyframe after it, once one has been seen. */
    if (sc_buffer_keyframe_at_or_after(buffer, pending->start, &keyframe) && keyframe.seq < strategy->processed_end &&
        keyframe.pts < pending->end)
        anchor(strategy, pending, &keyframe);
}

static GPtrArray *source_streams_snapshot(sc_source_runtime *source)
{
    GPtrArray *streams = g_ptr_array_new();
    g_mutex_lock(&source->streams_lock);
    for (guint i = 0; i < source->streams->len; i++) g_ptr_array_add(streams, g_ptr_array_index(source->streams, i));
    g_mutex_unlock(&source->streams_lock);
    return streams;
}

/* A window the reference stream does not reach into (e.g. trailing audio
 * after the last video frame) is not a segment. */
static bool covers_window(const sc_strategy_runtime *strategy, const sc_pending_segment *pending)
{
    for (guint i = 0; i < pending->packets->len; i++) {
        const sc_packet *packet = g_ptr_array_index(pending->packets, i);
        if ((int)packet->stream_index != strategy->reference_stream) continue;
        int64_t duration = packet->duration > 0 ? packet->duration : 1;
        if (presentation_time(packet) + duration > pending->start + END_TOLERANCE_NS) return true;
    }
    return false;
}

static void finalize(sc_strategy_runtime *strategy, sc_pending_segment *pending, bool complete)
{
    sc_ctx *ctx = strategy->ctx;
    if (!complete) pending->flags |= SC_SEGMENT_PARTIAL;
    if (!pending->anchored || !covers_window(strategy, pending)) {
        atomic_fetch_add(&strategy->segments_empty, 1);
        sc_log(SC_LOG_DEBUG, ctx->name, "segment %" G_GUINT64_FORMAT " has no packets; not delivered", pending->index);
        pending_free(pending);
        return;
    }
    GPtrArray *packets = pending->packets;
    pending->packets = g_ptr_array_new();
    sc_segment_box *box = sc_segment_new(strategy->source->ctx->name, ctx->name, pending->index, pending->start,
                                         pending->end, pending->flags, pending->label, pending->extra_json,
                                         packets, source_streams_snapshot(strategy->source),
                                         (uint32_t)strategy->reference_stream);
    box->source_live = sc_buffer_is_live(strategy->source->buffer);
    atomic_fetch_add(&strategy->segments_emitted, 1);
    sc_log(SC_LOG_DEBUG, ctx->name, "segment %" G_GUINT64_FORMAT " [%.3f, %.3f): %zu packets",
           pending->index, pending->start / 1e9, pending->end / 1e9, box->segment.packet_count);
    dispatch(strategy, &box->segment);
    sc_segment_unref(&box->segment);
    pending_free(pending);
}

int64_t sc_strategy_runtime_emit(sc_strategy_runtime *strategy, const sc_segment_request *request)
{
    if (request->start == SC_TIME_NONE || request->end == SC_TIME_NONE || request->end <= request->start) {
        sc_log(SC_LOG_ERROR, strategy->ctx->name, "segment_emit: empty or unbounded range");
        return SC_ERR_INVALID;
    }
    sc_pending_segment *pending = g_new0(sc_pending_segment, 1);
    pending->index = strategy->next_index++;
    pending->start = request->start;
    pending->end = request->end;
    pending->flags = request->flags & (SC_SEGMENT_FORCED | SC_SEGMENT_PARTIAL);
    pending->label = copy_string(request->label);
    pending->extra_json = copy_string(request->extra_json);
    pending->packets = g_ptr_array_new();
    if (strategy->reference_stream < 0) strategy->reference_stream = sc_buffer_reference_stream(strategy->source->buffer);
    try_anchor(strategy, pending);
    g_ptr_array_add(strategy->pending, pending);
    return (int64_t)pending->index;
}

static int64_t progress_of(const sc_strategy_runtime *strategy, guint stream)
{
    return stream < strategy->stream_progress->len ? g_array_index(strategy->stream_progress, int64_t, stream)
                                                   : SC_TIME_NONE;
}

/* Every stream that has sent anything has passed the end, or the reference
 * stream is far enough past it that stragglers are not coming. */
static bool pending_complete(const sc_strategy_runtime *strategy, const sc_pending_segment *pending)
{
    int64_t reference = progress_of(strategy, (guint)strategy->reference_stream);
    if (reference == SC_TIME_NONE || reference < pending->end) return false;
    if (reference >= pending->end + INTERLEAVE_WAIT_NS) return true;
    for (guint i = 0; i < strategy->stream_progress->len; i++) {
        int64_t progress = g_array_index(strategy->stream_progress, int64_t, i);
        if (progress != SC_TIME_NONE && progress < pending->end) return false;
    }
    return true;
}

static void track_packet(sc_strategy_runtime *strategy, const sc_packet *packet)
{
    while (strategy->stream_progress->len <= packet->stream_index) {
        int64_t none = SC_TIME_NONE;
        g_array_append_val(strategy->stream_progress, none);
    }
    int64_t *progress = &g_array_index(strategy->stream_progress, int64_t, packet->stream_index);
    if (*progress == SC_TIME_NONE || packet->dts > *progress) *progress = packet->dts;
    if ((int)packet->stream_index == strategy->reference_stream) {
        int64_t media_end = presentation_time(packet) + packet->duration;
        if (strategy->reference_media_end == SC_TIME_NONE || media_end > strategy->reference_media_end)
            strategy->reference_media_end = media_end;
    }
    for (guint i = 0; i < strategy->pending->len; i++) {
        sc_pending_segment *pending = g_ptr_array_index(strategy->pending, i);
        if (!pending->anchored) continue;
        if (belongs(pending, packet, strategy->reference_stream))
            g_ptr_array_add(pending->packets, (gpointer)sc_packet_ref(packet));
    }
}

static void complete_ready(sc_strategy_runtime *strategy, bool flushing)
{
    for (guint i = 0; i < strategy->pending->len;) {
        sc_pending_segment *pending = g_ptr_array_index(strategy->pending, i);
        if (!pending->anchored) try_anchor(strategy, pending);
        bool complete = pending->anchored && pending_complete(strategy, pending);
        if (complete || flushing) {
            g_ptr_array_remove_index(strategy->pending, i);
            /* At the end of input a segment whose data reaches its end is whole. */
            if (!complete)
                complete = strategy->reference_media_end != SC_TIME_NONE &&
                           strategy->reference_media_end >= pending->end - END_TOLERANCE_NS;
            finalize(strategy, pending, complete);
        } else {
            i++;
        }
    }
}

static void deliver_events(sc_strategy_runtime *strategy)
{
    sc_ctx *ctx = strategy->ctx;
    for (;;) {
        g_mutex_lock(&strategy->events_lock);
        sc_event *event = g_queue_pop_head(&strategy->events);
        g_mutex_unlock(&strategy->events_lock);
        if (!event) return;
        if (ctx->module->ops.strategy.event) ctx->module->ops.strategy.event(ctx->instance, event);
        free_event(event);
    }
}

static gpointer strategy_thread(gpointer data)
{
    sc_strategy_runtime *strategy = data;
    sc_ctx *ctx = strategy->ctx;
    const sc_strategy_ops *ops = &ctx->module->ops.strategy;
    const sc_packet *batch[READ_BATCH];
    bool at_end = false;
    while (!at_end) {
        size_t count = sc_buffer_read(strategy->source->buffer, strategy->reader, batch, READ_BATCH,
                                      READ_TIMEOUT_NS, &at_end);
        deliver_events(strategy);
        for (size_t i = 0; i < count; i++) {
            const sc_packet *packet = batch[i];
            if (strategy->reference_stream < 0)
                strategy->reference_stream = sc_buffer_reference_stream(strategy->source->buffer);
            strategy->processed_end = packet->seq + 1;
            track_packet(strategy, packet);
            int result = ops->packet(ctx->instance, packet);
            if (result != SC_OK) sc_ctx_counter_add(ctx, "packet_errors", 1);
            sc_packet_unref(packet);
            complete_ready(strategy, false);
        }
    }
    deliver_events(strategy);
    if (ops->flush) {
        bool shutdown = atomic_load(&strategy->source->stop_requested) != 0;
        ops->flush(ctx->instance, shutdown ? SC_FLUSH_SHUTDOWN : SC_FLUSH_END_OF_INPUT);
    }
    complete_ready(strategy, true);
    if (ops->stop) ops->stop(ctx->instance);
    return NULL;
}

void sc_strategy_runtime_start(sc_strategy_runtime *strategy)
{
    strategy->reader = sc_buffer_reader_new(strategy->source->buffer);
    char *name = g_strdup_printf("strat:%s", strategy->ctx->name);
    strategy->thread = g_thread_new(name, strategy_thread, strategy);
    g_free(name);
}

void sc_strategy_runtime_join(sc_strategy_runtime *strategy)
{
    if (strategy->thread) g_thread_join(strategy->thread);
    strategy->thread = NULL;
    if (strategy->reader) sc_buffer_reader_free(strategy->source->buffer, strategy->reader);
    strategy->reader = NULL;
    g_mutex_lock(&strategy->events_lock);
    g_queue_clear_full(&strategy->events, free_event);
    g_mutex_unlock(&strategy->events_lock);
    for (guint i = 0; i < strategy->pending->len; i++) pending_free(g_ptr_array_index(strategy->pending, i));
    g_ptr_array_set_size(strategy->pending, 0);
}
