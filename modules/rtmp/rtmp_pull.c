/* rtmp pull mode: play a stream from an RTMP server through FFmpeg's RTMP
 * protocol and FLV demuxer, and pass its packets on without re-encoding.
 *
 * Every blocking FFmpeg call runs under a deadline (rw_timeout) that the
 * interrupt callback enforces together with stop requests: FFmpeg's own
 * RTMP timeouts are infinite by default, and a server that keeps the
 * connection open without sending would otherwise hold the thread forever.
 * Whatever ends the connection (EOF when the publisher leaves, a reset, a
 * refused or not yet published stream, a timeout) returns SC_ERR_IO, and
 * the host reconnects with backoff.
 */
#include "rtmp_flv.h"
#include "rtmp_source.h"
#include "../common/av_stream_info.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/pixdesc.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_CAPACITY 8192

enum interrupt_reason { INTERRUPT_NONE, INTERRUPT_STOP, INTERRUPT_TIMEOUT };

typedef struct pull_session {
    rtmp_source *source;
    char display_url[URL_CAPACITY];
    AVFormatContext *input;
    int *stream_map;           /* input stream -> host stream, -1 ignored */
    /* Per input stream: parameter sets to put in front of keyframes when
     * this connection's configuration differs from the declared one. */
    byte_buffer *in_band;
    struct stream_clock {
        int seen;
        int64_t last_dts;       /* as FFmpeg gave it */
        int64_t correction;     /* added to FFmpeg's timestamps */
    } *clocks;
    unsigned stream_map_size;
    int64_t deadline_ns;       /* of the blocking call in progress, 0 none */
    int interrupt_reason;
} pull_session;

/* The URL for messages: user:password@ hidden, and the query, which often
 * carries a token, reduced to "?...". */
static void redact_url(const char *url, char *out, size_t size)
{
    const char *authority = strstr(url, "://");
    authority = authority ? authority + 3 : url;
    size_t authority_length = strcspn(authority, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < authority_length; i++)
        if (authority[i] == '@')
            at = authority + i;
    size_t query = strcspn(url, "?");
    if (at)
        snprintf(out, size, "%.*s***%.*s%s", (int)(authority - url), url, (int)(url + query - at), at,
                 url[query] ? "?..." : "");
    else
        snprintf(out, size, "%.*s%s", (int)query, url, url[query] ? "?..." : "");
}

static int interrupt_callback(void *opaque)
{
    pull_session *session = opaque;
    if (rtmp_stop_wanted(session->source)) {
        session->interrupt_reason = INTERRUPT_STOP;
        return 1;
    }
    if (session->deadline_ns && session->source->host->monotonic_ns() > session->deadline_ns) {
        session->interrupt_reason = INTERRUPT_TIMEOUT;
        return 1;
    }
    return 0;
}

static void begin_call(pull_session *session, int64_t extra_ns)
{
    session->deadline_ns = session->source->host->monotonic_ns() + session->source->rw_timeout_ns + extra_ns;
}

static void end_call(pull_session *session)
{
    session->deadline_ns = 0;
}

/* Logs why a call failed; every failure but a stop is worth a reconnection:
 * the server may be restarting, the publisher may not be there yet. */
static int report_failure(pull_session *session, const char *doing, int av_error)
{
    const sc_host_api *host = session->source->host;
    sc_ctx *ctx = session->source->ctx;
    if (session->interrupt_reason == INTERRUPT_STOP || rtmp_stop_wanted(session->source))
        return SC_ERR_STOPPED;
    if (session->interrupt_reason == INTERRUPT_TIMEOUT) {
        host->log(ctx, SC_LOG_ERROR, "%s '%s' failed: nothing for %.1f s (rw_timeout)", doing,
                  session->display_url, (double)session->source->rw_timeout_ns / SC_NSEC_PER_SEC);
        return SC_ERR_IO;
    }
    if (av_error == AVERROR_EOF) {
        host->log(ctx, SC_LOG_ERROR, "'%s' ended the stream (the publisher left or the server closed the "
                  "connection)", session->display_url);
        return SC_ERR_IO;
    }
    char reason[AV_ERROR_MAX_STRING_SIZE];
    if (av_strerror(av_error, reason, sizeof(reason)) < 0)
        snprintf(reason, sizeof(reason), "error %d", av_error);
    host->log(ctx, SC_LOG_ERROR, "%s '%s' failed: %s", doing, session->display_url, reason);
    return av_error == AVERROR(ENOMEM) ? SC_ERR_NOMEM : SC_ERR_IO;
}

static void close_input(pull_session *session)
{
    avformat_close_input(&session->input);
    for (unsigned i = 0; session->in_band && i < session->stream_map_size; i++)
        byte_buffer_free(&session->in_band[i]);
    free(session->in_band);
    free(session->clocks);
    free(session->stream_map);
    session->in_band = NULL;
    session->clocks = NULL;
    session->stream_map = NULL;
    session->stream_map_size = 0;
}

static int flv_codec_of(enum AVCodecID codec)
{
    return codec == AV_CODEC_ID_H264 ? FLV_CODEC_H264 : codec == AV_CODEC_ID_HEVC ? FLV_CODEC_HEVC
                                                                                  : FLV_CODEC_NONE;
}

/* Compares a configuration record with the one the host stream was declared
 * with; when they differ (a publisher came back with other settings behind
 * the same server), the new parameter sets go in band. */
static void update_in_band(pull_session *session, unsigned input_index, const uint8_t *record, size_t size)
{
    byte_buffer *in_band = &session->in_band[input_index];
    const sc_stream_info *declared =
        session->source->host->stream_get(session->source->ctx, (size_t)session->stream_map[input_index]);
    int codec = flv_codec_of(session->input->streams[input_index]->codecpar->codec_id);
    byte_buffer_free(in_band);
    if (!declared || codec == FLV_CODEC_NONE || size == 0 ||
        (declared->extradata_size == size && memcmp(declared->extradata, record, size) == 0))
        return;
    session->source->host->counter_add(session->source->ctx, "config_changes", 1);
    if (flv_parameter_sets(codec, record, size, in_band) != 0)
        byte_buffer_free(in_band);
}

static int open_input(pull_session *session, const char *url)
{
    rtmp_source *source = session->source;
    AVFormatContext *input = avformat_alloc_context();
    if (!input)
        return SC_ERR_NOMEM;
    input->interrupt_callback.callback = interrupt_callback;
    input->interrupt_callback.opaque = session;

    AVDictionary *options = NULL;
    char number[32];
    av_dict_set(&options, "rtmp_live", source->rtmp_live, 0);
    snprintf(number, sizeof(number), "%" PRId64, source->rw_timeout_ns / 1000);
    av_dict_set(&options, "rw_timeout", number, 0);
    snprintf(number, sizeof(number), "%" PRId64, source->analyzeduration_ns / 1000);
    av_dict_set(&options, "analyzeduration", number, 0);
    /* RTMP always carries FLV: no probing. */
    const AVInputFormat *flv = av_find_input_format("flv");

    begin_call(session, 0);
    int ret = avformat_open_input(&input, url, flv, &options);
    end_call(session);
    av_dict_free(&options);
    if (ret < 0) /* the context is freed */
        return report_failure(session, "connecting to", ret);
    session->input = input;

    begin_call(session, source->analyzeduration_ns);
    ret = avformat_find_stream_info(input, NULL);
    end_call(session);
    if (ret < 0)
        return report_failure(session, "reading the stream parameters of", ret);
    return SC_OK;
}


static int usable_stream(const AVStream *stream)
{
    enum AVMediaType type = stream->codecpar->codec_type;
    return (type == AVMEDIA_TYPE_VIDEO || type == AVMEDIA_TYPE_AUDIO) &&
           stream->codecpar->codec_id != AV_CODEC_ID_NONE;
}

static int add_stream(pull_session *session, const sc_stream_info *info, const char *what)
{
    int index = session->source->host->source_add_stream(session->source->ctx, info);
    if (index < 0)
        session->source->host->log(session->source->ctx, SC_LOG_ERROR, "the host refused the %s stream of "
                                   "'%s' (%d)", what, session->display_url, index);
    return index;
}

/* After a reconnection the demuxer may find the streams in another order
 * (audio first, say). The host maps the i-th stream declared in a run onto
 * its i-th stream, so the known streams are declared again in their own
 * order, each with this connection's matching stream, or as they were
 * when this connection lacks it; new ones come after. */
static int declare_streams(pull_session *session)
{
    rtmp_source *source = session->source;
    const sc_host_api *host = source->host;
    AVFormatContext *input = session->input;
    unsigned count = input->nb_streams;
    session->stream_map = malloc(sizeof(int) * (count ? count : 1));
    session->in_band = calloc(count ? count : 1, sizeof(byte_buffer));
    session->clocks = calloc(count ? count : 1, sizeof(*session->clocks));
    if (!session->stream_map || !session->in_band || !session->clocks)
        return SC_ERR_NOMEM;
    session->stream_map_size = count;
    for (unsigned i = 0; i < count; i++) {
        session->stream_map[i] = -1;
        if (!usable_stream(input->streams[i])) {
            /* FLV script data (cue points) and unknown codecs. */
            input->streams[i]->discard = AVDISCARD_ALL;
            host->counter_add(source->ctx, "streams_ignored", 1);
        }
    }
    size_t known = host->stream_count(source->ctx);
    int declared = 0;
    for (size_t position = 0; position < known; position++) {
        const sc_stream_info *before = host->stream_get(source->ctx, position);
        if (!before)
            return SC_ERR_INVALID;
        unsigned match = count;
        for (unsigned i = 0; i < count && match == count; i++) {
            if (session->stream_map[i] < 0 && usable_stream(input->streams[i]) &&
                strcmp(avcodec_get_name(input->streams[i]->codecpar->codec_id), before->codec_name) == 0 &&
                (input->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) ==
                    (before->media_type == SC_MEDIA_VIDEO))
                match = i;
        }
        sc_stream_info info;
        if (match < count)
            sc_av_describe_stream(input->streams[match], &info);
        int index = add_stream(session, match < count ? &info : before, before->codec_name);
        if (index < 0)
            return index;
        if (match < count) {
            session->stream_map[match] = index;
            const AVCodecParameters *codec = input->streams[match]->codecpar;
            update_in_band(session, match, codec->extradata,
                           codec->extradata_size > 0 ? (size_t)codec->extradata_size : 0);
            declared++;
        }
    }
    for (unsigned i = 0; i < count; i++) {
        if (session->stream_map[i] >= 0 || !usable_stream(input->streams[i]))
            continue;
        sc_stream_info info;
        sc_av_describe_stream(input->streams[i], &info);
        int index = add_stream(session, &info, info.codec_name);
        if (index < 0)
            return index;
        session->stream_map[i] = index;
        declared++;
    }
    if (!declared) {
        host->log(source->ctx, SC_LOG_ERROR, "'%s' has no audio or video stream (yet)", session->display_url);
        return SC_ERR_IO;
    }
    return SC_OK;
}

static void release_buffer(void *opaque)
{
    AVBufferRef *buffer = opaque;
    av_buffer_unref(&buffer);
}

/* FFmpeg's FLV demuxer takes the 31-bit wrap of FLV timestamps (FFmpeg's
 * own muxer masks them to 31 bits, servers pass them on) for a 32-bit one:
 * at 2^31 ms (24.8 days) its timestamps jump ahead by 2^31 ms. That jump
 * is taken back here, so the timeline goes on without a glitch. */
static void correct_timestamps(pull_session *session, AVPacket *packet, AVRational time_base)
{
    struct stream_clock *clock = &session->clocks[packet->stream_index];
    if (packet->dts == AV_NOPTS_VALUE || time_base.num != 1 || time_base.den != 1000)
        return;
    const int64_t half = INT64_C(1) << 31;
    if (clock->seen) {
        int64_t step = packet->dts - clock->last_dts;
        int64_t last_corrected = clock->last_dts + clock->correction;
        if (last_corrected >= half - RTMP_WRAP31_WINDOW_MS && last_corrected <= half &&
            step >= half - RTMP_WRAP31_WINDOW_MS && step <= half + RTMP_WRAP31_WINDOW_MS) {
            clock->correction -= half;
            session->source->host->counter_add(session->source->ctx, "timestamp_wraps", 1);
        }
    }
    clock->seen = 1;
    clock->last_dts = packet->dts;
    packet->dts += clock->correction;
    if (packet->pts != AV_NOPTS_VALUE)
        packet->pts += clock->correction;
}

static int push_packet(pull_session *session, AVPacket *packet, int host_index)
{
    const sc_host_api *host = session->source->host;
    AVRational time_base = session->input->streams[packet->stream_index]->time_base;
    if (av_packet_make_refcounted(packet) < 0)
        return SC_ERR_NOMEM;
    correct_timestamps(session, packet, time_base);
    size_t side_data_size = 0;
    const uint8_t *side_data = av_packet_get_side_data(packet, AV_PKT_DATA_NEW_EXTRADATA, &side_data_size);
    if (side_data) {
        host->counter_add(session->source->ctx, "extradata_changes", 1);
        update_in_band(session, (unsigned)packet->stream_index, side_data, side_data_size);
    }
    const byte_buffer *in_band = &session->in_band[packet->stream_index];
    sc_packet *out;
    if ((packet->flags & AV_PKT_FLAG_KEY) && in_band->length > 0) {
        uint8_t *bytes;
        out = host->packet_alloc(session->source->ctx, in_band->length + (size_t)packet->size, &bytes);
        if (!out)
            return SC_ERR_NOMEM;
        memcpy(bytes, in_band->data, in_band->length);
        memcpy(bytes + in_band->length, packet->data, (size_t)packet->size);
    } else {
        /* The buffer reference moves into the host's packet, which
         * releases it with its last reference: no copy. */
        AVBufferRef *buffer = packet->buf;
        packet->buf = NULL;
        out = host->packet_wrap(session->source->ctx, packet->data, (size_t)packet->size, release_buffer,
                                buffer);
        if (!out) {
            av_buffer_unref(&buffer);
            return SC_ERR_NOMEM;
        }
    }
    out->stream_index = (uint32_t)host_index;
    out->flags = (packet->flags & AV_PKT_FLAG_KEY ? SC_PACKET_KEY : 0) |
                 (packet->flags & AV_PKT_FLAG_CORRUPT ? SC_PACKET_CORRUPT : 0);
    out->orig_pts = packet->pts == AV_NOPTS_VALUE ? SC_TIME_NONE : packet->pts;
    out->orig_dts = packet->dts == AV_NOPTS_VALUE ? SC_TIME_NONE : packet->dts;
    out->orig_duration = packet->duration > 0 ? packet->duration : 0;
    out->time_base_num = time_base.num;
    out->time_base_den = time_base.den;
    out->arrival_ns = host->wallclock_ns();
    return host->source_push(session->source->ctx, out);
}

static int read_packets(pull_session *session)
{
    AVPacket *packet = av_packet_alloc();
    if (!packet)
        return SC_ERR_NOMEM;
    int status;
    for (;;) {
        if (rtmp_stop_wanted(session->source)) {
            status = SC_ERR_STOPPED;
            break;
        }
        begin_call(session, 0);
        int ret = av_read_frame(session->input, packet);
        end_call(session);
        if (ret < 0) {
            status = report_failure(session, "reading", ret);
            break;
        }
        int host_index = (unsigned)packet->stream_index < session->stream_map_size
                             ? session->stream_map[packet->stream_index] : -1;
        if (host_index < 0 || packet->size <= 0) {
            if (host_index < 0)
                session->source->host->counter_add(session->source->ctx, "packets_ignored", 1);
            av_packet_unref(packet);
            continue;
        }
        status = push_packet(session, packet, host_index);
        av_packet_unref(packet);
        if (status != SC_OK)
            break;
    }
    av_packet_free(&packet);
    return status;
}

static int is_rtmp_url(const char *url)
{
    static const char *const schemes[] = { "rtmp://", "rtmps://", "rtmpt://", "rtmpts://", "rtmpe://",
                                           "rtmpte://" };
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strncasecmp(url, schemes[i], strlen(schemes[i])) == 0)
            return 1;
    return 0;
}

int rtmp_pull_run(rtmp_source *source)
{
    const sc_host_api *host = source->host;
    pull_session *session = calloc(1, sizeof(*session));
    char *url = malloc(URL_CAPACITY);
    if (!session || !url) {
        free(session);
        free(url);
        return SC_ERR_NOMEM;
    }
    session->source = source;
    int status;
    /* Resolved at every connection: signed URLs expire. */
    if (host->source_resolve_url(source->ctx, url, URL_CAPACITY) < 0) {
        status = SC_ERR_IO;
        goto done;
    }
    redact_url(url, session->display_url, sizeof(session->display_url));
    if (!is_rtmp_url(url)) {
        host->log(source->ctx, SC_LOG_ERROR, "'%s' is not an rtmp:// URL", session->display_url);
        status = SC_ERR_PERMANENT;
        goto done;
    }
    status = open_input(session, url);
    if (status == SC_OK)
        status = declare_streams(session);
    if (status == SC_OK) {
        host->log(source->ctx, SC_LOG_INFO, "playing '%s' (%u streams)", session->display_url,
                  session->input->nb_streams);
        status = read_packets(session);
    }
done:
    close_input(session);
    free(session);
    free(url);
    return status;
}
