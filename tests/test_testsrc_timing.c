/* The testsrc source's timing cases (drift, epochs, wrapping counters,
 * jitter, outliers, dropped timestamps, jumps), checked packet by packet:
 * a pipeline runs in-process with a buffer large enough to keep the whole
 * stream, and the source's packets are read back from it before the
 * pipeline is freed. The host adds its normalized pts/dts, seq and flags;
 * orig_*, arrival_ns and source_utc_ns stay exactly as the source pushed
 * them (the host fills source_utc_ns itself only when told the timestamps
 * are epoch ones, which these tests do not). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "pipeline.h"
#include "test_util.h"

#define NS_PER_SEC INT64_C(1000000000)
#define EPOCH_NS (INT64_C(1700000000) * NS_PER_SEC)
#define HLS_PERIOD (INT64_C(1) << 33)
#define RTMP_PERIOD (INT64_C(1) << 32)

typedef struct capture {
    GPtrArray *packets;        /* const sc_packet *, referenced, in push (seq) order */
    GPtrArray *video;          /* the video packets among them, not referenced */
    GPtrArray *audio;
    int video_index, audio_index;
    int32_t video_base_num, video_base_den;  /* declared stream time bases */
    int32_t audio_base_num, audio_base_den;
    GPtrArray *records;        /* jsonl records of the fixed strategy */
    double seconds;            /* wall time the run took */
    int status;
} capture;

/* Runs [source cam] with testsrc and `options`, a fixed strategy of
 * `window` and a jsonl sink; keeps every packet the source pushed. */
static capture run_source_with(const char *options, const char *window, const char *host_keys)
{
    capture result = {0};
    char *dir = test_make_dir();
    char *records_path = g_build_filename(dir, "records.jsonl", NULL);
    char *text = g_strdup_printf("[source cam]\nmodule = testsrc\nsize = 64x36\nrate = 10\n"
                                 "buffer.retention_seconds = 10000000\nbuffer.max_items = 1000000000\n"
                                 "buffer.max_memory_mb = 1048576\n%s\n%s\n"
                                 "[strategy cut]\nmodule = fixed\nsource = cam\nduration = %s\n"
                                 "[sink records]\nmodule = jsonl\nfrom = cut\npath = %s\n",
                                 host_keys, options, window, records_path);
    char *path = test_write_file(dir, "pipe.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    ck_assert_msg(pipeline != NULL, "%s", errors->len ? (char *)errors->pdata[0] : "");
    ck_assert_msg(sc_pipeline_create(pipeline, errors), "%s", errors->len ? (char *)errors->pdata[0] : "");
    gint64 started = g_get_monotonic_time();
    sc_pipeline_start(pipeline);
    while (!sc_pipeline_sources_done(pipeline)) g_usleep(1000);
    result.seconds = (g_get_monotonic_time() - started) / 1e6;
    result.status = sc_pipeline_finish(pipeline);

    sc_source_runtime *source = pipeline->sources->pdata[0];
    result.packets = g_ptr_array_new();
    size_t holes = sc_buffer_copy_seq_range(source->buffer, 0, UINT64_MAX, result.packets);
    ck_assert_uint_eq(holes, 0);
    result.video_index = result.audio_index = -1;
    for (guint i = 0; i < source->streams->len; i++) {
        const sc_stream_info *info = source->streams->pdata[i];
        if (info->media_type == SC_MEDIA_VIDEO) {
            result.video_index = (int)i;
            result.video_base_num = info->time_base_num;
            result.video_base_den = info->time_base_den;
        } else if (info->media_type == SC_MEDIA_AUDIO) {
            result.audio_index = (int)i;
            result.audio_base_num = info->time_base_num;
            result.audio_base_den = info->time_base_den;
        }
    }
    result.video = g_ptr_array_new();
    result.audio = g_ptr_array_new();
    for (guint i = 0; i < result.packets->len; i++) {
        const sc_packet *packet = result.packets->pdata[i];
        ck_assert_uint_eq(packet->seq, i);
        g_ptr_array_add((int)packet->stream_index == result.video_index ? result.video : result.audio,
                        (gpointer)packet);
    }
    sc_pipeline_free(pipeline);

    char *contents = NULL;
    g_file_get_contents(records_path, &contents, NULL, NULL);
    result.records = g_ptr_array_new_with_free_func(g_free);
    char **lines = g_strsplit(contents ? contents : "", "\n", -1);
    for (char **line = lines; *line; line++)
        if (**line) g_ptr_array_add(result.records, g_strdup(*line));
    g_strfreev(lines);
    g_free(contents);
    g_ptr_array_free(errors, TRUE);
    g_free(text);
    g_free(path);
    g_free(records_path);
    test_remove_tree(dir);
    g_free(dir);
    return result;
}

static capture run_source(const char *options)
{
    return run_source_with(options, "1s", "");
}

static void capture_free(capture *result)
{
    for (guint i = 0; i < result->packets->len; i++) sc_packet_unref(result->packets->pdata[i]);
    g_ptr_array_free(result->packets, TRUE);
    g_ptr_array_free(result->video, TRUE);
    g_ptr_array_free(result->audio, TRUE);
    g_ptr_array_free(result->records, TRUE);
}

static const sc_packet *video_at(const capture *result, guint n)
{
    return result->video->pdata[n];
}

static const sc_packet *audio_at(const capture *result, guint k)
{
    return result->audio->pdata[k];
}

/* a * b / c rounded to the nearest (all positive, no exact halves here). */
static int64_t scaled(int64_t a, int64_t b, int64_t c)
{
    return (int64_t)(((__int128)a * b + c / 2) / c);
}

/* The fake audio of 48 kHz: frame k starts at sample 1024k. */
static int64_t audio_ns(int64_t k)
{
    return scaled(k * 1024, NS_PER_SEC, 48000);
}

static int64_t drifted(int64_t media_ns, double drift_ppm)
{
    return llround((double)media_ns / (1.0 + drift_ppm * 1e-6));
}

#define FAKE "encode = false\nstart_epoch = 1700000000\n"

START_TEST(relative_timestamps_and_arrivals_of_the_real_encoders)
{
    /* The default format is the encoders' own: frame numbers in 1/rate,
     * AAC samples in 1/48000 from -1024 (priming). Arrivals follow each
     * packet's decode position from start_epoch. */
    capture result = run_source("duration = 2s\ngop = 10\nstart_epoch = 1700000000\n");
    ck_assert_int_eq(result.status, 0);
    ck_assert_uint_eq(result.video->len, 20);
    ck_assert_uint_ge(result.audio->len, 94);
    ck_assert_int_eq(result.video_base_num, 1);
    ck_assert_int_eq(result.video_base_den, 10);
    ck_assert_int_eq(result.audio_base_den, 48000);
    for (guint n = 0; n < result.video->len; n++) {
        const sc_packet *packet = video_at(&result, n);
        ck_assert_int_eq(packet->orig_pts, n);
        ck_assert_int_eq(packet->orig_dts, n);
        ck_assert_int_eq(packet->orig_duration, 1);
        ck_assert_int_eq(packet->time_base_den, 10);
        ck_assert_int_eq(packet->arrival_ns, EPOCH_NS + n * NS_PER_SEC / 10);
        ck_assert_int_eq(packet->source_utc_ns, SC_TIME_NONE);
    }
    ck_assert(video_at(&result, 0)->flags & SC_PACKET_KEY);
    for (guint k = 0; k < result.audio->len; k++) {
        const sc_packet *packet = audio_at(&result, k);
        ck_assert_int_eq(packet->orig_pts, (int64_t)k * 1024 - 1024);
        ck_assert_int_eq(packet->time_base_den, 48000);
        ck_assert_int_eq(packet->arrival_ns, EPOCH_NS + audio_ns(k));
    }
    for (guint i = 1; i < result.packets->len; i++)
        ck_assert_int_ge(((const sc_packet *)result.packets->pdata[i])->arrival_ns,
                         ((const sc_packet *)result.packets->pdata[i - 1])->arrival_ns);
    capture_free(&result);
}
END_TEST

START_TEST(hls_counter_wraps_once_at_wrap_after)
{
    capture result = run_source(FAKE "duration = 5s\ntimestamp_format = hls\nwrap_after = 2s\n");
    ck_assert_int_eq(result.video_base_den, 90000);
    ck_assert_int_eq(result.audio_base_den, 90000);
    ck_assert_uint_eq(result.video->len, 50);
    ck_assert_uint_eq(result.audio->len, 235); /* 240000 samples in 1024s, the last one short */
    int video_wraps = 0, audio_wraps = 0;
    for (guint n = 0; n < result.video->len; n++) {
        const sc_packet *packet = video_at(&result, n);
        int64_t expected = (HLS_PERIOD - 180000 + 9000 * (int64_t)n) % HLS_PERIOD;
        ck_assert_int_eq(packet->orig_pts, expected);
        ck_assert_int_eq(packet->orig_dts, expected);
        ck_assert_int_eq(packet->orig_duration, 9000);
        ck_assert_int_eq(packet->time_base_num, 1);
        ck_assert_int_eq(packet->time_base_den, 90000);
        if (n > 0 && packet->orig_pts < video_at(&result, n - 1)->orig_pts) {
            video_wraps++;
            ck_assert_uint_eq(n, 20); /* media time 2 s */
            ck_assert_int_eq(packet->orig_pts - video_at(&result, n - 1)->orig_pts, 9000 - HLS_PERIOD);
        }
    }
    for (guint k = 0; k < result.audio->len; k++) {
        const sc_packet *packet = audio_at(&result, k);
        ck_assert_int_eq(packet->orig_pts, (HLS_PERIOD - 180000 + 1920 * (int64_t)k) % HLS_PERIOD);
        if (k > 0 && packet->orig_pts < audio_at(&result, k - 1)->orig_pts) {
            audio_wraps++;
            ck_assert_uint_eq(k, 94); /* the first frame at or after 2 s: 94 * 1024 / 48000 = 2.0053 s */
        }
    }
    ck_assert_int_eq(video_wraps, 1);
    ck_assert_int_eq(audio_wraps, 1);
    /* The last frame holds the 384 samples left of 5 s. */
    ck_assert_int_eq(audio_at(&result, 234)->orig_duration, 720);
    capture_free(&result);
}
END_TEST

START_TEST(hls_counter_starts_at_the_earliest_timestamp_with_aac_priming)
{
    /* The real AAC encoder's first packet lies 1024 samples (1920 ticks)
     * before the first picture: it reads 2^33 - wrap_after, as a TS muxer
     * makes timestamps non-negative, and the picture 1920 ticks later. */
    capture result = run_source("duration = 1s\nstart_epoch = 1700000000\ntimestamp_format = hls\nwrap_after = 0.5s\n");
    ck_assert_int_eq(audio_at(&result, 0)->orig_pts, HLS_PERIOD - 45000);
    ck_assert_int_eq(video_at(&result, 0)->orig_pts, HLS_PERIOD - 45000 + 1920);
    for (guint n = 0; n < result.video->len; n++)
        ck_assert_int_eq(video_at(&result, n)->orig_pts, (HLS_PERIOD - 45000 + 1920 + 9000 * (int64_t)n) % HLS_PERIOD);
    for (guint k = 0; k < result.audio->len; k++)
        ck_assert_int_eq(audio_at(&result, k)->orig_pts, (HLS_PERIOD - 45000 + 1920 * (int64_t)k) % HLS_PERIOD);
    capture_free(&result);

    /* B-frames: the first dts (before the first pts) is the earliest. */
    capture reordered = run_source("duration = 1s\naudio = false\nbframes = 2\ntimestamp_format = hls\nwrap_after = 0.5s\n");
    ck_assert_int_eq(video_at(&reordered, 0)->orig_dts, HLS_PERIOD - 45000);
    ck_assert_int_gt(video_at(&reordered, 0)->orig_pts, video_at(&reordered, 0)->orig_dts);
    ck_assert_int_eq((video_at(&reordered, 0)->orig_pts - video_at(&reordered, 0)->orig_dts) % 9000, 0);
    capture_free(&reordered);
}
END_TEST

START_TEST(rtmp_counter_wraps_at_32_bits_of_milliseconds)
{
    capture result = run_source(FAKE "duration = 4s\ntimestamp_format = rtmp\nwrap_after = 2s\n");
    ck_assert_int_eq(result.video_base_den, 1000);
    int wraps = 0;
    for (guint n = 0; n < result.video->len; n++) {
        const sc_packet *packet = video_at(&result, n);
        ck_assert_int_eq(packet->orig_pts, (RTMP_PERIOD - 2000 + 100 * (int64_t)n) % RTMP_PERIOD);
        ck_assert_int_eq(packet->orig_duration, 100);
        if (n > 0 && packet->orig_pts < video_at(&result, n - 1)->orig_pts) {
            wraps++;
            ck_assert_uint_eq(n, 20);
            ck_assert_int_eq(packet->orig_pts, 0);
        }
    }
    ck_assert_int_eq(wraps, 1);
    for (guint k = 0; k < result.audio->len; k++)
        ck_assert_int_eq(audio_at(&result, k)->orig_pts,
                         (RTMP_PERIOD - 2000 + scaled(k * 1024, 1000, 48000)) % RTMP_PERIOD);
    capture_free(&result);
}
END_TEST

START_TEST(epoch_formats_state_utc)
{
    const int64_t epoch = EPOCH_NS + 250000000; /* .25 s: exact, not rounded through a double product */
    capture seconds = run_source("encode = false\nduration = 3s\nstart_epoch = 1700000000.25\n"
                                 "timestamp_format = epoch_seconds\nannounce_utc = true\n");
    ck_assert_int_eq(seconds.video_base_den, 1000000000);
    ck_assert_int_eq(seconds.audio_base_den, 1000000000);
    for (guint n = 0; n < seconds.video->len; n++) {
        const sc_packet *packet = video_at(&seconds, n);
        ck_assert_int_eq(packet->orig_pts, epoch + n * NS_PER_SEC / 10);
        ck_assert_int_eq(packet->orig_duration, NS_PER_SEC / 10);
        ck_assert_int_eq(packet->source_utc_ns, epoch + n * NS_PER_SEC / 10);
        ck_assert_int_eq(packet->arrival_ns, epoch + n * NS_PER_SEC / 10);
    }
    for (guint k = 0; k < seconds.audio->len; k++) {
        ck_assert_int_eq(audio_at(&seconds, k)->orig_pts, epoch + audio_ns(k));
        ck_assert_int_eq(audio_at(&seconds, k)->source_utc_ns, epoch + audio_ns(k));
    }
    capture_free(&seconds);

    capture millis = run_source("encode = false\nduration = 3s\nstart_epoch = 1700000000.25\n"
                                "timestamp_format = epoch_millis\n");
    ck_assert_int_eq(millis.video_base_den, 1000);
    for (guint n = 0; n < millis.video->len; n++) {
        ck_assert_int_eq(video_at(&millis, n)->orig_pts, INT64_C(1700000000250) + 100 * (int64_t)n);
        ck_assert_int_eq(video_at(&millis, n)->source_utc_ns, SC_TIME_NONE);
    }
    for (guint k = 0; k < millis.audio->len; k++)
        ck_assert_int_eq(audio_at(&millis, k)->orig_pts, INT64_C(1700000000250) + scaled(k * 1024, 1000, 48000));
    capture_free(&millis);
}
END_TEST

START_TEST(every_tenth_packet_has_no_timestamps)
{
    capture result = run_source(FAKE "duration = 5s\ndrop_timestamps_every = 10\n");
    guint dropped = 0;
    for (guint i = 0; i < result.packets->len; i++) {
        const sc_packet *packet = result.packets->pdata[i];
        bool expected = (i + 1) % 10 == 0;
        ck_assert_msg((packet->orig_pts == SC_TIME_NONE) == expected, "packet %u", i);
        ck_assert_msg((packet->orig_dts == SC_TIME_NONE) == expected, "packet %u", i);
        ck_assert_int_gt(packet->orig_duration, 0);
        dropped += expected;
    }
    ck_assert_uint_eq(result.packets->len, 285);
    ck_assert_uint_eq(dropped, 28);
    /* The others are untouched. */
    for (guint n = 0; n < result.video->len; n++)
        if (video_at(&result, n)->orig_pts != SC_TIME_NONE) ck_assert_int_eq(video_at(&result, n)->orig_pts, n);
    capture_free(&result);
}
END_TEST

START_TEST(every_nth_video_packet_is_an_outlier)
{
    capture result = run_source(FAKE "duration = 10s\noutlier_every = 25\n");
    ck_assert_uint_eq(result.video->len, 100);
    for (guint n = 0; n < result.video->len; n++) {
        int64_t offset = 0;
        if (n == 24 || n == 74) offset = 70;  /* +7 s in 1/10 */
        if (n == 49 || n == 99) offset = -50; /* -5 s */
        ck_assert_int_eq(video_at(&result, n)->orig_pts, (int64_t)n + offset);
        ck_assert_int_eq(video_at(&result, n)->orig_dts, (int64_t)n + offset);
        ck_assert_int_eq(video_at(&result, n)->arrival_ns, EPOCH_NS + n * NS_PER_SEC / 10);
    }
    for (guint k = 0; k < result.audio->len; k++) ck_assert_int_eq(audio_at(&result, k)->orig_pts, (int64_t)k * 1024);
    capture_free(&result);
}
END_TEST

START_TEST(timestamps_jump_at_jump_at)
{
    capture result = run_source(FAKE "duration = 5s\njump_at = 3s\n");
    for (guint n = 0; n < result.video->len; n++)
        ck_assert_int_eq(video_at(&result, n)->orig_pts, (int64_t)n + (n >= 30 ? 36000 : 0));
    for (guint k = 0; k < result.audio->len; k++) /* 141 * 1024 / 48000 = 3.008 s is the first at or after 3 s */
        ck_assert_int_eq(audio_at(&result, k)->orig_pts, (int64_t)k * 1024 + (k >= 141 ? INT64_C(3600) * 48000 : 0));
    capture_free(&result);

    /* Backwards, on the 90 kHz clock. */
    capture back = run_source(FAKE "duration = 5s\njump_at = 3s\njump_by = -2.5\ntimestamp_format = hls\n");
    for (guint n = 0; n < back.video->len; n++)
        ck_assert_int_eq(video_at(&back, n)->orig_pts, 9000 * (int64_t)n - (n >= 30 ? 225000 : 0));
    capture_free(&back);
}
END_TEST

START_TEST(an_hour_of_drift_in_seconds)
{
    /* +150 ppm: 1.00015 s of media per wall second, so at the end of an
     * hour the packets arrive 0.54 s before their media time says. */
    capture result = run_source_with(FAKE "duration = 3600s\ndrift_ppm = 150\nannounce_utc = true\n", "60s", "");
    fprintf(stderr, "an hour of fake 10 fps video and 48 kHz audio took %.2f s (%u packets)\n", result.seconds,
            result.packets->len);
    ck_assert_uint_eq(result.video->len, 36000);
    ck_assert_uint_eq(result.audio->len, 168750);
    ck_assert_double_lt(result.seconds, 10);
    for (guint n = 0; n < result.video->len; n++) {
        const sc_packet *packet = video_at(&result, n);
        int64_t media = n * NS_PER_SEC / 10;
        ck_assert_int_eq(packet->orig_pts, n);
        ck_assert_int_eq(packet->arrival_ns, EPOCH_NS + drifted(media, 150));
        ck_assert_int_eq(packet->source_utc_ns, EPOCH_NS + drifted(media, 150));
    }
    for (guint k = 0; k < result.audio->len; k++) {
        const sc_packet *packet = audio_at(&result, k);
        ck_assert_int_eq(packet->orig_pts, (int64_t)k * 1024);
        ck_assert_int_eq(packet->arrival_ns, EPOCH_NS + drifted(audio_ns(k), 150));
    }
    const sc_packet *last = video_at(&result, 35999);
    double behind = 3599.9 - (last->arrival_ns - EPOCH_NS) / 1e9;
    ck_assert_double_eq_tol(behind, 3599.9 * 150e-6 / 1.00015, 1e-6);
    ck_assert_double_eq_tol(behind, 0.54, 0.001);
    ck_assert_uint_eq(result.records->len, 60);
    capture_free(&result);

    /* Slow: the wall clock runs ahead of the media. */
    capture slow = run_source(FAKE "duration = 100s\ndrift_ppm = -150\naudio = false\n");
    ck_assert_int_eq(video_at(&slow, 999)->arrival_ns, EPOCH_NS + drifted(99900000000, -150));
    ck_assert_int_eq(video_at(&slow, 999)->arrival_ns - EPOCH_NS - 99900000000, 14987248);
    capture_free(&slow);
}
END_TEST

START_TEST(an_hour_of_real_h264_is_fast_at_a_small_size)
{
    capture result = run_source_with("duration = 3600s\naudio = false\nstart_epoch = 1700000000\n", "60s", "");
    fprintf(stderr, "an hour of x264 64x36 10 fps video took %.2f s\n", result.seconds);
    ck_assert_uint_eq(result.video->len, 36000);
    ck_assert_double_lt(result.seconds, 30);
    capture_free(&result);
}
END_TEST

START_TEST(jitter_is_bounded_seeded_and_leaves_media_time_alone)
{
    capture first = run_source(FAKE "duration = 60s\naudio = false\njitter_ms = 30\nseed = 7\n");
    capture again = run_source(FAKE "duration = 60s\naudio = false\njitter_ms = 30\nseed = 7\n");
    capture other = run_source(FAKE "duration = 60s\naudio = false\njitter_ms = 30\nseed = 8\n");
    int64_t lowest = 0, highest = 0;
    guint differing = 0;
    for (guint n = 0; n < first.video->len; n++) {
        const sc_packet *packet = video_at(&first, n);
        int64_t deviation = packet->arrival_ns - (EPOCH_NS + n * NS_PER_SEC / 10);
        ck_assert_int_le(llabs(deviation), 30000000);
        lowest = MIN(lowest, deviation);
        highest = MAX(highest, deviation);
        ck_assert_int_eq(packet->orig_pts, n);
        ck_assert_int_eq(packet->arrival_ns, video_at(&again, n)->arrival_ns);
        differing += packet->arrival_ns != video_at(&other, n)->arrival_ns;
        if (n > 0) ck_assert_int_ge(packet->arrival_ns, video_at(&first, n - 1)->arrival_ns);
    }
    ck_assert_int_lt(lowest, -25000000);
    ck_assert_int_gt(highest, 25000000);
    ck_assert_uint_gt(differing, 590);
    capture_free(&first);
    capture_free(&again);
    capture_free(&other);

    /* More jitter than the frame interval: still bounded, never backwards. */
    capture wide = run_source(FAKE "duration = 60s\njitter_ms = 300\n");
    guint held = 0;
    for (guint i = 0; i < wide.packets->len; i++) {
        const sc_packet *packet = wide.packets->pdata[i];
        int64_t media = (int)packet->stream_index == wide.video_index ? packet->orig_pts * NS_PER_SEC / 10
                                                                      : audio_ns(packet->orig_pts / 1024);
        ck_assert_int_le(llabs(packet->arrival_ns - EPOCH_NS - media), 300000000);
        if (i > 0) {
            int64_t previous = ((const sc_packet *)wide.packets->pdata[i - 1])->arrival_ns;
            ck_assert_int_ge(packet->arrival_ns, previous);
            held += packet->arrival_ns == previous;
        }
    }
    ck_assert_uint_gt(held, 100);
    capture_free(&wide);
}
END_TEST

static void assert_same_packets(const capture *a, const capture *b)
{
    ck_assert_uint_eq(a->packets->len, b->packets->len);
    for (guint i = 0; i < a->packets->len; i++) {
        const sc_packet *x = a->packets->pdata[i], *y = b->packets->pdata[i];
        ck_assert_uint_eq(x->stream_index, y->stream_index);
        ck_assert_uint_eq(x->flags, y->flags);
        ck_assert_int_eq(x->orig_pts, y->orig_pts);
        ck_assert_int_eq(x->orig_dts, y->orig_dts);
        ck_assert_int_eq(x->orig_duration, y->orig_duration);
        ck_assert_int_eq(x->arrival_ns, y->arrival_ns);
        ck_assert_int_eq(x->source_utc_ns, y->source_utc_ns);
        ck_assert_uint_eq(x->size, y->size);
        ck_assert(memcmp(x->data, y->data, x->size) == 0);
    }
}

START_TEST(runs_are_identical)
{
    const char *options = "duration = 4s\nstart_epoch = 1700000000\ntimestamp_format = hls\nwrap_after = 1s\n"
                          "jitter_ms = 20\noutlier_every = 7\ndrop_timestamps_every = 13\njump_at = 2s\n"
                          "drift_ppm = 500\nannounce_utc = true\nscene_every = 1.5s\n";
    capture first = run_source(options), second = run_source(options);
    assert_same_packets(&first, &second);
    capture_free(&first);
    capture_free(&second);

    char *fake = g_strconcat("encode = false\n", options, NULL);
    first = run_source(fake);
    second = run_source(fake);
    assert_same_packets(&first, &second);
    /* Fake keyframes fall where x264's do here: every gop (60) and at each
     * scene cut (1.5 s), which restarts the count. */
    for (guint n = 0; n < first.video->len; n++)
        ck_assert_int_eq((video_at(&first, n)->flags & SC_PACKET_KEY) != 0, n % 15 == 0);
    capture_free(&first);
    capture_free(&second);
    g_free(fake);
}
END_TEST

static int compare_int64(const void *a, const void *b)
{
    int64_t left = *(const int64_t *)a, right = *(const int64_t *)b;
    return left < right ? -1 : left > right;
}

/* How late each frame of a paced run arrived against its drifted due time
 * (with start_epoch set, arrival is that epoch plus the time elapsed since
 * the start): never early, and the median small, since a delayed wake-up
 * (a loaded machine) does not delay the frames after it. */
static void assert_paced(const capture *result, double drift_ppm)
{
    guint count = result->video->len;
    int64_t *lateness = g_new(int64_t, count);
    for (guint n = 0; n < count; n++) {
        lateness[n] = video_at(result, n)->arrival_ns - EPOCH_NS - drifted(n * NS_PER_SEC / 10, drift_ppm);
        ck_assert_msg(lateness[n] >= 0, "frame %u arrived %" G_GINT64_FORMAT " ns early", n, -lateness[n]);
    }
    qsort(lateness, count, sizeof lateness[0], compare_int64);
    ck_assert_msg(lateness[count / 2] < 30000000, "median lateness %" G_GINT64_FORMAT " ns", lateness[count / 2]);
    g_free(lateness);
}

START_TEST(realtime_pacing_follows_the_drifted_clock)
{
    /* +10 %: frame 19 (1.9 s of media) is due after 1.727 s; -10 %: after
     * 2.111 s. Without drift both would be 1.9 s, far beyond the lateness
     * allowed. */
    capture fast = run_source("encode = false\naudio = false\nrealtime = true\nduration = 2s\n"
                              "start_epoch = 1700000000\ndrift_ppm = 100000\n");
    capture slow = run_source("encode = false\naudio = false\nrealtime = true\nduration = 2s\n"
                              "start_epoch = 1700000000\ndrift_ppm = -100000\n");
    ck_assert_uint_eq(fast.video->len, 20);
    assert_paced(&fast, 100000);
    assert_paced(&slow, -100000);
    ck_assert_int_eq(video_at(&fast, 19)->orig_pts, 19);
    capture_free(&fast);
    capture_free(&slow);

    /* Jitter moves the pacing too, within its bounds. */
    capture jittered = run_source("encode = false\naudio = false\nrealtime = true\nduration = 2s\n"
                                  "start_epoch = 1700000000\njitter_ms = 40\n");
    int64_t earliest = INT64_MAX;
    for (guint n = 0; n < jittered.video->len; n++)
        earliest = MIN(earliest, video_at(&jittered, n)->arrival_ns - EPOCH_NS - (int64_t)n * NS_PER_SEC / 10);
    ck_assert_int_ge(earliest, -40000000);
    ck_assert_int_lt(earliest, -5000000); /* some frame went out early */
    capture_free(&jittered);
}
END_TEST

START_TEST(the_host_unwraps_the_hls_counter)
{
    /* The source's wrap and the host's HLS clock agree: one continuous
     * timeline, windows with nothing rebased. */
    capture result = run_source_with(FAKE "duration = 10s\ntimestamp_format = hls\nwrap_after = 3s\n", "2s",
                                     "sync.timestamp_format = HLS_TIMESTAMP\n");
    ck_assert_uint_eq(result.records->len, 5);
    for (guint i = 0; i < result.records->len; i++) {
        const char *record = result.records->pdata[i];
        ck_assert_double_eq_tol(test_number_field(record, "start"), 2.0 * i, 1e-9);
        ck_assert_msg(!test_has_flag(record, "discontinuity"), "%s", record);
    }
    for (guint n = 0; n < result.video->len; n++) ck_assert_int_eq(video_at(&result, n)->pts, n * NS_PER_SEC / 10);
    capture_free(&result);
}
END_TEST

static void assert_refused(const char *options)
{
    char *dir = test_make_dir();
    char *text = g_strdup_printf("[source cam]\nmodule = testsrc\n%s\n[strategy cut]\nmodule = fixed\nsource = cam\n"
                                 "[sink records]\nmodule = jsonl\nfrom = cut\npath = %s/r.jsonl\n",
                                 options, dir);
    char *path = test_write_file(dir, "pipe.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    ck_assert_msg(pipeline != NULL, "%s", errors->len ? (char *)errors->pdata[0] : "");
    ck_assert_msg(!sc_pipeline_create(pipeline, errors), "accepted: %s", options);
    sc_pipeline_free(pipeline);
    g_ptr_array_free(errors, TRUE);
    g_free(text);
    g_free(path);
    test_remove_tree(dir);
    g_free(dir);
}

START_TEST(inconsistent_options_are_refused)
{
    assert_refused("wrap_after = 2s\n");                           /* relative does not wrap */
    assert_refused("timestamp_format = hls\nwrap_after = 95444s\n"); /* beyond 2^33 / 90 kHz */
    assert_refused("encode = false\nbframes = 2\n");
}
END_TEST

static Suite *testsrc_timing_suite(void)
{
    Suite *suite = suite_create("testsrc_timing");
    TCase *cases = tcase_create("timing");
    tcase_set_timeout(cases, 60);
    tcase_add_test(cases, relative_timestamps_and_arrivals_of_the_real_encoders);
    tcase_add_test(cases, hls_counter_wraps_once_at_wrap_after);
    tcase_add_test(cases, hls_counter_starts_at_the_earliest_timestamp_with_aac_priming);
    tcase_add_test(cases, rtmp_counter_wraps_at_32_bits_of_milliseconds);
    tcase_add_test(cases, epoch_formats_state_utc);
    tcase_add_test(cases, every_tenth_packet_has_no_timestamps);
    tcase_add_test(cases, every_nth_video_packet_is_an_outlier);
    tcase_add_test(cases, timestamps_jump_at_jump_at);
    tcase_add_test(cases, an_hour_of_drift_in_seconds);
    tcase_add_test(cases, an_hour_of_real_h264_is_fast_at_a_small_size);
    tcase_add_test(cases, jitter_is_bounded_seeded_and_leaves_media_time_alone);
    tcase_add_test(cases, runs_are_identical);
    tcase_add_test(cases, realtime_pacing_follows_the_drifted_clock);
    tcase_add_test(cases, the_host_unwraps_the_hls_counter);
    tcase_add_test(cases, inconsistent_options_are_refused);
    suite_add_tcase(suite, cases);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(testsrc_timing_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
