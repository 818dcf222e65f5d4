/* Small helpers shared by the Check tests. */
#ifndef SC_TEST_UTIL_H
#define SC_TEST_UTIL_H

#include <glib.h>

/** A fresh temporary folder (g_free the name; remove with test_remove_tree). */
char *test_make_dir(void);
/** Write `content` to dir/name; returns the path (g_free). */
char *test_write_file(const char *dir, const char *name, const char *content);
void test_remove_tree(const char *path);
/** Folder of the test-only modules (synth, probe, broken ones). */
const char *test_modules_dir(void);
/** Absolute path of test-only module NAME's .so (g_free). */
char *test_module_path(const char *name);
/** All error lines joined with newlines (g_free). */
char *test_join_errors(GPtrArray *errors);

#include <stdbool.h>

typedef struct test_run_result {
    GPtrArray *records;  /* char*, one JSON object each (g_ptr_array_free) */
    int status;
} test_run_result;

/** Run a pipeline in-process: `body` holds the [source]/[strategy]
 * sections (test modules are on the module path); a jsonl sink named
 * "records" is added reading `from` (a strategy name). With a non-zero
 * `stop_after_ms` the run is stopped as by a signal after that long.
 * Fails the current Check test on any configuration error. */
test_run_result test_run_pipeline_from(const char *body, const char *from, int stop_after_ms);
typedef struct sc_pipeline sc_pipeline;
/** test_run_pipeline_from, calling `inspect(pipeline, data)` once the
 * sources are done and before the pipeline finishes (NULL: no call). */
test_run_result test_run_pipeline_inspected(const char *body, const char *from, int stop_after_ms,
                                            void (*inspect)(sc_pipeline *pipeline, void *data), void *data);
/** test_run_pipeline_from with from = "cut". */
test_run_result test_run_pipeline(const char *body, int stop_after_ms);
/** A number field of a JSON record (fails the test when absent). */
double test_number_field(const char *record, const char *key);
/** Whether the record's "flags" array holds `flag`. */
bool test_has_flag(const char *record, const char *flag);
/** A sync set's members "a" and "b" are both there, whole (neither
 * truncated nor thinned), start at the same keyframe and hold about as
 * many packets; returns b's member object. */
const char *test_assert_members_alike(const char *record);

#endif
