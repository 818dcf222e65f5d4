/* Per-source timestamp normalization: original timestamps in any time base
 * become int64 nanoseconds on one continuous, per-stream monotonic timeline
 * starting near 0. Missing timestamps are filled in, small DTS regressions
 * fixed, and large jumps (resets, wraps the demuxer missed) rebased and
 * flagged as discontinuities. The frame synchronizer builds on this. */
#ifndef SC_HOST_CLOCK_H
#define SC_HOST_CLOCK_H

#include <glib.h>
#include <stdbool.h>
#include <streamcut/packet.h>

typedef struct sc_clock_stats {
    uint64_t fixed;           /* non-monotonic DTS raised */
    uint64_t interpolated;    /* missing timestamps filled */
    uint64_t discontinuities; /* jumps rebased */
} sc_clock_stats;

typedef struct sc_clock {
    bool started;
    int64_t origin_ns;        /* raw time mapped to 0 */
    int64_t max_jump_ns;      /* a larger DTS step is a discontinuity */
    GArray *streams;          /* struct stream_clock, by stream index */
    sc_clock_stats stats;
} sc_clock;

void sc_clock_init(sc_clock *clock, int64_t max_jump_ns);
void sc_clock_clear(sc_clock *clock);
/** Fill pkt->pts/dts/duration from its orig_* fields. `info` may be NULL. */
void sc_clock_normalize(sc_clock *clock, sc_packet *pkt, const sc_stream_info *info);
/** The input restarted (reconnection, announced discontinuity): each
 * stream's next packet continues right after its last one if its own
 * timestamps went back (or jumped beyond max_jump). */
void sc_clock_mark_discontinuity(sc_clock *clock);
/** Fix the raw time (ns) that becomes 0, before the first packet. */
void sc_clock_set_origin(sc_clock *clock, int64_t origin_ns);
/** ticks * num / den seconds, in ns, rounded to nearest; SC_TIME_NONE stays. */
int64_t sc_clock_ticks_to_ns(int64_t ticks, int32_t num, int32_t den);

#endif
