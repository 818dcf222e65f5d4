#include "new_module.h"

#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define EXIT_WRITE_FAILED 1
#define EXIT_USAGE 2

static const char *const module_kinds[] = {"source", "strategy", "sink", "observer", NULL};

/* The loader's rule ([a-z0-9_-], at most 48) plus a leading letter, so the
 * name also makes a C identifier once '-' becomes '_'. */
static bool valid_new_module_name(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length > 48 || !g_ascii_islower(name[0])) return false;
    for (const char *c = name; *c; c++)
        if (!g_ascii_islower(*c) && !g_ascii_isdigit(*c) && *c != '_' && *c != '-') return false;
    return true;
}

static char *fill_in(const char *text, const char *name, const char *identifier, const char *kind)
{
    const char *const placeholders[][2] = {{"@NAME@", name}, {"@IDENT@", identifier}, {"@KIND@", kind}};
    GString *out = g_string_new(NULL);
    for (const char *c = text; *c;) {
        bool replaced = false;
        for (size_t i = 0; i < G_N_ELEMENTS(placeholders) && !replaced; i++) {
            size_t length = strlen(placeholders[i][0]);
            if (strncmp(c, placeholders[i][0], length) == 0) {
                g_string_append(out, placeholders[i][1]);
                c += length;
                replaced = true;
            }
        }
        if (!replaced) g_string_append_c(out, *c++);
    }
    return g_string_free(out, FALSE);
}

/* The name a template file gets in the new folder, or NULL when it belongs
 * to another kind: KIND.c becomes NAME.c, pipeline-KIND.ini pipeline.ini. */
static char *output_name(const char *template_name, const char *name, const char *kind)
{
    char *source = g_strconcat(kind, ".c", NULL);
    char *pipeline = g_strconcat("pipeline-", kind, ".ini", NULL);
    char *result = NULL;
    if (strcmp(template_name, source) == 0) result = g_strconcat(name, ".c", NULL);
    else if (strcmp(template_name, pipeline) == 0) result = g_strdup("pipeline.ini");
    else if (!g_str_has_suffix(template_name, ".c") && !g_str_has_prefix(template_name, "pipeline-"))
        result = g_strdup(template_name);
    g_free(source);
    g_free(pipeline);
    return result;
}

int sc_new_module(const char *name, const char *kind)
{
    if (!g_strv_contains(module_kinds, kind)) {
        fprintf(stderr, "streamcut: new-module: unknown kind '%s' (source, strategy, sink or observer)\n", kind);
        return EXIT_USAGE;
    }
    if (!valid_new_module_name(name)) {
        fprintf(stderr, "streamcut: new-module: '%s' is not a module name: 1-48 characters of a-z, 0-9, _ "
                        "and -, starting with a letter\n", name);
        return EXIT_USAGE;
    }
    /* mkdir fails on anything already there, even a dangling link. */
    if (g_mkdir(name, 0755) != 0) {
        int error = errno;
        fprintf(stderr, "streamcut: new-module: cannot create folder %s: %s%s\n", name, g_strerror(error),
                error == EEXIST ? " (pick another name, or remove it)" : "");
        return error == EEXIST ? EXIT_USAGE : EXIT_WRITE_FAILED;
    }
    /* Whatever the umask: the host refuses module folders others may write. */
    if (g_chmod(name, 0755) != 0) {
        fprintf(stderr, "streamcut: new-module: cannot set the mode of %s: %s\n", name, g_strerror(errno));
        g_rmdir(name);
        return EXIT_WRITE_FAILED;
    }
    char *identifier = g_strdelimit(g_strdup(name), "-", '_');
    GPtrArray *written = g_ptr_array_new_with_free_func(g_free);
    int status = 0;
    for (const sc_template_file *file = sc_template_files; file->name && status == 0; file++) {
        char *file_name = output_name(file->name, name, kind);
        if (!file_name) continue;
        char *path = g_build_filename(name, file_name, NULL);
        char *text = fill_in(file->text, name, identifier, kind);
        GError *error = NULL;
        if (g_file_set_contents_full(path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0644, &error)) {
            g_ptr_array_add(written, g_strdup(path));
        } else {
            fprintf(stderr, "streamcut: new-module: %s\n", error->message);
            g_error_free(error);
            status = EXIT_WRITE_FAILED;
        }
        g_free(text);
        g_free(path);
        g_free(file_name);
    }
    if (status != 0) {
        /* Leave nothing half-made behind. */
        for (guint i = 0; i < written->len; i++) g_unlink(g_ptr_array_index(written, i));
        g_rmdir(name);
    } else {
        printf("%s/: a %s module skeleton (%s.c, Makefile, README.md, pipeline.ini). Next:\n"
               "  make -C %s\n"
               "  STREAMCUT_MODULE_PATH=$PWD/%s streamcut modules %s\n"
               "  streamcut run %s/pipeline.ini\n",
               name, kind, name, name, name, name, name);
    }
    g_ptr_array_free(written, TRUE);
    g_free(identifier);
    return status;
}
