/* The window strategies (sliding, keyframe, adaptive) on the synth source,
 * whose packets are exactly known, so every boundary, keyframe start and
 * packet count can be checked; the expected values are worked out by hand
 * in the comments and written literally. Records come back through the
 * real jsonl sink. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "test_util.h"

/* ---- helpers ---------------------------------------------------------- */

/* Host log lines, so refused configurations can be checked for naming the
 * values (errors reach GLib's structured log from the host's logger). */
static GMutex log_lock;
static GString *log_text;

static GLogWriterOutput capture_log(GLogLevelFlags flags, const GLogField *fields, gsize n_fields, gpointer data)
{
    g_mutex_lock(&log_lock);
    for (gsize i = 0; i < n_fields; i++) {
        if (g_strcmp0(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0) {
            g_string_append(log_text, fields[i].value);
            g_string_append_c(log_text, '\n');
        }
    }
    g_mutex_unlock(&log_lock);
    return g_log_writer_default(flags, fields, n_fields, data);
}

static char *captured_log(void)
{
    g_mutex_lock(&log_lock);
    char *text = g_strdup(log_text->str);
    g_mutex_unlock(&log_lock);
    return text;
}

/* Packets the host puts in [keyframe_start, end) of a synth stream with
 * `fps` video and, when `audio`, 1024-sample 48 kHz audio, both ending at
 * `length`: video frames with dts in [keyframe_start, end) (no B-frames),
 * audio frames with pts in [keyframe_start, end). */
static int synth_packets(double keyframe_start, double end, double fps, bool audio, double length)
{
    int count = 0;
    for (int64_t n = 0; (double)n / fps < length - 1e-9; n++) {
        double t = (double)n / fps;
        if (t >= keyframe_start - 1e-9 && t < end - 1e-9) count++;
    }
    for (int64_t k = 0; audio && (double)k * 1024 / 48000 < length - 1e-9; k++) {
        double t = (double)k * 1024 / 48000;
        if (t >= keyframe_start - 1e-9 && t < end - 1e-9) count++;
    }
    return count;
}

typedef struct expected_segment {
    double start, end, keyframe_start;
    int packets;      /* -1: computed with synth_packets */
    bool forced, partial;
} expected_segment;

/* Checks every record against the table: index, bounds, keyframe start,
 * packet count and the flags that follow from them. */
static void check_segments(const test_run_result *result, const expected_segment *expected, size_t count,
                           double fps, bool audio, double length)
{
    for (guint i = 0; i < result->records->len; i++) fprintf(stderr, "  %s\n", (char *)result->records->pdata[i]);
    ck_assert_int_eq(result->status, 0);
    ck_assert_uint_eq(result->records->len, count);
    for (size_t i = 0; i < count; i++) {
        const char *record = g_ptr_array_index(result->records, i);
        const expected_segment *want = &expected[i];
        int packets = want->packets >= 0 ? want->packets
                                         : synth_packets(want->keyframe_start, want->end, fps, audio, length);
        ck_assert_double_eq_tol(test_number_field(record, "index"), (double)i, 1e-9);
        ck_assert_msg(fabs(test_number_field(record, "start") - want->start) < 1e-6, "segment %zu start: %s", i, record);
        ck_assert_msg(fabs(test_number_field(record, "end") - want->end) < 1e-6, "segment %zu end: %s", i, record);
        ck_assert_msg(fabs(test_number_field(record, "keyframe_start") - want->keyframe_start) < 1e-6,
                      "segment %zu keyframe_start: %s", i, record);
        ck_assert_msg((int)test_number_field(record, "packets") == packets, "segment %zu: expected %d packets: %s", i,
                      packets, record);
        ck_assert_msg(test_has_flag(record, "mid_gop_start") == (want->keyframe_start < want->start - 1e-9),
                      "segment %zu mid_gop_start: %s", i, record);
        ck_assert_msg(test_has_flag(record, "forced") == want->forced, "segment %zu forced: %s", i, record);
        ck_assert_msg(test_has_flag(record, "partial") == want->partial, "segment %zu partial: %s", i, record);
        ck_assert(!test_has_flag(record, "truncated"));
    }
}

/* Loads and creates a pipeline that must be refused at create time;
 * returns the errors and the log lines (both g_free). */
static void expect_refused(const char *strategy_options, char **errors_text, char **log)
{
    char *dir = test_make_dir();
    char *text = g_strdup_printf("[host]\nmodule_path = %s\n[source cam]\nmodule = synth\n"
                                 "[strategy cut]\nmodule = sliding\nsource = cam\n%s\n"
                                 "[sink records]\nmodule = jsonl\nfrom = cut\npath = -\n",
                                 test_modules_dir(), strategy_options);
    char *path = test_write_file(dir, "pipe.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    g_mutex_lock(&log_lock);
    g_string_truncate(log_text, 0);
    g_mutex_unlock(&log_lock);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    ck_assert_msg(pipeline != NULL, "%s", errors->len ? (char *)errors->pdata[0] : "");
    ck_assert_msg(!sc_pipeline_create(pipeline, errors), "'%s' was accepted", strategy_options);
    sc_pipeline_free(pipeline);
    *errors_text = test_join_errors(errors);
    *log = captured_log();
    g_ptr_array_free(errors, TRUE);
    g_free(text);
    g_free(path);
    test_remove_tree(dir);
    g_free(dir);
}

/* ---- sliding ---------------------------------------------------------- */

/* 10 s at 30 fps, a keyframe every second, with audio. Window k is
 * [k*step, k*step + duration); its packets start at the keyframe at or
 * before k*step; the window the stream ends inside is partial. */
#define SLIDING_SOURCE "[source cam]\nmodule = synth\nduration = 10s\nfps = 30\ngop = 30\n"

START_TEST(sliding_overlap_gives_step_duration_minus_overlap)
{
    /* duration 4, overlap 1 -> step 3: [0,4) [3,7) [6,10) [9,13). */
    test_run_result result = test_run_pipeline(SLIDING_SOURCE "[strategy cut]\nmodule = sliding\nsource = cam\n"
                                               "duration = 4s\noverlap = 1s\n", 0);
    const expected_segment expected[] = {
        {0, 4, 0, -1, false, false},
        {3, 7, 3, -1, false, false},
        {6, 10, 6, -1, false, false},
        {9, 13, 9, -1, false, true},
    };
    check_segments(&result, expected, 4, 30, true, 10);
    /* [0,4): 120 video frames + audio frames 0..187 (187 * 1024/48000 = 3.989 s). */
    ck_assert_double_eq_tol(test_number_field(result.records->pdata[0], "packets"), 120 + 188, 1e-9);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(sliding_step_inside_gops_starts_at_the_keyframe_before)
{
    /* duration 3, overlap 1.5 and step 1.5 given together (consistent):
     * starts 0, 1.5, ..., 9; the half-second starts fall inside a GOP. */
    test_run_result result = test_run_pipeline(SLIDING_SOURCE "[strategy cut]\nmodule = sliding\nsource = cam\n"
                                               "duration = 3s\noverlap = 1.5s\nstep = 1.5s\n", 0);
    const expected_segment expected[] = {
        {0, 3, 0, -1, false, false},
        {1.5, 4.5, 1, -1, false, false},
        {3, 6, 3, -1, false, false},
        {4.5, 7.5, 4, -1, false, false},
        {6, 9, 6, -1, false, false},
        {7.5, 10.5, 7, -1, false, true},
        {9, 12, 9, -1, false, true},
    };
    check_segments(&result, expected, 7, 30, true, 10);
    /* [1.5,4.5) from the keyframe at 1 s: frames 30..134 = 105, audio
     * frames with pts in [1, 4.5): 47..210 = 164. */
    ck_assert_double_eq_tol(test_number_field(result.records->pdata[1], "packets"), 105 + 164, 1e-9);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(sliding_step_above_duration_leaves_gaps)
{
    /* duration 2, step 2.5: [0,2) [2.5,4.5) [5,7) [7.5,9.5), no audio. */
    test_run_result result = test_run_pipeline("[source cam]\nmodule = synth\nduration = 10s\nfps = 30\ngop = 30\n"
                                               "audio = false\n[strategy cut]\nmodule = sliding\nsource = cam\n"
                                               "duration = 2s\nstep = 2.5s\n", 0);
    const expected_segment expected[] = {
        {0, 2, 0, 60, false, false},
        {2.5, 4.5, 2, 75, false, false},
        {5, 7, 5, 60, false, false},
        {7.5, 9.5, 7, 75, false, false},
    };
    check_segments(&result, expected, 4, 30, false, 10);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(sliding_defaults_are_fixed_ten_second_windows)
{
    test_run_result result = test_run_pipeline("[source cam]\nmodule = synth\nduration = 25s\naudio = false\n"
                                               "[strategy cut]\nmodule = sliding\nsource = cam\n", 0);
    const expected_segment expected[] = {
        {0, 10, 0, 300, false, false},
        {10, 20, 10, 300, false, false},
        {20, 30, 20, 150, false, true},
    };
    check_segments(&result, expected, 3, 30, false, 25);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(sliding_refuses_windows_that_cannot_advance)
{
    static const struct {
        const char *options;
        const char *logged;
    } cases[] = {
        {"duration = 5s\noverlap = 5s", "overlap (5s) must be at least 0 and less than duration (5s)"},
        {"duration = 5s\noverlap = 7s", "overlap (7s) must be at least 0 and less than duration (5s)"},
        {"duration = 4s\noverlap = 1s\nstep = 2s", "step (2s) and overlap (1s) disagree"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *errors, *log;
        expect_refused(cases[i].options, &errors, &log);
        ck_assert_msg(strstr(errors, "[strategy cut]: module 'sliding' could not be created") != NULL, "%s", errors);
        ck_assert_msg(strstr(log, cases[i].logged) != NULL, "log does not say '%s':\n%s", cases[i].logged, log);
        g_free(errors);
        g_free(log);
    }
}
END_TEST

/* ---- keyframe --------------------------------------------------------- */

/* Keyframe lists are frame numbers at 30 fps; no audio, so a segment's
 * packets are its video frames: end frame - keyframe_start frame. */

START_TEST(keyframe_cuts_at_the_first_keyframe_past_each_boundary)
{
    /* Keyframes (s): 0, 1.5, 3.333, 5.667, 6.667, 9.667, 10, 14, 14.333,
     * 16.667, 18.5; duration 2. With n cuts made, the boundary is 2(n+1):
     *   n=0 b=2: 1.5 no, 3.333 cut      n=1 b=4: 5.667 cut
     *   n=2 b=6: 6.667 cut              n=3 b=8: 9.667 cut
     *   n=4 b=10: 10 cut (equal)        n=5 b=12: 14 cut (12 skipped by the GOP)
     *   n=6 b=14: 14.333 cut            n=7 b=16: 16.667 cut
     *   n=8 b=18: 18.5 cut              end of input: [18.5, 20). */
    test_run_result result = test_run_pipeline("[source cam]\nmodule = synth\nduration = 20s\naudio = false\n"
                                               "keyframes = 0,45,100,170,200,290,300,420,430,500,555\n"
                                               "[strategy cut]\nmodule = keyframe\nsource = cam\nduration = 2s\n", 0);
    const expected_segment expected[] = {
        {0, 100 / 30.0, 0, 100, false, false},
        {100 / 30.0, 170 / 30.0, 100 / 30.0, 70, false, false},
        {170 / 30.0, 200 / 30.0, 170 / 30.0, 30, false, false},
        {200 / 30.0, 290 / 30.0, 200 / 30.0, 90, false, false},
        {290 / 30.0, 10, 290 / 30.0, 10, false, false},
        {10, 14, 10, 120, false, false},
        {14, 430 / 30.0, 14, 10, false, false},
        {430 / 30.0, 500 / 30.0, 430 / 30.0, 70, false, false},
        {500 / 30.0, 18.5, 500 / 30.0, 55, false, false},
        {18.5, 20, 18.5, 45, false, false},
    };
    check_segments(&result, expected, 10, 30, false, 20);
    ck_assert_double_eq_tol(test_number_field(result.records->pdata[4], "cut_pts"), 290 / 30.0, 1e-6);
    ck_assert_double_eq_tol(test_number_field(result.records->pdata[5], "cut_pts"), 10, 1e-6);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(keyframe_long_gop_makes_one_segment_then_catches_up)
{
    /* Keyframes (s): 0, 0.5, 1.333, 5.333, 5.667, 5.833, 8.333; duration 1,
     * max_duration far away. The GOP from 1.333 to 5.333 spans the 2..5 s
     * boundaries: one segment, no empty ones; the count then lags and the
     * next keyframes cut at once (FFmpeg's segment muxer does the same):
     *   n=0 b=1: 0.5 no, 1.333 cut   n=1 b=2: 5.333 cut   n=2 b=3: 5.667 cut
     *   n=3 b=4: 5.833 cut           n=4 b=5: 8.333 cut   end: [8.333, 10). */
    test_run_result result = test_run_pipeline("[source cam]\nmodule = synth\nduration = 10s\naudio = false\n"
                                               "keyframes = 0,15,40,160,170,175,250\n"
                                               "[strategy cut]\nmodule = keyframe\nsource = cam\nduration = 1s\n"
                                               "max_duration = 1h\n", 0);
    const expected_segment expected[] = {
        {0, 40 / 30.0, 0, 40, false, false},
        {40 / 30.0, 160 / 30.0, 40 / 30.0, 120, false, false},
        {160 / 30.0, 170 / 30.0, 160 / 30.0, 10, false, false},
        {170 / 30.0, 175 / 30.0, 170 / 30.0, 5, false, false},
        {175 / 30.0, 250 / 30.0, 175 / 30.0, 75, false, false},
        {250 / 30.0, 10, 250 / 30.0, 50, false, false},
    };
    check_segments(&result, expected, 6, 30, false, 10);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(keyframe_forces_a_cut_after_max_duration)
{
    /* Keyframes (s): 0, 1, 14.5; duration 2, max_duration 3. No keyframe
     * from 1 to 14.5, so cuts are forced every 3 s from the segment start;
     * after each forced cut the next boundary is the first multiple of 2
     * after it. The forced-start segments begin mid-GOP, their packets at
     * the keyframe at 1 s:
     *   [0,3) forced, [3,6) forced, [6,9) forced, [9,12) forced,
     *   [12,14.5): boundary 14, keyframe 14.5 before 12+3 -> a clean cut,
     *   [14.5,17) to the end of input. */
    test_run_result result = test_run_pipeline("[source cam]\nmodule = synth\nduration = 17s\naudio = false\n"
                                               "keyframes = 0,30,435\n"
                                               "[strategy cut]\nmodule = keyframe\nsource = cam\nduration = 2s\n"
                                               "max_duration = 3s\n", 0);
    const expected_segment expected[] = {
        {0, 3, 0, 90, true, false},
        {3, 6, 1, 150, true, false},
        {6, 9, 1, 240, true, false},
        {9, 12, 1, 330, true, false},
        {12, 14.5, 1, 405, false, false},
        {14.5, 17, 14.5, 75, false, false},
    };
    check_segments(&result, expected, 6, 30, false, 17);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(keyframe_default_max_duration_is_three_durations)
{
    /* Keyframes at 0 and 8 s only; duration 1: forced at 3 and 6, then the
     * keyframe at 8 (boundary 7) cuts; end of input at 10. */
    test_run_result result = test_run_pipeline("[source cam]\nmodule = synth\nduration = 10s\naudio = false\n"
                                               "keyframes = 0,240\n"
                                               "[strategy cut]\nmodule = keyframe\nsource = cam\nduration = 1s\n", 0);
    const expected_segment expected[] = {
        {0, 3, 0, 90, true, false},
        {3, 6, 0, 180, true, false},
        {6, 8, 0, 240, false, false},
        {8, 10, 8, 60, false, false},
    };
    check_segments(&result, expected, 4, 30, false, 10);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(keyframe_audio_only_cuts_at_any_packet)
{
    /* A 10 s mono 16-bit WAV at 8192 Hz: FFmpeg's demuxer reads 4096-byte
     * packets, 0.25 s each, every one a keyframe. Duration 0.6:
     *   b=0.6: 0.75   b=1.2: 1.25   b=1.8: 2    b=2.4: 2.5   b=3: 3
     *   b=3.6: 3.75   b=4.2: 4.25   b=4.8: 5    b=5.4: 5.5   b=6: 6
     *   b=6.6: 6.75   b=7.2: 7.25   b=7.8: 8    b=8.4: 8.5   b=9: 9
     *   b=9.6: 9.75   end of input: [9.75, 10). */
    char *dir = test_make_dir();
    char *wav_path = g_build_filename(dir, "tone.wav", NULL);
    const uint32_t rate = 8192, samples = rate * 10, data_bytes = samples * 2;
    uint8_t *wav = g_malloc0(44 + data_bytes);
    memcpy(wav, "RIFF", 4);
    uint32_t riff_size = 36 + data_bytes, fmt_size = 16, byte_rate = rate * 2;
    uint16_t pcm = 1, channels = 1, block_align = 2, bits = 16;
    memcpy(wav + 4, &riff_size, 4);
    memcpy(wav + 8, "WAVEfmt ", 8);
    memcpy(wav + 16, &fmt_size, 4);
    memcpy(wav + 20, &pcm, 2);
    memcpy(wav + 22, &channels, 2);
    memcpy(wav + 24, &rate, 4);
    memcpy(wav + 28, &byte_rate, 4);
    memcpy(wav + 32, &block_align, 2);
    memcpy(wav + 34, &bits, 2);
    memcpy(wav + 36, "data", 4);
    memcpy(wav + 40, &data_bytes, 4);
    ck_assert(g_file_set_contents(wav_path, (const char *)wav, 44 + data_bytes, NULL));
    g_free(wav);
    char *body = g_strdup_printf("[source cam]\nmodule = avformat\nurl = %s\n"
                                 "[strategy cut]\nmodule = keyframe\nsource = cam\nduration = 0.6s\n", wav_path);
    test_run_result result = test_run_pipeline(body, 0);
    static const double cuts[] = {0, 0.75, 1.25, 2, 2.5, 3, 3.75, 4.25, 5, 5.5, 6, 6.75, 7.25, 8, 8.5, 9, 9.75, 10};
    const size_t count = G_N_ELEMENTS(cuts) - 1;
    expected_segment expected[G_N_ELEMENTS(cuts) - 1];
    for (size_t i = 0; i < count; i++)
        expected[i] = (expected_segment){cuts[i], cuts[i + 1], cuts[i], (int)((cuts[i + 1] - cuts[i]) / 0.25 + 0.5),
                                         false, false};
    check_segments(&result, expected, count, 30, false, 10);
    g_ptr_array_free(result.records, TRUE);
    g_free(body);
    g_free(wav_path);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

/* ---- adaptive --------------------------------------------------------- */

START_TEST(adaptive_busy_segments_are_shorter_than_calm_ones)
{
    /* 120 s at 30 fps, a keyframe every 0.5 s, video sizes per second in a
     * 60 s cycle: 30 s calm (x1), 15 s busy (x5), 15 s calm. Calm seconds
     * are the majority of every 60 s history, so the median rate is the
     * calm one: calm r = 1, c = 0.5 -> (2 + 12) / 2 = 7 s; busy r = 5,
     * c = 5/6 -> 7 - 5 * (1/3) / 0.5 = 3.67 s, cut at the next keyframe: 4 s. */
    GString *pattern = g_string_new(NULL);
    for (int second = 0; second < 60; second++)
        g_string_append(pattern, second >= 30 && second < 45 ? "5," : "1,");
    g_string_truncate(pattern, pattern->len - 1);
    char *body = g_strdup_printf("[source cam]\nmodule = synth\nduration = 120s\nfps = 30\ngop = 15\naudio = false\n"
                                 "size_pattern = %s\n[strategy cut]\nmodule = adaptive\nsource = cam\n"
                                 "min_segment_duration = 2s\nmax_segment_duration = 12s\n", pattern->str);
    test_run_result result = test_run_pipeline(body, 0);
    for (guint i = 0; i < result.records->len; i++) fprintf(stderr, "  %s\n", (char *)result.records->pdata[i]);
    ck_assert_int_eq(result.status, 0);
    ck_assert_uint_ge(result.records->len, 10);
    double busy_longest = 0, calm_shortest = 1e9, busy_complexity_lowest = 1, calm_complexity_highest = 0;
    int busy = 0, calm = 0;
    double previous_end = 0;
    for (guint i = 0; i < result.records->len; i++) {
        const char *record = g_ptr_array_index(result.records, i);
        double start = test_number_field(record, "start"), end = test_number_field(record, "end");
        double complexity = test_number_field(record, "complexity");
        bool last = i + 1 == result.records->len;
        ck_assert_double_eq_tol(start, previous_end, 1e-9);
        previous_end = end;
        /* On keyframes: every 0.5 s, and the packets start right there. */
        ck_assert_msg(fabs(start * 2 - round(start * 2)) < 1e-6, "start %g is not a keyframe: %s", start, record);
        ck_assert_double_eq_tol(test_number_field(record, "keyframe_start"), start, 1e-6);
        ck_assert(!test_has_flag(record, "forced") && !test_has_flag(record, "mid_gop_start"));
        ck_assert(complexity > 0 && complexity < 1);
        if (!last) ck_assert_msg(end - start >= 2 - 1e-9 && end - start <= 12 + 1e-9, "length out of range: %s", record);
        if (last) continue;
        /* Whole segments inside one phase of the cycle, the first second
         * of each phase left to the 1 s rate window. */
        double phase_start = fmod(start, 60), phase_end = phase_start + (end - start);
        if (phase_start >= 31 && phase_end <= 45) {
            busy++;
            ck_assert_msg(fabs(end - start - 4) < 1e-6 && fabs(complexity - 0.833) < 1e-9, "busy: %s", record);
            busy_longest = fmax(busy_longest, end - start);
            busy_complexity_lowest = fmin(busy_complexity_lowest, complexity);
        } else if ((phase_start >= 1 && phase_end <= 30) || (phase_start >= 46 && phase_end <= 60)) {
            calm++;
            ck_assert_msg(fabs(end - start - 7) < 1e-6 && fabs(complexity - 0.5) < 1e-9, "calm: %s", record);
            calm_shortest = fmin(calm_shortest, end - start);
            calm_complexity_highest = fmax(calm_complexity_highest, complexity);
        }
    }
    ck_assert_int_ge(busy, 2);
    ck_assert_int_ge(calm, 4);
    ck_assert_msg(busy_longest < calm_shortest, "busy segments up to %g s, calm ones from %g s", busy_longest,
                  calm_shortest);
    ck_assert_msg(busy_complexity_lowest > calm_complexity_highest, "busy complexity from %g, calm up to %g",
                  busy_complexity_lowest, calm_complexity_highest);
    g_ptr_array_free(result.records, TRUE);
    g_string_free(pattern, TRUE);
    g_free(body);
}
END_TEST

int main(void)
{
    log_text = g_string_new(NULL);
    g_log_set_writer_func(capture_log, NULL, NULL);
    Suite *suite = suite_create("windows");
    TCase *sliding = tcase_create("sliding");
    tcase_add_test(sliding, sliding_overlap_gives_step_duration_minus_overlap);
    tcase_add_test(sliding, sliding_step_inside_gops_starts_at_the_keyframe_before);
    tcase_add_test(sliding, sliding_step_above_duration_leaves_gaps);
    tcase_add_test(sliding, sliding_defaults_are_fixed_ten_second_windows);
    tcase_add_test(sliding, sliding_refuses_windows_that_cannot_advance);
    suite_add_tcase(suite, sliding);
    TCase *keyframe = tcase_create("keyframe");
    tcase_add_test(keyframe, keyframe_cuts_at_the_first_keyframe_past_each_boundary);
    tcase_add_test(keyframe, keyframe_long_gop_makes_one_segment_then_catches_up);
    tcase_add_test(keyframe, keyframe_forces_a_cut_after_max_duration);
    tcase_add_test(keyframe, keyframe_default_max_duration_is_three_durations);
    tcase_add_test(keyframe, keyframe_audio_only_cuts_at_any_packet);
    suite_add_tcase(suite, keyframe);
    TCase *adaptive = tcase_create("adaptive");
    tcase_add_test(adaptive, adaptive_busy_segments_are_shorter_than_calm_ones);
    suite_add_tcase(suite, adaptive);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    g_string_free(log_text, TRUE);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
