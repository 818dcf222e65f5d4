/* keyframe: segments that begin and end exactly at keyframes of the
 * reference stream, cut the way FFmpeg's segment muxer cuts
 * (`-f segment -segment_time D`), so the same input gives the same
 * boundaries in both.
 *
 * The rule, as the segment muxer applies it: with n cuts made so far, the
 * next boundary is D * (n + 1) on the stream timeline; the segment closes at
 * the first reference keyframe whose pts reaches that boundary, provided the
 * segment already holds a reference packet. A keyframe that arrives late,
 * past several boundaries, makes one cut and moves the boundary on by one
 * multiple only: the following keyframes then catch up with the absolute
 * grid (short segments) instead of the grid shifting, and no empty segment
 * is ever made.
 *
 * Unlike the muxer, a GOP that never ends cannot make a segment grow without
 * bound: when no keyframe came for max_duration since the segment started,
 * the segment is cut there (flagged forced) and the next one starts inside
 * the GOP (the host starts its packets at the previous keyframe and flags it
 * mid_gop_start). The boundary count then restarts after the forced cut.
 *
 * A segment's end is only known when its closing keyframe arrives, so each
 * one is requested then; the buffer must still hold its start, which it
 * does as long as buffer.retention_seconds exceeds max_duration. */
#include <streamcut/streamcut.h>

#include <stdio.h>
#include <stdlib.h>

typedef struct keyframe_strategy {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t duration;
    int64_t max_duration;
    int reference_stream;       /* -1 until the first packet */
    int every_packet_is_key;    /* audio-only source */
    int64_t cuts;               /* the segment muxer's segment_count */
    int segment_open;
    int64_t segment_start;      /* pts of the cut that opened the current segment */
    int64_t segment_packets;    /* reference packets in the current segment */
    int64_t media_end;          /* largest reference pts + duration seen */
} keyframe_strategy;

static const sc_option_spec keyframe_options[] = {
    {.name = "duration", .type = SC_OPT_DURATION, .default_value = "10s", .min = 0.001, .max = 86400,
     .help = "target length: cut at the first reference keyframe at or after the next multiple of duration "
             "(FFmpeg segment muxer rule)"},
    {.name = "max_duration", .type = SC_OPT_DURATION, .default_value = "0", .min = 0, .max = 86400,
     .help = "force a cut (flag forced) when no keyframe came for this long; 0 = 3 x duration; "
             "keep buffer.retention_seconds above it"},
    {0},
};

static double seconds(int64_t ns) { return (double)ns / (double)SC_NSEC_PER_SEC; }

static int keyframe_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    keyframe_strategy *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->duration = host->option_duration(ctx, "duration");
    self->max_duration = host->option_duration(ctx, "max_duration");
    self->reference_stream = -1;
    if (self->max_duration == 0) self->max_duration = 3 * self->duration;
    if (self->duration <= 0) {
        host->log(ctx, SC_LOG_ERROR, "duration must be positive (got %gs)", seconds(self->duration));
        free(self);
        return SC_ERR_INVALID;
    }
    if (self->max_duration < self->duration) {
        host->log(ctx, SC_LOG_ERROR, "max_duration (%gs) must be at least duration (%gs), or 0 for 3 x duration",
                  seconds(self->max_duration), seconds(self->duration));
        free(self);
        return SC_ERR_INVALID;
    }
    *instance = self;
    return SC_OK;
}

static void keyframe_destroy(void *instance) { free(instance); }

/* The stream whose keyframes bound segments, chosen as the host chooses
 * it: the first video stream, else the first audio stream. */
static void choose_reference_stream(keyframe_strategy *self, const sc_packet *first)
{
    int chosen = sc_reference_stream(self->host, self->ctx);
    self->reference_stream = chosen >= 0 ? chosen : (int)first->stream_index;
    /* Audio frames all decode on their own, whatever the demuxer flags. */
    const sc_stream_info *info = self->host->stream_get(self->ctx, (size_t)self->reference_stream);
    self->every_packet_is_key = !info || info->media_type != SC_MEDIA_VIDEO;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static void emit_segment(keyframe_strategy *self, int64_t end, uint32_t flags)
{
    char extra[64];
    snprintf(extra, sizeof extra, "{\"cut_pts\":%.6f}", seconds(self->segment_start));
    sc_segment_request request = {
        .struct_size = sizeof request,
        .flags = flags,
        .start = self->segment_start,
        .end = end,
        .extra_json = extra,
    };
    self->host->segment_emit(self->ctx, &request);
}

static void open_segment(keyframe_strategy *self, int64_t start)
{
    self->segment_open = 1;
    self->segment_start = start;
    self->segment_packets = 0;
}

/* After a forced cut the muxer's count has no meaning any more: the next
 * boundary becomes the first multiple of duration after the new start. */
static void restart_count_after(keyframe_strategy *self, int64_t start)
{
    int64_t multiples = floor_div(start, self->duration);
    self->cuts = multiples > 0 ? multiples : 0;
}

static int keyframe_packet(void *instance, const sc_packet *pkt)
{
    keyframe_strategy *self = instance;
    if (self->reference_stream < 0) choose_reference_stream(self, pkt);
    if ((int)pkt->stream_index != self->reference_stream) return SC_OK;
    int64_t pts = pkt->pts != SC_TIME_NONE ? pkt->pts : pkt->dts;
    int key = self->every_packet_is_key || (pkt->flags & SC_PACKET_KEY);

    if (!self->segment_open) {
        open_segment(self, pts);
    } else {
        int64_t boundary = self->duration * (self->cuts + 1);
        int64_t overdue = self->segment_start + self->max_duration;
        if (key && self->segment_packets > 0 && pts >= boundary && pts <= overdue) {
            emit_segment(self, pts, 0);
            self->cuts++;
            open_segment(self, pts);
        } else if (pts >= overdue) {
            emit_segment(self, overdue, SC_SEGMENT_FORCED);
            if (key) {
                /* Reached past a gap in the data: the keyframe itself is
                 * the cleanest start for what follows. */
                open_segment(self, pts);
            } else {
                int64_t start = overdue;
                /* A gap of several max_durations holds no reference
                 * packet: skip it rather than cut empty segments. */
                while (pts >= start + self->max_duration) start += self->max_duration;
                open_segment(self, start);
            }
            restart_count_after(self, self->segment_start);
        }
    }
    self->segment_packets++;
    int64_t end = pts + (pkt->duration > 0 ? pkt->duration : 1);
    if (end > self->media_end) self->media_end = end;
    return SC_OK;
}

/* The last segment runs to the end of the reference stream's data. At the
 * end of input that is its natural end; on shutdown it was cut short. */
static void keyframe_flush(void *instance, int reason)
{
    keyframe_strategy *self = instance;
    if (!self->segment_open || self->segment_packets == 0) return;
    int64_t end = self->media_end > self->segment_start ? self->media_end : self->segment_start + 1;
    emit_segment(self, end, reason == SC_FLUSH_SHUTDOWN ? SC_SEGMENT_PARTIAL : 0);
    self->segment_open = 0;
}

static const sc_strategy_ops keyframe_ops = {
    SC_OPS_INIT(sc_strategy_ops),
    .create = keyframe_create,
    .destroy = keyframe_destroy,
    .packet = keyframe_packet,
    .flush = keyframe_flush,
};

static const sc_module_descriptor keyframe_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_STRATEGY,
    .name = "keyframe",
    .version = "0.1.0",
    .description = "segments cut only at reference keyframes, at the first one past each multiple of duration "
                   "(as ffmpeg -f segment), forced at max_duration",
    .options = keyframe_options,
    .ops = &keyframe_ops,
};

SC_MODULE_DEFINE(keyframe_module)
