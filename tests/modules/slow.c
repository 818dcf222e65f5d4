/* slow: a test-only sink that takes `delay` per segment, or fails every
 * segment with `fail = true`; it counts what it saw ("seen"). */
#include <streamcut/streamcut.h>

#include <stdlib.h>
#include <time.h>

typedef struct slow {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t delay_ns;
    int fail;
} slow;

static const sc_option_spec slow_options[] = {
    {.name = "delay", .type = SC_OPT_DURATION, .default_value = "100ms", .help = "time spent per segment"},
    {.name = "fail", .type = SC_OPT_BOOL, .default_value = "false", .help = "report every segment as failed"},
    {0},
};

static int slow_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    slow *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->delay_ns = host->option_duration(ctx, "delay");
    self->fail = host->option_bool(ctx, "fail");
    *instance = self;
    return SC_OK;
}

static void slow_destroy(void *instance) { free(instance); }

static int slow_consume(void *instance, const sc_segment *segment)
{
    slow *self = instance;
    struct timespec pause = {(time_t)(self->delay_ns / SC_NSEC_PER_SEC), (long)(self->delay_ns % SC_NSEC_PER_SEC)};
    nanosleep(&pause, NULL);
    self->host->counter_add(self->ctx, "seen", 1);
    return self->fail ? SC_ERR_IO : SC_OK;
}

static const sc_sink_ops slow_ops = {
    SC_OPS_INIT(sc_sink_ops),
    .create = slow_create,
    .destroy = slow_destroy,
    .consume = slow_consume,
};

static const sc_module_descriptor slow_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SINK,
    .name = "slow",
    .version = "test",
    .description = "test sink that is slow or fails",
    .options = slow_options,
    .ops = &slow_ops,
};

SC_MODULE_DEFINE(slow_module)
