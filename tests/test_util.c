#include "test_util.h"

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
