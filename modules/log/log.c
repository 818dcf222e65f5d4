/* log: the reference observer. One line per packet ("Frame: …") and per
 * segment ("Segment: …") of the sources it watches, like the original
 * design's add_frame_callback / add_segment_callback examples, to standard
 * output or a file. Each line goes out in one write(), so lines from
 * several observers sharing a file never interleave. */
#include <streamcut/streamcut.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct log_observer {
    const sc_host_api *host;
    sc_ctx *ctx;
    char *path;
    int fd;
    int owns_fd;
    int64_t every;
    uint64_t packets_seen;
    int write_failed_logged;
} log_observer;

static const sc_option_spec log_options[] = {
    {.name = "path", .type = SC_OPT_STRING, .default_value = "-",
     .help = "file to append the lines to (its folder must exist), or - for standard output"},
    {.name = "every", .type = SC_OPT_INT, .default_value = "1", .min = 1, .max = 1e9,
     .help = "write one frame line per this many packets (segment lines are all written)"},
    {0},
};

static const char *media_name(uint32_t media_type)
{
    switch (media_type) {
    case SC_MEDIA_VIDEO: return "video";
    case SC_MEDIA_AUDIO: return "audio";
    case SC_MEDIA_SUBTITLE: return "subtitle";
    case SC_MEDIA_DATA: return "data";
    default: return "unknown";
    }
}

static void write_line(log_observer *self, const char *line, int length)
{
    if (length <= 0) return;
    ssize_t written = write(self->fd, line, (size_t)length);
    if (written == length) {
        self->host->counter_add(self->ctx, "lines_written", 1);
        return;
    }
    self->host->counter_add(self->ctx, "write_failures", 1);
    if (!self->write_failed_logged) {
        self->write_failed_logged = 1;
        self->host->log(self->ctx, SC_LOG_ERROR, "writing a line failed: %s",
                        written < 0 ? strerror(errno) : "short write");
    }
}

static double seconds(int64_t ns) { return ns == SC_TIME_NONE ? -1.0 : (double)ns / 1e9; }

static void log_packet(void *instance, const char *source, const sc_packet *packet, const sc_stream_info *stream)
{
    log_observer *self = instance;
    if (self->packets_seen++ % (uint64_t)self->every != 0) return;
    char line[256];
    int length = snprintf(line, sizeof line, "Frame: %s #%" PRIu64 " %s %s pts=%.6f dts=%.6f size=%zu%s%s\n", source,
                          packet->seq, media_name(packet->media_type), stream ? stream->codec_name : "?",
                          seconds(packet->pts), seconds(packet->dts), packet->size,
                          (packet->flags & SC_PACKET_KEY) ? " key" : "",
                          (packet->flags & SC_PACKET_DISCONTINUITY) ? " discontinuity" : "");
    write_line(self, line, length < (int)sizeof line ? length : (int)sizeof line - 1);
}

static void log_segment(void *instance, const sc_segment *segment)
{
    log_observer *self = instance;
    char line[512];
    int length = snprintf(line, sizeof line,
                          "Segment: %s/%s #%" PRIu64 " [%.3f, %.3f) %.3fs packets=%zu keyframes=%" PRIu32
                          " bytes=%" PRIu64 "%s%s%s\n",
                          segment->source, segment->strategy, segment->index, seconds(segment->start),
                          seconds(segment->end), (double)(segment->end - segment->start) / 1e9,
                          segment->packet_count, segment->keyframes, segment->bytes,
                          segment->label ? " label=" : "", segment->label ? segment->label : "",
                          (segment->flags & SC_SEGMENT_PARTIAL) ? " partial" : "");
    write_line(self, line, length < (int)sizeof line ? length : (int)sizeof line - 1);
}

/* SIGHUP: a new file at the path (logrotate moved the old one). */
static void log_reopen(void *instance)
{
    log_observer *self = instance;
    if (!self->owns_fd || !self->path) return;
    int fd = open(self->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        self->host->log(self->ctx, SC_LOG_ERROR, "reopening %s failed: %s", self->path, strerror(errno));
        return;
    }
    close(self->fd);
    self->fd = fd;
}

static int log_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    log_observer *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->every = host->option_int(ctx, "every");
    const char *path = host->option_string(ctx, "path");
    if (strcmp(path, "-") == 0) {
        self->fd = STDOUT_FILENO;
    } else {
        self->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (self->fd < 0) {
            host->log(ctx, SC_LOG_ERROR, "cannot open %s: %s", path, strerror(errno));
            free(self);
            return SC_ERR_IO;
        }
        self->owns_fd = 1;
        self->path = strdup(path);
    }
    *instance = self;
    return SC_OK;
}

static void log_destroy(void *instance)
{
    log_observer *self = instance;
    if (self->owns_fd) close(self->fd);
    free(self->path);
    free(self);
}

static const sc_observer_ops log_ops = {
    SC_OPS_INIT(sc_observer_ops),
    .create = log_create,
    .destroy = log_destroy,
    .packet = log_packet,
    .segment = log_segment,
    .reopen = log_reopen,
};

static const sc_module_descriptor log_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_OBSERVER,
    .name = "log",
    .version = "0.1.0",
    .description = "observer: prints a line per packet (\"Frame: …\") and per segment (\"Segment: …\")",
    .options = log_options,
    .ops = &log_ops,
};

SC_MODULE_DEFINE(log_module)
