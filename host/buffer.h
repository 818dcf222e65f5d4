/* The per-source packet buffer: a ring of reference-counted packets in
 * arrival (decode) order, with limits by memory, count and time, evicting
 * whole GOPs from the oldest end so what stays always decodes.
 *
 * Under memory or count pressure with keyframe priority, old GOPs are first
 * thinned to their keyframes (their other video packets and their audio
 * go), oldest first; thinned keyframes still expire by retention. A timer
 * (sc_buffer_gc) expires packets by wall clock when the input stalls.
 *
 * One writer (the source thread) and any number of readers. Readers either
 * follow the stream with a cursor (strategies) or take views: reference-
 * holding copies of a range whose packets survive eviction (counted as
 * pinned until released). The lock is held only for pointer copies.
 *
 * Accounting: packets_in == current_frames + evicted_retention +
 * evicted_memory + evicted_items + evicted_host_memory + thinned +
 * frames_dropped, always. */
#ifndef SC_HOST_BUFFER_H
#define SC_HOST_BUFFER_H

#include <glib.h>
#include <stdbool.h>
#include <streamcut/packet.h>

typedef struct sc_memory_governor sc_memory_governor;

typedef struct sc_buffer_limits {
    int64_t max_memory_bytes;  /* 0 = unlimited */
    int64_t max_items;         /* 0 = unlimited */
    int64_t retention_ns;      /* 0 = unlimited */
    bool keyframe_priority;
    int64_t gc_interval_ns;
} sc_buffer_limits;

/* Names follow the original design's get_stats() where it has one. */
typedef struct sc_buffer_stats {
    uint64_t current_frames;
    double memory_usage_mb;
    uint64_t memory_usage_bytes;
    uint64_t frames_dropped;       /* refused: pushed while stopping */
    double keyframe_ratio;         /* reference keyframes / packets held */
    double buffer_duration_seconds;
    uint64_t packets_in;
    uint64_t bytes_in;             /* payload bytes */
    uint64_t evicted_retention;    /* older than retention (on push or by the GC timer) */
    uint64_t evicted_memory;
    uint64_t evicted_items;
    uint64_t evicted_host_memory;  /* the host-wide [host] max_memory_mb */
    uint64_t thinned;              /* dropped from old GOPs, keyframes kept */
    uint64_t pinned_bytes;         /* evicted but still held by views */
    uint64_t reader_missed;        /* evicted before a cursor reader saw them */
    uint64_t gc_runs;
    int64_t oldest_ts;             /* dts, ns; SC_TIME_NONE when empty */
    int64_t newest_ts;
} sc_buffer_stats;

typedef struct sc_keyframe_entry {
    uint64_t seq;
    int64_t pts;
    int64_t dts;
    bool thinned;
} sc_keyframe_entry;

typedef struct sc_buffer sc_buffer;
typedef struct sc_buffer_reader sc_buffer_reader;

sc_buffer *sc_buffer_new(const sc_buffer_limits *limits);
/** Frees the buffer; views may still hold its packets. */
void sc_buffer_free(sc_buffer *buffer);

/** The stream whose keyframes define GOPs (first video, else first audio). */
void sc_buffer_set_reference_stream(sc_buffer *buffer, int stream_index);
int sc_buffer_reference_stream(sc_buffer *buffer);
/** Live buffers never wait for readers; others hold the writer back rather
 * than evict packets a cursor reader has not seen yet. */
void sc_buffer_set_live(sc_buffer *buffer, bool live);
bool sc_buffer_is_live(sc_buffer *buffer);

/** Append a normalized packet (takes over the caller's reference); sets
 * its seq. Returns false when the buffer is stopping (packet dropped and
 * counted). */
bool sc_buffer_push(sc_buffer *buffer, sc_packet *packet);
/** No more packets will come. */
void sc_buffer_end(sc_buffer *buffer);
/** Release a writer waiting for readers; later pushes are dropped. */
void sc_buffer_stop(sc_buffer *buffer);
/** Expire by retention as if the stream had gone on to `now_ns`
 * (monotonic): a stalled input does not pin memory. Returns packets evicted. */
size_t sc_buffer_gc(sc_buffer *buffer, int64_t now_ns);

/** A cursor reader starting at the oldest packet still held. */
sc_buffer_reader *sc_buffer_reader_new(sc_buffer *buffer);
void sc_buffer_reader_free(sc_buffer *buffer, sc_buffer_reader *reader);
/** Keep packets from `seq` on (UINT64_MAX: none) for this reader: the
 * buffer grows up to twice its limits rather than evict them, and a file
 * input waits. */
void sc_buffer_reader_hold(sc_buffer *buffer, sc_buffer_reader *reader, uint64_t seq);
/** Up to `max` next packets (references the caller must unref), waiting up
 * to `timeout_ns` for one. Returns 0 on timeout or at the end; *at_end is
 * set once the buffer ended and the reader has seen everything. */
size_t sc_buffer_read(sc_buffer *buffer, sc_buffer_reader *reader, const sc_packet **out,
                      size_t max, int64_t timeout_ns, bool *at_end);
/** The same, taking only packets with dts <= dts_limit (SC_TIME_NONE: no
 * limit): the reader stays before the first later one, so a file input
 * waits for it. */
size_t sc_buffer_read_until(sc_buffer *buffer, sc_buffer_reader *reader, const sc_packet **out, size_t max,
                            int64_t timeout_ns, int64_t dts_limit, bool *at_end);
/** Wake every waiting reader (e.g. an event arrived for it). */
void sc_buffer_wake_readers(sc_buffer *buffer);

/** The reference keyframe with the largest pts <= t. */
bool sc_buffer_keyframe_at_or_before(sc_buffer *buffer, int64_t t, sc_keyframe_entry *out);
/** The oldest reference keyframe with pts >= t. */
bool sc_buffer_keyframe_at_or_after(sc_buffer *buffer, int64_t t, sc_keyframe_entry *out);
/** Oldest held seq at or before `seq` from which every packet up to `seq`
 * has dts >= min_dts: where a look-back for interleaved packets may start. */
uint64_t sc_buffer_seq_back(sc_buffer *buffer, uint64_t seq, int64_t min_dts);
/** References to the packets with seq in [first, end) still held; returns
 * how many in that range were thinned or evicted (holes). */
size_t sc_buffer_copy_seq_range(sc_buffer *buffer, uint64_t first, uint64_t end, GPtrArray *out);
/** References to the packets with dts in [start, end) (end SC_TIME_NONE =
 * open); from_keyframe starts at the reference keyframe at or before start. */
void sc_buffer_copy_time_range(sc_buffer *buffer, int64_t start, int64_t end, bool from_keyframe,
                               GPtrArray *out);

void sc_buffer_get_stats(sc_buffer *buffer, sc_buffer_stats *stats);
/** Bytes held now (what the host-wide cap weighs). */
uint64_t sc_buffer_memory(sc_buffer *buffer);

/* --- the host-wide memory cap ------------------------------------------ */

/** All buffers together stay under `cap_bytes`; when over, the buffer most
 * above its fair share (cap / buffers) gives up its oldest GOP (thinned
 * first under keyframe priority). */
sc_memory_governor *sc_memory_governor_new(int64_t cap_bytes);
void sc_memory_governor_free(sc_memory_governor *governor);
/** Put a buffer under the governor (before its first push). */
void sc_memory_governor_add(sc_memory_governor *governor, sc_buffer *buffer);
/** Total bytes held by the governed buffers. */
uint64_t sc_memory_governor_total(sc_memory_governor *governor);

#endif
