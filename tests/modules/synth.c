/* synth: a test-only source with exactly known packets: video at `fps`
 * with a keyframe every `gop` frames, optional audio in 1024-sample frames,
 * fake payloads of `packet_size` bytes. Timestamps are given in a 90 kHz
 * time base (video) and 1/48000 (audio), like MPEG-TS and AAC. */
#include <streamcut/streamcut.h>

#include <stdlib.h>
#include <string.h>

typedef struct synth {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t duration_ns;
    double fps;
    int64_t gop;
    int audio;
    int64_t packet_size;
    int64_t start_ticks;
    int live;
} synth;

static const sc_option_spec synth_options[] = {
    {.name = "duration", .type = SC_OPT_DURATION, .default_value = "10s", .help = "length of the stream"},
    {.name = "fps", .type = SC_OPT_DOUBLE, .default_value = "30", .min = 1, .max = 240, .help = "video frame rate"},
    {.name = "gop", .type = SC_OPT_INT, .default_value = "30", .min = 1, .max = 100000, .help = "frames per keyframe"},
    {.name = "audio", .type = SC_OPT_BOOL, .default_value = "true", .help = "add a 48 kHz audio stream"},
    {.name = "packet_size", .type = SC_OPT_SIZE, .default_value = "1000", .help = "payload bytes per packet"},
    {.name = "start", .type = SC_OPT_INT, .default_value = "0", .help = "first video timestamp, 90 kHz ticks"},
    {.name = "live", .type = SC_OPT_BOOL, .default_value = "false", .help = "declare the input live"},
    {0},
};

static int synth_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    synth *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->duration_ns = host->option_duration(ctx, "duration");
    self->fps = host->option_double(ctx, "fps");
    self->gop = host->option_int(ctx, "gop");
    self->audio = host->option_bool(ctx, "audio");
    self->packet_size = host->option_size(ctx, "packet_size");
    self->start_ticks = host->option_int(ctx, "start");
    self->live = host->option_bool(ctx, "live");
    *instance = self;
    return SC_OK;
}

static void synth_destroy(void *instance) { free(instance); }

static int push(synth *self, uint32_t stream, int64_t ticks, int32_t den, int64_t duration, int key)
{
    uint8_t *data;
    sc_packet *packet = self->host->packet_alloc(self->ctx, (size_t)self->packet_size, &data);
    if (!packet) return SC_ERR_NOMEM;
    memset(data, (int)(ticks & 0xff), (size_t)self->packet_size);
    packet->stream_index = stream;
    packet->flags = key ? SC_PACKET_KEY : 0;
    packet->orig_pts = packet->orig_dts = ticks;
    packet->orig_duration = duration;
    packet->time_base_num = 1;
    packet->time_base_den = den;
    return self->host->source_push(self->ctx, packet);
}

static int synth_run(void *instance)
{
    synth *self = instance;
    const sc_host_api *host = self->host;
    sc_stream_info video = {.struct_size = sizeof video, .media_type = SC_MEDIA_VIDEO, .codec_name = "h264",
                            .time_base_num = 1, .time_base_den = 90000, .width = 64, .height = 64,
                            .fps_num = (int32_t)(self->fps * 1000), .fps_den = 1000, .profile = -99, .level = -99};
    sc_stream_info audio = {.struct_size = sizeof audio, .media_type = SC_MEDIA_AUDIO, .codec_name = "aac",
                            .time_base_num = 1, .time_base_den = 48000, .sample_rate = 48000, .channels = 2,
                            .frame_size = 1024, .profile = -99, .level = -99};
    host->source_add_stream(self->ctx, &video);
    if (self->audio) host->source_add_stream(self->ctx, &audio);
    host->source_set_live(self->ctx, self->live);
    int64_t frame = 0, audio_frame = 0;
    for (;;) {
        if (host->source_should_stop(self->ctx)) return SC_ERR_STOPPED;
        int64_t video_ns = (int64_t)((double)frame * 1e9 / self->fps);
        int64_t audio_ns = audio_frame * 1024 * SC_NSEC_PER_SEC / 48000;
        int video_left = video_ns < self->duration_ns;
        int audio_left = self->audio && audio_ns < self->duration_ns;
        if (!video_left && !audio_left) return SC_OK;
        int status;
        if (video_left && (!audio_left || video_ns <= audio_ns)) {
            int64_t ticks = self->start_ticks + (int64_t)((double)frame * 90000.0 / self->fps + 0.5);
            status = push(self, 0, ticks, 90000, (int64_t)(90000.0 / self->fps + 0.5), frame % self->gop == 0);
            frame++;
        } else {
            status = push(self, 1, audio_frame * 1024 + self->start_ticks * 48000 / 90000, 48000, 1024, 1);
            audio_frame++;
        }
        if (status != SC_OK) return status;
    }
}

static const sc_source_ops synth_ops = {
    SC_OPS_INIT(sc_source_ops),
    .create = synth_create,
    .destroy = synth_destroy,
    .run = synth_run,
};

static const sc_module_descriptor synth_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SOURCE,
    .name = "synth",
    .version = "test",
    .description = "test source with exactly known packets",
    .options = synth_options,
    .ops = &synth_ops,
};

SC_MODULE_DEFINE(synth_module)
