/* The module loader: a good module loads; each deliberately broken module
 * is refused with one line naming the file and the reason. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "test_util.h"

/* Open module `name` from the test folder and expect a refusal mentioning
 * `fragment`, on one line naming the file. */
static void expect_refused(const char *name, const char *fragment)
{
    sc_loader *loader = sc_loader_new(NULL);
    char *path = test_module_path(name);
    char *error = NULL;
    sc_module *module = sc_loader_open(loader, path, &error);
    ck_assert_msg(module == NULL, "%s was loaded", name);
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(strstr(error, fragment) != NULL, "expected '%s' in: %s", fragment, error);
    ck_assert_msg(strchr(error, '\n') == NULL, "error is not one line: %s", error);
    char *base = g_path_get_basename(path);
    ck_assert_msg(strstr(error, base) != NULL, "error does not name the file: %s", error);
    g_free(base);
    g_free(error);
    g_free(path);
    sc_loader_free(loader);
}

START_TEST(good_module_loads_with_its_abi)
{
    sc_loader *loader = sc_loader_new(NULL);
    char *path = test_module_path("probe");
    char *error = NULL;
    sc_module *module = sc_loader_open(loader, path, &error);
    ck_assert_msg(module != NULL, "%s", error);
    ck_assert_str_eq(module->descriptor.name, "probe");
    ck_assert_int_eq(module->descriptor.kind, SC_MODULE_SINK);
    ck_assert_int_eq(module->descriptor.abi_major, SC_ABI_MAJOR);
    ck_assert_ptr_nonnull(module->ops.sink.consume);
    ck_assert(g_path_is_absolute(module->path));
    /* The same file through another spelling is the same module. */
    char *dir = g_path_get_dirname(path);
    char *other = g_strconcat(dir, "/./probe.so", NULL);
    ck_assert_ptr_eq(sc_loader_open(loader, other, &error), module);
    g_free(other);
    g_free(dir);
    g_free(path);
    sc_loader_free(loader);
}
END_TEST

START_TEST(broken_modules_are_refused)
{
    expect_refused("abi_major2", "built for module ABI 2.0, this host provides ABI 1.1");
    expect_refused("abi_minor99", "built for module ABI 1.99, newer than this host's 1.1");
    expect_refused("small_descriptor", "descriptor is 16 bytes");
    expect_refused("no_entry", "no entry symbol streamcut_module_entry");
    expect_refused("missing_op", "required operation 'consume' is missing");
}
END_TEST

START_TEST(only_absolute_so_paths_are_opened)
{
    sc_loader *loader = sc_loader_new(NULL);
    char *error = NULL;
    ck_assert_ptr_null(sc_loader_open(loader, "probe.so", &error));
    ck_assert_ptr_nonnull(strstr(error, "must be absolute"));
    g_free(error);
    char *la = test_module_path("probe");
    la[strlen(la) - 3] = '\0';
    char *la_path = g_strconcat(la, ".la", NULL);
    ck_assert_ptr_null(sc_loader_open(loader, la_path, &error));
    ck_assert_ptr_nonnull(strstr(error, "only .so files"));
    g_free(error);
    g_free(la_path);
    g_free(la);
    sc_loader_free(loader);
}
END_TEST

static char *copy_module_to(const char *dir, const char *name, const char *as)
{
    char *source = test_module_path(name);
    char *contents;
    gsize length;
    ck_assert(g_file_get_contents(source, &contents, &length, NULL));
    char *target = g_build_filename(dir, as, NULL);
    ck_assert(g_file_set_contents(target, contents, (gssize)length, NULL));
    chmod(target, 0755);
    g_free(contents);
    g_free(source);
    return target;
}

START_TEST(writable_modules_and_folders_are_refused)
{
    char *dir = test_make_dir();
    chmod(dir, 0755);
    char *target = copy_module_to(dir, "probe", "probe.so");
    chmod(target, 0775);
    sc_loader *loader = sc_loader_new(NULL);
    char *error = NULL;
    ck_assert_ptr_null(sc_loader_open(loader, target, &error));
    ck_assert_msg(strstr(error, "group- or world-writable") != NULL, "%s", error);
    g_free(error);
    chmod(target, 0755);
    chmod(dir, 0777);
    ck_assert_ptr_null(sc_loader_open(loader, target, &error));
    ck_assert_msg(strstr(error, "module folder is group- or world-writable") != NULL, "%s", error);
    g_free(error);
    chmod(dir, 0755);
    sc_module *module = sc_loader_open(loader, target, &error);
    ck_assert_msg(module != NULL, "%s", error);
    /* A symbolic link is not followed. */
    char *link = g_build_filename(dir, "linked.so", NULL);
    ck_assert_int_eq(symlink(target, link), 0);
    sc_loader_free(loader);
    loader = sc_loader_new(NULL);
    ck_assert_ptr_null(sc_loader_open(loader, link, &error));
    ck_assert_msg(strstr(error, "not a regular file") != NULL, "%s", error);
    g_free(error);
    sc_loader_free(loader);
    g_free(link);
    g_free(target);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

START_TEST(modules_are_found_by_name_in_search_folders)
{
    char *dir = test_make_dir();
    chmod(dir, 0755);
    char *misnamed = copy_module_to(dir, "misnamed", "misnamed.so");
    const char *folders[] = {dir, NULL};
    sc_loader *loader = sc_loader_new(folders);
    char *error = NULL;
    ck_assert_ptr_null(sc_loader_find(loader, "misnamed", &error));
    ck_assert_msg(strstr(error, "calls itself 'other_name'") != NULL, "%s", error);
    g_free(error);
    ck_assert_ptr_null(sc_loader_find(loader, "nosuch", &error));
    ck_assert_msg(strstr(error, "no module named 'nosuch'") != NULL, "%s", error);
    g_free(error);
    ck_assert_ptr_null(sc_loader_find(loader, "../etc/passwd", &error));
    g_free(error);
    /* The build tree's own modules are found without any configuration. */
    sc_module *fixed = sc_loader_find(loader, "fixed", &error);
    ck_assert_msg(fixed != NULL, "%s", error);
    ck_assert_int_eq(fixed->descriptor.kind, SC_MODULE_STRATEGY);
    /* STREAMCUT_MODULE_PATH is searched too. */
    sc_loader_free(loader);
    g_setenv("STREAMCUT_MODULE_PATH", test_modules_dir(), TRUE);
    loader = sc_loader_new(NULL);
    sc_module *synth = sc_loader_find(loader, "synth", &error);
    ck_assert_msg(synth != NULL, "%s", error);
    g_unsetenv("STREAMCUT_MODULE_PATH");
    sc_loader_free(loader);
    g_free(misnamed);
    test_remove_tree(dir);
    g_free(dir);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("loader");
    TCase *tcase = tcase_create("loader");
    tcase_add_test(tcase, good_module_loads_with_its_abi);
    tcase_add_test(tcase, broken_modules_are_refused);
    tcase_add_test(tcase, only_absolute_so_paths_are_opened);
    tcase_add_test(tcase, writable_modules_and_folders_are_refused);
    tcase_add_test(tcase, modules_are_found_by_name_in_search_folders);
    suite_add_tcase(suite, tcase);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
