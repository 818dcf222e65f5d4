/* clip: a sink that remuxes every segment into a file, without re-encoding.
 *
 * The file name comes from a path template (path_template.h). Each clip is
 * written to a hidden temporary file in its final folder and renamed into
 * place, so readers never see a half-written clip. The muxer writes through
 * our own AVIOContext over that descriptor, which lets seeking muxers (mp4's
 * moov, mkv's cues) go back and patch headers.
 */
#include <streamcut/streamcut.h>

#include "../common/av_codec.h"
#include "../common/output_file.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/bsf.h>
#include <libavformat/avformat.h>
#include <libavutil/mathematics.h>

#define IO_BUFFER_SIZE (64 * 1024)
/* How many distinct "cannot write this stream" warnings an instance logs
 * before going quiet (the counter keeps counting). */
#define MAX_WARNED_STREAMS 16

/* FFmpeg 6.1 made the AVIO write callback take a const buffer. */
#if LIBAVFORMAT_VERSION_MAJOR >= 61
typedef const uint8_t *avio_write_buffer;
#else
typedef uint8_t *avio_write_buffer;
#endif

static const AVRational nanosecond_time_base = { 1, 1000000000 };

typedef struct clip_sink {
    const sc_host_api *host;
    sc_ctx *ctx;
    sc_file_output output;     /* records each clip as "file" and "file.<instance>" */
    const AVOutputFormat *output_format;
    int overwrite;
    char warned_codecs[MAX_WARNED_STREAMS][32];
    size_t warned_codec_count;
} clip_sink;

/* Per-output-stream bookkeeping while one clip is written. */
typedef struct output_track {
    int64_t last_dts;          /* in the stream's time_base, AV_NOPTS_VALUE before the first */
} output_track;

static const sc_option_spec clip_options[] = {
    {
        .name = "path",
        .type = SC_OPT_STRING,
        .flags = SC_OPT_REQUIRED,
        .help = "output path template, e.g. clips/{source}/{strategy}-{index:05}.mp4; "
                "placeholders {source} {strategy} {index[:width]} {start} {end} {label}, "
                "{{ and }} for braces; files stay inside the folder before the first {",
    },
    {
        .name = "format",
        .type = SC_OPT_STRING,
        .default_value = "",
        .help = "FFmpeg muxer name to force (mpegts, mp4, matroska, ...); "
                "empty = chosen from the template's extension",
    },
    {
        .name = "overwrite",
        .type = SC_OPT_BOOL,
        .default_value = "true",
        .help = "replace an existing file of the same name; when false such a segment "
                "is skipped and counted as \"exists\"",
    },
    { .name = NULL },
};

/* ---- files and folders ---- */

static int avio_write_to_fd(void *opaque, avio_write_buffer buffer, int size)
{
    int fd = *(const int *)opaque;
    int error = sc_output_write_all(fd, buffer, (size_t)size);
    return error ? AVERROR(error) : size;
}

static int64_t avio_seek_fd(void *opaque, int64_t offset, int whence)
{
    int fd = *(const int *)opaque;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) {
        struct stat info;
        return fstat(fd, &info) == 0 ? (int64_t)info.st_size : AVERROR(errno);
    }
    off_t position = lseek(fd, (off_t)offset, whence);
    return position < 0 ? AVERROR(errno) : (int64_t)position;
}

/* ---- stream parameters ---- */

static void warn_stream_once(clip_sink *sink, const char *codec_name, const char *fmt, ...)
    SC_PRINTF(3, 4);

static void warn_stream_once(clip_sink *sink, const char *codec_name, const char *fmt, ...)
{
    for (size_t i = 0; i < sink->warned_codec_count; i++)
        if (strncmp(sink->warned_codecs[i], codec_name, sizeof(sink->warned_codecs[i]) - 1) == 0)
            return;
    if (sink->warned_codec_count >= MAX_WARNED_STREAMS)
        return;
    snprintf(sink->warned_codecs[sink->warned_codec_count++], sizeof(sink->warned_codecs[0]),
             "%s", codec_name);
    char message[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof(message), fmt, args);
    va_end(args);
    sink->host->log(sink->ctx, SC_LOG_WARNING, "%s (further warnings for codec %s are not shown)",
                    message, codec_name);
}

/*
 * Adds the output stream for one input stream. Returns 1 when added, 0 when
 * the stream is skipped (unknown codec, or one the container cannot hold),
 * or a negative AVERROR.
 */
static int add_output_stream(clip_sink *sink, AVFormatContext *muxer, const sc_stream_info *info)
{
    const char *codec_name = info->codec_name ? info->codec_name : "(none)";
    const AVCodecDescriptor *descriptor =
        info->codec_name ? avcodec_descriptor_get_by_name(info->codec_name) : NULL;
    if (descriptor == NULL) {
        warn_stream_once(sink, codec_name, "stream %u: unknown codec \"%s\", left out of clips",
                         info->index, codec_name);
        return 0;
    }
    if (avformat_query_codec(muxer->oformat, descriptor->id, FF_COMPLIANCE_NORMAL) == 0) {
        warn_stream_once(sink, codec_name, "stream %u: %s cannot carry codec %s, left out of clips",
                         info->index, muxer->oformat->name, codec_name);
        return 0;
    }

    AVStream *stream = avformat_new_stream(muxer, NULL);
    if (stream == NULL)
        return AVERROR(ENOMEM);
    AVCodecParameters *par = stream->codecpar;
    int status = sc_av_parameters_from_info(par, info);
    if (status < 0)
        return status;
    /* The input container's tag may mean something else in this one: the
     * muxer picks its own. */
    par->codec_tag = 0;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
        stream->sample_aspect_ratio = par->sample_aspect_ratio;
        if (info->fps_num > 0 && info->fps_den > 0) {
            stream->avg_frame_rate = (AVRational){ info->fps_num, info->fps_den };
            stream->r_frame_rate = stream->avg_frame_rate;
        }
    }

    if (info->time_base_num > 0 && info->time_base_den > 0)
        stream->time_base = (AVRational){ info->time_base_num, info->time_base_den };
    else
        stream->time_base = (AVRational){ 1, 90000 };
    if (info->language != NULL && info->language[0] != '\0')
        av_dict_set(&stream->metadata, "language", info->language, 0);
    return 1;
}

/* No-op: the payload belongs to the segment, which outlives the muxing. */
static void keep_payload(void *opaque, uint8_t *data)
{
}

/*
 * Live MPEG-TS inputs often describe H.264/HEVC without extradata: the
 * parameter sets only travel in-band. Containers with global headers (mp4,
 * mkv, flv) need them up front, so recover them from the stream's first
 * keyframe. Returns 0 whether or not anything was found (the muxer then
 * reports what it cannot do), or a negative AVERROR on allocation failure.
 */
static int recover_extradata(AVCodecParameters *par, const sc_packet *keyframe)
{
    const AVBitStreamFilter *filter = av_bsf_get_by_name("extract_extradata");
    if (filter == NULL || filter->codec_ids == NULL)
        return 0;
    int supported = 0;
    for (const enum AVCodecID *id = filter->codec_ids; *id != AV_CODEC_ID_NONE; id++)
        supported |= *id == par->codec_id;
    if (!supported || keyframe->size == 0 || keyframe->size > INT_MAX)
        return 0;

    AVBSFContext *bsf = NULL;
    AVPacket *packet = NULL;
    int status = av_bsf_alloc(filter, &bsf);
    if (status >= 0)
        status = avcodec_parameters_copy(bsf->par_in, par);
    if (status >= 0)
        status = av_bsf_init(bsf);
    if (status >= 0 && (packet = av_packet_alloc()) == NULL)
        status = AVERROR(ENOMEM);
    if (status >= 0) {
        packet->buf = av_buffer_create((uint8_t *)keyframe->data, (int)keyframe->size,
                                       keep_payload, NULL, AV_BUFFER_FLAG_READONLY);
        if (packet->buf == NULL)
            status = AVERROR(ENOMEM);
    }
    if (status >= 0) {
        packet->data = (uint8_t *)keyframe->data;
        packet->size = (int)keyframe->size;
        packet->flags = AV_PKT_FLAG_KEY;
        status = av_bsf_send_packet(bsf, packet);
    }
    if (status >= 0)
        status = av_bsf_receive_packet(bsf, packet);
    if (status >= 0) {
        size_t size = 0;
        const uint8_t *found = av_packet_get_side_data(packet, AV_PKT_DATA_NEW_EXTRADATA, &size);
        if (found != NULL && size > 0 && size < INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE) {
            par->extradata = av_mallocz(size + AV_INPUT_BUFFER_PADDING_SIZE);
            if (par->extradata == NULL) {
                status = AVERROR(ENOMEM);
            } else {
                memcpy(par->extradata, found, size);
                par->extradata_size = (int)size;
            }
        }
    }
    av_packet_free(&packet);
    av_bsf_free(&bsf);
    return status == AVERROR(ENOMEM) ? status : 0;
}

/* ---- timestamps ---- */

static int64_t saturating_subtract(int64_t a, int64_t b)
{
    int64_t result;
    if (__builtin_sub_overflow(a, b, &result))
        return b < 0 ? INT64_MAX : INT64_MIN + 1;
    return result;
}

static int64_t decode_time_of(const sc_packet *packet)
{
    return packet->dts != SC_TIME_NONE ? packet->dts : packet->pts;
}

static int64_t ns_to_ticks(int64_t ns, AVRational time_base)
{
    return av_rescale_q_rnd(ns, nanosecond_time_base, time_base,
                            AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
}

/* ---- one clip ---- */

typedef struct clip_job {
    clip_sink *sink;
    const sc_segment *segment;
    const char *final_path;
    int fd;
    int64_t dts_fixed;
    int64_t pts_fixed;
    int64_t packets_dropped;
    int64_t streams_skipped;
    size_t packets_written;
} clip_job;

/* Logs why the clip failed: the final path (the temp name means nothing to
 * users), what was being done, and FFmpeg's reason. */
static void log_clip_failure(const clip_job *job, const char *what, int averror)
{
    job->sink->host->log(job->sink->ctx, SC_LOG_ERROR, "%s: %s: %s", job->final_path, what,
                         av_err2str(averror));
}

static int write_packets(clip_job *job, AVFormatContext *muxer, output_track *tracks,
                         const int *output_of_input)
{
    const sc_segment *segment = job->segment;
    int64_t offset = INT64_MAX;
    for (size_t i = 0; i < segment->packet_count; i++) {
        const sc_packet *packet = segment->packets[i];
        if (packet == NULL || packet->stream_index >= segment->stream_count ||
            output_of_input[packet->stream_index] < 0)
            continue;
        int64_t decode_time = decode_time_of(packet);
        if (decode_time != SC_TIME_NONE && decode_time < offset)
            offset = decode_time;
    }

    AVPacket *av_packet = av_packet_alloc();
    if (av_packet == NULL)
        return AVERROR(ENOMEM);
    int status = 0;
    for (size_t i = 0; i < segment->packet_count && status >= 0; i++) {
        const sc_packet *packet = segment->packets[i];
        if (packet == NULL || packet->stream_index >= segment->stream_count ||
            output_of_input[packet->stream_index] < 0)
            continue;
        int64_t decode_time = decode_time_of(packet);
        int64_t presentation_time = packet->pts != SC_TIME_NONE ? packet->pts : packet->dts;
        if (decode_time == SC_TIME_NONE || packet->data == NULL || packet->size == 0 ||
            packet->size > INT_MAX) {
            job->packets_dropped++;
            continue;
        }
        int output_index = output_of_input[packet->stream_index];
        output_track *track = &tracks[output_index];
        AVRational time_base = muxer->streams[output_index]->time_base;

        int64_t dts = ns_to_ticks(saturating_subtract(decode_time, offset), time_base);
        int64_t pts = ns_to_ticks(saturating_subtract(presentation_time, offset), time_base);
        if (track->last_dts != AV_NOPTS_VALUE && dts <= track->last_dts) {
            dts = track->last_dts + 1;
            job->dts_fixed++;
            if (pts < dts)
                pts = dts;
        } else if (pts < dts) {
            pts = dts;
            job->pts_fixed++;
        }
        track->last_dts = dts;

        av_packet->buf = av_buffer_create((uint8_t *)packet->data, (int)packet->size, keep_payload,
                                          NULL, AV_BUFFER_FLAG_READONLY);
        if (av_packet->buf == NULL) {
            status = AVERROR(ENOMEM);
            break;
        }
        av_packet->data = (uint8_t *)packet->data;
        av_packet->size = (int)packet->size;
        av_packet->stream_index = output_index;
        av_packet->dts = dts;
        av_packet->pts = pts;
        av_packet->duration = packet->duration > 0 ? ns_to_ticks(packet->duration, time_base) : 0;
        av_packet->flags = ((packet->flags & SC_PACKET_KEY) ? AV_PKT_FLAG_KEY : 0) |
                           ((packet->flags & SC_PACKET_CORRUPT) ? AV_PKT_FLAG_CORRUPT : 0);
        /* Takes over the reference whatever the outcome, and leaves av_packet blank. */
        status = av_interleaved_write_frame(muxer, av_packet);
        if (status < 0)
            log_clip_failure(job, "writing a packet failed", status);
        else
            job->packets_written++;
    }
    av_packet_free(&av_packet);
    return status;
}

static const sc_packet *first_keyframe_of(const sc_segment *segment, size_t stream_index)
{
    for (size_t i = 0; i < segment->packet_count; i++) {
        const sc_packet *packet = segment->packets[i];
        if (packet != NULL && packet->stream_index == stream_index &&
            (packet->flags & SC_PACKET_KEY) && packet->data != NULL)
            return packet;
    }
    return NULL;
}

/* Muxes the segment into job->fd. Returns 0, or a negative AVERROR after logging. */
static int mux_segment(clip_job *job)
{
    clip_sink *sink = job->sink;
    const sc_segment *segment = job->segment;
    AVFormatContext *muxer = NULL;
    AVIOContext *io = NULL;
    output_track *tracks = NULL;
    int *output_of_input = NULL;

    int status = avformat_alloc_output_context2(&muxer, sink->output_format, NULL, job->final_path);
    if (status < 0 || muxer == NULL) {
        log_clip_failure(job, "cannot set up the muxer", status < 0 ? status : AVERROR(ENOMEM));
        return status < 0 ? status : AVERROR(ENOMEM);
    }
    size_t stream_count = segment->stream_count;
    output_of_input = malloc((stream_count ? stream_count : 1) * sizeof(*output_of_input));
    tracks = calloc(stream_count ? stream_count : 1, sizeof(*tracks));
    if (output_of_input == NULL || tracks == NULL) {
        status = AVERROR(ENOMEM);
        log_clip_failure(job, "cannot set up the muxer", status);
        goto done;
    }

    /* Only streams that have packets in this segment become output streams. */
    for (size_t s = 0; s < stream_count; s++)
        output_of_input[s] = -1;
    for (size_t i = 0; i < segment->packet_count; i++) {
        const sc_packet *packet = segment->packets[i];
        if (packet != NULL && packet->stream_index < stream_count &&
            segment->streams[packet->stream_index] != NULL)
            output_of_input[packet->stream_index] = -2;
    }
    for (size_t s = 0; s < stream_count; s++) {
        if (output_of_input[s] != -2)
            continue;
        output_of_input[s] = -1;
        status = add_output_stream(sink, muxer, segment->streams[s]);
        if (status < 0) {
            log_clip_failure(job, "cannot add a stream", status);
            goto done;
        }
        if (status == 0) {
            job->streams_skipped++;
            continue;
        }
        int output_index = (int)muxer->nb_streams - 1;
        output_of_input[s] = output_index;
        tracks[output_index].last_dts = AV_NOPTS_VALUE;
    }
    if (muxer->oformat->flags & AVFMT_GLOBALHEADER) {
        for (size_t s = 0; s < stream_count; s++) {
            int output_index = output_of_input[s];
            if (output_index < 0 || muxer->streams[output_index]->codecpar->extradata_size > 0 ||
                muxer->streams[output_index]->codecpar->codec_type != AVMEDIA_TYPE_VIDEO)
                continue;
            const sc_packet *keyframe = first_keyframe_of(segment, s);
            if (keyframe != NULL &&
                (status = recover_extradata(muxer->streams[output_index]->codecpar, keyframe)) < 0) {
                log_clip_failure(job, "cannot set up the muxer", status);
                goto done;
            }
        }
    }
    if (muxer->nb_streams == 0) {
        status = AVERROR(ENOSYS);
        sink->host->log(sink->ctx, SC_LOG_ERROR, "%s: none of the segment's streams can be written",
                        job->final_path);
        goto done;
    }

    uint8_t *io_buffer = av_malloc(IO_BUFFER_SIZE);
    if (io_buffer != NULL)
        io = avio_alloc_context(io_buffer, IO_BUFFER_SIZE, 1, &job->fd, NULL, avio_write_to_fd,
                                avio_seek_fd);
    if (io == NULL) {
        av_free(io_buffer);
        status = AVERROR(ENOMEM);
        log_clip_failure(job, "cannot set up output", status);
        goto done;
    }
    muxer->pb = io;
    muxer->flags |= AVFMT_FLAG_CUSTOM_IO;

    status = avformat_write_header(muxer, NULL);
    if (status < 0) {
        log_clip_failure(job, "the muxer refused the streams", status);
        goto done;
    }

    status = write_packets(job, muxer, tracks, output_of_input);
    if (status < 0)
        goto done;
    if (job->packets_written == 0) {
        status = AVERROR(EINVAL);
        sink->host->log(sink->ctx, SC_LOG_ERROR, "%s: no packet of the segment has a timestamp "
                        "and a payload, nothing to write", job->final_path);
        goto done;
    }
    status = av_write_trailer(muxer);
    if (status < 0) {
        log_clip_failure(job, "finishing the file failed", status);
        goto done;
    }
    avio_flush(io);
    if (io->error < 0) {
        status = io->error;
        log_clip_failure(job, "writing failed", status);
    }

done:
    avformat_free_context(muxer);
    if (io != NULL) {
        av_freep(&io->buffer);
        avio_context_free(&io);
    }
    free(tracks);
    free(output_of_input);
    return status;
}

static void count(clip_sink *sink, const char *name, int64_t delta)
{
    if (delta != 0)
        sink->host->counter_add(sink->ctx, name, delta);
}

static int status_from_averror(int averror)
{
    if (averror == AVERROR(ENOMEM))
        return SC_ERR_NOMEM;
    if (averror == AVERROR(EINVAL) || averror == AVERROR_INVALIDDATA)
        return SC_ERR_INVALID;
    if (averror == AVERROR(ENOSYS) || averror == AVERROR_PATCHWELCOME)
        return SC_ERR_UNSUPPORTED;
    return SC_ERR_IO;
}

static int clip_consume(void *instance, const sc_segment *segment)
{
    clip_sink *sink = instance;
    const sc_host_api *host = sink->host;
    char final_path[PATH_MAX];
    int status = sc_file_output_path(&sink->output, segment, 0, final_path, sizeof(final_path));
    if (status != SC_OK)
        return status;
    if (segment->packet_count == 0) {
        host->log(sink->ctx, SC_LOG_WARNING, "%s: the segment has no packets, nothing written",
                  final_path);
        count(sink, "empty_segments", 1);
        return SC_OK;
    }
    if (!sink->overwrite && sc_output_exists(final_path)) {
        host->log(sink->ctx, SC_LOG_WARNING, "%s: exists, skipped (overwrite = false)", final_path);
        count(sink, "exists", 1);
        return SC_OK;
    }

    char temp_path[PATH_MAX];
    int fd = sc_file_output_open_temp(&sink->output, final_path, temp_path, sizeof(temp_path));
    if (fd < 0)
        return fd;

    int64_t started = host->monotonic_ns();
    clip_job job = { .sink = sink, .segment = segment, .final_path = final_path, .fd = fd };
    status = mux_segment(&job);
    count(sink, "dts_fixed", job.dts_fixed);
    count(sink, "pts_fixed", job.pts_fixed);
    count(sink, "packets_dropped", job.packets_dropped);
    count(sink, "streams_skipped", job.streams_skipped);

    struct stat file_info;
    int64_t file_size = fstat(fd, &file_info) == 0 ? (int64_t)file_info.st_size : 0;
    if (close(fd) != 0 && status >= 0) {
        host->log(sink->ctx, SC_LOG_ERROR, "%s: closing failed: %s", final_path, strerror(errno));
        status = AVERROR(EIO);
    }
    if (status < 0) {
        unlink(temp_path);
        return status_from_averror(status);
    }

    int publish_error = sc_output_publish(temp_path, final_path, sink->overwrite);
    if (publish_error != 0) {
        unlink(temp_path);
        if (publish_error == EEXIST) {
            host->log(sink->ctx, SC_LOG_WARNING, "%s: exists, skipped (overwrite = false)",
                      final_path);
            count(sink, "exists", 1);
            return SC_OK;
        }
        host->log(sink->ctx, SC_LOG_ERROR, "%s: cannot move %s into place: %s", final_path,
                  temp_path, strerror(publish_error));
        return SC_ERR_IO;
    }

    sc_file_output_record(&sink->output, segment, final_path);
    count(sink, "clips_written", 1);
    count(sink, "bytes_written", file_size);
    host->log(sink->ctx, SC_LOG_DEBUG, "%s: %zu packets, %" PRId64 " bytes in %.1f ms", final_path,
              job.packets_written, file_size, (double)(host->monotonic_ns() - started) / 1e6);
    return SC_OK;
}

/* ---- lifecycle ---- */

static const AVOutputFormat *choose_output_format(clip_sink *sink, const char *template_text,
                                                  const char *forced)
{
    const AVOutputFormat *format;
    if (forced != NULL && forced[0] != '\0') {
        format = av_guess_format(forced, NULL, NULL);
        if (format == NULL) {
            sink->host->log(sink->ctx, SC_LOG_ERROR,
                            "format = %s: no FFmpeg muxer of that name (see ffmpeg -muxers)",
                            forced);
            return NULL;
        }
    } else {
        format = av_guess_format(NULL, template_text, NULL);
        if (format == NULL) {
            sink->host->log(sink->ctx, SC_LOG_ERROR,
                            "path = %s: cannot tell the container from the extension; use a "
                            "known one (.ts .mp4 .mkv .mov .flv ...) or set format",
                            template_text);
            return NULL;
        }
    }
    /* Such muxers (image2, hls, segment, tee, ...) open files on their own,
     * outside the folder and the atomic rename this sink guarantees. */
    if (format->flags & AVFMT_NOFILE) {
        sink->host->log(sink->ctx, SC_LOG_ERROR,
                        "muxer %s writes its own files and cannot be used for clips",
                        format->name);
        return NULL;
    }
    return format;
}

static void clip_destroy(void *instance)
{
    clip_sink *sink = instance;
    if (sink == NULL)
        return;
    sc_file_output_release(&sink->output);
    free(sink);
}

static int clip_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    clip_sink *sink = calloc(1, sizeof(*sink));
    if (sink == NULL)
        return SC_ERR_NOMEM;
    sink->host = host;
    sink->ctx = ctx;

    int status = sc_file_output_init(&sink->output, host, ctx, "file", 0);
    if (status != SC_OK) {
        clip_destroy(sink);
        return status;
    }
    const char *template_text = host->option_string(ctx, "path");
    sink->output_format = choose_output_format(sink, template_text,
                                               host->option_string(ctx, "format"));
    if (sink->output_format == NULL) {
        clip_destroy(sink);
        return SC_ERR_INVALID;
    }
    sink->overwrite = host->option_bool(ctx, "overwrite") != 0;

    status = sc_file_output_make_base(&sink->output);
    if (status != SC_OK) {
        clip_destroy(sink);
        return status;
    }
    host->log(ctx, SC_LOG_DEBUG, "clips go under %s as %s",
              sc_path_template_base(sink->output.path_template), sink->output_format->name);
    *instance = sink;
    return SC_OK;
}

static const sc_sink_ops clip_ops = {
    SC_OPS_INIT(sc_sink_ops),
    .create = clip_create,
    .destroy = clip_destroy,
    .consume = clip_consume,
};

static const sc_module_descriptor clip_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SINK,
    .flags = SC_MODULE_PRODUCES_FILES,
    .name = "clip",
    .version = "0.1.0",
    .description = "remux each segment into a file (no re-encoding), named by a path template",
    .options = clip_options,
    .ops = &clip_ops,
};

SC_MODULE_DEFINE(clip_module)
