/* Whole pipelines run in-process on the synth test source, whose packets
 * are exactly known, so segment boundaries and contents can be checked to
 * the packet. Records come back through the real jsonl sink. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "test_util.h"

/* What the segment [start, end) must hold for the synth stream: video from
 * the keyframe at or before start (decode order, dts < end), audio frames
 * whose pts lie in [keyframe, end). */
static void expected_contents(double start, double end, double fps, int gop, double duration,
                              double *keyframe_start, int *packets)
{
    int64_t frame = (int64_t)floor(start * fps + 1e-9);
    int64_t keyframe = frame - frame % gop;
    *keyframe_start = (double)keyframe / fps;
    int count = 0;
    for (int64_t n = keyframe; (double)n / fps < end - 1e-9 && (double)n / fps < duration - 1e-9; n++) count++;
    for (int64_t k = 0; (double)k * 1024 / 48000 < duration - 1e-9; k++) {
        double t = (double)k * 1024 / 48000;
        if (t >= *keyframe_start - 1e-9 && t < end - 1e-9) count++;
    }
    *packets = count;
}

START_TEST(fixed_windows_have_exact_boundaries_and_contents)
{
    test_run_result result = test_run_pipeline("[source cam]\nmodule = synth\nduration = 10s\nfps = 30\ngop = 30\n"
                                     "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 2.5s\n", 0);
    ck_assert_int_eq(result.status, 0);
    ck_assert_int_eq(result.records->len, 4);
    for (guint i = 0; i < result.records->len; i++) {
        const char *record = g_ptr_array_index(result.records, i);
        double start = 2.5 * i, end = 2.5 * (i + 1), keyframe_start;
        int packets;
        expected_contents(start, end, 30, 30, 10, &keyframe_start, &packets);
        ck_assert_double_eq_tol(test_number_field(record, "index"), i, 1e-9);
        ck_assert_double_eq_tol(test_number_field(record, "start"), start, 1e-6);
        ck_assert_double_eq_tol(test_number_field(record, "end"), end, 1e-6);
        ck_assert_double_eq_tol(test_number_field(record, "keyframe_start"), keyframe_start, 1e-6);
        ck_assert_msg((int)test_number_field(record, "packets") == packets, "segment %u: %g packets, expected %d: %s", i,
                      test_number_field(record, "packets"), packets, record);
        ck_assert_double_eq_tol(test_number_field(record, "bytes"), packets * 1000.0, 1e-9);
        ck_assert_int_eq(test_has_flag(record, "mid_gop_start"), keyframe_start < start - 1e-9);
        ck_assert(!test_has_flag(record, "partial"));
        ck_assert(!test_has_flag(record, "truncated"));
    }
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(timeline_starts_at_zero_whatever_the_input_timestamps)
{
    test_run_result result = test_run_pipeline("[source cam]\nmodule = synth\nduration = 6s\nstart = 8589000000\n"
                                     "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 3s\n", 0);
    ck_assert_int_eq(result.records->len, 2);
    ck_assert_double_eq_tol(test_number_field(result.records->pdata[0], "start"), 0, 1e-9);
    ck_assert_double_eq_tol(test_number_field(result.records->pdata[0], "keyframe_start"), 0, 1e-9);
    ck_assert_double_eq_tol(test_number_field(result.records->pdata[1], "keyframe_start"), 3, 1e-6);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(file_input_loses_nothing_with_a_small_buffer)
{
    /* The buffer holds a fraction of a window; a file source must wait for
     * the strategy instead of evicting what it has not read. */
    test_run_result small = test_run_pipeline("[source cam]\nmodule = synth\nduration = 10s\ngop = 15\nbuffer.max_items = 100\n"
                                    "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 2s\n", 0);
    test_run_result large = test_run_pipeline("[source cam]\nmodule = synth\nduration = 10s\ngop = 15\n"
                                    "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 2s\n", 0);
    ck_assert_int_eq(small.records->len, 5);
    ck_assert_int_eq(large.records->len, 5);
    for (guint i = 0; i < 5; i++) {
        ck_assert_double_eq_tol(test_number_field(small.records->pdata[i], "packets"),
                                test_number_field(large.records->pdata[i], "packets"), 1e-9);
        ck_assert(!test_has_flag(small.records->pdata[i], "truncated"));
    }
    g_ptr_array_free(small.records, TRUE);
    g_ptr_array_free(large.records, TRUE);
}
END_TEST

START_TEST(input_ending_inside_a_window_leaves_it_partial)
{
    test_run_result result = test_run_pipeline("[source cam]\nmodule = synth\nduration = 9s\nfps = 30\ngop = 30\n"
                                     "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 2.5s\n", 0);
    ck_assert_int_eq(result.status, 0);
    ck_assert_int_eq(result.records->len, 4);
    for (guint i = 0; i < 3; i++) ck_assert(!test_has_flag(result.records->pdata[i], "partial"));
    const char *last = g_ptr_array_index(result.records, 3);
    ck_assert_msg(test_has_flag(last, "partial"), "%s", last);
    ck_assert_double_eq_tol(test_number_field(last, "end"), 10.0, 1e-6);
    ck_assert_double_eq_tol(test_number_field(last, "media_end"), 9.0, 0.05);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

START_TEST(stopping_closes_the_open_segment_as_partial)
{
    test_run_result result = test_run_pipeline("[source cam]\nmodule = synth\nduration = 100000s\n"
                                     "buffer.retention_seconds = 30\n"
                                     "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 1s\n", 300);
    ck_assert_int_eq(result.status, 0);
    ck_assert_uint_ge(result.records->len, 2);
    /* The stop usually lands inside a window, which then goes out partial;
     * when it lands right after a window's last packet, before the next
     * window's first, that window is whole and nothing is open. A window
     * short of its end is never passed off as whole. */
    const char *last = g_ptr_array_index(result.records, result.records->len - 1);
    bool reaches_end = test_number_field(last, "media_end") >= test_number_field(last, "end") - 1e-3;
    ck_assert_msg(test_has_flag(last, "partial") || reaches_end, "last record short but not partial: %s", last);
    for (guint i = 0; i + 1 < result.records->len; i++) {
        ck_assert(!test_has_flag(result.records->pdata[i], "partial"));
        ck_assert_double_eq_tol(test_number_field(result.records->pdata[i], "index"), i, 1e-9);
    }
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

static int64_t counter_of(sc_ctx *ctx, const char *name)
{
    int64_t *value = g_hash_table_lookup(ctx->counters, name);
    return value ? *value : 0;
}

START_TEST(modules_see_consistent_views_of_the_buffer)
{
    char *dir = test_make_dir();
    char *text = g_strdup_printf("[host]\nmodule_path = %s\n[source cam]\nmodule = synth\nduration = 20s\ngop = 30\n"
                                 "buffer.retention_seconds = 5\n[strategy look]\nmodule = viewer\nsource = cam\n",
                                 test_modules_dir());
    char *path = test_write_file(dir, "pipe.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    ck_assert_msg(pipeline != NULL, "%s", errors->len ? (char *)errors->pdata[0] : "");
    ck_assert(sc_pipeline_create(pipeline, errors));
    sc_pipeline_start(pipeline);
    while (!sc_pipeline_sources_done(pipeline)) g_usleep(2000);
    ck_assert_int_eq(sc_pipeline_finish(pipeline), 0);
    sc_ctx *viewer = ((sc_strategy_runtime *)pipeline->strategies->pdata[0])->ctx;
    ck_assert_int_ge(counter_of(viewer, "views_ok"), 3 * 25);
    ck_assert_int_eq(counter_of(viewer, "views_bad"), 0);
    sc_pipeline_free(pipeline);
    g_ptr_array_free(errors, TRUE);
    g_free(text);
    g_free(path);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

START_TEST(host_memory_cap_spans_sources)
{
    /* Two sources under a 2 MiB host cap: the one with 20x larger packets
     * is the one over its fair share, and only it gives up GOPs. */
    char *dir = test_make_dir();
    char *text = g_strdup_printf("[host]\nmodule_path = %s\nmax_memory_mb = 2\n"
                                 "[source big]\nmodule = synth\nduration = 20s\npacket_size = 4000\n"
                                 "[source small]\nmodule = synth\nduration = 20s\npacket_size = 200\n"
                                 "[strategy a]\nmodule = fixed\nsource = big\n[strategy b]\nmodule = fixed\nsource = small\n",
                                 test_modules_dir());
    char *path = test_write_file(dir, "pipe.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    ck_assert_msg(pipeline != NULL, "%s", errors->len ? (char *)errors->pdata[0] : "");
    ck_assert_ptr_nonnull(pipeline->governor);
    ck_assert(sc_pipeline_create(pipeline, errors));
    sc_pipeline_start(pipeline);
    while (!sc_pipeline_sources_done(pipeline)) g_usleep(2000);
    ck_assert_int_eq(sc_pipeline_finish(pipeline), 0);
    sc_buffer_stats big, small;
    sc_buffer_get_stats(((sc_source_runtime *)pipeline->sources->pdata[0])->buffer, &big);
    sc_buffer_get_stats(((sc_source_runtime *)pipeline->sources->pdata[1])->buffer, &small);
    ck_assert_uint_gt(big.evicted_host_memory + big.thinned, 0);
    ck_assert_uint_eq(small.evicted_host_memory + small.thinned, 0);
    ck_assert_uint_le(sc_memory_governor_total(pipeline->governor), 2 * 1024 * 1024);
    ck_assert_uint_eq(big.packets_in, big.current_frames + big.evicted_host_memory + big.thinned + big.evicted_items +
                                          big.evicted_memory + big.evicted_retention + big.frames_dropped);
    sc_pipeline_free(pipeline);
    g_ptr_array_free(errors, TRUE);
    g_free(text);
    g_free(path);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

START_TEST(a_source_that_reconnects_continues_its_timeline)
{
    /* Three connections of 3 s each, every one starting its timestamps
     * over: one 9 s timeline, a discontinuity at each reconnection. */
    test_run_result result = test_run_pipeline("[source cam]\nmodule = synth\nduration = 3s\nruns = 3\n"
                                               "reconnect.initial_delay = 10ms\n"
                                               "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 1s\n", 0);
    ck_assert_int_eq(result.status, 0);
    ck_assert_int_eq(result.records->len, 9);
    for (guint i = 0; i < 9; i++) {
        const char *record = result.records->pdata[i];
        ck_assert_double_eq_tol(test_number_field(record, "start"), i, 1e-9);
        ck_assert_msg(test_has_flag(record, "discontinuity") == (i == 3 || i == 6), "segment %u: %s", i, record);
        ck_assert(!test_has_flag(record, "partial"));
        ck_assert_ptr_nonnull(strstr(record, "\"type\":\"SYNTH\""));
    }
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

static sc_pipeline *run_source(const char *dir, const char *source_body)
{
    char *text = g_strdup_printf("[host]\nmodule_path = %s\n[source cam]\nmodule = synth\n%s", test_modules_dir(),
                                 source_body);
    char *path = test_write_file(dir, "pipe.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    ck_assert_msg(pipeline != NULL, "%s", errors->len ? (char *)errors->pdata[0] : "");
    ck_assert(sc_pipeline_create(pipeline, errors));
    sc_pipeline_start(pipeline);
    while (!sc_pipeline_sources_done(pipeline)) g_usleep(2000);
    g_ptr_array_free(errors, TRUE);
    g_free(text);
    g_free(path);
    return pipeline;
}

START_TEST(permanent_failures_and_exhausted_retries_fail_the_source)
{
    char *dir = test_make_dir();
    sc_pipeline *pipeline = run_source(dir, "fail = permanent\nreconnect.initial_delay = 10ms\n");
    ck_assert_int_eq(sc_pipeline_finish(pipeline), 1);
    sc_source_runtime *source = pipeline->sources->pdata[0];
    ck_assert_int_eq(atomic_load(&source->state), SC_SOURCE_FAILED);
    ck_assert_uint_eq(atomic_load(&source->reconnects), 0);
    ck_assert_str_eq(source->last_error, "synth: failing for good, as asked");
    sc_pipeline_free(pipeline);

    gint64 started = g_get_monotonic_time();
    pipeline = run_source(dir, "fail = transient\nreconnect.initial_delay = 20ms\nreconnect.max_delay = 50ms\n"
                               "reconnect.give_up_after = 300ms\n");
    ck_assert_int_eq(sc_pipeline_finish(pipeline), 1);
    source = pipeline->sources->pdata[0];
    ck_assert_int_eq(atomic_load(&source->state), SC_SOURCE_FAILED);
    /* 20 + 40 + 50 + 50 ... ms of backoff (with jitter) within 300 ms. */
    ck_assert_uint_ge(atomic_load(&source->reconnects), 3);
    ck_assert_uint_le(atomic_load(&source->reconnects), 12);
    ck_assert_int_ge(g_get_monotonic_time() - started, 300 * 1000);
    sc_pipeline_free(pipeline);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

START_TEST(sync_groups_cut_every_source_at_the_same_instants)
{
    /* Two sources, one of which ends early: full sets while both run, then
     * partial sets (the missing member null) rather than none at all. */
    test_run_result result = test_run_pipeline_from(
        "[source a]\nmodule = synth\nduration = 6s\n[source b]\nmodule = synth\nduration = 3s\ngop = 15\n"
        "[sync both]\nmodule = fixed\nsources = a, b\nduration = 1s\nsync.timeout = 5s\n", "both", 0);
    ck_assert_int_eq(result.status, 0);
    ck_assert_uint_ge(result.records->len, 5);
    guint full = 0, partial = 0;
    for (guint i = 0; i < result.records->len; i++) {
        const char *record = result.records->pdata[i];
        ck_assert_ptr_nonnull(strstr(record, "\"sync\":\"both\""));
        ck_assert_double_eq_tol(test_number_field(record, "index"), i, 1e-9);
        const char *a = strstr(record, "\"a\":{"), *b = strstr(record, "\"b\":");
        /* Windows fall on whole seconds of wall clock, so the last one can
         * begin after a's last frame (a started just before a second
         * ended): a has nothing for it either. */
        if (i + 1 == result.records->len && strstr(record, "\"a\":null")) {
            ck_assert_msg(strstr(record, "\"b\":null") && test_has_flag(record, "partial"), "%s", record);
            continue;
        }
        ck_assert_msg(a && b, "%s", record);
        if (strncmp(b, "\"b\":null", 8) == 0) {
            ck_assert(test_has_flag(record, "partial"));
            partial++;
        } else {
            ck_assert_msg(!strstr(record, "\"flags\":[\"partial\"],\"segments\""), "%s", record);
            /* Both members' windows are the same second of wall clock; each
             * runs on its own clock from its first packet, so their nominal
             * starts differ only by how far apart the two sources started. */
            double a_start = test_number_field(a, "start"), b_start = test_number_field(b, "start");
            ck_assert_msg(fabs(a_start - b_start) < 0.05, "a %f b %f", a_start, b_start);
            full++;
        }
    }
    ck_assert_uint_ge(full, 2);
    ck_assert_uint_ge(partial, 2);
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

/* Each member gathers its share of a window as the window passes, so a
 * window longer than a member's buffer (4 s windows of 308 packets, 250
 * packets of buffer) still comes out whole: nothing truncated or thinned,
 * both members alike. */
START_TEST(sync_members_gather_windows_longer_than_their_buffer)
{
    test_run_result result = test_run_pipeline_from(
        "[source a]\nmodule = synth\nduration = 20s\ngop = 15\nbuffer.max_items = 250\n"
        "[source b]\nmodule = synth\nduration = 20s\ngop = 15\nbuffer.max_items = 250\n"
        "[sync both]\nmodule = fixed\nsources = a, b\nduration = 4s\n", "both", 0);
    ck_assert_int_eq(result.status, 0);
    ck_assert_uint_ge(result.records->len, 5);
    for (guint i = 0; i < result.records->len; i++) {
        const char *record = result.records->pdata[i];
        double b_packets = test_number_field(test_assert_members_alike(record), "packets");
        /* 77 packets a second; a whole window from its keyframe: 4 s or more. */
        if (i > 0 && !strstr(record, "partial")) ck_assert_msg(b_packets >= 305, "%s", record);
    }
    g_ptr_array_free(result.records, TRUE);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("pipeline");
    TCase *tcase = tcase_create("fixed");
    tcase_add_test(tcase, fixed_windows_have_exact_boundaries_and_contents);
    tcase_add_test(tcase, timeline_starts_at_zero_whatever_the_input_timestamps);
    tcase_add_test(tcase, file_input_loses_nothing_with_a_small_buffer);
    tcase_add_test(tcase, input_ending_inside_a_window_leaves_it_partial);
    tcase_add_test(tcase, stopping_closes_the_open_segment_as_partial);
    tcase_add_test(tcase, modules_see_consistent_views_of_the_buffer);
    tcase_add_test(tcase, host_memory_cap_spans_sources);
    tcase_add_test(tcase, a_source_that_reconnects_continues_its_timeline);
    tcase_add_test(tcase, permanent_failures_and_exhausted_retries_fail_the_source);
    tcase_add_test(tcase, sync_groups_cut_every_source_at_the_same_instants);
    tcase_add_test(tcase, sync_members_gather_windows_longer_than_their_buffer);
    suite_add_tcase(suite, tcase);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
