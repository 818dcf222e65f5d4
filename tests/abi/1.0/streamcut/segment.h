/* streamcut module SDK: segments, the analysis windows strategies cut.
 *
 * A strategy asks for a segment with an sc_segment_request (nominal start and
 * end on the source's timeline). The host resolves the request against the
 * source's buffer: it starts the packet list at the keyframe of the reference
 * (video) stream at or before the nominal start, so every segment decodes
 * from its first packet, waits until every stream has passed the end, and
 * delivers the result as an immutable, reference-counted sc_segment to the
 * sinks wired to the strategy.
 */
#ifndef STREAMCUT_SEGMENT_H
#define STREAMCUT_SEGMENT_H

#include "packet.h"

SC_BEGIN_DECLS

/** Segment flags (sc_segment.flags, sc_segment_request.flags). */
enum sc_segment_flag {
    SC_SEGMENT_PARTIAL = 1u << 0,       /**< closed early: input ended or shutdown */
    SC_SEGMENT_MID_GOP_START = 1u << 1, /**< nominal start fell inside a GOP; packets
                                             begin at the keyframe before it */
    SC_SEGMENT_TRUNCATED = 1u << 2,     /**< the buffer no longer held all of it */
    SC_SEGMENT_DISCONTINUITY = 1u << 3, /**< contains a discontinuity */
    SC_SEGMENT_THINNED = 1u << 4,       /**< overlaps a range the buffer thinned */
    SC_SEGMENT_FORCED = 1u << 5,        /**< strategy cut without a keyframe boundary */
    SC_SEGMENT_CORRUPT = 1u << 6,       /**< contains packets flagged corrupt */
    SC_SEGMENT_REJECTED = 1u << 7       /**< failed a quality rule (only reject sinks see it) */
};

/** What a strategy asks for. */
typedef struct sc_segment_request {
    uint32_t struct_size;    /**< sizeof(sc_segment_request) of the caller */
    uint32_t flags;          /**< sc_segment_flag bits the strategy sets (e.g. FORCED) */
    int64_t start;           /**< nominal start, ns on the source timeline */
    int64_t end;             /**< nominal end (exclusive), ns */
    const char *label;       /**< short reason ("event:goal"), copied; may be NULL */
    const char *extra_json;  /**< a JSON object's text merged into records; copied; may be NULL */
} sc_segment_request;

/** A resolved segment, as sinks see it. Immutable; reference-counted. */
typedef struct sc_segment {
    uint32_t struct_size;    /**< sizeof(sc_segment) of the host */
    uint32_t flags;          /**< sc_segment_flag bits */
    const char *source;      /**< source instance name */
    const char *strategy;    /**< strategy instance name */
    uint64_t index;          /**< per-strategy counter, from 0 */
    int64_t start;           /**< nominal start, ns on the source timeline */
    int64_t end;             /**< nominal end (exclusive), ns */
    int64_t keyframe_start;  /**< pts of the keyframe the packets start at, ns */
    int64_t media_end;       /**< largest pts + duration among its packets, ns */
    uint64_t first_seq;      /**< buffer sequence numbers of the first and last packet */
    uint64_t last_seq;
    size_t packet_count;
    const sc_packet *const *packets; /**< in decode order */
    size_t stream_count;
    const sc_stream_info *const *streams; /**< indexed by sc_packet.stream_index */
    uint32_t reference_stream; /**< stream whose keyframes bound the segment */
    uint32_t keyframes;      /**< keyframes of the reference stream inside */
    uint64_t bytes;          /**< payload bytes of all packets */
    const char *label;       /**< from the request, or NULL */
    const char *extra_json;  /**< from the request, or NULL */
    const char *source_type; /**< the source's stream type ("FILE", "HLS",
                                  "TWITCH_HLS", "RTMP_FLV", ...), or NULL */
    int64_t start_utc;       /**< `start` on the wall-clock reference (UTC epoch
                                  ns), or SC_TIME_NONE when unknown */
    int64_t end_utc;         /**< `end` on the wall-clock reference */
} sc_segment;

/** Set flags (sc_segment_set.flags). */
enum sc_segment_set_flag {
    SC_SEGMENT_SET_PARTIAL = 1u << 0   /**< a member is missing (late, stalled,
                                            disconnected past sync.timeout) */
};

/**
 * A synchronized segment set: the same wall-clock window cut from every
 * source of a [sync NAME] group. Each present member is an ordinary
 * segment (starting decodable at a keyframe, its exact nominal start
 * recorded); a missing member is NULL.
 */
typedef struct sc_segment_set {
    uint32_t struct_size;       /**< sizeof(sc_segment_set) of the host */
    uint32_t flags;             /**< sc_segment_set_flag bits */
    const char *name;           /**< the [sync NAME] */
    uint64_t index;             /**< per-group counter, from 0 */
    int64_t start_utc;          /**< the window on the reference clock, UTC epoch ns */
    int64_t end_utc;
    size_t member_count;
    const char *const *members;            /**< source names, as listed in `sources` */
    const sc_segment *const *segments;     /**< by member; NULL when missing */
} sc_segment_set;

SC_END_DECLS

#endif /* STREAMCUT_SEGMENT_H */
