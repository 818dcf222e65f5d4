#include "clock.h"

#include <stdlib.h>
#include <string.h>

#define STEP_HISTORY 32
/* Recompute the cadence's median and spread every this many steps. */
#define CADENCE_REFRESH 16
/* A run of this many packets agreeing on a new timeline is a real jump,
 * not an outlier. */
#define JUMP_CONFIRMATIONS 3

typedef struct stream_clock {
    bool seen;
    bool rebase_next;         /* after a discontinuity: any step back rebases */
    int64_t offset_ns;        /* added after the origin: rebasing after jumps */
    int64_t last_dts;
    int64_t last_duration;
    /* unwrapping */
    bool unwrap_seen;
    int64_t last_unwrapped;
    int64_t wrap_offset;
    /* the stream's cadence: recent DTS steps */
    int64_t steps[STEP_HISTORY];
    int step_count;
    int step_position;
    int steps_since_refresh;
    int64_t median_step;
    int64_t step_spread;      /* median absolute deviation of the steps */
    /* packets off the cadence, waiting to be judged outliers or a jump */
    int suspects;
    int64_t suspect_deviation;
} stream_clock;

void sc_clock_init(sc_clock *clock, int64_t max_jump_ns)
{
    *clock = (sc_clock){0};
    clock->max_jump_ns = max_jump_ns;
    clock->outlier_threshold_ns = 500 * SC_NSEC_PER_MSEC;
    clock->format = SC_TIMESTAMPS_RELATIVE_SECONDS;
    clock->streams = g_array_new(FALSE, TRUE, sizeof(stream_clock));
}

void sc_clock_clear(sc_clock *clock)
{
    if (clock->streams) g_array_free(clock->streams, TRUE);
    clock->streams = NULL;
}

void sc_clock_set_format(sc_clock *clock, sc_timestamp_format format)
{
    clock->format = format == SC_TIMESTAMPS_AUTO ? SC_TIMESTAMPS_RELATIVE_SECONDS : format;
}

static const struct {
    sc_timestamp_format format;
    const char *name;
} format_names[] = {
    {SC_TIMESTAMPS_AUTO, "auto"},
    {SC_TIMESTAMPS_RELATIVE_SECONDS, "RELATIVE_SECONDS"},
    {SC_TIMESTAMPS_EPOCH_SECONDS, "EPOCH_SECONDS"},
    {SC_TIMESTAMPS_EPOCH_MILLIS, "EPOCH_MILLIS"},
    {SC_TIMESTAMPS_HLS, "HLS_TIMESTAMP"},
    {SC_TIMESTAMPS_RTMP, "RTMP_TIMESTAMP"},
};

int sc_timestamp_format_from_name(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(format_names); i++)
        if (g_ascii_strcasecmp(name, format_names[i].name) == 0) return (int)format_names[i].format;
    return -1;
}

const char *sc_timestamp_format_name(sc_timestamp_format format)
{
    for (size_t i = 0; i < G_N_ELEMENTS(format_names); i++)
        if (format_names[i].format == format) return format_names[i].name;
    return "?";
}

void sc_clock_mark_discontinuity(sc_clock *clock)
{
    for (guint i = 0; i < clock->streams->len; i++) g_array_index(clock->streams, stream_clock, i).rebase_next = true;
}

void sc_clock_set_origin(sc_clock *clock, int64_t origin_ns)
{
    clock->started = true;
    clock->origin_ns = origin_ns;
}

int64_t sc_clock_ticks_to_ns(int64_t ticks, int32_t num, int32_t den)
{
    if (ticks == SC_TIME_NONE) return SC_TIME_NONE;
    if (num <= 0 || den <= 0) return SC_TIME_NONE;
    __int128 scaled = (__int128)ticks * num * SC_NSEC_PER_SEC;
    __int128 half = den / 2;
    __int128 result = scaled >= 0 ? (scaled + half) / den : -((-scaled + half) / den);
    if (result > INT64_MAX || result <= INT64_MIN) return SC_TIME_NONE;
    return (int64_t)result;
}

/* A frame's length when the input does not say: from the stream's rate. */
static int64_t nominal_duration(const sc_stream_info *info)
{
    if (!info) return 0;
    if (info->media_type == SC_MEDIA_VIDEO && info->fps_num > 0 && info->fps_den > 0)
        return (int64_t)info->fps_den * SC_NSEC_PER_SEC / info->fps_num;
    if (info->media_type == SC_MEDIA_AUDIO && info->sample_rate > 0 && info->frame_size > 0)
        return (int64_t)info->frame_size * SC_NSEC_PER_SEC / info->sample_rate;
    return 0;
}

static int64_t wrap_period(sc_timestamp_format format)
{
    switch (format) {
    case SC_TIMESTAMPS_HLS: return sc_clock_ticks_to_ns(INT64_C(1) << 33, 1, 90000);
    case SC_TIMESTAMPS_RTMP: return (INT64_C(1) << 32) * SC_NSEC_PER_MSEC;
    default: return 0;
    }
}

/* Undo counter wrap-around: a value far below the last one wrapped; one far
 * above it is a late packet from before the wrap. */
static int64_t unwrap(sc_clock *clock, stream_clock *stream, int64_t raw)
{
    int64_t period = wrap_period(clock->format);
    if (period == 0 || raw == SC_TIME_NONE) return raw;
    int64_t value = raw + stream->wrap_offset;
    if (stream->unwrap_seen) {
        int64_t delta = value - stream->last_unwrapped;
        if (delta < -period / 2) {
            stream->wrap_offset += period;
            value += period;
            clock->stats.wraps++;
        } else if (delta > period / 2) {
            return value - period;
        }
    }
    stream->unwrap_seen = true;
    stream->last_unwrapped = value;
    return value;
}

/* pts relative to an unwrapped dts: the difference taken modulo the wrap. */
static int64_t unwrap_near(sc_clock *clock, int64_t raw, int64_t raw_reference, int64_t unwrapped_reference)
{
    int64_t period = wrap_period(clock->format);
    int64_t difference = raw - raw_reference;
    if (period) {
        while (difference > period / 2) difference -= period;
        while (difference < -period / 2) difference += period;
    }
    return unwrapped_reference + difference;
}

static int compare_int64(const void *a, const void *b)
{
    int64_t left = *(const int64_t *)a, right = *(const int64_t *)b;
    return left < right ? -1 : left > right;
}

static void refresh_cadence(stream_clock *stream)
{
    int64_t sorted[STEP_HISTORY];
    int count = stream->step_count;
    memcpy(sorted, stream->steps, (size_t)count * sizeof sorted[0]);
    qsort(sorted, (size_t)count, sizeof sorted[0], compare_int64);
    stream->median_step = sorted[count / 2];
    for (int i = 0; i < count; i++) sorted[i] = llabs(sorted[i] - stream->median_step);
    qsort(sorted, (size_t)count, sizeof sorted[0], compare_int64);
    stream->step_spread = sorted[count / 2];
    stream->steps_since_refresh = 0;
}

static void remember_step(stream_clock *stream, int64_t step)
{
    stream->steps[stream->step_position] = step;
    stream->step_position = (stream->step_position + 1) % STEP_HISTORY;
    if (stream->step_count < STEP_HISTORY) stream->step_count++;
    if (++stream->steps_since_refresh >= CADENCE_REFRESH || stream->step_count < 8)
        refresh_cadence(stream);
}

/* Continue right after the previous packet: the timeline stays continuous. */
static void rebase(sc_clock *clock, stream_clock *stream, sc_packet *pkt, int64_t *dts, int64_t *pts)
{
    int64_t step = stream->step_count ? stream->median_step : stream->last_duration;
    int64_t expected = stream->last_dts + (step > 0 ? step : 1000);
    int64_t correction = expected - *dts;
    stream->offset_ns += correction;
    *dts += correction;
    *pts += correction;
    pkt->flags |= SC_PACKET_DISCONTINUITY;
    clock->stats.discontinuities++;
}

void sc_clock_normalize(sc_clock *clock, sc_packet *pkt, const sc_stream_info *info)
{
    if (pkt->stream_index >= clock->streams->len) g_array_set_size(clock->streams, pkt->stream_index + 1);
    stream_clock *stream = &g_array_index(clock->streams, stream_clock, pkt->stream_index);
    int64_t raw_pts = sc_clock_ticks_to_ns(pkt->orig_pts, pkt->time_base_num, pkt->time_base_den);
    int64_t raw_dts = sc_clock_ticks_to_ns(pkt->orig_dts, pkt->time_base_num, pkt->time_base_den);
    int64_t dts = unwrap(clock, stream, raw_dts != SC_TIME_NONE ? raw_dts : raw_pts);
    int64_t pts = SC_TIME_NONE;
    if (raw_pts != SC_TIME_NONE)
        pts = raw_dts != SC_TIME_NONE ? unwrap_near(clock, raw_pts, raw_dts, dts) : dts;
    if (raw_dts == SC_TIME_NONE) dts = pts;
    int64_t duration = pkt->orig_duration > 0
        ? sc_clock_ticks_to_ns(pkt->orig_duration, pkt->time_base_num, pkt->time_base_den) : 0;
    if (duration <= 0 || duration == SC_TIME_NONE) duration = nominal_duration(info);
    if ((clock->format == SC_TIMESTAMPS_EPOCH_SECONDS || clock->format == SC_TIMESTAMPS_EPOCH_MILLIS) &&
        pkt->source_utc_ns == SC_TIME_NONE)
        pkt->source_utc_ns = pts != SC_TIME_NONE ? pts : dts;
    if (pkt->flags & SC_PACKET_DISCONTINUITY) sc_clock_mark_discontinuity(clock);

    if (dts == SC_TIME_NONE) {
        /* Nothing to go on: continue the stream's own cadence. */
        int64_t step = stream->step_count ? stream->median_step : stream->last_duration > 0 ? stream->last_duration : duration;
        pkt->flags |= SC_PACKET_TS_INTERPOLATED;
        clock->stats.interpolated++;
        pkt->dts = pkt->pts = stream->seen ? stream->last_dts + (step > 0 ? step : 1000) : 0;
        pkt->duration = duration;
        stream->seen = true;
        stream->last_dts = pkt->dts;
        if (duration > 0) stream->last_duration = duration;
        return;
    }
    if (raw_dts == SC_TIME_NONE || raw_pts == SC_TIME_NONE) {
        pkt->flags |= SC_PACKET_TS_INTERPOLATED;
        clock->stats.interpolated++;
    }
    if (pts == SC_TIME_NONE) pts = dts;
    if (!clock->started) {
        clock->started = true;
        clock->origin_ns = dts;
    }
    dts = dts - clock->origin_ns + stream->offset_ns;
    pts = pts - clock->origin_ns + stream->offset_ns;
    if (stream->seen) {
        int64_t step = dts - stream->last_dts;
        bool announced = stream->rebase_next;
        stream->rebase_next = false;
        bool judged = false;
        if (!announced && stream->step_count >= 4) {
            int64_t predicted = stream->last_dts + stream->median_step;
            int64_t deviation = dts - predicted;
            int64_t threshold = MAX(clock->outlier_threshold_ns, 8 * stream->step_spread);
            if (llabs(deviation) > threshold) {
                judged = true;
                if (stream->suspects > 0 && llabs(deviation - stream->suspect_deviation) <= threshold) {
                    stream->suspects++;
                } else {
                    stream->suspects = 1;
                    stream->suspect_deviation = deviation;
                }
                if (stream->suspects < JUMP_CONFIRMATIONS) {
                    /* Off its own cadence: take the predicted time, so one
                     * wild timestamp cannot move a segment boundary. */
                    pts += predicted - dts;
                    dts = predicted;
                    pkt->flags |= SC_PACKET_TS_FIXED;
                    clock->stats.outliers++;
                } else {
                    /* Several packets agree on the new time: a real jump. */
                    stream->suspects = 0;
                    if (deviation > clock->max_jump_ns || step <= 0) rebase(clock, stream, pkt, &dts, &pts);
                }
            } else {
                stream->suspects = 0;
            }
        }
        if (!judged) {
            if (step > clock->max_jump_ns || step < -clock->max_jump_ns || (announced && step <= 0)) {
                rebase(clock, stream, pkt, &dts, &pts);
            } else if (step <= 0) {
                int64_t raised = stream->last_dts + 1;
                if (pts < raised) pts = raised;
                dts = raised;
                pkt->flags |= SC_PACKET_TS_FIXED;
                clock->stats.fixed++;
            } else {
                remember_step(stream, step);
            }
        }
    }
    if (pts < dts) pts = dts;
    pkt->pts = pts;
    pkt->dts = dts;
    pkt->duration = duration;
    stream->seen = true;
    stream->last_dts = dts;
    if (duration > 0) stream->last_duration = duration;
}
