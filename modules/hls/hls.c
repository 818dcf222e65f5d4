/* hls: an HLS source. Follows a live (or VOD) media playlist, directly or
 * through a master playlist, downloads each segment once over HTTP(S)
 * through a libsoup session (http_get.c: kept-alive connections, one pool
 * per host), demuxes it from memory with libavformat (MPEG-TS, fMP4 with
 * its EXT-X-MAP, raw AAC/MP3) and pushes its packets without re-encoding.
 *
 * The playlist parser is our own (m3u8.c): FFmpeg's hls demuxer drops
 * PROGRAM-DATE-TIME, DATERANGE and DISCONTINUITY, and decides on its own
 * what to do with a missing segment (nothing: a silent hole).
 *
 * Live behaviour, all of it counted and most of it posted as events:
 * - start `live_edge` segments from the end; reload after the target
 *   duration (half of it after an unchanged reload); never fetch a media
 *   sequence number twice, across reconnections too;
 * - a segment that fails is retried with backoff, then skipped: a gap
 *   ("hls.gap" event, counter segments_missing) and a discontinuity flag on
 *   the next packet; segments that expired before we got to them, and
 *   segments skipped because we fell too far behind, are gaps too;
 * - a media sequence that goes back or is reused for other files is a
 *   reset: resync at the live edge, flag a discontinuity, never exit;
 * - no new segment for `stall_timeout`: reconnect (SC_ERR_IO); a playlist
 *   answering 401/403/404 ends the run so the host re-resolves the URL;
 * - every request has a deadline and an idle timeout, watched on the
 *   request's own main context, which also notices stop requests: a
 *   trickling or silent server never holds the thread.
 * - EXT-X-DISCONTINUITY (and a timestamp step back without one) flags the
 *   next packet SC_PACKET_DISCONTINUITY: the host rebases the timeline;
 * - PROGRAM-DATE-TIME becomes each packet's source_utc_ns (interpolated
 *   from the packet's pts offset in its segment); EXT-X-DATERANGE becomes
 *   events; in-band timed ID3 becomes a data stream;
 * - Twitch: stitched ads skipped or kept (`ads`), low-latency prefetch
 *   segments (`low_latency`).
 *
 * Untrusted input: only http(s) is fetched, every URL and every redirect
 * target must pass the allowed-hosts rule before anything connects to it,
 * every demuxer has a format whitelist and no I/O of its own, playlists
 * and segments have size caps, redirects a count. */
#include <streamcut/streamcut.h>

#include "http_get.h"
#include "m3u8.h"
#include "url.h"
#include "../common/av_stream_info.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavformat/avio.h>
#include <libavutil/aes.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>

#ifndef STREAMCUT_VERSION
#define STREAMCUT_VERSION "unknown"
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STREAMS 16
/* Longest sleep between two looks at the stop flags. */
#define WAIT_SLICE_NS (20 * SC_NSEC_PER_MSEC)
/* Reloads and target durations below this would hammer the server. */
#define MIN_RELOAD_NS (500 * SC_NSEC_PER_MSEC)
#define MIN_TARGET_DURATION_NS (1 * SC_NSEC_PER_SEC)
/* The first playlist request, before any target duration is known. */
#define FIRST_REQUEST_TIMEOUT_NS (10 * SC_NSEC_PER_SEC)
#define SEGMENT_RETRY_BASE_NS (250 * SC_NSEC_PER_MSEC)
/* A step back of the reference stream's timestamps larger than this
 * between two segments, without a discontinuity tag, is a reset. */
#define TIMESTAMP_REGRESSION_NS (500 * SC_NSEC_PER_MSEC)
/* Media sequence numbers remembered (with the file each named), to tell
 * a stale playlist copy from a reset. */
#define SEEN_RING_SIZE 1024
/* A playlist copy this many segments behind the newest we saw, listing
 * the same files, is a lagging cache; further back it is a restart. */
#define STALE_TOLERANCE 3
#define DATERANGE_MEMORY 256
#define AD_RANGE_MEMORY 32
#define MAX_PACKETS_PER_SEGMENT 200000
#define MEMORY_IO_BUFFER 32768
/* Segments are demuxed from memory: no protocol at all may be opened
 * from inside one (a name no protocol has). */
#define DEMUXER_PROTOCOL_WHITELIST "none"
/* Segment containers the demuxer may be: MPEG-TS, fMP4, packed audio. */
#define FORMAT_WHITELIST "mpegts,mov,aac,mp3"

enum interrupt_reason {
    INTERRUPT_NONE = 0,
    INTERRUPT_STOP,
    INTERRUPT_TIMEOUT
};

/* How one HTTP request ended. */
enum fetch_status {
    FETCH_OK = 0,
    FETCH_STOPPED,
    FETCH_TIMEOUT,
    FETCH_NOT_FOUND,     /* 404, 410 */
    FETCH_REFUSED,       /* 403 */
    FETCH_UNAUTHORIZED,  /* 401 */
    FETCH_SERVER_ERROR,  /* 5xx */
    FETCH_FAILED,        /* connection refused, reset, other 4xx, ... */
    FETCH_BLOCKED,       /* not an allowed host or scheme */
    FETCH_REDIRECT_LIMIT,
    FETCH_TOO_LARGE,
    FETCH_NOMEM
};

typedef struct byte_buffer {
    uint8_t *data;
    size_t size;
    size_t capacity;
} byte_buffer;

/* An allowed_hosts entry: "host", "host:port", "*.suffix" or "*". */
typedef struct host_rule {
    char host[256];
    int port;        /* 0 = any */
    bool suffix;     /* host holds ".suffix" */
    bool any;
} host_rule;

typedef struct declared_stream {
    int media_type;          /* enum sc_media_type */
    enum AVCodecID codec_id;
    int host_index;
} declared_stream;

typedef struct seen_segment {
    int64_t sequence;        /* -1 = empty slot */
    uint64_t path_hash;
    int64_t duration_ns;
} seen_segment;

typedef struct ad_range {
    int64_t start_ns;
    int64_t end_ns;
    char id[128];
} ad_range;

/* A daterange waiting for the stream to reach it. */
typedef struct pending_daterange {
    char *id;
    char *name;              /* the event's: CLASS, or the ID without one */
    char *payload;
    int64_t start_ns;
} pending_daterange;

typedef struct hls_source {
    const sc_host_api *host;
    sc_ctx *ctx;

    /* options */
    m3u8_quality quality;
    int live_edge;
    int segment_retries;
    int playlist_retries;
    int max_behind;
    int64_t stall_timeout_ns;          /* 0 = 3 x target duration */
    int64_t rw_timeout_ns;
    int64_t request_timeout_ns;        /* 0 = automatic */
    hls_http_header *headers;          /* the `headers` option, sent with every request */
    size_t header_count;
    char *cookies;                     /* the `cookies` option, or NULL */
    char *user_agent;
    host_rule *rules;
    size_t rule_count;
    int max_redirects;
    size_t max_playlist_size;
    size_t max_playlist_entries;
    size_t max_segment_size;
    bool skip_ads;
    bool low_latency;

    atomic_bool stop_requested;
    int64_t call_deadline_ns;          /* source thread only */
    int interrupt_reason;

    /* ---- per run ---- */
    hls_http *http;                    /* the run's session: its connections and cookies */
    char *top_url;                     /* as resolved */
    char *display_url;                 /* redacted, for messages */
    char *reload_url;                  /* the media playlist's URL */
    char *media_display_url;
    hls_url_parts *auto_hosts;         /* hosts allowed by the automatic rule */
    const char *platform_domain;       /* ".ttvnw.net" etc. for known platforms, or NULL */
    size_t auto_host_count;
    size_t auto_host_capacity;
    m3u8_playlist playlist;
    bool have_playlist;
    int64_t target_duration_ns;
    int64_t last_progress_ns;          /* monotonic: last time a new segment appeared */
    int consecutive_playlist_failures;
    bool streams_declared;
    declared_stream streams[MAX_STREAMS];
    int stream_count;
    bool mismatch_warned;
    char *init_key;                    /* URI and range of the cached EXT-X-MAP */
    byte_buffer init_data;
    char *key_uri;                     /* cached AES-128 key */
    uint8_t key[16];
    bool vod;

    /* ---- kept across runs (reconnections) ---- */
    bool started;
    int64_t next_sequence;             /* the next media sequence to fetch */
    int64_t highest_sequence;          /* highest seen in any playlist, -1 none */
    int64_t last_discontinuity_sequence; /* of the last fetched segment, -1 none */
    bool pending_discontinuity;        /* flag the next packet pushed */
    seen_segment seen[SEEN_RING_SIZE];
    int reference_host_index;          /* stream whose timestamps are checked */
    int64_t last_reference_dts_ns;     /* SC_TIME_NONE when unknown */
    bool have_utc_mapping;
    int64_t utc_minus_timeline_ns;
    int64_t timeline_end_ns;           /* end of the media pushed so far, on the timeline */
    char *posted_dateranges[DATERANGE_MEMORY];
    size_t posted_next;
    pending_daterange pending[DATERANGE_MEMORY];
    size_t pending_count;
    ad_range ad_ranges[AD_RANGE_MEMORY];
    size_t ad_range_next;
    bool in_ad_break;
    bool last_real_segment_was_ad;
} hls_source;

static const sc_option_spec hls_options[] = {
    { .name = "url", .type = SC_OPT_STRING, .flags = SC_OPT_REQUIRED,
      .help = "http(s) URL of the master or media playlist (.m3u8); a [source] `resolver` may turn a page URL into it" },
    { .name = "quality", .type = SC_OPT_STRING, .default_value = "best",
      .help = "variant of a master playlist: best | worst | <height>p (e.g. 720p, 720p60: closest lower height "
              "if absent) | <bandwidth> in bit/s (e.g. 3000000 or 3000k: highest at or below)" },
    { .name = "live_edge", .type = SC_OPT_INT, .default_value = "3", .min = 1, .max = 100,
      .help = "start this many segments from the end of a live playlist (at most 2 with low_latency)" },
    { .name = "max_behind", .type = SC_OPT_INT, .default_value = "0", .min = 0, .max = 100000,
      .help = "segments waiting to be fetched beyond which the source skips forward to the live edge "
              "(counted segments_skipped, posted as hls.gap); 0 = 3 x live_edge, at least 6" },
    { .name = "segment_retries", .type = SC_OPT_INT, .default_value = "3", .min = 0, .max = 20,
      .help = "retries of a failing segment (backoff 250 ms doubling) before it is skipped as missing" },
    { .name = "playlist_retries", .type = SC_OPT_INT, .default_value = "3", .min = 0, .max = 100,
      .help = "failed playlist reloads in a row (5xx, timeouts, malformed) before the source reconnects" },
    { .name = "stall_timeout", .type = SC_OPT_DURATION, .default_value = "0", .min = 0, .max = 86400,
      .help = "reconnect when the live playlist shows no new segment for this long; 0 = 3 x target duration" },
    { .name = "rw_timeout", .type = SC_OPT_DURATION, .default_value = "5s", .min = 0.1, .max = 3600,
      .help = "longest wait for a connection or for any data on it" },
    { .name = "request_timeout", .type = SC_OPT_DURATION, .default_value = "0", .min = 0, .max = 3600,
      .help = "deadline of one whole request (playlist, segment, key), even when data trickles in; "
              "0 = 3 x target duration, at least rw_timeout" },
    { .name = "headers", .type = SC_OPT_STRING, .default_value = "",
      .help = "extra request headers, \"Name: value\" separated by | (e.g. Referer: https://x/ | X-Token: 1); "
              "Cookie and User-Agent have options of their own, Host, Range and the framing headers are refused" },
    { .name = "user_agent", .type = SC_OPT_STRING, .default_value = "",
      .help = "User-Agent header; empty = streamcut/<version>" },
    { .name = "cookies", .type = SC_OPT_STRING, .default_value = "",
      .help = "Cookie header value sent with every request, e.g. \"name=value; other=2\"; cookies the servers "
              "set are sent back too (to their own host and path) until the source reconnects" },
    { .name = "allowed_hosts", .type = SC_OPT_STRING, .default_value = "",
      .help = "hosts segments and playlists may come from, comma-separated: host, host:port, *.domain or *; "
              "empty = the hosts the master playlist names (for Twitch and YouTube playlists: any host of "
              "ttvnw.net / googlevideo.com); the playlist's own host (after redirects) is always allowed, "
              "and only http(s) is ever fetched" },
    { .name = "max_redirects", .type = SC_OPT_INT, .default_value = "5", .min = 0, .max = 30,
      .help = "HTTP redirects followed per request; each new location must be http(s) and pass allowed_hosts "
              "before it is connected to (refusals counted redirects_refused)" },
    { .name = "max_playlist_size", .type = SC_OPT_SIZE, .default_value = "4MiB", .min = 1024, .max = 1073741824,
      .help = "larger playlists are refused" },
    { .name = "max_playlist_entries", .type = SC_OPT_INT, .default_value = "10000", .min = 1, .max = 10000000,
      .help = "playlists with more segments, variants and dateranges are refused" },
    { .name = "max_segment_size", .type = SC_OPT_SIZE, .default_value = "64MiB", .min = 1024, .max = 4294967296.0,
      .help = "larger segments are refused (counted as missing)" },
    { .name = "ads", .type = SC_OPT_ENUM, .default_value = "skip", .choices = "skip|keep",
      .help = "Twitch stitched ads (DATERANGE class twitch-stitched-ad/stitched-ad, EXTINF titles with Amazon): "
              "skip them (counted ad_segments_skipped) or keep them; an \"ad\" event is posted either way" },
    { .name = "low_latency", .type = SC_OPT_BOOL, .default_value = "false",
      .help = "fetch Twitch #EXT-X-TWITCH-PREFETCH segments before they are listed" },
    { 0 }
};

/* Counters shown even while zero, so a run's stats say what did not happen. */
static const char *const counter_names[] = {
    "segments_fetched", "segments_missing", "segments_expired", "segments_skipped", "sequence_resets",
    "discontinuities", "stalls", "playlist_errors", "request_timeouts", "ad_segments_skipped", "redirects_refused",
};

/* ---- small helpers ------------------------------------------------------ */

static int64_t now_ns(const hls_source *source)
{
    return source->host->monotonic_ns();
}

/* Takes the source as void * so that sc_wait_until can call it too. */
static int stop_wanted(void *opaque)
{
    hls_source *source = opaque;
    return atomic_load(&source->stop_requested) || source->host->source_should_stop(source->ctx);
}

/* Sleeps until `due_ns` (monotonic) in slices; SC_ERR_STOPPED if told to stop. */
static int wait_until(hls_source *source, int64_t due_ns)
{
    return sc_wait_until(source->host, due_ns, WAIT_SLICE_NS, stop_wanted, source);
}

static void buffer_free(byte_buffer *buffer)
{
    av_freep(&buffer->data);
    buffer->size = buffer->capacity = 0;
}

static bool buffer_reserve(byte_buffer *buffer, size_t more)
{
    /* av_malloc'ed with FFmpeg's padding: the bytes may go to a demuxer. */
    size_t needed = buffer->size + more + AV_INPUT_BUFFER_PADDING_SIZE;
    if (needed <= buffer->capacity)
        return true;
    size_t capacity = buffer->capacity ? buffer->capacity : 65536;
    while (capacity < needed)
        capacity *= 2;
    uint8_t *grown = av_realloc(buffer->data, capacity);
    if (!grown)
        return false;
    buffer->data = grown;
    buffer->capacity = capacity;
    return true;
}

static void seconds_text(int64_t ns, char *text, size_t size)
{
    /* No printf("%f"): the decimal separator would follow the locale. */
    const char *sign = ns < 0 ? "-" : "";
    uint64_t magnitude = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    snprintf(text, size, "%s%" PRIu64 ".%03" PRIu64, sign, magnitude / 1000000000u,
             (magnitude % 1000000000u) / 1000000u);
}

/* FNV-1a of the URL's path (without scheme, host and query): what names
 * a segment file, whatever edge or token a playlist copy uses. */
static uint64_t path_hash(const char *url)
{
    const char *path = url;
    const char *scheme_end = strstr(url, "://");
    if (scheme_end) {
        path = strchr(scheme_end + 3, '/');
        if (!path)
            path = "";
    }
    uint64_t hash = UINT64_C(14695981039346656037);
    for (const char *c = path; *c && *c != '?' && *c != '#'; c++) {
        hash ^= (unsigned char)*c;
        hash *= UINT64_C(1099511628211);
    }
    return hash;
}

/* ---- JSON payloads ------------------------------------------------------ */

typedef struct json_text {
    char *data;
    size_t length;
    size_t capacity;
    bool failed;
    bool first;
} json_text;

static void json_raw(json_text *json, const char *text)
{
    if (json->failed)
        return;
    size_t length = strlen(text);
    if (json->length + length + 1 > json->capacity) {
        size_t capacity = json->capacity ? json->capacity : 128;
        while (capacity < json->length + length + 1)
            capacity *= 2;
        char *grown = realloc(json->data, capacity);
        if (!grown) {
            json->failed = true;
            return;
        }
        json->data = grown;
        json->capacity = capacity;
    }
    memcpy(json->data + json->length, text, length + 1);
    json->length += length;
}

static void json_key(json_text *json, const char *key)
{
    if (json->length == 0)
        json_raw(json, "{");
    if (!json->first)
        json_raw(json, ",");
    json->first = false;
    if (!json->failed && !m3u8_json_append_string(&json->data, &json->length, &json->capacity, key))
        json->failed = true;
    json_raw(json, ":");
}

static void json_int(json_text *json, const char *key, int64_t value)
{
    char text[32];
    snprintf(text, sizeof(text), "%" PRId64, value);
    json_key(json, key);
    json_raw(json, text);
}

static void json_seconds(json_text *json, const char *key, int64_t ns)
{
    char text[40];
    seconds_text(ns, text, sizeof(text));
    json_key(json, key);
    json_raw(json, text);
}

static void json_string(json_text *json, const char *key, const char *value)
{
    json_key(json, key);
    if (!json->failed && !m3u8_json_append_string(&json->data, &json->length, &json->capacity, value))
        json->failed = true;
}

/* The finished text (caller frees), or NULL. */
static char *json_finish(json_text *json)
{
    if (json->length == 0)
        json_raw(json, "{");
    json_raw(json, "}");
    if (json->failed) {
        free(json->data);
        return NULL;
    }
    return json->data;
}

/* `time` on the timeline; SC_TIME_NONE (nothing pushed yet) means "now". */
static void post_event(hls_source *source, const char *name, int64_t time, const char *payload)
{
    sc_event event = {
        .struct_size = sizeof(event),
        .name = name,
        .time = time,
        .pre_roll = SC_TIME_NONE,
        .post_roll = SC_TIME_NONE,
        .payload_json = payload,
    };
    source->host->event_post(source->ctx, &event);
}

/* A hole in the timeline: counted by the caller, posted here, and the
 * next packet carries the discontinuity flag. */
static void record_gap(hls_source *source, int64_t from_sequence, int64_t to_sequence, int64_t seconds_ns,
                       const char *reason)
{
    char length[40];
    seconds_text(seconds_ns, length, sizeof(length));
    source->host->log(source->ctx, SC_LOG_WARNING, "gap in '%s': segments %" PRId64 "..%" PRId64 " (%s s) %s",
                      source->media_display_url ? source->media_display_url : source->display_url,
                      from_sequence, to_sequence, length, reason);
    json_text json = { .first = true };
    json_int(&json, "from_sequence", from_sequence);
    json_int(&json, "to_sequence", to_sequence);
    json_seconds(&json, "seconds", seconds_ns);
    json_string(&json, "reason", reason);
    char *payload = json_finish(&json);
    post_event(source, "hls.gap", source->timeline_end_ns, payload);
    free(payload);
    source->pending_discontinuity = true;
}

/* ---- options -------------------------------------------------------------- */

static bool parse_host_rules(hls_source *source, const char *text)
{
    size_t count = 1;
    for (const char *c = text; *c; c++)
        count += *c == ',';
    source->rules = calloc(count, sizeof(host_rule));
    if (!source->rules)
        return false;
    const char *cursor = text;
    while (*cursor) {
        size_t length = strcspn(cursor, ",");
        const char *item = cursor;
        cursor += length + (cursor[length] == ',');
        while (length > 0 && (*item == ' ' || *item == '\t'))
            item++, length--;
        while (length > 0 && (item[length - 1] == ' ' || item[length - 1] == '\t'))
            length--;
        if (length == 0)
            continue;
        host_rule *rule = &source->rules[source->rule_count];
        if (length == 1 && item[0] == '*') {
            rule->any = true;
            source->rule_count++;
            continue;
        }
        if (length >= 2 && item[0] == '*' && item[1] == '.') {
            rule->suffix = true;
            item++, length--; /* keep the dot: ".example.com" */
        }
        const char *colon = memchr(item, ':', length);
        size_t host_length = colon ? (size_t)(colon - item) : length;
        if (host_length == 0 || host_length >= sizeof(rule->host))
            return false;
        for (size_t i = 0; i < host_length; i++) {
            char c = item[i];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c - 'A' + 'a');
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
                return false;
            rule->host[i] = c;
        }
        if (colon) {
            char digits[8] = { 0 };
            size_t digit_count = length - host_length - 1;
            if (digit_count == 0 || digit_count > 5)
                return false;
            memcpy(digits, colon + 1, digit_count);
            char *end;
            long port = strtol(digits, &end, 10);
            if (*end != '\0' || port <= 0 || port > 65535)
                return false;
            rule->port = (int)port;
        }
        source->rule_count++;
    }
    return true;
}

/* Headers the HTTP layer writes itself or that frame the message: a
 * `headers` entry naming one would break or forge the request. */
static const char *const reserved_headers[] = {
    "Host", "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Proxy-Connection", "Upgrade",
    "TE", "Trailer", "Expect", "Range", NULL,
};

static bool has_control_characters(const char *text, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
            return true;
    return false;
}

static bool add_header(hls_source *source, const char *item, size_t item_length)
{
    const sc_host_api *host = source->host;
    const char *colon = memchr(item, ':', item_length);
    size_t name_length = colon ? (size_t)(colon - item) : 0;
    while (name_length > 0 && (item[name_length - 1] == ' ' || item[name_length - 1] == '\t'))
        name_length--;
    bool valid = name_length > 0 && !has_control_characters(item, item_length);
    for (size_t i = 0; valid && i < name_length; i++)
        if (item[i] == ' ' || item[i] == '\t')
            valid = false;
    if (!valid) {
        host->log(source->ctx, SC_LOG_ERROR, "headers: '%.*s' is not \"Name: value\"", (int)item_length, item);
        return false;
    }
    for (const char *const *reserved = reserved_headers; *reserved; reserved++) {
        if (strlen(*reserved) == name_length && strncasecmp(item, *reserved, name_length) == 0) {
            host->log(source->ctx, SC_LOG_ERROR, "headers: %s is set by the hls source itself", *reserved);
            return false;
        }
    }
    if ((name_length == 6 && strncasecmp(item, "Cookie", 6) == 0) ||
        (name_length == 10 && strncasecmp(item, "User-Agent", 10) == 0)) {
        host->log(source->ctx, SC_LOG_ERROR, "headers: give %.*s with the %s option", (int)name_length, item,
                  name_length == 6 ? "cookies" : "user_agent");
        return false;
    }
    const char *value = colon + 1;
    size_t value_length = item_length - (size_t)(value - item);
    while (value_length > 0 && (*value == ' ' || *value == '\t'))
        value++, value_length--;
    hls_http_header *entry = &source->headers[source->header_count];
    entry->name = strndup(item, name_length);
    entry->value = strndup(value, value_length);
    source->header_count++;
    return entry->name && entry->value;
}

/* "A: b | C: d" -> the header list; the cookies as they are. */
static bool parse_headers(hls_source *source, const char *headers, const char *cookies)
{
    size_t count = 1;
    for (const char *c = headers; *c; c++)
        count += *c == '|';
    source->headers = calloc(count, sizeof(*source->headers));
    if (!source->headers)
        return false;
    const char *cursor = headers;
    while (*cursor) {
        size_t item_length = strcspn(cursor, "|");
        const char *item = cursor;
        cursor += item_length + (cursor[item_length] == '|');
        while (item_length > 0 && (*item == ' ' || *item == '\t'))
            item++, item_length--;
        while (item_length > 0 && (item[item_length - 1] == ' ' || item[item_length - 1] == '\t'))
            item_length--;
        if (item_length > 0 && !add_header(source, item, item_length))
            return false;
    }
    if (*cookies) {
        if (has_control_characters(cookies, strlen(cookies))) {
            source->host->log(source->ctx, SC_LOG_ERROR, "cookies: control characters are not allowed");
            return false;
        }
        source->cookies = strdup(cookies);
        if (!source->cookies)
            return false;
    }
    return true;
}

/* ---- interruption and HTTP -------------------------------------------- */

static int interrupt_callback(void *opaque)
{
    hls_source *source = opaque;
    if (stop_wanted(source)) {
        source->interrupt_reason = INTERRUPT_STOP;
        return 1;
    }
    if (source->call_deadline_ns && now_ns(source) > source->call_deadline_ns) {
        source->interrupt_reason = INTERRUPT_TIMEOUT;
        return 1;
    }
    return 0;
}

static void begin_call(hls_source *source, int64_t timeout_ns)
{
    source->interrupt_reason = INTERRUPT_NONE;
    source->call_deadline_ns = now_ns(source) + timeout_ns;
}

static void end_call(hls_source *source)
{
    source->call_deadline_ns = 0;
}

/* Deadline of one whole request. */
static int64_t request_timeout(const hls_source *source)
{
    if (source->request_timeout_ns > 0)
        return source->request_timeout_ns;
    if (source->target_duration_ns <= 0)
        return FIRST_REQUEST_TIMEOUT_NS > source->rw_timeout_ns ? FIRST_REQUEST_TIMEOUT_NS : source->rw_timeout_ns;
    int64_t automatic = 3 * source->target_duration_ns;
    return automatic > source->rw_timeout_ns ? automatic : source->rw_timeout_ns;
}

static bool host_matches(const hls_url_parts *parts, const hls_url_parts *allowed)
{
    return strcmp(parts->host, allowed->host) == 0 && parts->port == allowed->port;
}

/* The allowed-hosts rule: only http(s), and only hosts the configuration
 * or the trusted playlists named. */
static bool url_allowed(const hls_source *source, const char *url)
{
    hls_url_parts parts;
    if (!hls_url_split(url, &parts))
        return false;
    if (strcmp(parts.scheme, "http") != 0 && strcmp(parts.scheme, "https") != 0)
        return false;
    for (size_t i = 0; i < source->auto_host_count; i++)
        if (host_matches(&parts, &source->auto_hosts[i]))
            return true;
    if (source->platform_domain) {
        size_t host_length = strlen(parts.host), domain_length = strlen(source->platform_domain);
        if (host_length > domain_length &&
            strcmp(parts.host + host_length - domain_length, source->platform_domain) == 0)
            return true;
    }
    for (size_t i = 0; i < source->rule_count; i++) {
        const host_rule *rule = &source->rules[i];
        if (rule->any)
            return true;
        if (rule->port && rule->port != parts.port)
            continue;
        if (rule->suffix) {
            size_t host_length = strlen(parts.host), suffix_length = strlen(rule->host);
            if (host_length > suffix_length && strcmp(parts.host + host_length - suffix_length, rule->host) == 0)
                return true;
        } else if (strcmp(parts.host, rule->host) == 0) {
            return true;
        }
    }
    return false;
}

static void allow_host_of(hls_source *source, const char *url)
{
    hls_url_parts parts;
    if (!hls_url_split(url, &parts))
        return;
    for (size_t i = 0; i < source->auto_host_count; i++)
        if (host_matches(&parts, &source->auto_hosts[i]))
            return;
    if (source->auto_host_count == source->auto_host_capacity) {
        size_t capacity = source->auto_host_capacity ? source->auto_host_capacity * 2 : 8;
        hls_url_parts *grown = realloc(source->auto_hosts, capacity * sizeof(*grown));
        if (!grown)
            return; /* not allowing is the safe failure */
        source->auto_hosts = grown;
        source->auto_host_capacity = capacity;
    }
    source->auto_hosts[source->auto_host_count++] = parts;
}

static const char *fetch_status_text(int status)
{
    switch (status) {
    case FETCH_OK: return "ok";
    case FETCH_STOPPED: return "stopped";
    case FETCH_TIMEOUT: return "timed out";
    case FETCH_NOT_FOUND: return "not found (HTTP 404/410)";
    case FETCH_REFUSED: return "forbidden (HTTP 403)";
    case FETCH_UNAUTHORIZED: return "unauthorized (HTTP 401)";
    case FETCH_SERVER_ERROR: return "server error (HTTP 5xx)";
    case FETCH_BLOCKED: return "blocked: not an allowed host or scheme";
    case FETCH_REDIRECT_LIMIT: return "too many redirects";
    case FETCH_TOO_LARGE: return "too large";
    case FETCH_NOMEM: return "out of memory";
    default: return "failed";
    }
}

static int fetch_status_of(const hls_http_result *result)
{
    switch (result->outcome) {
    case HLS_HTTP_OK: return FETCH_OK;
    case HLS_HTTP_STOPPED: return FETCH_STOPPED;
    case HLS_HTTP_TIMEOUT: return FETCH_TIMEOUT;
    case HLS_HTTP_TOO_LARGE: return FETCH_TOO_LARGE;
    case HLS_HTTP_REDIRECT_BLOCKED: return FETCH_BLOCKED;
    case HLS_HTTP_REDIRECT_LIMIT: return FETCH_REDIRECT_LIMIT;
    case HLS_HTTP_NOMEM: return FETCH_NOMEM;
    case HLS_HTTP_FAILED: return FETCH_FAILED;
    case HLS_HTTP_STATUS: break;
    }
    if (result->status == 404 || result->status == 410)
        return FETCH_NOT_FOUND;
    if (result->status == 403)
        return FETCH_REFUSED;
    if (result->status == 401)
        return FETCH_UNAUTHORIZED;
    if (result->status >= 500 && result->status < 600)
        return FETCH_SERVER_ERROR;
    return FETCH_FAILED;
}

/* The callbacks of one fetch. */
typedef struct fetch_call {
    hls_source *source;
    byte_buffer *out;
    bool trust_redirect;
} fetch_call;

static bool fetch_should_stop(void *opaque)
{
    fetch_call *call = opaque;
    return stop_wanted(call->source);
}

static bool fetch_redirect_allowed(void *opaque, const char *to, char *why, size_t why_size)
{
    fetch_call *call = opaque;
    if (call->trust_redirect || url_allowed(call->source, to))
        return true;
    call->source->host->counter_add(call->source->ctx, "blocked_urls", 1);
    snprintf(why, why_size, "not an allowed host");
    return false;
}

static bool fetch_append(void *opaque, const uint8_t *data, size_t size)
{
    fetch_call *call = opaque;
    if (!buffer_reserve(call->out, size))
        return false;
    memcpy(call->out->data + call->out->size, data, size);
    call->out->size += size;
    return true;
}

/* Downloads `url` (bytes [offset, offset + length) when length > 0) into
 * `out` under one deadline, through the run's session. *final_url, when
 * asked for, receives the URL after redirects. Each redirect must lead to
 * an allowed host unless `trust_redirect` (the playlist we were told to
 * open may move to a CDN, which then becomes its own host). Returns an
 * enum fetch_status; logs nothing. */
static int fetch(hls_source *source, const char *url, int64_t offset, int64_t length, size_t max_size,
                 bool trust_redirect, byte_buffer *out, char **final_url, char *reason, size_t reason_size)
{
    const sc_host_api *host = source->host;
    out->size = 0;
    reason[0] = '\0';
    if (final_url)
        *final_url = NULL;
    if (!url_allowed(source, url)) {
        host->counter_add(source->ctx, "blocked_urls", 1);
        return FETCH_BLOCKED;
    }
    fetch_call call = { .source = source, .out = out, .trust_redirect = trust_redirect };
    hls_http_request request = {
        .url = url,
        .offset = offset,
        .length = length,
        .max_size = max_size,
        .timeout_ns = request_timeout(source),
        .idle_timeout_ns = source->rw_timeout_ns,
        .redirect_check = fetch_redirect_allowed,
        .stop_check = fetch_should_stop,
        .body_sink = fetch_append,
        .opaque = &call,
    };
    hls_http_result result;
    hls_http_get(source->http, &request, &result);
    host->counter_add(source->ctx, "http_requests", result.requests);
    host->counter_add(source->ctx, "http_connections", result.new_connections);
    if (result.redirects > 0)
        host->counter_add(source->ctx, "redirects_followed", result.redirects);
    int status = fetch_status_of(&result);
    if (status != FETCH_OK && status != FETCH_STOPPED && reason_size > 0) {
        /* Cut to the caller's room: the end of a long detail matters least. */
        size_t shown = strnlen(result.detail, reason_size - 1);
        memcpy(reason, result.detail, shown);
        reason[shown] = '\0';
    }
    if (status == FETCH_BLOCKED || status == FETCH_REDIRECT_LIMIT)
        host->counter_add(source->ctx, "redirects_refused", 1);
    /* Even an empty body gets a buffer: its readers expect one, padded. */
    if (status == FETCH_OK && !buffer_reserve(out, 0))
        status = FETCH_NOMEM;
    if (status == FETCH_OK)
        memset(out->data + out->size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    if (status == FETCH_OK && final_url) {
        *final_url = strdup(result.final_url);
        if (!*final_url)
            status = FETCH_NOMEM;
    }
    hls_http_result_clear(&result);
    if (status == FETCH_TIMEOUT)
        host->counter_add(source->ctx, "request_timeouts", 1);
    else if (status == FETCH_OK)
        host->counter_add(source->ctx, "bytes_downloaded", (int64_t)out->size);
    return status;
}

/* ---- playlists ------------------------------------------------------------ */

/* Loads and parses a playlist. Returns a fetch status, or FETCH_FAILED
 * with `reason` set when it does not parse. */
static int load_playlist(hls_source *source, const char *url, m3u8_playlist *playlist, char *reason,
                         size_t reason_size)
{
    byte_buffer text = { 0 };
    char *final_url = NULL;
    bool trusted = source->top_url && strcmp(url, source->top_url) == 0;
    int status = fetch(source, url, 0, 0, source->max_playlist_size, trusted, &text, &final_url, reason, reason_size);
    if (status == FETCH_OK) {
        m3u8_limits limits = { .max_bytes = source->max_playlist_size, .max_entries = source->max_playlist_entries };
        int parsed = m3u8_parse((const char *)text.data, text.size, final_url, &limits, playlist);
        if (parsed != M3U8_OK) {
            snprintf(reason, reason_size, "%s: line %u: %s", m3u8_status_text(parsed), playlist->error_line,
                     playlist->error);
            status = FETCH_FAILED;
        } else if (playlist->warnings) {
            source->host->counter_add(source->ctx, "playlist_warnings", playlist->warnings);
        }
        if (status == FETCH_OK && trusted && strcmp(final_url, url) != 0)
            allow_host_of(source, final_url);
    }
    free(final_url);
    buffer_free(&text);
    return status;
}

static void remember_segment(hls_source *source, const m3u8_segment *segment)
{
    seen_segment *slot = &source->seen[(uint64_t)segment->sequence % SEEN_RING_SIZE];
    slot->sequence = segment->sequence;
    slot->path_hash = path_hash(segment->uri);
    slot->duration_ns = segment->duration_ns;
}

static const seen_segment *seen_lookup(const hls_source *source, int64_t sequence)
{
    const seen_segment *slot = &source->seen[(uint64_t)sequence % SEEN_RING_SIZE];
    return slot->sequence == sequence ? slot : NULL;
}

static void forget_segments(hls_source *source)
{
    for (size_t i = 0; i < SEEN_RING_SIZE; i++)
        source->seen[i].sequence = -1;
}

/* Duration of a run of sequence numbers, as far as we saw them. */
static int64_t span_duration(const hls_source *source, int64_t from, int64_t to)
{
    int64_t total = 0;
    for (int64_t sequence = from; sequence <= to; sequence++) {
        const seen_segment *seen = seen_lookup(source, sequence);
        total += seen ? seen->duration_ns : source->target_duration_ns;
    }
    return total;
}

/* Number of entries we follow: prefetch ones only in low-latency mode. */
static size_t followed_count(const hls_source *source, const m3u8_playlist *playlist)
{
    size_t count = playlist->segment_count;
    if (!source->low_latency)
        while (count > 0 && playlist->segments[count - 1].prefetch)
            count--;
    return count;
}

static size_t real_count(const m3u8_playlist *playlist)
{
    size_t count = playlist->segment_count;
    while (count > 0 && playlist->segments[count - 1].prefetch)
        count--;
    return count;
}

static int effective_live_edge(const hls_source *source)
{
    return source->low_latency && source->live_edge > 2 ? 2 : source->live_edge;
}

static bool is_ad_daterange(const m3u8_daterange *range)
{
    if (range->class_name &&
        (strcmp(range->class_name, "twitch-stitched-ad") == 0 || strcmp(range->class_name, "stitched-ad") == 0))
        return true;
    return strncmp(range->id, "stitched-ad-", 12) == 0;
}

static bool daterange_posted(const hls_source *source, const char *id)
{
    for (size_t i = 0; i < DATERANGE_MEMORY; i++)
        if (source->posted_dateranges[i] && strcmp(source->posted_dateranges[i], id) == 0)
            return true;
    for (size_t i = 0; i < source->pending_count; i++)
        if (strcmp(source->pending[i].id, id) == 0)
            return true;
    return false;
}

static void mark_posted(hls_source *source, const char *id)
{
    size_t slot = source->posted_next++ % DATERANGE_MEMORY;
    free(source->posted_dateranges[slot]);
    source->posted_dateranges[slot] = strdup(id);
}

/* Takes note of the playlist's dateranges: ad ranges for the ad rule,
 * and every daterange queued (once per ID) until the stream reaches it. */
static void note_dateranges(hls_source *source, const m3u8_playlist *playlist)
{
    for (size_t i = 0; i < playlist->daterange_count; i++) {
        const m3u8_daterange *range = &playlist->dateranges[i];
        if (is_ad_daterange(range)) {
            int64_t end = range->end_ns;
            if (end == M3U8_NONE && range->duration_ns >= 0)
                end = range->start_ns + range->duration_ns;
            if (end == M3U8_NONE && range->planned_duration_ns >= 0)
                end = range->start_ns + range->planned_duration_ns;
            bool known = false;
            for (size_t k = 0; k < AD_RANGE_MEMORY; k++)
                if (strcmp(source->ad_ranges[k].id, range->id) == 0 && source->ad_ranges[k].end_ns != 0) {
                    known = true;
                    if (end != M3U8_NONE)
                        source->ad_ranges[k].end_ns = end;
                }
            if (!known && end != M3U8_NONE) {
                ad_range *slot = &source->ad_ranges[source->ad_range_next++ % AD_RANGE_MEMORY];
                slot->start_ns = range->start_ns;
                slot->end_ns = end;
                snprintf(slot->id, sizeof(slot->id), "%s", range->id);
            }
        }
        if (daterange_posted(source, range->id) || source->pending_count == DATERANGE_MEMORY)
            continue;
        pending_daterange pending = {
            .id = strdup(range->id),
            .name = strdup(range->class_name ? range->class_name : range->id),
            .payload = m3u8_attributes_json(range->attributes, range->attribute_count),
            .start_ns = range->start_ns,
        };
        if (!pending.id || !pending.name || !pending.payload) {
            free(pending.id);
            free(pending.name);
            free(pending.payload);
            continue;
        }
        source->pending[source->pending_count++] = pending;
        source->host->counter_add(source->ctx, "dateranges", 1);
    }
}

/* Posts the queued dateranges that start before `until_utc_ns`
 * (M3U8_NONE: all of them), at their place on the timeline when the
 * PROGRAM-DATE-TIME mapping is known. */
static void post_dateranges(hls_source *source, int64_t until_utc_ns)
{
    size_t kept = 0;
    for (size_t i = 0; i < source->pending_count; i++) {
        pending_daterange *pending = &source->pending[i];
        if (until_utc_ns != M3U8_NONE && pending->start_ns >= until_utc_ns) {
            source->pending[kept++] = *pending;
            continue;
        }
        int64_t time = SC_TIME_NONE;
        if (source->have_utc_mapping) {
            time = pending->start_ns - source->utc_minus_timeline_ns;
            if (time < 0)
                time = 0;
        }
        post_event(source, pending->name, time, pending->payload);
        mark_posted(source, pending->id);
        free(pending->id);
        free(pending->name);
        free(pending->payload);
    }
    source->pending_count = kept;
}

/* Applies a freshly loaded media playlist: detects resets, stale copies,
 * expired and far-behind segments, and decides where to (re)start.
 * Returns true when it showed a new segment. Takes the playlist over. */
static bool apply_playlist(hls_source *source, m3u8_playlist *fresh)
{
    const sc_host_api *host = source->host;
    int64_t target = fresh->target_duration_ns;
    source->target_duration_ns = target < MIN_TARGET_DURATION_NS ? MIN_TARGET_DURATION_NS : target;
    source->vod = fresh->end_list && fresh->playlist_type == M3U8_TYPE_VOD;
    size_t count = followed_count(source, fresh);
    size_t real = real_count(fresh);
    if (count == 0) {
        /* Nothing listed yet: keep what we had (or this empty list). */
        if (source->have_playlist && !fresh->end_list) {
            m3u8_free(fresh);
            return false;
        }
        if (source->have_playlist)
            m3u8_free(&source->playlist);
        source->playlist = *fresh;
        source->have_playlist = true;
        return false;
    }
    int64_t first = fresh->media_sequence;
    int64_t last = first + (int64_t)count - 1;

    /* A sequence number naming another file than before, or a playlist
     * going back to numbers we never saw: the packager restarted. A
     * playlist going back to numbers we saw with the same files is a
     * stale copy from a lagging cache. */
    bool conflict = false, known = false;
    for (size_t i = 0; i < real; i++) {
        const seen_segment *seen = seen_lookup(source, fresh->segments[i].sequence);
        if (!seen)
            continue;
        if (seen->path_hash != path_hash(fresh->segments[i].uri))
            conflict = true;
        else
            known = true;
    }
    bool regressed = source->highest_sequence >= 0 && last < source->highest_sequence;
    bool slightly = source->highest_sequence - last <= STALE_TOLERANCE;
    if (conflict || (regressed && !(known && slightly))) {
        int64_t restart = last - effective_live_edge(source) + 1;
        if (restart < first)
            restart = first;
        host->log(source->ctx, SC_LOG_WARNING,
                  "media sequence reset in '%s': %" PRId64 " -> %" PRId64 " (%s); resuming at %" PRId64,
                  source->media_display_url, source->highest_sequence, last,
                  conflict ? "numbers reused for other files" : "went back", restart);
        host->counter_add(source->ctx, "sequence_resets", 1);
        json_text json = { .first = true };
        json_int(&json, "from_sequence", source->next_sequence);
        json_int(&json, "to_sequence", restart);
        char *payload = json_finish(&json);
        post_event(source, "hls.sequence_reset", source->timeline_end_ns, payload);
        free(payload);
        forget_segments(source);
        source->highest_sequence = -1;
        source->next_sequence = restart;
        source->started = true;
        source->pending_discontinuity = true;
        source->last_discontinuity_sequence = -1;
        source->last_progress_ns = now_ns(source);
    } else if (regressed) {
        host->counter_add(source->ctx, "playlist_stale", 1);
        m3u8_free(fresh);
        return false;
    }

    bool changed = last > source->highest_sequence;
    if (changed) {
        source->highest_sequence = last;
        source->last_progress_ns = now_ns(source);
    }
    for (size_t i = 0; i < real; i++)
        remember_segment(source, &fresh->segments[i]);

    if (!source->started) {
        if (fresh->end_list || fresh->playlist_type == M3U8_TYPE_VOD) {
            source->next_sequence = first;
        } else {
            int64_t start = last - effective_live_edge(source) + 1;
            source->next_sequence = start < first ? first : start;
        }
        source->started = true;
    } else if (source->next_sequence < first) {
        int64_t missed = first - source->next_sequence;
        host->counter_add(source->ctx, "segments_expired", missed);
        record_gap(source, source->next_sequence, first - 1, span_duration(source, source->next_sequence, first - 1),
                   "expired");
        source->next_sequence = first;
    }
    int max_behind = source->max_behind;
    if (max_behind == 0)
        max_behind = 3 * source->live_edge < 6 ? 6 : 3 * source->live_edge;
    int64_t waiting = last - source->next_sequence + 1;
    if (!source->vod && !fresh->end_list && waiting > max_behind) {
        int64_t resume = last - effective_live_edge(source) + 1;
        if (resume > source->next_sequence) {
            host->counter_add(source->ctx, "segments_skipped", resume - source->next_sequence);
            record_gap(source, source->next_sequence, resume - 1,
                       span_duration(source, source->next_sequence, resume - 1), "behind");
            source->next_sequence = resume;
        }
    }
    note_dateranges(source, fresh);
    if (source->have_playlist)
        m3u8_free(&source->playlist);
    source->playlist = *fresh;
    source->have_playlist = true;
    return changed;
}

/* ---- demuxing ------------------------------------------------------------- */

typedef struct memory_reader {
    const uint8_t *data;
    size_t size;
    size_t position;
} memory_reader;

static int memory_read(void *opaque, uint8_t *buffer, int size)
{
    memory_reader *reader = opaque;
    size_t left = reader->size - reader->position;
    if (left == 0)
        return AVERROR_EOF;
    size_t count = (size_t)size < left ? (size_t)size : left;
    memcpy(buffer, reader->data + reader->position, count);
    reader->position += count;
    return (int)count;
}

static int64_t memory_seek(void *opaque, int64_t offset, int whence)
{
    memory_reader *reader = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)reader->size;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)reader->position; break;
    case SEEK_END: base = (int64_t)reader->size; break;
    default: return AVERROR(EINVAL);
    }
    if (offset > (int64_t)reader->size || offset < -(int64_t)reader->size)
        return AVERROR(EINVAL);
    int64_t target = base + offset;
    if (target < 0 || target > (int64_t)reader->size)
        return AVERROR(EINVAL);
    reader->position = (size_t)target;
    return target;
}

/* A segment never makes the demuxer open anything else (mov data
 * references, playlists inside segments). */
static int refuse_nested_open(struct AVFormatContext *context, AVIOContext **pb, const char *url, int flags,
                              AVDictionary **options)
{
    (void)context;
    (void)pb;
    (void)url;
    (void)flags;
    (void)options;
    return AVERROR(EPERM);
}

typedef struct demuxed_segment {
    AVFormatContext *input;
    AVIOContext *io;
    memory_reader reader;
    AVPacket **packets;
    size_t packet_count;
    size_t packet_capacity;
} demuxed_segment;

static void demuxed_free(demuxed_segment *demuxed)
{
    for (size_t i = 0; i < demuxed->packet_count; i++)
        av_packet_free(&demuxed->packets[i]);
    free(demuxed->packets);
    demuxed->packets = NULL;
    demuxed->packet_count = demuxed->packet_capacity = 0;
    avformat_close_input(&demuxed->input);
    if (demuxed->io) {
        av_freep(&demuxed->io->buffer);
        avio_context_free(&demuxed->io);
    }
}

/* Demuxes one segment held in memory; all its packets end up in
 * demuxed->packets (the demuxer stays open for the stream parameters). */
static int demux_segment(hls_source *source, const uint8_t *data, size_t size, bool analyse,
                         demuxed_segment *demuxed, char *reason, size_t reason_size)
{
    memset(demuxed, 0, sizeof(*demuxed));
    demuxed->reader = (memory_reader){ .data = data, .size = size };
    uint8_t *io_buffer = av_malloc(MEMORY_IO_BUFFER);
    if (!io_buffer)
        return SC_ERR_NOMEM;
    demuxed->io = avio_alloc_context(io_buffer, MEMORY_IO_BUFFER, 0, &demuxed->reader, memory_read, NULL,
                                     memory_seek);
    AVFormatContext *input = avformat_alloc_context();
    if (!demuxed->io || !input) {
        if (!demuxed->io)
            av_free(io_buffer);
        avformat_free_context(input);
        demuxed_free(demuxed);
        return SC_ERR_NOMEM;
    }
    input->pb = demuxed->io;
    input->io_open = refuse_nested_open;
    input->interrupt_callback.callback = interrupt_callback;
    input->interrupt_callback.opaque = source;
    AVDictionary *options = NULL;
    char number[32];
    av_dict_set(&options, "format_whitelist", FORMAT_WHITELIST, 0);
    av_dict_set(&options, "protocol_whitelist", DEMUXER_PROTOCOL_WHITELIST, 0);
    snprintf(number, sizeof(number), "%zu", size < 32 ? (size_t)32 : size);
    av_dict_set(&options, "probesize", number, 0);
    av_dict_set(&options, "skip_estimate_duration_from_pts", "1", 0);
    av_dict_set(&options, "use_tfdt", "1", 0); /* fMP4: fragment times from tfdt */
    begin_call(source, request_timeout(source));
    int ret = avformat_open_input(&input, "", NULL, &options);
    av_dict_free(&options);
    if (ret < 0) {
        /* avformat_open_input freed the context */
        end_call(source);
        demuxed_free(demuxed);
        av_strerror(ret, reason, reason_size);
        return stop_wanted(source) ? SC_ERR_STOPPED : SC_ERR_UNSUPPORTED;
    }
    demuxed->input = input;
    if (analyse && avformat_find_stream_info(input, NULL) < 0) {
        end_call(source);
        snprintf(reason, reason_size, "stream parameters not found");
        demuxed_free(demuxed);
        return stop_wanted(source) ? SC_ERR_STOPPED : SC_ERR_UNSUPPORTED;
    }
    int status = SC_OK;
    for (;;) {
        AVPacket *packet = av_packet_alloc();
        if (!packet) {
            status = SC_ERR_NOMEM;
            break;
        }
        ret = av_read_frame(input, packet);
        if (ret < 0) {
            av_packet_free(&packet);
            if (ret != AVERROR_EOF && demuxed->packet_count == 0) {
                av_strerror(ret, reason, reason_size);
                status = stop_wanted(source) ? SC_ERR_STOPPED : SC_ERR_UNSUPPORTED;
            } else if (ret != AVERROR_EOF) {
                source->host->counter_add(source->ctx, "demux_errors", 1);
            }
            break;
        }
        if (demuxed->packet_count == MAX_PACKETS_PER_SEGMENT) {
            av_packet_free(&packet);
            source->host->counter_add(source->ctx, "demux_errors", 1);
            break;
        }
        if (demuxed->packet_count == demuxed->packet_capacity) {
            size_t capacity = demuxed->packet_capacity ? demuxed->packet_capacity * 2 : 256;
            AVPacket **grown = realloc(demuxed->packets, capacity * sizeof(*grown));
            if (!grown) {
                av_packet_free(&packet);
                status = SC_ERR_NOMEM;
                break;
            }
            demuxed->packets = grown;
            demuxed->packet_capacity = capacity;
        }
        demuxed->packets[demuxed->packet_count++] = packet;
    }
    end_call(source);
    if (status != SC_OK)
        demuxed_free(demuxed);
    return status;
}



/* Declares the streams of the run's first segment to the host. */
static int declare_streams(hls_source *source, const AVFormatContext *input)
{
    const sc_host_api *host = source->host;
    source->stream_count = 0;
    for (unsigned i = 0; i < input->nb_streams && source->stream_count < MAX_STREAMS; i++) {
        const AVStream *stream = input->streams[i];
        int media_type = sc_av_media_type(stream->codecpar);
        if (media_type == SC_MEDIA_UNKNOWN || stream->codecpar->codec_id == AV_CODEC_ID_NONE)
            continue;
        sc_stream_info info;
        sc_av_describe_stream(stream, &info);
        int index = host->source_add_stream(source->ctx, &info);
        if (index < 0) {
            host->log(source->ctx, SC_LOG_ERROR, "the host refused stream %u (%s) of '%s' (%d)", i, info.codec_name,
                      source->media_display_url, index);
            return index;
        }
        source->streams[source->stream_count++] = (declared_stream){
            .media_type = media_type, .codec_id = stream->codecpar->codec_id, .host_index = index,
        };
    }
    if (source->stream_count == 0) {
        host->log(source->ctx, SC_LOG_ERROR, "'%s': the first segment has no audio or video stream",
                  source->media_display_url);
        return SC_ERR_UNSUPPORTED;
    }
    int reference = -1;
    for (int i = 0; i < source->stream_count && reference < 0; i++)
        if (source->streams[i].media_type == SC_MEDIA_VIDEO)
            reference = i;
    for (int i = 0; i < source->stream_count && reference < 0; i++)
        if (source->streams[i].media_type == SC_MEDIA_AUDIO)
            reference = i;
    if (reference >= 0 && source->reference_host_index != source->streams[reference].host_index) {
        source->reference_host_index = source->streams[reference].host_index;
        source->last_reference_dts_ns = SC_TIME_NONE;
    }
    source->streams_declared = true;
    return SC_OK;
}

/* Maps each stream of a segment onto a declared stream: the k-th stream
 * of a media type onto the k-th declared one of that type, when the codec
 * is the same. -1 for the others. */
static void map_streams(hls_source *source, const AVFormatContext *input, int *map)
{
    int ordinal[4] = { 0 };
    for (unsigned i = 0; i < input->nb_streams; i++) {
        map[i] = -1;
        const AVStream *stream = input->streams[i];
        int media_type = sc_av_media_type(stream->codecpar);
        if (media_type == SC_MEDIA_UNKNOWN || media_type >= 4)
            continue;
        int wanted = ordinal[media_type]++;
        int seen = 0;
        for (int k = 0; k < source->stream_count; k++) {
            if (source->streams[k].media_type != media_type)
                continue;
            if (seen++ != wanted)
                continue;
            if (source->streams[k].codec_id == stream->codecpar->codec_id)
                map[i] = source->streams[k].host_index;
            else if (!source->mismatch_warned) {
                source->mismatch_warned = true;
                source->host->log(source->ctx, SC_LOG_WARNING,
                                  "'%s': a segment's %s stream changed codec (%s, declared %s); its packets are ignored",
                                  source->media_display_url, av_get_media_type_string(stream->codecpar->codec_type),
                                  avcodec_get_name(stream->codecpar->codec_id),
                                  avcodec_get_name(source->streams[k].codec_id));
            }
            break;
        }
    }
}

static void release_buffer(void *opaque)
{
    AVBufferRef *buffer = opaque;
    av_buffer_unref(&buffer);
}

static int64_t to_ns(int64_t ticks, AVRational time_base)
{
    if (ticks == AV_NOPTS_VALUE)
        return SC_TIME_NONE;
    return av_rescale_q(ticks, time_base, (AVRational){ 1, (int)SC_NSEC_PER_SEC });
}

/* Pushes a demuxed segment's packets. `utc_ns` is its PROGRAM-DATE-TIME
 * or M3U8_NONE. */
static int push_segment(hls_source *source, demuxed_segment *demuxed, int64_t utc_ns)
{
    const sc_host_api *host = source->host;
    AVFormatContext *input = demuxed->input;
    int map[64];
    unsigned stream_total = input->nb_streams < 64 ? input->nb_streams : 64;
    map_streams(source, input, map);

    /* The segment's start: its reference stream's earliest presentation. */
    int64_t segment_start_ns = SC_TIME_NONE, first_reference_dts_ns = SC_TIME_NONE, last_reference_dts_ns = SC_TIME_NONE;
    for (size_t i = 0; i < demuxed->packet_count; i++) {
        const AVPacket *packet = demuxed->packets[i];
        if ((unsigned)packet->stream_index >= stream_total || map[packet->stream_index] != source->reference_host_index)
            continue;
        AVRational time_base = input->streams[packet->stream_index]->time_base;
        int64_t pts = to_ns(packet->pts, time_base);
        int64_t dts = to_ns(packet->dts != AV_NOPTS_VALUE ? packet->dts : packet->pts, time_base);
        if (pts != SC_TIME_NONE && (segment_start_ns == SC_TIME_NONE || pts < segment_start_ns))
            segment_start_ns = pts;
        if (dts != SC_TIME_NONE) {
            if (first_reference_dts_ns == SC_TIME_NONE)
                first_reference_dts_ns = dts;
            last_reference_dts_ns = dts;
        }
    }
    /* A step back without a discontinuity tag (an encoder restart the
     * packager did not announce): say so, or the host would squeeze the
     * whole segment into the previous one's last microseconds. */
    if (!source->pending_discontinuity && first_reference_dts_ns != SC_TIME_NONE &&
        source->last_reference_dts_ns != SC_TIME_NONE &&
        first_reference_dts_ns < source->last_reference_dts_ns - TIMESTAMP_REGRESSION_NS) {
        char step[40];
        seconds_text(first_reference_dts_ns - source->last_reference_dts_ns, step, sizeof(step));
        host->log(source->ctx, SC_LOG_WARNING, "'%s': timestamps went back %s s without a discontinuity tag",
                  source->media_display_url, step);
        host->counter_add(source->ctx, "timestamp_resets", 1);
        source->pending_discontinuity = true;
    }
    if (last_reference_dts_ns != SC_TIME_NONE)
        source->last_reference_dts_ns = last_reference_dts_ns;

    int status = SC_OK;
    bool mapped = false;
    for (size_t i = 0; i < demuxed->packet_count && status == SC_OK; i++) {
        AVPacket *packet = demuxed->packets[i];
        int host_index = (unsigned)packet->stream_index < stream_total ? map[packet->stream_index] : -1;
        if (host_index < 0 || packet->size <= 0) {
            host->counter_add(source->ctx, "packets_ignored", 1);
            continue;
        }
        if (av_packet_make_refcounted(packet) < 0)
            return SC_ERR_NOMEM;
        AVRational time_base = input->streams[packet->stream_index]->time_base;
        AVBufferRef *buffer = packet->buf;
        packet->buf = NULL;
        sc_packet *out = host->packet_wrap(source->ctx, packet->data, (size_t)packet->size, release_buffer, buffer);
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
        if (source->pending_discontinuity) {
            out->flags |= SC_PACKET_DISCONTINUITY;
            source->pending_discontinuity = false;
        }
        out->orig_pts = packet->pts == AV_NOPTS_VALUE ? SC_TIME_NONE : packet->pts;
        out->orig_dts = packet->dts == AV_NOPTS_VALUE ? SC_TIME_NONE : packet->dts;
        out->orig_duration = packet->duration > 0 ? packet->duration : 0;
        out->time_base_num = time_base.num;
        out->time_base_den = time_base.den;
        out->arrival_ns = host->wallclock_ns();
        int64_t pts_ns = to_ns(packet->pts, time_base);
        if (utc_ns != M3U8_NONE && pts_ns != SC_TIME_NONE && segment_start_ns != SC_TIME_NONE)
            out->source_utc_ns = utc_ns + (pts_ns - segment_start_ns);
        /* Reference packets are read back after the push for the time the
         * host gave them: where the pushed media ends on the timeline (the
         * time of gap and ad events), and, for the segment's first dated
         * one, the mapping from dates to the timeline (for dateranges). */
        const sc_packet *anchor = host_index == source->reference_host_index ? host->packet_ref(out) : NULL;
        status = host->source_push(source->ctx, out);
        if (anchor) {
            if (anchor->pts != SC_TIME_NONE) {
                int64_t end = anchor->pts + (anchor->duration > 0 ? anchor->duration : 0);
                if (source->timeline_end_ns == SC_TIME_NONE || end > source->timeline_end_ns)
                    source->timeline_end_ns = end;
                if (!mapped && anchor->source_utc_ns != SC_TIME_NONE) {
                    source->utc_minus_timeline_ns = anchor->source_utc_ns - anchor->pts;
                    source->have_utc_mapping = true;
                    mapped = true;
                }
            }
            host->packet_unref(anchor);
        }
    }
    return status;
}

/* ---- segments ------------------------------------------------------------- */

static int fetch_key(hls_source *source, const m3u8_key *key)
{
    if (source->key_uri && strcmp(source->key_uri, key->uri) == 0)
        return SC_OK;
    byte_buffer data = { 0 };
    char reason[160];
    int status = fetch(source, key->uri, 0, 0, 1024, false, &data, NULL, reason, sizeof(reason));
    if (status == FETCH_OK && data.size != 16) {
        status = FETCH_FAILED;
        snprintf(reason, sizeof(reason), "a key has 16 bytes, not %zu", data.size);
    }
    if (status == FETCH_OK) {
        memcpy(source->key, data.data, 16);
        free(source->key_uri);
        source->key_uri = strdup(key->uri);
    }
    buffer_free(&data);
    if (status == FETCH_STOPPED)
        return SC_ERR_STOPPED;
    if (status != FETCH_OK) {
        char *shown = hls_url_redact(key->uri);
        source->host->log(source->ctx, SC_LOG_ERROR, "key '%s': %s%s%s", shown ? shown : "?",
                          fetch_status_text(status), reason[0] ? ": " : "", reason);
        free(shown);
        return SC_ERR_IO;
    }
    return SC_OK;
}

/* AES-128-CBC with PKCS#7 padding over the whole segment. */
static int decrypt_segment(hls_source *source, const m3u8_segment *segment, byte_buffer *data)
{
    const m3u8_key *key = &source->playlist.keys[segment->key_index];
    int status = fetch_key(source, key);
    if (status != SC_OK)
        return status;
    if (data->size == 0 || data->size % 16 != 0)
        return SC_ERR_IO;
    uint8_t iv[16] = { 0 };
    if (key->has_iv) {
        memcpy(iv, key->iv, 16);
    } else {
        uint64_t sequence = (uint64_t)segment->sequence;
        for (int i = 0; i < 8; i++)
            iv[15 - i] = (uint8_t)(sequence >> (8 * i));
    }
    struct AVAES *aes = av_aes_alloc();
    if (!aes)
        return SC_ERR_NOMEM;
    av_aes_init(aes, source->key, 128, 1);
    av_aes_crypt(aes, data->data, data->data, (int)(data->size / 16), iv, 1);
    av_free(aes);
    unsigned padding = data->data[data->size - 1];
    if (padding == 0 || padding > 16 || padding > data->size)
        return SC_ERR_IO;
    data->size -= padding;
    memset(data->data + data->size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    return SC_OK;
}

/* Downloads one segment with retries and backoff. */
static int download_with_retries(hls_source *source, const char *url, int64_t offset, int64_t length,
                                 byte_buffer *data, int64_t sequence_for_log, char *reason, size_t reason_size)
{
    int status = FETCH_FAILED;
    for (int attempt = 0; attempt <= source->segment_retries; attempt++) {
        if (attempt > 0) {
            int64_t delay = SEGMENT_RETRY_BASE_NS << (attempt - 1 < 6 ? attempt - 1 : 6);
            if (delay > source->target_duration_ns)
                delay = source->target_duration_ns;
            source->host->counter_add(source->ctx, "segment_retries", 1);
            if (wait_until(source, now_ns(source) + delay) != SC_OK)
                return FETCH_STOPPED;
        }
        status = fetch(source, url, offset, length, source->max_segment_size, false, data, NULL, reason, reason_size);
        if (status == FETCH_OK || status == FETCH_STOPPED || status == FETCH_BLOCKED ||
            status == FETCH_REDIRECT_LIMIT || status == FETCH_TOO_LARGE || status == FETCH_NOMEM)
            break;
        char *shown = hls_url_redact(url);
        source->host->log(source->ctx, SC_LOG_WARNING, "segment %" PRId64 " '%s' (attempt %d of %d): %s%s%s",
                          sequence_for_log, shown ? shown : "?", attempt + 1, source->segment_retries + 1,
                          fetch_status_text(status), reason[0] ? ": " : "", reason);
        free(shown);
    }
    return status;
}

static int ensure_init_segment(hls_source *source, const m3u8_map *map, char *reason, size_t reason_size)
{
    char key[HLS_URL_MAX_LENGTH + 64];
    snprintf(key, sizeof(key), "%s#%" PRId64 "+%" PRId64, map->uri, map->range_offset, map->range_length);
    if (source->init_key && strcmp(source->init_key, key) == 0)
        return FETCH_OK;
    free(source->init_key);
    source->init_key = NULL;
    int status = download_with_retries(source, map->uri, map->range_offset, map->range_length, &source->init_data,
                                       -1, reason, reason_size);
    if (status == FETCH_OK) {
        source->init_key = strdup(key);
        source->host->counter_add(source->ctx, "init_segments_fetched", 1);
    }
    return status;
}

static bool segment_is_ad(hls_source *source, const m3u8_segment *segment)
{
    /* A prefetch entry has no title yet: it belongs to the ad break the
     * last listed segment is in, or to an ad range its date falls into. */
    bool ad = segment->prefetch ? source->last_real_segment_was_ad
                                : segment->title && strstr(segment->title, "Amazon") != NULL;
    if (!ad && segment->program_date_time_ns != M3U8_NONE) {
        for (size_t i = 0; i < AD_RANGE_MEMORY; i++) {
            const ad_range *range = &source->ad_ranges[i];
            if (range->end_ns > range->start_ns && segment->program_date_time_ns >= range->start_ns &&
                segment->program_date_time_ns < range->end_ns)
                ad = true;
        }
    }
    if (!segment->prefetch)
        source->last_real_segment_was_ad = ad;
    return ad;
}

/* A prefetch entry's duration and date: the average of the listed
 * segments, after the last one. */
static void complete_prefetch(const m3u8_playlist *playlist, m3u8_segment *segment)
{
    size_t real = real_count(playlist);
    if (real == 0)
        return;
    int64_t total = 0;
    for (size_t i = 0; i < real; i++)
        total += playlist->segments[i].duration_ns;
    int64_t average = total / (int64_t)real;
    segment->duration_ns = average;
    const m3u8_segment *last = &playlist->segments[real - 1];
    if (last->program_date_time_ns != M3U8_NONE)
        segment->program_date_time_ns =
            last->program_date_time_ns + last->duration_ns + (segment->sequence - last->sequence - 1) * average;
}

/* Fetches, demuxes and pushes one segment; a failure here is a gap, never
 * the end of the run (unless stopping or out of memory). */
static int process_segment(hls_source *source, const m3u8_segment *listed)
{
    const sc_host_api *host = source->host;
    m3u8_segment segment = *listed;
    if (segment.prefetch)
        complete_prefetch(&source->playlist, &segment);
    source->next_sequence = segment.sequence + 1;
    int64_t segment_end_utc = segment.program_date_time_ns != M3U8_NONE
                                  ? segment.program_date_time_ns + segment.duration_ns : M3U8_NONE;

    if (segment.discontinuity ||
        (source->last_discontinuity_sequence >= 0 &&
         segment.discontinuity_sequence != source->last_discontinuity_sequence)) {
        host->counter_add(source->ctx, "discontinuities", 1);
        source->pending_discontinuity = true;
    }
    source->last_discontinuity_sequence = segment.discontinuity_sequence;

    if (segment.gap) {
        host->counter_add(source->ctx, "segments_missing", 1);
        record_gap(source, segment.sequence, segment.sequence, segment.duration_ns, "gap_tag");
        post_dateranges(source, segment_end_utc);
        return SC_OK;
    }
    bool ad = segment_is_ad(source, &segment);
    if (ad && !source->in_ad_break) {
        json_text json = { .first = true };
        json_int(&json, "sequence", segment.sequence);
        json_string(&json, "action", source->skip_ads ? "skip" : "keep");
        if (segment.title)
            json_string(&json, "title", segment.title);
        for (size_t i = 0; i < AD_RANGE_MEMORY; i++) {
            const ad_range *range = &source->ad_ranges[i];
            if (segment.program_date_time_ns != M3U8_NONE && range->end_ns > range->start_ns &&
                segment.program_date_time_ns >= range->start_ns && segment.program_date_time_ns < range->end_ns) {
                json_string(&json, "daterange", range->id);
                json_seconds(&json, "duration", range->end_ns - range->start_ns);
                break;
            }
        }
        char *payload = json_finish(&json);
        post_event(source, "ad", source->timeline_end_ns, payload);
        free(payload);
        host->log(source->ctx, SC_LOG_INFO, "ad break from segment %" PRId64 " (%s)", segment.sequence,
                  source->skip_ads ? "skipped" : "kept");
    }
    source->in_ad_break = ad;
    if (ad && source->skip_ads) {
        host->counter_add(source->ctx, "ad_segments_skipped", 1);
        source->pending_discontinuity = true;
        post_dateranges(source, segment_end_utc);
        return SC_OK;
    }
    if (ad)
        host->counter_add(source->ctx, "ad_segments_kept", 1);

    char reason[256] = "";
    byte_buffer data = { 0 };
    int fetched = download_with_retries(source, segment.uri, segment.range_offset, segment.range_length, &data,
                                        segment.sequence, reason, sizeof(reason));
    if (segment.prefetch)
        host->counter_add(source->ctx, "prefetch_segments", 1);
    if (fetched == FETCH_OK && segment.map_index >= 0)
        fetched = ensure_init_segment(source, &source->playlist.maps[segment.map_index], reason, sizeof(reason));
    if (fetched == FETCH_STOPPED) {
        buffer_free(&data);
        return SC_ERR_STOPPED;
    }
    if (fetched == FETCH_NOMEM) {
        buffer_free(&data);
        return SC_ERR_NOMEM;
    }
    int status = SC_OK;
    if (fetched == FETCH_OK && segment.key_index >= 0) {
        const m3u8_key *key = &source->playlist.keys[segment.key_index];
        if (key->method != M3U8_KEY_AES128) {
            host->log(source->ctx, SC_LOG_ERROR, "'%s' uses %s encryption, which the hls source cannot decrypt",
                      source->media_display_url, key->method == M3U8_KEY_SAMPLE_AES ? "SAMPLE-AES" : "unknown");
            buffer_free(&data);
            return SC_ERR_PERMANENT;
        }
        status = decrypt_segment(source, &segment, &data);
        if (status == SC_ERR_STOPPED || status == SC_ERR_NOMEM) {
            buffer_free(&data);
            return status;
        }
        if (status != SC_OK) {
            snprintf(reason, sizeof(reason), "could not be decrypted");
            fetched = FETCH_FAILED;
        }
    }
    if (fetched != FETCH_OK) {
        char *shown = hls_url_redact(segment.uri);
        host->log(source->ctx, SC_LOG_ERROR, "segment %" PRId64 " '%s' skipped: %s%s%s", segment.sequence,
                  shown ? shown : "?", fetch_status_text(fetched), reason[0] ? ": " : "", reason);
        free(shown);
        buffer_free(&data);
        host->counter_add(source->ctx, "segments_missing", 1);
        record_gap(source, segment.sequence, segment.sequence, segment.duration_ns,
                   fetched == FETCH_BLOCKED ? "blocked" : fetched == FETCH_REDIRECT_LIMIT ? "redirects" : "missing");
        post_dateranges(source, segment_end_utc);
        return SC_OK;
    }

    /* fMP4: the initialization section goes in front of every fragment. */
    const uint8_t *bytes = data.data;
    size_t size = data.size;
    byte_buffer joined = { 0 };
    if (segment.map_index >= 0 && source->init_data.size > 0) {
        if (!buffer_reserve(&joined, source->init_data.size + data.size)) {
            buffer_free(&data);
            return SC_ERR_NOMEM;
        }
        memcpy(joined.data, source->init_data.data, source->init_data.size);
        memcpy(joined.data + source->init_data.size, data.data, data.size);
        joined.size = source->init_data.size + data.size;
        memset(joined.data + joined.size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
        bytes = joined.data;
        size = joined.size;
    }
    /* Analysed every time, not only for the first segment: without the
     * stream parameters libavformat cannot time the audio frames that share
     * a PES packet, and a new encode after a discontinuity may differ. */
    demuxed_segment demuxed;
    status = demux_segment(source, bytes, size, true, &demuxed, reason, sizeof(reason));
    if (status == SC_OK && !source->streams_declared) {
        status = declare_streams(source, demuxed.input);
        if (status != SC_OK)
            demuxed_free(&demuxed);
    }
    if (status == SC_OK) {
        host->counter_add(source->ctx, "segments_fetched", 1);
        status = push_segment(source, &demuxed, segment.program_date_time_ns);
        demuxed_free(&demuxed);
    } else if (status == SC_ERR_UNSUPPORTED && source->streams_declared) {
        host->log(source->ctx, SC_LOG_ERROR, "segment %" PRId64 " of '%s' cannot be demuxed: %s", segment.sequence,
                  source->media_display_url, reason);
        host->counter_add(source->ctx, "segments_missing", 1);
        record_gap(source, segment.sequence, segment.sequence, segment.duration_ns, "undecodable");
        status = SC_OK;
    } else if (status == SC_ERR_UNSUPPORTED) {
        /* Nothing declared yet: the next run starts over from the next segment. */
        host->log(source->ctx, SC_LOG_ERROR, "the first segment of '%s' cannot be demuxed: %s",
                  source->media_display_url, reason[0] ? reason : "no usable stream");
        host->counter_add(source->ctx, "segments_missing", 1);
        record_gap(source, segment.sequence, segment.sequence, segment.duration_ns, "undecodable");
        status = SC_ERR_IO;
    }
    buffer_free(&joined);
    buffer_free(&data);
    post_dateranges(source, segment_end_utc);
    return status;
}

/* ---- following a playlist ---------------------------------------------- */

static const m3u8_segment *next_segment(const hls_source *source)
{
    const m3u8_playlist *playlist = &source->playlist;
    int64_t index = source->next_sequence - playlist->media_sequence;
    if (index < 0 || index >= (int64_t)followed_count(source, playlist))
        return NULL;
    return &playlist->segments[index];
}

/* Maps a failed playlist request to the run's outcome; SC_OK means "try
 * again later". */
static int playlist_failure(hls_source *source, int status, const char *reason, const char *shown_url)
{
    const sc_host_api *host = source->host;
    if (status == FETCH_STOPPED)
        return SC_ERR_STOPPED;
    if (status == FETCH_NOMEM)
        return SC_ERR_NOMEM;
    host->log(source->ctx, SC_LOG_ERROR, "playlist '%s': %s%s%s", shown_url, fetch_status_text(status),
              reason[0] ? ": " : "", reason);
    if (status == FETCH_NOT_FOUND || status == FETCH_REFUSED || status == FETCH_UNAUTHORIZED) {
        /* Signed URLs expire: the next run resolves the URL afresh. */
        host->counter_add(source->ctx, "playlist_refused", 1);
        return SC_ERR_IO;
    }
    host->counter_add(source->ctx, "playlist_errors", 1);
    if (++source->consecutive_playlist_failures > source->playlist_retries)
        return SC_ERR_IO;
    return SC_OK;
}

static int64_t stall_limit(const hls_source *source)
{
    return source->stall_timeout_ns > 0 ? source->stall_timeout_ns : 3 * source->target_duration_ns;
}

static int follow(hls_source *source)
{
    const sc_host_api *host = source->host;
    int64_t last_load_ns = now_ns(source);
    int64_t next_reload_ns = last_load_ns + source->target_duration_ns;
    for (;;) {
        if (stop_wanted(source))
            return SC_ERR_STOPPED;
        bool live = !source->playlist.end_list;
        if (live && now_ns(source) >= next_reload_ns) {
            int64_t started = now_ns(source);
            m3u8_playlist fresh;
            char reason[256];
            int status = load_playlist(source, source->reload_url, &fresh, reason, sizeof(reason));
            host->counter_add(source->ctx, "playlist_reloads", 1);
            if (status == FETCH_OK && fresh.master) {
                m3u8_free(&fresh);
                status = FETCH_FAILED;
                snprintf(reason, sizeof(reason), "a master playlist where a media playlist was expected");
            }
            if (status == FETCH_OK) {
                source->consecutive_playlist_failures = 0;
                bool changed = apply_playlist(source, &fresh);
                int64_t wait = changed ? source->target_duration_ns : source->target_duration_ns / 2;
                if (source->low_latency && changed && source->playlist.segment_count > 0) {
                    /* Twitch low latency: reload every segment duration. */
                    size_t real = real_count(&source->playlist);
                    if (real > 0 && source->playlist.segments[real - 1].duration_ns > 0)
                        wait = source->playlist.segments[real - 1].duration_ns;
                }
                if (!changed)
                    host->counter_add(source->ctx, "playlist_unchanged", 1);
                if (wait < MIN_RELOAD_NS)
                    wait = MIN_RELOAD_NS;
                next_reload_ns = started + wait;
            } else {
                int outcome = playlist_failure(source, status, reason, source->media_display_url);
                if (outcome != SC_OK)
                    return outcome;
                int64_t wait = source->target_duration_ns / 2;
                next_reload_ns = started + (wait < MIN_RELOAD_NS ? MIN_RELOAD_NS : wait);
            }
            if (!source->playlist.end_list && now_ns(source) - source->last_progress_ns > stall_limit(source)) {
                char limit[40];
                seconds_text(stall_limit(source), limit, sizeof(limit));
                host->log(source->ctx, SC_LOG_WARNING, "playlist '%s' stalled: no new segment for %s s; reconnecting",
                          source->media_display_url, limit);
                host->counter_add(source->ctx, "stalls", 1);
                return SC_ERR_IO;
            }
            continue;
        }
        const m3u8_segment *segment = next_segment(source);
        if (segment) {
            int status = process_segment(source, segment);
            if (status != SC_OK)
                return status;
            continue;
        }
        if (!live) {
            host->log(source->ctx, SC_LOG_INFO, "'%s' ended (EXT-X-ENDLIST)", source->media_display_url);
            return SC_OK;
        }
        int status = wait_until(source, next_reload_ns);
        if (status != SC_OK)
            return status;
    }
}

/* Known platforms serve playlists and segments from many hosts of their
 * own domain (Twitch: video-weaver.* playlists, video-edge-* segments).
 * Returns the stream type and sets *domain to the domain whose hosts are
 * then allowed (NULL for other streams). */
static const char *stream_type(const char *url, const char **domain)
{
    static const struct {
        const char *domain;
        const char *type;
        const char *segment_domain;
    } platforms[] = {
        { ".ttvnw.net", "TWITCH_HLS", ".ttvnw.net" },
        { ".twitch.tv", "TWITCH_HLS", ".ttvnw.net" },
        { ".googlevideo.com", "YOUTUBE_HLS", ".googlevideo.com" },
        { ".youtube.com", "YOUTUBE_HLS", ".googlevideo.com" },
    };
    *domain = NULL;
    hls_url_parts parts;
    if (!hls_url_split(url, &parts))
        return "HLS";
    size_t length = strlen(parts.host);
    for (size_t i = 0; i < sizeof(platforms) / sizeof(platforms[0]); i++) {
        size_t domain_length = strlen(platforms[i].domain);
        if ((length > domain_length && strcmp(parts.host + length - domain_length, platforms[i].domain) == 0) ||
            strcmp(parts.host, platforms[i].domain + 1) == 0) {
            *domain = platforms[i].segment_domain;
            return platforms[i].type;
        }
    }
    return "HLS";
}

static void end_run(hls_source *source)
{
    hls_http_free(source->http);
    source->http = NULL;
    if (source->have_playlist)
        m3u8_free(&source->playlist);
    source->have_playlist = false;
    free(source->top_url);
    free(source->display_url);
    free(source->reload_url);
    free(source->media_display_url);
    source->top_url = source->display_url = source->reload_url = source->media_display_url = NULL;
    free(source->auto_hosts);
    source->auto_hosts = NULL;
    source->platform_domain = NULL;
    source->auto_host_count = source->auto_host_capacity = 0;
    free(source->init_key);
    source->init_key = NULL;
    buffer_free(&source->init_data);
}

/* Resolves the URL, loads the playlist (through the master when there
 * is one), and applies it. */
static int open_stream(hls_source *source)
{
    const sc_host_api *host = source->host;
    char resolved[HLS_URL_MAX_LENGTH];
    int length = host->source_resolve_url(source->ctx, resolved, sizeof(resolved));
    if (length < 0)
        return SC_ERR_IO;
    if ((size_t)length >= sizeof(resolved)) {
        host->log(source->ctx, SC_LOG_ERROR, "the playlist URL is longer than %d bytes", HLS_URL_MAX_LENGTH - 1);
        return SC_ERR_PERMANENT;
    }
    source->top_url = strdup(resolved);
    source->display_url = hls_url_redact(resolved);
    if (!source->top_url || !source->display_url)
        return SC_ERR_NOMEM;
    hls_url_parts parts;
    if (!hls_url_split(resolved, &parts) || (strcmp(parts.scheme, "http") != 0 && strcmp(parts.scheme, "https") != 0)) {
        host->log(source->ctx, SC_LOG_ERROR, "'%s' is not an http(s) URL: the hls source reads only those",
                  source->display_url);
        return SC_ERR_PERMANENT;
    }
    /* The platform shows in the resolved URL (a Twitch or YouTube CDN) or,
     * behind a resolver, in the configured page URL. */
    const char *type = stream_type(resolved, &source->platform_domain);
    const char *page = host->option_string(source->ctx, "url");
    if (strcmp(type, "HLS") == 0 && page)
        type = stream_type(page, &source->platform_domain);
    host->source_set_type(source->ctx, type);
    if (source->rule_count > 0)
        source->platform_domain = NULL; /* an explicit list replaces the automatic rule */
    allow_host_of(source, resolved);

    m3u8_playlist playlist;
    char reason[256];
    int status = load_playlist(source, source->top_url, &playlist, reason, sizeof(reason));
    if (status != FETCH_OK) {
        const char *configured = host->option_string(source->ctx, "url");
        /* 401 on the URL as configured (no resolver made a new one):
         * another try would be refused the same way. */
        if (status == FETCH_UNAUTHORIZED && configured && strcmp(configured, resolved) == 0) {
            host->log(source->ctx, SC_LOG_ERROR, "playlist '%s': %s; giving up", source->display_url,
                      fetch_status_text(status));
            return SC_ERR_PERMANENT;
        }
        int outcome = playlist_failure(source, status, reason, source->display_url);
        return outcome == SC_OK ? SC_ERR_IO : outcome;
    }
    if (playlist.master) {
        /* Hosts the master names are trusted like the master itself. */
        if (source->rule_count == 0) {
            for (size_t i = 0; i < playlist.variant_count; i++)
                allow_host_of(source, playlist.variants[i].uri);
            for (size_t i = 0; i < playlist.rendition_count; i++)
                allow_host_of(source, playlist.rendition_uris[i]);
        }
        const m3u8_variant *variant = m3u8_choose_variant(&playlist, &source->quality);
        if (!variant) {
            host->log(source->ctx, SC_LOG_ERROR, "master playlist '%s' lists no variant", source->display_url);
            m3u8_free(&playlist);
            return SC_ERR_IO;
        }
        source->reload_url = strdup(variant->uri);
        char frame_rate[40] = "";
        if (variant->frame_rate_milli > 0)
            snprintf(frame_rate, sizeof(frame_rate), " @%" PRId64 ".%03" PRId64 " fps", variant->frame_rate_milli / 1000,
                     variant->frame_rate_milli % 1000);
        host->log(source->ctx, SC_LOG_INFO, "master playlist '%s': %zu variants, chose %dx%d%s at %" PRId64 " bit/s",
                  source->display_url, playlist.variant_count, variant->width, variant->height, frame_rate,
                  variant->bandwidth);
        m3u8_free(&playlist);
        if (!source->reload_url)
            return SC_ERR_NOMEM;
        source->media_display_url = hls_url_redact(source->reload_url);
        status = load_playlist(source, source->reload_url, &playlist, reason, sizeof(reason));
        if (status == FETCH_OK && playlist.master) {
            m3u8_free(&playlist);
            status = FETCH_FAILED;
            snprintf(reason, sizeof(reason), "a variant of a master playlist is a master playlist");
        }
        if (status != FETCH_OK) {
            int outcome = playlist_failure(source, status, reason, source->media_display_url);
            return outcome == SC_OK ? SC_ERR_IO : outcome;
        }
    } else {
        source->reload_url = strdup(source->top_url);
        source->media_display_url = strdup(source->display_url);
        if (!source->reload_url || !source->media_display_url) {
            m3u8_free(&playlist);
            return SC_ERR_NOMEM;
        }
    }
    source->consecutive_playlist_failures = 0;
    source->last_progress_ns = now_ns(source);
    apply_playlist(source, &playlist);
    source->last_progress_ns = now_ns(source);
    host->source_set_live(source->ctx, !source->playlist.end_list);
    char target[40];
    seconds_text(source->target_duration_ns, target, sizeof(target));
    host->log(source->ctx, SC_LOG_INFO, "following '%s' (%s, target duration %s s, %zu segments, next %" PRId64 ")",
              source->media_display_url, source->playlist.end_list ? "complete playlist" : "live", target,
              source->playlist.segment_count, source->next_sequence);
    return SC_OK;
}

/* ---- module operations ------------------------------------------------ */

static void free_source(hls_source *source)
{
    end_run(source);
    for (size_t i = 0; i < source->header_count; i++) {
        free(source->headers[i].name);
        free(source->headers[i].value);
    }
    free(source->headers);
    free(source->cookies);
    free(source->user_agent);
    free(source->rules);
    free(source->key_uri);
    for (size_t i = 0; i < DATERANGE_MEMORY; i++)
        free(source->posted_dateranges[i]);
    for (size_t i = 0; i < source->pending_count; i++) {
        free(source->pending[i].id);
        free(source->pending[i].name);
        free(source->pending[i].payload);
    }
    free(source);
}

static int hls_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    hls_source *source = calloc(1, sizeof(*source));
    if (!source)
        return SC_ERR_NOMEM;
    source->host = host;
    source->ctx = ctx;
    atomic_init(&source->stop_requested, false);
    source->highest_sequence = -1;
    source->last_discontinuity_sequence = -1;
    source->reference_host_index = -1;
    source->last_reference_dts_ns = SC_TIME_NONE;
    source->timeline_end_ns = SC_TIME_NONE;
    forget_segments(source);

    const char *url = host->option_string(ctx, "url");
    const char *quality = host->option_string(ctx, "quality");
    const char *hosts = host->option_string(ctx, "allowed_hosts");
    const char *headers = host->option_string(ctx, "headers");
    const char *cookies = host->option_string(ctx, "cookies");
    const char *user_agent = host->option_string(ctx, "user_agent");
    const char *ads = host->option_string(ctx, "ads");
    int status = SC_OK;
    if (!url || !*url) {
        host->log(ctx, SC_LOG_ERROR, "url is empty: name the playlist to follow");
        status = SC_ERR_INVALID;
    } else if (!m3u8_parse_quality(quality ? quality : "best", &source->quality)) {
        host->log(ctx, SC_LOG_ERROR, "quality '%s': expected best, worst, <height>p (e.g. 720p, 720p60) or a "
                  "bandwidth (e.g. 3000000, 3000k)", quality);
        status = SC_ERR_INVALID;
    } else if (!parse_host_rules(source, hosts ? hosts : "")) {
        host->log(ctx, SC_LOG_ERROR, "allowed_hosts '%s': expected host, host:port, *.domain or * separated by commas",
                  hosts);
        status = SC_ERR_INVALID;
    } else if (!parse_headers(source, headers ? headers : "", cookies ? cookies : "")) {
        status = SC_ERR_INVALID;
    }
    if (status != SC_OK) {
        free_source(source);
        return status;
    }
    source->user_agent = strdup(user_agent && *user_agent ? user_agent : "streamcut/" STREAMCUT_VERSION);
    if (!source->user_agent) {
        free_source(source);
        return SC_ERR_NOMEM;
    }
    source->live_edge = (int)host->option_int(ctx, "live_edge");
    source->max_behind = (int)host->option_int(ctx, "max_behind");
    source->segment_retries = (int)host->option_int(ctx, "segment_retries");
    source->playlist_retries = (int)host->option_int(ctx, "playlist_retries");
    source->stall_timeout_ns = host->option_duration(ctx, "stall_timeout");
    source->rw_timeout_ns = host->option_duration(ctx, "rw_timeout");
    source->request_timeout_ns = host->option_duration(ctx, "request_timeout");
    source->max_redirects = (int)host->option_int(ctx, "max_redirects");
    source->max_playlist_size = (size_t)host->option_size(ctx, "max_playlist_size");
    source->max_playlist_entries = (size_t)host->option_int(ctx, "max_playlist_entries");
    source->max_segment_size = (size_t)host->option_size(ctx, "max_segment_size");
    source->skip_ads = !ads || strcmp(ads, "keep") != 0;
    source->low_latency = host->option_bool(ctx, "low_latency");
    for (size_t i = 0; i < sizeof(counter_names) / sizeof(counter_names[0]); i++)
        host->counter_add(ctx, counter_names[i], 0);
    *instance = source;
    return SC_OK;
}

static void hls_destroy(void *instance)
{
    if (instance)
        free_source(instance);
}

static int hls_run(void *instance)
{
    hls_source *source = instance;
    end_run(source);
    source->streams_declared = false;
    source->mismatch_warned = false;
    source->target_duration_ns = 0;
    source->in_ad_break = false;
    hls_http_config http_config = {
        .user_agent = source->user_agent,
        .headers = source->headers,
        .header_count = source->header_count,
        .cookies = source->cookies,
        .max_redirects = source->max_redirects,
    };
    /* Made here, on the source thread, which alone may use it. */
    source->http = hls_http_new(&http_config);
    int status = open_stream(source);
    if (status == SC_OK)
        status = follow(source);
    if (status == SC_ERR_STOPPED || stop_wanted(source))
        status = SC_ERR_STOPPED;
    end_run(source);
    return status;
}

static void hls_stop(void *instance)
{
    hls_source *source = instance;
    atomic_store(&source->stop_requested, true);
}

static const sc_source_ops hls_ops = {
    SC_OPS_INIT(sc_source_ops),
    .create = hls_create,
    .destroy = hls_destroy,
    .run = hls_run,
    .stop = hls_stop,
};

static const sc_module_descriptor hls_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SOURCE,
    .name = "hls",
    .version = "0.1.0",
    .description = "follows a live or VOD HLS playlist (master or media; MPEG-TS or fMP4 segments) with gap, "
                   "reset, stall and ad handling",
    .options = hls_options,
    .ops = &hls_ops,
};

SC_MODULE_DEFINE(hls_module)
