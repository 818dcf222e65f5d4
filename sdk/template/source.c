/* @NAME@: a streamcut source module.
 *
 * A source declares its streams (codec and shape, enough to remux them) and
 * pushes compressed packets with their original timestamps; the host puts
 * them on one continuous timeline, buffers them and feeds the strategies.
 * run() executes on the source's own thread until the input ends (return
 * SC_OK), the host asks it to stop (source_should_stop), or it fails: return
 * SC_ERR_PERMANENT when retrying cannot help, any other error to have the
 * host reconnect (call run() again after a backoff).
 *
 * This skeleton makes a timed-data stream: a short text packet every
 * `interval` for `duration`. Replace @IDENT@_run with your own input (open
 * it, source_add_stream for each stream, then read and push in a loop).
 */
#include <streamcut/streamcut.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct @IDENT@_source {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t interval;     /* ns between packets */
    int64_t duration;     /* ns of stream to make */
    const char *text;
} @IDENT@_source;

static const sc_option_spec @IDENT@_options[] = {
    {.name = "interval", .type = SC_OPT_DURATION, .default_value = "1s", .min = 0.001, .max = 3600,
     .help = "time between two packets"},
    {.name = "duration", .type = SC_OPT_DURATION, .default_value = "60s", .min = 0.001, .max = 86400,
     .help = "length of the stream; it ends then"},
    {.name = "text", .type = SC_OPT_STRING, .default_value = "tick",
     .help = "payload of every packet"},
    {0},
};

static int @IDENT@_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    @IDENT@_source *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->interval = host->option_duration(ctx, "interval");
    self->duration = host->option_duration(ctx, "duration");
    self->text = host->option_string(ctx, "text");
    *instance = self;
    return SC_OK;
}

static void @IDENT@_destroy(void *instance)
{
    free(instance);
}

static int @IDENT@_run(void *instance)
{
    @IDENT@_source *self = instance;
    const sc_host_api *host = self->host;
    host->source_set_type(self->ctx, "@NAME@");
    /* Not live: the host holds the source back rather than drop packets a
     * strategy has not read yet. A live input would say 1. */
    host->source_set_live(self->ctx, 0);
    /* Timestamps in milliseconds: the time base is 1/1000. */
    sc_stream_info info = {
        .struct_size = sizeof info,
        .media_type = SC_MEDIA_DATA,
        .codec_name = "bin_data",
        .time_base_num = 1,
        .time_base_den = 1000,
        .profile = -99,
        .level = -99,
    };
    int stream = host->source_add_stream(self->ctx, &info);
    if (stream < 0) return SC_ERR_PERMANENT;
    size_t size = strlen(self->text);
    for (int64_t t = 0; t < self->duration; t += self->interval) {
        if (host->source_should_stop(self->ctx)) return SC_ERR_STOPPED;
        uint8_t *data;
        sc_packet *pkt = host->packet_alloc(self->ctx, size, &data);
        if (!pkt) return SC_ERR_NOMEM;
        memcpy(data, self->text, size);
        pkt->stream_index = (uint32_t)stream;
        pkt->flags = SC_PACKET_KEY;
        pkt->orig_pts = pkt->orig_dts = t / SC_NSEC_PER_MSEC;
        pkt->orig_duration = self->interval / SC_NSEC_PER_MSEC;
        pkt->time_base_num = 1;
        pkt->time_base_den = 1000;
        pkt->arrival_ns = host->wallclock_ns();
        int status = host->source_push(self->ctx, pkt); /* takes our reference */
        if (status != SC_OK) return status;
    }
    return SC_OK;
}

static const sc_source_ops @IDENT@_ops = {
    SC_OPS_INIT(sc_source_ops),
    .create = @IDENT@_create,
    .destroy = @IDENT@_destroy,
    .run = @IDENT@_run,
    /* Optional: .start, .stop (make a blocked run() return soon). */
};

static const sc_module_descriptor @IDENT@_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SOURCE,
    .name = "@NAME@",
    .version = "0.1.0",
    .description = "a timed-data stream of text packets (a skeleton to make your own)",
    .options = @IDENT@_options,
    .ops = &@IDENT@_ops,
};

SC_MODULE_DEFINE(@IDENT@_module)
