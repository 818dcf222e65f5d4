/* The frame synchronizer end to end: sources whose clocks drift against
 * the wall clock, cut into synchronized sets; counters that wrap. The test
 * source simulates arrival times, so an hour of stream runs in seconds. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define EPOCH 1764000000.0

/* Wall-clock time at which a source with this drift (ppm) and start
 * showed media time t: the test source's own model. */
static double true_wall(double start, double ppm, double t)
{
    return start + t / (1.0 + ppm * 1e-6);
}

/* The largest disagreement, in seconds, between the two members' windows
 * on the true wall clock, over the sets after the first minute. */
static double worst_disagreement(GPtrArray *records, int *sets)
{
    double worst = 0;
    *sets = 0;
    for (guint i = 0; i < records->len; i++) {
        const char *record = records->pdata[i];
        const char *a = strstr(record, "\"fast\":{"), *b = strstr(record, "\"slow\":{");
        if (!a || !b) continue;
        double a_start = test_number_field(a, "start"), b_start = test_number_field(b, "start");
        if (a_start < 60) continue;
        double difference = fabs(true_wall(EPOCH, 150, a_start) - true_wall(EPOCH + 0.25, -150, b_start));
        if (difference > worst) worst = difference;
        (*sets)++;
    }
    return worst;
}

static char *drift_pipeline(const char *correct)
{
    return g_strdup_printf(
        "[source fast]\nmodule = testsrc\nencode = false\naudio = false\nrate = 30\ngop = 30\nduration = 3600s\n"
        "drift_ppm = 150\nstart_epoch = %.2f\njitter_ms = 20\nseed = 1\nsync.correct_drift = %s\n"
        "[source slow]\nmodule = testsrc\nencode = false\naudio = false\nrate = 30\ngop = 30\nduration = 3600s\n"
        "drift_ppm = -150\nstart_epoch = %.2f\njitter_ms = 20\nseed = 2\nsync.correct_drift = %s\n"
        "[sync both]\nmodule = fixed\nsources = fast, slow\nduration = 10s\n",
        EPOCH, correct, EPOCH + 0.25, correct);
}

START_TEST(drifting_sources_stay_within_a_frame_for_an_hour)
{
    char *body = drift_pipeline("true");
    test_run_result corrected = test_run_pipeline_from(body, "both", 0);
    g_free(body);
    ck_assert_int_eq(corrected.status, 0);
    int sets;
    double worst = worst_disagreement(corrected.records, &sets);
    ck_assert_msg(sets > 340, "only %d full sets", sets);
    ck_assert_msg(worst < 0.033, "members %.1f ms apart with drift correction", worst * 1000);
    g_ptr_array_free(corrected.records, TRUE);

    /* The same without correction: 2 x 150 ppm of an hour is about 1 s. */
    body = drift_pipeline("false");
    test_run_result uncorrected = test_run_pipeline_from(body, "both", 0);
    g_free(body);
    worst = worst_disagreement(uncorrected.records, &sets);
    ck_assert_msg(worst > 0.5, "members only %.1f ms apart without correction", worst * 1000);
    g_ptr_array_free(uncorrected.records, TRUE);
}
END_TEST

START_TEST(streams_run_through_the_33_bit_wrap)
{
    test_run_result result = test_run_pipeline(
        "[source cam]\nmodule = testsrc\nencode = false\naudio = false\nrate = 30\ngop = 60\nduration = 20s\n"
        "timestamp_format = hls\nwrap_after = 5s\nsync.timestamp_format = HLS_TIMESTAMP\n"
        "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 2s\n", 0);
    ck_assert_int_eq(result.records->len, 10);
    double packets = 0;
    for (guint i = 0; i < 10; i++) {
        const char *record = result.records->pdata[i];
        ck_assert_double_eq_tol(test_number_field(record, "start"), 2.0 * i, 1e-9);
        ck_assert_double_eq_tol(test_number_field(record, "keyframe_start"), 2.0 * i, 1e-6);
        ck_assert_msg(!test_has_flag(record, "discontinuity"), "%s", record);
        ck_assert_double_eq_tol(test_number_field(record, "packets"), 60, 1e-9);
        packets += test_number_field(record, "packets");
    }
    /* Every frame once: nothing lost or doubled at the wrap. */
    ck_assert_double_eq_tol(packets, 600, 1e-9);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

/* A module that asks for a window only once it has passed (scene, at the
 * next cut) keeps its start with strategy_hold, on the reference clock;
 * each member keeps it on its own timeline, and starts at its own copy of
 * the cut's keyframe. */
START_TEST(scene_cuts_hold_and_align_every_member)
{
    /* One start_epoch: both members on one stream-given clock. Arrival
     * times of two files read as fast as they go differ by however the
     * threads were scheduled (8 ms under load), more than a keyframe
     * snap, and the cut keyframe at 5.0 s would open one member's set
     * and fall to the other's previous one. */
    test_run_result result = test_run_pipeline_from(
        "[source a]\nmodule = testsrc\nduration = 15s\nscene_every = 5s\nsize = 320x180\nbuffer.max_items = 300\n"
        "start_epoch = 1764000000\n"
        "[source b]\nmodule = testsrc\nduration = 15s\nscene_every = 5s\nsize = 320x180\nbuffer.max_items = 300\n"
        "start_epoch = 1764000000\n"
        "[sync both]\nmodule = scene\nsources = a, b\n", "both", 0);
    ck_assert_int_eq(result.status, 0);
    ck_assert_uint_eq(result.records->len, 3);
    for (guint i = 0; i < result.records->len; i++) {
        const char *record = result.records->pdata[i];
        test_assert_members_alike(record);
        ck_assert_double_eq_tol(test_number_field(strstr(record, "\"a\":{"), "start"), 5.0 * i, 0.005);
    }
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("sync");
    TCase *tcase = tcase_create("sync");
    tcase_add_test(tcase, drifting_sources_stay_within_a_frame_for_an_hour);
    tcase_add_test(tcase, streams_run_through_the_33_bit_wrap);
    tcase_add_test(tcase, scene_cuts_hold_and_align_every_member);
    tcase_set_timeout(tcase, 300);
    suite_add_tcase(suite, tcase);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
