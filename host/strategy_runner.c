/* Strategy threads: each follows its source's buffer, hands every packet
 * to its module, and turns the module's segment requests into segments:
 * anchored at the reference keyframe at or before the start, completed
 * when every stream has passed the end, checked against the quality
 * rules, then dispatched to the sinks. */
#include <string.h>

#include "log.h"
#include "packet.h"
#include "pipeline.h"
#include "quality.h"
#include "runtime.h"

/* How far past a segment's end the reference stream may run before the
 * other streams' stragglers stop being waited for. */
#define INTERLEAVE_WAIT_NS (2 * SC_NSEC_PER_SEC)
/* How far before the start keyframe interleaved packets are looked for. */
#define INTERLEAVE_LOOKBACK_NS (2 * SC_NSEC_PER_SEC)
/* How far before the latest reference keyframe the buffer keeps packets
 * for requests that start there (other streams interleave ahead of it). */
#define RECENT_HOLD_NS (500 * SC_NSEC_PER_MSEC)
/* How far past the driver's position a sync group's member may read: its
 * windows complete once its streams pass their end, and its buffer must
 * keep what lies between the driver's next window start and this. */
#define MEMBER_LOOKAHEAD_NS SC_NSEC_PER_SEC
/* Rounding slack when judging whether the input reached a segment's end. */
#define END_TOLERANCE_NS SC_NSEC_PER_MSEC
#define READ_BATCH 64
#define READ_TIMEOUT_NS (50 * SC_NSEC_PER_MSEC)

static char *copy_string(const char *text) { return text ? g_strdup(text) : NULL; }

struct sc_pending_segment {
    uint64_t index;
    int64_t start;
    int64_t end;
    uint32_t flags;
    char *label;
    char *extra_json;
    bool anchored;              /* the start keyframe is known */
    bool reference_closed;      /* the next segment's keyframe went by */
    size_t thinned_packets;     /* holes the buffer had left in its range */
    sc_keyframe_entry keyframe;
    GPtrArray *packets;         /* candidates, references held */
    sc_clip_order *order;       /* replay: the clip order it cuts (reference) */
};

static void pending_free(sc_pending_segment *pending)
{
    for (guint i = 0; i < pending->packets->len; i++) sc_packet_unref(g_ptr_array_index(pending->packets, i));
    g_ptr_array_free(pending->packets, TRUE);
    g_free(pending->label);
    g_free(pending->extra_json);
    if (pending->order) sc_clip_order_unref(pending->order);
    g_free(pending);
}

static int64_t presentation_time(const sc_packet *packet)
{
    return packet->pts != SC_TIME_NONE ? packet->pts : packet->dts;
}

/* Whether a packet belongs to the segment: the reference stream in decode
 * order from the start keyframe, the others by presentation time from the
 * keyframe's, so audio and video begin together. */
/* Whether a packet belongs to the segment: the reference stream in decode
 * order from the start keyframe up to the keyframe that opens the next
 * segment (a keyframe shown at or after the end, and what follows it in
 * decode order, belong to the next one even when decoded earlier), the
 * other streams by presentation time from the keyframe's, so audio and
 * video begin together. Called once per packet, in decode order. */
static bool belongs(sc_pending_segment *pending, const sc_packet *packet, int reference_stream)
{
    if ((int)packet->stream_index == reference_stream) {
        if (packet->seq < pending->keyframe.seq || pending->reference_closed) return false;
        if ((packet->flags & SC_PACKET_KEY) && packet->seq != pending->keyframe.seq &&
            presentation_time(packet) >= pending->end) {
            pending->reference_closed = true;
            return false;
        }
        return packet->dts < pending->end;
    }
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
    /* What was kept while waiting to anchor comes last; the buffer supplies
     * what came before it. */
    GPtrArray *kept = pending->packets;
    pending->packets = g_ptr_array_new();
    uint64_t upto = kept->len ? ((const sc_packet *)g_ptr_array_index(kept, 0))->seq : strategy->processed_end;
    uint64_t first = sc_buffer_seq_back(buffer, keyframe->seq, keyframe->dts - INTERLEAVE_LOOKBACK_NS);
    GPtrArray *candidates = g_ptr_array_new();
    /* Holes from the keyframe on mean the buffer thinned or lost part of it. */
    sc_buffer_copy_seq_range(buffer, first, MIN(keyframe->seq, upto), candidates);
    if (keyframe->seq < upto)
        pending->thinned_packets = sc_buffer_copy_seq_range(buffer, keyframe->seq, upto, candidates);
    if (pending->thinned_packets > 0) pending->flags |= SC_SEGMENT_THINNED;
    for (guint i = 0; i < kept->len; i++) g_ptr_array_add(candidates, g_ptr_array_index(kept, i));
    g_ptr_array_free(kept, TRUE);
    for (guint i = 0; i < candidates->len; i++) {
        const sc_packet *packet = g_ptr_array_index(candidates, i);
        if (belongs(pending, packet, strategy->reference_stream)) g_ptr_array_add(pending->packets, (gpointer)packet);
        else sc_packet_unref(packet);
    }
    g_ptr_array_free(candidates, TRUE);
}

static int64_t progress_of(const sc_strategy_runtime *strategy, guint stream)
{
    return stream < strategy->stream_progress->len ? g_array_index(strategy->stream_progress, int64_t, stream)
                                                   : SC_TIME_NONE;
}

static void try_anchor(sc_strategy_runtime *strategy, sc_pending_segment *pending)
{
    sc_keyframe_entry keyframe;
    sc_buffer *buffer = strategy->source->buffer;
    /* A start the stream has not reached yet may still get a keyframe
     * nearer to it: wait until the reference stream gets there. */
    int64_t reached = progress_of(strategy, (guint)MAX(strategy->reference_stream, 0));
    if (reached == SC_TIME_NONE || reached < pending->start) return;
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

/* Mark a segment rejected and say why in its record (before anyone else
 * sees it). */
static void reject(sc_segment_box *box, const char *reason, const sc_quality_measure *measure)
{
    char *fields = g_strdup_printf("\"reject_reason\":\"%s\",\"quality\":{\"duration\":%.3f,\"corrupt_ratio\":%.4f,"
                                   "\"largest_gap\":%.3f,\"bitrate_kbps\":%.1f,\"thinned_ratio\":%.4f}",
                                   reason, measure->duration_ns / 1e9, measure->corrupt_ratio,
                                   measure->largest_gap_ns / 1e9, measure->bitrate_kbps, measure->thinned_ratio);
    const char *extra = box->extra_json;
    char *merged;
    if (extra && extra[0] == '{' && strchr(extra, '}')) {
        const char *rest = extra + 1;
        while (*rest == ' ') rest++;
        merged = g_strdup_printf("{%s%s%s", fields, *rest == '}' ? "" : ",", rest);
    } else {
        merged = g_strdup_printf("{%s}", fields);
    }
    g_free(fields);
    g_free(box->extra_json);
    box->extra_json = merged;
    box->segment.extra_json = merged;
    box->segment.flags |= SC_SEGMENT_REJECTED;
}

static void finalize(sc_strategy_runtime *strategy, sc_pending_segment *pending, bool complete)
{
    sc_ctx *ctx = strategy->ctx;
    bool member_of_group = strategy->group && strategy->member >= 0;
    if (!complete) pending->flags |= SC_SEGMENT_PARTIAL;
    if (!pending->anchored || !covers_window(strategy, pending)) {
        if (pending->order) sc_clip_order_cut(pending->order, NULL);
        if (member_of_group) sc_sync_group_deliver(strategy->group, strategy->member, pending->index, NULL);
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
    box->segment.source_type = strategy->source->type;
    box->segment.start_utc = sc_reference_clock_to_utc(strategy->source->reference, pending->start);
    box->segment.end_utc = sc_reference_clock_to_utc(strategy->source->reference, pending->end);
    if (pending->order) {
        /* A clip order: its own sinks, no quality rules (asked for by hand). */
        atomic_fetch_add(&strategy->segments_emitted, 1);
        sc_observers_segment(strategy->source, &box->segment);
        sc_clip_order_cut(pending->order, &box->segment);
        sc_segment_unref(&box->segment);
        pending_free(pending);
        return;
    }
    if (member_of_group) {
        /* A member's share of a set: the group delivers the whole set. */
        atomic_fetch_add(&strategy->segments_emitted, 1);
        sc_observers_segment(strategy->source, &box->segment);
        sc_sync_group_deliver(strategy->group, strategy->member, pending->index, &box->segment);
        sc_segment_unref(&box->segment);
        pending_free(pending);
        return;
    }
    sc_quality_measure measure;
    sc_quality_measure_segment(&box->segment, pending->thinned_packets, &measure);
    const char *rejection = sc_quality_verdict(&strategy->quality, &box->segment, &measure);
    if (rejection) {
        char *counter = g_strconcat("rejected_", rejection, NULL);
        sc_ctx_counter_add(ctx, counter, 1);
        g_free(counter);
        atomic_fetch_add(&strategy->segments_rejected, 1);
        sc_log(SC_LOG_DEBUG, ctx->name, "segment %" G_GUINT64_FORMAT " rejected: %s", pending->index, rejection);
        if (strategy->reject_sink) {
            reject(box, rejection, &measure);
            sc_sink_dispatch(strategy, &box->segment, strategy->reject_sink);
        }
    } else {
        atomic_fetch_add(&strategy->segments_emitted, 1);
        sc_log(SC_LOG_DEBUG, ctx->name, "segment %" G_GUINT64_FORMAT " [%.3f, %.3f): %zu packets", pending->index,
               pending->start / 1e9, pending->end / 1e9, box->segment.packet_count);
        sc_observers_segment(strategy->source, &box->segment);
        sc_sink_dispatch(strategy, &box->segment, NULL);
    }
    sc_segment_unref(&box->segment);
    pending_free(pending);
}

static sc_pending_segment *add_pending(sc_strategy_runtime *strategy, const sc_segment_request *request,
                                       uint64_t index)
{
    sc_pending_segment *pending = g_new0(sc_pending_segment, 1);
    pending->index = index;
    pending->start = request->start;
    pending->end = request->end;
    pending->flags = request->flags & (SC_SEGMENT_FORCED | SC_SEGMENT_PARTIAL);
    pending->label = copy_string(request->label);
    pending->extra_json = copy_string(request->extra_json);
    pending->packets = g_ptr_array_new();
    if (strategy->reference_stream < 0) strategy->reference_stream = sc_buffer_reference_stream(strategy->source->buffer);
    try_anchor(strategy, pending);
    g_ptr_array_add(strategy->pending, pending);
    return pending;
}

int64_t sc_strategy_runtime_emit_indexed(sc_strategy_runtime *strategy, const sc_segment_request *request,
                                         uint64_t index)
{
    return (int64_t)add_pending(strategy, request, index)->index;
}

void sc_strategy_runtime_take_orders(sc_strategy_runtime *replay)
{
    for (;;) {
        g_mutex_lock(&replay->requests_lock);
        sc_clip_order *order = g_queue_pop_head(&replay->orders);
        g_mutex_unlock(&replay->requests_lock);
        if (!order) return;
        sc_segment_request request = {.struct_size = sizeof request, .start = order->start, .end = order->end,
                                      .label = order->label};
        /* The queue's reference moves to the pending segment. */
        add_pending(replay, &request, replay->next_index++)->order = order;
    }
}

int64_t sc_strategy_runtime_emit(sc_strategy_runtime *strategy, const sc_segment_request *request)
{
    if (request->start == SC_TIME_NONE || request->end == SC_TIME_NONE || request->end <= request->start) {
        sc_log(SC_LOG_ERROR, strategy->ctx->name, "segment_emit: empty or unbounded range");
        return SC_ERR_INVALID;
    }
    if (strategy->group) return sc_sync_group_emit(strategy->group, request);
    return sc_strategy_runtime_emit_indexed(strategy, request, strategy->next_index++);
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

void sc_strategy_runtime_apply_hold(sc_strategy_runtime *strategy)
{
    sc_buffer_reader_hold(strategy->source->buffer, strategy->reader, MIN(strategy->module_hold, strategy->recent_hold));
}

/* A window asked for when the stream enters it starts at the keyframe just
 * read, and its first packets come from the buffer; the reader has already
 * "seen" the whole batch that keyframe came in, so without a hold a small
 * buffer could evict them before the request anchors. */
static void hold_recent_keyframe(sc_strategy_runtime *strategy, const sc_packet *packet)
{
    uint64_t seq = sc_buffer_seq_back(strategy->source->buffer, packet->seq, packet->dts - RECENT_HOLD_NS);
    if (seq == strategy->recent_hold) return;
    strategy->recent_hold = seq;
    sc_strategy_runtime_apply_hold(strategy);
}

static void track_packet(sc_strategy_runtime *strategy, const sc_packet *packet)
{
    if ((int)packet->stream_index == strategy->reference_stream && (packet->flags & SC_PACKET_KEY))
        hold_recent_keyframe(strategy, packet);
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
        if (!pending->anchored) {
            /* Until the start's keyframe is settled, keep what may belong:
             * a file input's buffer may drop it before then. */
            if (packet->dts >= pending->start - INTERLEAVE_LOOKBACK_NS)
                g_ptr_array_add(pending->packets, (gpointer)sc_packet_ref(packet));
            continue;
        }
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
        sc_event_free(event);
    }
}

static void release_original(void *opaque)
{
    sc_packet_unref(opaque);
}

/* The driver of a sync group sees its leader's packets on the reference
 * clock, so the module's windows are wall-clock windows. NULL while the
 * leader has no clock yet. */
static const sc_packet *on_reference_clock(sc_strategy_runtime *strategy, const sc_packet *packet)
{
    sc_reference_clock *reference = strategy->source->reference;
    int64_t pts = sc_reference_clock_to_utc(reference, packet->pts);
    int64_t dts = sc_reference_clock_to_utc(reference, packet->dts);
    if (pts == SC_TIME_NONE || dts == SC_TIME_NONE) return NULL;
    sc_packet *copy = sc_packet_wrap(packet->data, packet->size, release_original, (void *)sc_packet_ref(packet));
    if (!copy) {
        sc_packet_unref(packet);
        return NULL;
    }
    uint64_t seq = packet->seq;
    memcpy(copy, packet, sizeof *copy);
    copy->seq = seq;
    copy->pts = pts;
    copy->dts = dts;
    return copy;
}

/* A dts limit no packet is under: read nothing yet. */
#define READ_NOTHING (INT64_MIN + 1)

/* How far (dts on its own timeline) a member may read: the driver's
 * position on the reference clock, plus a look-ahead for the stragglers
 * that complete a window (interleaving). Nothing before the driver
 * has a position, or the member a clock to map it with. */
static int64_t shadow_limit(sc_strategy_runtime *shadow)
{
    sc_sync_group *group = shadow->group;
    if (atomic_load(&group->driver_done)) return SC_TIME_NONE;
    int64_t driver_utc = atomic_load(&group->driver_utc);
    if (driver_utc == SC_TIME_NONE) return READ_NOTHING;
    int64_t media = sc_reference_clock_to_media(shadow->source->reference, driver_utc);
    return media == SC_TIME_NONE ? READ_NOTHING : media + MEMBER_LOOKAHEAD_NS;
}

/* The look-ahead lets a member read past where the driver's next window
 * will start; the member's buffer keeps from there (or from the driver
 * module's own hold), so a request that comes later finds its packets. */
static void shadow_hold(sc_strategy_runtime *shadow)
{
    sc_sync_group *group = shadow->group;
    int64_t from = atomic_load(&group->driver_utc);
    int64_t module_from = atomic_load(&group->driver_hold_utc);
    if (from == SC_TIME_NONE || atomic_load(&group->driver_done)) return;
    if (module_from != SC_TIME_NONE && module_from < from) from = module_from;
    /* A window the driver asked for and this member has not taken yet:
     * the driver may already hold from its end (scene does, the moment it
     * asks), but the member still needs it from its start. */
    int64_t waiting = sc_strategy_runtime_first_request_utc(shadow);
    if (waiting != SC_TIME_NONE && waiting < from) from = waiting;
    int64_t media = sc_reference_clock_to_media(shadow->source->reference, from);
    if (media == SC_TIME_NONE) return;
    sc_buffer *buffer = shadow->source->buffer;
    sc_keyframe_entry keyframe;
    uint64_t seq = 0;
    if (sc_buffer_keyframe_at_or_before(buffer, media, &keyframe))
        seq = sc_buffer_seq_back(buffer, keyframe.seq, keyframe.dts - INTERLEAVE_LOOKBACK_NS);
    if (seq == shadow->module_hold) return;
    shadow->module_hold = seq;
    sc_strategy_runtime_apply_hold(shadow);
}

/* A source's replay runtime: follows the buffer and cuts clip orders. */
static gpointer replay_thread(sc_strategy_runtime *replay)
{
    const sc_packet *batch[READ_BATCH];
    bool at_end = false;
    while (!at_end) {
        size_t count = sc_buffer_read_until(replay->source->buffer, replay->reader, batch, READ_BATCH,
                                            READ_TIMEOUT_NS, SC_TIME_NONE, &at_end);
        sc_strategy_runtime_take_orders(replay);
        for (size_t i = 0; i < count; i++) {
            if (replay->reference_stream < 0)
                replay->reference_stream = sc_buffer_reference_stream(replay->source->buffer);
            replay->processed_end = batch[i]->seq + 1;
            track_packet(replay, batch[i]);
            sc_packet_unref(batch[i]);
            complete_ready(replay, false);
        }
        if (count == 0) complete_ready(replay, false);
    }
    sc_strategy_runtime_take_orders(replay);
    complete_ready(replay, true);
    return NULL;
}

static gpointer strategy_thread(gpointer data)
{
    sc_strategy_runtime *strategy = data;
    sc_ctx *ctx = strategy->ctx;
    if (strategy->replay) return replay_thread(strategy);
    const sc_strategy_ops *ops = &ctx->module->ops.strategy;
    /* A sync group's member shadows only resolve requests: no module. */
    bool shadow = strategy->group && strategy->member >= 0;
    bool driver = strategy->group && strategy->member < 0;
    const sc_packet *batch[READ_BATCH];
    bool at_end = false;
    /* A shadow outlives its own input: the driver may still ask for
     * windows its buffer holds, until the driver is done. */
    while (!at_end || (shadow && !atomic_load(&strategy->group->driver_done))) {
        /* Members keep pace with the driver: a file read as fast as it
         * goes must not run past the windows the driver has yet to ask
         * for, or its buffer would drop them first. */
        int64_t limit = SC_TIME_NONE;
        if (shadow) {
            shadow_hold(strategy);
            limit = shadow_limit(strategy);
        }
        size_t count = sc_buffer_read_until(strategy->source->buffer, strategy->reader, batch, READ_BATCH,
                                            READ_TIMEOUT_NS, limit, &at_end);
        if (count == 0 && shadow) g_usleep(1000);
        if (!shadow) deliver_events(strategy);
        for (size_t i = 0; i < count; i++) {
            const sc_packet *packet = batch[i];
            if (strategy->reference_stream < 0)
                strategy->reference_stream = sc_buffer_reference_stream(strategy->source->buffer);
            strategy->processed_end = packet->seq + 1;
            track_packet(strategy, packet);
            if (shadow) {
                sc_strategy_runtime_take_requests(strategy, false);
            } else {
                const sc_packet *seen = driver ? on_reference_clock(strategy, packet) : packet;
                if (driver && seen) atomic_store(&strategy->group->driver_utc, seen->dts);
                if (seen) {
                    int result = ops->packet(ctx->instance, seen);
                    if (result != SC_OK) sc_ctx_counter_add(ctx, "packet_errors", 1);
                    if (driver) sc_packet_unref(seen);
                }
            }
            sc_packet_unref(packet);
            complete_ready(strategy, false);
        }
        if (shadow) {
            sc_strategy_runtime_take_requests(strategy, at_end);
            complete_ready(strategy, false);
            sc_sync_group_expire(strategy->group, false);
        }
    }
    if (shadow) {
        sc_strategy_runtime_take_requests(strategy, true);
        complete_ready(strategy, true);
        return NULL;
    }
    deliver_events(strategy);
    if (ops->flush) {
        bool shutdown = atomic_load(&strategy->source->stop_requested) != 0;
        ops->flush(ctx->instance, shutdown ? SC_FLUSH_SHUTDOWN : SC_FLUSH_END_OF_INPUT);
    }
    complete_ready(strategy, true);
    if (ops->stop) ops->stop(ctx->instance);
    if (driver) atomic_store(&strategy->group->driver_done, 1);
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
    g_queue_clear_full(&strategy->events, sc_event_free);
    g_mutex_unlock(&strategy->events_lock);
    for (guint i = 0; i < strategy->pending->len; i++) pending_free(g_ptr_array_index(strategy->pending, i));
    g_ptr_array_set_size(strategy->pending, 0);
}
