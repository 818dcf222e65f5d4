/* thumbnail: a sink that decodes each segment's video and writes still
 * pictures of it as JPEG or PNG files.
 *
 * Decoding starts at the segment's first packet, which the host always
 * makes a keyframe of the reference (first video) stream. The first clean
 * picture at or after that keyframe becomes thumbnail 0; with `every`, one
 * more is taken from the first picture at or after each further `every`
 * since then, up to the segment's end (or max_per_segment). Pictures are
 * scaled to `width` (square pixels: the height follows the display aspect
 * ratio, rounded to an even number) with libswscale and encoded with
 * libavcodec's mjpeg (full-range YUV 4:2:0) or png (RGB) encoder.
 *
 * Files are named by a path template (path_template.h, as clip's, plus
 * {n}, the thumbnail's number within its segment), written under a hidden
 * temporary name and renamed into place. The first one's path is recorded
 * on the segment as "thumbnail" and "thumbnail.<instance>", so record
 * sinks (jsonl, ...) that run afterwards can name it.
 *
 * Pictures the decoder reports damaged are skipped; after a decoding error
 * nothing is sent until the next keyframe. A segment that yields no
 * picture at all is counted (decode_failures) and reported as a failure.
 */
#include <streamcut/streamcut.h>

#include "../common/av_codec.h"
#include "../common/output_file.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

/* Largest picture side written; also the option's range. */
#define MAX_SIDE 16384
/* mjpeg's quantizer scale: 2 is its finest, 31 its coarsest. */
#define FINEST_QSCALE 2
#define COARSEST_QSCALE 31

enum image_format { IMAGE_JPEG, IMAGE_PNG };

/* What a scaler was made for: everything swscale fixes when it starts. */
typedef struct scaler_setup {
    int source_width, source_height, source_format, source_full_range, source_colorspace;
    int width, height, format;
} scaler_setup;

typedef struct thumbnail_sink {
    const sc_host_api *host;
    sc_ctx *ctx;
    sc_file_output output;     /* records thumbnail 0 as "thumbnail" and "thumbnail.<instance>" */
    enum image_format format;
    int width;                 /* 0 = the source's */
    int64_t every;             /* ns; 0 = the first picture only */
    int qscale;                /* mjpeg quantizer for `quality` */
    int64_t max_per_segment;   /* 0 = no cap */
    int threads;
    bool no_video_logged;

    /* Kept from one thumbnail to the next while the picture's shape stays. */
    AVCodecContext *encoder;
    struct SwsContext *scaler;
    scaler_setup scaler_made_for;
    AVFrame *scaled;
    AVPacket *encoded;
    int64_t pictures_encoded;  /* frame pts for the encoder, which wants them increasing */
} thumbnail_sink;

static const sc_option_spec thumbnail_options[] = {
    {
        .name = "path",
        .type = SC_OPT_STRING,
        .flags = SC_OPT_REQUIRED,
        .help = "output path template, e.g. thumbs/{source}/{index:05}-{n:02}.jpg; placeholders "
                "{source} {strategy} {index[:width]} {start} {end} {label} and {n[:width]} (the "
                "thumbnail's number in its segment, from 0); files stay inside the folder before "
                "the first {",
    },
    {
        .name = "format",
        .type = SC_OPT_ENUM,
        .default_value = "auto",
        .choices = "auto|jpeg|png",
        .help = "image format; auto = png when the path ends in .png, else jpeg",
    },
    {
        .name = "width",
        .type = SC_OPT_INT,
        .default_value = "0",
        .min = 0,
        .max = MAX_SIDE,
        .help = "picture width in pixels; the height keeps the display aspect ratio (square "
                "pixels), rounded to an even number; 0 = the source's width",
    },
    {
        .name = "every",
        .type = SC_OPT_DURATION,
        .default_value = "0",
        .min = 0,
        .max = 86400,
        .help = "0 = one thumbnail per segment, its first keyframe's picture; else also one "
                "every this long after it, up to the segment's end (the path needs {n})",
    },
    {
        .name = "quality",
        .type = SC_OPT_INT,
        .default_value = "90",
        .min = 1,
        .max = 100,
        .help = "JPEG quality, 1 (smallest files) to 100 (best), mapped linearly onto mjpeg's "
                "qscale 31..2; png is lossless and ignores it",
    },
    {
        .name = "max_per_segment",
        .type = SC_OPT_INT,
        .default_value = "0",
        .min = 0,
        .max = 1000000,
        .help = "at most this many thumbnails per segment; 0 = no limit",
    },
    {
        .name = "threads",
        .type = SC_OPT_INT,
        .default_value = "1",
        .min = 0,
        .max = 64,
        .help = "decoder threads per segment; 0 = FFmpeg's choice (one per core)",
    },
    { .name = NULL },
};

static void count(thumbnail_sink *sink, const char *name, int64_t delta)
{
    if (delta != 0)
        sink->host->counter_add(sink->ctx, name, delta);
}

static const char *format_name(int format)
{
    const char *name = av_get_pix_fmt_name((enum AVPixelFormat)format);
    return name ? name : "unknown";
}

/* quality 100 -> qscale 2, quality 1 -> qscale 31, linear in between. */
static int qscale_for_quality(int quality)
{
    int span = COARSEST_QSCALE - FINEST_QSCALE;
    return FINEST_QSCALE + ((100 - quality) * span + 49) / 99;
}

/* ---- one segment ---- */

typedef struct thumbnail_job {
    thumbnail_sink *sink;
    const sc_segment *segment;
    uint32_t stream_index;
    AVCodecContext *decoder;
    AVPacket *packet;
    AVFrame *frame;
    bool waiting_for_keyframe;  /* after a decoding error */
    bool done;                  /* nothing more is wanted from this segment */
    int64_t last_pts;           /* of the last picture, for pictures without one */
    int64_t frame_interval;
    int64_t origin;             /* pts of thumbnail 0, SC_TIME_NONE before it */
    int64_t next_due;           /* pts from which the next thumbnail is taken */
    uint64_t written;
    int64_t decode_errors;
    int64_t corrupt_frames;
    int status;                 /* first failure writing a thumbnail, SC_OK if none */
    char first_path[PATH_MAX];
} thumbnail_job;

static void log_segment(const thumbnail_job *job, int level, const char *fmt, ...) SC_PRINTF(3, 4);

static void log_segment(const thumbnail_job *job, int level, const char *fmt, ...)
{
    char message[768];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    const sc_segment *segment = job->segment;
    job->sink->host->log(job->sink->ctx, level, "segment %" PRIu64 " of %s: %s", segment->index,
                         segment->strategy ? segment->strategy : "?", message);
}

/* The picture's size on screen, in square pixels, at the requested width. */
static void output_size(const thumbnail_sink *sink, const AVFrame *frame,
                        AVRational fallback_aspect, int *width, int *height)
{
    AVRational aspect = frame->sample_aspect_ratio;
    if (aspect.num <= 0 || aspect.den <= 0)
        aspect = fallback_aspect;
    if (aspect.num <= 0 || aspect.den <= 0)
        aspect = (AVRational){ 1, 1 };
    int out_width = sink->width > 0 ? sink->width : frame->width;
    /* height = out_width * frame_height / (frame_width * aspect), to the nearest even number */
    double exact = (double)out_width * frame->height * aspect.den /
                   ((double)frame->width * aspect.num);
    int64_t out_height = 2 * (int64_t)(exact / 2.0 + 0.5);
    if (out_height < 2)
        out_height = 2;
    if (out_height > MAX_SIDE)
        out_height = MAX_SIDE;
    *width = out_width;
    *height = (int)out_height;
}

static enum AVPixelFormat encoder_pixel_format(enum image_format format)
{
    /* mjpeg in the FFmpeg we build against takes full range through the
     * JPEG pixel formats; png has no YUV. */
    return format == IMAGE_PNG ? AV_PIX_FMT_RGB24 : AV_PIX_FMT_YUVJ420P;
}

static void release_encoder(thumbnail_sink *sink)
{
    avcodec_free_context(&sink->encoder);
    av_frame_free(&sink->scaled);
}

/* An encoder, and the frame it reads, for pictures of width x height. */
static int prepare_encoder(thumbnail_sink *sink, int width, int height)
{
    if (sink->encoder && sink->encoder->width == width && sink->encoder->height == height)
        return 0;
    release_encoder(sink);
    enum AVPixelFormat pixel_format = encoder_pixel_format(sink->format);
    const AVCodec *codec =
        avcodec_find_encoder(sink->format == IMAGE_PNG ? AV_CODEC_ID_PNG : AV_CODEC_ID_MJPEG);
    if (codec == NULL)
        return AVERROR_ENCODER_NOT_FOUND;
    AVCodecContext *encoder = avcodec_alloc_context3(codec);
    AVFrame *scaled = av_frame_alloc();
    if (encoder == NULL || scaled == NULL) {
        avcodec_free_context(&encoder);
        av_frame_free(&scaled);
        return AVERROR(ENOMEM);
    }
    encoder->width = width;
    encoder->height = height;
    encoder->pix_fmt = pixel_format;
    encoder->time_base = (AVRational){ 1, 25 };
    encoder->sample_aspect_ratio = (AVRational){ 1, 1 };
    encoder->thread_count = 1;
    if (sink->format == IMAGE_JPEG) {
        encoder->color_range = AVCOL_RANGE_JPEG;
        encoder->flags |= AV_CODEC_FLAG_QSCALE;
        encoder->global_quality = sink->qscale * FF_QP2LAMBDA;
    }
    int status = avcodec_open2(encoder, codec, NULL);
    if (status >= 0) {
        scaled->format = pixel_format;
        scaled->width = width;
        scaled->height = height;
        status = av_frame_get_buffer(scaled, 0);
    }
    if (status < 0) {
        avcodec_free_context(&encoder);
        av_frame_free(&scaled);
        return status;
    }
    sink->encoder = encoder;
    sink->scaled = scaled;
    return 0;
}

/* The JPEG pixel formats are the plain ones at full range; swscale warns
 * about them, so it is told the range instead. */
static enum AVPixelFormat without_jpeg_range(enum AVPixelFormat format, int *full_range)
{
    static const enum AVPixelFormat pairs[][2] = {
        { AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUV420P }, { AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUV422P },
        { AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUV444P }, { AV_PIX_FMT_YUVJ440P, AV_PIX_FMT_YUV440P },
        { AV_PIX_FMT_YUVJ411P, AV_PIX_FMT_YUV411P },
    };
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        if (pairs[i][0] == format) {
            *full_range = 1;
            return pairs[i][1];
        }
    }
    return format;
}

/* A scaler for `frame` into sink->scaled's shape. The ranges must be set
 * before swscale starts: it picks its unscaled shortcuts (which cannot
 * change the range) then. */
static int prepare_scaler(thumbnail_sink *sink, const AVFrame *frame)
{
    const AVFrame *scaled = sink->scaled;
    scaler_setup wanted = {
        .source_width = frame->width,
        .source_height = frame->height,
        .source_full_range = frame->color_range == AVCOL_RANGE_JPEG,
        .source_colorspace = frame->colorspace,
        .width = scaled->width,
        .height = scaled->height,
    };
    int destination_full_range = 1; /* RGB, and JPEG's YUV */
    wanted.source_format = without_jpeg_range((enum AVPixelFormat)frame->format,
                                              &wanted.source_full_range);
    wanted.format = without_jpeg_range((enum AVPixelFormat)scaled->format, &destination_full_range);
    if (sink->scaler && memcmp(&wanted, &sink->scaler_made_for, sizeof(wanted)) == 0)
        return 0;
    sws_freeContext(sink->scaler);
    sink->scaler = sws_alloc_context();
    if (sink->scaler == NULL)
        return AVERROR(ENOMEM);
    av_opt_set_int(sink->scaler, "srcw", wanted.source_width, 0);
    av_opt_set_int(sink->scaler, "srch", wanted.source_height, 0);
    av_opt_set_int(sink->scaler, "src_format", wanted.source_format, 0);
    av_opt_set_int(sink->scaler, "src_range", wanted.source_full_range, 0);
    av_opt_set_int(sink->scaler, "dstw", wanted.width, 0);
    av_opt_set_int(sink->scaler, "dsth", wanted.height, 0);
    av_opt_set_int(sink->scaler, "dst_format", wanted.format, 0);
    av_opt_set_int(sink->scaler, "dst_range", destination_full_range, 0);
    av_opt_set_int(sink->scaler, "sws_flags", SWS_BICUBIC, 0);
    int status = sws_init_context(sink->scaler, NULL, NULL);
    if (status < 0) {
        sws_freeContext(sink->scaler);
        sink->scaler = NULL;
        return status;
    }
    /* The source's matrix, so RGB comes out right. (swscale leaves a YUV
     * picture's matrix as it is: a BT.709 source's JPEG is read with
     * BT.601's, a shift most viewers make anyway.) */
    sws_setColorspaceDetails(sink->scaler, sws_getCoefficients(wanted.source_colorspace),
                             wanted.source_full_range, sws_getCoefficients(SWS_CS_ITU601),
                             destination_full_range, 0, 1 << 16, 1 << 16);
    sink->scaler_made_for = wanted;
    return 0;
}

/* Scales `frame` into sink->scaled. */
static int scale_picture(thumbnail_sink *sink, const AVFrame *frame)
{
    int status = prepare_scaler(sink, frame);
    if (status < 0)
        return status;
    AVFrame *scaled = sink->scaled;
    status = av_frame_make_writable(scaled);
    if (status < 0)
        return status;
    status = sws_scale(sink->scaler, (const uint8_t *const *)frame->data, frame->linesize, 0,
                       frame->height, scaled->data, scaled->linesize);
    return status > 0 ? 0 : AVERROR(EINVAL);
}

/* Encodes sink->scaled into sink->encoded (one self-contained image). */
static int encode_picture(thumbnail_sink *sink)
{
    AVFrame *scaled = sink->scaled;
    scaled->pts = sink->pictures_encoded++;
    scaled->quality = sink->format == IMAGE_JPEG ? sink->qscale * FF_QP2LAMBDA : 0;
    scaled->pict_type = AV_PICTURE_TYPE_I;
    int status = avcodec_send_frame(sink->encoder, scaled);
    if (status < 0)
        return status;
    status = avcodec_receive_packet(sink->encoder, sink->encoded);
    /* Both encoders are intra-only without delay: no packet is a failure. */
    return status == AVERROR(EAGAIN) ? AVERROR_BUG : status;
}

/* Writes the encoded picture to `final_path` through a temporary file. */
static int write_image_file(thumbnail_job *job, const char *final_path)
{
    thumbnail_sink *sink = job->sink;
    char temp_path[PATH_MAX];
    int fd = sc_file_output_open_temp(&sink->output, final_path, temp_path, sizeof(temp_path));
    if (fd < 0)
        return fd;
    int error = sc_output_write_all(fd, sink->encoded->data, (size_t)sink->encoded->size);
    if (close(fd) != 0 && error == 0)
        error = errno;
    if (error == 0)
        error = sc_output_publish(temp_path, final_path, 1);
    if (error != 0) {
        unlink(temp_path);
        sink->host->log(sink->ctx, SC_LOG_ERROR, "%s: writing failed: %s", final_path,
                        strerror(error));
        return SC_ERR_IO;
    }
    count(sink, "bytes_written", sink->encoded->size);
    return SC_OK;
}

static int write_thumbnail(thumbnail_job *job, const AVFrame *frame)
{
    thumbnail_sink *sink = job->sink;
    char final_path[PATH_MAX];
    int status = sc_file_output_path(&sink->output, job->segment, job->written, final_path,
                                     sizeof(final_path));
    if (status != SC_OK)
        return status;

    int width, height;
    output_size(sink, frame, job->decoder->sample_aspect_ratio, &width, &height);
    int av_status = prepare_encoder(sink, width, height);
    const char *what = "cannot set up the encoder";
    if (av_status >= 0) {
        what = "cannot scale the picture";
        if (!sws_isSupportedInput((enum AVPixelFormat)frame->format))
            av_status = AVERROR(ENOSYS);
        else
            av_status = scale_picture(sink, frame);
    }
    if (av_status >= 0) {
        what = "encoding failed";
        av_status = encode_picture(sink);
    }
    if (av_status < 0) {
        log_segment(job, SC_LOG_ERROR, "%s: %s (%dx%d %s to %dx%d %s): %s", final_path, what,
                    frame->width, frame->height, format_name(frame->format), width, height,
                    sink->format == IMAGE_PNG ? "png" : "jpeg", av_err2str(av_status));
        return av_status == AVERROR(ENOMEM) ? SC_ERR_NOMEM : SC_ERR_UNSUPPORTED;
    }
    status = write_image_file(job, final_path);
    av_packet_unref(sink->encoded);
    if (status != SC_OK)
        return status;

    if (job->written == 0) {
        snprintf(job->first_path, sizeof(job->first_path), "%s", final_path);
        sc_file_output_record(&sink->output, job->segment, final_path);
    }
    job->written++;
    count(sink, "thumbnails_written", 1);
    return SC_OK;
}

static bool frame_is_damaged(const AVFrame *frame)
{
    return frame->decode_error_flags != 0 || (frame->flags & AV_FRAME_FLAG_CORRUPT) != 0;
}

/* The picture's time; one interval after the last for a picture without one. */
static int64_t frame_time(thumbnail_job *job, const AVFrame *frame)
{
    int64_t pts = frame->best_effort_timestamp;
    if (pts == AV_NOPTS_VALUE)
        pts = frame->pts;
    if (pts == AV_NOPTS_VALUE)
        pts = job->last_pts == SC_TIME_NONE ? job->segment->keyframe_start
                                            : job->last_pts + job->frame_interval;
    job->last_pts = pts;
    return pts;
}

/* Decides whether `frame` becomes a thumbnail, and writes it. */
static void take_frame(thumbnail_job *job, const AVFrame *frame)
{
    const sc_segment *segment = job->segment;
    thumbnail_sink *sink = job->sink;
    int64_t pts = frame_time(job, frame);
    if (frame_is_damaged(frame)) {
        job->corrupt_frames++;
        return;
    }
    if (job->origin == SC_TIME_NONE) {
        /* Pictures shown before the keyframe (an open GOP's leading ones)
         * refer to the GOP before it, which the segment does not have. */
        if (segment->keyframe_start != SC_TIME_NONE && pts < segment->keyframe_start)
            return;
    } else if (pts < job->next_due) {
        return;
    } else if (segment->end != SC_TIME_NONE && pts >= segment->end) {
        job->done = true;
        return;
    }

    int status = write_thumbnail(job, frame);
    if (status != SC_OK) {
        if (job->status == SC_OK)
            job->status = status;
        job->done = true;
        return;
    }
    if (job->origin == SC_TIME_NONE)
        job->origin = pts;
    if (sink->every <= 0 ||
        (sink->max_per_segment > 0 && job->written >= (uint64_t)sink->max_per_segment)) {
        job->done = true;
        return;
    }
    /* The next slot after this picture; slots a gap skipped are not made up. */
    int64_t slots = (pts - job->origin) / sink->every + 1;
    job->next_due = job->origin + slots * sink->every;
}

static void decoding_failed(thumbnail_job *job, int av_status)
{
    job->decode_errors++;
    job->waiting_for_keyframe = true;
    log_segment(job, SC_LOG_DEBUG, "decoding failed (%s); resuming at the next keyframe",
                av_err2str(av_status));
}

/* Takes every picture the decoder has ready. */
static void receive_frames(thumbnail_job *job)
{
    while (!job->done) {
        int status = avcodec_receive_frame(job->decoder, job->frame);
        if (status == AVERROR(EAGAIN) || status == AVERROR_EOF)
            return;
        if (status < 0) {
            decoding_failed(job, status);
            return;
        }
        take_frame(job, job->frame);
        av_frame_unref(job->frame);
    }
}

static void send_packet(thumbnail_job *job, const sc_packet *packet)
{
    if (job->waiting_for_keyframe) {
        if (!(packet->flags & SC_PACKET_KEY))
            return;
        avcodec_flush_buffers(job->decoder);
        job->waiting_for_keyframe = false;
    }
    /* A picture shown before the next one due is never written: unless
     * other pictures refer to it, it need not be decoded at all. */
    bool never_written = job->origin != SC_TIME_NONE && packet->pts != SC_TIME_NONE &&
                         packet->pts < job->next_due;
    job->decoder->skip_frame = never_written ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
    int status = sc_av_packet_borrow(job->sink->host, packet, job->packet);
    if (status == SC_ERR_INVALID)
        return; /* no payload: an empty packet would mean "end of stream" */
    if (status != SC_OK) {
        job->decode_errors++;
        return;
    }
    int av_status = avcodec_send_packet(job->decoder, job->packet);
    if (av_status == AVERROR(EAGAIN)) {
        receive_frames(job);
        if (!job->done)
            av_status = avcodec_send_packet(job->decoder, job->packet);
    }
    av_packet_unref(job->packet);
    if (av_status < 0 && av_status != AVERROR(EAGAIN)) {
        decoding_failed(job, av_status);
        return;
    }
    receive_frames(job);
}

/* Has the decoder give up what it holds (it stays at end of stream). */
static void drain_decoder(thumbnail_job *job)
{
    int av_status = avcodec_send_packet(job->decoder, NULL);
    if (av_status < 0 && av_status != AVERROR_EOF)
        decoding_failed(job, av_status);
    else
        receive_frames(job);
}

/* The first picture alone: the keyframe is sent and the decoder drained at
 * once, so its picture comes out without decoding the frames that
 * reordering would otherwise wait for. When that gives no picture (a
 * keyframe that only starts a gradual refresh, damage), the decoder is
 * left ready for the segment to be decoded in full. */
static void write_keyframe_alone(thumbnail_job *job, const sc_packet *keyframe)
{
    send_packet(job, keyframe);
    if (!job->done && !job->waiting_for_keyframe)
        drain_decoder(job);
    if (job->done)
        return;
    avcodec_flush_buffers(job->decoder);
    job->waiting_for_keyframe = false;
}

static int open_decoder(thumbnail_job *job, const sc_stream_info *info)
{
    thumbnail_sink *sink = job->sink;
    int status = sc_av_decoder_alloc(info, &job->decoder);
    if (status == AVERROR_DECODER_NOT_FOUND || status == AVERROR(EINVAL)) {
        log_segment(job, SC_LOG_ERROR, "no decoder for video codec '%s'",
                    info->codec_name ? info->codec_name : "(none)");
        return SC_ERR_UNSUPPORTED;
    }
    if (status < 0)
        return SC_ERR_NOMEM;
    job->decoder->thread_count = sink->threads;
    job->decoder->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
    status = avcodec_open2(job->decoder, job->decoder->codec, NULL);
    if (status < 0) {
        log_segment(job, SC_LOG_ERROR, "cannot open the %s decoder: %s", job->decoder->codec->name,
                    av_err2str(status));
        return SC_ERR_UNSUPPORTED;
    }
    return SC_OK;
}

static void close_job(thumbnail_job *job)
{
    avcodec_free_context(&job->decoder);
    av_packet_free(&job->packet);
    av_frame_free(&job->frame);
}

static int thumbnail_consume(void *instance, const sc_segment *segment)
{
    thumbnail_sink *sink = instance;
    const sc_host_api *host = sink->host;
    uint32_t stream_index = segment->reference_stream;
    const sc_stream_info *info = stream_index < segment->stream_count
                                     ? segment->streams[stream_index] : NULL;
    if (info == NULL || info->media_type != SC_MEDIA_VIDEO) {
        if (!sink->no_video_logged)
            host->log(sink->ctx, SC_LOG_WARNING, "segment %" PRIu64 " of %s has no video stream: "
                      "no thumbnail (further such segments are only counted)", segment->index,
                      segment->strategy ? segment->strategy : "?");
        sink->no_video_logged = true;
        count(sink, "segments_without_video", 1);
        return SC_OK;
    }

    int64_t started = host->monotonic_ns();
    thumbnail_job job = {
        .sink = sink,
        .segment = segment,
        .stream_index = stream_index,
        .last_pts = SC_TIME_NONE,
        .frame_interval = info->fps_num > 0 && info->fps_den > 0
                              ? SC_NSEC_PER_SEC * info->fps_den / info->fps_num
                              : SC_NSEC_PER_SEC / 25,
        .origin = SC_TIME_NONE,
        .status = SC_OK,
    };
    /* Refuse a path before spending a decode on it. */
    char first_path[PATH_MAX];
    int status = sc_file_output_path(&sink->output, segment, 0, first_path, sizeof(first_path));
    if (status != SC_OK)
        return status;

    job.packet = av_packet_alloc();
    job.frame = av_frame_alloc();
    if (job.packet == NULL || job.frame == NULL) {
        close_job(&job);
        return SC_ERR_NOMEM;
    }
    status = open_decoder(&job, info);
    if (status != SC_OK) {
        close_job(&job);
        count(sink, "decode_failures", 1);
        return status;
    }

    const sc_packet *first = NULL;
    for (size_t i = 0; i < segment->packet_count && first == NULL; i++)
        if (segment->packets[i] != NULL && segment->packets[i]->stream_index == stream_index)
            first = segment->packets[i];
    if (sink->every <= 0 && first != NULL && (first->flags & SC_PACKET_KEY))
        write_keyframe_alone(&job, first);

    size_t packets_sent = 0;
    for (size_t i = 0; i < segment->packet_count && !job.done; i++) {
        const sc_packet *packet = segment->packets[i];
        if (packet == NULL || packet->stream_index != stream_index)
            continue;
        send_packet(&job, packet);
        packets_sent++;
    }
    if (!job.done && !job.waiting_for_keyframe)
        drain_decoder(&job);
    close_job(&job);
    count(sink, "decode_errors", job.decode_errors);
    count(sink, "corrupt_frames", job.corrupt_frames);

    if (job.status != SC_OK)
        return job.status;
    if (job.written == 0) {
        count(sink, "decode_failures", 1);
        log_segment(&job, SC_LOG_ERROR, "%s: no picture could be decoded from %zu video packets "
                    "(%" PRId64 " decoding errors, %" PRId64 " damaged pictures)", first_path,
                    packets_sent, job.decode_errors, job.corrupt_frames);
        return SC_ERR_INVALID;
    }
    host->log(sink->ctx, SC_LOG_DEBUG, "%s: %" PRIu64 " thumbnail(s) in %.1f ms", job.first_path,
              job.written, (double)(host->monotonic_ns() - started) / 1e6);
    return SC_OK;
}

/* ---- lifecycle ---- */

/* png when the template's file name ends in .png, else jpeg. */
static enum image_format format_from_extension(const char *template_text)
{
    const char *name = strrchr(template_text, '/');
    const char *dot = strrchr(name ? name : template_text, '.');
    return dot != NULL && strcasecmp(dot, ".png") == 0 ? IMAGE_PNG : IMAGE_JPEG;
}

static void thumbnail_destroy(void *instance)
{
    thumbnail_sink *sink = instance;
    if (sink == NULL)
        return;
    release_encoder(sink);
    sws_freeContext(sink->scaler);
    av_packet_free(&sink->encoded);
    sc_file_output_release(&sink->output);
    free(sink);
}

static int thumbnail_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    thumbnail_sink *sink = calloc(1, sizeof(*sink));
    if (sink == NULL)
        return SC_ERR_NOMEM;
    sink->host = host;
    sink->ctx = ctx;

    int status = sc_file_output_init(&sink->output, host, ctx, "thumbnail", SC_PATH_NUMBER);
    if (status != SC_OK) {
        thumbnail_destroy(sink);
        return status;
    }
    const char *template_text = host->option_string(ctx, "path");
    const char *format = host->option_string(ctx, "format");
    if (format != NULL && strcmp(format, "png") == 0)
        sink->format = IMAGE_PNG;
    else if (format != NULL && strcmp(format, "jpeg") == 0)
        sink->format = IMAGE_JPEG;
    else
        sink->format = format_from_extension(template_text);
    sink->width = (int)host->option_int(ctx, "width");
    sink->every = host->option_duration(ctx, "every");
    sink->qscale = qscale_for_quality((int)host->option_int(ctx, "quality"));
    sink->max_per_segment = host->option_int(ctx, "max_per_segment");
    sink->threads = (int)host->option_int(ctx, "threads");

    if (sink->every > 0 && sink->max_per_segment != 1 &&
        !sc_path_template_uses(sink->output.path_template, SC_PATH_NUMBER)) {
        host->log(ctx, SC_LOG_ERROR, "path = %s: with every set, a segment gets several "
                  "thumbnails, which need different names: put {n} in the path (e.g. "
                  "...-{n:03}.jpg), or set max_per_segment = 1", template_text);
        thumbnail_destroy(sink);
        return SC_ERR_INVALID;
    }
    if (avcodec_find_encoder(sink->format == IMAGE_PNG ? AV_CODEC_ID_PNG : AV_CODEC_ID_MJPEG) ==
        NULL) {
        host->log(ctx, SC_LOG_ERROR, "this FFmpeg has no %s encoder",
                  sink->format == IMAGE_PNG ? "png" : "mjpeg");
        thumbnail_destroy(sink);
        return SC_ERR_UNSUPPORTED;
    }

    sink->encoded = av_packet_alloc();
    if (sink->encoded == NULL) {
        thumbnail_destroy(sink);
        return SC_ERR_NOMEM;
    }
    status = sc_file_output_make_base(&sink->output);
    if (status != SC_OK) {
        thumbnail_destroy(sink);
        return status;
    }
    host->log(ctx, SC_LOG_DEBUG, "thumbnails go under %s as %s",
              sc_path_template_base(sink->output.path_template),
              sink->format == IMAGE_PNG ? "png" : "jpeg");
    *instance = sink;
    return SC_OK;
}

static const sc_sink_ops thumbnail_ops = {
    SC_OPS_INIT(sc_sink_ops),
    .create = thumbnail_create,
    .destroy = thumbnail_destroy,
    .consume = thumbnail_consume,
};

static const sc_module_descriptor thumbnail_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SINK,
    .flags = SC_MODULE_PRODUCES_FILES,
    .name = "thumbnail",
    .version = "0.1.0",
    .description = "decode each segment's first keyframe (or a picture every N seconds) into "
                   "JPEG or PNG files at a chosen width",
    .options = thumbnail_options,
    .ops = &thumbnail_ops,
};

SC_MODULE_DEFINE(thumbnail_module)
