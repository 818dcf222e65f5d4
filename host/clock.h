/* Per-source timestamp normalization: original timestamps in any time base
 * and format become int64 nanoseconds on one continuous, per-stream
 * monotonic timeline starting at 0. Counters wrap-around (33-bit HLS/MPEG-TS
 * at 90 kHz, 32-bit RTMP milliseconds) is unwrapped; missing timestamps are
 * interpolated; small DTS regressions are fixed up; timestamps that leave
 * the stream's own cadence for a packet or two (outliers, judged by the
 * median step and its median absolute deviation) are replaced by the
 * predicted value; real jumps (resets, reconnections, jumps beyond
 * max_jump) are rebased so the timeline continues, and flagged. */
#ifndef SC_HOST_CLOCK_H
#define SC_HOST_CLOCK_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <streamcut/packet.h>

/* The original design's timestamp formats. */
typedef enum sc_timestamp_format {
    SC_TIMESTAMPS_AUTO,             /* from the source type */
    SC_TIMESTAMPS_RELATIVE_SECONDS, /* stream time, no wrap */
    SC_TIMESTAMPS_EPOCH_SECONDS,    /* absolute UTC: they also give the wall clock */
    SC_TIMESTAMPS_EPOCH_MILLIS,
    SC_TIMESTAMPS_HLS,              /* 90 kHz, wraps at 2^33 (~26.5 h) */
    SC_TIMESTAMPS_RTMP              /* milliseconds, wraps at 2^32 (~49.7 days) */
} sc_timestamp_format;

/* Atomic: the source thread counts, the control API reads while it runs. */
typedef struct sc_clock_stats {
    atomic_uint_least64_t fixed;           /* non-monotonic DTS raised */
    atomic_uint_least64_t interpolated;    /* missing timestamps filled */
    atomic_uint_least64_t discontinuities; /* jumps rebased */
    atomic_uint_least64_t outliers;        /* timestamps replaced by the predicted value */
    atomic_uint_least64_t wraps;           /* counter wrap-arounds unwrapped */
} sc_clock_stats;

typedef struct sc_clock {
    bool started;
    int64_t origin_ns;        /* raw (unwrapped) time mapped to 0 */
    int64_t max_jump_ns;      /* a larger DTS step is a discontinuity */
    int64_t outlier_threshold_ns; /* least deviation from the cadence that is an outlier */
    sc_timestamp_format format;
    GArray *streams;          /* struct stream_clock, by stream index */
    sc_clock_stats stats;
} sc_clock;

void sc_clock_init(sc_clock *clock, int64_t max_jump_ns);
void sc_clock_clear(sc_clock *clock);
/** Set the format (SC_TIMESTAMPS_AUTO is resolved by the caller). */
void sc_clock_set_format(sc_clock *clock, sc_timestamp_format format);
/** Fill pkt->pts/dts/duration from its orig_* fields. `info` may be NULL.
 * With an epoch format, source_utc_ns is filled from the timestamps too. */
void sc_clock_normalize(sc_clock *clock, sc_packet *pkt, const sc_stream_info *info);
/** The input restarted (reconnection, announced discontinuity): each
 * stream's next packet continues right after its last one if its own
 * timestamps went back (or jumped beyond max_jump). */
void sc_clock_mark_discontinuity(sc_clock *clock);
/** Fix the raw time (ns) that becomes 0, before the first packet. */
void sc_clock_set_origin(sc_clock *clock, int64_t origin_ns);
/** ticks * num / den seconds, in ns, rounded to nearest; SC_TIME_NONE stays. */
int64_t sc_clock_ticks_to_ns(int64_t ticks, int32_t num, int32_t den);
/** The format named in a pipeline file ("HLS_TIMESTAMP", ...), or -1. */
int sc_timestamp_format_from_name(const char *name);
const char *sc_timestamp_format_name(sc_timestamp_format format);

#endif
