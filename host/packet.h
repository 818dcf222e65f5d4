/* Reference-counted packets. The public sc_packet is the first member of a
 * host-private box that carries the count and the payload's owner. */
#ifndef SC_HOST_PACKET_H
#define SC_HOST_PACKET_H

#include <stdatomic.h>
#include <streamcut/packet.h>

/** Bytes of packets that left a buffer while views still held them: shared
 * between the buffer and those packets, freed by whichever goes last. */
typedef struct sc_pin_counter {
    atomic_int references;
    atomic_uint_least64_t bytes;
} sc_pin_counter;

typedef struct sc_packet_box {
    sc_packet packet;                 /* must stay first */
    atomic_int references;
    size_t footprint;                 /* memory this packet costs, see sc_packet_footprint */
    uint8_t *owned_payload;           /* packet_alloc: freed with the box */
    void (*release)(void *opaque);    /* packet_wrap: the owner's release */
    void *release_opaque;
    sc_pin_counter *pin;              /* set when evicted while still referenced */
    struct sc_packet_box *next_free;  /* pool link while unused */
} sc_packet_box;

sc_pin_counter *sc_pin_counter_new(void);
void sc_pin_counter_unref(sc_pin_counter *counter);
/** The buffer drops its reference to `packet`; if others still hold it,
 * its footprint is counted in `pin` until they let go. */
void sc_packet_release_pinned(const sc_packet *packet, sc_pin_counter *pin);

sc_packet *sc_packet_alloc(size_t size, uint8_t **data);
sc_packet *sc_packet_wrap(const uint8_t *data, size_t size, void (*release)(void *opaque), void *opaque);
const sc_packet *sc_packet_ref(const sc_packet *packet);
void sc_packet_unref(const sc_packet *packet);
int sc_packet_reference_count(const sc_packet *packet);
/** Bytes a buffered packet costs: payload with its padding and allocator
 * overhead, its box, and its slot in the buffer's ring. Wrapped payloads
 * add an estimate of their owner's bookkeeping (an FFmpeg buffer's). */
size_t sc_packet_footprint(const sc_packet *packet);
/** Frees the pool's idle boxes beyond `keep` (0 at exit). */
void sc_packet_pool_trim(size_t keep);

#endif
