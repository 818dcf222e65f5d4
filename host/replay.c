/* Replay-buffer clips (POST /v1/streams/{id}/clip): the last N seconds of a
 * source, plus M still to come, cut from its buffer on demand and handed
 * to the sinks the request names, like OBS's replay buffer but for any
 * source and any sink.
 *
 * An order is shared by the control API (which waits for it) and the
 * pipeline (the source's replay runtime cuts it, the sinks consume it), so
 * it is reference-counted; it is done when every sink is through with its
 * segment, or at once when the window held nothing. */
#include <string.h>

#include "log.h"
#include "runtime.h"

static atomic_uint_least64_t next_order_id = 1;

sc_clip_order *sc_clip_order_new(sc_source_runtime *source, int64_t pre, int64_t post, const char *label,
                                 GPtrArray *sinks, const char **why)
{
    if (!source->replay) {
        *why = "the source has no replay runtime (the control API was not configured)";
        return NULL;
    }
    int state = atomic_load(&source->state);
    if (state == SC_SOURCE_ENDED || state == SC_SOURCE_FAILED) {
        *why = "the source has ended";
        return NULL;
    }
    sc_buffer_stats stats;
    sc_buffer_get_stats(source->buffer, &stats);
    if (stats.newest_ts == SC_TIME_NONE) {
        *why = "nothing is buffered yet";
        return NULL;
    }
    sc_clip_order *order = g_new0(sc_clip_order, 1);
    order->refs = 2; /* the caller's and the replay queue's */
    order->id = atomic_fetch_add(&next_order_id, 1);
    order->start = stats.newest_ts - pre;
    order->end = stats.newest_ts + post;
    order->label = g_strdup(label);
    order->file_sinks = g_ptr_array_new();
    order->record_sinks = g_ptr_array_new();
    for (guint i = 0; i < sinks->len; i++) {
        sc_sink_runtime *sink = g_ptr_array_index(sinks, i);
        g_ptr_array_add(sink->produces_files ? order->file_sinks : order->record_sinks, sink);
    }
    atomic_init(&order->items_left, (int)order->record_sinks->len + 1);
    g_mutex_init(&order->lock);
    g_cond_init(&order->finished);
    g_mutex_lock(&source->replay->requests_lock);
    g_queue_push_tail(&source->replay->orders, order);
    g_mutex_unlock(&source->replay->requests_lock);
    /* The replay reader may be waiting for packets: the order needs it now. */
    sc_buffer_wake_readers(source->buffer);
    return order;
}

sc_clip_order *sc_clip_order_ref(sc_clip_order *order)
{
    g_atomic_int_inc(&order->refs);
    return order;
}

void sc_clip_order_unref(sc_clip_order *order)
{
    if (!order || !g_atomic_int_dec_and_test(&order->refs)) return;
    if (order->segment) sc_segment_unref(order->segment);
    g_ptr_array_free(order->file_sinks, TRUE);
    g_ptr_array_free(order->record_sinks, TRUE);
    g_mutex_clear(&order->lock);
    g_cond_clear(&order->finished);
    g_free(order->label);
    g_free(order);
}

static void mark_done(sc_clip_order *order)
{
    g_mutex_lock(&order->lock);
    order->done = true;
    g_cond_broadcast(&order->finished);
    g_mutex_unlock(&order->lock);
}

bool sc_clip_order_wait(sc_clip_order *order, gint64 deadline_us)
{
    g_mutex_lock(&order->lock);
    while (!order->done)
        if (!g_cond_wait_until(&order->finished, &order->lock, deadline_us)) break;
    bool done = order->done;
    g_mutex_unlock(&order->lock);
    return done;
}

void sc_clip_order_cut(sc_clip_order *order, const sc_segment *segment)
{
    if (!segment) {
        mark_done(order);
        return;
    }
    /* Set before any sink sees it; read by the waiter only once done. */
    order->segment = sc_segment_ref(segment);
    sc_sink_dispatch_order(order);
}

void sc_clip_order_abandon(sc_clip_order *order)
{
    mark_done(order);
}

void sc_clip_order_item_done(sc_clip_order *order)
{
    if (atomic_fetch_sub(&order->items_left, 1) == 1) mark_done(order);
}
