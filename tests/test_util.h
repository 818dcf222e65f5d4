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
/** All error lines joined with newlines (g_free). */
char *test_join_errors(GPtrArray *errors);

#endif
