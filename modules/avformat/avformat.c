/* avformat: reads any input libavformat can open (a file, an http(s) or
 * other network URL, a pipe) and pushes its audio and video packets
 * without re-encoding them.
 *
 * Every blocking FFmpeg call runs under a deadline enforced through the
 * interrupt callback, which also notices stop requests, so a dead server
 * or a shutdown never leaves the source thread hanging.
 */
#include <streamcut/streamcut.h>

#include "../common/av_stream_info.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>
#include <libavutil/pixdesc.h>

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longest sleep between two looks at the stop flags while pacing. */
#define PACING_SLICE_NS (20 * SC_NSEC_PER_MSEC)
/* A timestamp this far ahead of the wall clock, or this far behind the
 * previous one, is a jump in the input (a wrap, a reset), not a reason to
 * sleep or to burst: pacing starts over from it. */
#define PACING_MAX_LEAD_NS (5 * SC_NSEC_PER_SEC)
#define PACING_MAX_REWIND_NS (1 * SC_NSEC_PER_SEC)
/* Read errors in a row before the input is given up. */
#define MAX_CONSECUTIVE_READ_ERRORS 8
#define RETRY_PAUSE_NS (10 * SC_NSEC_PER_MSEC)

/* Why the interrupt callback last cut a call short. */
enum interrupt_reason {
    INTERRUPT_NONE = 0,
    INTERRUPT_STOP,
    INTERRUPT_TIMEOUT
};

typedef struct avformat_source {
    const sc_host_api *host;
    sc_ctx *ctx;

    char *url;
    char *display_url;    /* the URL with credentials hidden, for messages */
    int live;             /* paced, or without a known end */
    char *format_name;    /* forced input format, NULL to probe */
    int realtime;
    int64_t rw_timeout_ns;
    int64_t probesize;
    int64_t analyzeduration_ns;

    atomic_bool stop_requested;

    AVFormatContext *input;
    int *stream_map;      /* input index -> host index, -1 for ignored */
    unsigned stream_map_size;
    /* Deadline of the blocking call in progress (monotonic ns), 0 when
     * none. Only the source thread touches these two. */
    int64_t call_deadline_ns;
    /* Kept until the next run: FFmpeg may report an interruption only on
     * a later call (after returning packets it had buffered), and the
     * input stays failed from then on anyway. */
    int interrupt_reason;

    /* Pacing anchor: the input timestamp that maps to `anchor_mono_ns`. */
    int pacing_anchored;
    int64_t anchor_media_ns;
    int64_t anchor_mono_ns;
    int64_t last_media_ns;
} avformat_source;

static const sc_option_spec avformat_options[] = {
    { .name = "url", .type = SC_OPT_STRING, .flags = SC_OPT_REQUIRED,
      .help = "input to read: a file path, an http(s)/udp/srt/... URL or pipe:0" },
    { .name = "format", .type = SC_OPT_STRING, .default_value = "",
      .help = "force the input format (e.g. mpegts, flv); empty probes it" },
    { .name = "realtime", .type = SC_OPT_BOOL, .default_value = "false",
      .help = "pace reading at 1x like a live stream; false reads as fast as possible" },
    { .name = "rw_timeout", .type = SC_OPT_DURATION, .default_value = "10s",
      .help = "give up when one open or read blocks longer than this; 0 waits forever",
      .min = 0, .max = 86400 },
    { .name = "probesize", .type = SC_OPT_SIZE, .default_value = "5MB",
      .help = "bytes read to detect the format and streams",
      .min = 32, .max = 1e12 },
    { .name = "analyzeduration", .type = SC_OPT_DURATION, .default_value = "5s",
      .help = "media time analysed to find stream parameters",
      .min = 0, .max = 3600 },
    { 0 }
};

/* ---- small helpers ---------------------------------------------------- */

/* Takes the source as void * so that sc_wait_until can call it too. */
static int stop_wanted(void *opaque)
{
    avformat_source *source = opaque;
    return atomic_load(&source->stop_requested) ||
           source->host->source_should_stop(source->ctx);
}

static int wait_until(avformat_source *source, int64_t due_ns)
{
    return sc_wait_until(source->host, due_ns, PACING_SLICE_NS, stop_wanted, source);
}

static const char *error_text(int av_error, char *buffer, size_t size)
{
    if (av_strerror(av_error, buffer, size) < 0)
        snprintf(buffer, size, "error %d", av_error);
    return buffer;
}

/* The URL with any user:password@ replaced by ***@, so logs never carry
 * credentials; the path and query stay, they say which input it is. */
static char *redact_url(const char *url)
{
    const char *scheme_end = strstr(url, "://");
    if (!scheme_end)
        return strdup(url);
    const char *authority = scheme_end + 3;
    size_t authority_length = strcspn(authority, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < authority_length; i++)
        if (authority[i] == '@')
            at = authority + i;
    if (!at)
        return strdup(url);
    size_t prefix = (size_t)(authority - url);
    size_t length = prefix + 3 + strlen(at) + 1;
    char *redacted = malloc(length);
    if (redacted)
        snprintf(redacted, length, "%.*s***%s", (int)prefix, url, at);
    return redacted;
}

/* ---- interruption ----------------------------------------------------- */

static int interrupt_callback(void *opaque)
{
    avformat_source *source = opaque;
    if (stop_wanted(source)) {
        source->interrupt_reason = INTERRUPT_STOP;
        return 1;
    }
    if (source->call_deadline_ns && source->host->monotonic_ns() > source->call_deadline_ns) {
        source->interrupt_reason = INTERRUPT_TIMEOUT;
        return 1;
    }
    return 0;
}

/* Starts the deadline of one blocking call; `extra_ns` widens it for calls
 * that legitimately take longer, such as stream analysis. */
static void begin_call(avformat_source *source, int64_t extra_ns)
{
    source->call_deadline_ns = source->rw_timeout_ns > 0
                                   ? source->host->monotonic_ns() + source->rw_timeout_ns + extra_ns
                                   : 0;
}

static void end_call(avformat_source *source)
{
    source->call_deadline_ns = 0;
}

static int is_network_url(const char *url)
{
    const char *scheme_end = strstr(url, "://");
    return scheme_end && strncmp(url, "file://", 7) != 0;
}

/* The stream type the original design names, from the URL alone. */
static const char *stream_type(const char *url)
{
    if (strncmp(url, "rtmp://", 7) == 0 || strncmp(url, "rtmps://", 8) == 0)
        return "RTMP_FLV";
    const char *query = strpbrk(url, "?#");
    size_t length = query ? (size_t)(query - url) : strlen(url);
    if (length >= 5 && strncmp(url + length - 5, ".m3u8", 5) == 0)
        return "HLS";
    return "FILE";
}

/* Logs why a call failed and turns it into an SDK status. */
static int report_failure(avformat_source *source, const char *doing, int av_error)
{
    char reason[AV_ERROR_MAX_STRING_SIZE];
    if (source->interrupt_reason == INTERRUPT_STOP || stop_wanted(source)) {
        source->host->log(source->ctx, SC_LOG_INFO, "stopped while %s '%s'", doing,
                          source->display_url);
        return SC_ERR_STOPPED;
    }
    if (source->interrupt_reason == INTERRUPT_TIMEOUT) {
        source->host->log(source->ctx, SC_LOG_ERROR,
                          "%s '%s' failed: no progress for %.1f s (rw_timeout)", doing,
                          source->display_url, (double)source->rw_timeout_ns / SC_NSEC_PER_SEC);
        return SC_ERR_IO;
    }
    source->host->log(source->ctx, SC_LOG_ERROR, "%s '%s' failed: %s", doing,
                      source->display_url, error_text(av_error, reason, sizeof(reason)));
    if (av_error == AVERROR(ENOMEM))
        return SC_ERR_NOMEM;
    /* Retrying cannot bring back a missing file or teach FFmpeg a format;
     * a network hiccup, a refused connection or a timeout may pass. */
    if (av_error == AVERROR(ENOENT) || av_error == AVERROR(EACCES) || av_error == AVERROR(EISDIR) ||
        av_error == AVERROR_INVALIDDATA || av_error == AVERROR_PROTOCOL_NOT_FOUND ||
        av_error == AVERROR_DEMUXER_NOT_FOUND || (!is_network_url(source->url) && strcmp(doing, "opening") == 0))
        return SC_ERR_PERMANENT;
    return SC_ERR_IO;
}

/* ---- opening ---------------------------------------------------------- */

static void close_input(avformat_source *source)
{
    avformat_close_input(&source->input);
    free(source->stream_map);
    source->stream_map = NULL;
    source->stream_map_size = 0;
}

static int open_input(avformat_source *source)
{
    const sc_host_api *host = source->host;
    const AVInputFormat *forced = NULL;
    if (source->format_name) {
        forced = av_find_input_format(source->format_name);
        if (!forced) {
            host->log(source->ctx, SC_LOG_ERROR, "unknown input format '%s' for '%s'",
                      source->format_name, source->display_url);
            return SC_ERR_PERMANENT;
        }
    }

    AVFormatContext *input = avformat_alloc_context();
    if (!input)
        return SC_ERR_NOMEM;
    /* Set before opening: connecting is the call most likely to hang. */
    input->interrupt_callback.callback = interrupt_callback;
    input->interrupt_callback.opaque = source;

    AVDictionary *options = NULL;
    char number[32];
    if (source->rw_timeout_ns > 0) {
        snprintf(number, sizeof(number), "%" PRId64, source->rw_timeout_ns / 1000);
        av_dict_set(&options, "rw_timeout", number, 0);
    }
    snprintf(number, sizeof(number), "%" PRId64, source->probesize);
    av_dict_set(&options, "probesize", number, 0);
    snprintf(number, sizeof(number), "%" PRId64, source->analyzeduration_ns / 1000);
    av_dict_set(&options, "analyzeduration", number, 0);

    /* Resolved afresh at every (re)connection: signed URLs expire. */
    char resolved[8192];
    if (host->source_resolve_url(source->ctx, resolved, sizeof(resolved)) < 0) {
        avformat_free_context(input);
        av_dict_free(&options);
        return SC_ERR_IO;
    }
    begin_call(source, 0);
    int ret = avformat_open_input(&input, resolved, forced, &options);
    end_call(source);
    av_dict_free(&options);
    if (ret < 0) /* avformat_open_input freed the context */
        return report_failure(source, "opening", ret);
    source->input = input;

    /* Analysis reads up to analyzeduration of media, which on a live
     * input takes that long in real time. */
    begin_call(source, source->analyzeduration_ns);
    ret = avformat_find_stream_info(input, NULL);
    end_call(source);
    if (ret < 0)
        return report_failure(source, "analysing", ret);
    return SC_OK;
}


static int declare_streams(avformat_source *source)
{
    const sc_host_api *host = source->host;
    AVFormatContext *input = source->input;
    source->stream_map = malloc(sizeof(int) * (input->nb_streams ? input->nb_streams : 1));
    if (!source->stream_map)
        return SC_ERR_NOMEM;
    source->stream_map_size = input->nb_streams;

    int declared = 0;
    for (unsigned i = 0; i < input->nb_streams; i++) {
        AVStream *stream = input->streams[i];
        enum AVMediaType type = stream->codecpar->codec_type;
        source->stream_map[i] = -1;
        /* Cover art is a one-picture "video" stream: nothing to cut. Timed
         * data (ID3 in MPEG-TS, SCTE-35, ...) is kept: strategies turn it
         * into events. */
        int timed_data = type == AVMEDIA_TYPE_DATA &&
                         (stream->codecpar->codec_id == AV_CODEC_ID_TIMED_ID3 ||
                          stream->codecpar->codec_id == AV_CODEC_ID_SCTE_35);
        if ((type != AVMEDIA_TYPE_VIDEO && type != AVMEDIA_TYPE_AUDIO && !timed_data) ||
            (stream->disposition & AV_DISPOSITION_ATTACHED_PIC) ||
            stream->codecpar->codec_id == AV_CODEC_ID_NONE) {
            stream->discard = AVDISCARD_ALL;
            host->counter_add(source->ctx, "streams_ignored", 1);
            host->log(source->ctx, SC_LOG_DEBUG, "ignoring input stream %u (%s %s)", i,
                      av_get_media_type_string(type) ? av_get_media_type_string(type) : "unknown",
                      avcodec_get_name(stream->codecpar->codec_id));
            continue;
        }
        sc_stream_info info;
        sc_av_describe_stream(stream, &info);
        /* Streams of many containers state no duration of their own. */
        if (info.duration == SC_TIME_NONE && input->duration > 0 && input->duration != AV_NOPTS_VALUE)
            info.duration = av_rescale(input->duration, SC_NSEC_PER_SEC, AV_TIME_BASE);
        int index = host->source_add_stream(source->ctx, &info);
        if (index < 0) {
            host->log(source->ctx, SC_LOG_ERROR, "the host refused stream %u of '%s' (%d)", i,
                      source->display_url, index);
            return index;
        }
        source->stream_map[i] = index;
        declared++;
    }
    if (!declared) {
        host->log(source->ctx, SC_LOG_ERROR, "'%s' has no audio or video stream",
                  source->display_url);
        return SC_ERR_UNSUPPORTED;
    }
    return SC_OK;
}

/* ---- reading ---------------------------------------------------------- */

/* Sleeps until the packet is due on the wall clock, as a live input
 * would deliver it. */
static int pace_packet(avformat_source *source, const AVPacket *packet, AVRational time_base)
{
    int64_t timestamp = packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts;
    if (timestamp == AV_NOPTS_VALUE)
        return stop_wanted(source) ? SC_ERR_STOPPED : SC_OK;
    int64_t media_ns = av_rescale_q(timestamp, time_base, (AVRational){ 1, SC_NSEC_PER_SEC });
    int64_t now = source->host->monotonic_ns();
    if (source->pacing_anchored) {
        int64_t due = source->anchor_mono_ns + (media_ns - source->anchor_media_ns);
        if (due - now > PACING_MAX_LEAD_NS ||
            media_ns < source->last_media_ns - PACING_MAX_REWIND_NS) {
            source->host->counter_add(source->ctx, "timestamp_jumps", 1);
            source->pacing_anchored = 0;
        }
    }
    if (!source->pacing_anchored) {
        source->pacing_anchored = 1;
        source->anchor_media_ns = media_ns;
        source->anchor_mono_ns = now;
    }
    source->last_media_ns = media_ns;
    return wait_until(source, source->anchor_mono_ns + (media_ns - source->anchor_media_ns));
}

static void release_buffer(void *opaque)
{
    AVBufferRef *buffer = opaque;
    av_buffer_unref(&buffer);
}

/* Hands one demuxed packet to the host without copying its payload. */
static int push_packet(avformat_source *source, AVPacket *packet, int host_index)
{
    const sc_host_api *host = source->host;
    AVRational time_base = source->input->streams[packet->stream_index]->time_base;

    if (source->realtime) {
        int status = pace_packet(source, packet, time_base);
        if (status != SC_OK)
            return status;
    }
    if (av_packet_make_refcounted(packet) < 0)
        return SC_ERR_NOMEM;
    size_t side_data_size;
    if (av_packet_get_side_data(packet, AV_PKT_DATA_NEW_EXTRADATA, &side_data_size))
        host->counter_add(source->ctx, "extradata_changes", 1);

    /* The buffer reference moves into the wrapper; the host releases it
     * with the last reference to the packet. */
    AVBufferRef *buffer = packet->buf;
    packet->buf = NULL;
    sc_packet *out = host->packet_wrap(source->ctx, packet->data, (size_t)packet->size,
                                       release_buffer, buffer);
    if (!out) {
        av_buffer_unref(&buffer);
        return SC_ERR_NOMEM;
    }
    out->stream_index = (uint32_t)host_index;
    out->flags = 0;
    if (packet->flags & AV_PKT_FLAG_KEY)
        out->flags |= SC_PACKET_KEY;
    if (packet->flags & AV_PKT_FLAG_CORRUPT)
        out->flags |= SC_PACKET_CORRUPT;
    out->orig_pts = packet->pts == AV_NOPTS_VALUE ? SC_TIME_NONE : packet->pts;
    out->orig_dts = packet->dts == AV_NOPTS_VALUE ? SC_TIME_NONE : packet->dts;
    out->orig_duration = packet->duration > 0 ? packet->duration : 0;
    out->time_base_num = time_base.num;
    out->time_base_den = time_base.den;
    out->arrival_ns = host->wallclock_ns();
    return host->source_push(source->ctx, out);
}

static int read_packets(avformat_source *source)
{
    const sc_host_api *host = source->host;
    AVPacket *packet = av_packet_alloc();
    if (!packet)
        return SC_ERR_NOMEM;
    int consecutive_errors = 0;
    int status = SC_OK;
    for (;;) {
        if (stop_wanted(source)) {
            status = SC_ERR_STOPPED;
            break;
        }
        begin_call(source, 0);
        int ret = av_read_frame(source->input, packet);
        end_call(source);
        if (ret == AVERROR_EOF) {
            /* The end of a file is the end; a live network input that ends
             * was cut off, and the host reconnects it. */
            if (source->live && is_network_url(source->url)) {
                host->log(source->ctx, SC_LOG_ERROR, "'%s' closed the connection", source->display_url);
                status = SC_ERR_IO;
            } else {
                status = SC_OK;
            }
            break;
        }
        if (ret == AVERROR(EAGAIN)) {
            /* Some demuxers have nothing yet without being at the end. */
            sc_sleep_ns(RETRY_PAUSE_NS);
            continue;
        }
        if (ret < 0) {
            if (source->interrupt_reason != INTERRUPT_NONE || ret == AVERROR_EXIT ||
                stop_wanted(source)) {
                status = report_failure(source, "reading", ret);
                break;
            }
            host->counter_add(source->ctx, "read_errors", 1);
            AVIOContext *io = source->input->pb;
            if (io && io->eof_reached) {
                /* A truncated file ends with an error rather than EOF. */
                char reason[AV_ERROR_MAX_STRING_SIZE];
                host->log(source->ctx, SC_LOG_WARNING, "'%s' ended with an error: %s",
                          source->display_url, error_text(ret, reason, sizeof(reason)));
                status = SC_OK;
                break;
            }
            if (++consecutive_errors >= MAX_CONSECUTIVE_READ_ERRORS) {
                status = report_failure(source, "reading", ret);
                break;
            }
            sc_sleep_ns(RETRY_PAUSE_NS);
            continue;
        }
        consecutive_errors = 0;

        int host_index = (unsigned)packet->stream_index < source->stream_map_size
                             ? source->stream_map[packet->stream_index] : -1;
        if (host_index < 0 || packet->size <= 0) {
            /* Streams that appear after the start were not declared. */
            if (host_index < 0)
                host->counter_add(source->ctx, "packets_ignored", 1);
            av_packet_unref(packet);
            continue;
        }
        status = push_packet(source, packet, host_index);
        av_packet_unref(packet);
        if (status != SC_OK)
            break;
    }
    av_packet_free(&packet);
    return status;
}

/* ---- module operations ------------------------------------------------ */

static void free_source(avformat_source *source)
{
    close_input(source);
    free(source->url);
    free(source->display_url);
    free(source->format_name);
    free(source);
}

static int avformat_source_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    avformat_source *source = calloc(1, sizeof(*source));
    if (!source)
        return SC_ERR_NOMEM;
    source->host = host;
    source->ctx = ctx;
    atomic_init(&source->stop_requested, false);

    const char *url = host->option_string(ctx, "url");
    if (!url || !*url) {
        host->log(ctx, SC_LOG_ERROR, "url is empty: name a file or a URL to read");
        free(source);
        return SC_ERR_INVALID;
    }
    const char *format = host->option_string(ctx, "format");
    source->url = strdup(url);
    source->display_url = redact_url(url);
    source->format_name = format && *format ? strdup(format) : NULL;
    if (!source->url || !source->display_url || (format && *format && !source->format_name)) {
        free_source(source);
        return SC_ERR_NOMEM;
    }
    if (source->format_name && !av_find_input_format(source->format_name)) {
        host->log(ctx, SC_LOG_ERROR, "format '%s' is not an input format this FFmpeg knows",
                  source->format_name);
        free_source(source);
        return SC_ERR_INVALID;
    }
    source->realtime = host->option_bool(ctx, "realtime");
    source->rw_timeout_ns = host->option_duration(ctx, "rw_timeout");
    source->probesize = host->option_size(ctx, "probesize");
    source->analyzeduration_ns = host->option_duration(ctx, "analyzeduration");
    *instance = source;
    return SC_OK;
}

static void avformat_source_destroy(void *instance)
{
    if (instance)
        free_source(instance);
}

static int avformat_source_run(void *instance)
{
    avformat_source *source = instance;
    const sc_host_api *host = source->host;
    close_input(source);
    source->pacing_anchored = 0;
    source->interrupt_reason = INTERRUPT_NONE;

    host->source_set_type(source->ctx, stream_type(source->url));
    int status = open_input(source);
    if (status == SC_OK)
        status = declare_streams(source);
    if (status == SC_OK) {
        AVFormatContext *input = source->input;
        int unbounded = input->duration == AV_NOPTS_VALUE;
        char length[48] = "no known duration";
        if (!unbounded)
            snprintf(length, sizeof(length), "%.3f s", (double)input->duration / AV_TIME_BASE);
        host->log(source->ctx, SC_LOG_INFO, "reading '%s' (%s, %u streams, %s%s)",
                  source->display_url, input->iformat->name, input->nb_streams, length,
                  source->realtime ? ", paced at 1x" : "");
        source->live = source->realtime || unbounded;
        host->source_set_live(source->ctx, source->live);
        status = read_packets(source);
    }
    close_input(source);
    return status;
}

static void avformat_source_stop(void *instance)
{
    avformat_source *source = instance;
    atomic_store(&source->stop_requested, true);
}

static const sc_source_ops avformat_source_ops = {
    SC_OPS_INIT(sc_source_ops),
    .create = avformat_source_create,
    .destroy = avformat_source_destroy,
    .run = avformat_source_run,
    .stop = avformat_source_stop,
};

static const sc_module_descriptor avformat_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SOURCE,
    .name = "avformat",
    .version = "0.1.0",
    .description = "reads a file, URL or pipe with libavformat and passes its packets through",
    .options = avformat_options,
    .ops = &avformat_source_ops,
};

SC_MODULE_DEFINE(avformat_module)
