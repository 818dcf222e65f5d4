/* loudness: a streamcut strategy that cuts segments around loud moments of
 * a source's audio — a crowd cheering, a streamer shouting, an explosion.
 *
 * It decodes one audio stream with libavcodec from the packets the host
 * passes to the strategy (configured from the stream's description), measures
 * the level of each `window` of sound (RMS over all channels, in dBFS: a
 * full-scale sine is -3 dBFS), and calls a window loud when its level is
 * `threshold_db` above the running median level of the last
 * `median_window` (reference = median: adapts to how loud the stream
 * usually is), or above `threshold_db` dBFS (reference = absolute).
 * Consecutive loud windows, and loud stretches less than `min_gap` apart,
 * form one burst; each burst becomes one segment from `pre_roll` before it
 * to `post_roll` after it, labelled "loud" and carrying the burst's peak
 * and the median level in the record.
 *
 * An out-of-tree module: it includes only <streamcut/streamcut.h> and
 * FFmpeg's headers, and builds with `pkg-config streamcut-sdk libavcodec
 * libavutil` (see the Makefile).
 */
#include <streamcut/streamcut.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Levels are kept in a histogram of LEVEL_BINS bins of 0.5 dB from
 * LEVEL_FLOOR_DB to 0 dBFS (louder is clamped to the top bin), so the
 * running median costs a fixed amount per window whatever its length. */
#define LEVEL_FLOOR_DB (-120.0)
#define LEVEL_BIN_DB 0.5
#define LEVEL_BINS 241
/* The median decides nothing before it has heard this much of the stream
 * (or the whole median_window when that is shorter). */
#define MEDIAN_WARMUP_NS (3 * SC_NSEC_PER_SEC)

typedef struct burst {
    int open;
    int64_t start;          /* first loud window's start, ns */
    int64_t end;            /* last loud window's end, ns */
    double peak_db;
    double median_db;       /* the reference when the burst began */
} burst;

typedef struct loudness {
    const sc_host_api *host;
    sc_ctx *ctx;

    /* options */
    int64_t wanted_stream;  /* -1: the first audio stream */
    int64_t window_ns;
    int absolute;           /* reference = absolute */
    double threshold_db;
    int64_t median_window_ns;
    int64_t pre_roll, post_roll, min_gap, min_loud, max_duration;

    /* decoding */
    int stream;             /* the stream decoded, -1 until chosen */
    AVCodecContext *decoder;
    AVPacket *packet;
    AVFrame *frame;
    int failed;             /* no usable decoder: ignore the audio */

    /* the window being measured */
    int64_t window_samples; /* samples per window at the stream's rate */
    int64_t window_filled;  /* samples in it so far */
    double window_energy;   /* sum of squared samples, all channels */
    int64_t window_start;   /* ns of its first sample */

    /* the running median: levels of the last `history_length` windows */
    int *history;           /* bin of each, a ring */
    int64_t history_length, history_count, history_next;
    int64_t histogram[LEVEL_BINS];

    burst current;
} loudness;

static const sc_option_spec loudness_options[] = {
    {.name = "stream", .type = SC_OPT_INT, .default_value = "-1", .min = -1, .max = 1000,
     .help = "index of the audio stream to listen to; -1 takes the source's first audio stream"},
    {.name = "reference", .type = SC_OPT_ENUM, .default_value = "median", .choices = "median|absolute",
     .help = "median: loud means threshold_db above the running median level; absolute: above threshold_db dBFS"},
    {.name = "threshold_db", .type = SC_OPT_DOUBLE, .default_value = "15", .min = -120, .max = 120,
     .help = "how loud a window must be: dB above the running median (reference = median), or the level "
             "in dBFS, below 0 (reference = absolute; a full-scale sine is -3 dBFS)"},
    {.name = "window", .type = SC_OPT_DURATION, .default_value = "100ms", .min = 0.01, .max = 10,
     .help = "stretch of sound each level is measured over (RMS of every channel)"},
    {.name = "median_window", .type = SC_OPT_DURATION, .default_value = "60s", .min = 1, .max = 3600,
     .help = "how much of the past the running median level spans (reference = median)"},
    {.name = "pre_roll", .type = SC_OPT_DURATION, .default_value = "5s", .min = 0, .max = 3600,
     .help = "the segment starts this long before the burst (at the keyframe at or before it)"},
    {.name = "post_roll", .type = SC_OPT_DURATION, .default_value = "5s", .min = 0, .max = 3600,
     .help = "the segment ends this long after the burst"},
    {.name = "min_gap", .type = SC_OPT_DURATION, .default_value = "10s", .min = 0, .max = 3600,
     .help = "loud stretches closer than this are one burst and one segment"},
    {.name = "min_loud", .type = SC_OPT_DURATION, .default_value = "0", .min = 0, .max = 3600,
     .help = "bursts shorter than this (clicks, a slammed door) are ignored"},
    {.name = "max_duration", .type = SC_OPT_DURATION, .default_value = "120s", .min = 1, .max = 86400,
     .help = "a burst lasting longer is cut into segments of at most this much burst"},
    {0},
};

static int level_bin(double level_db)
{
    int bin = (int)lround((level_db - LEVEL_FLOOR_DB) / LEVEL_BIN_DB);
    return bin < 0 ? 0 : bin >= LEVEL_BINS ? LEVEL_BINS - 1 : bin;
}

static double bin_level(int bin)
{
    return LEVEL_FLOOR_DB + bin * LEVEL_BIN_DB;
}

static void history_add(loudness *self, double level_db)
{
    int bin = level_bin(level_db);
    if (self->history_count == self->history_length) {
        self->histogram[self->history[self->history_next]]--;
        self->history_count--;
    }
    self->history[self->history_next] = bin;
    self->history_next = (self->history_next + 1) % self->history_length;
    self->histogram[bin]++;
    self->history_count++;
}

static double history_median(const loudness *self)
{
    int64_t wanted = (self->history_count + 1) / 2, seen = 0;
    for (int bin = 0; bin < LEVEL_BINS; bin++) {
        seen += self->histogram[bin];
        if (seen >= wanted) return bin_level(bin);
    }
    return 0.0;
}

static int loudness_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    loudness *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->wanted_stream = host->option_int(ctx, "stream");
    self->absolute = strcmp(host->option_string(ctx, "reference"), "absolute") == 0;
    self->threshold_db = host->option_double(ctx, "threshold_db");
    self->window_ns = host->option_duration(ctx, "window");
    self->median_window_ns = host->option_duration(ctx, "median_window");
    self->pre_roll = host->option_duration(ctx, "pre_roll");
    self->post_roll = host->option_duration(ctx, "post_roll");
    self->min_gap = host->option_duration(ctx, "min_gap");
    self->min_loud = host->option_duration(ctx, "min_loud");
    self->max_duration = host->option_duration(ctx, "max_duration");
    self->stream = -1;
    if (self->absolute && self->threshold_db >= 0) {
        host->log(ctx, SC_LOG_ERROR, "threshold_db = %g: with reference = absolute it is a level in dBFS, "
                  "which is below 0 (e.g. -20)", self->threshold_db);
        free(self);
        return SC_ERR_INVALID;
    }
    if (!self->absolute && self->threshold_db <= 0) {
        host->log(ctx, SC_LOG_ERROR, "threshold_db = %g: with reference = median it is how many dB above "
                  "the median a loud window is, above 0 (e.g. 15)", self->threshold_db);
        free(self);
        return SC_ERR_INVALID;
    }
    self->history_length = self->median_window_ns / self->window_ns;
    if (self->history_length < 1) self->history_length = 1;
    self->history = calloc((size_t)self->history_length, sizeof *self->history);
    self->packet = av_packet_alloc();
    self->frame = av_frame_alloc();
    if (!self->history || !self->packet || !self->frame) {
        free(self->history);
        av_packet_free(&self->packet);
        av_frame_free(&self->frame);
        free(self);
        return SC_ERR_NOMEM;
    }
    *instance = self;
    return SC_OK;
}

static void loudness_destroy(void *instance)
{
    loudness *self = instance;
    avcodec_free_context(&self->decoder);
    av_packet_free(&self->packet);
    av_frame_free(&self->frame);
    free(self->history);
    free(self);
}

/* The stream's description is all the decoder gets: codec, sample rate,
 * channels and the codec's own header (extradata). */
static int open_decoder(loudness *self, const sc_stream_info *info)
{
    const AVCodecDescriptor *descriptor = avcodec_descriptor_get_by_name(info->codec_name);
    const AVCodec *codec = descriptor ? avcodec_find_decoder(descriptor->id) : NULL;
    if (!codec) {
        self->host->log(self->ctx, SC_LOG_ERROR, "no decoder for audio codec '%s'", info->codec_name);
        return SC_ERR_UNSUPPORTED;
    }
    AVCodecContext *decoder = avcodec_alloc_context3(codec);
    if (!decoder) return SC_ERR_NOMEM;
    decoder->sample_rate = info->sample_rate > 0 ? info->sample_rate : 0;
    int mask_channels = 0;
    for (uint64_t mask = info->channel_layout; mask; mask &= mask - 1) mask_channels++;
    if (mask_channels > 0 && (info->channels <= 0 || info->channels == mask_channels))
        av_channel_layout_from_mask(&decoder->ch_layout, info->channel_layout);
    else if (info->channels > 0)
        av_channel_layout_default(&decoder->ch_layout, info->channels);
    decoder->codec_tag = info->codec_tag;
    decoder->block_align = info->block_align > 0 ? info->block_align : 0;
    decoder->bits_per_coded_sample = info->bits_per_coded_sample > 0 ? info->bits_per_coded_sample : 0;
    if (info->extradata && info->extradata_size > 0 && info->extradata_size < INT_MAX / 2) {
        decoder->extradata = av_mallocz(info->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!decoder->extradata) {
            avcodec_free_context(&decoder);
            return SC_ERR_NOMEM;
        }
        memcpy(decoder->extradata, info->extradata, info->extradata_size);
        decoder->extradata_size = (int)info->extradata_size;
    }
    /* The host's packets carry nanoseconds, and so will the frames. */
    decoder->pkt_timebase = (AVRational){1, 1000000000};
    int status = avcodec_open2(decoder, codec, NULL);
    if (status < 0) {
        char reason[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(status, reason, sizeof reason);
        self->host->log(self->ctx, SC_LOG_ERROR, "cannot open the %s decoder: %s", info->codec_name, reason);
        avcodec_free_context(&decoder);
        return SC_ERR_UNSUPPORTED;
    }
    self->decoder = decoder;
    self->host->log(self->ctx, SC_LOG_INFO, "listening to stream %d (%s, %d Hz, %d channels)", self->stream,
                    info->codec_name, decoder->sample_rate, decoder->ch_layout.nb_channels);
    return SC_OK;
}

/* One sample as a fraction of full scale. */
static double sample_value(const uint8_t *data, enum AVSampleFormat format, int64_t index)
{
    switch (format) {
    case AV_SAMPLE_FMT_U8: return ((double)data[index] - 128.0) / 128.0;
    case AV_SAMPLE_FMT_S16: return ((const int16_t *)(const void *)data)[index] / 32768.0;
    case AV_SAMPLE_FMT_S32: return ((const int32_t *)(const void *)data)[index] / 2147483648.0;
    case AV_SAMPLE_FMT_S64: return (double)((const int64_t *)(const void *)data)[index] / 9223372036854775808.0;
    case AV_SAMPLE_FMT_FLT: return ((const float *)(const void *)data)[index];
    case AV_SAMPLE_FMT_DBL: return ((const double *)(const void *)data)[index];
    default: return 0.0;
    }
}

static void emit_burst(loudness *self, const burst *b, int64_t end)
{
    int64_t start = b->start - self->pre_roll;
    sc_segment_request request = {
        .struct_size = sizeof request,
        .start = start > 0 ? start : 0,
        .end = end + self->post_roll,
        .label = "loud",
    };
    char extra[160];
    snprintf(extra, sizeof extra, "{\"loud_start\":%.3f,\"loud_end\":%.3f,\"peak_db\":%.1f,\"reference_db\":%.1f}",
             (double)b->start / 1e9, (double)end / 1e9, b->peak_db, b->median_db);
    request.extra_json = extra;
    int64_t index = self->host->segment_emit(self->ctx, &request);
    if (index < 0) {
        self->host->log(self->ctx, SC_LOG_WARNING, "segment_emit refused [%.3f, %.3f): %lld",
                        (double)request.start / 1e9, (double)request.end / 1e9, (long long)index);
        return;
    }
    self->host->counter_add(self->ctx, "segments", 1);
    self->host->log(self->ctx, SC_LOG_INFO, "loud %.3f-%.3f s (peak %.1f dBFS, reference %.1f dB): segment %lld",
                    (double)b->start / 1e9, (double)end / 1e9, b->peak_db, b->median_db, (long long)index);
}

/* A burst is over (or the input is): a segment unless it was too short. */
static void close_burst(loudness *self)
{
    if (!self->current.open) return;
    if (self->current.end - self->current.start >= self->min_loud) {
        emit_burst(self, &self->current, self->current.end);
        self->host->counter_add(self->ctx, "bursts", 1);
    } else {
        self->host->counter_add(self->ctx, "bursts_too_short", 1);
    }
    self->current.open = 0;
    self->host->strategy_hold(self->ctx, SC_TIME_NONE);
}

static void judge_window(loudness *self, double level_db, int64_t start, int64_t end)
{
    int decided = 1;
    double reference = self->threshold_db;
    if (!self->absolute) {
        int64_t warmup = self->median_window_ns < MEDIAN_WARMUP_NS ? self->median_window_ns : MEDIAN_WARMUP_NS;
        decided = self->history_count * self->window_ns >= warmup;
        reference = history_median(self);
    }
    int loud = decided && level_db >= (self->absolute ? self->threshold_db : reference + self->threshold_db);
    history_add(self, level_db);

    burst *b = &self->current;
    if (b->open && !loud && start - b->end >= self->min_gap) close_burst(self);
    if (!loud) return;
    if (!b->open) {
        *b = (burst){.open = 1, .start = start, .end = end, .peak_db = level_db,
                     .median_db = self->absolute ? self->threshold_db : reference};
        /* Keep the pre-roll in the buffer until the segment is asked for. */
        self->host->strategy_hold(self->ctx, start - self->pre_roll > 0 ? start - self->pre_roll : 0);
        return;
    }
    b->end = end;
    if (level_db > b->peak_db) b->peak_db = level_db;
    if (b->end - b->start >= self->max_duration) {
        /* One long roar: cut it here, and what follows starts a new one. */
        emit_burst(self, b, b->end);
        self->host->counter_add(self->ctx, "bursts", 1);
        b->open = 0;
        self->host->strategy_hold(self->ctx, SC_TIME_NONE);
    }
}

static void measure_frame(loudness *self, const AVFrame *frame)
{
    enum AVSampleFormat format = (enum AVSampleFormat)frame->format;
    enum AVSampleFormat packed = av_get_packed_sample_fmt(format);
    int planar = av_sample_fmt_is_planar(format);
    int channels = frame->ch_layout.nb_channels;
    int rate = frame->sample_rate > 0 ? frame->sample_rate : self->decoder->sample_rate;
    if (channels <= 0 || rate <= 0) return;
    if (self->window_samples == 0) {
        self->window_samples = (self->window_ns * rate + SC_NSEC_PER_SEC / 2) / SC_NSEC_PER_SEC;
        if (self->window_samples < 1) self->window_samples = 1;
    }
    int64_t frame_start = frame->best_effort_timestamp;
    for (int i = 0; i < frame->nb_samples; i++) {
        if (self->window_filled == 0) {
            /* Without timestamps, windows simply follow each other. */
            self->window_start = frame_start != AV_NOPTS_VALUE
                ? frame_start + (int64_t)i * SC_NSEC_PER_SEC / rate
                : self->window_start + self->window_ns;
        }
        for (int c = 0; c < channels; c++) {
            double value = planar ? sample_value(frame->extended_data[c], packed, i)
                                  : sample_value(frame->extended_data[0], packed, (int64_t)i * channels + c);
            self->window_energy += value * value;
        }
        if (++self->window_filled == self->window_samples) {
            double mean_square = self->window_energy / (double)(self->window_samples * channels);
            double level_db = mean_square > 0 ? 10.0 * log10(mean_square) : LEVEL_FLOOR_DB;
            if (level_db < LEVEL_FLOOR_DB) level_db = LEVEL_FLOOR_DB;
            int64_t end = self->window_start + self->window_samples * SC_NSEC_PER_SEC / rate;
            judge_window(self, level_db, self->window_start, end);
            self->window_filled = 0;
            self->window_energy = 0;
        }
    }
}

static void receive_frames(loudness *self)
{
    for (;;) {
        int status = avcodec_receive_frame(self->decoder, self->frame);
        if (status < 0) {
            if (status != AVERROR(EAGAIN) && status != AVERROR_EOF) self->host->counter_add(self->ctx, "decode_errors", 1);
            return;
        }
        measure_frame(self, self->frame);
        av_frame_unref(self->frame);
    }
}

static int choose_stream(loudness *self, const sc_packet *pkt)
{
    const sc_stream_info *info = self->host->stream_get(self->ctx, pkt->stream_index);
    if (!info) return 0;
    if (self->wanted_stream >= 0 ? (int64_t)pkt->stream_index != self->wanted_stream
                                 : info->media_type != SC_MEDIA_AUDIO)
        return 0;
    if (info->media_type != SC_MEDIA_AUDIO) {
        self->host->log(self->ctx, SC_LOG_ERROR, "stream %u is not audio", pkt->stream_index);
        self->failed = 1;
        return 0;
    }
    self->stream = (int)pkt->stream_index;
    if (open_decoder(self, info) != SC_OK) {
        self->failed = 1;
        return 0;
    }
    return 1;
}

static int loudness_packet(void *instance, const sc_packet *pkt)
{
    loudness *self = instance;
    if (self->failed) return SC_OK;
    if (self->stream < 0 && !choose_stream(self, pkt)) return SC_OK;
    if ((int)pkt->stream_index != self->stream || !pkt->data || pkt->size == 0 || pkt->size > INT_MAX / 2)
        return SC_OK;
    /* A copy: audio packets are small, and the decoder may keep them. */
    if (av_new_packet(self->packet, (int)pkt->size) < 0) return SC_ERR_NOMEM;
    memcpy(self->packet->data, pkt->data, pkt->size);
    self->packet->pts = pkt->pts == SC_TIME_NONE ? AV_NOPTS_VALUE : pkt->pts;
    self->packet->dts = pkt->dts == SC_TIME_NONE ? AV_NOPTS_VALUE : pkt->dts;
    self->packet->duration = pkt->duration;
    int status = avcodec_send_packet(self->decoder, self->packet);
    av_packet_unref(self->packet);
    if (status < 0 && status != AVERROR(EAGAIN)) self->host->counter_add(self->ctx, "decode_errors", 1);
    receive_frames(self);
    return SC_OK;
}

static void loudness_flush(void *instance, int reason)
{
    loudness *self = instance;
    if (self->decoder && reason == SC_FLUSH_END_OF_INPUT) {
        avcodec_send_packet(self->decoder, NULL);
        receive_frames(self);
    }
    /* An open burst still becomes its segment (the host flags it partial
     * when the input ends before the post-roll). */
    close_burst(self);
}

static const sc_strategy_ops loudness_ops = {
    SC_OPS_INIT(sc_strategy_ops),
    .create = loudness_create,
    .destroy = loudness_destroy,
    .packet = loudness_packet,
    .flush = loudness_flush,
};

static const sc_module_descriptor loudness_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_STRATEGY,
    .name = "loudness",
    .version = "1.0.0",
    .description = "segments around loud moments of the audio (decoded with libavcodec): louder than the "
                   "running median by threshold_db, or than an absolute level",
    .options = loudness_options,
    .ops = &loudness_ops,
};

SC_MODULE_DEFINE(loudness_module)
