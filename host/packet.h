/* Reference-counted packets. The public sc_packet is the first member of a
 * host-private box that carries the count and the payload's owner. */
#ifndef SC_HOST_PACKET_H
#define SC_HOST_PACKET_H

#include <stdatomic.h>
#include <streamcut/packet.h>

typedef struct sc_packet_box {
    sc_packet packet;                 /* must stay first */
    atomic_int references;
    uint8_t *owned_payload;           /* packet_alloc: freed with the box */
    void (*release)(void *opaque);    /* packet_wrap: the owner's release */
    void *release_opaque;
    struct sc_packet_box *next_free;  /* pool link while unused */
} sc_packet_box;

/** Per-packet bookkeeping the buffer counts on top of the payload. */
#define SC_PACKET_OVERHEAD (sizeof(sc_packet_box) + sizeof(sc_packet *) + SC_PACKET_PADDING)

sc_packet *sc_packet_alloc(size_t size, uint8_t **data);
sc_packet *sc_packet_wrap(const uint8_t *data, size_t size, void (*release)(void *opaque), void *opaque);
const sc_packet *sc_packet_ref(const sc_packet *packet);
void sc_packet_unref(const sc_packet *packet);
int sc_packet_reference_count(const sc_packet *packet);
/** Bytes a buffered packet costs: payload plus bookkeeping. */
size_t sc_packet_footprint(const sc_packet *packet);
/** Frees the pool's idle boxes (at exit, or to give memory back). */
void sc_packet_pool_trim(void);

#endif
