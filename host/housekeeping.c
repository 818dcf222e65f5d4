#include "housekeeping.h"

#include <time.h>

#include "packet.h"

/* Idle packet boxes kept for reuse after a collection; the rest go back. */
#define POOL_KEEP_AFTER_GC 1024
#define TICK_NS (100 * SC_NSEC_PER_MSEC)

struct sc_housekeeping {
    sc_pipeline *pipeline;
    GThread *thread;
    GMutex lock;
    GCond wake;
    bool stopping;
    GArray *next_gc;  /* int64_t monotonic due time, by source index */
};

static int64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * SC_NSEC_PER_SEC + now.tv_nsec;
}

static int64_t gc_interval(const sc_source_runtime *source)
{
    for (guint i = 0; i < source->ctx->host_options->len; i++) {
        const sc_option_value *value = &g_array_index(source->ctx->host_options, sc_option_value, i);
        if (g_strcmp0(value->spec->name, "buffer.gc_interval_seconds") == 0)
            return (int64_t)(value->as_double * 1e9);
    }
    return 30 * SC_NSEC_PER_SEC;
}

static gpointer housekeeping_thread(gpointer data)
{
    sc_housekeeping *housekeeping = data;
    GPtrArray *sources = housekeeping->pipeline->sources;
    g_mutex_lock(&housekeeping->lock);
    while (!housekeeping->stopping) {
        g_cond_wait_until(&housekeeping->wake, &housekeeping->lock, g_get_monotonic_time() + TICK_NS / 1000);
        if (housekeeping->stopping) break;
        int64_t now = monotonic_ns();
        bool collected = false;
        for (guint i = 0; i < sources->len; i++) {
            int64_t *due = &g_array_index(housekeeping->next_gc, int64_t, i);
            if (now < *due) continue;
            sc_source_runtime *source = g_ptr_array_index(sources, i);
            sc_buffer_gc(source->buffer, now);
            *due = now + gc_interval(source);
            collected = true;
        }
        if (collected) sc_packet_pool_trim(POOL_KEEP_AFTER_GC);
    }
    g_mutex_unlock(&housekeeping->lock);
    return NULL;
}

sc_housekeeping *sc_housekeeping_start(sc_pipeline *pipeline)
{
    sc_housekeeping *housekeeping = g_new0(sc_housekeeping, 1);
    housekeeping->pipeline = pipeline;
    g_mutex_init(&housekeeping->lock);
    g_cond_init(&housekeeping->wake);
    housekeeping->next_gc = g_array_new(FALSE, TRUE, sizeof(int64_t));
    int64_t now = monotonic_ns();
    for (guint i = 0; i < pipeline->sources->len; i++) {
        int64_t due = now + gc_interval(g_ptr_array_index(pipeline->sources, i));
        g_array_append_val(housekeeping->next_gc, due);
    }
    housekeeping->thread = g_thread_new("housekeeping", housekeeping_thread, housekeeping);
    return housekeeping;
}

void sc_housekeeping_stop(sc_housekeeping *housekeeping)
{
    if (!housekeeping) return;
    g_mutex_lock(&housekeeping->lock);
    housekeeping->stopping = true;
    g_cond_signal(&housekeeping->wake);
    g_mutex_unlock(&housekeeping->lock);
    g_thread_join(housekeeping->thread);
    g_array_free(housekeeping->next_gc, TRUE);
    g_cond_clear(&housekeeping->wake);
    g_mutex_clear(&housekeeping->lock);
    g_free(housekeeping);
}
