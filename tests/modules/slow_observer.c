/* slow_observer: a test-only observer that spends `delay` on every packet,
 * to show that a slow observer drops (counted) instead of holding ingest. */
#include <streamcut/streamcut.h>

#include <stdlib.h>
#include <time.h>

typedef struct slow_observer {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t delay_ns;
} slow_observer;

static const sc_option_spec slow_observer_options[] = {
    {.name = "delay", .type = SC_OPT_DURATION, .default_value = "20ms", .help = "time spent per packet"},
    {0},
};

static int slow_observer_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    slow_observer *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->delay_ns = host->option_duration(ctx, "delay");
    *instance = self;
    return SC_OK;
}

static void slow_observer_destroy(void *instance) { free(instance); }

static void slow_observer_packet(void *instance, const char *source, const sc_packet *packet,
                                 const sc_stream_info *stream)
{
    (void)source;
    (void)packet;
    (void)stream;
    slow_observer *self = instance;
    struct timespec pause = {(time_t)(self->delay_ns / SC_NSEC_PER_SEC), (long)(self->delay_ns % SC_NSEC_PER_SEC)};
    nanosleep(&pause, NULL);
    self->host->counter_add(self->ctx, "seen", 1);
}

static const sc_observer_ops slow_observer_ops = {
    SC_OPS_INIT(sc_observer_ops),
    .create = slow_observer_create,
    .destroy = slow_observer_destroy,
    .packet = slow_observer_packet,
};

static const sc_module_descriptor slow_observer_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_OBSERVER,
    .name = "slow_observer",
    .version = "0.1.0",
    .description = "test only: an observer that spends `delay` per packet",
    .options = slow_observer_options,
    .ops = &slow_observer_ops,
};

SC_MODULE_DEFINE(slow_observer_module)
