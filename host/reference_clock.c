#include "reference_clock.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <streamcut/abi.h>

#define MAX_SAMPLES 256
#define FIT_EVERY 8

typedef struct sample {
    int64_t media;
    int64_t reference;
} sample;

struct sc_reference_clock {
    GMutex lock;
    sc_reference_mode mode;
    int64_t window_ns;
    int64_t sample_interval_ns;
    bool correct_drift;
    sample samples[MAX_SAMPLES];   /* ring, oldest at `first` */
    int first;
    int count;
    int64_t last_sample_media;
    bool have_fit;
    double slope;                  /* reference per media ns */
    double intercept;              /* reference at media 0 */
    double uncorrected_offset;     /* the first fit's offset, slope 1 */
    int64_t newest_media;
    uint64_t total_samples;
    bool arrival_unusable;         /* arrivals proved not to follow a clock */
};

int sc_reference_mode_from_name(const char *name)
{
    static const char *const names[] = {"auto", "pdt", "arrival", "stream"};
    for (int i = 0; i < 4; i++)
        if (g_ascii_strcasecmp(name, names[i]) == 0) return i;
    return -1;
}

sc_reference_clock *sc_reference_clock_new(sc_reference_mode mode, int64_t window_ns, bool correct_drift)
{
    sc_reference_clock *clock = g_new0(sc_reference_clock, 1);
    g_mutex_init(&clock->lock);
    clock->mode = mode;
    clock->window_ns = window_ns;
    clock->sample_interval_ns = MAX(window_ns / MAX_SAMPLES, SC_NSEC_PER_MSEC);
    clock->correct_drift = correct_drift;
    clock->last_sample_media = SC_TIME_NONE;
    clock->newest_media = SC_TIME_NONE;
    return clock;
}

void sc_reference_clock_free(sc_reference_clock *clock)
{
    if (!clock) return;
    g_mutex_clear(&clock->lock);
    g_free(clock);
}

static int compare_doubles(const void *a, const void *b)
{
    double left = *(const double *)a, right = *(const double *)b;
    return left < right ? -1 : left > right;
}

static double median(double *values, int count)
{
    qsort(values, (size_t)count, sizeof values[0], compare_doubles);
    return count % 2 ? values[count / 2] : (values[count / 2 - 1] + values[count / 2]) / 2;
}

static const sample *sample_at(const sc_reference_clock *clock, int i)
{
    return &clock->samples[(clock->first + i) % MAX_SAMPLES];
}

/* Slopes between samples half the window apart, and their median: robust
 * to jittered and outlying arrival times, linear in the sample count. */
static void fit(sc_reference_clock *clock)
{
    int count = clock->count;
    double values[MAX_SAMPLES];
    double slope = 1.0;
    int half = count / 2, pairs = 0;
    for (int i = 0; i + half < count && half > 0; i++) {
        const sample *a = sample_at(clock, i), *b = sample_at(clock, i + half);
        if (b->media == a->media) continue;
        values[pairs++] = (double)(b->reference - a->reference) / (double)(b->media - a->media);
    }
    if (pairs > 0) slope = median(values, pairs);
    /* No clock runs 5 % off: arrival times that do are a file read faster
     * (or slower) than real time, and say nothing about the wall clock. */
    if (fabs(slope - 1.0) > 0.05) {
        clock->arrival_unusable = true;
        if (!clock->have_fit) {
            const sample *first = sample_at(clock, 0);
            clock->have_fit = true;
            clock->slope = 1.0;
            clock->intercept = clock->uncorrected_offset = (double)first->reference - (double)first->media;
        }
        return;
    }
    for (int i = 0; i < count; i++) {
        const sample *s = sample_at(clock, i);
        values[i] = (double)s->reference - slope * (double)s->media;
    }
    double intercept = median(values, count);
    /* Refine by least squares over the samples that agree with the robust
     * line: as resistant to outliers, and far less noisy under jitter. */
    double residuals[MAX_SAMPLES];
    for (int i = 0; i < count; i++) {
        const sample *s = sample_at(clock, i);
        residuals[i] = fabs((double)s->reference - (intercept + slope * (double)s->media));
    }
    double spread = median(residuals, count) * 1.4826;
    double limit = 3.0 * spread + 1e6;
    double sum_x = 0, sum_y = 0, sum_xx = 0, sum_xy = 0, origin = (double)sample_at(clock, 0)->media;
    int kept = 0;
    for (int i = 0; i < count; i++) {
        const sample *s = sample_at(clock, i);
        double x = (double)s->media - origin, y = (double)s->reference - slope * (double)s->media - intercept;
        if (fabs(y) > limit) continue;
        sum_x += x;
        sum_y += y;
        sum_xx += x * x;
        sum_xy += x * y;
        kept++;
    }
    double denominator = kept * sum_xx - sum_x * sum_x;
    if (kept >= 8 && denominator > 0) {
        double slope_correction = (kept * sum_xy - sum_x * sum_y) / denominator;
        double offset_correction = (sum_y - slope_correction * sum_x) / kept;
        slope += slope_correction;
        intercept += offset_correction - slope_correction * origin;
    }
    if (!clock->have_fit) {
        clock->have_fit = true;
        clock->uncorrected_offset = intercept + (slope - 1.0) * (double)sample_at(clock, 0)->media;
    }
    clock->slope = slope;
    clock->intercept = intercept;
}

void sc_reference_clock_add(sc_reference_clock *clock, int64_t media_ns, int64_t stated_utc_ns, int64_t arrival_ns)
{
    sc_reference_mode mode = clock->mode;
    int64_t reference;
    switch (mode) {
    case SC_REFERENCE_PDT: reference = stated_utc_ns; break;
    case SC_REFERENCE_ARRIVAL: reference = arrival_ns; break;
    case SC_REFERENCE_STREAM: reference = clock->count == 0 && !clock->have_fit ? arrival_ns : SC_TIME_NONE; break;
    default: reference = stated_utc_ns != SC_TIME_NONE ? stated_utc_ns : arrival_ns; break;
    }
    g_mutex_lock(&clock->lock);
    if (clock->newest_media == SC_TIME_NONE || media_ns > clock->newest_media) clock->newest_media = media_ns;
    if (reference == SC_TIME_NONE || reference <= 0 ||
        (clock->last_sample_media != SC_TIME_NONE && media_ns - clock->last_sample_media < clock->sample_interval_ns &&
         media_ns >= clock->last_sample_media)) {
        g_mutex_unlock(&clock->lock);
        return;
    }
    /* A step back in media time (a rebase) starts the fit over. */
    if (clock->last_sample_media != SC_TIME_NONE && media_ns < clock->last_sample_media) clock->count = 0;
    clock->last_sample_media = media_ns;
    if (clock->count == MAX_SAMPLES) {
        clock->first = (clock->first + 1) % MAX_SAMPLES;
        clock->count--;
    }
    clock->samples[(clock->first + clock->count) % MAX_SAMPLES] = (sample){media_ns, reference};
    clock->count++;
    clock->total_samples++;
    /* Only the last window counts. */
    while (clock->count > 2 && media_ns - sample_at(clock, 0)->media > clock->window_ns) {
        clock->first = (clock->first + 1) % MAX_SAMPLES;
        clock->count--;
    }
    if (mode == SC_REFERENCE_STREAM || (clock->arrival_unusable && stated_utc_ns == SC_TIME_NONE)) {
        if (!clock->have_fit) {
            clock->have_fit = true;
            clock->slope = 1.0;
            clock->intercept = clock->uncorrected_offset = (double)reference - (double)media_ns;
        }
    } else if (clock->count < 16 || clock->total_samples % FIT_EVERY == 0) {
        /* A fit every few samples follows drift (ppm over minutes) just as
         * well and keeps the per-packet cost small. */
        fit(clock);
    }
    g_mutex_unlock(&clock->lock);
}

void sc_reference_clock_restart(sc_reference_clock *clock)
{
    g_mutex_lock(&clock->lock);
    clock->count = 0;
    clock->first = 0;
    clock->have_fit = false;
    clock->last_sample_media = SC_TIME_NONE;
    clock->arrival_unusable = false;
    g_mutex_unlock(&clock->lock);
}

/* Media time on the reference clock; the clock's lock held, a fit made. */
static double utc_of(const sc_reference_clock *clock, int64_t media_ns)
{
    return clock->correct_drift ? clock->intercept + clock->slope * (double)media_ns
                                : clock->uncorrected_offset + (double)media_ns;
}

int64_t sc_reference_clock_to_utc(sc_reference_clock *clock, int64_t media_ns)
{
    if (media_ns == SC_TIME_NONE) return SC_TIME_NONE;
    g_mutex_lock(&clock->lock);
    int64_t utc = clock->have_fit ? (int64_t)utc_of(clock, media_ns) : SC_TIME_NONE;
    g_mutex_unlock(&clock->lock);
    return utc;
}

int64_t sc_reference_clock_to_media(sc_reference_clock *clock, int64_t utc_ns)
{
    if (utc_ns == SC_TIME_NONE) return SC_TIME_NONE;
    g_mutex_lock(&clock->lock);
    int64_t media = SC_TIME_NONE;
    if (clock->have_fit)
        media = clock->correct_drift ? (int64_t)(((double)utc_ns - clock->intercept) / clock->slope)
                                     : (int64_t)((double)utc_ns - clock->uncorrected_offset);
    g_mutex_unlock(&clock->lock);
    return media;
}

bool sc_reference_clock_reaches(sc_reference_clock *clock, int64_t utc_ns)
{
    g_mutex_lock(&clock->lock);
    bool reaches = false;
    if (clock->have_fit && clock->newest_media != SC_TIME_NONE)
        reaches = utc_of(clock, clock->newest_media) >= (double)utc_ns;
    g_mutex_unlock(&clock->lock);
    return reaches;
}

void sc_reference_clock_get_stats(sc_reference_clock *clock, sc_reference_stats *stats)
{
    g_mutex_lock(&clock->lock);
    stats->valid = clock->have_fit;
    stats->samples = clock->total_samples;
    stats->drift_ppm = clock->have_fit ? (clock->slope - 1.0) * 1e6 : 0.0;
    stats->offset_ms = 0.0;
    if (clock->have_fit && clock->newest_media != SC_TIME_NONE) {
        double fitted = clock->intercept + clock->slope * (double)clock->newest_media;
        double nominal = clock->uncorrected_offset + (double)clock->newest_media;
        stats->offset_ms = (fitted - nominal) / 1e6;
    }
    g_mutex_unlock(&clock->lock);
}
