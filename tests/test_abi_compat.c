/* Modules built against the frozen ABI 1.0 headers (tests/abi/1.0) load
 * and run in this host: a 1.0 source, strategy and sink (tests/abi/compat)
 * in one pipeline give the records the windows call for; the sink's 1.0
 * ops table (no `reopen`) is accepted and a SIGHUP-style reopen request
 * skips it; a 1.0 source's shorter sc_stream_info gets duration =
 * SC_TIME_NONE while the same source built against the current headers
 * states its duration; an event shorter than today's sc_event is taken
 * when it holds a name; a module claiming the oldest minor through
 * SC_DESCRIPTOR_INIT_MINOR loads. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "pipeline.h"
#include "runtime.h"
#include "test_util.h"

static sc_module *open_module(sc_loader *loader, const char *name)
{
    char *path = test_module_path(name);
    char *error = NULL;
    sc_module *module = sc_loader_open(loader, path, &error);
    ck_assert_msg(module != NULL, "%s: %s", name, error);
    g_free(path);
    return module;
}

START_TEST(abi_1_0_modules_load_with_their_smaller_tables)
{
    sc_loader *loader = sc_loader_new(NULL);
    static const char *const names[] = {"compat10_source", "compat_every", "compat_record"};
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        sc_module *module = open_module(loader, names[i]);
        ck_assert_int_eq(module->descriptor.abi_major, 1);
        ck_assert_int_eq(module->descriptor.abi_minor, 0);
    }
    /* The 1.0 sink's table ends at consume_set: reopen, which 1.1 added
     * after it, is absent, not read from past the module's table. */
    sc_module *sink = open_module(loader, "compat_record");
    const sc_sink_ops *raw = sink->descriptor.ops;
    ck_assert_uint_eq(raw->struct_size, offsetof(sc_sink_ops, reopen));
    ck_assert_ptr_nonnull(sink->ops.sink.consume);
    ck_assert_ptr_null(sink->ops.sink.reopen);
    /* Built against today's headers but claiming 1.0: loads as 1.0. */
    sc_module *oldest = open_module(loader, "oldest_minor");
    ck_assert_int_eq(oldest->descriptor.abi_minor, 0);
    ck_assert_uint_eq(((const sc_sink_ops *)oldest->descriptor.ops)->struct_size, sizeof(sc_sink_ops));
    sc_loader_free(loader);
}
END_TEST

typedef struct stream_durations {
    int64_t old_source;
    int64_t new_source;
    size_t old_streams;
} stream_durations;

static const sc_stream_info *first_stream(sc_pipeline *pipeline, const char *name, size_t *count)
{
    const sc_host_api *host = sc_host_api_table();
    for (guint i = 0; i < pipeline->contexts->len; i++) {
        sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
        if (strcmp(ctx->name, name) != 0) continue;
        if (count) *count = host->stream_count(ctx);
        return host->stream_get(ctx, 0);
    }
    ck_abort_msg("no instance %s", name);
    return NULL;
}

static void read_durations(sc_pipeline *pipeline, void *data)
{
    stream_durations *seen = data;
    const sc_stream_info *old_info = first_stream(pipeline, "old", &seen->old_streams);
    const sc_stream_info *new_info = first_stream(pipeline, "new", NULL);
    ck_assert_ptr_nonnull(old_info);
    ck_assert_ptr_nonnull(new_info);
    /* The host's copies are full-size whatever the writer's size was. */
    ck_assert_uint_eq(old_info->struct_size, sizeof(sc_stream_info));
    ck_assert_str_eq(old_info->codec_name, "h264");
    ck_assert_int_eq(old_info->width, 320);
    seen->old_source = old_info->duration;
    seen->new_source = new_info->duration;
    /* An event only as long as its name: accepted (the rest takes its
     * defaults); one too short to hold the name: refused. */
    const sc_host_api *host = sc_host_api_table();
    sc_ctx *source_ctx = NULL;
    for (guint i = 0; i < pipeline->contexts->len; i++) {
        sc_ctx *ctx = g_ptr_array_index(pipeline->contexts, i);
        if (strcmp(ctx->name, "old") == 0) source_ctx = ctx;
    }
    sc_event event = {.struct_size = offsetof(sc_event, name) + sizeof(const char *), .name = "short"};
    ck_assert_int_eq(host->event_post(source_ctx, &event), SC_OK);
    event.struct_size = offsetof(sc_event, name);
    ck_assert_int_eq(host->event_post(source_ctx, &event), SC_ERR_INVALID);
    /* As SIGHUP would: the 1.0 sink has no reopen, and must be skipped. */
    sc_pipeline_request_reopen(pipeline);
}

START_TEST(abi_1_0_pipeline_runs_and_records_come_out_right)
{
    char *dir = test_make_dir();
    char *lines_path = g_build_filename(dir, "compat.txt", NULL);
    char *body = g_strdup_printf(
        "[source old]\nmodule = compat10_source\nduration = 10s\n"
        "[source new]\nmodule = compat11_source\nduration = 4s\n"
        "[strategy cut]\nmodule = compat_every\nsource = old\nevery = 2s\n"
        "[strategy other]\nmodule = compat_every\nsource = new\nevery = 2s\n"
        "[sink legacy]\nmodule = compat_record\nfrom = cut\npath = %s\n"
        "[sink other_records]\nmodule = jsonl\nfrom = other\npath = -\n",
        lines_path);
    stream_durations seen = {0};
    test_run_result result = test_run_pipeline_inspected(body, "cut", 0, read_durations, &seen);
    ck_assert_int_eq(result.status, 0);

    ck_assert_uint_eq(seen.old_streams, 1);
    ck_assert_int_eq(seen.old_source, SC_TIME_NONE);
    ck_assert_int_eq(seen.new_source, 4 * SC_NSEC_PER_SEC);

    /* 10 s of 30 fps in 2 s windows: five windows of 60 frames, each
     * starting at a keyframe (one a second). */
    ck_assert_uint_eq(result.records->len, 5);
    for (guint i = 0; i < result.records->len; i++) {
        const char *record = result.records->pdata[i];
        ck_assert_double_eq_tol(test_number_field(record, "index"), i, 1e-9);
        ck_assert_double_eq_tol(test_number_field(record, "start"), 2.0 * i, 1e-6);
        ck_assert_double_eq_tol(test_number_field(record, "end"), 2.0 * i + 2, 1e-6);
        ck_assert_double_eq_tol(test_number_field(record, "compat_packets"), 60, 1e-9);
        ck_assert_msg(strstr(record, "\"compat_host_abi\":\"1.1\"") != NULL, "%s", record);
        char *label = g_strdup_printf("\"label\":\"compat:%u\"", i);
        ck_assert_msg(strstr(record, label) != NULL, "%s", record);
        g_free(label);
    }

    /* The 1.0 sink saw the same five segments, with their packets. */
    char *contents = NULL;
    ck_assert(g_file_get_contents(lines_path, &contents, NULL, NULL));
    char **lines = g_strsplit(contents, "\n", -1);
    ck_assert_uint_eq(g_strv_length(lines), 6); /* five lines and the empty rest */
    for (int i = 0; i < 5; i++) {
        unsigned long long index, bytes;
        long long start, end;
        size_t packets;
        unsigned keyframes, first_frame;
        char label[32];
        ck_assert_int_eq(sscanf(lines[i], "%llu %lld %lld %zu %u %llu %31s frame %u", &index, &start, &end, &packets,
                                &keyframes, &bytes, label, &first_frame), 8);
        ck_assert_uint_eq(index, (unsigned)i);
        ck_assert_int_eq(start, 2LL * i * SC_NSEC_PER_SEC);
        ck_assert_int_eq(end, 2LL * (i + 1) * SC_NSEC_PER_SEC);
        ck_assert_uint_eq(packets, 60);
        ck_assert_uint_eq(keyframes, 2);
        ck_assert_uint_eq(first_frame, (unsigned)(60 * i));
        char *expected = g_strdup_printf("compat:%d", i);
        ck_assert_str_eq(label, expected);
        g_free(expected);
    }
    g_strfreev(lines);
    g_free(contents);
    g_ptr_array_free(result.records, TRUE);
    g_free(body);
    g_free(lines_path);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("abi_compat");
    TCase *tcase = tcase_create("abi_compat");
    tcase_add_test(tcase, abi_1_0_modules_load_with_their_smaller_tables);
    tcase_add_test(tcase, abi_1_0_pipeline_runs_and_records_come_out_right);
    suite_add_tcase(suite, tcase);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
