/* @NAME@: a streamcut strategy module.
 *
 * A strategy sees every packet of one source, in decode order, on its own
 * thread, and asks the host for segments: windows [start, end) on the
 * source's timeline (nanoseconds from its first packet). The host fills each
 * window from its buffer, starting at the video keyframe at or before
 * `start` so the segment decodes, and hands it to the sinks once every
 * stream passed `end`.
 *
 * This skeleton asks for back-to-back windows of `every` seconds. Replace
 * the decision in @IDENT@_packet with your own (look at the payload, the
 * timestamps, the flags; decode with libavcodec if you need pictures or
 * sound: see the loudness example next to the SDK).
 */
#include <streamcut/streamcut.h>

#include <stdlib.h>

typedef struct @IDENT@_strategy {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t every;        /* window length, ns */
    int64_t window_start; /* start of the next window to ask for, ns */
    int started;
} @IDENT@_strategy;

/* Every option a section may set: the host checks types and ranges before
 * create, and `streamcut modules @NAME@` prints this table. */
static const sc_option_spec @IDENT@_options[] = {
    {.name = "every", .type = SC_OPT_DURATION, .default_value = "10s", .min = 0.001, .max = 86400,
     .help = "length of each window"},
    {0},
};

static int @IDENT@_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    @IDENT@_strategy *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->every = host->option_duration(ctx, "every");
    *instance = self;
    return SC_OK;
}

static void @IDENT@_destroy(void *instance)
{
    free(instance);
}

/* Called for every packet of the source (borrowed: packet_ref it to keep
 * it past the call). Asking for a window as soon as the stream enters it
 * lets the host collect its packets as they pass. */
static int @IDENT@_packet(void *instance, const sc_packet *pkt)
{
    @IDENT@_strategy *self = instance;
    if (pkt->dts == SC_TIME_NONE) return SC_OK;
    if (!self->started) {
        self->started = 1;
        self->window_start = pkt->dts - pkt->dts % self->every;
    }
    while (self->window_start <= pkt->dts) {
        sc_segment_request request = {
            .struct_size = sizeof request,
            .start = self->window_start,
            .end = self->window_start + self->every,
            .label = "@NAME@",
        };
        int64_t index = self->host->segment_emit(self->ctx, &request);
        if (index < 0) self->host->log(self->ctx, SC_LOG_WARNING, "segment_emit failed (%lld)", (long long)index);
        else self->host->counter_add(self->ctx, "windows", 1);
        self->window_start += self->every;
    }
    return SC_OK;
}

static const sc_strategy_ops @IDENT@_ops = {
    SC_OPS_INIT(sc_strategy_ops),
    .create = @IDENT@_create,
    .destroy = @IDENT@_destroy,
    .packet = @IDENT@_packet,
    /* Optional: .start, .flush (end of input or shutdown: emit what is
     * still open), .event (named moments posted for this source), .stop. */
};

static const sc_module_descriptor @IDENT@_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_STRATEGY,
    .name = "@NAME@",
    .version = "0.1.0",
    .description = "windows of `every` seconds (a skeleton to make your own)",
    .options = @IDENT@_options,
    .ops = &@IDENT@_ops,
};

SC_MODULE_DEFINE(@IDENT@_module)
