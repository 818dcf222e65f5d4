/* fixed: back-to-back windows of one duration, [k*d, (k+1)*d) on the
 * source's timeline. Boundaries are absolute multiples of the duration, so
 * a late packet never shifts the windows after it; the host starts each
 * segment's packets at the keyframe at or before its nominal start. */
#include <streamcut/streamcut.h>

#include <stdlib.h>

typedef struct fixed_strategy {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t duration;
    int64_t next_index;     /* first window not yet requested */
    int started;
} fixed_strategy;

static const sc_option_spec fixed_options[] = {
    {.name = "duration", .type = SC_OPT_DURATION, .default_value = "10s", .min = 0.001, .max = 86400,
     .help = "window length: windows are [k*duration, (k+1)*duration) on the stream timeline"},
    {0},
};

static int fixed_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    fixed_strategy *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->duration = host->option_duration(ctx, "duration");
    if (self->duration <= 0) {
        host->log(ctx, SC_LOG_ERROR, "duration must be positive");
        free(self);
        return SC_ERR_INVALID;
    }
    *instance = self;
    return SC_OK;
}

static void fixed_destroy(void *instance) { free(instance); }

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static void emit_window(fixed_strategy *self, int64_t index)
{
    sc_segment_request request = {
        .struct_size = sizeof request,
        .start = index * self->duration,
        .end = (index + 1) * self->duration,
    };
    self->host->segment_emit(self->ctx, &request);
}

/* A window is requested as soon as the stream enters it, so the host
 * gathers its packets as they pass and a window longer than the buffer
 * still comes out whole; the host completes it once every stream passed
 * its end, or at the end of input (flagged partial if it falls short). */
static int fixed_packet(void *instance, const sc_packet *pkt)
{
    fixed_strategy *self = instance;
    if (!self->started) {
        self->started = 1;
        int64_t first = floor_div(pkt->dts, self->duration);
        self->next_index = first > 0 ? first : 0;
    }
    while (self->next_index * self->duration <= pkt->dts) {
        emit_window(self, self->next_index);
        self->next_index++;
    }
    return SC_OK;
}

static const sc_strategy_ops fixed_ops = {
    SC_OPS_INIT(sc_strategy_ops),
    .create = fixed_create,
    .destroy = fixed_destroy,
    .packet = fixed_packet,
};

static const sc_module_descriptor fixed_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_STRATEGY,
    .name = "fixed",
    .version = "0.1.0",
    .description = "fixed-duration windows on absolute boundaries, each starting at a keyframe",
    .options = fixed_options,
    .ops = &fixed_ops,
};

SC_MODULE_DEFINE(fixed_module)
