#include "clock.h"

typedef struct stream_clock {
    bool seen;
    bool rebase_next;         /* after a discontinuity: any step back rebases */
    int64_t offset_ns;        /* added after the origin: rebasing after jumps */
    int64_t last_dts;
    int64_t last_duration;
} stream_clock;

void sc_clock_init(sc_clock *clock, int64_t max_jump_ns)
{
    *clock = (sc_clock){0};
    clock->max_jump_ns = max_jump_ns;
    clock->streams = g_array_new(FALSE, TRUE, sizeof(stream_clock));
}

void sc_clock_clear(sc_clock *clock)
{
    if (clock->streams) g_array_free(clock->streams, TRUE);
    clock->streams = NULL;
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

void sc_clock_normalize(sc_clock *clock, sc_packet *pkt, const sc_stream_info *info)
{
    if (pkt->stream_index >= clock->streams->len) g_array_set_size(clock->streams, pkt->stream_index + 1);
    stream_clock *stream = &g_array_index(clock->streams, stream_clock, pkt->stream_index);
    int64_t pts = sc_clock_ticks_to_ns(pkt->orig_pts, pkt->time_base_num, pkt->time_base_den);
    int64_t dts = sc_clock_ticks_to_ns(pkt->orig_dts, pkt->time_base_num, pkt->time_base_den);
    int64_t duration = pkt->orig_duration > 0
        ? sc_clock_ticks_to_ns(pkt->orig_duration, pkt->time_base_num, pkt->time_base_den) : 0;
    if (duration <= 0 || duration == SC_TIME_NONE) duration = nominal_duration(info);

    if (dts == SC_TIME_NONE && pts == SC_TIME_NONE) {
        /* Nothing to go on: continue the stream's own cadence. */
        int64_t step = stream->last_duration > 0 ? stream->last_duration : duration;
        pkt->flags |= SC_PACKET_TS_INTERPOLATED;
        clock->stats.interpolated++;
        if (!clock->started || !stream->seen) {
            pkt->dts = pkt->pts = stream->seen ? stream->last_dts + step : 0;
        } else {
            pkt->dts = pkt->pts = stream->last_dts + (step > 0 ? step : 1000);
        }
        pkt->duration = duration;
        stream->seen = true;
        stream->last_dts = pkt->dts;
        if (duration > 0) stream->last_duration = duration;
        return;
    }
    if (dts == SC_TIME_NONE) {
        dts = pts;
        pkt->flags |= SC_PACKET_TS_INTERPOLATED;
        clock->stats.interpolated++;
    }
    if (pts == SC_TIME_NONE) {
        pts = dts;
        pkt->flags |= SC_PACKET_TS_INTERPOLATED;
        clock->stats.interpolated++;
    }
    if (!clock->started) {
        clock->started = true;
        clock->origin_ns = dts;
    }
    dts = dts - clock->origin_ns + stream->offset_ns;
    pts = pts - clock->origin_ns + stream->offset_ns;
    /* A discontinuity the source announced (or a reconnection) applies to
     * every stream: each one's next step back, or too far ahead, rebases. */
    if (pkt->flags & SC_PACKET_DISCONTINUITY) sc_clock_mark_discontinuity(clock);
    if (stream->seen) {
        int64_t step = dts - stream->last_dts;
        bool announced = stream->rebase_next;
        stream->rebase_next = false;
        if (step > clock->max_jump_ns || step < -clock->max_jump_ns || (announced && step <= 0)) {
            /* A reset or jump: continue right after the previous packet so
             * the timeline stays continuous, and say so. */
            int64_t expected = stream->last_dts + (stream->last_duration > 0 ? stream->last_duration : 1000);
            int64_t correction = expected - dts;
            stream->offset_ns += correction;
            dts += correction;
            pts += correction;
            pkt->flags |= SC_PACKET_DISCONTINUITY;
            clock->stats.discontinuities++;
        } else if (step <= 0) {
            int64_t raised = stream->last_dts + 1;
            if (pts < raised) pts = raised;
            dts = raised;
            pkt->flags |= SC_PACKET_TS_FIXED;
            clock->stats.fixed++;
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
