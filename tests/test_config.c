/* The pipeline file: value spellings, the line-level checks that keep
 * inih from misreading a file, and validation against the real modules. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pipeline.h"
#include "test_util.h"
#include "value.h"

START_TEST(durations_and_sizes_parse)
{
    int64_t value;
    const char *why;
    ck_assert(sc_value_parse_duration("10", &value, &why));
    ck_assert_int_eq(value, 10 * SC_NSEC_PER_SEC);
    ck_assert(sc_value_parse_duration("1.5s", &value, &why));
    ck_assert_int_eq(value, 1500 * SC_NSEC_PER_MSEC);
    ck_assert(sc_value_parse_duration("500ms", &value, &why));
    ck_assert_int_eq(value, 500 * SC_NSEC_PER_MSEC);
    ck_assert(sc_value_parse_duration("2m", &value, &why));
    ck_assert_int_eq(value, 120 * SC_NSEC_PER_SEC);
    ck_assert(sc_value_parse_duration("1h", &value, &why));
    ck_assert_int_eq(value, 3600 * SC_NSEC_PER_SEC);
    ck_assert(!sc_value_parse_duration("-1s", &value, &why));
    ck_assert(!sc_value_parse_duration("10 parsecs", &value, &why));
    ck_assert(!sc_value_parse_duration("0x10", &value, &why));
    ck_assert(!sc_value_parse_duration("", &value, &why));
    ck_assert(sc_value_parse_size("200MB", &value, &why));
    ck_assert_int_eq(value, 200000000);
    ck_assert(sc_value_parse_size("1GiB", &value, &why));
    ck_assert_int_eq(value, 1073741824);
    ck_assert(sc_value_parse_size("64k", &value, &why));
    ck_assert_int_eq(value, 64000);
    ck_assert(!sc_value_parse_size("lots", &value, &why));
    bool flag;
    ck_assert(sc_value_parse_bool("Yes", &flag, &why) && flag);
    ck_assert(sc_value_parse_bool("off", &flag, &why) && !flag);
    ck_assert(!sc_value_parse_bool("maybe", &flag, &why));
    ck_assert(sc_value_is_choice("drop_oldest", "block|drop_oldest|drop_newest"));
    ck_assert(!sc_value_is_choice("drop", "block|drop_oldest|drop_newest"));
    ck_assert_str_eq(sc_closest_word("duraton", (const char *const[]){"source", "duration", "module"}, 3), "duration");
    ck_assert_ptr_null(sc_closest_word("zzzzzz", (const char *const[]){"source", "duration"}, 2));
}
END_TEST

/* Parse `text` and expect an error at `line` containing `fragment`. */
static void expect_parse_error(const char *text, size_t size, int line, const char *fragment)
{
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_config *config = sc_config_load_data("pipe.ini", text, size, errors);
    char *all = test_join_errors(errors);
    char *location = g_strdup_printf("pipe.ini:%d: ", line);
    ck_assert_msg(config == NULL, "expected a parse error for:\n%s", text);
    ck_assert_msg(strstr(all, location) != NULL, "expected %s in:\n%s", location, all);
    ck_assert_msg(strstr(all, fragment) != NULL, "expected '%s' in:\n%s", fragment, all);
    g_free(location);
    g_free(all);
    g_ptr_array_free(errors, TRUE);
}

#define EXPECT_PARSE_ERROR(text, line, fragment) expect_parse_error(text, strlen(text), line, fragment)

START_TEST(line_level_errors_name_file_and_line)
{
    EXPECT_PARSE_ERROR("[source a]\nmodule = testsrc\nmodule = avformat\n", 3, "duplicate key 'module'");
    EXPECT_PARSE_ERROR("[source a]\nmodule = testsrc\n[source a]\nmodule = testsrc\n", 3, "duplicate name 'a'");
    EXPECT_PARSE_ERROR("[source a]\nmodule = testsrc\n[sink a]\nmodule = jsonl\n", 3, "duplicate name 'a'");
    EXPECT_PARSE_ERROR("[host]\n[host]\n", 2, "duplicate section [host]");
    EXPECT_PARSE_ERROR("[source a]\nmodule = testsrc\n  size = 10x10\n", 3, "continuation");
    EXPECT_PARSE_ERROR("[filter a]\nmodule = x\n", 1, "unknown section kind 'filter'");
    EXPECT_PARSE_ERROR("module = x\n", 1, "outside of any section");
    EXPECT_PARSE_ERROR("[source a]\njust words\n", 2, "expected 'key = value'");
    EXPECT_PARSE_ERROR("[source a\n", 1, "no closing ']'");
    EXPECT_PARSE_ERROR("[source]\n", 1, "expected [source NAME]");
    EXPECT_PARSE_ERROR("[source a/b]\n", 1, "may only use letters");
    EXPECT_PARSE_ERROR("[source aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n", 1, "longer than");
    EXPECT_PARSE_ERROR("[source a]\nurl = ${STREAMCUT_TEST_SURELY_UNSET}\n", 2, "STREAMCUT_TEST_SURELY_UNSET");
    EXPECT_PARSE_ERROR("[source a]\nurl = @/nonexistent/streamcut/file\n", 2, "cannot read value file");
    expect_parse_error("[source a]\nurl = a\0b\n", 20, 2, "NUL byte");
    EXPECT_PARSE_ERROR("[source a]\nurl = \xff\xfe\n", 2, "UTF-8");
}
END_TEST

START_TEST(long_lines_are_refused_not_split)
{
    /* Debian's inih would hand over 197 bytes and read the rest as a new
     * key ("line smuggling"); the file must be refused instead. */
    GString *text = g_string_new("[source a]\nmodule = avformat\nurl = ");
    for (int i = 0; i < 197; i++) g_string_append_c(text, 'A');
    g_string_append(text, "bind=0.0.0.0\n");
    EXPECT_PARSE_ERROR(text->str, 3, "lines are limited to 198 bytes");
    g_string_free(text, TRUE);
    /* 198 bytes is still fine. */
    text = g_string_new("[source a]\nurl = ");
    while (text->len < strlen("[source a]\n") + 198) g_string_append_c(text, 'B');
    g_string_append_c(text, '\n');
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_config *config = sc_config_load_data("pipe.ini", text->str, text->len, errors);
    ck_assert_ptr_nonnull(config);
    const sc_config_section *section = g_ptr_array_index(config->sections, 0);
    ck_assert_int_eq(strlen(sc_config_section_find(section, "url")->value), 198 - strlen("url = "));
    sc_config_free(config);
    g_ptr_array_free(errors, TRUE);
    g_string_free(text, TRUE);
}
END_TEST

START_TEST(values_expand_from_environment_and_files)
{
    char *dir = test_make_dir();
    GString *url = g_string_new("https://example.invalid/live.m3u8?sig=");
    while (url->len < 1200) g_string_append(url, "0123456789");
    char *value_file = test_write_file(dir, "url.txt", url->str);
    g_setenv("STREAMCUT_TEST_KEY", "s3cret", TRUE);
    char *text = g_strdup_printf("[host]\n; comment\n# comment\n\n[source a]\nmodule = avformat\n"
                                 "url = @url.txt\nformat = ${STREAMCUT_TEST_KEY}-x\nrealtime = @@literal\n");
    char *path = test_write_file(dir, "pipe.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_config *config = sc_config_load(path, errors);
    ck_assert_msg(config != NULL, "%s", errors->len ? (char *)errors->pdata[0] : "");
    const sc_config_section *section = sc_config_find_section(config, "a");
    ck_assert_str_eq(sc_config_section_find(section, "url")->value, url->str);
    ck_assert_int_eq(sc_config_section_find(section, "url")->line, 7);
    ck_assert_str_eq(sc_config_section_find(section, "format")->value, "s3cret-x");
    ck_assert_str_eq(sc_config_section_find(section, "realtime")->value, "@literal");
    sc_config_free(config);
    g_ptr_array_free(errors, TRUE);
    g_free(text);
    g_free(path);
    g_free(value_file);
    g_string_free(url, TRUE);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

/* Validate a whole pipeline against the real modules. */
static void expect_pipeline_error(const char *text, int line, const char *fragment)
{
    char *dir = test_make_dir();
    char *path = test_write_file(dir, "pipe.ini", text);
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    char *all = test_join_errors(errors);
    char *location = g_strdup_printf("%s:%d: ", path, line);
    ck_assert_msg(pipeline == NULL, "expected a validation error for:\n%s", text);
    ck_assert_msg(strstr(all, location) != NULL, "expected %s in:\n%s", location, all);
    ck_assert_msg(strstr(all, fragment) != NULL, "expected '%s' in:\n%s", fragment, all);
    g_free(location);
    g_free(all);
    g_ptr_array_free(errors, TRUE);
    g_free(path);
    test_remove_tree(dir);
    g_free(dir);
}

#define GOOD_SOURCE "[source cam]\nmodule = testsrc\nduration = 5s\n"
#define GOOD_STRATEGY "[strategy cut]\nmodule = fixed\nsource = cam\n"

START_TEST(validation_errors_name_file_and_line)
{
    expect_pipeline_error("[source cam]\nduration = 5s\n", 1, "missing 'module = NAME'");
    expect_pipeline_error("[source cam]\nmodule = nosuch\n", 2, "no module named 'nosuch'");
    expect_pipeline_error("[source cam]\nmodule = fixed\n", 2, "is a strategy module, not a source module");
    expect_pipeline_error(GOOD_SOURCE "[strategy cut]\nmodule = fixed\nsource = cam\nduraton = 10\n", 7,
                          "unknown option 'duraton' for module 'fixed' (did you mean 'duration'?)");
    expect_pipeline_error(GOOD_SOURCE "[strategy cut]\nmodule = fixed\nsource = cam\nduration = soon\n", 7,
                          "bad value 'soon' for 'duration'");
    expect_pipeline_error(GOOD_SOURCE "[strategy cut]\nmodule = fixed\nsource = cam\nduration = 0\n", 7,
                          "out of range");
    expect_pipeline_error("[source cam]\nmodule = testsrc\nbuffer.max_items = 0\n", 3, "out of range");
    expect_pipeline_error("[source cam]\nmodule = testsrc\nbuffer.keyframe_priority = maybe\n", 3,
                          "expected a boolean");
    expect_pipeline_error("[source cam]\nmodule = testsrc\nbufer.max_items = 10\n", 3,
                          "did you mean 'buffer.max_items'");
    expect_pipeline_error("[source cam]\nmodule = avformat\n", 1, "missing required option 'url'");
    expect_pipeline_error(GOOD_SOURCE "[strategy cut]\nmodule = fixed\nsource = cma\n", 6,
                          "no [source cma] in this file (did you mean 'cam'?)");
    expect_pipeline_error(GOOD_SOURCE GOOD_STRATEGY "[sink out]\nmodule = jsonl\nfrom = nope\n", 9,
                          "no [strategy nope]");
    expect_pipeline_error(GOOD_SOURCE GOOD_STRATEGY "[sink out]\nmodule = jsonl\nfrom = cam\n", 9,
                          "'cam' is a source, not a strategy");
    expect_pipeline_error(GOOD_SOURCE GOOD_STRATEGY "[sink out]\nmodule = jsonl\n", 7, "receives nothing");
    expect_pipeline_error(GOOD_SOURCE GOOD_STRATEGY "[sink out]\nmodule = jsonl\nfrom = cut\non_overflow = sometimes\n",
                          10, "one of: auto,block,drop_oldest,drop_newest");
    expect_pipeline_error("[host]\nmodule_pth = x\n" GOOD_SOURCE, 2, "did you mean 'module_path'");
    expect_pipeline_error("[host]\n", 1, "no [source NAME] section");
    expect_pipeline_error("[host]\nmax_streams = 2\n[source a]\nmodule = testsrc\n[source b]\nmodule = testsrc\n"
                          "[source c]\nmodule = testsrc\n", 7, "more than max_streams (2) sources");
    expect_pipeline_error("[source a]\nmodule = testsrc\n[sync both]\nmodule = fixed\nsources = a\n", 5,
                          "name at least two sources");
    expect_pipeline_error("[source a]\nmodule = testsrc\n[source b]\nmodule = testsrc\n"
                          "[sync both]\nmodule = testsrc\nsources = a, b\n", 6, "is a source module, not a sync module");
}
END_TEST

START_TEST(valid_pipeline_resolves_graph)
{
    char *dir = test_make_dir();
    char *path = test_write_file(dir, "pipe.ini",
                                 GOOD_SOURCE GOOD_STRATEGY "[strategy other]\nmodule = fixed\nsource = cam\nduration = 2s\n"
                                 "[sink out]\nmodule = jsonl\nfrom = cut, other\nqueue = 8\non_overflow = drop_newest\n");
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    sc_pipeline *pipeline = sc_pipeline_load(path, errors);
    ck_assert_msg(pipeline != NULL, "%s", errors->len ? (char *)errors->pdata[0] : "");
    ck_assert_int_eq(pipeline->sources->len, 1);
    ck_assert_int_eq(pipeline->strategies->len, 2);
    ck_assert_int_eq(pipeline->sinks->len, 1);
    sc_source_runtime *source = g_ptr_array_index(pipeline->sources, 0);
    ck_assert_int_eq(source->strategies->len, 2);
    sc_sink_runtime *sink = g_ptr_array_index(pipeline->sinks, 0);
    ck_assert_int_eq(sink->capacity, 8);
    ck_assert_int_eq(sink->overflow, SC_OVERFLOW_DROP_NEWEST);
    for (guint i = 0; i < pipeline->strategies->len; i++) {
        sc_strategy_runtime *strategy = g_ptr_array_index(pipeline->strategies, i);
        ck_assert_int_eq(strategy->record_sinks->len, 1);
        ck_assert_ptr_eq(strategy->source, source);
    }
    const sc_option_value *duration = sc_ctx_option(((sc_strategy_runtime *)pipeline->strategies->pdata[1])->ctx, "duration");
    ck_assert_int_eq(duration->as_int, 2 * SC_NSEC_PER_SEC);
    ck_assert(duration->set);
    const sc_option_value *default_duration = sc_ctx_option(((sc_strategy_runtime *)pipeline->strategies->pdata[0])->ctx, "duration");
    ck_assert_int_eq(default_duration->as_int, 10 * SC_NSEC_PER_SEC);
    ck_assert(!default_duration->set);
    sc_pipeline_free(pipeline);
    g_ptr_array_free(errors, TRUE);
    g_free(path);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *suite = suite_create("config");
    TCase *values = tcase_create("values");
    tcase_add_test(values, durations_and_sizes_parse);
    suite_add_tcase(suite, values);
    TCase *parsing = tcase_create("parsing");
    tcase_add_test(parsing, line_level_errors_name_file_and_line);
    tcase_add_test(parsing, long_lines_are_refused_not_split);
    tcase_add_test(parsing, values_expand_from_environment_and_files);
    suite_add_tcase(suite, parsing);
    TCase *validation = tcase_create("validation");
    tcase_add_test(validation, validation_errors_name_file_and_line);
    tcase_add_test(validation, valid_pipeline_resolves_graph);
    suite_add_tcase(suite, validation);
    return suite;
}

int main(void)
{
    SRunner *runner = srunner_create(config_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
