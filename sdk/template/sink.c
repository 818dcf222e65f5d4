/* @NAME@: a streamcut sink module.
 *
 * A sink receives the segments of the strategies its section names in
 * `from`, one at a time and in order, on a worker thread of its own (behind
 * a bounded queue the host manages). A segment lists its packets (compressed,
 * in decode order, starting at a keyframe) and its streams' descriptions.
 *
 * This skeleton writes one line per segment to `path` ("-" is standard
 * output). Replace @IDENT@_consume with your own output: a file per segment
 * (write under a temporary name, rename, then segment_set_attr "file" so
 * record sinks name it), a message to a server, a database row.
 */
#include <streamcut/streamcut.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct @IDENT@_sink {
    const sc_host_api *host;
    sc_ctx *ctx;
    FILE *out;
    int owns_out;
} @IDENT@_sink;

static const sc_option_spec @IDENT@_options[] = {
    {.name = "path", .type = SC_OPT_STRING, .default_value = "-",
     .help = "file the lines are appended to; - for standard output"},
    {0},
};

static int @IDENT@_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    @IDENT@_sink *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    const char *path = host->option_string(ctx, "path");
    if (strcmp(path, "-") == 0) {
        self->out = stdout;
    } else {
        self->out = fopen(path, "a");
        if (!self->out) {
            host->log(ctx, SC_LOG_ERROR, "cannot open %s: %s", path, strerror(errno));
            free(self);
            return SC_ERR_IO;
        }
        self->owns_out = 1;
    }
    *instance = self;
    return SC_OK;
}

static void @IDENT@_destroy(void *instance)
{
    @IDENT@_sink *self = instance;
    if (self->owns_out) fclose(self->out);
    free(self);
}

/* One segment, borrowed for the call (segment_ref to keep it). A non-zero
 * return is logged and counted as a failure; the sink carries on. */
static int @IDENT@_consume(void *instance, const sc_segment *seg)
{
    @IDENT@_sink *self = instance;
    fprintf(self->out, "@NAME@: %s/%s #%" PRIu64 " [%.3f, %.3f) %zu packets, %" PRIu64 " bytes%s\n",
            seg->source, seg->strategy, seg->index, (double)seg->start / 1e9, (double)seg->end / 1e9,
            seg->packet_count, seg->bytes, (seg->flags & SC_SEGMENT_PARTIAL) ? " (partial)" : "");
    if (fflush(self->out) != 0) {
        self->host->log(self->ctx, SC_LOG_ERROR, "write failed: %s", strerror(errno));
        return SC_ERR_IO;
    }
    self->host->counter_add(self->ctx, "segments", 1);
    return SC_OK;
}

static const sc_sink_ops @IDENT@_ops = {
    SC_OPS_INIT(sc_sink_ops),
    .create = @IDENT@_create,
    .destroy = @IDENT@_destroy,
    .consume = @IDENT@_consume,
    /* Optional: .start, .stop (after the last segment), .consume_set
     * (synchronized sets from a [sync] group), .reopen (SIGHUP). */
};

static const sc_module_descriptor @IDENT@_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SINK,
    .name = "@NAME@",
    .version = "0.1.0",
    .description = "one line per segment (a skeleton to make your own)",
    .options = @IDENT@_options,
    .ops = &@IDENT@_ops,
};

SC_MODULE_DEFINE(@IDENT@_module)
