#include "packet.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Packet boxes are recycled so steady-state ingest does not malloc per
 * packet; the pool is capped so a burst does not pin memory forever. */
#define POOL_MAX_IDLE 4096

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static sc_packet_box *pool_head;
static size_t pool_idle;

static sc_packet_box *box_get(void)
{
    sc_packet_box *box = NULL;
    pthread_mutex_lock(&pool_lock);
    if (pool_head) {
        box = pool_head;
        pool_head = box->next_free;
        pool_idle--;
    }
    pthread_mutex_unlock(&pool_lock);
    if (!box) box = malloc(sizeof *box);
    if (!box) return NULL;
    memset(box, 0, sizeof *box);
    box->packet.struct_size = sizeof(sc_packet);
    box->packet.pts = box->packet.dts = SC_TIME_NONE;
    box->packet.orig_pts = box->packet.orig_dts = SC_TIME_NONE;
    box->packet.time_base_num = 1;
    box->packet.time_base_den = 1;
    atomic_init(&box->references, 1);
    return box;
}

static void box_put(sc_packet_box *box)
{
    pthread_mutex_lock(&pool_lock);
    if (pool_idle < POOL_MAX_IDLE) {
        box->next_free = pool_head;
        pool_head = box;
        pool_idle++;
        box = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
    free(box);
}

void sc_packet_pool_trim(void)
{
    pthread_mutex_lock(&pool_lock);
    sc_packet_box *box = pool_head;
    pool_head = NULL;
    pool_idle = 0;
    pthread_mutex_unlock(&pool_lock);
    while (box) {
        sc_packet_box *next = box->next_free;
        free(box);
        box = next;
    }
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
    if (data) *data = box->owned_payload;
    return &box->packet;
}

sc_packet *sc_packet_wrap(const uint8_t *data, size_t size, void (*release)(void *opaque), void *opaque)
{
    sc_packet_box *box = box_get();
    if (!box) return NULL;  /* the caller still owns the payload */
    box->packet.data = data;
    box->packet.size = size;
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
    return packet->size + SC_PACKET_OVERHEAD;
}
