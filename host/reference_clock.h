/* Each source's map from its media timeline to one wall-clock reference
 * (UTC epoch ns): from the times the source states (HLS PROGRAM-DATE-TIME,
 * epoch timestamps) or, failing that, the packets' arrival times
 * (sync.reference = auto | pdt | arrival | stream). Drift between the media
 * clock and the reference is estimated continuously by a robust line fit
 * over the last sync.drift_window (slopes of sample pairs half a window
 * apart, median; intercept by median), reported as drift_ppm and
 * offset_ms, and applied when sync.correct_drift is on. Without
 * correction the map is the first fit's offset with a slope of exactly 1,
 * so an uncorrected drift shows as a growing error. */
#ifndef SC_HOST_REFERENCE_CLOCK_H
#define SC_HOST_REFERENCE_CLOCK_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum sc_reference_mode {
    SC_REFERENCE_AUTO,     /* stated times when there are any, else arrival */
    SC_REFERENCE_PDT,      /* only stated times (PROGRAM-DATE-TIME, epoch) */
    SC_REFERENCE_ARRIVAL,  /* arrival times */
    SC_REFERENCE_STREAM    /* no reference: the first arrival plus media time */
} sc_reference_mode;

typedef struct sc_reference_stats {
    bool valid;              /* at least one fit was made */
    double drift_ppm;        /* (media-to-reference slope - 1) * 1e6 */
    double offset_ms;        /* reference - (media + initial offset), now */
    uint64_t samples;
} sc_reference_stats;

typedef struct sc_reference_clock sc_reference_clock;

sc_reference_clock *sc_reference_clock_new(sc_reference_mode mode, int64_t window_ns, bool correct_drift);
void sc_reference_clock_free(sc_reference_clock *clock);
/** A reference-stream packet's normalized time and what the reference
 * says it is (stated UTC, or SC_TIME_NONE) and when it arrived (UTC ns).
 * Arrival times that run more than 5 % off the media clock (a file read
 * as fast as possible) are not a clock: the source then runs on its own
 * clock from its first arrival. */
void sc_reference_clock_add(sc_reference_clock *clock, int64_t media_ns, int64_t stated_utc_ns, int64_t arrival_ns);
/** The input restarted (a discontinuity: reconnection, reset): the media
 * timeline was rebased, so its old fit no longer applies. */
void sc_reference_clock_restart(sc_reference_clock *clock);
/** Media time to UTC ns (SC_TIME_NONE before the first sample). */
int64_t sc_reference_clock_to_utc(sc_reference_clock *clock, int64_t media_ns);
/** UTC ns to media time (SC_TIME_NONE before the first sample). */
int64_t sc_reference_clock_to_media(sc_reference_clock *clock, int64_t utc_ns);
/** Whether the stream has already shown media at or past this instant:
 * only then does mapping it interpolate the fit rather than extrapolate
 * it (a young fit's slope is noisy; carried far ahead it misplaces cuts). */
bool sc_reference_clock_reaches(sc_reference_clock *clock, int64_t utc_ns);
void sc_reference_clock_get_stats(sc_reference_clock *clock, sc_reference_stats *stats);
int sc_reference_mode_from_name(const char *name);

#endif
