/* rtmp: RTMP input, two ways.
 *
 * - Pull (`url = rtmp://host[:port]/app/stream`): plays the stream from a
 *   server (nginx-rtmp, SRS, a CDN) through FFmpeg's RTMP protocol and FLV
 *   demuxer. A dropped connection or a missing publisher returns an error
 *   and the host reconnects with backoff.
 * - Listen (`listen = 127.0.0.1:1935`): our own small RTMP server, so OBS or
 *   ffmpeg push straight to streamcut. It checks the application name and
 *   the stream key itself (FFmpeg's listen mode accepts any with only a
 *   warning), takes one publisher at a time, lets a reconnecting publisher
 *   replace a silent one, and keeps one continuous source across
 *   publishers: run() only returns on stop or when it cannot listen.
 */
#include "rtmp_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sc_option_spec rtmp_options[] = {
    { .name = "url", .type = SC_OPT_STRING, .default_value = "",
      .help = "pull mode: rtmp://host[:port]/app/stream to play (also rtmps://); leave empty to listen" },
    { .name = "listen", .type = SC_OPT_STRING, .default_value = "",
      .help = "listen mode: HOST:PORT to accept publishers on, e.g. 127.0.0.1:1935 (a bare port means "
              "127.0.0.1; write 0.0.0.0:PORT for every interface); leave empty to pull a url" },
    { .name = "app", .type = SC_OPT_STRING, .default_value = "live",
      .help = "listen mode: the application name publishers must connect to (rtmp://host/APP/key)" },
    { .name = "key", .type = SC_OPT_STRING, .default_value = "",
      .help = "listen mode: the stream key publishers must use (rtmp://host/app/KEY), compared in constant "
              "time; empty accepts any key. Use key = ${ENV_VAR} to keep it out of the file" },
    { .name = "idle_timeout", .type = SC_OPT_DURATION, .default_value = "10s",
      .help = "listen mode: drop a publisher that sent no media for this long (a half-open connection), "
              "and connections that have not started publishing after this long",
      .min = 0.5, .max = 3600 },
    { .name = "takeover_after", .type = SC_OPT_DURATION, .default_value = "3s",
      .help = "listen mode: a new publisher with the right key replaces the current one once that one sent "
              "no media for this long; before that the newcomer is refused as a duplicate",
      .min = 0, .max = 3600 },
    { .name = "max_connections", .type = SC_OPT_INT, .default_value = "8",
      .help = "listen mode: connections served at once (publisher, newcomers, refused ones closing)",
      .min = 2, .max = 64 },
    { .name = "metadata_events", .type = SC_OPT_BOOL, .default_value = "true",
      .help = "listen mode: post an event \"onMetaData\" with the publisher's stream metadata as its payload" },
    { .name = "data_events", .type = SC_OPT_BOOL, .default_value = "true",
      .help = "listen mode: post other AMF data messages (cue points, captions, custom) as events named by "
              "their handler (onCuePoint by its \"name\"), the values as payload" },
    { .name = "timecodes", .type = SC_OPT_BOOL, .default_value = "true",
      .help = "listen mode: take the wall-clock time an encoder states in onFI messages (sd/st) as the "
              "packets' source UTC, for sync.reference = auto|pdt; arrival time otherwise" },
    { .name = "timecode_utc_offset", .type = SC_OPT_INT, .default_value = "0",
      .help = "listen mode: minutes east of UTC of the encoder clock that writes onFI times "
              "(they carry no zone), e.g. 60 for CET, -300 for EST",
      .min = -840, .max = 840 },
    { .name = "rw_timeout", .type = SC_OPT_DURATION, .default_value = "10s",
      .help = "pull mode: give up (and let the host reconnect) when one connect or read blocks this long",
      .min = 0.1, .max = 3600 },
    { .name = "rtmp_live", .type = SC_OPT_ENUM, .default_value = "live", .choices = "any|live|recorded",
      .help = "pull mode: the kind of stream to ask the server for (FFmpeg's rtmp_live)" },
    { .name = "analyzeduration", .type = SC_OPT_DURATION, .default_value = "2s",
      .help = "pull mode: media time FFmpeg may read to find the stream parameters after connecting",
      .min = 0, .max = 60 },
    { 0 }
};

int rtmp_stop_wanted(rtmp_source *source)
{
    return atomic_load(&source->stop_requested) || source->host->source_should_stop(source->ctx);
}

static void free_source(rtmp_source *source)
{
    for (int i = 0; i < 2; i++)
        if (source->wake_pipe[i] >= 0)
            close(source->wake_pipe[i]);
    free(source);
}

static int rtmp_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    rtmp_source *source = calloc(1, sizeof(*source));
    if (!source)
        return SC_ERR_NOMEM;
    source->host = host;
    source->ctx = ctx;
    source->wake_pipe[0] = source->wake_pipe[1] = -1;
    atomic_init(&source->stop_requested, false);

    const char *url = host->option_string(ctx, "url");
    const char *listen = host->option_string(ctx, "listen");
    int has_url = url && *url, has_listen = listen && *listen;
    if (has_url == has_listen) {
        host->log(ctx, SC_LOG_ERROR, has_url ? "set either url (pull from a server) or listen (accept "
                                               "publishers), not both"
                                             : "set url = rtmp://host/app/stream to pull, or listen = "
                                               "127.0.0.1:1935 to accept publishers");
        free_source(source);
        return SC_ERR_INVALID;
    }
    source->pulling = has_url;
    source->rtmp_live = host->option_string(ctx, "rtmp_live");
    source->rw_timeout_ns = host->option_duration(ctx, "rw_timeout");
    source->analyzeduration_ns = host->option_duration(ctx, "analyzeduration");
    source->app = host->option_string(ctx, "app");
    source->key = host->option_string(ctx, "key");
    source->idle_timeout_ns = host->option_duration(ctx, "idle_timeout");
    source->takeover_after_ns = host->option_duration(ctx, "takeover_after");
    source->max_connections = (int)host->option_int(ctx, "max_connections");
    source->metadata_events = host->option_bool(ctx, "metadata_events");
    source->timecodes = host->option_bool(ctx, "timecodes");
    source->timecode_offset_ns = host->option_int(ctx, "timecode_utc_offset") * INT64_C(60000000000);
    source->data_events = host->option_bool(ctx, "data_events");

    if (!source->pulling) {
        char error[256];
        if (rtmp_parse_listen_address(listen, &source->listen_address, &source->listen_address_length,
                                      source->listen_display, sizeof(source->listen_display), error,
                                      sizeof(error)) != 0) {
            host->log(ctx, SC_LOG_ERROR, "listen = %s: %s", listen, error);
            free_source(source);
            return SC_ERR_INVALID;
        }
        if (!source->app || !*source->app || strchr(source->app, '/')) {
            host->log(ctx, SC_LOG_ERROR, "app must be one non-empty path segment, like \"live\"");
            free_source(source);
            return SC_ERR_INVALID;
        }
        if (pipe2(source->wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
            host->log(ctx, SC_LOG_ERROR, "cannot create a pipe: %s", strerror(errno));
            free_source(source);
            return SC_ERR_IO;
        }
    }
    *instance = source;
    return SC_OK;
}

static void rtmp_destroy(void *instance)
{
    if (instance)
        free_source(instance);
}

static int rtmp_run(void *instance)
{
    rtmp_source *source = instance;
    source->host->source_set_type(source->ctx, "RTMP_FLV");
    source->host->source_set_live(source->ctx, 1);
    return source->pulling ? rtmp_pull_run(source) : rtmp_listen_run(source);
}

static void rtmp_stop(void *instance)
{
    rtmp_source *source = instance;
    atomic_store(&source->stop_requested, true);
    if (source->wake_pipe[1] >= 0) {
        char byte = 1;
        /* A full pipe already wakes the loop. */
        if (write(source->wake_pipe[1], &byte, 1) < 0 && errno != EAGAIN)
            source->host->log(source->ctx, SC_LOG_DEBUG, "wake pipe: %s", strerror(errno));
    }
}

static const sc_source_ops rtmp_source_ops = {
    SC_OPS_INIT(sc_source_ops),
    .create = rtmp_create,
    .destroy = rtmp_destroy,
    .run = rtmp_run,
    .stop = rtmp_stop,
};

static const sc_module_descriptor rtmp_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SOURCE,
    .name = "rtmp",
    .version = "0.1.0",
    .description = "RTMP input: pulls rtmp://host/app/stream (FFmpeg), or listens for OBS/ffmpeg publishers "
                   "with app and stream-key checks, publisher takeover and one continuous timeline",
    .options = rtmp_options,
    .ops = &rtmp_source_ops,
};

SC_MODULE_DEFINE(rtmp_module)
