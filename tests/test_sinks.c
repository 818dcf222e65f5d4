/* Quality filtering and the sink worker pool. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "packet.h"
#include "pipeline.h"
#include "quality.h"
#include "test_util.h"

/* Run a whole pipeline (sections in `body`, test modules on the path) and
 * keep it for inspection; the caller frees it. */
static sc_pipeline *run_to_end(const char *dir, const char *body)
{
    char *text = g_strdup_printf("[host]\nmodule_path = %s\n%s", test_modules_dir(), body);
    char *path = test_write_file(dir, "pipe.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    ck_assert_msg(pipeline != NULL, "%s", errors->len ? (char *)errors->pdata[0] : "");
    ck_assert_msg(sc_pipeline_create(pipeline, errors), "%s", errors->len ? (char *)errors->pdata[0] : "");
    sc_pipeline_start(pipeline);
    while (!sc_pipeline_sources_done(pipeline)) g_usleep(2000);
    ck_assert_int_eq(sc_pipeline_finish(pipeline), 0);
    g_ptr_array_free(errors, TRUE);
    g_free(text);
    g_free(path);
    return pipeline;
}

static GPtrArray *read_records(const char *path)
{
    char *contents = NULL;
    g_file_get_contents(path, &contents, NULL, NULL);
    GPtrArray *records = g_ptr_array_new_with_free_func(g_free);
    char **lines = g_strsplit(contents ? contents : "", "\n", -1);
    for (char **line = lines; *line; line++)
        if (**line) g_ptr_array_add(records, g_strdup(*line));
    g_strfreev(lines);
    g_free(contents);
    return records;
}

static int64_t counter_of(sc_ctx *ctx, const char *name)
{
    int64_t *value = g_hash_table_lookup(ctx->counters, name);
    return value ? *value : 0;
}

static sc_ctx *find_instance(sc_pipeline *pipeline, const char *name)
{
    for (guint i = 0; i < pipeline->contexts->len; i++) {
        sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
        if (strcmp(ctx->name, name) == 0) return ctx;
    }
    ck_abort_msg("no instance %s", name);
    return NULL;
}

START_TEST(short_segments_go_to_the_reject_sink_with_their_reason)
{
    char *dir = test_make_dir();
    char *body = g_strdup_printf(
        "[source cam]\nmodule = synth\nduration = 10.5s\n"
        "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 2s\n"
        "quality.min_duration = 1s\nquality.reject_sink = rejects\n"
        "[sink records]\nmodule = jsonl\nfrom = cut\npath = %s/records.jsonl\n"
        "[sink rejects]\nmodule = jsonl\npath = %s/rejects.jsonl\n", dir, dir);
    sc_pipeline *pipeline = run_to_end(dir, body);
    char *records_path = g_build_filename(dir, "records.jsonl", NULL), *rejects_path = g_build_filename(dir, "rejects.jsonl", NULL);
    GPtrArray *records = read_records(records_path), *rejects = read_records(rejects_path);
    ck_assert_int_eq(records->len, 5);
    ck_assert_int_eq(rejects->len, 1);
    const char *rejected = rejects->pdata[0];
    ck_assert_double_eq_tol(test_number_field(rejected, "start"), 10, 1e-9);
    ck_assert(test_has_flag(rejected, "rejected"));
    ck_assert(test_has_flag(rejected, "partial"));
    ck_assert_ptr_nonnull(strstr(rejected, "\"reject_reason\":\"min_duration\""));
    ck_assert_double_eq_tol(test_number_field(rejected, "duration"), 2, 1e-9);
    for (guint i = 0; i < records->len; i++) ck_assert(!test_has_flag(records->pdata[i], "rejected"));
    sc_ctx *cut = find_instance(pipeline, "cut");
    ck_assert_int_eq(counter_of(cut, "rejected_min_duration"), 1);
    ck_assert_int_eq(atomic_load(&cut->strategy->segments_rejected), 1);
    ck_assert_int_eq(atomic_load(&cut->strategy->segments_emitted), 5);
    sc_pipeline_free(pipeline);
    g_ptr_array_free(records, TRUE);
    g_ptr_array_free(rejects, TRUE);
    g_free(records_path);
    g_free(rejects_path);
    g_free(body);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

START_TEST(low_bitrate_and_mid_gop_starts_are_rejected_when_asked)
{
    /* Seconds 2 and 3 carry 1 % of the bytes: a static picture's bitrate. */
    test_run_result bitrate = test_run_pipeline(
        "[source cam]\nmodule = synth\nduration = 10s\naudio = false\nsize_pattern = 1,1,0.01,0.01,1,1,1,1,1,1\n"
        "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 2s\nquality.min_bitrate_kbps = 50\n", 0);
    ck_assert_int_eq(bitrate.records->len, 4);
    double starts[] = {0, 4, 6, 8};
    for (guint i = 0; i < 4; i++) ck_assert_double_eq_tol(test_number_field(bitrate.records->pdata[i], "start"), starts[i], 1e-9);
    g_ptr_array_free(bitrate.records, TRUE);
    /* Keyframes every 1.5 s: of the 2 s windows only 0 and 6 start on one. */
    test_run_result keyframes = test_run_pipeline(
        "[source cam]\nmodule = synth\nduration = 10s\ngop = 45\n"
        "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 2s\nquality.require_keyframe_start = true\n", 0);
    ck_assert_int_eq(keyframes.records->len, 2);
    ck_assert_double_eq_tol(test_number_field(keyframes.records->pdata[0], "start"), 0, 1e-9);
    ck_assert_double_eq_tol(test_number_field(keyframes.records->pdata[1], "start"), 6, 1e-9);
    g_ptr_array_free(keyframes.records, TRUE);
}
END_TEST

/* A segment of `count` video packets 1/30 s apart, with a hole after
 * packet `gap_after` and `corrupt` packets flagged corrupt. */
static sc_segment_box *made_segment(int count, int gap_after, int64_t gap_ns, int corrupt)
{
    GPtrArray *packets = g_ptr_array_new();
    int64_t t = 0;
    for (int i = 0; i < count; i++) {
        sc_packet *packet = sc_packet_alloc(1000, NULL);
        packet->stream_index = 0;
        packet->flags = (i == 0 ? SC_PACKET_KEY : 0) | (i < corrupt ? SC_PACKET_CORRUPT : 0);
        packet->pts = packet->dts = t;
        packet->duration = SC_NSEC_PER_SEC / 30;
        packet->seq = (uint64_t)i;
        g_ptr_array_add(packets, packet);
        t += SC_NSEC_PER_SEC / 30 + (i == gap_after ? gap_ns : 0);
    }
    return sc_segment_new("s", "t", 0, 0, t, 0, NULL, NULL, packets, g_ptr_array_new(), 0);
}

START_TEST(each_rule_judges_its_own_measure)
{
    sc_quality_rules off = {.max_corrupt_ratio = 1, .max_thinned_ratio = 1};
    sc_quality_measure measure;
    sc_segment_box *clean = made_segment(60, -1, 0, 0);
    sc_quality_measure_segment(&clean->segment, 0, &measure);
    ck_assert_int_eq(measure.duration_ns, 60 * (SC_NSEC_PER_SEC / 30));
    ck_assert_double_eq_tol(measure.bitrate_kbps, 60 * 1000 * 8 / 2.0 / 1000, 1e-3);
    ck_assert_int_eq(measure.largest_gap_ns, SC_NSEC_PER_SEC / 30);
    ck_assert_ptr_null(sc_quality_verdict(&off, &clean->segment, &measure));

    sc_segment_box *holed = made_segment(60, 29, 3 * SC_NSEC_PER_SEC, 6);
    sc_quality_measure_segment(&holed->segment, 20, &measure);
    ck_assert_int_eq(measure.largest_gap_ns, 3 * SC_NSEC_PER_SEC + SC_NSEC_PER_SEC / 30);
    ck_assert_double_eq_tol(measure.corrupt_ratio, 0.1, 1e-9);
    ck_assert_double_eq_tol(measure.thinned_ratio, 0.25, 1e-9);
    sc_quality_rules gap = off;
    gap.max_gap_ns = SC_NSEC_PER_SEC;
    ck_assert_str_eq(sc_quality_verdict(&gap, &holed->segment, &measure), "max_gap");
    sc_quality_rules corrupt = off;
    corrupt.max_corrupt_ratio = 0.05;
    ck_assert_str_eq(sc_quality_verdict(&corrupt, &holed->segment, &measure), "max_corrupt_ratio");
    sc_quality_rules thinned = off;
    thinned.max_thinned_ratio = 0.2;
    ck_assert_str_eq(sc_quality_verdict(&thinned, &holed->segment, &measure), "max_thinned_ratio");
    ck_assert_ptr_null(sc_quality_verdict(&off, &holed->segment, &measure));
    sc_segment_unref(&clean->segment);
    sc_segment_unref(&holed->segment);
}
END_TEST

START_TEST(a_slow_or_failing_sink_holds_up_no_other)
{
    char *dir = test_make_dir();
    char *body = g_strdup_printf(
        "[host]\nworkers = 2\n"
        "[source cam]\nmodule = synth\nduration = 20s\n"
        "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 1s\n"
        "[sink records]\nmodule = jsonl\nfrom = cut\npath = %s/records.jsonl\n"
        "[sink slowpoke]\nmodule = slow\nfrom = cut\ndelay = 150ms\nqueue = 1\non_overflow = drop_oldest\n"
        "[sink broken]\nmodule = slow\nfrom = cut\ndelay = 0\nfail = true\n", dir);
    /* run_to_end adds its own [host]; this pipeline brings one. */
    char *text = g_strdup_printf("%s\nmodule_path = %s\n%s", "[host]", test_modules_dir(), body + strlen("[host]\n"));
    char *path = test_write_file(dir, "pipe.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    ck_assert_msg(pipeline != NULL, "%s", errors->len ? (char *)errors->pdata[0] : "");
    ck_assert(sc_pipeline_create(pipeline, errors));
    sc_pipeline_start(pipeline);
    while (!sc_pipeline_sources_done(pipeline)) g_usleep(2000);
    ck_assert_int_eq(sc_pipeline_finish(pipeline), 0);
    char *records_path = g_build_filename(dir, "records.jsonl", NULL);
    GPtrArray *records = read_records(records_path);
    ck_assert_int_eq(records->len, 20);
    for (guint i = 0; i < records->len; i++)
        ck_assert_double_eq_tol(test_number_field(records->pdata[i], "index"), i, 1e-9);
    sc_sink_runtime *slowpoke = find_instance(pipeline, "slowpoke")->sink;
    sc_sink_runtime *broken = find_instance(pipeline, "broken")->sink;
    /* Every segment is accounted for: consumed or dropped, never lost. */
    ck_assert_uint_gt(atomic_load(&slowpoke->dropped_overflow), 0);
    ck_assert_uint_eq(atomic_load(&slowpoke->consumed) + atomic_load(&slowpoke->dropped_overflow), 20);
    ck_assert_int_eq(counter_of(slowpoke->ctx, "seen"), (int64_t)atomic_load(&slowpoke->consumed));
    ck_assert_uint_eq(atomic_load(&broken->failed), 20);
    ck_assert_uint_eq(atomic_load(&broken->consumed), 0);
    sc_pipeline_free(pipeline);
    g_ptr_array_free(records, TRUE);
    g_ptr_array_free(errors, TRUE);
    g_free(records_path);
    g_free(text);
    g_free(path);
    g_free(body);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("sinks");
    TCase *quality = tcase_create("quality");
    tcase_add_test(quality, short_segments_go_to_the_reject_sink_with_their_reason);
    tcase_add_test(quality, low_bitrate_and_mid_gop_starts_are_rejected_when_asked);
    tcase_add_test(quality, each_rule_judges_its_own_measure);
    suite_add_tcase(suite, quality);
    TCase *workers = tcase_create("workers");
    tcase_add_test(workers, a_slow_or_failing_sink_holds_up_no_other);
    suite_add_tcase(suite, workers);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
