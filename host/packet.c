#include "packet.h"

#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Packet boxes are recycled so steady-state ingest does not malloc per
 * packet. Each thread keeps a small cache of its own (a source thread both
 * takes boxes and, by evicting, gives them back, without a lock), spilling
 * to and refilling from a shared pool in batches. The shared pool is capped
 * so a burst does not pin memory forever. */
#define POOL_MAX_IDLE 4096
#define LOCAL_MAX 512
#define LOCAL_BATCH 128

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static sc_packet_box *pool_head;
static size_t pool_idle;

typedef struct local_cache {
    sc_packet_box *head;
    size_t count;
    bool registered;
} local_cache;

static _Thread_local local_cache local;
static pthread_key_t local_key;
static pthread_once_t local_key_once = PTHREAD_ONCE_INIT;

/* Moves up to `count` boxes from the thread's cache to the shared pool,
 * freeing those over its cap. */
static void spill(local_cache *cache, size_t count)
{
    sc_packet_box *excess = NULL;
    pthread_mutex_lock(&pool_lock);
    while (count-- > 0 && cache->head) {
        sc_packet_box *box = cache->head;
        cache->head = box->next_free;
        cache->count--;
        if (pool_idle < POOL_MAX_IDLE) {
            box->next_free = pool_head;
            pool_head = box;
            pool_idle++;
        } else {
            box->next_free = excess;
            excess = box;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    while (excess) {
        sc_packet_box *next = excess->next_free;
        free(excess);
        excess = next;
    }
}

/* A thread's cache goes back to the shared pool when the thread ends. */
static void local_cache_exit(void *data)
{
    spill(data, SIZE_MAX);
}

static void create_local_key(void)
{
    pthread_key_create(&local_key, local_cache_exit);
}

static local_cache *this_thread_cache(void)
{
    if (!local.registered) {
        pthread_once(&local_key_once, create_local_key);
        pthread_setspecific(local_key, &local);
        local.registered = true;
    }
    return &local;
}

static sc_packet_box *box_get(void)
{
    local_cache *cache = this_thread_cache();
    if (!cache->head) {
        pthread_mutex_lock(&pool_lock);
        for (size_t i = 0; i < LOCAL_BATCH && pool_head; i++) {
            sc_packet_box *box = pool_head;
            pool_head = box->next_free;
            pool_idle--;
            box->next_free = cache->head;
            cache->head = box;
            cache->count++;
        }
        pthread_mutex_unlock(&pool_lock);
    }
    sc_packet_box *box = cache->head;
    if (box) {
        cache->head = box->next_free;
        cache->count--;
    } else {
        box = malloc(sizeof *box);
        if (!box) return NULL;
    }
    memset(box, 0, sizeof *box);
    box->packet.struct_size = sizeof(sc_packet);
    box->packet.pts = box->packet.dts = SC_TIME_NONE;
    box->packet.orig_pts = box->packet.orig_dts = SC_TIME_NONE;
    box->packet.time_base_num = 1;
    box->packet.time_base_den = 1;
    box->packet.source_utc_ns = SC_TIME_NONE;
    atomic_init(&box->references, 1);
    return box;
}

static void box_put(sc_packet_box *box)
{
    local_cache *cache = this_thread_cache();
    box->next_free = cache->head;
    cache->head = box;
    cache->count++;
    if (cache->count > LOCAL_MAX) spill(cache, cache->count - LOCAL_MAX + LOCAL_BATCH);
}

void sc_packet_pool_trim(size_t keep)
{
    spill(this_thread_cache(), SIZE_MAX);
    sc_packet_box *freed = NULL;
    pthread_mutex_lock(&pool_lock);
    while (pool_idle > keep) {
        sc_packet_box *box = pool_head;
        pool_head = box->next_free;
        pool_idle--;
        box->next_free = freed;
        freed = box;
    }
    pthread_mutex_unlock(&pool_lock);
    while (freed) {
        sc_packet_box *next = freed->next_free;
        free(freed);
        freed = next;
    }
}

/* glibc's chunk header, and what an FFmpeg AVBuffer plus AVBufferRef cost
 * their owner beyond the payload. */
#define MALLOC_HEADER 16
#define WRAPPED_OWNER_OVERHEAD 128
#define BOX_COST (((sizeof(sc_packet_box) + 15) & ~(size_t)15) + MALLOC_HEADER + sizeof(sc_packet *))

sc_pin_counter *sc_pin_counter_new(void)
{
    sc_pin_counter *counter = calloc(1, sizeof *counter);
    if (!counter) abort();
    atomic_init(&counter->references, 1);
    atomic_init(&counter->bytes, 0);
    return counter;
}

void sc_pin_counter_unref(sc_pin_counter *counter)
{
    if (counter && atomic_fetch_sub_explicit(&counter->references, 1, memory_order_acq_rel) == 1) free(counter);
}

sc_packet *sc_packet_alloc(size_t size, uint8_t **data)
{
    sc_packet_box *box = box_get();
    if (!box) return NULL;
    box->owned_payload = calloc(1, size + SC_PACKET_PADDING);
    if (!box->owned_payload) {
        box_put(box);
        return NULL;
    }
    box->packet.data = box->owned_payload;
    box->packet.size = size;
    box->footprint = malloc_usable_size(box->owned_payload) + MALLOC_HEADER + BOX_COST;
    if (data) *data = box->owned_payload;
    return &box->packet;
}

sc_packet *sc_packet_wrap(const uint8_t *data, size_t size, void (*release)(void *opaque), void *opaque)
{
    sc_packet_box *box = box_get();
    if (!box) return NULL;  /* the caller still owns the payload */
    box->packet.data = data;
    box->packet.size = size;
    box->footprint = size + SC_PACKET_PADDING + WRAPPED_OWNER_OVERHEAD + BOX_COST;
    box->release = release;
    box->release_opaque = opaque;
    return &box->packet;
}

const sc_packet *sc_packet_ref(const sc_packet *packet)
{
    sc_packet_box *box = (sc_packet_box *)(uintptr_t)packet;
    atomic_fetch_add_explicit(&box->references, 1, memory_order_relaxed);
    return packet;
}

void sc_packet_unref(const sc_packet *packet)
{
    if (!packet) return;
    sc_packet_box *box = (sc_packet_box *)(uintptr_t)packet;
    if (atomic_fetch_sub_explicit(&box->references, 1, memory_order_acq_rel) != 1) return;
    if (box->pin) {
        atomic_fetch_sub_explicit(&box->pin->bytes, box->footprint, memory_order_relaxed);
        sc_pin_counter_unref(box->pin);
    }
    if (box->release) box->release(box->release_opaque);
    free(box->owned_payload);
    box_put(box);
}

int sc_packet_reference_count(const sc_packet *packet)
{
    const sc_packet_box *box = (const sc_packet_box *)(const void *)packet;
    return atomic_load_explicit(&((sc_packet_box *)(uintptr_t)box)->references, memory_order_relaxed);
}

size_t sc_packet_footprint(const sc_packet *packet)
{
    return ((const sc_packet_box *)(const void *)packet)->footprint;
}

void sc_packet_release_pinned(const sc_packet *packet, sc_pin_counter *pin)
{
    sc_packet_box *box = (sc_packet_box *)(uintptr_t)packet;
    /* Only this (the buffer's) reference can be racing the views' last
     * unref; recording the pin before dropping it orders the two. */
    if (atomic_load_explicit(&box->references, memory_order_acquire) > 1) {
        atomic_fetch_add_explicit(&pin->references, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&pin->bytes, box->footprint, memory_order_relaxed);
        box->pin = pin;
    }
    sc_packet_unref(packet);
}
