/* sliding: overlapping windows of one duration that start every `step`,
 * [k*step, k*step + duration) on the source's timeline. Like fixed, the
 * window starts are absolute multiples of the step, so a late packet never
 * shifts the windows after it, and the host starts each window's packets at
 * the keyframe at or before its nominal start. The step is either given or
 * derived from an overlap (step = duration - overlap). A step larger than
 * the duration is allowed: it samples the stream with gaps between windows. */
#include <streamcut/streamcut.h>

#include <stdlib.h>

typedef struct sliding_strategy {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t duration;
    int64_t step;
    int64_t next_index;     /* first window not yet requested */
    int started;
} sliding_strategy;

static const sc_option_spec sliding_options[] = {
    {.name = "duration", .type = SC_OPT_DURATION, .default_value = "10s", .min = 0.001, .max = 86400,
     .help = "window length: windows are [k*step, k*step + duration) on the stream timeline"},
    {.name = "overlap", .type = SC_OPT_DURATION, .default_value = "0", .min = 0, .max = 86400,
     .help = "how much consecutive windows share; must be below duration (step = duration - overlap)"},
    {.name = "step", .type = SC_OPT_DURATION, .min = 0.001, .max = 86400,
     .help = "distance between window starts; unset = duration - overlap; above duration leaves gaps"},
    {0},
};

static double seconds(int64_t ns) { return (double)ns / (double)SC_NSEC_PER_SEC; }

/* Works out the step from duration/overlap/step, refusing combinations that
 * would make windows never advance or contradict each other. */
static int resolve_step(sliding_strategy *self)
{
    const sc_host_api *host = self->host;
    sc_ctx *ctx = self->ctx;
    int64_t overlap = host->option_duration(ctx, "overlap");
    int overlap_set = host->option_is_set(ctx, "overlap");
    int step_set = host->option_is_set(ctx, "step");
    if (self->duration <= 0) {
        host->log(ctx, SC_LOG_ERROR, "duration must be positive (got %gs)", seconds(self->duration));
        return SC_ERR_INVALID;
    }
    if (overlap < 0 || overlap >= self->duration) {
        host->log(ctx, SC_LOG_ERROR, "overlap (%gs) must be at least 0 and less than duration (%gs)",
                  seconds(overlap), seconds(self->duration));
        return SC_ERR_INVALID;
    }
    if (!step_set) {
        self->step = self->duration - overlap;
        return SC_OK;
    }
    self->step = host->option_duration(ctx, "step");
    if (self->step <= 0) {
        host->log(ctx, SC_LOG_ERROR, "step must be positive (got %gs)", seconds(self->step));
        return SC_ERR_INVALID;
    }
    if (overlap_set && self->step != self->duration - overlap) {
        host->log(ctx, SC_LOG_ERROR,
                  "step (%gs) and overlap (%gs) disagree: with duration %gs, overlap %gs means step %gs; "
                  "give only one of them",
                  seconds(self->step), seconds(overlap), seconds(self->duration), seconds(overlap),
                  seconds(self->duration - overlap));
        return SC_ERR_INVALID;
    }
    return SC_OK;
}

static int sliding_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    sliding_strategy *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->duration = host->option_duration(ctx, "duration");
    int status = resolve_step(self);
    if (status != SC_OK) {
        free(self);
        return status;
    }
    *instance = self;
    return SC_OK;
}

static void sliding_destroy(void *instance) { free(instance); }

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static void emit_window(sliding_strategy *self, int64_t index)
{
    sc_segment_request request = {
        .struct_size = sizeof request,
        .start = index * self->step,
        .end = index * self->step + self->duration,
    };
    self->host->segment_emit(self->ctx, &request);
}

/* Each window is requested as soon as the stream enters it, so the host
 * gathers its packets as they pass (a window longer than the buffer still
 * comes out whole) and completes it once every stream passed its end. */
static int sliding_packet(void *instance, const sc_packet *pkt)
{
    sliding_strategy *self = instance;
    if (!self->started) {
        self->started = 1;
        /* The earliest window still open at the first packet: the first k
         * with k*step + duration > dts. */
        int64_t first = floor_div(pkt->dts - self->duration, self->step) + 1;
        self->next_index = first > 0 ? first : 0;
    }
    while (self->next_index * self->step <= pkt->dts) {
        emit_window(self, self->next_index);
        self->next_index++;
    }
    return SC_OK;
}

static const sc_strategy_ops sliding_ops = {
    SC_OPS_INIT(sc_strategy_ops),
    .create = sliding_create,
    .destroy = sliding_destroy,
    .packet = sliding_packet,
};

static const sc_module_descriptor sliding_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_STRATEGY,
    .name = "sliding",
    .version = "0.1.0",
    .description = "overlapping windows [k*step, k*step + duration) on absolute boundaries, each starting at a keyframe",
    .options = sliding_options,
    .ops = &sliding_ops,
};

SC_MODULE_DEFINE(sliding_module)
