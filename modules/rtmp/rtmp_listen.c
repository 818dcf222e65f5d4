/* rtmp listen mode: a small RTMP server for one publisher at a time.
 *
 * One thread (the source's) runs a poll loop over the listening socket, the
 * connections and a wake pipe; every socket is non-blocking and every
 * stage has a deadline, so no peer can hold the loop. A connection goes
 * through the handshake (the simple form OBS and ffmpeg accept), then
 * commands: connect (the application name is checked), releaseStream /
 * FCPublish / createStream, and publish (the stream key is checked in
 * constant time). Refusals are answered after a short delay, counted, and
 * logged with the peer's address at most once a second.
 *
 * Publishers come and go within one run(): the tracks (video, audio) are
 * declared to the host once, when the first publisher's sequence headers
 * are known, and later publishers map onto them; the first packet of each
 * later publisher is flagged as a discontinuity so the host rebases its
 * timestamps (a new encoder starts again from 0). A publisher whose
 * configuration differs (another resolution, say) gets its parameter sets
 * in front of each keyframe. A silent publisher is dropped after
 * idle_timeout, and a newcomer with the right key replaces one that has
 * been silent for takeover_after: a half-open old session never locks out
 * a reconnecting encoder.
 */
#include "rtmp_amf0.h"
#include "rtmp_chunk.h"
#include "rtmp_flv.h"
#include "rtmp_source.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(RTMP_MESSAGE_PADDING >= SC_PACKET_PADDING, "messages become packets without a copy");

#define INPUT_CAPACITY (64 * 1024)
/* A peer that does not read what we send is dropped past this. */
#define OUTPUT_LIMIT (1024 * 1024)
/* Before a publish is accepted only small command messages make sense. */
#define UNAUTHENTICATED_MESSAGE_LIMIT (64 * 1024)
#define ASSEMBLING_LIMIT (32 * 1024 * 1024)
#define OUR_CHUNK_SIZE 4096
#define OUR_WINDOW 2500000
/* Refusals wait this long: guessing keys gets slow. */
#define REFUSAL_DELAY_NS (500 * SC_NSEC_PER_MSEC)
/* How long a refused connection may take to receive its answer. */
#define CLOSING_GRACE_NS (2 * SC_NSEC_PER_SEC)
#define POLL_SLICE_MS 200
#define REFUSAL_LOG_WINDOW_NS (10 * SC_NSEC_PER_SEC)
#define REFUSAL_LOG_BURST 5
/* Until every announced track's sequence header arrived, packets wait;
 * past these limits the streams known so far are declared anyway. */
#define STARTUP_MAX_PACKETS 300
#define STARTUP_MAX_SPAN_MS 2000
#define STARTUP_MAX_WAIT_NS (3 * SC_NSEC_PER_SEC)
#define NAME_CAPACITY 256
#define MESSAGE_STREAM_ID 1
#define COMMAND_CHUNK_STREAM 3
#define STREAM_CHUNK_STREAM 5

enum session_state {
    SESSION_HANDSHAKE,      /* waiting for C0 and C1 */
    SESSION_HANDSHAKE_DONE, /* waiting for C2 */
    SESSION_COMMANDS,       /* connect, createStream, publish */
    SESSION_PUBLISHING,     /* the current publisher */
    SESSION_CLOSING         /* answering a refusal, then closing */
};

typedef struct session {
    int fd;
    char address[80];             /* "ip:port" of the peer */
    int state;
    int closed;
    int connected;                /* connect was accepted */
    uint8_t *input;
    size_t input_length;
    byte_buffer output;
    byte_buffer delayed_reply;    /* a refusal, sent at reply_due_ns */
    int64_t reply_due_ns;
    int64_t closing_deadline_ns;
    int write_shut;               /* the refusal is out: waiting for the peer to close */
    rtmp_chunk_reader reader;
    uint32_t out_chunk_size;
    uint64_t bytes_received;
    uint64_t bytes_acknowledged;
    uint32_t peer_window;         /* acknowledge every this many bytes; 0 never */
    int64_t started_ns;           /* connection, or end of its publishing */
    int64_t last_media_ns;
} session;

enum { TRACK_VIDEO = 0, TRACK_AUDIO = 1, TRACK_COUNT = 2 };

typedef struct track {
    uint32_t media_type;
    int seen;                     /* the current publisher sent something for it */
    int codec;                    /* of the current publisher's configuration */
    uint8_t *config;              /* the current publisher's configuration record */
    size_t config_size;
    flv_video_config video;
    flv_audio_config audio;
    int host_index;               /* -1 until declared */
    int declared_codec;
    uint8_t *declared_config;
    size_t declared_config_size;
    byte_buffer in_band;          /* parameter sets put in front of keyframes */
    int unsupported_logged;
    rtmp_timestamp_unwrapper clock;
} track;

typedef struct pending_packet {
    sc_packet *packet;
    int track;
} pending_packet;

typedef struct stream_metadata {
    int seen;
    int has_video;
    int has_audio;
    double width;
    double height;
    double frame_rate;
    double video_kbps;
    double audio_kbps;
    double sample_rate;
    double channels;
    int stereo;
} stream_metadata;

typedef struct server {
    rtmp_source *source;
    const sc_host_api *host;
    sc_ctx *ctx;
    int listen_fd;
    session **sessions;
    size_t session_count;
    session *publisher;
    int publishers_accepted;
    int discontinuity_next;
    int declared;                 /* the first publisher's streams are declared */
    int64_t publish_started_ns;
    track tracks[TRACK_COUNT];
    pending_packet *pending;
    size_t pending_count;
    size_t pending_capacity;
    stream_metadata metadata;
    /* The publisher's latest onFI: its stated wall-clock time and the
     * message's timestamp, unwrapped like the media once a track runs. */
    struct timecode {
        int set;
        int resolved;              /* `unwrapped` is valid */
        int64_t utc_ns;
        uint32_t raw;
        int64_t unwrapped;
    } timecode;
    uint64_t random_state;
    int64_t refusal_window_start_ns;
    int refusals_logged;
    int64_t refusals_not_logged;
} server;

static int open_listener(server *state)
{
    rtmp_source *source = state->source;
    int fd = socket(source->listen_address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        state->host->log(state->ctx, SC_LOG_ERROR, "cannot listen on %s: socket: %s", source->listen_display,
                         strerror(errno));
        return SC_ERR_PERMANENT;
    }
    int one = 1;
    /* Restarting streamcut must not wait for old connections' TIME_WAIT;
     * another listener on the port still makes bind fail. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&source->listen_address, source->listen_address_length) != 0 ||
        listen(fd, 16) != 0) {
        int error = errno;
        state->host->log(state->ctx, SC_LOG_ERROR, "cannot listen on %s: %s%s", source->listen_display,
                         strerror(error),
                         error == EADDRINUSE ? " (another program, or another streamcut, has this port)" : "");
        close(fd);
        return SC_ERR_PERMANENT;
    }
    state->listen_fd = fd;
    return SC_OK;
}

/* ---- sessions ----------------------------------------------------------- */

static void peer_text(const struct sockaddr_storage *address, char *out, size_t size)
{
    char numeric[INET6_ADDRSTRLEN] = "?";
    if (address->ss_family == AF_INET6) {
        const struct sockaddr_in6 *ip6 = (const struct sockaddr_in6 *)address;
        inet_ntop(AF_INET6, &ip6->sin6_addr, numeric, sizeof(numeric));
        snprintf(out, size, "[%s]:%u", numeric, ntohs(ip6->sin6_port));
    } else {
        const struct sockaddr_in *ip4 = (const struct sockaddr_in *)address;
        inet_ntop(AF_INET, &ip4->sin_addr, numeric, sizeof(numeric));
        snprintf(out, size, "%s:%u", numeric, ntohs(ip4->sin_port));
    }
}

static void count(server *state, const char *name)
{
    state->host->counter_add(state->ctx, name, 1);
}

static int64_t now_ns(server *state)
{
    return state->host->monotonic_ns();
}

static void end_publisher(server *state, const char *why, int level);

static void report_reader_counters(server *state, session *connection)
{
    rtmp_chunk_reader *reader = &connection->reader;
    if (reader->missing_extended_timestamps)
        state->host->counter_add(state->ctx, "missing_extended_timestamps",
                                 (int64_t)reader->missing_extended_timestamps);
    if (reader->extended_timestamp_messages)
        state->host->counter_add(state->ctx, "extended_timestamp_messages",
                                 (int64_t)reader->extended_timestamp_messages);
    reader->missing_extended_timestamps = 0;
    reader->extended_timestamp_messages = 0;
}

static void close_session(server *state, session *connection, const char *why)
{
    if (connection->closed)
        return;
    if (state->publisher == connection)
        end_publisher(state, why ? why : "closed", SC_LOG_WARNING);
    else if (why)
        state->host->log(state->ctx, SC_LOG_DEBUG, "connection from %s closed: %s", connection->address, why);
    report_reader_counters(state, connection);
    connection->closed = 1;
    close(connection->fd);
    connection->fd = -1;
}

static void free_session(session *connection)
{
    if (connection->fd >= 0)
        close(connection->fd);
    rtmp_chunk_reader_clear(&connection->reader);
    byte_buffer_free(&connection->output);
    byte_buffer_free(&connection->delayed_reply);
    free(connection->input);
    free(connection);
}

static void flush_output(server *state, session *connection)
{
    while (!connection->closed && connection->output.length > 0) {
        ssize_t sent = send(connection->fd, connection->output.data, connection->output.length,
                            MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) {
            byte_buffer_consume(&connection->output, (size_t)sent);
            continue;
        }
        if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        close_session(state, connection, sent < 0 ? strerror(errno) : "send failed");
        return;
    }
    if (connection->output.failed || connection->output.length > OUTPUT_LIMIT)
        close_session(state, connection, "the peer does not read what we send");
}

/* Answers a refused connection after REFUSAL_DELAY_NS, then closes it. */
static void refuse(server *state, session *connection, const byte_buffer *reply)
{
    byte_buffer_append(&connection->delayed_reply, reply->data, reply->length);
    connection->state = SESSION_CLOSING;
    connection->reply_due_ns = now_ns(state) + REFUSAL_DELAY_NS;
    connection->closing_deadline_ns = connection->reply_due_ns + CLOSING_GRACE_NS;
}

/* Refusals are logged with the peer's address, a few per window: a key
 * guesser must not flood the log (the counters have the totals). */
static void log_refusal(server *state, session *connection, const char *reason)
{
    int64_t now = now_ns(state);
    if (now - state->refusal_window_start_ns >= REFUSAL_LOG_WINDOW_NS) {
        if (state->refusals_not_logged)
            state->host->log(state->ctx, SC_LOG_WARNING, "%lld more refusals were not logged",
                             (long long)state->refusals_not_logged);
        state->refusal_window_start_ns = now;
        state->refusals_logged = 0;
        state->refusals_not_logged = 0;
    }
    if (state->refusals_logged >= REFUSAL_LOG_BURST) {
        state->refusals_not_logged++;
        return;
    }
    state->refusals_logged++;
    state->host->log(state->ctx, SC_LOG_WARNING, "refused publisher from %s: %s", connection->address, reason);
}

/* ---- commands -------------------------------------------------------------- */

static void write_command(session *connection, uint32_t chunk_stream, uint32_t message_stream,
                          const byte_buffer *body, byte_buffer *out)
{
    rtmp_chunk_write(out, chunk_stream, RTMP_MESSAGE_COMMAND_AMF0, message_stream, 0, body->data,
                     body->length, connection->out_chunk_size);
}

static void write_status_object(byte_buffer *body, const char *level, const char *code, const char *description)
{
    amf0_write_object_begin(body);
    amf0_write_property_name(body, "level");
    amf0_write_string(body, level);
    amf0_write_property_name(body, "code");
    amf0_write_string(body, code);
    amf0_write_property_name(body, "description");
    amf0_write_string(body, description);
}

/* onStatus on the publishing stream: NetStream.Publish.Start, or an error. */
static void write_on_status(session *connection, uint32_t message_stream, const char *level, const char *code,
                            const char *description, byte_buffer *out)
{
    byte_buffer body = { 0 };
    amf0_write_string(&body, "onStatus");
    amf0_write_number(&body, 0);
    amf0_write_null(&body);
    write_status_object(&body, level, code, description);
    amf0_write_object_end(&body);
    write_command(connection, STREAM_CHUNK_STREAM, message_stream, &body, out);
    byte_buffer_free(&body);
}

static void write_simple_result(session *connection, double transaction, int with_number, double number)
{
    byte_buffer body = { 0 };
    amf0_write_string(&body, "_result");
    amf0_write_number(&body, transaction);
    amf0_write_null(&body);
    if (with_number)
        amf0_write_number(&body, number);
    else
        amf0_write_undefined(&body);
    write_command(connection, COMMAND_CHUNK_STREAM, 0, &body, &connection->output);
    byte_buffer_free(&body);
}

/* The part of a name before any "?query" and without trailing slashes. */
static size_t bare_name_length(const char *name, size_t length)
{
    size_t bare = 0;
    while (bare < length && name[bare] != '?')
        bare++;
    while (bare > 0 && name[bare - 1] == '/')
        bare--;
    return bare;
}

/* Compares in time that depends on the expected key's length only, so the
 * answer's timing says nothing about how much of a guess was right. */
static int keys_match(const char *given, size_t given_length, const char *expected)
{
    size_t expected_length = strlen(expected);
    volatile unsigned char difference = given_length != expected_length;
    for (size_t i = 0; i < expected_length; i++) {
        unsigned char byte = i < given_length ? (unsigned char)given[i] : 0;
        difference |= byte ^ (unsigned char)expected[i];
    }
    return difference == 0;
}

/* A peer-supplied name made safe to log: no control characters, capped. */
static void printable(const char *text, size_t length, char *out, size_t size)
{
    size_t written = 0;
    for (size_t i = 0; i < length && written + 1 < size && written < 64; i++) {
        unsigned char byte = (unsigned char)text[i];
        out[written++] = byte >= 0x20 && byte < 0x7F ? (char)byte : '?';
    }
    out[written] = '\0';
}

static void handle_connect(server *state, session *connection, double transaction, const amf0_reader *object)
{
    rtmp_source *source = state->source;
    char app[NAME_CAPACITY] = "";
    if (amf0_get_string_property(object, "app", app, sizeof(app)) != 0)
        app[0] = '\0';
    size_t app_length = bare_name_length(app, strlen(app));
    if (app_length != strlen(source->app) || memcmp(app, source->app, app_length) != 0) {
        count(state, "publishers_rejected");
        char shown[80], reason[128];
        printable(app, app_length, shown, sizeof(shown));
        snprintf(reason, sizeof(reason), "wrong application '%s'", shown);
        log_refusal(state, connection, reason);
        byte_buffer body = { 0 }, reply = { 0 };
        amf0_write_string(&body, "_error");
        amf0_write_number(&body, transaction);
        amf0_write_null(&body);
        write_status_object(&body, "error", "NetConnection.Connect.Rejected",
                            "Connection rejected: unknown application");
        amf0_write_object_end(&body);
        write_command(connection, COMMAND_CHUNK_STREAM, 0, &body, &reply);
        refuse(state, connection, &reply);
        byte_buffer_free(&body);
        byte_buffer_free(&reply);
        return;
    }
    double encoding = 0;
    if (amf0_get_number_property(object, "objectEncoding", &encoding) != 0)
        encoding = 0;
    connection->connected = 1;
    byte_buffer *out = &connection->output;
    rtmp_write_window_ack_size(out, OUR_WINDOW);
    rtmp_write_set_peer_bandwidth(out, OUR_WINDOW, 2);
    rtmp_write_set_chunk_size(out, OUR_CHUNK_SIZE);
    connection->out_chunk_size = OUR_CHUNK_SIZE;

    byte_buffer body = { 0 };
    amf0_write_string(&body, "_result");
    amf0_write_number(&body, transaction);
    amf0_write_object_begin(&body);
    amf0_write_property_name(&body, "fmsVer");
    amf0_write_string(&body, "FMS/3,0,1,123");
    amf0_write_property_name(&body, "capabilities");
    amf0_write_number(&body, 31);
    amf0_write_object_end(&body);
    write_status_object(&body, "status", "NetConnection.Connect.Success", "Connection succeeded.");
    amf0_write_property_name(&body, "objectEncoding");
    amf0_write_number(&body, encoding);
    amf0_write_object_end(&body);
    write_command(connection, COMMAND_CHUNK_STREAM, 0, &body, out);
    byte_buffer_free(&body);
}

static void reset_publisher_tracks(server *state)
{
    for (int i = 0; i < TRACK_COUNT; i++) {
        track *current = &state->tracks[i];
        free(current->config);
        current->config = NULL;
        current->config_size = 0;
        current->codec = FLV_CODEC_NONE;
        current->seen = 0;
        current->unsupported_logged = 0;
        current->clock = (rtmp_timestamp_unwrapper){ 0 };
        byte_buffer_free(&current->in_band);
    }
    state->metadata = (stream_metadata){ 0 };
    state->timecode = (struct timecode){ 0 };
}

static void declare_streams(server *state);

static void end_publisher(server *state, const char *why, int level)
{
    session *connection = state->publisher;
    if (!connection)
        return;
    state->host->log(state->ctx, level, "publisher %s stopped: %s", connection->address, why);
    state->publisher = NULL;
    if (connection->state == SESSION_PUBLISHING)
        connection->state = SESSION_COMMANDS;
    connection->started_ns = now_ns(state);
    /* A publisher that left during its first seconds still leaves its
     * packets: declare what is known. */
    if (!state->declared)
        declare_streams(state);
}

static void handle_publish(server *state, session *connection, const amf0_reader *arguments,
                           uint32_t message_stream)
{
    rtmp_source *source = state->source;
    amf0_reader reader = *arguments;
    const char *name = "";
    size_t name_length = 0;
    if (amf0_read_string(&reader, &name, &name_length) != 0)
        name_length = 0;
    name_length = bare_name_length(name, name_length);
    byte_buffer reply = { 0 };
    if (*source->key && !keys_match(name, name_length, source->key)) {
        count(state, "publishers_rejected");
        log_refusal(state, connection, "wrong stream key");
        write_on_status(connection, message_stream, "error", "NetStream.Publish.BadName",
                        "Publishing refused: wrong stream key", &reply);
        refuse(state, connection, &reply);
        byte_buffer_free(&reply);
        return;
    }
    int64_t now = now_ns(state);
    if (state->publisher && state->publisher != connection) {
        session *current = state->publisher;
        int64_t silent = now - current->last_media_ns;
        if (silent < source->takeover_after_ns) {
            count(state, "publishers_busy");
            log_refusal(state, connection, "another publisher is live");
            write_on_status(connection, message_stream, "error", "NetStream.Publish.BadName",
                            "Publishing refused: the stream is already being published", &reply);
            refuse(state, connection, &reply);
            byte_buffer_free(&reply);
            return;
        }
        count(state, "publishers_replaced");
        char why[160];
        snprintf(why, sizeof(why), "silent for %.1f s, replaced by %s", (double)silent / SC_NSEC_PER_SEC,
                 connection->address);
        end_publisher(state, why, SC_LOG_WARNING);
        close_session(state, current, NULL);
    } else if (state->publisher == connection) {
        return; /* publishing twice on one connection: already is */
    }

    connection->state = SESSION_PUBLISHING;
    connection->last_media_ns = now;
    connection->reader.max_message_size = RTMP_LARGEST_MESSAGE;
    state->publisher = connection;
    state->publish_started_ns = now;
    state->publishers_accepted++;
    reset_publisher_tracks(state);
    count(state, "publishers");
    if (state->publishers_accepted > 1) {
        count(state, "publisher_reconnects");
        state->discontinuity_next = 1;
    }
    state->host->log(state->ctx, SC_LOG_INFO, "publisher %s started (app '%s', publisher %d of this run)",
                     connection->address, source->app, state->publishers_accepted);
    rtmp_write_user_control(&connection->output, RTMP_USER_STREAM_BEGIN, message_stream);
    write_on_status(connection, message_stream, "status", "NetStream.Publish.Start", "Publishing started.",
                    &connection->output);
}

static void handle_command(server *state, session *connection, const rtmp_message *message,
                           const uint8_t *data, size_t length)
{
    amf0_reader reader;
    amf0_reader_init(&reader, data, length);
    const char *name;
    size_t name_length;
    double transaction = 0;
    if (amf0_read_string(&reader, &name, &name_length) != 0) {
        count(state, "protocol_errors");
        close_session(state, connection, "a command without a name");
        return;
    }
    if (amf0_read_number(&reader, &transaction) != 0)
        transaction = 0;
    amf0_reader object = reader;  /* the command object (or null) */
    amf0_skip_value(&reader);
    char command[32];
    snprintf(command, sizeof(command), "%.*s", (int)(name_length < 31 ? name_length : 31), name);

    if (strcmp(command, "connect") == 0) {
        if (!connection->connected)
            handle_connect(state, connection, transaction, &object);
        return;
    }
    if (!connection->connected) {
        count(state, "protocol_errors");
        close_session(state, connection, "a command before connect");
        return;
    }
    if (strcmp(command, "createStream") == 0) {
        write_simple_result(connection, transaction, 1, MESSAGE_STREAM_ID);
    } else if (strcmp(command, "releaseStream") == 0 || strcmp(command, "FCPublish") == 0) {
        if (transaction > 0)
            write_simple_result(connection, transaction, 0, 0);
    } else if (strcmp(command, "publish") == 0) {
        handle_publish(state, connection, &reader, message->message_stream_id);
    } else if (strcmp(command, "FCUnpublish") == 0 || strcmp(command, "deleteStream") == 0 ||
               strcmp(command, "closeStream") == 0) {
        if (state->publisher == connection)
            end_publisher(state, "unpublished", SC_LOG_INFO);
    } else if (strcmp(command, "play") == 0) {
        byte_buffer reply = { 0 };
        write_on_status(connection, message->message_stream_id, "error", "NetStream.Play.Failed",
                        "This server only accepts publishers", &reply);
        refuse(state, connection, &reply);
        byte_buffer_free(&reply);
    }
    /* Anything else (_checkbw, getStreamLength, ...) needs no answer. */
}

/* ---- tracks and packets ---------------------------------------------------- */

static const char *pixel_format(const flv_video_config *video)
{
    static const char *const eight_bit[4] = { "gray", "yuv420p", "yuv422p", "yuv444p" };
    static const char *const ten_bit[4] = { "gray10le", "yuv420p10le", "yuv422p10le", "yuv444p10le" };
    if (video->chroma_format < 0 || video->chroma_format > 3)
        return NULL;
    if (video->bit_depth == 8)
        return eight_bit[video->chroma_format];
    if (video->bit_depth == 10)
        return ten_bit[video->chroma_format];
    return NULL;
}

static void declare_track(server *state, int index)
{
    track *current = &state->tracks[index];
    const stream_metadata *metadata = &state->metadata;
    sc_stream_info info = {
        .struct_size = sizeof(info),
        .duration = SC_TIME_NONE, /* live */
        .media_type = current->media_type,
        .codec_name = flv_codec_name(current->codec),
        .extradata = current->config,
        .extradata_size = current->config_size,
        .time_base_num = 1,
        .time_base_den = 1000,
        .profile = -99,
        .level = -99,
        .sar_den = 1,
        .fps_den = 1,
        .color_primaries = 2,
        .color_trc = 2,
        .color_space = 2,
    };
    if (current->media_type == SC_MEDIA_VIDEO) {
        info.profile = current->video.profile;
        info.level = current->video.level;
        info.width = current->video.width > 0 ? current->video.width : (int32_t)metadata->width;
        info.height = current->video.height > 0 ? current->video.height : (int32_t)metadata->height;
        info.format_name = pixel_format(&current->video);
        flv_frame_rate(metadata->frame_rate, &info.fps_num, &info.fps_den);
        info.bit_rate = (int64_t)(metadata->video_kbps * 1000);
    } else {
        /* FFmpeg numbers AAC profiles as the object type minus one. */
        info.profile = current->audio.object_type > 0 ? current->audio.object_type - 1 : -99;
        info.sample_rate = current->audio.sample_rate > 0 ? current->audio.sample_rate
                                                          : (int32_t)metadata->sample_rate;
        info.channels = current->audio.channels > 0 ? current->audio.channels
                        : metadata->channels > 0   ? (int32_t)metadata->channels
                                                   : (metadata->stereo ? 2 : 1);
        info.channel_layout = info.channels == 1 ? 0x4 : info.channels == 2 ? 0x3 : 0;
        info.frame_size = current->audio.frame_size;
        info.format_name = "fltp";
        info.bit_rate = (int64_t)(metadata->audio_kbps * 1000);
    }
    if (info.bit_rate < 0)
        info.bit_rate = 0;
    int host_index = state->host->source_add_stream(state->ctx, &info);
    if (host_index < 0) {
        state->host->log(state->ctx, SC_LOG_ERROR, "the host refused the %s stream (%d)", info.codec_name,
                         host_index);
        return;
    }
    int redeclared = current->host_index >= 0;
    current->host_index = host_index;
    current->declared_codec = current->codec;
    free(current->declared_config);
    current->declared_config = malloc(current->config_size ? current->config_size : 1);
    if (current->declared_config)
        memcpy(current->declared_config, current->config, current->config_size);
    current->declared_config_size = current->declared_config ? current->config_size : 0;
    byte_buffer_free(&current->in_band);
    if (current->media_type == SC_MEDIA_VIDEO)
        state->host->log(state->ctx, redeclared ? SC_LOG_WARNING : SC_LOG_INFO,
                         "%sstream %d: video %s %dx%d%s", redeclared ? "codec changed: new " : "", host_index,
                         info.codec_name, info.width, info.height, info.fps_num ? "" : " (frame rate unknown)");
    else
        state->host->log(state->ctx, redeclared ? SC_LOG_WARNING : SC_LOG_INFO,
                         "%sstream %d: audio %s %d Hz, %d channels", redeclared ? "codec changed: new " : "",
                         host_index, info.codec_name, info.sample_rate, info.channels);
}

static int push_packet(server *state, int index, sc_packet *packet)
{
    packet->stream_index = (uint32_t)state->tracks[index].host_index;
    if (state->discontinuity_next) {
        /* A new publisher: its encoder starts a timeline of its own. */
        packet->flags |= SC_PACKET_DISCONTINUITY;
        state->discontinuity_next = 0;
    }
    return state->host->source_push(state->ctx, packet);
}

static void declare_streams(server *state)
{
    if (state->declared)
        return;
    int any = 0;
    for (int i = 0; i < TRACK_COUNT; i++)
        if (state->tracks[i].config && state->tracks[i].host_index < 0) {
            declare_track(state, i);
            any = 1;
        }
    if (!any)
        return;
    state->declared = 1;
    for (size_t i = 0; i < state->pending_count; i++) {
        pending_packet *waiting = &state->pending[i];
        if (state->tracks[waiting->track].host_index >= 0)
            push_packet(state, waiting->track, waiting->packet);
        else
            state->host->packet_unref(waiting->packet);
    }
    state->pending_count = 0;
}

/* Declares the streams once every track the publisher announced (in its
 * metadata, else by sending anything) has its configuration, or once
 * waiting longer would hold too much. */
static void maybe_finish_startup(server *state, int64_t now)
{
    if (state->declared || !state->publisher)
        return;
    const track *video = &state->tracks[TRACK_VIDEO], *audio = &state->tracks[TRACK_AUDIO];
    int expect_video = state->metadata.seen ? state->metadata.has_video : video->seen;
    int expect_audio = state->metadata.seen ? state->metadata.has_audio : audio->seen;
    int have_video = video->config != NULL, have_audio = audio->config != NULL;
    if (!have_video && !have_audio)
        return;
    int ready = (have_video || !expect_video) && (have_audio || !expect_audio);
    int64_t span = 0;
    if (state->pending_count > 1)
        span = state->pending[state->pending_count - 1].packet->orig_dts - state->pending[0].packet->orig_dts;
    if (ready || state->pending_count >= STARTUP_MAX_PACKETS || span >= STARTUP_MAX_SPAN_MS ||
        now - state->publish_started_ns >= STARTUP_MAX_WAIT_NS)
        declare_streams(state);
}

static void submit_packet(server *state, int index, sc_packet *packet)
{
    if (state->declared && state->tracks[index].host_index >= 0) {
        push_packet(state, index, packet);
        return;
    }
    if (state->pending_count == state->pending_capacity) {
        size_t capacity = state->pending_capacity ? state->pending_capacity * 2 : 64;
        pending_packet *grown = realloc(state->pending, capacity * sizeof(*grown));
        if (!grown) {
            state->host->packet_unref(packet);
            return;
        }
        state->pending = grown;
        state->pending_capacity = capacity;
    }
    state->pending[state->pending_count++] = (pending_packet){ packet, index };
    maybe_finish_startup(state, now_ns(state));
}

static void set_track_config(server *state, int index, int codec, const uint8_t *record, size_t size)
{
    track *current = &state->tracks[index];
    flv_video_config video = { 0 };
    flv_audio_config audio = { 0 };
    int parsed = 0;
    switch (codec) {
    case FLV_CODEC_H264: parsed = flv_parse_avc_config(record, size, &video) == 0; break;
    case FLV_CODEC_HEVC: parsed = flv_parse_hevc_config(record, size, &video) == 0; break;
    case FLV_CODEC_AAC: parsed = flv_parse_aac_config(record, size, &audio) == 0; break;
    default:
        video = (flv_video_config){ .profile = -99, .level = -99, .chroma_format = -1 };
        parsed = size > 0;
        break;
    }
    if (!parsed) {
        count(state, "configs_malformed");
        state->host->log(state->ctx, SC_LOG_WARNING, "publisher %s sent an unreadable %s sequence header",
                         state->publisher->address, flv_codec_name(codec));
        return;
    }
    uint8_t *copy = malloc(size);
    if (!copy)
        return;
    memcpy(copy, record, size);
    free(current->config);
    current->config = copy;
    current->config_size = size;
    current->codec = codec;
    current->video = video;
    current->audio = audio;
    byte_buffer_free(&current->in_band);

    if (current->host_index < 0) {
        /* A track the first publisher did not have. */
        if (state->declared)
            declare_track(state, index);
        else
            maybe_finish_startup(state, now_ns(state));
        return;
    }
    if (codec != current->declared_codec) {
        declare_track(state, index);
        return;
    }
    if (size == current->declared_config_size && memcmp(record, current->declared_config, size) == 0)
        return;
    count(state, "config_changes");
    if (codec == FLV_CODEC_H264 || codec == FLV_CODEC_HEVC) {
        /* Clips carry the first configuration; repeating this publisher's
         * parameter sets in its keyframes keeps them decodable. */
        if (flv_parameter_sets(codec, record, size, &current->in_band) != 0)
            byte_buffer_free(&current->in_band);
        state->host->log(state->ctx, SC_LOG_INFO, "publisher %s: new %s configuration (%dx%d); its parameter "
                         "sets go in front of each keyframe", state->publisher->address, flv_codec_name(codec),
                         video.width, video.height);
    } else {
        state->host->log(state->ctx, SC_LOG_WARNING, "publisher %s: the %s configuration changed (%d Hz, %d "
                         "channels); clips keep the first one", state->publisher->address,
                         flv_codec_name(codec), audio.sample_rate, audio.channels);
    }
}

static void release_message(void *opaque)
{
    free(opaque);
}

/* Beyond this distance from the last onFI a stated time is not trusted:
 * the encoder stopped sending them, or its timestamps jumped. */
#define TIMECODE_REACH_MS 60000

/* The wall-clock time of a packet at `pts_ms` (unwrapped) according to the
 * publisher's last onFI, or SC_TIME_NONE. `timestamp` is the packet's raw
 * one, which places the onFI on the unwrapped timeline the first time. */
static int64_t stated_utc(server *state, const track *current, uint32_t timestamp, int64_t pts_ms)
{
    struct timecode *timecode = &state->timecode;
    if (!timecode->set)
        return SC_TIME_NONE;
    if (!timecode->resolved) {
        int64_t dts_ms = current->clock.value;
        timecode->unwrapped = dts_ms + (int32_t)(timecode->raw - timestamp);
        timecode->resolved = 1;
    }
    int64_t distance_ms = pts_ms - timecode->unwrapped;
    if (distance_ms > TIMECODE_REACH_MS || distance_ms < -TIMECODE_REACH_MS) {
        count(state, "timecodes_stale");
        return SC_TIME_NONE;
    }
    return timecode->utc_ns + distance_ms * INT64_C(1000000);
}

/* onFI: "sd" (date) and "st" (time) as the encoder's clock shows them. */
static void read_timecode(server *state, uint32_t timestamp, const amf0_reader *object)
{
    char date[32], time_text[32];
    int64_t utc_ns;
    if (amf0_get_string_property(object, "sd", date, sizeof(date)) != 0 ||
        amf0_get_string_property(object, "st", time_text, sizeof(time_text)) != 0 ||
        flv_parse_timecode(date, time_text, state->source->timecode_offset_ns, &utc_ns) != 0) {
        count(state, "timecodes_malformed");
        return;
    }
    struct timecode *timecode = &state->timecode;
    if (!timecode->set)
        state->host->log(state->ctx, SC_LOG_INFO, "publisher %s states its wall-clock time (onFI %s %s); "
                         "packets carry it as their source UTC", state->publisher->address, date, time_text);
    timecode->set = 1;
    timecode->utc_ns = utc_ns;
    timecode->raw = timestamp;
    /* Placed on the unwrapped timeline through a running track's clock
     * (a copy: the track's own state moves only with its packets). */
    const track *running = state->tracks[TRACK_VIDEO].clock.started ? &state->tracks[TRACK_VIDEO]
                           : state->tracks[TRACK_AUDIO].clock.started ? &state->tracks[TRACK_AUDIO] : NULL;
    timecode->resolved = running != NULL;
    if (running) {
        rtmp_timestamp_unwrapper copy = running->clock;
        timecode->unwrapped = rtmp_unwrap_timestamp(&copy, timestamp, NULL);
    }
    count(state, "timecodes");
}

/* One audio or video message (or aggregate part) of the publisher. `owned`
 * is the message's buffer when the payload may be handed to the host as it
 * is (set to NULL then), else NULL and the payload is copied. */
static void handle_media(server *state, int index, uint32_t timestamp, const uint8_t *data, size_t size,
                         uint8_t **owned)
{
    track *current = &state->tracks[index];
    flv_media media;
    int parsed = index == TRACK_VIDEO ? flv_parse_video(data, size, &media) : flv_parse_audio(data, size, &media);
    if (parsed != 0) {
        count(state, "media_malformed");
        return;
    }
    current->seen = 1;
    if (media.codec == FLV_CODEC_NONE) {
        count(state, index == TRACK_VIDEO ? "video_unsupported" : "audio_unsupported");
        if (!current->unsupported_logged) {
            current->unsupported_logged = 1;
            state->host->log(state->ctx, SC_LOG_WARNING, "publisher %s: %s codec %s%u is not supported; "
                             "its packets are left out", state->publisher->address,
                             index == TRACK_VIDEO ? "video" : "audio", media.enhanced ? "FourCC " : "id ",
                             media.source_id);
        }
        return;
    }
    if (media.kind == FLV_PACKET_CONFIG) {
        set_track_config(state, index, media.codec, data + media.payload_offset, media.payload_size);
        return;
    }
    if (media.kind != FLV_PACKET_FRAME || media.payload_size == 0)
        return;
    if (!current->config || current->codec != media.codec) {
        count(state, "packets_without_config");
        return;
    }
    int wrapped;
    int64_t dts = rtmp_unwrap_timestamp(&current->clock, timestamp, &wrapped);
    if (wrapped)
        count(state, "timestamp_wraps");

    const uint8_t *payload = data + media.payload_offset;
    int keyframe = index == TRACK_AUDIO || media.keyframe;
    size_t prefix = index == TRACK_VIDEO && keyframe ? current->in_band.length : 0;
    sc_packet *packet;
    if (prefix == 0 && owned && *owned) {
        packet = state->host->packet_wrap(state->ctx, payload, media.payload_size, release_message, *owned);
        if (packet)
            *owned = NULL;
    } else {
        uint8_t *bytes;
        packet = state->host->packet_alloc(state->ctx, prefix + media.payload_size, &bytes);
        if (packet) {
            if (prefix)
                memcpy(bytes, current->in_band.data, prefix);
            memcpy(bytes + prefix, payload, media.payload_size);
        }
    }
    if (!packet) {
        count(state, "packets_dropped_nomem");
        return;
    }
    packet->flags = keyframe ? SC_PACKET_KEY : 0;
    packet->orig_dts = dts;
    packet->orig_pts = dts + media.composition_offset;
    packet->orig_duration = 0;
    packet->time_base_num = 1;
    packet->time_base_den = 1000;
    packet->arrival_ns = state->host->wallclock_ns();
    packet->source_utc_ns = stated_utc(state, current, timestamp, dts + media.composition_offset);
    submit_packet(state, index, packet);
}

/* Handler names that describe the stream or the encoder, not events. */
static int is_housekeeping_data(const char *name, size_t length)
{
    static const char *const names[] = { "onFI", "|RtmpSampleAccess", "onStatus", "onBWDone" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == length && memcmp(names[i], name, length) == 0)
            return 1;
    return 0;
}

static void read_metadata(server *state, const amf0_reader *object)
{
    stream_metadata *metadata = &state->metadata;
    amf0_reader value;
    double number;
    metadata->seen = 1;
    metadata->has_video = amf0_find_property(object, "videocodecid", &value) == 0;
    metadata->has_audio = amf0_find_property(object, "audiocodecid", &value) == 0;
    if (amf0_get_number_property(object, "width", &number) == 0 && number > 0 && number < 65536)
        metadata->width = number;
    if (amf0_get_number_property(object, "height", &number) == 0 && number > 0 && number < 65536)
        metadata->height = number;
    if (amf0_get_number_property(object, "framerate", &number) == 0 ||
        amf0_get_number_property(object, "fps", &number) == 0)
        metadata->frame_rate = number;
    if (amf0_get_number_property(object, "videodatarate", &number) == 0 && number > 0 && number < 1e7)
        metadata->video_kbps = number;
    if (amf0_get_number_property(object, "audiodatarate", &number) == 0 && number > 0 && number < 1e7)
        metadata->audio_kbps = number;
    if (amf0_get_number_property(object, "audiosamplerate", &number) == 0 && number > 0 && number < 1e6)
        metadata->sample_rate = number;
    if (amf0_get_number_property(object, "audiochannels", &number) == 0 && number > 0 && number < 64)
        metadata->channels = number;
    if (amf0_get_number_property(object, "stereo", &number) == 0)
        metadata->stereo = number != 0;
}

static void post_event(server *state, const char *name, char *payload)
{
    sc_event event = {
        .struct_size = sizeof(event),
        .name = name,
        .time = SC_TIME_NONE, /* now: data messages travel in step with the media */
        .pre_roll = SC_TIME_NONE,
        .post_roll = SC_TIME_NONE,
        .payload_json = payload,
    };
    state->host->event_post(state->ctx, &event);
}

static void handle_data(server *state, uint32_t timestamp, const uint8_t *data, size_t length)
{
    amf0_reader reader;
    amf0_reader_init(&reader, data, length);
    const char *handler;
    size_t handler_length;
    if (amf0_read_string(&reader, &handler, &handler_length) != 0) {
        count(state, "data_malformed");
        return;
    }
    if (handler_length == 13 && memcmp(handler, "@setDataFrame", 13) == 0 &&
        amf0_read_string(&reader, &handler, &handler_length) != 0) {
        count(state, "data_malformed");
        return;
    }
    if (handler_length == 10 && memcmp(handler, "onMetaData", 10) == 0) {
        int type = amf0_peek_type(&reader);
        if (type != AMF0_ECMA_ARRAY && type != AMF0_OBJECT) {
            count(state, "data_malformed");
            return;
        }
        read_metadata(state, &reader);
        count(state, "metadata");
        if (state->source->metadata_events) {
            byte_buffer json = { 0 };
            if (amf0_value_to_json(&reader, &json) == 0) {
                char *payload = byte_buffer_take_text(&json);
                if (payload)
                    post_event(state, "onMetaData", payload);
                free(payload);
            }
            byte_buffer_free(&json);
        }
        maybe_finish_startup(state, now_ns(state));
        return;
    }
    if (handler_length == 4 && memcmp(handler, "onFI", 4) == 0 && state->source->timecodes) {
        int type = amf0_peek_type(&reader);
        if (type == AMF0_ECMA_ARRAY || type == AMF0_OBJECT)
            read_timecode(state, timestamp, &reader);
        else
            count(state, "timecodes_malformed");
        return;
    }
    if (is_housekeeping_data(handler, handler_length) || !state->source->data_events)
        return;
    /* Named like the event strategy names FLV script data: the handler,
     * or a cue point's own name. */
    char name[NAME_CAPACITY];
    snprintf(name, sizeof(name), "%.*s", (int)(handler_length < NAME_CAPACITY - 1 ? handler_length
                                                                                    : NAME_CAPACITY - 1), handler);
    if (strcmp(name, "onCuePoint") == 0) {
        char cue[NAME_CAPACITY];
        if (amf0_get_string_property(&reader, "name", cue, sizeof(cue)) == 0 && cue[0])
            snprintf(name, sizeof(name), "%s", cue);
    }
    if (name[0] == '\0' || memchr(handler, '\0', handler_length)) {
        count(state, "data_malformed");
        return;
    }
    byte_buffer values = { 0 };
    int value_count = 0;
    while (!amf0_at_end(&reader)) {
        if (value_count)
            byte_buffer_append_byte(&values, ',');
        if (amf0_value_to_json(&reader, &values) != 0) {
            count(state, "data_malformed");
            byte_buffer_free(&values);
            return;
        }
        value_count++;
    }
    byte_buffer payload = { 0 };
    if (value_count > 1)
        byte_buffer_append_byte(&payload, '[');
    byte_buffer_append(&payload, values.data, values.length);
    if (value_count > 1)
        byte_buffer_append_byte(&payload, ']');
    byte_buffer_free(&values);
    char *text = value_count ? byte_buffer_take_text(&payload) : NULL;
    byte_buffer_free(&payload);
    post_event(state, name, text);
    free(text);
    count(state, "data_events");
}

static void handle_aggregate(server *state, uint32_t timestamp, const uint8_t *data, size_t length)
{
    size_t position = 0;
    flv_tag tag;
    int first = 1, result;
    uint32_t base = 0;
    while ((result = flv_next_aggregate_tag(data, length, &position, &tag)) == 1) {
        if (first) {
            base = tag.timestamp;
            first = 0;
        }
        /* The parts' timestamps count from the message's. */
        uint32_t part_time = timestamp + (tag.timestamp - base);
        if (tag.type == RTMP_MESSAGE_AUDIO)
            handle_media(state, TRACK_AUDIO, part_time, tag.data, tag.size, NULL);
        else if (tag.type == RTMP_MESSAGE_VIDEO)
            handle_media(state, TRACK_VIDEO, part_time, tag.data, tag.size, NULL);
        else if (tag.type == RTMP_MESSAGE_DATA_AMF0)
            handle_data(state, part_time, tag.data, tag.size);
        if (!state->publisher)
            return;
    }
    if (result < 0)
        count(state, "media_malformed");
}

/* ---- messages ----------------------------------------------------------------- */

static void handle_message(server *state, session *connection, rtmp_message *message)
{
    uint8_t *owned = message->data;
    const uint8_t *data = message->data;
    size_t length = message->length;
    int from_publisher = state->publisher == connection;
    switch (message->type) {
    case RTMP_MESSAGE_WINDOW_ACK_SIZE:
        if (length >= 4)
            connection->peer_window = read_be32(data);
        break;
    case RTMP_MESSAGE_USER_CONTROL:
        if (length >= 6 && read_be16(data) == RTMP_USER_PING_REQUEST)
            rtmp_write_user_control(&connection->output, RTMP_USER_PING_RESPONSE, read_be32(data + 2));
        break;
    case RTMP_MESSAGE_COMMAND_AMF3:
        /* AMF0 values after a format byte. */
        if (length >= 1)
            handle_command(state, connection, message, data + 1, length - 1);
        break;
    case RTMP_MESSAGE_COMMAND_AMF0:
        handle_command(state, connection, message, data, length);
        break;
    case RTMP_MESSAGE_AUDIO:
    case RTMP_MESSAGE_VIDEO:
        if (from_publisher) {
            connection->last_media_ns = now_ns(state);
            handle_media(state, message->type == RTMP_MESSAGE_VIDEO ? TRACK_VIDEO : TRACK_AUDIO,
                         message->timestamp, data, length, &owned);
        }
        break;
    case RTMP_MESSAGE_DATA_AMF0:
        if (from_publisher)
            handle_data(state, message->timestamp, data, length);
        break;
    case RTMP_MESSAGE_DATA_AMF3:
        if (from_publisher && length >= 1)
            handle_data(state, message->timestamp, data + 1, length - 1);
        break;
    case RTMP_MESSAGE_AGGREGATE:
        if (from_publisher) {
            connection->last_media_ns = now_ns(state);
            handle_aggregate(state, message->timestamp, data, length);
        }
        break;
    default: /* chunk size and abort (the reader applied them), acks, bandwidth, shared objects */
        break;
    }
    free(owned);
}

static void acknowledge(session *connection)
{
    if (connection->peer_window &&
        connection->bytes_received - connection->bytes_acknowledged >= connection->peer_window) {
        rtmp_write_acknowledgement(&connection->output, (uint32_t)connection->bytes_received);
        connection->bytes_acknowledged = connection->bytes_received;
    }
}

static void process_input(server *state, session *connection)
{
    size_t used = 0;
    while (!connection->closed && connection->state != SESSION_CLOSING) {
        const uint8_t *data = connection->input + used;
        size_t available = connection->input_length - used;
        if (connection->state == SESSION_HANDSHAKE) {
            if (available < 1 + RTMP_HANDSHAKE_SIZE)
                break;
            if (!rtmp_handshake_version_ok(data[0])) {
                count(state, "protocol_errors");
                close_session(state, connection, "not a plain RTMP handshake");
                return;
            }
            uint8_t response[1 + 2 * RTMP_HANDSHAKE_SIZE];
            state->random_state = state->random_state * 6364136223846793005u + 1442695040888963407u;
            rtmp_handshake_response(data + 1, (uint32_t)(now_ns(state) / SC_NSEC_PER_MSEC),
                                    state->random_state ^ (uint64_t)now_ns(state), response);
            byte_buffer_append(&connection->output, response, sizeof(response));
            connection->state = SESSION_HANDSHAKE_DONE;
            used += 1 + RTMP_HANDSHAKE_SIZE;
            continue;
        }
        if (connection->state == SESSION_HANDSHAKE_DONE) {
            if (available < RTMP_HANDSHAKE_SIZE)
                break;
            /* C2 echoes S1; the simple handshake has nothing to verify in it. */
            connection->state = SESSION_COMMANDS;
            used += RTMP_HANDSHAKE_SIZE;
            continue;
        }
        if (available == 0)
            break;
        size_t consumed = 0;
        rtmp_message message;
        int result = rtmp_chunk_reader_feed(&connection->reader, data, available, &consumed, &message);
        used += consumed;
        if (result < 0) {
            count(state, "protocol_errors");
            close_session(state, connection, connection->reader.error);
            return;
        }
        if (result == 0)
            break;
        handle_message(state, connection, &message);
    }
    if (connection->closed)
        return;
    if (used > 0) {
        memmove(connection->input, connection->input + used, connection->input_length - used);
        connection->input_length -= used;
    }
    acknowledge(connection);
}

static void read_session(server *state, session *connection)
{
    if (connection->state == SESSION_CLOSING) {
        /* Unread input would turn our close into a reset that can destroy
         * the refusal before the peer reads it: drain until it hangs up. */
        uint8_t discard[4096];
        ssize_t drained = recv(connection->fd, discard, sizeof(discard), MSG_DONTWAIT);
        if (drained == 0 || (drained < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            close_session(state, connection, "refused");
        return;
    }
    ssize_t received = recv(connection->fd, connection->input + connection->input_length,
                            INPUT_CAPACITY - connection->input_length, MSG_DONTWAIT);
    if (received == 0) {
        close_session(state, connection, "disconnected");
        return;
    }
    if (received < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            close_session(state, connection, strerror(errno));
        return;
    }
    connection->input_length += (size_t)received;
    connection->bytes_received += (uint64_t)received;
    process_input(state, connection);
}

static void accept_connections(server *state)
{
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peer_length = sizeof(peer);
        int fd = accept4(state->listen_fd, (struct sockaddr *)&peer, &peer_length,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                state->host->log(state->ctx, SC_LOG_WARNING, "accept on %s: %s",
                                 state->source->listen_display, strerror(errno));
            return;
        }
        count(state, "connections");
        char address[80];
        peer_text(&peer, address, sizeof(address));
        if (state->session_count >= (size_t)state->source->max_connections) {
            count(state, "connections_over_limit");
            state->host->log(state->ctx, SC_LOG_WARNING, "refused connection from %s: %d connections already",
                             address, state->source->max_connections);
            close(fd);
            continue;
        }
        session *connection = calloc(1, sizeof(*connection));
        uint8_t *input = malloc(INPUT_CAPACITY);
        if (!connection || !input) {
            free(connection);
            free(input);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        connection->fd = fd;
        connection->input = input;
        snprintf(connection->address, sizeof(connection->address), "%s", address);
        connection->state = SESSION_HANDSHAKE;
        connection->out_chunk_size = RTMP_DEFAULT_CHUNK_SIZE;
        connection->started_ns = now_ns(state);
        rtmp_chunk_reader_init(&connection->reader, UNAUTHENTICATED_MESSAGE_LIMIT, ASSEMBLING_LIMIT);
        state->sessions[state->session_count++] = connection;
        state->host->log(state->ctx, SC_LOG_DEBUG, "connection from %s", address);
    }
}

static void check_deadlines(server *state)
{
    int64_t now = now_ns(state);
    rtmp_source *source = state->source;
    for (size_t i = 0; i < state->session_count; i++) {
        session *connection = state->sessions[i];
        if (connection->closed)
            continue;
        if (connection->state == SESSION_CLOSING) {
            if (connection->delayed_reply.length && now >= connection->reply_due_ns) {
                byte_buffer_append(&connection->output, connection->delayed_reply.data,
                                   connection->delayed_reply.length);
                byte_buffer_free(&connection->delayed_reply);
                flush_output(state, connection);
            }
            if (!connection->closed && !connection->write_shut && connection->delayed_reply.length == 0 &&
                connection->output.length == 0) {
                shutdown(connection->fd, SHUT_WR);
                connection->write_shut = 1;
            }
            if (!connection->closed && now >= connection->closing_deadline_ns)
                close_session(state, connection, "refused");
        } else if (connection == state->publisher) {
            if (now - connection->last_media_ns >= source->idle_timeout_ns) {
                count(state, "publishers_dropped_idle");
                char why[96];
                snprintf(why, sizeof(why), "no media for %.1f s (idle_timeout)",
                         (double)(now - connection->last_media_ns) / SC_NSEC_PER_SEC);
                close_session(state, connection, why);
            }
        } else if (now - connection->started_ns >= source->idle_timeout_ns) {
            count(state, "connections_timed_out");
            close_session(state, connection, "did not start publishing in time (idle_timeout)");
        }
    }
    maybe_finish_startup(state, now);
}

static void remove_closed_sessions(server *state)
{
    size_t kept = 0;
    for (size_t i = 0; i < state->session_count; i++) {
        if (state->sessions[i]->closed)
            free_session(state->sessions[i]);
        else
            state->sessions[kept++] = state->sessions[i];
    }
    state->session_count = kept;
}

static void clear_server(server *state)
{
    for (size_t i = 0; i < state->session_count; i++) {
        report_reader_counters(state, state->sessions[i]);
        free_session(state->sessions[i]);
    }
    free(state->sessions);
    state->sessions = NULL;
    state->session_count = 0;
    state->publisher = NULL;
    for (size_t i = 0; i < state->pending_count; i++)
        state->host->packet_unref(state->pending[i].packet);
    free(state->pending);
    for (int i = 0; i < TRACK_COUNT; i++) {
        free(state->tracks[i].config);
        free(state->tracks[i].declared_config);
        byte_buffer_free(&state->tracks[i].in_band);
    }
    if (state->listen_fd >= 0)
        close(state->listen_fd);
    state->listen_fd = -1;
}

int rtmp_listen_run(rtmp_source *source)
{
    server state = {
        .source = source,
        .host = source->host,
        .ctx = source->ctx,
        .listen_fd = -1,
        .random_state = (uint64_t)source->host->wallclock_ns(),
    };
    for (int i = 0; i < TRACK_COUNT; i++)
        state.tracks[i] = (track){ .media_type = i == TRACK_VIDEO ? SC_MEDIA_VIDEO : SC_MEDIA_AUDIO,
                                   .host_index = -1 };
    state.sessions = calloc((size_t)source->max_connections, sizeof(session *));
    struct pollfd *descriptors = calloc((size_t)source->max_connections + 2, sizeof(struct pollfd));
    if (!state.sessions || !descriptors) {
        free(state.sessions);
        free(descriptors);
        return SC_ERR_NOMEM;
    }
    int status = open_listener(&state);
    if (status != SC_OK) {
        clear_server(&state);
        free(descriptors);
        return status;
    }
    source->host->log(source->ctx, SC_LOG_INFO, "listening on %s for rtmp://%s/%s/%s", source->listen_display,
                      source->listen_display, source->app, *source->key ? "<key>" : "<any key>");

    int result = SC_ERR_STOPPED;
    while (!rtmp_stop_wanted(source)) {
        size_t watched = state.session_count;
        descriptors[0] = (struct pollfd){ .fd = source->wake_pipe[0], .events = POLLIN };
        descriptors[1] = (struct pollfd){ .fd = state.listen_fd, .events = POLLIN };
        for (size_t i = 0; i < watched; i++) {
            session *connection = state.sessions[i];
            short events = POLLIN;
            if (connection->output.length)
                events |= POLLOUT;
            descriptors[2 + i] = (struct pollfd){ .fd = connection->fd, .events = events };
        }
        int ready = poll(descriptors, 2 + watched, POLL_SLICE_MS);
        if (ready < 0 && errno != EINTR) {
            /* Out of resources: the host retries after a pause. */
            source->host->log(source->ctx, SC_LOG_ERROR, "listening on %s: poll: %s", source->listen_display,
                              strerror(errno));
            result = SC_ERR_IO;
            break;
        }
        if (ready > 0 && (descriptors[0].revents & POLLIN)) {
            char drain[64];
            while (read(source->wake_pipe[0], drain, sizeof(drain)) > 0) {
            }
        }
        for (size_t i = 0; ready > 0 && i < watched; i++) {
            session *connection = state.sessions[i];
            short revents = descriptors[2 + i].revents;
            if (connection->closed || !revents)
                continue;
            if (revents & POLLIN)
                read_session(&state, connection);
            else if (revents & (POLLERR | POLLHUP | POLLNVAL))
                close_session(&state, connection, "connection error");
            if (!connection->closed && connection->output.length)
                flush_output(&state, connection);
        }
        if (ready > 0 && (descriptors[1].revents & POLLIN))
            accept_connections(&state);
        check_deadlines(&state);
        remove_closed_sessions(&state);
    }
    if (state.publisher)
        end_publisher(&state, "streamcut is stopping", SC_LOG_INFO);
    clear_server(&state);
    free(descriptors);
    return result;
}
