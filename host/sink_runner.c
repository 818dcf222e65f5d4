/* Sinks: every sink has a bounded queue with an explicit overflow policy,
 * and a pool of worker threads ([host] workers) serves the queues. A sink
 * is handled by one worker at a time, so it sees each input's segments in
 * order; different sinks run in parallel; a slow or failing sink holds at
 * most one worker and never the strategies or the sources.
 *
 * A segment goes first to the sinks that write files (clip, ...), then,
 * once all of them are done with it, to the record sinks (jsonl, ...), so
 * records can name the files. */
#include <string.h>

#include "log.h"
#include "pipeline.h"
#include "runtime.h"

struct sc_worker_pool {
    GMutex lock;
    GCond work;
    GQueue ready;        /* sc_sink_runtime* with queued segments */
    GPtrArray *threads;
    bool stopping;
};

/* A segment, or a synchronized set, on its way through the file sinks to
 * the record sinks. */
typedef struct delivery {
    const sc_segment *segment;
    sc_strategy_runtime *strategy;
    const sc_segment_set *set;
    sc_sync_group *group;
    sc_clip_order *order;        /* a clip order's own sinks (reference held) */
    atomic_int file_items_left;
} delivery;

typedef struct sink_item {
    const sc_segment *segment;   /* reference held; NULL for a set */
    const sc_segment_set *set;   /* reference held; for sinks with consume_set */
    delivery *pending;           /* non-NULL for file sinks */
    sc_clip_order *order;        /* a clip order's record-sink item (reference held) */
} sink_item;

static void enqueue(sc_sink_runtime *sink, const sc_segment *segment, const sc_segment_set *set, delivery *pending,
                    sc_clip_order *order, bool may_block);

static bool takes_sets(const sc_sink_runtime *sink)
{
    return sink->ctx->module->ops.sink.consume_set != NULL;
}

/* How many items a set makes for a sink: itself, or each present member. */
static int set_items(const sc_sink_runtime *sink, const sc_segment_set *set)
{
    if (takes_sets(sink)) return 1;
    int count = 0;
    for (size_t i = 0; i < set->member_count; i++) count += set->segments[i] != NULL;
    return count;
}

static void enqueue_set(sc_sink_runtime *sink, const sc_segment_set *set, delivery *pending, bool may_block)
{
    if (takes_sets(sink)) {
        enqueue(sink, NULL, set, pending, NULL, may_block);
        return;
    }
    for (size_t i = 0; i < set->member_count; i++)
        if (set->segments[i]) enqueue(sink, set->segments[i], NULL, pending, NULL, may_block);
}

static void deliver_to_records(delivery *done, bool may_block)
{
    GPtrArray *sinks = done->order ? done->order->record_sinks
                     : done->group ? done->group->record_sinks : done->strategy->record_sinks;
    for (guint i = 0; i < sinks->len; i++) {
        sc_sink_runtime *sink = g_ptr_array_index(sinks, i);
        if (done->set) enqueue_set(sink, done->set, NULL, may_block);
        else enqueue(sink, done->segment, NULL, NULL, done->order, may_block);
    }
    /* The file sinks, as one item of the order, are through. */
    if (done->order) sc_clip_order_item_done(done->order);
}

static void delivery_free(delivery *done)
{
    sc_segment_unref(done->segment);
    sc_segment_set_unref(done->set);
    if (done->order) sc_clip_order_unref(done->order);
    g_free(done);
}

static void delivery_done(delivery *pending)
{
    if (atomic_fetch_sub(&pending->file_items_left, 1) != 1) return;
    /* On a worker: waiting for queue space here could wait for ourselves. */
    deliver_to_records(pending, false);
    delivery_free(pending);
}

static void item_finish(sink_item *item)
{
    if (item->pending) delivery_done(item->pending);
    if (item->order) {
        sc_clip_order_item_done(item->order);
        sc_clip_order_unref(item->order);
    }
    sc_segment_unref(item->segment);
    sc_segment_set_unref(item->set);
    g_free(item);
}

static sc_overflow_policy effective_policy(const sc_sink_runtime *sink, const sc_segment *segment, bool live)
{
    if (sink->overflow != SC_OVERFLOW_AUTO) return sink->overflow;
    /* Live input must not wait for a slow sink; a file read ahead of real
     * time can, and then loses nothing. */
    if (segment) live = ((const sc_segment_box *)(const void *)segment)->source_live;
    return live ? SC_OVERFLOW_DROP_OLDEST : SC_OVERFLOW_BLOCK;
}

/* A set is live when any of its members' sources is. */
static bool set_is_live(const sc_segment_set *set)
{
    for (size_t i = 0; set && i < set->member_count; i++)
        if (set->segments[i] && ((const sc_segment_box *)(const void *)set->segments[i])->source_live) return true;
    return false;
}

/* Called with the sink's lock held. */
static void schedule(sc_sink_runtime *sink)
{
    if (sink->scheduled) return;
    sink->scheduled = true;
    g_mutex_lock(&sink->pool->lock);
    g_queue_push_tail(&sink->pool->ready, sink);
    g_cond_signal(&sink->pool->work);
    g_mutex_unlock(&sink->pool->lock);
}

static void enqueue(sc_sink_runtime *sink, const sc_segment *segment, const sc_segment_set *set, delivery *pending,
                    sc_clip_order *order, bool may_block)
{
    sink_item *item = g_new0(sink_item, 1);
    item->segment = segment ? sc_segment_ref(segment) : NULL;
    item->set = set ? sc_segment_set_ref(set) : NULL;
    item->pending = pending;
    item->order = order ? sc_clip_order_ref(order) : NULL;
    sink_item *dropped = NULL;
    g_mutex_lock(&sink->lock);
    sc_overflow_policy policy = effective_policy(sink, segment, set_is_live(set));
    if (policy == SC_OVERFLOW_BLOCK && may_block)
        while (g_queue_get_length(&sink->queue) >= sink->capacity && !sink->closing)
            g_cond_wait(&sink->changed, &sink->lock);
    /* A blocking sink fed from a worker goes over its bound briefly: its
     * producer upstream is already held back by the file sinks' queues. */
    if (g_queue_get_length(&sink->queue) >= sink->capacity && policy != SC_OVERFLOW_BLOCK) {
        if (policy == SC_OVERFLOW_DROP_NEWEST) {
            dropped = item;
            item = NULL;
        } else {
            dropped = g_queue_pop_head(&sink->queue);
        }
    }
    if (item) {
        g_queue_push_tail(&sink->queue, item);
        schedule(sink);
    }
    g_mutex_unlock(&sink->lock);
    if (dropped) {
        atomic_fetch_add(&sink->dropped_overflow, 1);
        sc_log(SC_LOG_WARNING, sink->ctx->name, "queue full (%u): dropped %s %s/%" G_GUINT64_FORMAT, sink->capacity,
               dropped->set ? "set" : "segment", dropped->set ? dropped->set->name : dropped->segment->strategy,
               dropped->set ? dropped->set->index : dropped->segment->index);
        item_finish(dropped);
    }
}

static void consume(sc_sink_runtime *sink, sink_item *item)
{
    sc_ctx *ctx = sink->ctx;
    if (atomic_exchange(&sink->reopen_requested, 0) && ctx->module->ops.sink.reopen)
        ctx->module->ops.sink.reopen(ctx->instance);
    int result = item->set ? ctx->module->ops.sink.consume_set(ctx->instance, item->set)
                           : ctx->module->ops.sink.consume(ctx->instance, item->segment);
    if (result == SC_OK) {
        atomic_fetch_add(&sink->consumed, 1);
    } else if (item->set) {
        atomic_fetch_add(&sink->failed, 1);
        sc_log(SC_LOG_ERROR, ctx->name, "failed on set %s/%" G_GUINT64_FORMAT " (status %d)", item->set->name,
               item->set->index, result);
    } else {
        atomic_fetch_add(&sink->failed, 1);
        sc_log(SC_LOG_ERROR, ctx->name, "failed on segment %s/%" G_GUINT64_FORMAT " [%.3f, %.3f) (status %d)",
               item->segment->strategy, item->segment->index, item->segment->start / 1e9, item->segment->end / 1e9,
               result);
    }
    item_finish(item);
}

static gpointer worker_thread(gpointer data)
{
    sc_worker_pool *pool = data;
    for (;;) {
        g_mutex_lock(&pool->lock);
        while (g_queue_is_empty(&pool->ready) && !pool->stopping) g_cond_wait(&pool->work, &pool->lock);
        sc_sink_runtime *sink = g_queue_pop_head(&pool->ready);
        g_mutex_unlock(&pool->lock);
        if (!sink) return NULL;
        g_mutex_lock(&sink->lock);
        sink_item *item = g_queue_pop_head(&sink->queue);
        sink->running = item != NULL;
        g_cond_broadcast(&sink->changed);
        g_mutex_unlock(&sink->lock);
        if (item) consume(sink, item);
        g_mutex_lock(&sink->lock);
        sink->running = false;
        sink->scheduled = false;
        /* Back to the end of the line: sinks take turns, one segment each. */
        if (!g_queue_is_empty(&sink->queue)) schedule(sink);
        g_cond_broadcast(&sink->changed);
        g_mutex_unlock(&sink->lock);
    }
}

sc_worker_pool *sc_worker_pool_start(guint workers)
{
    sc_worker_pool *pool = g_new0(sc_worker_pool, 1);
    g_mutex_init(&pool->lock);
    g_cond_init(&pool->work);
    g_queue_init(&pool->ready);
    pool->threads = g_ptr_array_new();
    for (guint i = 0; i < workers; i++) {
        char *name = g_strdup_printf("worker:%u", i);
        g_ptr_array_add(pool->threads, g_thread_new(name, worker_thread, pool));
        g_free(name);
    }
    return pool;
}

void sc_worker_pool_stop(sc_worker_pool *pool)
{
    if (!pool) return;
    g_mutex_lock(&pool->lock);
    pool->stopping = true;
    g_cond_broadcast(&pool->work);
    g_mutex_unlock(&pool->lock);
    for (guint i = 0; i < pool->threads->len; i++) g_thread_join(g_ptr_array_index(pool->threads, i));
    g_ptr_array_free(pool->threads, TRUE);
    g_queue_clear(&pool->ready);
    g_cond_clear(&pool->work);
    g_mutex_clear(&pool->lock);
    g_free(pool);
}

void sc_sink_runtime_attach(sc_sink_runtime *sink, sc_worker_pool *pool)
{
    sink->pool = pool;
}

void sc_sink_runtime_close(sc_sink_runtime *sink)
{
    g_mutex_lock(&sink->lock);
    sink->closing = true;
    g_cond_broadcast(&sink->changed);
    while (!g_queue_is_empty(&sink->queue) || sink->scheduled || sink->running)
        g_cond_wait(&sink->changed, &sink->lock);
    g_mutex_unlock(&sink->lock);
    if (sink->ctx->module->ops.sink.stop && sink->ctx->instance) sink->ctx->module->ops.sink.stop(sink->ctx->instance);
}

void sc_sink_dispatch(sc_strategy_runtime *strategy, const sc_segment *segment, sc_sink_runtime *only)
{
    if (only) {
        enqueue(only, segment, NULL, NULL, NULL, true);
        return;
    }
    delivery *pending = g_new0(delivery, 1);
    pending->segment = sc_segment_ref(segment);
    pending->strategy = strategy;
    if (strategy->file_sinks->len == 0) {
        deliver_to_records(pending, true);
        delivery_free(pending);
        return;
    }
    atomic_init(&pending->file_items_left, (int)strategy->file_sinks->len);
    for (guint i = 0; i < strategy->file_sinks->len; i++)
        enqueue(g_ptr_array_index(strategy->file_sinks, i), segment, NULL, pending, NULL, true);
}

void sc_sink_dispatch_order(sc_clip_order *order)
{
    delivery *pending = g_new0(delivery, 1);
    pending->segment = sc_segment_ref(order->segment);
    pending->order = sc_clip_order_ref(order);
    if (order->file_sinks->len == 0) {
        deliver_to_records(pending, true);
        delivery_free(pending);
        return;
    }
    atomic_init(&pending->file_items_left, (int)order->file_sinks->len);
    for (guint i = 0; i < order->file_sinks->len; i++)
        enqueue(g_ptr_array_index(order->file_sinks, i), order->segment, NULL, pending, NULL, true);
}

void sc_sink_dispatch_set(sc_sync_group *group, const sc_segment_set *set)
{
    delivery *pending = g_new0(delivery, 1);
    pending->set = sc_segment_set_ref(set);
    pending->group = group;
    int items = 0;
    for (guint i = 0; i < group->file_sinks->len; i++) items += set_items(g_ptr_array_index(group->file_sinks, i), set);
    if (items == 0) {
        deliver_to_records(pending, true);
        delivery_free(pending);
        return;
    }
    atomic_init(&pending->file_items_left, items);
    for (guint i = 0; i < group->file_sinks->len; i++)
        enqueue_set(g_ptr_array_index(group->file_sinks, i), set, pending, true);
}
