/* testsrc: a synthetic source that needs no input.
 *
 * It draws a test pattern, encodes it to H.264 (libx264 when available) and
 * optionally a sine tone to AAC, and pushes the packets in decode order. The
 * output depends only on the options, so tests can rely on exact packet
 * counts, sizes and keyframe positions. Scenes switch to a strongly different
 * picture every `scene_every`, which gives cut-detecting strategies hard cuts
 * at known times.
 *
 * Timing cases for the host's synchronizer, all deterministic:
 *
 * - Media time is the nominal cadence (frame n at n/rate, audio frame k at
 *   k*1024/sample_rate). The simulated wall clock of media time t is
 *   epoch + t / (1 + drift_ppm*1e-6), epoch being `start_epoch` (or the
 *   real clock when the run starts): a +150 ppm source makes 1.00015 s of
 *   media per wall second. A packet arrives (arrival_ns) at the wall time of
 *   its decode position (video dts, audio sample position) plus a uniform
 *   +-jitter_ms drawn from a seeded xorshift generator, never before the
 *   packet pushed before it. Without `realtime` all of this is simulated, so
 *   an hour of drift takes seconds; with it the source sleeps until each
 *   packet's (jittered, drifted) time and stamps arrival from the clock.
 * - `timestamp_format` says how orig_pts/orig_dts express media time (see
 *   enum timestamp_format); `wrap_after` starts the wrapped counters that
 *   long before their wrap.
 * - Faults on the original timestamps only (never on arrival or
 *   source_utc_ns): every outlier_every-th video packet is off by +7 s or
 *   -5 s (alternating), every drop_timestamps_every-th packet has none, and
 *   from decode time jump_at on they jump by jump_by seconds, unflagged.
 * - `encode = false` skips the encoders and pushes tiny fake packets labelled
 *   H.264/AAC (keyframes as x264 would place them): timing tests only, clips
 *   made from them do not decode.
 */
#include <streamcut/streamcut.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Frame threads change x264's output with their number, so a fixed count
 * keeps packets identical from one machine to the next. */
#define VIDEO_ENCODER_THREADS 2
/* Longest sleep between two looks at the stop flags while pacing. */
#define PACING_SLICE_NS (20 * SC_NSEC_PER_MSEC)
#define SINE_AMPLITUDE 0.25
#define AUDIO_BIT_RATE_PER_CHANNEL 64000
/* Samples per AAC frame, also the fake audio packets' length. */
#define AAC_FRAME_SAMPLES 1024
/* Outlying timestamps: far enough off to be obviously wrong, close enough
 * (under the host's 10 s jump limit) not to look like a reset. */
#define OUTLIER_AHEAD_NS (7 * SC_NSEC_PER_SEC)
#define OUTLIER_BEHIND_NS (-5 * SC_NSEC_PER_SEC)
#define HLS_CLOCK_RATE 90000
#define HLS_COUNTER_BITS 33
#define RTMP_CLOCK_RATE 1000
#define RTMP_COUNTER_BITS 32

/* How orig_pts/orig_dts express media time t (seconds, with the faults
 * added). Epoch values are start_epoch + t: the source's own clock, which
 * runs drift_ppm fast against the simulated wall clock. */
enum timestamp_format {
    /* stream time from 0 in the encoders' time bases (1/rate, 1/sample_rate) */
    FORMAT_RELATIVE,
    /* UTC seconds since 1970 as exact nanoseconds: time base 1/1000000000,
     * so nothing is rounded beyond the host's own nanosecond timeline */
    FORMAT_EPOCH_SECONDS,
    /* UTC milliseconds since 1970, rounded to the nearest: time base 1/1000 */
    FORMAT_EPOCH_MILLIS,
    /* MPEG-TS clock: 90 kHz ticks modulo 2^33, time base 1/90000; the
     * earliest timestamp reads (2^33 - wrap_after * 90000) mod 2^33 */
    FORMAT_HLS,
    /* FLV/RTMP clock: milliseconds modulo 2^32, time base 1/1000; the
     * earliest timestamp reads (2^32 - wrap_after * 1000) mod 2^32 */
    FORMAT_RTMP,
};

/* As the timestamp_format option spells them. */
static const char *const format_names[] = {
    [FORMAT_RELATIVE] = "relative", [FORMAT_EPOCH_SECONDS] = "epoch_seconds",
    [FORMAT_EPOCH_MILLIS] = "epoch_millis", [FORMAT_HLS] = "hls", [FORMAT_RTMP] = "rtmp",
};

typedef struct packet_queue {
    AVPacket **items;
    size_t capacity;
    size_t head;
    size_t count;
} packet_queue;

/* One encoder (or the fake packet maker) and the packets it produced that
 * were not pushed yet. */
typedef struct encoded_stream {
    AVCodecContext *encoder; /* NULL with encode = false */
    AVFrame *frame;
    packet_queue queue;
    AVRational time_base; /* of the packets in the queue */
    int frame_size;       /* audio samples per packet */
    int initial_padding;  /* audio priming samples: the first pts is minus this */
    int host_index;       /* index the host gave the stream */
    int64_t next_input;   /* video: frame index; audio: sample index */
    int64_t input_end;    /* exclusive; INT64_MAX when endless */
    int flushing;         /* the end-of-stream frame was sent */
    int finished;         /* the encoder returned its last packet */
} encoded_stream;

typedef struct testsrc {
    const sc_host_api *host;
    sc_ctx *ctx;

    int width;
    int height;
    AVRational frame_rate;
    int gop;
    int bframes;
    int64_t video_bit_rate;
    int64_t duration_ns;
    int realtime;
    int64_t scene_every_ns;
    int audio_enabled;
    int sample_rate;
    int channels;
    double frequency;
    int encode;

    /* timing cases */
    double drift_factor;          /* media seconds per simulated wall second */
    int64_t start_epoch_ns;       /* 0: the real clock when a run starts */
    enum timestamp_format format;
    int64_t wrap_after_ns;
    int64_t jitter_ns;
    int64_t seed;
    int64_t outlier_every;
    int64_t drop_timestamps_every;
    int64_t jump_at_ns;           /* 0: no jump */
    int64_t jump_by_ns;
    int announce_utc;

    atomic_bool stop_requested;

    encoded_stream video;
    encoded_stream audio;
    int video_is_x264;
    /* The current scene's picture without the moving parts, tightly packed
     * planes: Y is width*height, U and V are a quarter of it each. */
    uint8_t *scene_picture;
    int64_t current_scene;
    int64_t last_keyframe;  /* fake video: index of the last keyframe */
    double sine_phase;    /* in cycles, kept within [0, 1) */
    int64_t start_mono_ns;
    /* the simulated clocks of this run */
    int64_t epoch_ns;             /* wall clock of media time 0 */
    uint64_t random_state;        /* xorshift64*, never 0 */
    int64_t packets_pushed;
    int64_t video_packets_pushed;
    int64_t outliers_injected;
    int64_t last_arrival_ns;
    int64_t counter_start;        /* wrapped formats: the earliest packet's reading */
    int64_t counter_shift;        /* added so the earliest packet reads counter_start */
    int counter_shift_known;
} testsrc;

/* ---- options ---------------------------------------------------------- */

static const sc_option_spec testsrc_options[] = {
    { .name = "size", .type = SC_OPT_STRING, .default_value = "640x360",
      .help = "picture size WxH, even numbers from 16 to 4096" },
    { .name = "rate", .type = SC_OPT_DOUBLE, .default_value = "30",
      .help = "frames per second (fractional rates such as 29.97 are fine)",
      .min = 1, .max = 240 },
    { .name = "gop", .type = SC_OPT_INT, .default_value = "60",
      .help = "largest distance between keyframes, in frames (scene cuts add more)",
      .min = 1, .max = 100000 },
    { .name = "bitrate", .type = SC_OPT_SIZE, .default_value = "1M",
      .help = "video bit rate in bits per second (the size value is taken as bits/s)",
      .min = 10000, .max = 200000000 },
    { .name = "bframes", .type = SC_OPT_INT, .default_value = "0",
      .help = "B-frames between reference frames; above 0 makes dts differ from pts",
      .min = 0, .max = 4 },
    { .name = "duration", .type = SC_OPT_DURATION, .default_value = "0",
      .help = "stop after this much media time; 0 runs until stopped",
      .min = 0, .max = 1e9 },
    { .name = "realtime", .type = SC_OPT_BOOL, .default_value = "false",
      .help = "pace packets at 1x wall clock like a live feed; false generates as fast as possible" },
    { .name = "scene_every", .type = SC_OPT_DURATION, .default_value = "0",
      .help = "switch to a very different picture at every multiple of this time (hard cuts); 0 never",
      .min = 0, .max = 1e9 },
    { .name = "audio", .type = SC_OPT_BOOL, .default_value = "true",
      .help = "add an AAC sine tone stream" },
    { .name = "sample_rate", .type = SC_OPT_INT, .default_value = "48000",
      .help = "audio sample rate in Hz (one the AAC encoder supports, e.g. 44100, 48000)",
      .min = 7350, .max = 96000 },
    { .name = "channels", .type = SC_OPT_INT, .default_value = "2",
      .help = "audio channels: 1 mono, 2 stereo", .min = 1, .max = 2 },
    { .name = "frequency", .type = SC_OPT_DOUBLE, .default_value = "440",
      .help = "sine tone frequency in Hz, below half the sample rate",
      .min = 1, .max = 48000 },
    { .name = "encode", .type = SC_OPT_BOOL, .default_value = "true",
      .help = "false: skip the encoders and push tiny fake H.264/AAC-labelled packets (keyframes "
              "every gop and at scene cuts, no B-frames) for fast timing tests; clips of them do not decode" },
    { .name = "drift_ppm", .type = SC_OPT_DOUBLE, .default_value = "0",
      .help = "the media clock runs this many parts per million fast (negative: slow) against the "
              "wall clock: media time t arrives at start_epoch + t / (1 + drift_ppm/1e6)",
      .min = -100000, .max = 100000 },
    { .name = "start_epoch", .type = SC_OPT_DOUBLE, .default_value = "0",
      .help = "simulated wall clock of media time 0, seconds since 1970 UTC; 0 takes the real clock "
              "when the source starts",
      .min = 0, .max = 4102444800.0 },
    { .name = "timestamp_format", .type = SC_OPT_ENUM, .default_value = "relative",
      .choices = "relative|epoch_seconds|epoch_millis|hls|rtmp",
      .help = "what orig_pts/dts hold: relative = stream time from 0 in the encoders' time bases; "
              "epoch_seconds = start_epoch + media time in UTC ns (time base 1/1e9); epoch_millis = the "
              "same in ms, rounded (1/1000); hls = 90 kHz ticks mod 2^33; rtmp = ms mod 2^32" },
    { .name = "wrap_after", .type = SC_OPT_DURATION, .default_value = "0",
      .help = "hls/rtmp: the earliest timestamp reads 2^33 - wrap_after*90000 (rtmp: 2^32 - "
              "wrap_after*1000), so the counter wraps that far into the stream; 0 starts it at 0",
      .min = 0, .max = 4294967.296 },
    { .name = "jitter_ms", .type = SC_OPT_DOUBLE, .default_value = "0",
      .help = "arrival times (and realtime pacing) move by a uniform random amount within "
              "+-jitter_ms, never before the previous packet's; media timestamps do not",
      .min = 0, .max = 60000 },
    { .name = "seed", .type = SC_OPT_INT, .default_value = "1",
      .help = "seed of the jitter's random generator: the same seed gives the same arrivals" },
    { .name = "outlier_every", .type = SC_OPT_INT, .default_value = "0",
      .help = "every Nth video packet (N, 2N, ...) gets timestamps off by +7 s, then -5 s, "
              "alternating; 0 never",
      .min = 0, .max = 1e12 },
    { .name = "drop_timestamps_every", .type = SC_OPT_INT, .default_value = "0",
      .help = "every Nth packet of any stream, in push order (N, 2N, ...), has no orig_pts/dts; 0 never",
      .min = 0, .max = 1e12 },
    { .name = "jump_at", .type = SC_OPT_DURATION, .default_value = "0",
      .help = "from this decode time on, each stream's original timestamps jump by jump_by, without a "
              "discontinuity flag; 0 never",
      .min = 0, .max = 1e9 },
    { .name = "jump_by", .type = SC_OPT_DOUBLE, .default_value = "3600",
      .help = "size of the jump_at jump in seconds; negative jumps back",
      .min = -1e7, .max = 1e7 },
    { .name = "announce_utc", .type = SC_OPT_BOOL, .default_value = "false",
      .help = "state source_utc_ns on every packet: the simulated wall clock of its pts (as a "
              "PROGRAM-DATE-TIME would), unaffected by outliers, drops and jumps" },
    { 0 }
};

/* ---- small helpers ---------------------------------------------------- */

/* Takes the source as void * so that sc_wait_until can call it too. */
static int stop_wanted(void *opaque)
{
    testsrc *source = opaque;
    return atomic_load(&source->stop_requested) ||
           source->host->source_should_stop(source->ctx);
}

/* Sleeps until the monotonic clock reaches `due_ns`, looking at the stop
 * flags often enough that a shutdown is never held up noticeably. */
static int wait_until(testsrc *source, int64_t due_ns)
{
    return sc_wait_until(source->host, due_ns, PACING_SLICE_NS, stop_wanted, source);
}

static const char *error_text(int av_error, char *buffer, size_t size)
{
    av_strerror(av_error, buffer, size);
    return buffer;
}

static int parse_size(const char *text, int *width, int *height)
{
    int parsed_width, parsed_height, consumed = 0;
    if (!text || sscanf(text, "%dx%d%n", &parsed_width, &parsed_height, &consumed) != 2 ||
        text[consumed] != '\0')
        return SC_ERR_INVALID;
    if (parsed_width < 16 || parsed_width > 4096 || parsed_height < 16 ||
        parsed_height > 4096 || parsed_width % 2 || parsed_height % 2)
        return SC_ERR_INVALID;
    *width = parsed_width;
    *height = parsed_height;
    return SC_OK;
}

/* ---- packet queue ----------------------------------------------------- */

static int queue_push(packet_queue *queue, AVPacket *packet)
{
    if (queue->count == queue->capacity) {
        size_t capacity = queue->capacity ? queue->capacity * 2 : 16;
        AVPacket **items = calloc(capacity, sizeof(*items));
        if (!items)
            return SC_ERR_NOMEM;
        /* Unroll the ring so the oldest packet lands at index 0. */
        for (size_t i = 0; i < queue->count; i++)
            items[i] = queue->items[(queue->head + i) % queue->capacity];
        free(queue->items);
        queue->items = items;
        queue->capacity = capacity;
        queue->head = 0;
    }
    queue->items[(queue->head + queue->count) % queue->capacity] = packet;
    queue->count++;
    return SC_OK;
}

static AVPacket *queue_peek(const packet_queue *queue)
{
    return queue->count ? queue->items[queue->head] : NULL;
}

static AVPacket *queue_pop(packet_queue *queue)
{
    if (!queue->count)
        return NULL;
    AVPacket *packet = queue->items[queue->head];
    queue->head = (queue->head + 1) % queue->capacity;
    queue->count--;
    return packet;
}

static void queue_clear(packet_queue *queue)
{
    AVPacket *packet;
    while ((packet = queue_pop(queue)))
        av_packet_free(&packet);
    free(queue->items);
    memset(queue, 0, sizeof(*queue));
}

static void encoded_stream_reset(encoded_stream *stream)
{
    queue_clear(&stream->queue);
    av_frame_free(&stream->frame);
    avcodec_free_context(&stream->encoder);
    memset(stream, 0, sizeof(*stream));
    stream->host_index = -1;
}

/* ---- pictures --------------------------------------------------------- */

/* How one scene looks apart from its pattern: consecutive scenes alternate
 * dark and bright and never share a tint, so any cut detector sees them. */
typedef struct scene_look {
    int luma_low;
    int luma_high;
    int tint_u;
    int tint_v;
    int bright;
} scene_look;

static const uint8_t scene_tints[][2] = {
    { 90, 200 },  /* red */
    { 190, 80 },  /* blue */
    { 70, 70 },   /* green */
    { 180, 190 }, /* magenta */
    { 60, 160 },  /* orange */
    { 170, 100 }, /* cyan */
};

#define PATTERN_COUNT 5

static scene_look look_of_scene(int64_t scene)
{
    size_t tint = (size_t)(scene % (int64_t)(sizeof(scene_tints) / sizeof(scene_tints[0])));
    scene_look look = {
        .bright = scene % 2 == 0,
        .tint_u = scene_tints[tint][0],
        .tint_v = scene_tints[tint][1],
    };
    look.luma_low = look.bright ? 110 : 16;
    look.luma_high = look.bright ? 235 : 120;
    return look;
}

static uint8_t clamp_byte(int value)
{
    return (uint8_t)(value < 0 ? 0 : value > 255 ? 255 : value);
}

static uint8_t scaled_luma(const scene_look *look, int intensity)
{
    return (uint8_t)(look->luma_low + intensity * (look->luma_high - look->luma_low) / 255);
}

/* Colour bars; the bar order rotates with the scene number. */
static void draw_bars(uint8_t *luma, uint8_t *cb, uint8_t *cr, int width, int height,
                      const scene_look *look, int64_t scene)
{
    /* white, yellow, cyan, green, magenta, red, blue, black (BT.601, 100%) */
    static const uint8_t bars[8][3] = {
        { 235, 128, 128 }, { 210, 16, 146 }, { 170, 166, 16 }, { 145, 54, 34 },
        { 106, 202, 222 }, { 81, 90, 240 }, { 41, 240, 110 }, { 16, 128, 128 },
    };
    int chroma_width = width / 2, chroma_height = height / 2;
    for (int x = 0; x < width; x++) {
        const uint8_t *bar = bars[(x * 8 / width + scene) % 8];
        luma[x] = scaled_luma(look, (bar[0] - 16) * 255 / 219);
    }
    for (int y = 1; y < height; y++)
        memcpy(luma + (size_t)y * width, luma, (size_t)width);
    for (int x = 0; x < chroma_width; x++) {
        const uint8_t *bar = bars[(x * 2 * 8 / width + scene) % 8];
        cb[x] = bar[1];
        cr[x] = bar[2];
    }
    for (int y = 1; y < chroma_height; y++) {
        memcpy(cb + (size_t)y * chroma_width, cb, (size_t)chroma_width);
        memcpy(cr + (size_t)y * chroma_width, cr, (size_t)chroma_width);
    }
}

static void draw_gradient(uint8_t *luma, uint8_t *cb, uint8_t *cr, int width, int height,
                          const scene_look *look)
{
    int span = width + height - 2;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            luma[(size_t)y * width + x] = scaled_luma(look, (x + y) * 255 / span);
    int chroma_width = width / 2, chroma_height = height / 2;
    for (int y = 0; y < chroma_height; y++) {
        for (int x = 0; x < chroma_width; x++) {
            cb[(size_t)y * chroma_width + x] =
                clamp_byte(look->tint_u + x * 96 / chroma_width - 48);
            cr[(size_t)y * chroma_width + x] =
                clamp_byte(look->tint_v + 48 - y * 96 / chroma_height);
        }
    }
}

static void draw_checkerboard(uint8_t *luma, uint8_t *cb, uint8_t *cr, int width, int height,
                              const scene_look *look)
{
    int cell = (height / 8) & ~1;
    if (cell < 2)
        cell = 2;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            luma[(size_t)y * width + x] =
                scaled_luma(look, ((x / cell + y / cell) & 1) ? 255 : 0);
    int chroma_width = width / 2, chroma_height = height / 2, chroma_cell = cell / 2;
    for (int y = 0; y < chroma_height; y++) {
        for (int x = 0; x < chroma_width; x++) {
            int odd = (x / chroma_cell + y / chroma_cell) & 1;
            /* The other squares get the complementary hue. */
            cb[(size_t)y * chroma_width + x] = (uint8_t)(odd ? look->tint_u : 256 - look->tint_u);
            cr[(size_t)y * chroma_width + x] = (uint8_t)(odd ? look->tint_v : 256 - look->tint_v);
        }
    }
}

/* Triangle-wave rings around the centre; sqrt is correctly rounded, so
 * this is reproducible everywhere, unlike sin(). */
static double ring_level(int x, int y, int width, int height, double period)
{
    double dx = x - width / 2.0, dy = y - height / 2.0;
    double phase = fmod(sqrt(dx * dx + dy * dy), period) / period;
    return fabs(2.0 * phase - 1.0);
}

static void draw_rings(uint8_t *luma, uint8_t *cb, uint8_t *cr, int width, int height,
                       const scene_look *look)
{
    double period = height / 6.0 < 4.0 ? 4.0 : height / 6.0;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            luma[(size_t)y * width + x] =
                scaled_luma(look, (int)(255.0 * ring_level(x, y, width, height, period)));
    int chroma_width = width / 2, chroma_height = height / 2;
    for (int y = 0; y < chroma_height; y++) {
        for (int x = 0; x < chroma_width; x++) {
            int swing = (int)(40.0 * ring_level(2 * x, 2 * y, width, height, period)) - 20;
            cb[(size_t)y * chroma_width + x] = clamp_byte(look->tint_u + swing);
            cr[(size_t)y * chroma_width + x] = clamp_byte(look->tint_v - swing);
        }
    }
}

static void draw_grid(uint8_t *luma, uint8_t *cb, uint8_t *cr, int width, int height,
                      const scene_look *look)
{
    int cell = height / 9 < 4 ? 4 : height / 9;
    uint8_t field = scaled_luma(look, 200), line = scaled_luma(look, look->bright ? 0 : 255);
    for (int y = 0; y < height; y++) {
        uint8_t *row = luma + (size_t)y * width;
        if (y % cell < 2) {
            memset(row, line, (size_t)width);
            continue;
        }
        memset(row, field, (size_t)width);
        for (int x = 0; x < width; x += cell) {
            row[x] = line;
            if (x + 1 < width)
                row[x + 1] = line;
        }
    }
    size_t chroma_size = (size_t)(width / 2) * (size_t)(height / 2);
    memset(cb, look->tint_u, chroma_size);
    memset(cr, look->tint_v, chroma_size);
}

/* Renders the still part of a scene once, so each frame is only a copy
 * plus the small moving overlays. */
static void render_scene(testsrc *source, int64_t scene)
{
    int width = source->width, height = source->height;
    uint8_t *luma = source->scene_picture;
    uint8_t *cb = luma + (size_t)width * height;
    uint8_t *cr = cb + (size_t)(width / 2) * (height / 2);
    scene_look look = look_of_scene(scene);
    switch (scene % PATTERN_COUNT) {
    case 0: draw_bars(luma, cb, cr, width, height, &look, scene); break;
    case 1: draw_gradient(luma, cb, cr, width, height, &look); break;
    case 2: draw_checkerboard(luma, cb, cr, width, height, &look); break;
    case 3: draw_rings(luma, cb, cr, width, height, &look); break;
    default: draw_grid(luma, cb, cr, width, height, &look); break;
    }
    source->current_scene = scene;
}

/* Fills a rectangle with even coordinates, clipped to the picture. */
static void fill_rect(AVFrame *frame, int x, int y, int rect_width, int rect_height,
                      uint8_t luma, uint8_t cb, uint8_t cr)
{
    int right = x + rect_width > frame->width ? frame->width : x + rect_width;
    int bottom = y + rect_height > frame->height ? frame->height : y + rect_height;
    if (x < 0 || y < 0 || right <= x || bottom <= y)
        return;
    for (int row = y; row < bottom; row++)
        memset(frame->data[0] + (size_t)row * frame->linesize[0] + x, luma, (size_t)(right - x));
    for (int row = y / 2; row < bottom / 2; row++) {
        memset(frame->data[1] + (size_t)row * frame->linesize[1] + x / 2, cb,
               (size_t)(right / 2 - x / 2));
        memset(frame->data[2] + (size_t)row * frame->linesize[2] + x / 2, cr,
               (size_t)(right / 2 - x / 2));
    }
}

/* Position on a back-and-forth path over [0, range], kept even. */
static int bounce(int64_t travelled, int range)
{
    if (range <= 0)
        return 0;
    int64_t lap = travelled % (2 * (int64_t)range);
    return (int)(lap <= range ? lap : 2 * range - lap) & ~1;
}

static void draw_frame(testsrc *source, AVFrame *frame, int64_t index, int64_t scene)
{
    int width = source->width, height = source->height;
    const uint8_t *luma = source->scene_picture;
    const uint8_t *cb = luma + (size_t)width * height;
    const uint8_t *cr = cb + (size_t)(width / 2) * (height / 2);
    for (int y = 0; y < height; y++)
        memcpy(frame->data[0] + (size_t)y * frame->linesize[0], luma + (size_t)y * width,
               (size_t)width);
    for (int y = 0; y < height / 2; y++) {
        memcpy(frame->data[1] + (size_t)y * frame->linesize[1], cb + (size_t)y * (width / 2),
               (size_t)(width / 2));
        memcpy(frame->data[2] + (size_t)y * frame->linesize[2], cr + (size_t)y * (width / 2),
               (size_t)(width / 2));
    }

    /* A box drifting a few pixels per frame: consecutive frames differ a
     * little, unlike frames on either side of a cut. */
    scene_look look = look_of_scene(scene);
    uint8_t box_luma = look.bright ? 16 : 235;
    int box = (height / 6) & ~1;
    if (box < 2)
        box = 2;
    fill_rect(frame, bounce(index * 4, width - box), bounce(index * 2, height - box),
              box, box, box_luma, 128, 128);

    /* The frame number (16 bits) and the scene number (8 bits) as blocks,
     * readable back from a decoded picture. */
    int block = (height / 45) & ~1;
    if (block < 2)
        block = 2;
    for (int bit = 0; bit < 16; bit++)
        fill_rect(frame, block * (bit + 1), block, block, block,
                  (index >> (15 - bit)) & 1 ? 235 : 16, 128, 128);
    for (int bit = 0; bit < 8; bit++)
        fill_rect(frame, block * (bit + 1), block * 3, block, block,
                  (scene >> (7 - bit)) & 1 ? 235 : 16, 128, 128);
}

/* ---- encoders --------------------------------------------------------- */

/* H.264 profile and level from the first SPS of Annex B extradata, for
 * encoders that do not report them. */
static void h264_profile_from_extradata(const uint8_t *data, int size, int *profile, int *level)
{
    for (int i = 0; i + 6 < size; i++) {
        if (data[i] != 0 || data[i + 1] != 0 || data[i + 2] != 1 || (data[i + 3] & 0x1f) != 7)
            continue;
        int profile_idc = data[i + 4], constraints = data[i + 5];
        *profile = profile_idc;
        if (profile_idc == 66 && (constraints & 0x40))
            *profile |= FF_PROFILE_H264_CONSTRAINED;
        if ((profile_idc == 110 || profile_idc == 122 || profile_idc == 244 ||
             profile_idc == 44) && (constraints & 0x10))
            *profile |= FF_PROFILE_H264_INTRA;
        *level = data[i + 6];
        return;
    }
}

static int codec_supports_yuv420p(const AVCodec *codec)
{
    if (!codec->pix_fmts)
        return 1;
    for (const enum AVPixelFormat *format = codec->pix_fmts; *format != AV_PIX_FMT_NONE; format++)
        if (*format == AV_PIX_FMT_YUV420P)
            return 1;
    return 0;
}

static int try_video_encoder(testsrc *source, const AVCodec *codec)
{
    char reason[AV_ERROR_MAX_STRING_SIZE];
    AVCodecContext *encoder = avcodec_alloc_context3(codec);
    if (!encoder)
        return SC_ERR_NOMEM;
    encoder->width = source->width;
    encoder->height = source->height;
    encoder->pix_fmt = AV_PIX_FMT_YUV420P;
    encoder->time_base = av_inv_q(source->frame_rate);
    encoder->framerate = source->frame_rate;
    encoder->sample_aspect_ratio = (AVRational){ 1, 1 };
    encoder->gop_size = source->gop;
    encoder->max_b_frames = source->bframes;
    encoder->bit_rate = source->video_bit_rate;
    encoder->color_range = AVCOL_RANGE_MPEG;
    encoder->color_primaries = AVCOL_PRI_BT709;
    encoder->color_trc = AVCOL_TRC_BT709;
    encoder->colorspace = AVCOL_SPC_BT709;
    encoder->chroma_sample_location = AVCHROMA_LOC_LEFT;
    encoder->thread_count = VIDEO_ENCODER_THREADS;
    /* mp4 and mkv need the parameter sets as extradata. */
    encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;

    int is_x264 = strcmp(codec->name, "libx264") == 0;
    if (is_x264) {
        av_opt_set(encoder->priv_data, "preset", "veryfast", 0);
        /* MPEG-TS and mid-stream cuts need SPS/PPS in every keyframe too,
         * which the global header flag alone turns off. */
        av_opt_set(encoder->priv_data, "x264-params", "repeat-headers=1", 0);
    }

    int ret = avcodec_open2(encoder, codec, NULL);
    if (ret < 0) {
        source->host->log(source->ctx, SC_LOG_WARNING, "H.264 encoder %s unusable: %s",
                          codec->name, error_text(ret, reason, sizeof(reason)));
        avcodec_free_context(&encoder);
        return SC_ERR_UNSUPPORTED;
    }
    if (!is_x264)
        source->host->log(source->ctx, SC_LOG_WARNING,
                          "libx264 is not available; %s may not repeat SPS/PPS in keyframes",
                          codec->name);
    source->video.encoder = encoder;
    source->video.time_base = encoder->time_base;
    source->video_is_x264 = is_x264;
    return SC_OK;
}

static int open_video_encoder(testsrc *source)
{
    const AVCodec *preferred = avcodec_find_encoder_by_name("libx264");
    if (preferred && try_video_encoder(source, preferred) == SC_OK)
        return SC_OK;

    const AVCodec *codec;
    void *iterator = NULL;
    while ((codec = av_codec_iterate(&iterator))) {
        if (codec == preferred || !av_codec_is_encoder(codec) || codec->id != AV_CODEC_ID_H264 ||
            !codec_supports_yuv420p(codec))
            continue;
        if (try_video_encoder(source, codec) == SC_OK)
            return SC_OK;
    }
    source->host->log(source->ctx, SC_LOG_ERROR,
                      "no usable H.264 encoder: install libx264 support for FFmpeg "
                      "(Debian package libavcodec-extra or libavcodec59 with libx264)");
    return SC_ERR_UNSUPPORTED;
}

static int open_audio_encoder(testsrc *source)
{
    char reason[AV_ERROR_MAX_STRING_SIZE];
    const AVCodec *codec = avcodec_find_encoder_by_name("aac");
    if (!codec) {
        source->host->log(source->ctx, SC_LOG_ERROR, "FFmpeg's native AAC encoder is missing");
        return SC_ERR_UNSUPPORTED;
    }
    AVCodecContext *encoder = avcodec_alloc_context3(codec);
    if (!encoder)
        return SC_ERR_NOMEM;
    source->audio.encoder = encoder;
    encoder->sample_fmt = AV_SAMPLE_FMT_FLTP;
    encoder->sample_rate = source->sample_rate;
    av_channel_layout_default(&encoder->ch_layout, source->channels);
    encoder->bit_rate = (int64_t)AUDIO_BIT_RATE_PER_CHANNEL * source->channels;
    encoder->time_base = (AVRational){ 1, source->sample_rate };
    /* AudioSpecificConfig as extradata, which mp4 needs. */
    encoder->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    int ret = avcodec_open2(encoder, codec, NULL);
    if (ret < 0) {
        source->host->log(source->ctx, SC_LOG_ERROR, "cannot open the AAC encoder at %d Hz: %s",
                          source->sample_rate, error_text(ret, reason, sizeof(reason)));
        return SC_ERR_UNSUPPORTED;
    }
    source->audio.time_base = encoder->time_base;
    source->audio.frame_size = encoder->frame_size > 0 ? encoder->frame_size : AAC_FRAME_SAMPLES;
    source->audio.initial_padding = encoder->initial_padding;
    return SC_OK;
}

static int allocate_frames(testsrc *source)
{
    AVFrame *picture = av_frame_alloc();
    if (!picture)
        return SC_ERR_NOMEM;
    source->video.frame = picture;
    picture->width = source->width;
    picture->height = source->height;
    picture->format = AV_PIX_FMT_YUV420P;
    if (av_frame_get_buffer(picture, 0) < 0)
        return SC_ERR_NOMEM;

    size_t luma_size = (size_t)source->width * source->height;
    source->scene_picture = malloc(luma_size + luma_size / 2);
    if (!source->scene_picture)
        return SC_ERR_NOMEM;

    if (!source->audio_enabled)
        return SC_OK;
    AVCodecContext *encoder = source->audio.encoder;
    AVFrame *samples = av_frame_alloc();
    if (!samples)
        return SC_ERR_NOMEM;
    source->audio.frame = samples;
    samples->format = encoder->sample_fmt;
    samples->sample_rate = encoder->sample_rate;
    samples->nb_samples = source->audio.frame_size;
    if (av_channel_layout_copy(&samples->ch_layout, &encoder->ch_layout) < 0 ||
        av_frame_get_buffer(samples, 0) < 0)
        return SC_ERR_NOMEM;
    return SC_OK;
}

/* Moves every packet the encoder has ready into the stream's queue. */
static int drain_encoder(testsrc *source, encoded_stream *stream)
{
    char reason[AV_ERROR_MAX_STRING_SIZE];
    for (;;) {
        AVPacket *packet = av_packet_alloc();
        if (!packet)
            return SC_ERR_NOMEM;
        int ret = avcodec_receive_packet(stream->encoder, packet);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            av_packet_free(&packet);
            if (ret == AVERROR_EOF)
                stream->finished = 1;
            return SC_OK;
        }
        if (ret < 0) {
            av_packet_free(&packet);
            source->host->log(source->ctx, SC_LOG_ERROR, "%s encoder failed: %s",
                              stream->encoder->codec->name, error_text(ret, reason, sizeof(reason)));
            return SC_ERR_IO;
        }
        if (queue_push(&stream->queue, packet) != SC_OK) {
            av_packet_free(&packet);
            return SC_ERR_NOMEM;
        }
    }
}

static int64_t scene_of_frame(const testsrc *source, int64_t index)
{
    if (source->scene_every_ns <= 0)
        return 0;
    /* Exact frame time, rounded down, so the first frame at or after k*N
     * opens scene k. */
    int64_t time_ns = av_rescale_rnd(index, (int64_t)source->frame_rate.den * SC_NSEC_PER_SEC,
                                     source->frame_rate.num, AV_ROUND_DOWN);
    return time_ns / source->scene_every_ns;
}

static void fill_sine(testsrc *source, AVFrame *samples, int count)
{
    float *first = (float *)samples->data[0];
    double step = source->frequency / source->sample_rate;
    for (int i = 0; i < count; i++) {
        first[i] = (float)(SINE_AMPLITUDE * sin(2.0 * M_PI * source->sine_phase));
        source->sine_phase += step;
        if (source->sine_phase >= 1.0)
            source->sine_phase -= 1.0;
    }
    /* A short last frame is padded with silence for encoders that want
     * whole frames. */
    memset(first + count, 0, (size_t)(samples->nb_samples - count) * sizeof(float));
    for (int channel = 1; channel < samples->ch_layout.nb_channels; channel++)
        memcpy(samples->data[channel], first, (size_t)samples->nb_samples * sizeof(float));
}

/* Gives the encoder its next input (or the end of input), then collects
 * whatever it produced. */
static int feed_encoder(testsrc *source, encoded_stream *stream)
{
    char reason[AV_ERROR_MAX_STRING_SIZE];
    AVFrame *input = NULL;
    if (stream->next_input < stream->input_end) {
        input = stream->frame;
        if (av_frame_make_writable(input) < 0)
            return SC_ERR_NOMEM;
        if (stream == &source->video) {
            int64_t index = stream->next_input;
            int64_t scene = scene_of_frame(source, index);
            int cut = scene != source->current_scene && source->current_scene >= 0;
            if (scene != source->current_scene) {
                if (cut)
                    source->host->counter_add(source->ctx, "scene_changes", 1);
                render_scene(source, scene);
            }
            draw_frame(source, input, index, scene);
            /* A keyframe at every cut, as x264's scenecut would place it
             * for a real camera cut (its own detector misses some of ours,
             * e.g. within min-keyint of the last keyframe). */
            input->pict_type = cut ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
            input->pts = index;
            stream->next_input++;
        } else {
            int frame_size = stream->frame_size;
            int64_t left = stream->input_end - stream->next_input;
            int count = left < frame_size ? (int)left : frame_size;
            int small_last = stream->encoder->codec->capabilities &
                             (AV_CODEC_CAP_SMALL_LAST_FRAME | AV_CODEC_CAP_VARIABLE_FRAME_SIZE);
            input->nb_samples = small_last ? count : frame_size;
            fill_sine(source, input, count);
            input->pts = stream->next_input;
            stream->next_input += count;
        }
    } else if (stream->flushing) {
        return drain_encoder(source, stream);
    } else {
        stream->flushing = 1;
    }
    int ret = avcodec_send_frame(stream->encoder, input);
    if (ret < 0) {
        source->host->log(source->ctx, SC_LOG_ERROR, "%s encoder refused a frame: %s",
                          stream->encoder->codec->name, error_text(ret, reason, sizeof(reason)));
        return SC_ERR_IO;
    }
    return drain_encoder(source, stream);
}

/* ---- fake packets (encode = false) ------------------------------------ */

#define NAL_IDR_SLICE 0x65
#define NAL_NON_IDR_SLICE 0x41
static const uint8_t annex_b_start_code[4] = { 0, 0, 0, 1 };

/* Where x264 puts keyframes: every `gop` frames, and at scene cuts, which
 * restart the count. */
static int fake_frame_is_key(testsrc *source, int64_t index)
{
    int64_t scene = scene_of_frame(source, index);
    int cut = scene != source->current_scene;
    if (cut) {
        if (source->current_scene >= 0)
            source->host->counter_add(source->ctx, "scene_changes", 1);
        source->current_scene = scene;
    }
    if (index == 0 || cut || index - source->last_keyframe >= source->gop) {
        source->last_keyframe = index;
        return 1;
    }
    return 0;
}

/* Queues the stream's next packet: video, a start code, a slice NAL header
 * and the frame number; audio, the frame number. Both big-endian numbers
 * let a test recognise a packet by its bytes. */
static int make_fake_packet(testsrc *source, encoded_stream *stream)
{
    if (stream->next_input >= stream->input_end) {
        stream->finished = 1;
        return SC_OK;
    }
    int is_video = stream == &source->video;
    size_t header_size = is_video ? sizeof(annex_b_start_code) + 1 : 0;
    AVPacket *packet = av_packet_alloc();
    if (!packet || av_new_packet(packet, (int)(header_size + 8)) < 0) {
        av_packet_free(&packet);
        return SC_ERR_NOMEM;
    }
    uint8_t *write = packet->data;
    int64_t number;
    if (is_video) {
        number = stream->next_input;
        int key = fake_frame_is_key(source, number);
        memcpy(write, annex_b_start_code, sizeof(annex_b_start_code));
        write += sizeof(annex_b_start_code);
        *write++ = key ? NAL_IDR_SLICE : NAL_NON_IDR_SLICE;
        packet->pts = packet->dts = number;
        packet->duration = 1;
        if (key)
            packet->flags |= AV_PKT_FLAG_KEY;
        stream->next_input++;
    } else {
        number = stream->next_input / stream->frame_size;
        int64_t left = stream->input_end - stream->next_input;
        int count = left < stream->frame_size ? (int)left : stream->frame_size;
        packet->pts = packet->dts = stream->next_input;
        packet->duration = count;
        packet->flags |= AV_PKT_FLAG_KEY; /* as audio encoders mark every packet */
        stream->next_input += count;
    }
    for (int shift = 56; shift >= 0; shift -= 8)
        *write++ = (uint8_t)((uint64_t)number >> shift);
    if (queue_push(&stream->queue, packet) != SC_OK) {
        av_packet_free(&packet);
        return SC_ERR_NOMEM;
    }
    return SC_OK;
}

/* AAC-LC AudioSpecificConfig, so containers accept the fake stream's
 * description; 0 bytes for a rate outside the AAC table. */
static size_t fake_audio_config(int sample_rate, int channels, uint8_t config[2])
{
    static const int rates[] = { 96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                 22050, 16000, 12000, 11025, 8000, 7350 };
    for (size_t index = 0; index < sizeof(rates) / sizeof(rates[0]); index++) {
        if (rates[index] != sample_rate)
            continue;
        const unsigned object_type = 2; /* AAC LC */
        config[0] = (uint8_t)(object_type << 3 | index >> 1);
        config[1] = (uint8_t)((index & 1) << 7 | (unsigned)channels << 3);
        return 2;
    }
    return 0;
}

/* ---- simulated clocks and timestamp faults ---------------------------- */

static int format_is_epoch(enum timestamp_format format)
{
    return format == FORMAT_EPOCH_SECONDS || format == FORMAT_EPOCH_MILLIS;
}

/* Bits of the format's wrapping counter, 0 when it does not wrap. */
static int format_counter_bits(enum timestamp_format format)
{
    return format == FORMAT_HLS ? HLS_COUNTER_BITS : format == FORMAT_RTMP ? RTMP_COUNTER_BITS : 0;
}

static int64_t format_clock_rate(enum timestamp_format format)
{
    switch (format) {
    case FORMAT_EPOCH_SECONDS: return SC_NSEC_PER_SEC;
    case FORMAT_EPOCH_MILLIS: return 1000;
    case FORMAT_HLS: return HLS_CLOCK_RATE;
    case FORMAT_RTMP: return RTMP_CLOCK_RATE;
    default: return 0;
    }
}

/* The time base of the timestamps the source states for the stream. */
static AVRational stated_time_base(const testsrc *source, const encoded_stream *stream)
{
    int64_t rate = format_clock_rate(source->format);
    return rate ? (AVRational){ 1, (int)rate } : stream->time_base;
}

static int64_t ticks_to_ns(int64_t ticks, AVRational time_base)
{
    return av_rescale_rnd(ticks, (int64_t)time_base.num * SC_NSEC_PER_SEC, time_base.den,
                          AV_ROUND_NEAR_INF);
}

/* numerator / denominator (> 0) rounded to the nearest, halves away from 0. */
static int64_t divide_nearest(__int128 numerator, __int128 denominator)
{
    __int128 half = denominator / 2;
    return (int64_t)(numerator >= 0 ? (numerator + half) / denominator
                                    : -((-numerator + half) / denominator));
}

/* `ticks` of the stream's time base plus `offset_ns`, in the stated time
 * base, computed exactly and rounded once (before any wrap). */
static int64_t clock_reading(const testsrc *source, const encoded_stream *stream, int64_t ticks,
                             int64_t offset_ns)
{
    AVRational in = stream->time_base, out = stated_time_base(source, stream);
    __int128 numerator = ((__int128)offset_ns * in.den +
                          (__int128)ticks * in.num * SC_NSEC_PER_SEC) * out.den;
    __int128 denominator = (__int128)in.den * SC_NSEC_PER_SEC * out.num;
    return divide_nearest(numerator, denominator);
}

/* The wrapped formats start their counter so that the earliest timestamp
 * (media time 0, or a little before it for AAC priming and B-frame dts)
 * reads counter_start, as TS and FLV muxers shift timestamps to be
 * non-negative. Needs both streams' first packets queued. */
static void settle_counter_shift(testsrc *source)
{
    source->counter_shift_known = 1;
    source->counter_shift = 0;
    if (!format_counter_bits(source->format))
        return;
    int64_t earliest = 0;
    encoded_stream *streams[] = { &source->video, source->audio_enabled ? &source->audio : NULL };
    for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
        AVPacket *head = streams[i] ? queue_peek(&streams[i]->queue) : NULL;
        if (!head)
            continue;
        int64_t first = head->dts != AV_NOPTS_VALUE ? head->dts : head->pts;
        int64_t reading = clock_reading(source, streams[i], first, 0);
        if (reading < earliest)
            earliest = reading;
    }
    source->counter_shift = -earliest;
}

/* What the source states for `ticks` (a pts or dts of the stream's time
 * base) with `fault_ns` added: see enum timestamp_format. */
static int64_t stated_timestamp(const testsrc *source, const encoded_stream *stream, int64_t ticks,
                                int64_t fault_ns)
{
    int64_t offset_ns = fault_ns + (format_is_epoch(source->format) ? source->epoch_ns : 0);
    int64_t reading = clock_reading(source, stream, ticks, offset_ns);
    int bits = format_counter_bits(source->format);
    if (!bits)
        return reading;
    int64_t period = INT64_C(1) << bits;
    int64_t value = (reading + source->counter_start + source->counter_shift) % period;
    return value < 0 ? value + period : value;
}

/* xorshift64*: tiny, fast and the same everywhere. */
static uint64_t next_random(testsrc *source)
{
    uint64_t state = source->random_state;
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    source->random_state = state;
    return state * UINT64_C(0x2545F4914F6CDD1D);
}

/* splitmix64 of the seed: any seed, 0 included, gives a well-mixed,
 * non-zero state. */
static void seed_random(testsrc *source)
{
    uint64_t mixed = (uint64_t)source->seed + UINT64_C(0x9E3779B97F4A7C15);
    mixed = (mixed ^ (mixed >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    mixed = (mixed ^ (mixed >> 27)) * UINT64_C(0x94D049BB133111EB);
    mixed ^= mixed >> 31;
    source->random_state = mixed ? mixed : 1;
}

/* Uniform within [-jitter, +jitter]; draws nothing without jitter. */
static int64_t draw_jitter(testsrc *source)
{
    if (source->jitter_ns <= 0)
        return 0;
    double unit = (double)(next_random(source) >> 11) * 0x1.0p-53; /* [0, 1) */
    return llround((2.0 * unit - 1.0) * (double)source->jitter_ns);
}

/* Simulated wall-clock time after media time 0 at which media time
 * `media_ns` comes out of a drifting source. */
static int64_t wall_offset(const testsrc *source, int64_t media_ns)
{
    return llround((double)media_ns / source->drift_factor);
}

/* ---- streams and packets ---------------------------------------------- */

static int declare_streams(testsrc *source)
{
    const sc_host_api *host = source->host;
    AVCodecContext *video = source->video.encoder;
    AVRational video_base = stated_time_base(source, &source->video);
    sc_stream_info info;
    if (video) {
        info = (sc_stream_info){
            .struct_size = sizeof(info),
            .media_type = SC_MEDIA_VIDEO,
            .codec_name = avcodec_get_name(video->codec_id),
            .format_name = av_get_pix_fmt_name(video->pix_fmt),
            .extradata = video->extradata,
            .extradata_size = (size_t)video->extradata_size,
            .bit_rate = video->bit_rate,
            .profile = video->profile,
            .level = video->level,
            .width = video->width,
            .height = video->height,
            .sar_num = video->sample_aspect_ratio.num,
            .sar_den = video->sample_aspect_ratio.den,
            .video_delay = source->bframes > 0 ? video->has_b_frames : 0,
            .color_range = video->color_range,
            .color_primaries = video->color_primaries,
            .color_trc = video->color_trc,
            .color_space = video->colorspace,
            .chroma_location = video->chroma_sample_location,
        };
        if (info.profile == FF_PROFILE_UNKNOWN || info.level == FF_LEVEL_UNKNOWN)
            h264_profile_from_extradata(video->extradata, video->extradata_size,
                                        &info.profile, &info.level);
    } else {
        /* What the real encoder would declare, minus its parameter sets. */
        info = (sc_stream_info){
            .struct_size = sizeof(info),
            .media_type = SC_MEDIA_VIDEO,
            .codec_name = "h264",
            .format_name = "yuv420p",
            .profile = FF_PROFILE_UNKNOWN,
            .level = FF_LEVEL_UNKNOWN,
            .width = source->width,
            .height = source->height,
            .sar_num = 1,
            .sar_den = 1,
            .color_range = AVCOL_RANGE_MPEG,
            .color_primaries = AVCOL_PRI_BT709,
            .color_trc = AVCOL_TRC_BT709,
            .color_space = AVCOL_SPC_BT709,
            .chroma_location = AVCHROMA_LOC_LEFT,
        };
    }
    info.time_base_num = video_base.num;
    info.time_base_den = video_base.den;
    info.fps_num = source->frame_rate.num;
    info.fps_den = source->frame_rate.den;
    info.duration = source->duration_ns > 0 ? source->duration_ns : SC_TIME_NONE;
    int index = host->source_add_stream(source->ctx, &info);
    if (index < 0) {
        host->log(source->ctx, SC_LOG_ERROR, "the host refused the video stream (%d)", index);
        return index;
    }
    source->video.host_index = index;

    if (!source->audio_enabled)
        return SC_OK;
    AVCodecContext *audio = source->audio.encoder;
    AVRational audio_base = stated_time_base(source, &source->audio);
    uint8_t fake_config[2];
    sc_stream_info sound;
    if (audio) {
        sound = (sc_stream_info){
            .struct_size = sizeof(sound),
            .media_type = SC_MEDIA_AUDIO,
            .codec_name = avcodec_get_name(audio->codec_id),
            .format_name = av_get_sample_fmt_name(audio->sample_fmt),
            .extradata = audio->extradata,
            .extradata_size = (size_t)audio->extradata_size,
            .bit_rate = audio->bit_rate,
            .profile = audio->profile,
            .level = audio->level,
            .channels = audio->ch_layout.nb_channels,
            .channel_layout = audio->ch_layout.order == AV_CHANNEL_ORDER_NATIVE
                                  ? audio->ch_layout.u.mask : 0,
            .frame_size = audio->frame_size,
            .initial_padding = audio->initial_padding,
        };
    } else {
        sound = (sc_stream_info){
            .struct_size = sizeof(sound),
            .media_type = SC_MEDIA_AUDIO,
            .codec_name = "aac",
            .format_name = "fltp",
            .extradata = fake_config,
            .extradata_size = fake_audio_config(source->sample_rate, source->channels, fake_config),
            .profile = FF_PROFILE_UNKNOWN,
            .level = FF_LEVEL_UNKNOWN,
            .channels = source->channels,
            .channel_layout = source->channels == 1 ? AV_CH_LAYOUT_MONO : AV_CH_LAYOUT_STEREO,
            .frame_size = source->audio.frame_size,
        };
    }
    sound.time_base_num = audio_base.num;
    sound.time_base_den = audio_base.den;
    sound.sar_den = 1;
    sound.fps_den = 1;
    sound.sample_rate = source->sample_rate;
    sound.duration = source->duration_ns > 0 ? source->duration_ns : SC_TIME_NONE;
    index = host->source_add_stream(source->ctx, &sound);
    if (index < 0) {
        host->log(source->ctx, SC_LOG_ERROR, "the host refused the audio stream (%d)", index);
        return index;
    }
    source->audio.host_index = index;
    return SC_OK;
}

static void release_buffer(void *opaque)
{
    AVBufferRef *buffer = opaque;
    av_buffer_unref(&buffer);
}

/* The faults added to a packet's stated timestamps (a jump, an outlier),
 * and whether it loses them; advances the per-run packet counts. */
static int64_t timestamp_fault(testsrc *source, const encoded_stream *stream,
                               int64_t decode_ns, int *drop)
{
    int64_t fault_ns = 0;
    if (source->jump_at_ns > 0 && decode_ns >= source->jump_at_ns)
        fault_ns += source->jump_by_ns;
    if (stream == &source->video) {
        source->video_packets_pushed++;
        if (source->outlier_every > 0 && source->video_packets_pushed % source->outlier_every == 0) {
            source->outliers_injected++;
            fault_ns += source->outliers_injected % 2 ? OUTLIER_AHEAD_NS : OUTLIER_BEHIND_NS;
            source->host->counter_add(source->ctx, "outliers_injected", 1);
        }
    }
    source->packets_pushed++;
    *drop = source->drop_timestamps_every > 0 &&
            source->packets_pushed % source->drop_timestamps_every == 0;
    if (*drop)
        source->host->counter_add(source->ctx, "timestamps_dropped", 1);
    return fault_ns;
}

/* Hands the packet at the head of the stream's queue to the host. */
static int push_next_packet(testsrc *source, encoded_stream *stream)
{
    const sc_host_api *host = source->host;
    if (!source->counter_shift_known)
        settle_counter_shift(source);
    AVPacket *packet = queue_pop(&stream->queue);
    AVRational time_base = stream->time_base;
    int is_video = stream == &source->video;
    int64_t decode_ticks = packet->dts != AV_NOPTS_VALUE ? packet->dts
                         : packet->pts != AV_NOPTS_VALUE ? packet->pts : 0;
    int64_t decode_ns = ticks_to_ns(decode_ticks, time_base);
    /* A packet arrives when its decode position has come: for audio that is
     * the sample it starts at, not its primed dts, matching the push order
     * (earliest_stream), so arrivals never go back without jitter. */
    int64_t position_ns = is_video ? decode_ns
                                   : ticks_to_ns(decode_ticks + stream->initial_padding, time_base);
    int64_t arrival_offset = wall_offset(source, position_ns) + draw_jitter(source);

    if (source->realtime) {
        int status = wait_until(source, source->start_mono_ns + (arrival_offset > 0 ? arrival_offset : 0));
        if (status != SC_OK) {
            av_packet_free(&packet);
            return status;
        }
    }

    if (av_packet_make_refcounted(packet) < 0) {
        av_packet_free(&packet);
        return SC_ERR_NOMEM;
    }
    /* Zero copy: the host keeps the encoder's buffer alive through the
     * reference moved into the wrapper. */
    AVBufferRef *buffer = packet->buf;
    packet->buf = NULL;
    sc_packet *out = host->packet_wrap(source->ctx, packet->data, (size_t)packet->size,
                                       release_buffer, buffer);
    if (!out) {
        av_buffer_unref(&buffer);
        av_packet_free(&packet);
        return SC_ERR_NOMEM;
    }
    int drop = 0;
    int64_t fault_ns = timestamp_fault(source, stream, decode_ns, &drop);
    AVRational stated_base = stated_time_base(source, stream);
    out->stream_index = (uint32_t)stream->host_index;
    out->flags = (packet->flags & AV_PKT_FLAG_KEY) ? SC_PACKET_KEY : 0;
    out->orig_pts = packet->pts == AV_NOPTS_VALUE || drop
                        ? SC_TIME_NONE : stated_timestamp(source, stream, packet->pts, fault_ns);
    out->orig_dts = packet->dts == AV_NOPTS_VALUE || drop
                        ? SC_TIME_NONE : stated_timestamp(source, stream, packet->dts, fault_ns);
    int64_t duration_ticks = packet->duration > 0 ? packet->duration
                             : is_video ? 1 /* one frame in 1/rate */ : stream->frame_size;
    out->orig_duration = source->format == FORMAT_RELATIVE
                             ? duration_ticks : clock_reading(source, stream, duration_ticks, 0);
    out->time_base_num = stated_base.num;
    out->time_base_den = stated_base.den;
    out->source_utc_ns = SC_TIME_NONE;
    if (source->announce_utc && packet->pts != AV_NOPTS_VALUE)
        out->source_utc_ns = source->epoch_ns + wall_offset(source, ticks_to_ns(packet->pts, time_base));

    int64_t arrival;
    if (!source->realtime)
        arrival = source->epoch_ns + arrival_offset; /* as if live */
    else if (source->start_epoch_ns == 0)
        arrival = host->wallclock_ns();
    else
        arrival = source->epoch_ns + (host->monotonic_ns() - source->start_mono_ns);
    /* Packets come in order: one cannot arrive before the one ahead of it. */
    if (arrival < source->last_arrival_ns)
        arrival = source->last_arrival_ns;
    source->last_arrival_ns = arrival;
    out->arrival_ns = arrival;
    av_packet_free(&packet);
    return host->source_push(source->ctx, out);
}

/* The stream whose next packet has the smallest dts, or NULL when both
 * are done. Callers make sure unfinished streams have a packet queued. */
static encoded_stream *earliest_stream(testsrc *source)
{
    AVPacket *video = queue_peek(&source->video.queue);
    AVPacket *audio = source->audio_enabled ? queue_peek(&source->audio.queue) : NULL;
    if (!video)
        return audio ? &source->audio : NULL;
    if (!audio)
        return &source->video;
    /* Audio is ordered by the sample it carries, not its primed dts (which
     * starts at -initial_padding), so the first video frame leads and the
     * source's timeline begins with it. */
    int64_t audio_position = audio->dts + source->audio.initial_padding;
    return av_compare_ts(video->dts, source->video.time_base, audio_position,
                         source->audio.time_base) <= 0
               ? &source->video : &source->audio;
}

static void release_run_state(testsrc *source)
{
    encoded_stream_reset(&source->video);
    encoded_stream_reset(&source->audio);
    free(source->scene_picture);
    source->scene_picture = NULL;
}

static int prepare_run(testsrc *source)
{
    release_run_state(source);
    int status = SC_OK;
    if (source->encode) {
        status = open_video_encoder(source);
        if (status == SC_OK && source->audio_enabled)
            status = open_audio_encoder(source);
        if (status == SC_OK)
            status = allocate_frames(source);
        if (status != SC_OK)
            return status;
    } else {
        source->video.time_base = av_inv_q(source->frame_rate);
        source->audio.time_base = (AVRational){ 1, source->sample_rate };
        source->audio.frame_size = AAC_FRAME_SAMPLES;
    }

    int64_t video_end = INT64_MAX, audio_end = INT64_MAX;
    if (source->duration_ns > 0) {
        video_end = av_rescale_rnd(source->duration_ns, source->frame_rate.num,
                                   (int64_t)source->frame_rate.den * SC_NSEC_PER_SEC,
                                   AV_ROUND_DOWN);
        audio_end = av_rescale(source->duration_ns, source->sample_rate, SC_NSEC_PER_SEC);
    }
    source->video.input_end = video_end;
    source->audio.input_end = audio_end;
    source->current_scene = -1;
    source->last_keyframe = 0;
    source->sine_phase = 0.0;

    seed_random(source);
    source->packets_pushed = 0;
    source->video_packets_pushed = 0;
    source->outliers_injected = 0;
    source->last_arrival_ns = INT64_MIN;
    source->counter_shift_known = 0;
    return SC_OK;
}

/* ---- module operations ------------------------------------------------ */

static int testsrc_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    testsrc *source = calloc(1, sizeof(*source));
    if (!source)
        return SC_ERR_NOMEM;
    source->host = host;
    source->ctx = ctx;
    atomic_init(&source->stop_requested, false);
    source->video.host_index = -1;
    source->audio.host_index = -1;

    const char *size = host->option_string(ctx, "size");
    if (parse_size(size, &source->width, &source->height) != SC_OK) {
        host->log(ctx, SC_LOG_ERROR,
                  "size '%s' is not WxH with even numbers between 16 and 4096", size ? size : "");
        free(source);
        return SC_ERR_INVALID;
    }
    double rate = host->option_double(ctx, "rate");
    source->frame_rate = av_d2q(rate, 1001000);
    if (rate <= 0 || source->frame_rate.num <= 0 || source->frame_rate.den <= 0) {
        host->log(ctx, SC_LOG_ERROR, "rate %g is not a usable frame rate", rate);
        free(source);
        return SC_ERR_INVALID;
    }
    source->gop = (int)host->option_int(ctx, "gop");
    source->bframes = (int)host->option_int(ctx, "bframes");
    source->video_bit_rate = host->option_size(ctx, "bitrate");
    source->duration_ns = host->option_duration(ctx, "duration");
    source->realtime = host->option_bool(ctx, "realtime");
    source->scene_every_ns = host->option_duration(ctx, "scene_every");
    source->audio_enabled = host->option_bool(ctx, "audio");
    source->sample_rate = (int)host->option_int(ctx, "sample_rate");
    source->channels = (int)host->option_int(ctx, "channels");
    source->frequency = host->option_double(ctx, "frequency");
    source->encode = host->option_bool(ctx, "encode");
    source->drift_factor = 1.0 + host->option_double(ctx, "drift_ppm") * 1e-6;
    /* Whole seconds apart: a product near 1.7e18 would lose the
     * nanoseconds a double holds exactly, such as the .25 of 1700000000.25. */
    double start_epoch = host->option_double(ctx, "start_epoch");
    double whole_seconds = floor(start_epoch);
    source->start_epoch_ns = (int64_t)whole_seconds * SC_NSEC_PER_SEC +
                             llround((start_epoch - whole_seconds) * 1e9);
    const char *format = host->option_string(ctx, "timestamp_format");
    source->format = FORMAT_RELATIVE;
    for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
        if (format && strcmp(format, format_names[i]) == 0)
            source->format = (enum timestamp_format)i;
    source->wrap_after_ns = host->option_duration(ctx, "wrap_after");
    source->jitter_ns = llround(host->option_double(ctx, "jitter_ms") * 1e6);
    source->seed = host->option_int(ctx, "seed");
    source->outlier_every = host->option_int(ctx, "outlier_every");
    source->drop_timestamps_every = host->option_int(ctx, "drop_timestamps_every");
    source->jump_at_ns = host->option_duration(ctx, "jump_at");
    source->jump_by_ns = llround(host->option_double(ctx, "jump_by") * 1e9);
    source->announce_utc = host->option_bool(ctx, "announce_utc");

    int counter_bits = format_counter_bits(source->format);
    if (source->wrap_after_ns > 0) {
        int64_t period = counter_bits ? INT64_C(1) << counter_bits : 0;
        int64_t before_wrap = av_rescale(source->wrap_after_ns, format_clock_rate(source->format),
                                         SC_NSEC_PER_SEC);
        if (!counter_bits) {
            host->log(ctx, SC_LOG_ERROR, "wrap_after needs timestamp_format = hls or rtmp");
            free(source);
            return SC_ERR_INVALID;
        }
        if (before_wrap > period) {
            host->log(ctx, SC_LOG_ERROR, "wrap_after must be at most the counter's period, %.3f s",
                      (double)period / (double)format_clock_rate(source->format));
            free(source);
            return SC_ERR_INVALID;
        }
        source->counter_start = (period - before_wrap) % period;
    }
    if (!source->encode && source->bframes > 0) {
        host->log(ctx, SC_LOG_ERROR, "bframes needs encode = true (fake packets have no B-frames)");
        free(source);
        return SC_ERR_INVALID;
    }

    if (source->audio_enabled && source->frequency >= source->sample_rate / 2.0) {
        host->log(ctx, SC_LOG_ERROR, "frequency %g Hz must be below half the sample rate (%d Hz)",
                  source->frequency, source->sample_rate);
        free(source);
        return SC_ERR_INVALID;
    }
    /* Fail at configuration time rather than when the source starts. */
    const AVCodec *aac = avcodec_find_encoder_by_name("aac");
    if (source->audio_enabled && aac && aac->supported_samplerates) {
        int supported = 0;
        for (const int *rate_hz = aac->supported_samplerates; *rate_hz; rate_hz++)
            supported |= *rate_hz == source->sample_rate;
        if (!supported) {
            host->log(ctx, SC_LOG_ERROR,
                      "sample_rate %d Hz is not one AAC supports (e.g. 44100, 48000, 32000)",
                      source->sample_rate);
            free(source);
            return SC_ERR_INVALID;
        }
    }
    if (source->encode && !avcodec_find_encoder(AV_CODEC_ID_H264)) {
        host->log(ctx, SC_LOG_ERROR, "this FFmpeg has no H.264 encoder (libx264 is needed)");
        free(source);
        return SC_ERR_UNSUPPORTED;
    }
    *instance = source;
    return SC_OK;
}

static void testsrc_destroy(void *instance)
{
    testsrc *source = instance;
    if (!source)
        return;
    release_run_state(source);
    free(source);
}

static int testsrc_run(void *instance)
{
    testsrc *source = instance;
    const sc_host_api *host = source->host;
    int status = prepare_run(source);
    if (status == SC_OK)
        status = declare_streams(source);
    if (status != SC_OK) {
        release_run_state(source);
        return status;
    }

    host->log(source->ctx, SC_LOG_INFO,
              "%s %dx%d at %d/%d fps, gop %d, %" PRId64 " bit/s; audio %s (%d Hz, %d ch); %s",
              source->video.encoder ? source->video.encoder->codec->name : "fake h264 (encode = false)",
              source->width, source->height,
              source->frame_rate.num, source->frame_rate.den, source->gop,
              source->video_bit_rate, source->audio_enabled ? "aac" : "off",
              source->sample_rate, source->channels,
              source->realtime ? "paced at 1x" : "as fast as possible");
    host->source_set_type(source->ctx, "TESTSRC");
    host->source_set_live(source->ctx, source->realtime);
    source->start_mono_ns = host->monotonic_ns();
    source->epoch_ns = source->start_epoch_ns ? source->start_epoch_ns : host->wallclock_ns();
    if (source->format != FORMAT_RELATIVE || source->drift_factor != 1.0 || source->jitter_ns ||
        source->outlier_every || source->drop_timestamps_every || source->jump_at_ns)
        host->log(source->ctx, SC_LOG_INFO,
                  "timing: %s timestamps from %.3f, drift %+g ppm, jitter +-%g ms, outliers every %"
                  PRId64 ", no timestamps every %" PRId64 ", jump %+g s at %g s",
                  format_names[source->format], (double)source->epoch_ns / 1e9,
                  (source->drift_factor - 1.0) * 1e6, (double)source->jitter_ns / 1e6,
                  source->outlier_every, source->drop_timestamps_every,
                  source->jump_at_ns ? (double)source->jump_by_ns / 1e9 : 0.0,
                  (double)source->jump_at_ns / 1e9);

    for (;;) {
        if (stop_wanted(source)) {
            status = SC_ERR_STOPPED;
            break;
        }
        /* Both encoders must have a packet ready before the earlier of
         * the two can be known, since each one's output is in dts order. */
        encoded_stream *starving = NULL;
        if (!source->video.queue.count && !source->video.finished)
            starving = &source->video;
        else if (source->audio_enabled && !source->audio.queue.count && !source->audio.finished)
            starving = &source->audio;
        if (starving) {
            status = source->encode ? feed_encoder(source, starving)
                                    : make_fake_packet(source, starving);
            if (status != SC_OK)
                break;
            continue;
        }
        encoded_stream *next = earliest_stream(source);
        if (!next) {
            status = SC_OK;
            break;
        }
        status = push_next_packet(source, next);
        if (status != SC_OK)
            break;
    }
    release_run_state(source);
    return status;
}

static void testsrc_stop(void *instance)
{
    testsrc *source = instance;
    atomic_store(&source->stop_requested, true);
}

static const sc_source_ops testsrc_ops = {
    SC_OPS_INIT(sc_source_ops),
    .create = testsrc_create,
    .destroy = testsrc_destroy,
    .run = testsrc_run,
    .stop = testsrc_stop,
};

static const sc_module_descriptor testsrc_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SOURCE,
    .name = "testsrc",
    .version = "0.1.0",
    .description = "deterministic H.264/AAC test pattern with scene cuts, no input needed",
    .options = testsrc_options,
    .ops = &testsrc_ops,
};

SC_MODULE_DEFINE(testsrc_module)
