/* scene: one segment per scene, cut where the picture changes abruptly.
 *
 * The reference (first video) stream is decoded at reduced cost and every
 * frame gets a change score against the frame before it (0..100, defined in
 * scene_score.h: the mean absolute difference of 64-pixel-wide YUV
 * thumbnails, the three planes weighed equally). A frame whose score
 * reaches `threshold` starts a new scene, provided the current one has
 * lasted `min_scene_len` since the last detected cut; with
 * `adaptive_threshold`, a frame is a cut when its score stands out from the
 * frames around it instead (PySceneDetect's adaptive detector). A scene
 * longer than `max_duration` is cut at its first frame past that length.
 *
 * Scene k becomes the segment [cut_k, cut_k+1), requested as soon as its
 * end is known (at the end of input, the last scene runs to the end of the
 * stream); the host starts its packets at the keyframe at or before cut_k
 * and flags `mid_gop_start` when that is earlier. The exact cut is in the
 * record: {"cut_time": s, "score": x, "cause": "start" | "scene" |
 * "forced", "end_cause": "scene" | "forced" | "end"}; a segment that
 * max_duration ended is flagged `forced`.
 *
 * The first scene starts at the first decoded frame. A scene is requested
 * only once its end is seen, so its start must still be in the source's
 * buffer then (else it comes out truncated, thinned, or not at all): for a
 * live input, keep the buffer's limits (retention, memory, items) above
 * the longest scene, or set max_duration. A file read faster than real
 * time fills its buffer ahead of the strategy and then evicts what the
 * strategy has read, so the buffer must hold the whole file (raise
 * buffer.max_items and buffer.max_memory_mb).
 *
 * A frame the decoder reports damaged, and every frame after it until the
 * next clean keyframe, is skipped rather than scored; the keyframe then
 * starts afresh (a cut inside the damaged stretch is not reported).
 */
#include <streamcut/streamcut.h>

#include "scene_score.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest look-around of the adaptive mode, frames on each side. */
#define MAX_ADAPTIVE_WINDOW 30
/* Below this neighbour mean, a frame's own score alone decides: its ratio
 * to the neighbours would be meaningless (a cut out of a still picture). */
#define QUIET_NEIGHBOURS 0.05

enum cut_cause { CAUSE_START, CAUSE_SCENE, CAUSE_FORCED, CAUSE_END };

static const char *const cause_names[] = { "start", "scene", "forced", "end" };

/* A scored frame waiting for its later neighbours (adaptive mode). */
typedef struct scored_frame {
    int64_t pts;
    double score;
    bool has_score;
} scored_frame;

typedef struct scene_strategy {
    const sc_host_api *host;
    sc_ctx *ctx;

    double threshold;
    int64_t min_scene_len;
    int64_t max_duration;
    int downscale_width;
    int threads;
    bool adaptive;
    double adaptive_ratio;
    int adaptive_window;
    double adaptive_min_score;

    int video_stream;           /* -1 until known; -2 when there is none */
    scene_scorer *scorer;
    bool scorer_failed;

    /* Frames not decided yet: the adaptive mode needs `adaptive_window`
     * frames after one before it can judge it. */
    scored_frame window[2 * MAX_ADAPTIVE_WINDOW + 1];
    int window_count;
    int window_decided;         /* entries [0, window_decided) are decided */

    bool scene_open;
    int64_t scene_start;
    double scene_score;
    enum cut_cause scene_cause;
    int64_t last_detected_cut;  /* min_scene_len counts from here */
    int64_t media_end;          /* end of the reference stream's packets */
    int64_t last_frame_pts;
    int64_t cuts;
    int64_t forced_cuts;
    int64_t late_scenes;
} scene_strategy;

static const sc_option_spec scene_options[] = {
    { .name = "threshold", .type = SC_OPT_DOUBLE, .default_value = "7",
      .help = "cut where a frame's change score reaches this (0..100: 100/255 x the mean of the "
              "Y, U and V mean absolute differences between consecutive 'downscale'-wide frames)",
      .min = 0.01, .max = 100 },
    { .name = "min_scene_len", .type = SC_OPT_DURATION, .default_value = "1s",
      .help = "shortest scene: a cut within this time of the previous detected cut is ignored",
      .min = 0, .max = 86400 },
    { .name = "max_duration", .type = SC_OPT_DURATION, .default_value = "0",
      .help = "cut a scene that runs this long at its next frame (segment flagged forced); 0 never",
      .min = 0, .max = 86400 },
    { .name = "downscale", .type = SC_OPT_INT, .default_value = "64",
      .help = "width in pixels frames are reduced to (area average, aspect kept) before comparing",
      .min = 8, .max = 1024 },
    { .name = "adaptive_threshold", .type = SC_OPT_BOOL, .default_value = "false",
      .help = "cut where a score is adaptive_ratio times the mean of its neighbours' scores "
              "(and at least adaptive_min_score) instead of using threshold; steadier in motion" },
    { .name = "adaptive_ratio", .type = SC_OPT_DOUBLE, .default_value = "3",
      .help = "adaptive mode: how many times the neighbours' mean score a cut needs",
      .min = 1, .max = 1000 },
    { .name = "adaptive_window", .type = SC_OPT_INT, .default_value = "2",
      .help = "adaptive mode: neighbours on each side of a frame (decisions lag this many frames)",
      .min = 1, .max = MAX_ADAPTIVE_WINDOW },
    { .name = "adaptive_min_score", .type = SC_OPT_DOUBLE, .default_value = "4",
      .help = "adaptive mode: smallest score that can be a cut, whatever its neighbours",
      .min = 0, .max = 100 },
    { .name = "threads", .type = SC_OPT_INT, .default_value = "2",
      .help = "decoder threads (0: FFmpeg's choice, cores + 1); 2 keeps 2 cores busy at the least CPU",
      .min = 0, .max = 64 },
    { 0 }
};

/* ---- segments --------------------------------------------------------- */

/* Whether the buffer still holds the keyframe the scene's packets must
 * start from. When it does not, the host can only truncate the segment
 * (or drop it); say once why, and how to avoid it. */
static void check_start_buffered(scene_strategy *self)
{
    const sc_host_api *host = self->host;
    sc_view *view = host->view_range(self->ctx, self->scene_start, self->scene_start + 1, SC_VIEW_FROM_KEYFRAME);
    const sc_packet *first = view ? host->view_packet(view, 0) : NULL;
    bool buffered = first && (int)first->stream_index == self->video_stream && (first->flags & SC_PACKET_KEY) &&
                    first->pts <= self->scene_start;
    if (view)
        host->view_release(view);
    if (buffered)
        return;
    if (self->late_scenes++ == 0)
        host->log(self->ctx, SC_LOG_WARNING,
                  "the buffer no longer holds the start of the scene at %.3f s: scenes are requested "
                  "when they end, so the buffer must hold the longest scene (for a file, all of it: "
                  "raise buffer.max_items and buffer.max_memory_mb), or set max_duration",
                  self->scene_start / 1e9);
}

static void emit_scene(scene_strategy *self, int64_t end, enum cut_cause end_cause, uint32_t flags)
{
    check_start_buffered(self);
    char extra[192];
    snprintf(extra, sizeof(extra),
             "{\"cut_time\":%.6f,\"score\":%.3f,\"cause\":\"%s\",\"end_cause\":\"%s\"}",
             (double)self->scene_start / SC_NSEC_PER_SEC, self->scene_score,
             cause_names[self->scene_cause], cause_names[end_cause]);
    if (end_cause == CAUSE_FORCED)
        flags |= SC_SEGMENT_FORCED;
    sc_segment_request request = {
        .struct_size = sizeof(request),
        .flags = flags,
        .start = self->scene_start,
        .end = end > self->scene_start ? end : self->scene_start + 1,
        .extra_json = extra,
    };
    int64_t index = self->host->segment_emit(self->ctx, &request);
    if (index < 0)
        self->host->log(self->ctx, SC_LOG_WARNING, "the host refused scene [%.3f, %.3f): %" PRId64,
                        request.start / 1e9, request.end / 1e9, index);
}

static void cut(scene_strategy *self, int64_t pts, double score, enum cut_cause cause)
{
    emit_scene(self, pts, cause, 0);
    self->scene_start = pts;
    /* The next scene's end is unknown: keep its start in the buffer. */
    self->host->strategy_hold(self->ctx, pts);
    self->scene_score = score;
    self->scene_cause = cause;
    if (cause == CAUSE_SCENE) {
        self->last_detected_cut = pts;
        self->cuts++;
    } else {
        self->forced_cuts++;
    }
}

/* ---- decisions -------------------------------------------------------- */

/* Whether frame `index` of the window stands out as a cut by score alone. */
static bool is_scene_change(const scene_strategy *self, int index)
{
    const scored_frame *frame = &self->window[index];
    if (!frame->has_score)
        return false;
    if (!self->adaptive)
        return frame->score >= self->threshold;
    if (frame->score < self->adaptive_min_score)
        return false;
    double sum = 0;
    int count = 0;
    for (int i = index - self->adaptive_window; i <= index + self->adaptive_window; i++) {
        if (i < 0 || i >= self->window_count || i == index || !self->window[i].has_score)
            continue;
        sum += self->window[i].score;
        count++;
    }
    double mean = count ? sum / count : 0.0;
    return mean < QUIET_NEIGHBOURS || frame->score >= self->adaptive_ratio * mean;
}

static void decide(scene_strategy *self, int index)
{
    const scored_frame *frame = &self->window[index];
    if (!self->scene_open) {
        self->scene_open = true;
        self->scene_start = frame->pts;
        self->host->strategy_hold(self->ctx, frame->pts);
        self->scene_score = 0.0;
        self->scene_cause = CAUSE_START;
        self->last_detected_cut = frame->pts;
        return;
    }
    if (frame->pts <= self->scene_start)
        return; /* out of order: nothing can start before the open scene */
    if (frame->pts - self->last_detected_cut >= self->min_scene_len && is_scene_change(self, index))
        cut(self, frame->pts, frame->score, CAUSE_SCENE);
    else if (self->max_duration > 0 && frame->pts - self->scene_start >= self->max_duration)
        cut(self, frame->pts, frame->score, CAUSE_FORCED);
}

/* Decides every frame that has enough later neighbours (all of them when
 * `flushing`), then forgets frames no later decision will look at. */
static void decide_ready(scene_strategy *self, bool flushing)
{
    int lookahead = self->adaptive ? self->adaptive_window : 0;
    while (self->window_decided < self->window_count &&
           (flushing || self->window_count - 1 - self->window_decided >= lookahead)) {
        decide(self, self->window_decided);
        self->window_decided++;
    }
    int keep = self->adaptive ? self->adaptive_window : 0;
    int drop = self->window_decided - keep;
    if (drop > 0) {
        memmove(self->window, self->window + drop,
                (size_t)(self->window_count - drop) * sizeof(self->window[0]));
        self->window_count -= drop;
        self->window_decided -= drop;
    }
}

static void on_frame(void *opaque, int64_t pts, double score, bool has_score)
{
    scene_strategy *self = opaque;
    self->last_frame_pts = self->last_frame_pts == SC_TIME_NONE || pts > self->last_frame_pts
                               ? pts : self->last_frame_pts;
    self->window[self->window_count++] = (scored_frame){ .pts = pts, .score = score, .has_score = has_score };
    decide_ready(self, false);
}

/* ---- module operations ------------------------------------------------ */

static int scene_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    scene_strategy *self = calloc(1, sizeof(*self));
    if (!self)
        return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->threshold = host->option_double(ctx, "threshold");
    self->min_scene_len = host->option_duration(ctx, "min_scene_len");
    self->max_duration = host->option_duration(ctx, "max_duration");
    self->downscale_width = (int)host->option_int(ctx, "downscale");
    self->threads = (int)host->option_int(ctx, "threads");
    self->adaptive = host->option_bool(ctx, "adaptive_threshold") != 0;
    self->adaptive_ratio = host->option_double(ctx, "adaptive_ratio");
    self->adaptive_window = (int)host->option_int(ctx, "adaptive_window");
    self->adaptive_min_score = host->option_double(ctx, "adaptive_min_score");
    if (self->adaptive_window < 1 || self->adaptive_window > MAX_ADAPTIVE_WINDOW) {
        host->log(ctx, SC_LOG_ERROR, "adaptive_window must be between 1 and %d", MAX_ADAPTIVE_WINDOW);
        free(self);
        return SC_ERR_INVALID;
    }
    if (self->max_duration > 0 && self->max_duration < self->min_scene_len)
        host->log(ctx, SC_LOG_WARNING, "max_duration is shorter than min_scene_len: "
                  "forced cuts will come before detected ones can");
    self->video_stream = -1;
    self->media_end = SC_TIME_NONE;
    self->last_frame_pts = SC_TIME_NONE;
    *instance = self;
    return SC_OK;
}

static void scene_destroy(void *instance)
{
    scene_strategy *self = instance;
    if (!self)
        return;
    scene_scorer_close(self->scorer);
    free(self);
}

static int find_video_stream(scene_strategy *self)
{
    size_t count = self->host->stream_count(self->ctx);
    for (size_t i = 0; i < count; i++) {
        const sc_stream_info *info = self->host->stream_get(self->ctx, i);
        if (info && info->media_type == SC_MEDIA_VIDEO)
            return (int)i;
    }
    return -2;
}

static int scene_packet(void *instance, const sc_packet *pkt)
{
    scene_strategy *self = instance;
    if (self->video_stream == -1) {
        self->video_stream = find_video_stream(self);
        if (self->video_stream < 0)
            self->host->log(self->ctx, SC_LOG_ERROR, "the source has no video stream: no scenes");
        /* The first scene starts with the stream: keep it from the start. */
        self->host->strategy_hold(self->ctx, pkt->pts);
    }
    if ((int)pkt->stream_index != self->video_stream)
        return SC_OK;
    if (!self->scorer && !self->scorer_failed) {
        const sc_stream_info *info = self->host->stream_get(self->ctx, pkt->stream_index);
        scene_scorer_config config = {
            .downscale_width = self->downscale_width,
            .threads = self->threads,
            .on_frame = on_frame,
            .opaque = self,
        };
        self->scorer = info ? scene_scorer_open(self->host, self->ctx, info, &config) : NULL;
        self->scorer_failed = self->scorer == NULL;
    }
    if (!self->scorer)
        return SC_OK;
    int64_t start = pkt->pts != SC_TIME_NONE ? pkt->pts : pkt->dts;
    if (start != SC_TIME_NONE) {
        int64_t end = start + (pkt->duration > 0 ? pkt->duration : 1);
        if (self->media_end == SC_TIME_NONE || end > self->media_end)
            self->media_end = end;
    }
    scene_scorer_send(self->scorer, pkt);
    return SC_OK;
}

static void scene_flush(void *instance, int reason)
{
    scene_strategy *self = instance;
    if (!self->scorer)
        return;
    scene_scorer_drain(self->scorer);
    decide_ready(self, true);
    if (self->scene_open) {
        int64_t end = self->media_end;
        if (end == SC_TIME_NONE || end <= self->last_frame_pts)
            end = self->last_frame_pts + 1;
        emit_scene(self, end, CAUSE_END, reason == SC_FLUSH_SHUTDOWN ? SC_SEGMENT_PARTIAL : 0);
        self->scene_open = false;
    }
    scene_scorer_report(self->scorer);
    self->host->counter_add(self->ctx, "scene_cuts", self->cuts);
    self->host->counter_add(self->ctx, "forced_cuts", self->forced_cuts);
    if (self->late_scenes)
        self->host->counter_add(self->ctx, "late_scenes", self->late_scenes);
    self->host->log(self->ctx, SC_LOG_INFO, "%" PRId64 " scene cuts, %" PRId64 " forced",
                    self->cuts, self->forced_cuts);
}

static const sc_strategy_ops scene_ops = {
    SC_OPS_INIT(sc_strategy_ops),
    .create = scene_create,
    .destroy = scene_destroy,
    .packet = scene_packet,
    .flush = scene_flush,
};

static const sc_module_descriptor scene_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_STRATEGY,
    .name = "scene",
    .version = "0.1.0",
    .description = "one segment per scene: decodes the video and cuts where a frame's change score "
                   "(0..100 mean absolute YUV difference of downscaled consecutive frames) reaches a "
                   "threshold",
    .options = scene_options,
    .ops = &scene_ops,
};

SC_MODULE_DEFINE(scene_module)
