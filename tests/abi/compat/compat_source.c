/* compat_source: a test-only source that declares one 30 fps video stream
 * (90 kHz time base, a keyframe every `gop` frames, payload = the frame
 * number) and pushes `duration` of it as fast as the host takes it.
 *
 * Built twice: against the frozen ABI 1.0 headers (compat10_source: its
 * sc_stream_info has no `duration`) and against the current ones with
 * STATE_DURATION (compat11_source: it states the stream's duration), so a
 * test sees what the host makes of each. */
#include <streamcut/streamcut.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef COMPAT_NAME
#define COMPAT_NAME "compat10_source"
#endif

#define FRAME_TICKS 3000   /* 1/30 s at 90 kHz */

typedef struct compat_source {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t duration_ns;
    int64_t gop;
} compat_source;

static const sc_option_spec compat_source_options[] = {
    {.name = "duration", .type = SC_OPT_DURATION, .default_value = "10s", .help = "length of the stream"},
    {.name = "gop", .type = SC_OPT_INT, .default_value = "30", .min = 1, .max = 1000, .help = "frames per keyframe"},
    {0},
};

static int compat_source_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    compat_source *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->duration_ns = host->option_duration(ctx, "duration");
    self->gop = host->option_int(ctx, "gop");
    *instance = self;
    return SC_OK;
}

static void compat_source_destroy(void *instance) { free(instance); }

static int compat_source_run(void *instance)
{
    compat_source *self = instance;
    const sc_host_api *host = self->host;
    sc_stream_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    info.media_type = SC_MEDIA_VIDEO;
    info.codec_name = "h264";
    info.time_base_num = 1;
    info.time_base_den = 90000;
    info.profile = info.level = -99;
    info.width = 320;
    info.height = 240;
    info.fps_num = 30;
    info.fps_den = 1;
#ifdef STATE_DURATION
    info.duration = self->duration_ns;
#endif
    host->source_set_live(self->ctx, 0);
    host->source_set_type(self->ctx, "FILE");
    int stream = host->source_add_stream(self->ctx, &info);
    if (stream < 0) return SC_ERR_PERMANENT;
    int64_t frames = self->duration_ns / (SC_NSEC_PER_SEC / 30);
    for (int64_t frame = 0; frame < frames; frame++) {
        if (host->source_should_stop(self->ctx)) return SC_ERR_STOPPED;
        uint8_t *data = NULL;
        char text[32];
        int length = snprintf(text, sizeof text, "frame %lld", (long long)frame);
        sc_packet *packet = host->packet_alloc(self->ctx, (size_t)length, &data);
        if (!packet) return SC_ERR_NOMEM;
        memcpy(data, text, (size_t)length);
        packet->stream_index = (uint32_t)stream;
        packet->flags = frame % self->gop == 0 ? SC_PACKET_KEY : 0;
        packet->orig_pts = packet->orig_dts = frame * FRAME_TICKS;
        packet->orig_duration = FRAME_TICKS;
        packet->time_base_num = 1;
        packet->time_base_den = 90000;
        int status = host->source_push(self->ctx, packet);
        if (status != SC_OK) return status;
    }
    return SC_OK;
}

static const sc_source_ops compat_source_ops = {
    SC_OPS_INIT(sc_source_ops),
    .create = compat_source_create,
    .destroy = compat_source_destroy,
    .run = compat_source_run,
};

static const sc_module_descriptor compat_source_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SOURCE,
    .name = COMPAT_NAME,
    .version = "1.0-compat",
    .description = "a synthetic 30 fps video source built against a given ABI (compatibility tests)",
    .options = compat_source_options,
    .ops = &compat_source_ops,
};

SC_MODULE_DEFINE(compat_source_module)
