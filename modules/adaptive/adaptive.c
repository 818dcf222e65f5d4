/* adaptive: keyframe-bounded segments whose length follows how busy the
 * picture is: short where the content is complex, long where it is calm.
 *
 * Complexity is read from the compressed video alone, without decoding:
 * an encoder spends more bits on busy pictures, so
 *
 *   rate(t)  = bits of reference-stream packets with dts in (t - 1 s, t], per second
 *   median   = median of rate sampled once a second over the last 60 s
 *   r        = rate(t) / median
 *   c(t)     = r / (1 + r)         in [0, 1): 0.5 = the stream's usual rate,
 *                                  0.8 = four times it, 0.2 = a quarter of it
 *
 * During the first second, before any sample exists, c is 0.5.
 *
 * The target length for a complexity c, with mid = (min + max) / 2 and
 * t = target_complexity, is linear on each side of t:
 *
 *   c <= t:  length = mid + (max - mid) * (t - c) / t        (c = 0 gives max)
 *   c >= t:  length = mid - (mid - min) * (c - t) / (1 - t)  (c = 1 gives min)
 *
 * so at the target complexity segments are halfway between min and max.
 * A segment is cut at the first reference keyframe at which it has lasted
 * at least min_segment_duration and at least the target length for the
 * complexity at that moment; when no keyframe allows a cut by
 * max_segment_duration, it is cut there (flagged forced) and the next one
 * starts inside the GOP, as in the keyframe strategy. Each record carries
 * {"complexity": x}, the mean of c over the segment's reference packets. */
#include <streamcut/streamcut.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATE_WINDOW_NS SC_NSEC_PER_SEC
#define HISTORY_SAMPLES 60

typedef struct window_entry {
    int64_t dts;
    int64_t bits;
} window_entry;

typedef struct adaptive_strategy {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t min_duration;
    int64_t max_duration;
    double target_complexity;
    int reference_stream;       /* -1 until the first packet */
    int every_packet_is_key;    /* audio-only source */

    /* the trailing rate window, a ring of the packets in it */
    window_entry *window;
    size_t window_capacity;
    size_t window_first;
    size_t window_count;
    int64_t window_bits;

    /* once-a-second samples of the rate, for the running median */
    double history[HISTORY_SAMPLES];
    size_t history_count;
    size_t history_next;
    int64_t first_dts;
    int64_t last_sample_second;

    int segment_open;
    int64_t segment_start;
    int64_t segment_packets;
    double segment_complexity_sum;
    int64_t media_end;          /* largest reference pts + duration seen */
} adaptive_strategy;

static const sc_option_spec adaptive_options[] = {
    {.name = "min_segment_duration", .type = SC_OPT_DURATION, .default_value = "5s", .min = 0.001, .max = 86400,
     .help = "never cut a segment shorter than this (however complex the content)"},
    {.name = "max_segment_duration", .type = SC_OPT_DURATION, .default_value = "30s", .min = 0.001, .max = 86400,
     .help = "cut here without a keyframe (flag forced) if none allowed a cut before; keep the buffer's "
             "retention above it"},
    {.name = "target_complexity", .type = SC_OPT_DOUBLE, .default_value = "0.5", .min = 0, .max = 1,
     .help = "complexity c = r/(1+r), r = video bits/s over 1 s / its 60 s median, at which segments last "
             "(min+max)/2; length falls linearly to min at c=1 and rises to max at c=0"},
    {0},
};

static double seconds(int64_t ns) { return (double)ns / (double)SC_NSEC_PER_SEC; }

static int adaptive_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    adaptive_strategy *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->min_duration = host->option_duration(ctx, "min_segment_duration");
    self->max_duration = host->option_duration(ctx, "max_segment_duration");
    self->target_complexity = host->option_double(ctx, "target_complexity");
    self->reference_stream = -1;
    self->first_dts = SC_TIME_NONE;
    if (self->min_duration <= 0 || self->max_duration < self->min_duration) {
        host->log(ctx, SC_LOG_ERROR,
                  "min_segment_duration (%gs) must be positive and at most max_segment_duration (%gs)",
                  seconds(self->min_duration), seconds(self->max_duration));
        free(self);
        return SC_ERR_INVALID;
    }
    if (!(self->target_complexity >= 0 && self->target_complexity <= 1)) {
        host->log(ctx, SC_LOG_ERROR, "target_complexity (%g) must be within 0..1", self->target_complexity);
        free(self);
        return SC_ERR_INVALID;
    }
    *instance = self;
    return SC_OK;
}

static void adaptive_destroy(void *instance)
{
    adaptive_strategy *self = instance;
    if (!self) return;
    free(self->window);
    free(self);
}

/* The stream whose keyframes bound segments, chosen as the host chooses
 * it: the first video stream, else the first audio stream. */
static void choose_reference_stream(adaptive_strategy *self, const sc_packet *first)
{
    int chosen = sc_reference_stream(self->host, self->ctx);
    self->reference_stream = chosen >= 0 ? chosen : (int)first->stream_index;
    /* Audio frames all decode on their own, whatever the demuxer flags. */
    const sc_stream_info *info = self->host->stream_get(self->ctx, (size_t)self->reference_stream);
    self->every_packet_is_key = !info || info->media_type != SC_MEDIA_VIDEO;
}

/* ---- complexity ------------------------------------------------------- */

static int window_push(adaptive_strategy *self, int64_t dts, int64_t bits)
{
    if (self->window_count == self->window_capacity) {
        size_t capacity = self->window_capacity ? self->window_capacity * 2 : 64;
        window_entry *grown = malloc(capacity * sizeof *grown);
        if (!grown) return SC_ERR_NOMEM;
        for (size_t i = 0; i < self->window_count; i++)
            grown[i] = self->window[(self->window_first + i) % self->window_capacity];
        free(self->window);
        self->window = grown;
        self->window_capacity = capacity;
        self->window_first = 0;
    }
    self->window[(self->window_first + self->window_count) % self->window_capacity] =
        (window_entry){.dts = dts, .bits = bits};
    self->window_count++;
    self->window_bits += bits;
    return SC_OK;
}

/* Keeps the packets with dts in (now - window, now]. */
static void window_trim(adaptive_strategy *self, int64_t now)
{
    while (self->window_count > 0) {
        const window_entry *oldest = &self->window[self->window_first];
        if (oldest->dts > now - RATE_WINDOW_NS) break;
        self->window_bits -= oldest->bits;
        self->window_first = (self->window_first + 1) % self->window_capacity;
        self->window_count--;
    }
}

static int compare_doubles(const void *a, const void *b)
{
    double left = *(const double *)a, right = *(const double *)b;
    return (left > right) - (left < right);
}

static double history_median(const adaptive_strategy *self)
{
    double sorted[HISTORY_SAMPLES];
    memcpy(sorted, self->history, self->history_count * sizeof sorted[0]);
    qsort(sorted, self->history_count, sizeof sorted[0], compare_doubles);
    size_t middle = self->history_count / 2;
    return self->history_count % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/* Accounts one reference packet and returns the complexity at its time. */
static int measure(adaptive_strategy *self, const sc_packet *pkt, double *complexity)
{
    int64_t now = pkt->dts != SC_TIME_NONE ? pkt->dts : pkt->pts;
    if (self->first_dts == SC_TIME_NONE) {
        self->first_dts = now;
        self->last_sample_second = 0;
    }
    window_trim(self, now);
    int status = window_push(self, now, (int64_t)pkt->size * 8);
    if (status != SC_OK) return status;
    double rate = (double)self->window_bits * SC_NSEC_PER_SEC / RATE_WINDOW_NS;
    /* A sample each time a new second starts: by then the window is full. */
    int64_t second = (now - self->first_dts) / RATE_WINDOW_NS;
    if (second > self->last_sample_second) {
        self->last_sample_second = second;
        self->history[self->history_next] = rate;
        self->history_next = (self->history_next + 1) % HISTORY_SAMPLES;
        if (self->history_count < HISTORY_SAMPLES) self->history_count++;
    }
    double median = self->history_count ? history_median(self) : rate;
    if (median <= 0) {
        *complexity = 0.5;
        return SC_OK;
    }
    double ratio = rate / median;
    *complexity = ratio / (1 + ratio);
    return SC_OK;
}

static int64_t target_length(const adaptive_strategy *self, double complexity)
{
    double low = (double)self->min_duration, high = (double)self->max_duration;
    double middle = (low + high) / 2, target = self->target_complexity;
    double length;
    if (complexity <= target)
        length = target > 0 ? middle + (high - middle) * (target - complexity) / target : middle;
    else
        length = target < 1 ? middle - (middle - low) * (complexity - target) / (1 - target) : middle;
    if (length < low) length = low;
    if (length > high) length = high;
    return (int64_t)(length + 0.5);
}

/* ---- cutting ---------------------------------------------------------- */

static void emit_segment(adaptive_strategy *self, int64_t end, uint32_t flags)
{
    char extra[64];
    double mean = self->segment_packets ? self->segment_complexity_sum / (double)self->segment_packets : 0.5;
    snprintf(extra, sizeof extra, "{\"complexity\":%.3f}", mean);
    sc_segment_request request = {
        .struct_size = sizeof request,
        .flags = flags,
        .start = self->segment_start,
        .end = end,
        .extra_json = extra,
    };
    self->host->segment_emit(self->ctx, &request);
}

static void open_segment(adaptive_strategy *self, int64_t start)
{
    self->segment_open = 1;
    self->segment_start = start;
    self->segment_packets = 0;
    self->segment_complexity_sum = 0;
}

static int adaptive_packet(void *instance, const sc_packet *pkt)
{
    adaptive_strategy *self = instance;
    if (self->reference_stream < 0) choose_reference_stream(self, pkt);
    if ((int)pkt->stream_index != self->reference_stream) return SC_OK;
    int64_t pts = pkt->pts != SC_TIME_NONE ? pkt->pts : pkt->dts;
    int key = self->every_packet_is_key || (pkt->flags & SC_PACKET_KEY);
    double complexity;
    int status = measure(self, pkt, &complexity);
    if (status != SC_OK) return status;

    if (!self->segment_open) {
        open_segment(self, pts);
    } else {
        int64_t elapsed = pts - self->segment_start;
        int64_t overdue = self->segment_start + self->max_duration;
        if (key && self->segment_packets > 0 && elapsed >= self->min_duration &&
            elapsed >= target_length(self, complexity) && pts <= overdue) {
            emit_segment(self, pts, 0);
            open_segment(self, pts);
        } else if (pts >= overdue) {
            emit_segment(self, overdue, SC_SEGMENT_FORCED);
            if (key) {
                /* Reached past a gap in the data: the keyframe itself is
                 * the cleanest start for what follows. */
                open_segment(self, pts);
            } else {
                int64_t start = overdue;
                /* A gap of several max durations holds no reference
                 * packet: skip it rather than cut empty segments. */
                while (pts >= start + self->max_duration) start += self->max_duration;
                open_segment(self, start);
            }
        }
    }
    self->segment_packets++;
    self->segment_complexity_sum += complexity;
    int64_t end = pts + (pkt->duration > 0 ? pkt->duration : 1);
    if (end > self->media_end) self->media_end = end;
    return SC_OK;
}

/* The last segment runs to the end of the reference stream's data. At the
 * end of input that is its natural end; on shutdown it was cut short. */
static void adaptive_flush(void *instance, int reason)
{
    adaptive_strategy *self = instance;
    if (!self->segment_open || self->segment_packets == 0) return;
    int64_t end = self->media_end > self->segment_start ? self->media_end : self->segment_start + 1;
    emit_segment(self, end, reason == SC_FLUSH_SHUTDOWN ? SC_SEGMENT_PARTIAL : 0);
    self->segment_open = 0;
}

static const sc_strategy_ops adaptive_ops = {
    SC_OPS_INIT(sc_strategy_ops),
    .create = adaptive_create,
    .destroy = adaptive_destroy,
    .packet = adaptive_packet,
    .flush = adaptive_flush,
};

static const sc_module_descriptor adaptive_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_STRATEGY,
    .name = "adaptive",
    .version = "0.1.0",
    .description = "keyframe-bounded segments, shorter where the video's bit rate (complexity c = r/(1+r), "
                   "r = 1 s rate / 60 s median) is high, longer where it is low",
    .options = adaptive_options,
    .ops = &adaptive_ops,
};

SC_MODULE_DEFINE(adaptive_module)
