/* Observers: the design's add_frame_callback / add_segment_callback as
 * modules. Each observer has its own thread and a bounded queue; the
 * source and strategy threads only append a reference to it and never
 * wait: when an observer falls behind, its queue drops (the oldest item,
 * or the newest with on_overflow = drop_newest) and counts it. */
#include "log.h"
#include "packet.h"
#include "pipeline.h"
#include "runtime.h"

typedef struct observed {
    const sc_packet *packet;         /* reference, or NULL */
    const sc_stream_info *stream;    /* the packet's, owned by its source */
    const char *source;
    const sc_segment *segment;       /* reference, or NULL */
} observed;

static void observed_free(observed *item)
{
    if (item->packet) sc_packet_unref(item->packet);
    if (item->segment) sc_segment_unref(item->segment);
    g_free(item);
}

static void offer(sc_observer_runtime *observer, observed *item)
{
    observed *dropped = NULL;
    g_mutex_lock(&observer->lock);
    if (observer->closing) {
        dropped = item;
    } else {
        if (observer->queue.length >= observer->capacity) {
            if (observer->drop_newest) {
                dropped = item;
                item = NULL;
            } else {
                dropped = g_queue_pop_head(&observer->queue);
            }
        }
        if (item) {
            g_queue_push_tail(&observer->queue, item);
            g_cond_signal(&observer->changed);
        }
    }
    g_mutex_unlock(&observer->lock);
    if (dropped) {
        atomic_fetch_add(dropped->packet ? &observer->dropped_packets : &observer->dropped_segments, 1);
        observed_free(dropped);
    }
}

void sc_observers_packet(sc_source_runtime *source, const sc_packet *packet, const sc_stream_info *stream)
{
    for (guint i = 0; source->observers && i < source->observers->len; i++) {
        sc_observer_runtime *observer = g_ptr_array_index(source->observers, i);
        if (!observer->ctx->module->ops.observer.packet || !observer->want_packets) continue;
        observed *item = g_new0(observed, 1);
        item->packet = sc_packet_ref(packet);
        item->stream = stream;
        item->source = source->ctx->name;
        offer(observer, item);
    }
}

void sc_observers_segment(sc_source_runtime *source, const sc_segment *segment)
{
    for (guint i = 0; source->observers && i < source->observers->len; i++) {
        sc_observer_runtime *observer = g_ptr_array_index(source->observers, i);
        if (!observer->ctx->module->ops.observer.segment || !observer->want_segments) continue;
        observed *item = g_new0(observed, 1);
        item->segment = sc_segment_ref(segment);
        item->source = source->ctx->name;
        offer(observer, item);
    }
}

static gpointer observer_thread(gpointer data)
{
    sc_observer_runtime *observer = data;
    sc_ctx *ctx = observer->ctx;
    const sc_observer_ops *ops = &ctx->module->ops.observer;
    for (;;) {
        g_mutex_lock(&observer->lock);
        while (g_queue_is_empty(&observer->queue) && !observer->closing) g_cond_wait(&observer->changed, &observer->lock);
        observed *item = g_queue_pop_head(&observer->queue);
        g_mutex_unlock(&observer->lock);
        if (!item) break; /* closing and drained */
        if (atomic_exchange(&observer->reopen_requested, 0) && ops->reopen) ops->reopen(ctx->instance);
        if (item->packet) {
            ops->packet(ctx->instance, item->source, item->packet, item->stream);
            atomic_fetch_add(&observer->packets_seen, 1);
        } else {
            ops->segment(ctx->instance, item->segment);
            atomic_fetch_add(&observer->segments_seen, 1);
        }
        observed_free(item);
    }
    if (ops->stop) ops->stop(ctx->instance);
    return NULL;
}

void sc_observer_runtime_start(sc_observer_runtime *observer)
{
    char *name = g_strdup_printf("obs:%s", observer->ctx->name);
    observer->thread = g_thread_new(name, observer_thread, observer);
    g_free(name);
}

void sc_observer_runtime_close(sc_observer_runtime *observer)
{
    g_mutex_lock(&observer->lock);
    observer->closing = true;
    g_cond_broadcast(&observer->changed);
    g_mutex_unlock(&observer->lock);
    if (observer->thread) g_thread_join(observer->thread);
    observer->thread = NULL;
}

static void free_observed(gpointer item) { observed_free(item); }

void sc_observer_runtime_free(sc_observer_runtime *observer)
{
    g_queue_clear_full(&observer->queue, free_observed);
    g_mutex_clear(&observer->lock);
    g_cond_clear(&observer->changed);
    g_free(observer);
}
