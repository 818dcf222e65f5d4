/* synth: a test-only source with exactly known packets: video at `fps`
 * with a keyframe every `gop` frames (or at the frames listed in
 * `keyframes`), optional audio in 1024-sample frames, optional timed-data
 * packets, fake payloads. Timestamps are given in a 90 kHz time base
 * (video, data) and 1/48000 (audio), like MPEG-TS and AAC.
 *
 * Payload sizes: `packet_size` bytes, times the factor of the second the
 * packet falls in when `size_pattern` lists per-second factors (cycled),
 * times `keyframe_weight` for keyframes. Data packets carry the text of
 * `data_text` with "%d" replaced by their number. */
#include <streamcut/streamcut.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST 4096

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
    int64_t keyframe_list[MAX_LIST];
    size_t keyframe_count;
    double size_factors[MAX_LIST];
    size_t size_factor_count;
    double keyframe_weight;
    int64_t data_every_ns;
    const char *data_text;
    int64_t runs;
    int64_t runs_done;
    const char *fail;
} synth;

static const sc_option_spec synth_options[] = {
    {.name = "duration", .type = SC_OPT_DURATION, .default_value = "10s", .help = "length of the stream"},
    {.name = "fps", .type = SC_OPT_DOUBLE, .default_value = "30", .min = 1, .max = 240, .help = "video frame rate"},
    {.name = "gop", .type = SC_OPT_INT, .default_value = "30", .min = 1, .max = 100000, .help = "frames per keyframe"},
    {.name = "keyframes", .type = SC_OPT_STRING, .default_value = "",
     .help = "comma-separated frame numbers that are keyframes (replaces gop)"},
    {.name = "audio", .type = SC_OPT_BOOL, .default_value = "true", .help = "add a 48 kHz audio stream"},
    {.name = "packet_size", .type = SC_OPT_SIZE, .default_value = "1000", .help = "payload bytes per packet"},
    {.name = "size_pattern", .type = SC_OPT_STRING, .default_value = "",
     .help = "comma-separated per-second size factors for video, cycled"},
    {.name = "keyframe_weight", .type = SC_OPT_DOUBLE, .default_value = "1", .min = 0.01, .max = 100,
     .help = "size factor of keyframes"},
    {.name = "data_every", .type = SC_OPT_DURATION, .default_value = "0",
     .help = "a timed-data packet (stream codec timed_id3) this often; 0 = none"},
    {.name = "data_text", .type = SC_OPT_STRING, .default_value = "event %d", .help = "payload of data packets"},
    {.name = "start", .type = SC_OPT_INT, .default_value = "0", .help = "first video timestamp, 90 kHz ticks"},
    {.name = "live", .type = SC_OPT_BOOL, .default_value = "false", .help = "declare the input live"},
    {.name = "runs", .type = SC_OPT_INT, .default_value = "1", .min = 1, .max = 1000,
     .help = "connections: every run but the last ends with a transient error, and the next one starts its "
             "timestamps over, like a publisher reconnecting"},
    {.name = "fail", .type = SC_OPT_ENUM, .default_value = "none", .choices = "none|transient|permanent",
     .help = "fail every run at once, before any packet"},
    {0},
};

static size_t parse_list(const char *text, double *out, size_t max)
{
    size_t count = 0;
    while (text && *text && count < max) {
        char *end;
        out[count++] = strtod(text, &end);
        if (end == text) return count - 1;
        text = *end == ',' ? end + 1 : end;
        while (*text == ' ') text++;
    }
    return count;
}

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
    self->keyframe_weight = host->option_double(ctx, "keyframe_weight");
    self->data_every_ns = host->option_duration(ctx, "data_every");
    self->data_text = host->option_string(ctx, "data_text");
    self->runs = host->option_int(ctx, "runs");
    self->fail = host->option_string(ctx, "fail");
    double frames[MAX_LIST];
    self->keyframe_count = parse_list(host->option_string(ctx, "keyframes"), frames, MAX_LIST);
    for (size_t i = 0; i < self->keyframe_count; i++) self->keyframe_list[i] = (int64_t)frames[i];
    self->size_factor_count = parse_list(host->option_string(ctx, "size_pattern"), self->size_factors, MAX_LIST);
    *instance = self;
    return SC_OK;
}

static void synth_destroy(void *instance) { free(instance); }

static int is_keyframe(const synth *self, int64_t frame)
{
    if (self->keyframe_count == 0) return frame % self->gop == 0;
    for (size_t i = 0; i < self->keyframe_count; i++)
        if (self->keyframe_list[i] == frame) return 1;
    return 0;
}

static size_t video_size(const synth *self, int64_t frame, int key)
{
    double factor = key ? self->keyframe_weight : 1.0;
    if (self->size_factor_count) {
        size_t second = (size_t)((double)frame / self->fps);
        factor *= self->size_factors[second % self->size_factor_count];
    }
    double size = (double)self->packet_size * factor;
    return size < 1 ? 1 : (size_t)size;
}

static int push(synth *self, uint32_t stream, int64_t ticks, int32_t den, int64_t duration, int key,
                const void *bytes, size_t size)
{
    uint8_t *data;
    sc_packet *packet = self->host->packet_alloc(self->ctx, size, &data);
    if (!packet) return SC_ERR_NOMEM;
    if (bytes) memcpy(data, bytes, size);
    else memset(data, (int)(ticks & 0xff), size);
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
    host->source_set_type(self->ctx, "SYNTH");
    if (strcmp(self->fail, "permanent") == 0) {
        host->log(self->ctx, SC_LOG_ERROR, "synth: failing for good, as asked");
        return SC_ERR_PERMANENT;
    }
    if (strcmp(self->fail, "transient") == 0) {
        host->log(self->ctx, SC_LOG_ERROR, "synth: failing for now, as asked");
        return SC_ERR_IO;
    }
    int last_run = ++self->runs_done >= self->runs;
    sc_stream_info video = {.struct_size = sizeof video, .media_type = SC_MEDIA_VIDEO, .codec_name = "h264",
                            .time_base_num = 1, .time_base_den = 90000, .width = 64, .height = 64,
                            .fps_num = (int32_t)(self->fps * 1000), .fps_den = 1000, .profile = -99, .level = -99};
    sc_stream_info audio = {.struct_size = sizeof audio, .media_type = SC_MEDIA_AUDIO, .codec_name = "aac",
                            .time_base_num = 1, .time_base_den = 48000, .sample_rate = 48000, .channels = 2,
                            .frame_size = 1024, .profile = -99, .level = -99};
    sc_stream_info data = {.struct_size = sizeof data, .media_type = SC_MEDIA_DATA, .codec_name = "timed_id3",
                           .time_base_num = 1, .time_base_den = 90000, .profile = -99, .level = -99};
    host->source_add_stream(self->ctx, &video);
    int audio_index = self->audio ? host->source_add_stream(self->ctx, &audio) : -1;
    int data_index = self->data_every_ns > 0 ? host->source_add_stream(self->ctx, &data) : -1;
    host->source_set_live(self->ctx, self->live);
    int64_t frame = 0, audio_frame = 0, data_number = 0;
    for (;;) {
        if (host->source_should_stop(self->ctx)) return SC_ERR_STOPPED;
        int64_t video_ns = (int64_t)((double)frame * 1e9 / self->fps);
        int64_t audio_ns = audio_frame * 1024 * SC_NSEC_PER_SEC / 48000;
        int64_t data_ns = data_index >= 0 ? (data_number + 1) * self->data_every_ns : INT64_MAX;
        int video_left = video_ns < self->duration_ns;
        int audio_left = audio_index >= 0 && audio_ns < self->duration_ns;
        int data_left = data_ns < self->duration_ns;
        if (!video_left && !audio_left && !data_left) return last_run ? SC_OK : SC_ERR_IO;
        int status;
        if (data_left && (!video_left || data_ns <= video_ns) && (!audio_left || data_ns <= audio_ns)) {
            char text[256];
            snprintf(text, sizeof text, self->data_text, (int)(data_number + 1));
            int64_t ticks = self->start_ticks + data_ns * 9 / 100000;
            status = push(self, (uint32_t)data_index, ticks, 90000, 0, 1, text, strlen(text));
            data_number++;
        } else if (video_left && (!audio_left || video_ns <= audio_ns)) {
            int key = is_keyframe(self, frame);
            int64_t ticks = self->start_ticks + (int64_t)((double)frame * 90000.0 / self->fps + 0.5);
            status = push(self, 0, ticks, 90000, (int64_t)(90000.0 / self->fps + 0.5), key, NULL,
                          video_size(self, frame, key));
            frame++;
        } else {
            status = push(self, (uint32_t)audio_index, audio_frame * 1024 + self->start_ticks * 48000 / 90000, 48000,
                          1024, 1, NULL, (size_t)self->packet_size);
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
