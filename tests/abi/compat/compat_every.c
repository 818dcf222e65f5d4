/* compat_every: a test-only strategy built against the frozen ABI 1.0
 * headers. It cuts back-to-back windows of `every` on the source timeline,
 * each emitted when the first packet at or past its end arrives (the last
 * one, partial, at flush), labelled "compat:N", with the number of packets
 * it saw in the window and the host's ABI in its extra JSON. */
#include <streamcut/streamcut.h>

#include <stdio.h>
#include <stdlib.h>

typedef struct compat_every {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t every_ns;
    int64_t window_start;
    int64_t packets;
    int64_t emitted;
} compat_every;

static const sc_option_spec compat_every_options[] = {
    {.name = "every", .type = SC_OPT_DURATION, .default_value = "2s", .min = 0.001, .max = 3600,
     .help = "window length"},
    {0},
};

static int compat_every_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    compat_every *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->every_ns = host->option_duration(ctx, "every");
    *instance = self;
    return SC_OK;
}

static void compat_every_destroy(void *instance) { free(instance); }

static void emit(compat_every *self, uint32_t flags)
{
    char label[32], extra[96];
    snprintf(label, sizeof label, "compat:%lld", (long long)self->emitted);
    snprintf(extra, sizeof extra, "{\"compat_packets\":%lld,\"compat_host_abi\":\"%u.%u\"}",
             (long long)self->packets, self->host->abi_major, self->host->abi_minor);
    sc_segment_request request = {
        .struct_size = sizeof request,
        .flags = flags,
        .start = self->window_start,
        .end = self->window_start + self->every_ns,
        .label = label,
        .extra_json = extra,
    };
    if (self->host->segment_emit(self->ctx, &request) < 0)
        self->host->counter_add(self->ctx, "emit_failed", 1);
    self->emitted++;
    self->window_start += self->every_ns;
    self->packets = 0;
}

static int compat_every_packet(void *instance, const sc_packet *packet)
{
    compat_every *self = instance;
    while (packet->pts >= self->window_start + self->every_ns) emit(self, 0);
    self->packets++;
    return SC_OK;
}

static void compat_every_flush(void *instance, int reason)
{
    compat_every *self = instance;
    if (self->packets > 0) emit(self, SC_SEGMENT_PARTIAL);
}

static const sc_strategy_ops compat_every_ops = {
    SC_OPS_INIT(sc_strategy_ops),
    .create = compat_every_create,
    .destroy = compat_every_destroy,
    .packet = compat_every_packet,
    .flush = compat_every_flush,
};

static const sc_module_descriptor compat_every_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_STRATEGY,
    .name = "compat_every",
    .version = "1.0-compat",
    .description = "fixed windows, built against the frozen ABI 1.0 headers (compatibility tests)",
    .options = compat_every_options,
    .ops = &compat_every_ops,
};

SC_MODULE_DEFINE(compat_every_module)
