/* viewer: a test-only strategy that checks the host's buffer views from
 * the module side, through the SDK only, and counts what it found
 * ("views_ok", "views_bad"). It emits no segments. */
#include <streamcut/streamcut.h>

#include <stdlib.h>

typedef struct viewer {
    const sc_host_api *host;
    sc_ctx *ctx;
    uint64_t packets;
} viewer;

static int viewer_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    viewer *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    *instance = self;
    return SC_OK;
}

static void viewer_destroy(void *instance) { free(instance); }

static void verdict(viewer *self, int ok)
{
    self->host->counter_add(self->ctx, ok ? "views_ok" : "views_bad", 1);
}

static int viewer_packet(void *instance, const sc_packet *pkt)
{
    viewer *self = instance;
    const sc_host_api *host = self->host;
    if (++self->packets % 50 != 0 || pkt->seq < 20) return SC_OK;

    /* The last second, from the keyframe before it: starts on a keyframe. */
    sc_view *last = host->view_last(self->ctx, SC_NSEC_PER_SEC, SC_VIEW_FROM_KEYFRAME);
    const sc_packet *first = host->view_count(last) ? host->view_packet(last, 0) : NULL;
    verdict(self, first && (first->flags & SC_PACKET_KEY) && first->media_type == SC_MEDIA_VIDEO);
    host->view_release(last);

    /* By position: the ten packets before this one and itself, in order. */
    sc_view *around = host->view_seq(self->ctx, pkt->seq - 10, pkt->seq + 1);
    int ordered = host->view_count(around) == 11;
    for (size_t i = 0; ordered && i < 11; i++) ordered = host->view_packet(around, i)->seq == pkt->seq - 10 + i;
    verdict(self, ordered);
    host->view_release(around);

    /* By time: every packet's dts in the range asked for. */
    sc_view *range = host->view_range(self->ctx, pkt->dts - SC_NSEC_PER_SEC / 2, pkt->dts, 0);
    int inside = host->view_count(range) > 0;
    for (size_t i = 0; inside && i < host->view_count(range); i++) {
        const sc_packet *p = host->view_packet(range, i);
        inside = p->dts >= pkt->dts - SC_NSEC_PER_SEC / 2 && p->dts < pkt->dts;
    }
    verdict(self, inside);
    host->view_release(range);
    return SC_OK;
}

static const sc_strategy_ops viewer_ops = {
    SC_OPS_INIT(sc_strategy_ops),
    .create = viewer_create,
    .destroy = viewer_destroy,
    .packet = viewer_packet,
};

static const sc_module_descriptor viewer_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_STRATEGY,
    .name = "viewer",
    .version = "test",
    .description = "test strategy checking buffer views through the SDK",
    .ops = &viewer_ops,
};

SC_MODULE_DEFINE(viewer_module)
