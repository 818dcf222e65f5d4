/* tagger: a test-only strategy cutting back-to-back windows of `duration`
 * like fixed, each with the label `label` and, when `extra_bytes` > 0, an
 * extra JSON member {"padding": "xxx…"} of that many bytes (records larger
 * than a pipe holds). */
#include <streamcut/streamcut.h>

#include <stdlib.h>
#include <string.h>

typedef struct tagger {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t duration;
    int64_t next_start;
    const char *label;
    char *extra_json;
} tagger;

static const sc_option_spec tagger_options[] = {
    {.name = "duration", .type = SC_OPT_DURATION, .default_value = "1s", .min = 0.001, .max = 3600,
     .help = "window length"},
    {.name = "label", .type = SC_OPT_STRING, .default_value = "", .help = "label of every segment (empty = none)"},
    {.name = "extra_bytes", .type = SC_OPT_SIZE, .default_value = "0", .min = 0, .max = 64 * 1024 * 1024,
     .help = "size of a padding string added to every record"},
    {0},
};

static void tagger_destroy(void *instance)
{
    tagger *self = instance;
    if (!self) return;
    free(self->extra_json);
    free(self);
}

static int tagger_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    tagger *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->duration = host->option_duration(ctx, "duration");
    self->label = host->option_string(ctx, "label");
    size_t padding = (size_t)host->option_size(ctx, "extra_bytes");
    if (padding > 0) {
        static const char head[] = "{\"padding\":\"", tail[] = "\"}";
        self->extra_json = malloc(sizeof head - 1 + padding + sizeof tail);
        if (!self->extra_json) {
            tagger_destroy(self);
            return SC_ERR_NOMEM;
        }
        memcpy(self->extra_json, head, sizeof head - 1);
        memset(self->extra_json + sizeof head - 1, 'x', padding);
        memcpy(self->extra_json + sizeof head - 1 + padding, tail, sizeof tail);
    }
    *instance = self;
    return SC_OK;
}

static int tagger_packet(void *instance, const sc_packet *pkt)
{
    tagger *self = instance;
    while (self->next_start <= pkt->dts) {
        sc_segment_request request = {
            .struct_size = sizeof request,
            .start = self->next_start,
            .end = self->next_start + self->duration,
            .label = self->label && *self->label ? self->label : NULL,
            .extra_json = self->extra_json,
        };
        self->host->segment_emit(self->ctx, &request);
        self->next_start += self->duration;
    }
    return SC_OK;
}

static const sc_strategy_ops tagger_ops = {
    SC_OPS_INIT(sc_strategy_ops),
    .create = tagger_create,
    .destroy = tagger_destroy,
    .packet = tagger_packet,
};

static const sc_module_descriptor tagger_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_STRATEGY,
    .name = "tagger",
    .version = "test",
    .description = "test strategy: fixed windows with a given label and padded records",
    .options = tagger_options,
    .ops = &tagger_ops,
};

SC_MODULE_DEFINE(tagger_module)
