/* compat_record: a test-only sink built against the frozen ABI 1.0 headers:
 * its sc_sink_ops ends at consume_set (no `reopen`). It appends one line a
 * segment to the file `path`: index, start and end in ns, packet count,
 * keyframes, bytes, label, the payload of its first packet; it sets the
 * segment attribute "compat_line" to the line's number and counts lines
 * ("lines"). */
#include <streamcut/streamcut.h>

#include <stdio.h>
#include <stdlib.h>

typedef struct compat_record {
    const sc_host_api *host;
    sc_ctx *ctx;
    FILE *out;
    long lines;
} compat_record;

static const sc_option_spec compat_record_options[] = {
    {.name = "path", .type = SC_OPT_STRING, .flags = SC_OPT_REQUIRED, .help = "file the lines go to"},
    {0},
};

static int compat_record_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    compat_record *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    const char *path = host->option_string(ctx, "path");
    self->out = fopen(path, "w");
    if (!self->out) {
        host->log(ctx, SC_LOG_ERROR, "cannot open %s", path);
        free(self);
        return SC_ERR_IO;
    }
    *instance = self;
    return SC_OK;
}

static void compat_record_destroy(void *instance)
{
    compat_record *self = instance;
    if (self->out) fclose(self->out);
    free(self);
}

static int compat_record_consume(void *instance, const sc_segment *segment)
{
    compat_record *self = instance;
    const sc_packet *first = segment->packet_count ? segment->packets[0] : NULL;
    self->lines++;
    fprintf(self->out, "%llu %lld %lld %zu %u %llu %s %.*s\n", (unsigned long long)segment->index,
            (long long)segment->start, (long long)segment->end, segment->packet_count, segment->keyframes,
            (unsigned long long)segment->bytes, segment->label ? segment->label : "-",
            first ? (int)first->size : 1, first ? (const char *)first->data : "-");
    if (fflush(self->out) != 0) return SC_ERR_IO;
    char line[24];
    snprintf(line, sizeof line, "%ld", self->lines);
    self->host->segment_set_attr(self->ctx, segment, "compat_line", line);
    self->host->counter_add(self->ctx, "lines", 1);
    return SC_OK;
}

static void compat_record_stop(void *instance)
{
    compat_record *self = instance;
    fflush(self->out);
}

static const sc_sink_ops compat_record_ops = {
    SC_OPS_INIT(sc_sink_ops),
    .create = compat_record_create,
    .destroy = compat_record_destroy,
    .consume = compat_record_consume,
    .stop = compat_record_stop,
};

static const sc_module_descriptor compat_record_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SINK,
    .name = "compat_record",
    .version = "1.0-compat",
    .description = "one text line per segment, built against the frozen ABI 1.0 headers (compatibility tests)",
    .options = compat_record_options,
    .ops = &compat_record_ops,
};

SC_MODULE_DEFINE(compat_record_module)
