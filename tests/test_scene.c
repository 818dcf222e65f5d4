/* The scene strategy on the testsrc source, whose `scene_every` switches to
 * a very different picture at exact multiples of a duration (the first
 * frame at or after k*N opens scene k) while the picture otherwise barely
 * moves. So the cut times, and with them every segment boundary, are known
 * to the frame. Records come back through the real jsonl sink. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* One frame at 25 fps; every cut must be on its exact frame, so the
 * tolerance is far below it (timestamps print with microseconds). */
#define EXACT 1e-4

/* The text of a string field of a JSON record (g_free). */
static char *string_field(const char *record, const char *key)
{
    char *pattern = g_strdup_printf("\"%s\":\"", key);
    const char *at = strstr(record, pattern);
    ck_assert_msg(at != NULL, "no string %s in %s", key, record);
    at += strlen(pattern);
    const char *end = strchr(at, '"');
    ck_assert_ptr_nonnull(end);
    g_free(pattern);
    return g_strndup(at, (gsize)(end - at));
}

static void assert_string_field(const char *record, const char *key, const char *expected)
{
    char *value = string_field(record, key);
    ck_assert_msg(strcmp(value, expected) == 0, "%s is \"%s\", expected \"%s\": %s", key, value, expected, record);
    g_free(value);
}

/* What every scene record must satisfy whatever the options: index, the
 * nominal window, cut_time equal to the start, packets from a keyframe at
 * or before the start (mid_gop_start exactly when before), nothing
 * truncated, partial only when asked. */
static void assert_scene(const char *record, guint index, double start, double end, bool partial)
{
    ck_assert_msg(fabs(test_number_field(record, "index") - index) < 1e-9, "index of %s, expected %u", record, index);
    ck_assert_msg(fabs(test_number_field(record, "start") - start) < EXACT, "start of %s, expected %g", record, start);
    ck_assert_msg(fabs(test_number_field(record, "end") - end) < EXACT, "end of %s, expected %g", record, end);
    ck_assert_msg(fabs(test_number_field(record, "cut_time") - start) < EXACT, "cut_time of %s, expected %g", record,
                  start);
    double keyframe_start = test_number_field(record, "keyframe_start");
    ck_assert_msg(keyframe_start <= start + 1e-9, "keyframe_start after start: %s", record);
    ck_assert_int_eq(test_has_flag(record, "mid_gop_start"), keyframe_start < start - 1e-9);
    ck_assert_msg(test_number_field(record, "packets") > 0, "no packets: %s", record);
    ck_assert(!test_has_flag(record, "truncated"));
    ck_assert_msg(test_has_flag(record, "partial") == partial, "partial flag of %s, expected %d", record, partial);
}

/* A detected cut: the score passed the threshold, far above the drift of
 * the picture between two frames of one scene. */
static void assert_detected(const char *record, double threshold)
{
    assert_string_field(record, "cause", "scene");
    double score = test_number_field(record, "score");
    ck_assert_msg(score >= threshold && score <= 100, "score %g of %s", score, record);
}

START_TEST(cuts_fall_on_the_exact_frames_of_the_scene_changes)
{
    /* 25 fps with B-frames (frames reordered, pts != dts) and audio, then
     * 30 fps without B-frames and a keyframe every 45 frames. */
    static const struct {
        const char *source;
        double scene_every;
        double duration;
    } cases[] = {
        {"rate = 25\nbframes = 2\ngop = 50\nscene_every = 1.6s\nduration = 8s\n", 1.6, 8.0},
        {"rate = 30\ngop = 45\naudio = false\nscene_every = 2s\nduration = 7s\n", 2.0, 7.0},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char *body = g_strdup_printf("[source cam]\nmodule = testsrc\nsize = 320x180\n%s"
                                     "[strategy cut]\nmodule = scene\nsource = cam\n",
                                     cases[c].source);
        test_run_result result = test_run_pipeline(body, 0);
        ck_assert_int_eq(result.status, 0);
        guint expected = (guint)ceil(cases[c].duration / cases[c].scene_every - 1e-9);
        ck_assert_msg(result.records->len == expected, "case %zu: %u records, expected %u", c, result.records->len,
                      expected);
        for (guint i = 0; i < result.records->len; i++) {
            const char *record = g_ptr_array_index(result.records, i);
            double start = cases[c].scene_every * i;
            double end = fmin(cases[c].scene_every * (i + 1), cases[c].duration);
            assert_scene(record, i, start, end, false);
            ck_assert(!test_has_flag(record, "forced"));
            if (i == 0) {
                assert_string_field(record, "cause", "start");
                ck_assert_double_eq_tol(test_number_field(record, "score"), 0, 1e-9);
            } else {
                assert_detected(record, 7);
            }
            assert_string_field(record, "end_cause", i + 1 == result.records->len ? "end" : "scene");
        }
        g_ptr_array_free(result.records, TRUE);
        g_free(body);
    }
}
END_TEST

START_TEST(min_scene_len_suppresses_close_cuts)
{
    /* A change every 0.5 s. With min_scene_len 1.2 s only every third one
     * is far enough from the previous accepted cut: 1.5, 3.0, 4.5. */
    const char *source = "[source cam]\nmodule = testsrc\nsize = 320x180\nrate = 30\naudio = false\n"
                         "scene_every = 0.5s\nduration = 6s\n";
    char *body = g_strdup_printf("%s[strategy cut]\nmodule = scene\nsource = cam\nmin_scene_len = 1.2s\n", source);
    test_run_result result = test_run_pipeline(body, 0);
    ck_assert_int_eq(result.records->len, 4);
    for (guint i = 0; i < 4; i++) {
        const char *record = g_ptr_array_index(result.records, i);
        assert_scene(record, i, 1.5 * i, 1.5 * (i + 1), false);
        if (i > 0) assert_detected(record, 7);
    }
    g_ptr_array_free(result.records, TRUE);
    g_free(body);

    /* Below the spacing, every change is a cut. */
    body = g_strdup_printf("%s[strategy cut]\nmodule = scene\nsource = cam\nmin_scene_len = 0.4s\n", source);
    result = test_run_pipeline(body, 0);
    ck_assert_int_eq(result.records->len, 12);
    for (guint i = 0; i < 12; i++) assert_scene(result.records->pdata[i], i, 0.5 * i, 0.5 * (i + 1), false);
    g_ptr_array_free(result.records, TRUE);
    g_free(body);
}
END_TEST

START_TEST(max_duration_forces_cuts_in_long_scenes)
{
    /* Scenes change at 3 and 6 s; no scene may run 2 s: forced cuts at 2,
     * 5 and 8 s. min_scene_len counts from detected cuts only, so the real
     * cut 1 s after a forced one still counts. */
    test_run_result result = test_run_pipeline("[source cam]\nmodule = testsrc\nsize = 320x180\nrate = 30\n"
                                               "scene_every = 3s\nduration = 9s\n"
                                               "[strategy cut]\nmodule = scene\nsource = cam\nmax_duration = 2s\n",
                                               0);
    static const double starts[] = {0, 2, 3, 5, 6, 8, 9};
    static const char *const causes[] = {"start", "forced", "scene", "forced", "scene", "forced", "end"};
    ck_assert_int_eq(result.records->len, 6);
    for (guint i = 0; i < 6; i++) {
        const char *record = g_ptr_array_index(result.records, i);
        assert_scene(record, i, starts[i], starts[i + 1], false);
        assert_string_field(record, "cause", causes[i]);
        assert_string_field(record, "end_cause", causes[i + 1]);
        /* The segment max_duration cut short is the forced one. */
        ck_assert_msg(test_has_flag(record, "forced") == (strcmp(causes[i + 1], "forced") == 0),
                      "forced flag of %s", record);
        if (strcmp(causes[i], "scene") == 0) assert_detected(record, 7);
    }
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(a_threshold_no_change_reaches_gives_one_scene)
{
    test_run_result result = test_run_pipeline("[source cam]\nmodule = testsrc\nsize = 320x180\nrate = 30\n"
                                               "scene_every = 1s\nduration = 5s\n"
                                               "[strategy cut]\nmodule = scene\nsource = cam\nthreshold = 100\n",
                                               0);
    ck_assert_int_eq(result.status, 0);
    ck_assert_int_eq(result.records->len, 1);
    const char *record = g_ptr_array_index(result.records, 0);
    assert_scene(record, 0, 0, 5, false);
    assert_string_field(record, "cause", "start");
    assert_string_field(record, "end_cause", "end");
    ck_assert(!test_has_flag(record, "forced"));
    /* The one segment holds the whole stream: 150 frames and the audio. */
    ck_assert_double_eq_tol(test_number_field(record, "keyframe_start"), 0, 1e-9);
    ck_assert_msg(test_number_field(record, "packets") >= 150 + 5 * 46, "%s", record);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(adaptive_mode_finds_the_same_cuts)
{
    test_run_result result = test_run_pipeline("[source cam]\nmodule = testsrc\nsize = 320x180\nrate = 30\n"
                                               "bframes = 1\nscene_every = 1.5s\nduration = 6s\n"
                                               "[strategy cut]\nmodule = scene\nsource = cam\n"
                                               "adaptive_threshold = true\n",
                                               0);
    ck_assert_int_eq(result.records->len, 4);
    for (guint i = 0; i < 4; i++) {
        const char *record = g_ptr_array_index(result.records, i);
        assert_scene(record, i, 1.5 * i, 1.5 * (i + 1), false);
        if (i > 0) assert_detected(record, 4);
    }
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(stopping_closes_the_open_scene_as_partial)
{
    /* A live (paced) source stopped after 2.5 s: the scenes that ended
     * before are whole, the open one comes out flagged partial. */
    test_run_result result = test_run_pipeline("[source cam]\nmodule = testsrc\nsize = 320x180\nrate = 30\n"
                                               "realtime = true\nscene_every = 0.3s\n"
                                               "[strategy cut]\nmodule = scene\nsource = cam\nmin_scene_len = 0.2s\n",
                                               2500);
    ck_assert_int_eq(result.status, 0);
    ck_assert_uint_ge(result.records->len, 2);
    guint last = result.records->len - 1;
    for (guint i = 0; i < last; i++)
        assert_scene(result.records->pdata[i], i, 0.3 * i, 0.3 * (i + 1), false);
    const char *record = g_ptr_array_index(result.records, last);
    ck_assert_msg(test_has_flag(record, "partial"), "last scene not partial: %s", record);
    ck_assert_double_eq_tol(test_number_field(record, "start"), 0.3 * last, EXACT);
    ck_assert_double_eq_tol(test_number_field(record, "cut_time"), 0.3 * last, EXACT);
    assert_string_field(record, "end_cause", "end");
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("scene");
    TCase *tcase = tcase_create("scene");
    tcase_add_test(tcase, cuts_fall_on_the_exact_frames_of_the_scene_changes);
    tcase_add_test(tcase, min_scene_len_suppresses_close_cuts);
    tcase_add_test(tcase, max_duration_forces_cuts_in_long_scenes);
    tcase_add_test(tcase, a_threshold_no_change_reaches_gives_one_scene);
    tcase_add_test(tcase, adaptive_mode_finds_the_same_cuts);
    tcase_add_test(tcase, stopping_closes_the_open_scene_as_partial);
    suite_add_tcase(suite, tcase);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
