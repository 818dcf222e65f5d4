#include "test_util.h"

#include <check.h>
#include <math.h>
#include <string.h>

#include "pipeline.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

char *test_make_dir(void)
{
    GError *error = NULL;
    char *dir = g_dir_make_tmp("streamcut-test-XXXXXX", &error);
    if (!dir) {
        fprintf(stderr, "cannot make a temporary folder: %s\n", error->message);
        abort();
    }
    return dir;
}

char *test_write_file(const char *dir, const char *name, const char *content)
{
    char *path = g_build_filename(dir, name, NULL);
    if (!g_file_set_contents(path, content, -1, NULL)) abort();
    return path;
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    return remove(path);
}

void test_remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *test_modules_dir(void)
{
    const char *dir = g_getenv("STREAMCUT_TEST_MODULES");
    return dir ? dir : "tests/modules/.libs";
}

char *test_join_errors(GPtrArray *errors)
{
    GString *text = g_string_new(NULL);
    for (guint i = 0; i < errors->len; i++) {
        g_string_append(text, g_ptr_array_index(errors, i));
        g_string_append_c(text, '\n');
    }
    return g_string_free(text, FALSE);
}

test_run_result test_run_pipeline(const char *body, int stop_after_ms)
{
    return test_run_pipeline_from(body, "cut", stop_after_ms);
}

test_run_result test_run_pipeline_from(const char *body, const char *from, int stop_after_ms)
{
    return test_run_pipeline_inspected(body, from, stop_after_ms, NULL, NULL);
}

test_run_result test_run_pipeline_inspected(const char *body, const char *from, int stop_after_ms,
                                            void (*inspect)(sc_pipeline *pipeline, void *data), void *data)
{
    char *dir = test_make_dir();
    char *records_path = g_build_filename(dir, "records.jsonl", NULL);
    char *text = g_strdup_printf("[host]\nmodule_path = %s\n%s\n[sink records]\nmodule = jsonl\nfrom = %s\npath = %s\n",
                                 test_modules_dir(), body, from, records_path);
    char *path = test_write_file(dir, "pipe.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    ck_assert_msg(pipeline != NULL, "%s", errors->len ? (char *)errors->pdata[0] : "");
    ck_assert_msg(sc_pipeline_create(pipeline, errors), "%s", errors->len ? (char *)errors->pdata[0] : "");
    sc_pipeline_start(pipeline);
    if (stop_after_ms) {
        g_usleep((gulong)stop_after_ms * 1000);
        sc_pipeline_request_stop(pipeline);
    }
    while (!sc_pipeline_sources_done(pipeline)) g_usleep(2000);
    if (inspect) inspect(pipeline, data);
    test_run_result result = {.status = sc_pipeline_finish(pipeline)};
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

double test_number_field(const char *record, const char *key)
{
    char *pattern = g_strdup_printf("\"%s\":", key);
    const char *at = strstr(record, pattern);
    ck_assert_msg(at != NULL, "no %s in %s", key, record);
    double value = strtod(at + strlen(pattern), NULL);
    g_free(pattern);
    return value;
}

bool test_has_flag(const char *record, const char *flag)
{
    const char *flags = strstr(record, "\"flags\":[");
    const char *end = flags ? strchr(flags, ']') : NULL;
    char *quoted = g_strdup_printf("\"%s\"", flag);
    const char *found = flags ? g_strstr_len(flags, end - flags, quoted) : NULL;
    g_free(quoted);
    return found != NULL;
}

char *test_module_path(const char *name)
{
    char *file = g_strconcat(name, ".so", NULL);
    char *path = g_build_filename(test_modules_dir(), file, NULL);
    g_free(file);
    if (!g_path_is_absolute(path)) {
        char *cwd = g_get_current_dir();
        char *absolute = g_build_filename(cwd, path, NULL);
        g_free(cwd);
        g_free(path);
        path = absolute;
    }
    return path;
}

const char *test_assert_members_alike(const char *record)
{
    const char *a = strstr(record, "\"a\":{"), *b = strstr(record, "\"b\":{");
    ck_assert_msg(a && b && !strstr(record, "truncated") && !strstr(record, "thinned"), "%s", record);
    ck_assert_msg(fabs(test_number_field(a, "keyframe_start") - test_number_field(b, "keyframe_start")) < 0.05 &&
                      fabs(test_number_field(a, "packets") - test_number_field(b, "packets")) <= 2,
                  "%s", record);
    return b;
}
