/* scene_score: the decoding and frame scoring half of the scene strategy
 * (see scene_score.h for what the score is).
 *
 * Every frame must be decoded, since a cut can fall on any of them, so the
 * decoder is told to cut every corner that does not change what a
 * 64-pixel-wide thumbnail looks like: no loop filter, the codec's fast
 * (non-conforming) shortcuts, and reduced-resolution decoding where the
 * codec has it (MPEG-1/2, MJPEG, ...; H.264 and HEVC do not). Payloads go
 * to the decoder without a copy: the AVPacket's buffer holds a reference to
 * the host's packet.
 */
#include "scene_score.h"

#include "../common/av_codec.h"

#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Counters are handed to the host in batches: a frame is a few
 * microseconds of work, a counter update takes a lock. */
#define COUNTER_BATCH 256
/* After damage, frames are skipped until a clean keyframe; a stream that
 * has none (intra refresh) resumes after this long anyway. */
#define LONGEST_TAINT_NS (10 * SC_NSEC_PER_SEC)

/* The compared picture: planar YUV 4:2:0, tightly packed (4 pointers as
 * libavutil's image functions fill, the last unused). */
typedef struct thumbnail {
    uint8_t *planes[4];
    int linesizes[4];
    uint8_t *memory;
} thumbnail;

struct scene_scorer {
    const sc_host_api *host;
    sc_ctx *ctx;
    scene_scorer_config config;

    AVCodecContext *decoder;
    AVPacket *packet;
    AVFrame *frame;
    bool waiting_for_keyframe;   /* after an error: send nothing until a keyframe */
    bool tainted;                /* frames may be built on damaged ones: score
                                    none until a clean keyframe */
    int64_t tainted_since;       /* pts of the first skipped frame, or SC_TIME_NONE */

    struct SwsContext *scaler;
    int input_width;             /* what the scaler was made for */
    int input_height;
    int input_format;
    int thumbnail_width;
    int thumbnail_height;
    thumbnail current;
    thumbnail previous;
    bool have_previous;
    bool unsupported_format_logged;

    int64_t last_pts;
    int64_t frame_interval;      /* ns, for frames without a timestamp */

    int64_t frames_unreported;
};

static const char *format_name(int format)
{
    const char *name = av_get_pix_fmt_name((enum AVPixelFormat)format);
    return name ? name : "unknown";
}

static const char *error_text(int av_error, char *buffer, size_t size)
{
    av_strerror(av_error, buffer, size);
    return buffer;
}

/* ---- decoder ---------------------------------------------------------- */

/* The largest reduction that still leaves at least twice the thumbnail's
 * width, so the area average has real pixels to work with. */
static int choose_lowres(const AVCodec *codec, int width, int thumbnail_width)
{
    int lowres = 0;
    if (width <= 0)
        return 0;
    while (lowres < codec->max_lowres && (width >> (lowres + 1)) >= 2 * thumbnail_width)
        lowres++;
    return lowres;
}

static int open_decoder(scene_scorer *scorer, const sc_stream_info *info)
{
    char reason[AV_ERROR_MAX_STRING_SIZE];
    const sc_host_api *host = scorer->host;
    AVCodecContext *decoder = NULL;
    int ret = sc_av_decoder_alloc(info, &decoder);
    if (ret == AVERROR_DECODER_NOT_FOUND || ret == AVERROR(EINVAL)) {
        host->log(scorer->ctx, SC_LOG_ERROR, "no decoder for video codec '%s': cannot detect scenes",
                  info->codec_name);
        return SC_ERR_UNSUPPORTED;
    }
    if (ret < 0)
        return SC_ERR_NOMEM;
    scorer->decoder = decoder;
    const AVCodec *codec = decoder->codec;

    decoder->skip_loop_filter = AVDISCARD_ALL;
    decoder->flags2 |= AV_CODEC_FLAG2_FAST;
    decoder->lowres = choose_lowres(codec, info->width, scorer->config.downscale_width);
    decoder->thread_count = scorer->config.threads;
    decoder->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;

    ret = avcodec_open2(decoder, codec, NULL);
    if (ret < 0) {
        host->log(scorer->ctx, SC_LOG_ERROR, "cannot open the %s decoder: %s", codec->name,
                  error_text(ret, reason, sizeof(reason)));
        return SC_ERR_UNSUPPORTED;
    }
    host->log(scorer->ctx, SC_LOG_DEBUG, "decoding %s %dx%d with %s (lowres %d, %d threads)",
              info->codec_name, info->width, info->height, codec->name, decoder->lowres,
              decoder->thread_count);
    return SC_OK;
}

/* ---- thumbnails ------------------------------------------------------- */

static void thumbnail_free(thumbnail *picture)
{
    av_freep(&picture->memory);
    memset(picture, 0, sizeof(*picture));
}

static int thumbnail_alloc(thumbnail *picture, int width, int height)
{
    thumbnail_free(picture);
    int size = av_image_get_buffer_size(AV_PIX_FMT_YUV420P, width, height, 1);
    if (size < 0)
        return SC_ERR_INVALID;
    picture->memory = av_malloc((size_t)size);
    if (!picture->memory)
        return SC_ERR_NOMEM;
    av_image_fill_arrays(picture->planes, picture->linesizes, picture->memory,
                         AV_PIX_FMT_YUV420P, width, height, 1);
    return SC_OK;
}

/* Sets up the scaler for the frame's shape. Returns SC_OK, or an error
 * when the frame cannot be scaled (then it is skipped). A new aspect ratio
 * gives a new thumbnail size, which cannot be compared with the old one. */
static int prepare_scaler(scene_scorer *scorer, const AVFrame *frame)
{
    const sc_host_api *host = scorer->host;
    if (scorer->scaler && frame->width == scorer->input_width &&
        frame->height == scorer->input_height && frame->format == scorer->input_format)
        return SC_OK;
    if (!sws_isSupportedInput((enum AVPixelFormat)frame->format)) {
        if (!scorer->unsupported_format_logged)
            host->log(scorer->ctx, SC_LOG_ERROR, "cannot scale pixel format %s: frames not scored",
                      format_name(frame->format));
        scorer->unsupported_format_logged = true;
        return SC_ERR_UNSUPPORTED;
    }
    if (scorer->scaler)
        host->counter_add(scorer->ctx, "resolution_changes", 1);

    int width = scorer->config.downscale_width < frame->width ? scorer->config.downscale_width
                                                              : frame->width;
    width = (width + 1) & ~1;
    int height = (int)(((int64_t)width * frame->height + frame->width / 2) / frame->width);
    height = height < 2 ? 2 : (height + 1) & ~1;

    /* SWS_AREA averages every source pixel into the thumbnail; the
     * "fast" bilinear mode samples only a few and lets noise and fine
     * texture alias into large differences. */
    scorer->scaler = sws_getCachedContext(scorer->scaler, frame->width, frame->height,
                                          (enum AVPixelFormat)frame->format, width, height,
                                          AV_PIX_FMT_YUV420P, SWS_AREA, NULL, NULL, NULL);
    if (!scorer->scaler) {
        host->log(scorer->ctx, SC_LOG_ERROR, "cannot scale %dx%d %s to %dx%d", frame->width,
                  frame->height, format_name(frame->format), width, height);
        scorer->input_width = 0;
        return SC_ERR_UNSUPPORTED;
    }
    scorer->input_width = frame->width;
    scorer->input_height = frame->height;
    scorer->input_format = frame->format;
    if (width != scorer->thumbnail_width || height != scorer->thumbnail_height) {
        scorer->have_previous = false;
        scorer->thumbnail_width = width;
        scorer->thumbnail_height = height;
        if (thumbnail_alloc(&scorer->current, width, height) != SC_OK ||
            thumbnail_alloc(&scorer->previous, width, height) != SC_OK) {
            sws_freeContext(scorer->scaler);
            scorer->scaler = NULL;
            scorer->thumbnail_width = 0;
            return SC_ERR_NOMEM;
        }
    }
    return SC_OK;
}

static uint64_t plane_difference(const uint8_t *a, const uint8_t *b, size_t count)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < count; i++)
        sum += (uint64_t)abs((int)a[i] - (int)b[i]);
    return sum;
}

/* The score defined in scene_score.h, between `current` and `previous`. */
static double thumbnail_score(const scene_scorer *scorer)
{
    size_t luma = (size_t)scorer->thumbnail_width * (size_t)scorer->thumbnail_height;
    size_t chroma = luma / 4;
    const thumbnail *now = &scorer->current, *before = &scorer->previous;
    double mean_y = (double)plane_difference(now->planes[0], before->planes[0], luma) / (double)luma;
    double mean_u = (double)plane_difference(now->planes[1], before->planes[1], chroma) / (double)chroma;
    double mean_v = (double)plane_difference(now->planes[2], before->planes[2], chroma) / (double)chroma;
    return (mean_y + mean_u + mean_v) * (100.0 / 255.0) / 3.0;
}

/* ---- frames ----------------------------------------------------------- */

static int64_t frame_time(scene_scorer *scorer, const AVFrame *frame)
{
    int64_t pts = frame->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE)
        pts = frame->pts;
    if (pts == AV_NOPTS_VALUE)
        pts = scorer->last_pts == SC_TIME_NONE ? 0 : scorer->last_pts + scorer->frame_interval;
    if (scorer->last_pts != SC_TIME_NONE && pts > scorer->last_pts)
        scorer->frame_interval = pts - scorer->last_pts;
    scorer->last_pts = pts;
    return pts;
}

static void count_frame(scene_scorer *scorer)
{
    if (++scorer->frames_unreported >= COUNTER_BATCH) {
        scorer->host->counter_add(scorer->ctx, "frames_decoded", scorer->frames_unreported);
        scorer->frames_unreported = 0;
    }
}

static bool is_keyframe(const AVFrame *frame)
{
#ifdef AV_FRAME_FLAG_KEY
    return (frame->flags & AV_FRAME_FLAG_KEY) != 0;
#else
    return frame->key_frame != 0;
#endif
}

static void score_frame(scene_scorer *scorer, const AVFrame *frame)
{
    count_frame(scorer);
    /* A frame the decoder patched up, or one predicted from it, looks like
     * a cut against a clean one, and so does a clean keyframe against it:
     * skip them all. The next clean keyframe is not compared with the last
     * clean frame either: a GOP or more apart, any motion would pass for a
     * cut. So a cut inside a damaged stretch is not reported. */
    if (frame->decode_error_flags || (frame->flags & AV_FRAME_FLAG_CORRUPT)) {
        scorer->host->counter_add(scorer->ctx, "corrupt_frames", 1);
        scorer->tainted = true;
        return;
    }
    if (scorer->tainted) {
        int64_t pts = frame->best_effort_timestamp;
        if (scorer->tainted_since == SC_TIME_NONE)
            scorer->tainted_since = pts;
        bool too_long = pts != AV_NOPTS_VALUE && scorer->tainted_since != AV_NOPTS_VALUE &&
                        pts - scorer->tainted_since > LONGEST_TAINT_NS;
        if (!is_keyframe(frame) && !too_long) {
            scorer->host->counter_add(scorer->ctx, "skipped_frames", 1);
            return;
        }
        scorer->tainted = false;
        scorer->tainted_since = SC_TIME_NONE;
        scorer->have_previous = false;
    }
    int64_t pts = frame_time(scorer, frame);
    if (prepare_scaler(scorer, frame) != SC_OK)
        return;
    sws_scale(scorer->scaler, (const uint8_t *const *)frame->data, frame->linesize, 0,
              frame->height, scorer->current.planes, scorer->current.linesizes);
    bool has_score = scorer->have_previous;
    double score = has_score ? thumbnail_score(scorer) : 0.0;
    thumbnail swap = scorer->previous;
    scorer->previous = scorer->current;
    scorer->current = swap;
    scorer->have_previous = true;
    scorer->config.on_frame(scorer->config.opaque, pts, score, has_score);
}

/* Drops what the decoder holds and waits for a keyframe to restart from,
 * so garbage from a damaged reference never reaches the scores. */
static void decoder_failed(scene_scorer *scorer, int av_error)
{
    char reason[AV_ERROR_MAX_STRING_SIZE];
    scorer->host->counter_add(scorer->ctx, "decode_errors", 1);
    scorer->host->log(scorer->ctx, SC_LOG_DEBUG, "decoding failed (%s); resuming at the next keyframe",
                      error_text(av_error, reason, sizeof(reason)));
    scorer->waiting_for_keyframe = true;
    scorer->tainted = true;
}

/* Takes every frame the decoder has ready; false after an error. */
static bool receive_frames(scene_scorer *scorer)
{
    for (;;) {
        int ret = avcodec_receive_frame(scorer->decoder, scorer->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return true;
        if (ret < 0) {
            decoder_failed(scorer, ret);
            return false;
        }
        score_frame(scorer, scorer->frame);
        av_frame_unref(scorer->frame);
    }
}

/* ---- public ----------------------------------------------------------- */

scene_scorer *scene_scorer_open(const sc_host_api *host, sc_ctx *ctx, const sc_stream_info *info,
                                const scene_scorer_config *config)
{
    scene_scorer *scorer = calloc(1, sizeof(*scorer));
    if (!scorer)
        return NULL;
    scorer->host = host;
    scorer->ctx = ctx;
    scorer->config = *config;
    scorer->last_pts = SC_TIME_NONE;
    scorer->tainted_since = SC_TIME_NONE;
    scorer->frame_interval = info->fps_num > 0 && info->fps_den > 0
                                 ? SC_NSEC_PER_SEC * info->fps_den / info->fps_num
                                 : SC_NSEC_PER_SEC / 25;
    scorer->packet = av_packet_alloc();
    scorer->frame = av_frame_alloc();
    if (!scorer->packet || !scorer->frame || open_decoder(scorer, info) != SC_OK) {
        scene_scorer_close(scorer);
        return NULL;
    }
    return scorer;
}

void scene_scorer_send(scene_scorer *scorer, const sc_packet *packet)
{
    if (packet->size == 0 || packet->size > INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
        return; /* an empty packet would mean "end of stream" to the decoder */
    if (scorer->waiting_for_keyframe) {
        if (!(packet->flags & SC_PACKET_KEY))
            return;
        avcodec_flush_buffers(scorer->decoder);
        scorer->waiting_for_keyframe = false;
    }
    if (sc_av_packet_borrow(scorer->host, packet, scorer->packet) != SC_OK) {
        scorer->host->counter_add(scorer->ctx, "decode_errors", 1);
        return;
    }
    int ret = avcodec_send_packet(scorer->decoder, scorer->packet);
    if (ret == AVERROR(EAGAIN) && receive_frames(scorer))
        ret = avcodec_send_packet(scorer->decoder, scorer->packet);
    av_packet_unref(scorer->packet);
    if (ret < 0) {
        if (!scorer->waiting_for_keyframe)
            decoder_failed(scorer, ret);
        return;
    }
    receive_frames(scorer);
}

void scene_scorer_drain(scene_scorer *scorer)
{
    if (scorer->waiting_for_keyframe)
        return;
    int ret = avcodec_send_packet(scorer->decoder, NULL);
    if (ret < 0 && ret != AVERROR_EOF) {
        decoder_failed(scorer, ret);
        return;
    }
    receive_frames(scorer);
}

void scene_scorer_report(scene_scorer *scorer)
{
    if (scorer->frames_unreported) {
        scorer->host->counter_add(scorer->ctx, "frames_decoded", scorer->frames_unreported);
        scorer->frames_unreported = 0;
    }
}

void scene_scorer_close(scene_scorer *scorer)
{
    if (!scorer)
        return;
    avcodec_free_context(&scorer->decoder);
    av_packet_free(&scorer->packet);
    av_frame_free(&scorer->frame);
    sws_freeContext(scorer->scaler);
    thumbnail_free(&scorer->current);
    thumbnail_free(&scorer->previous);
    free(scorer);
}
