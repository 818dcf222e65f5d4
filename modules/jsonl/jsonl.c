/* jsonl: a record sink writing one JSON object per segment, one per line.
 *
 * Each record is built in memory and handed to the kernel with a single
 * write() on an O_APPEND descriptor, so several writers (instances or
 * processes) can share a file without their lines interleaving.
 */
#include "../common/segment_record.h"

#include <streamcut/streamcut.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct jsonl_sink {
    record_source from;
    const sc_host_api *host;
    sc_ctx *ctx;
    int fd;
    int owns_fd;
    char *path;
} jsonl_sink;

static const sc_option_spec jsonl_options[] = {
    {
        .name = "path",
        .type = SC_OPT_STRING,
        .default_value = "-",
        .help = "file to append records to (its folder must exist), or - for standard output",
    },
    { .name = NULL },
};

/* One write() per record keeps lines whole on an O_APPEND file; the loop
 * only matters for pipes and full disks. Returns 0 or an errno value. */
static int write_record(int fd, const char *data, size_t length)
{
    while (length > 0) {
        ssize_t written = write(fd, data, length);
        if (written < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                struct pollfd waiter = { .fd = fd, .events = POLLOUT };
                poll(&waiter, 1, 1000);
                continue;
            }
            return errno;
        }
        if (written == 0)
            return EIO;
        data += written;
        length -= (size_t)written;
    }
    return 0;
}

static int write_built(jsonl_sink *sink, text_buffer *buf);

static int jsonl_consume(void *instance, const sc_segment *segment)
{
    jsonl_sink *sink = instance;
    text_buffer record = { 0 };
    segment_record_append(&sink->from, &record, segment);
    text_buffer_append(&record, "\n", 1);
    return write_built(sink, &record);
}

/* A synchronized set: one object, its members' records nested by source
 * name (null for a missing member). */
static int jsonl_consume_set(void *instance, const sc_segment_set *set)
{
    jsonl_sink *sink = instance;
    text_buffer record = { 0 };
    segment_set_record_append(&sink->from, &record, set);
    text_buffer_append(&record, "\n", 1);
    return write_built(sink, &record);
}

static int write_built(jsonl_sink *sink, text_buffer *buf)
{
    text_buffer record = *buf;
    if (record.failed) {
        free(record.data);
        sink->host->log(sink->ctx, SC_LOG_ERROR, "out of memory building a record");
        return SC_ERR_NOMEM;
    }
    int error = write_record(sink->fd, record.data, record.length);
    free(record.data);
    if (error != 0) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "writing to %s failed: %s", sink->path,
                        strerror(error));
        return SC_ERR_IO;
    }
    sink->host->counter_add(sink->ctx, "records_written", 1);
    return SC_OK;
}

/* ---- lifecycle ---- */

static void jsonl_destroy(void *instance)
{
    jsonl_sink *sink = instance;
    if (sink == NULL)
        return;
    if (sink->owns_fd && sink->fd >= 0)
        close(sink->fd);
    free(sink->path);
    free(sink);
}

/* SIGHUP: logrotate moved the file; records go to a new one at the path.
 * When it cannot be opened, the old descriptor stays (nothing is lost). */
static void jsonl_reopen(void *instance)
{
    jsonl_sink *sink = instance;
    if (!sink->owns_fd)
        return;
    int fd = open(sink->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "reopening %s failed: %s; still writing to the old file",
                        sink->path, strerror(errno));
        return;
    }
    close(sink->fd);
    sink->fd = fd;
    sink->host->counter_add(sink->ctx, "reopened", 1);
}

/* A clearer message than "No such file or directory" for a missing folder. */
static void log_open_failure(jsonl_sink *sink, const char *path, int error)
{
    if (error == ENOENT) {
        char folder[PATH_MAX];
        snprintf(folder, sizeof(folder), "%s", path);
        char *slash = strrchr(folder, '/');
        if (slash == NULL)
            snprintf(folder, sizeof(folder), ".");
        else if (slash == folder)
            slash[1] = '\0';
        else
            *slash = '\0';
        struct stat info;
        if (stat(folder, &info) != 0 || !S_ISDIR(info.st_mode)) {
            sink->host->log(sink->ctx, SC_LOG_ERROR,
                            "path = %s: the folder %s does not exist (it is not created)", path,
                            folder);
            return;
        }
    }
    sink->host->log(sink->ctx, SC_LOG_ERROR, "path = %s: cannot open: %s", path, strerror(error));
}

static int jsonl_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    jsonl_sink *sink = calloc(1, sizeof(*sink));
    if (sink == NULL)
        return SC_ERR_NOMEM;
    sink->host = host;
    sink->ctx = ctx;
    sink->from = (record_source){ .host = host, .ctx = ctx };
    sink->fd = -1;

    const char *path = host->option_string(ctx, "path");
    if (path == NULL || path[0] == '\0')
        path = "-";
    sink->path = strdup(strcmp(path, "-") == 0 ? "standard output" : path);
    if (sink->path == NULL) {
        jsonl_destroy(sink);
        return SC_ERR_NOMEM;
    }
    if (strcmp(path, "-") == 0) {
        sink->fd = STDOUT_FILENO;
    } else {
        sink->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (sink->fd < 0) {
            log_open_failure(sink, path, errno);
            jsonl_destroy(sink);
            return SC_ERR_IO;
        }
        sink->owns_fd = 1;
    }
    *instance = sink;
    return SC_OK;
}

static const sc_sink_ops jsonl_ops = {
    SC_OPS_INIT(sc_sink_ops),
    .create = jsonl_create,
    .destroy = jsonl_destroy,
    .consume = jsonl_consume,
    .consume_set = jsonl_consume_set,
    .reopen = jsonl_reopen,
};

static const sc_module_descriptor jsonl_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SINK,
    .flags = 0,
    .name = "jsonl",
    .version = "0.1.0",
    .description = "append one JSON line per segment (times, streams, flags, files written)",
    .options = jsonl_options,
    .ops = &jsonl_ops,
};

SC_MODULE_DEFINE(jsonl_module)
