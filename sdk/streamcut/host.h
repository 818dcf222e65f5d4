/**
 * @file host.h
 * @brief The services the host offers a module instance.
 *
 * The host passes a pointer to one sc_host_api table to every `create` call,
 * together with an opaque sc_ctx naming the instance. Modules call the host
 * only through this table; they never link against host symbols. Keep both
 * pointers in the instance: the table and the ctx stay valid until destroy
 * returns. The table only grows at its end: before calling an entry added
 * in a later minor version, check SC_HOST_HAS(host, entry).
 *
 * Threads: every function is safe to call from any thread unless it says
 * otherwise. Callbacks into a module run on the thread the ops document
 * (module.h).
 *
 * Which instance may call what: each entry below names the instance kinds
 * (the kind of the `ctx` passed) it serves. Called with another kind's ctx,
 * an entry refuses — it returns SC_ERR_INVALID, or NULL / 0, or does
 * nothing, mostly with an error logged — and never crashes. Entries
 * without a ctx argument, and those marked "any ctx", serve every kind.
 *
 * Reconnection: when a source's run() returns an error other than
 * SC_ERR_PERMANENT (and the host is not stopping), the host waits
 * (reconnect.initial_delay, doubling up to reconnect.max_delay, with jitter)
 * and calls run() again, until reconnect.give_up_after has passed. The
 * buffer, open segments and strategies carry on; the first packet after a
 * reconnection is flagged as a discontinuity. run() may declare its streams
 * again: the i-th stream declared in a run is stream i of the source when
 * its media type and codec match, else a new stream.
 */
#ifndef STREAMCUT_HOST_H
#define STREAMCUT_HOST_H

#include "abi.h"
#include "packet.h"
#include "segment.h"
#include "event.h"

SC_BEGIN_DECLS

/** Opaque handle of one module instance, owned by the host. */
typedef struct sc_ctx sc_ctx;
/** Opaque, reference-holding view of a range of a source's buffer: a
 * snapshot of packets that stay valid until view_release, whatever the
 * buffer evicts meanwhile. One thread at a time may use a view. */
typedef struct sc_view sc_view;

/** Flags for view_range / view_last. */
enum sc_view_flag {
    /** Start at the reference stream's keyframe at or before `start`. */
    SC_VIEW_FROM_KEYFRAME = 1u << 0
};

/** The host's services; see the file's description for the rules every
 * entry follows. */
typedef struct sc_host_api {
    uint32_t struct_size;   /**< sizeof(sc_host_api) of the host */
    uint16_t abi_major;     /**< host's SC_ABI_MAJOR */
    uint16_t abi_minor;     /**< host's SC_ABI_MINOR */

    /* --- logging (ABI 1.0) --- */
    /** Any ctx (or NULL for an untagged line): log a line tagged with the
     * instance's name; level is enum sc_log_level. No trailing newline
     * needed. An ERROR from a source is also kept as its last error (stats,
     * control API). */
    void (*log)(sc_ctx *ctx, int level, const char *fmt, ...) SC_PRINTF(3, 4);

    /* --- options (ABI 1.0) ---
     * Values as validated against the module's schema, defaults applied.
     * Asking for an option the schema does not declare logs an error and
     * returns NULL / 0. Strings stay valid for the instance's lifetime. */
    /** Any ctx: a string or choice option's text (NULL when it has no value
     * and no default). Other types give their text as written. */
    const char *(*option_string)(sc_ctx *ctx, const char *name);
    /** Any ctx: an SC_OPT_INT option's value. */
    int64_t (*option_int)(sc_ctx *ctx, const char *name);
    /** Any ctx: an SC_OPT_DOUBLE option's value. */
    double (*option_double)(sc_ctx *ctx, const char *name);
    /** Any ctx: an SC_OPT_BOOL option's value, 1 or 0. */
    int (*option_bool)(sc_ctx *ctx, const char *name);
    /** Any ctx: an SC_OPT_DURATION option's value. */
    int64_t (*option_duration)(sc_ctx *ctx, const char *name); /**< ns */
    /** Any ctx: an SC_OPT_SIZE option's value. */
    int64_t (*option_size)(sc_ctx *ctx, const char *name);     /**< bytes */
    /** Any ctx: 1 when the INI section set the key, 0 when the default applies. */
    int (*option_is_set)(sc_ctx *ctx, const char *name);
    /** Any ctx: the instance's name (the NAME of its INI section); valid for
     * the instance's lifetime. */
    const char *(*instance_name)(sc_ctx *ctx);

    /* --- clocks (ABI 1.0) --- */
    int64_t (*monotonic_ns)(void);   /**< CLOCK_MONOTONIC, ns */
    int64_t (*wallclock_ns)(void);   /**< UTC epoch, ns */

    /* --- packets (ABI 1.0) --- */
    /** Any ctx (sources use it): a new packet with a host-owned payload of
     * `size` bytes, written through *data; the payload is followed by
     * SC_PACKET_PADDING zero bytes. Fields are zeroed, timestamps
     * SC_TIME_NONE. The caller owns one reference: give it to source_push
     * or drop it with packet_unref. NULL when out of memory. Any thread. */
    sc_packet *(*packet_alloc)(sc_ctx *ctx, size_t size, uint8_t **data);
    /** A new packet whose payload is the caller's memory, not copied.
     * `release(opaque)` is called once, from any thread, when the last
     * reference goes. On failure (NULL) release is not called: the caller
     * still owns the payload. The payload must stay unchanged until
     * release and be followed by SC_PACKET_PADDING readable bytes. */
    sc_packet *(*packet_wrap)(sc_ctx *ctx, const uint8_t *data, size_t size,
                              void (*release)(void *opaque), void *opaque);
    /** Take another reference; returns pkt. Any thread. */
    const sc_packet *(*packet_ref)(const sc_packet *pkt);
    /** Drop a reference (the last one frees the packet). Any thread. */
    void (*packet_unref)(const sc_packet *pkt);

    /* --- sources (ABI 1.0): valid only on a source instance's ctx --- */
    /** Declare a stream; returns its index (>= 0) or an sc_status. All
     * streams should be declared before the first push. The host copies
     * the struct, its strings and extradata. SC_ERR_INVALID when
     * `info->struct_size` does not cover `language` or codec_name is NULL.
     * From the source thread (run()). */
    int (*source_add_stream)(sc_ctx *ctx, const sc_stream_info *info);
    /** Hand a filled packet to the host; the caller's reference is consumed
     * whatever the result. Called from the source thread only. May wait
     * (never for long) when the source is not live and readers lag behind.
     * SC_OK; SC_ERR_STOPPED once the host is stopping (return from run());
     * SC_ERR_INVALID for a packet of an undeclared stream (dropped,
     * counted as packets_bad_stream). */
    int (*source_push)(sc_ctx *ctx, sc_packet *pkt);
    /** Non-zero once the host wants run() to return. Any thread; 1 for a
     * ctx that has no source (sinks, observers). */
    int (*source_should_stop)(sc_ctx *ctx);
    /** Tell the host whether this input is live (1, the default: never
     * wait for readers) or a file read faster than real time (0: the host
     * applies back-pressure instead of dropping). Call it in run(), before
     * the first push. */
    void (*source_set_live)(sc_ctx *ctx, int live);

    /* --- stream descriptions (ABI 1.0): source and strategy ctx --- */
    /** The number of streams the source (of a strategy: the source it
     * reads) has declared so far; 0 for other kinds. */
    size_t (*stream_count)(sc_ctx *ctx);
    /** Borrowed; valid for the instance's lifetime. NULL when out of range. */
    const sc_stream_info *(*stream_get)(sc_ctx *ctx, size_t index);

    /* --- buffer read access (ABI 1.0): source and strategy ctx --- */
    /** Packets with dts in [start, end) (SC_TIME_NONE = open end). The view
     * holds references: its packets survive eviction until view_release.
     * NULL for other kinds. Never blocks. */
    sc_view *(*view_range)(sc_ctx *ctx, int64_t start, int64_t end, uint32_t flags);
    /** The last `duration` ns of the buffer (an empty view while it is
     * empty). */
    sc_view *(*view_last)(sc_ctx *ctx, int64_t duration, uint32_t flags);
    /** Packets in the view (0 for NULL). */
    size_t (*view_count)(const sc_view *view);
    /** The index-th packet, in decode order; borrowed from the view (NULL
     * when out of range). */
    const sc_packet *(*view_packet)(const sc_view *view, size_t index);
    /** Drop the view and its references (NULL is fine). Every view must be
     * released, before destroy at the latest. */
    void (*view_release)(sc_view *view);

    /* --- segments (ABI 1.0) --- */
    /** Strategy ctx only: ask for a segment. Returns its index or an
     * sc_status. The host completes it once every stream passed `end`.
     * SC_ERR_INVALID for a request that is too small (struct_size), empty
     * or unbounded (end <= start, SC_TIME_NONE). From the strategy's
     * callbacks (its thread). */
    int64_t (*segment_emit)(sc_ctx *ctx, const sc_segment_request *req);
    /** Take a reference on a segment; returns seg. Any thread. */
    const sc_segment *(*segment_ref)(const sc_segment *seg);
    /** Drop a reference taken with segment_ref. Any thread. */
    void (*segment_unref)(const sc_segment *seg);
    /** Sink ctx: attach a result to a segment (e.g. key "file"), seen by
     * sinks that run after this one (record sinks run after file sinks).
     * Key and value are copied; setting a key again replaces its value.
     * SC_OK, or SC_ERR_INVALID for an empty key or a NULL value. */
    int (*segment_set_attr)(sc_ctx *ctx, const sc_segment *seg,
                            const char *key, const char *value);
    /** Copy the value of attribute `key` into buf (NUL-terminated); returns
     * its full length, or SC_ERR_NOT_FOUND. A result >= len means buf was
     * too small and holds a truncated copy. Any ctx. */
    int (*segment_get_attr)(sc_ctx *ctx, const sc_segment *seg, const char *key,
                            char *buf, size_t len);
    /** Copy the i-th attribute's key and value; SC_ERR_NOT_FOUND past the end.
     * Returns the value's full length (truncation as for segment_get_attr). */
    int (*segment_attr_at)(sc_ctx *ctx, const sc_segment *seg, size_t i,
                           char *key, size_t key_len, char *value, size_t value_len);

    /* --- events (ABI 1.0) --- */
    /** Source or strategy ctx: deliver an event to the strategies reading
     * the same source. The host copies it. SC_ERR_INVALID without a name or
     * for another kind of ctx. */
    int (*event_post)(sc_ctx *ctx, const sc_event *ev);

    /* --- counters (ABI 1.0) --- */
    /** Any ctx: add to a named counter of this instance (shown in the
     * end-of-run stats line, `[NAME] counters: a=1 b=2`, and by the control
     * API). The name is copied. */
    void (*counter_add)(sc_ctx *ctx, const char *name, int64_t delta);

    /* --- buffer read access by position (ABI 1.0) --- */
    /** Source and strategy ctx: packets with sequence numbers (sc_packet.seq)
     * in [first, end) that the buffer still holds (UINT64_MAX = open end). */
    sc_view *(*view_seq)(sc_ctx *ctx, uint64_t first, uint64_t end);

    /* --- sources: identity and (re)connection (ABI 1.0) --- */
    /** Name the stream type ("FILE", "HLS", "YOUTUBE_HLS", "TWITCH_HLS",
     * "RTMP_FLV", ...): shown in stats and in every segment record. The
     * string is interned by the host. Source ctx. */
    void (*source_set_type)(sc_ctx *ctx, const char *type);
    /** The URL to open now: the source's `url` option, or, when its section
     * sets `resolver` (a command such as `yt-dlp -g {url}`), the first line
     * that command prints for it — run without a shell, under a timeout.
     * Call it at every (re)connection: resolved URLs expire. Returns the
     * length, or an sc_status (the reason is logged). Source ctx of a
     * module that declares a `url` option; blocks while the resolver runs. */
    int (*source_resolve_url)(sc_ctx *ctx, char *url, size_t length);

    /* --- strategies: keeping what a later request will need (ABI 1.0) --- */
    /** Strategy ctx: ask the buffer to keep the stream from the keyframe at
     * or before `from` (ns) onward, for a segment whose end is not known
     * yet (a scene, a merged event). A file input waits while the
     * strategy still has packets to read; then (the segment is longer
     * than the buffer), and for a live input, the buffer grows up to twice
     * its limits rather than evict it, and past that it is evicted all the
     * same (the segment comes out truncated). SC_TIME_NONE releases the
     * hold; each strategy has one hold, moved by each call. */
    int (*strategy_hold)(sc_ctx *ctx, int64_t from);
} sc_host_api;

/** True when the host's table has entry `field` (added in some minor). */
#define SC_HOST_HAS(host, field) \
    ((host)->struct_size >= offsetof(sc_host_api, field) + sizeof((host)->field) && \
     (host)->field != NULL)

SC_END_DECLS

#endif /* STREAMCUT_HOST_H */
