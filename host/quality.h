/* Quality filtering of segments, per strategy (quality.* keys): a segment
 * that fails a rule is not delivered to the strategy's sinks; it is
 * counted per reason and, when quality.reject_sink names a sink, delivered
 * there flagged "rejected" with the reason in its record. */
#ifndef SC_HOST_QUALITY_H
#define SC_HOST_QUALITY_H

#include <stdbool.h>
#include <stddef.h>
#include <streamcut/segment.h>

typedef struct sc_quality_rules {
    int64_t min_duration_ns;      /* 0 = off */
    bool require_keyframe_start;
    double max_corrupt_ratio;     /* 1 = off */
    int64_t max_gap_ns;           /* 0 = off */
    double min_bitrate_kbps;      /* 0 = off */
    double max_thinned_ratio;     /* 1 = off */
} sc_quality_rules;

/* What the rules look at, measured on a segment. */
typedef struct sc_quality_measure {
    int64_t duration_ns;     /* from its first keyframe to the end of its content */
    double corrupt_ratio;    /* packets flagged corrupt / packets */
    int64_t largest_gap_ns;  /* largest DTS step on the reference stream */
    double bitrate_kbps;
    double thinned_ratio;    /* packets the buffer had thinned away / (held + thinned) */
} sc_quality_measure;

void sc_quality_measure_segment(const sc_segment *segment, size_t thinned_packets, sc_quality_measure *out);
/** NULL when the segment passes, else the failed rule's name
 * ("min_duration", "require_keyframe_start", "max_corrupt_ratio", "max_gap",
 * "min_bitrate_kbps", "max_thinned_ratio"). */
const char *sc_quality_verdict(const sc_quality_rules *rules, const sc_segment *segment,
                               const sc_quality_measure *measure);

#endif
