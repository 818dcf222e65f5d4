/* mangen: fills the man page templates with what the code declares, so the
 * pages cannot drift from it. Reads a template on standard input and copies
 * it to standard output, replacing two kinds of lines:
 *
 *   @KEYS KIND@   the keys the host owns in a [KIND NAME] section
 *                 (KIND: host, source, strategy, sink, sync, observer),
 *                 from the schemas the host validates pipelines against;
 *   @MODULES@     every module of the build tree with its description and
 *                 options, from the modules' own option schemas;
 *
 * and, anywhere, @NAME@ by VALUE for each NAME=VALUE argument (the
 * configured paths and versions), escaped for troff.
 *
 * Built in the build tree and run from it (the loader then finds the
 * modules just built); never installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "loader.h"
#include "pipeline.h"

/* Text as troff reads it literally: a backslash is the escape character,
 * a '-' would be a hyphen (not a typeable minus) in names and values, and
 * a line starting with '.' or '\'' would be a request. */
static void put_text(FILE *out, const char *text, bool literal)
{
    /* Schemas are the modules' text: not UTF-8 would be their bug, shown
     * as '?' rather than as bytes troff rejects. */
    bool utf8 = g_utf8_validate(text, -1, NULL);
    for (const char *c = text; *c; c = utf8 ? g_utf8_next_char(c) : c + 1) {
        if ((unsigned char)*c >= 0x80) {
            if (utf8) fprintf(out, "\\[u%04X]", (unsigned)g_utf8_get_char(c));
            else fputc('?', out);
        } else if (*c == '\\') fputs("\\e", out);
        else if (*c == '-' && literal) fputs("\\-", out);
        else if (*c == '\n') fputs("\n\\&", out);
        else fputc(*c, out);
    }
}

/* A configured value: literal text, with a break point after each '/' so
 * that a long installation prefix still fits a line. */
static void put_value(FILE *out, const char *value)
{
    for (const char *c = value; *c; c++) {
        char one[2] = {*c, '\0'};
        put_text(out, one, true);
        if (*c == '/') fputs("\\:", out);
    }
}

/* Copy a template line, replacing @NAME@ for every NAME=VALUE definition. */
static void put_template_line(FILE *out, const char *line, char **definitions)
{
    for (const char *c = line; *c;) {
        bool replaced = false;
        for (char **d = definitions; *d && *c == '@' && !replaced; d++) {
            const char *equals = strchr(*d, '=');
            size_t name_length = (size_t)(equals - *d);
            if (strncmp(c + 1, *d, name_length) == 0 && c[1 + name_length] == '@') {
                put_value(out, equals + 1);
                c += name_length + 2;
                replaced = true;
            }
        }
        if (!replaced) fputc(*c++, out);
    }
}

static void put_line(FILE *out, const char *text)
{
    fputs("\\&", out);
    put_text(out, text, false);
    fputc('\n', out);
}

static void put_option(FILE *out, const sc_option_spec *spec)
{
    fputs(".TP\n\\fB", out);
    put_text(out, spec->name, true);
    fprintf(out, "\\fR (%s", sc_option_type_name(spec->type));
    if (spec->flags & SC_OPT_REQUIRED) {
        fputs(", required", out);
    } else if (spec->default_value && *spec->default_value) {
        fputs(", default \\fB", out);
        put_text(out, spec->default_value, true);
        fputs("\\fR", out);
    }
    fputs(")\n", out);
    if (spec->help) put_line(out, spec->help);
    if (spec->type == SC_OPT_ENUM && spec->choices) {
        fputs(".br\nOne of: \\fB", out);
        char **choices = g_strsplit(spec->choices, "|", -1);
        for (char **choice = choices; *choice; choice++) {
            if (choice != choices) fputs("\\fR, \\fB", out);
            put_text(out, *choice, true);
        }
        g_strfreev(choices);
        fputs("\\fR.\n", out);
    }
    if (spec->min < spec->max) {
        const char *unit = spec->type == SC_OPT_DURATION ? " s" : spec->type == SC_OPT_SIZE ? " bytes" : "";
        char range[128];
        snprintf(range, sizeof range, "From %.15g%s to %.15g%s.", spec->min, unit, spec->max, unit);
        fputs(".br\n", out);
        put_text(out, range, true);
        fputc('\n', out);
    }
}

static bool put_host_keys(FILE *out, const char *kind_name)
{
    for (int kind = SC_SECTION_HOST; kind <= SC_SECTION_OBSERVER; kind++) {
        if (strcmp(sc_section_kind_name(kind), kind_name) != 0) continue;
        for (const sc_option_spec *spec = sc_host_keys(kind); spec->name; spec++) put_option(out, spec);
        return true;
    }
    return false;
}

/* By kind in the order a pipeline flows (sources, strategies, sinks,
 * observers), then by name. */
static gint compare_modules(gconstpointer a, gconstpointer b)
{
    const sc_module *left = *(const sc_module *const *)a, *right = *(const sc_module *const *)b;
    if (left->descriptor.kind != right->descriptor.kind)
        return left->descriptor.kind < right->descriptor.kind ? -1 : 1;
    return strcmp(left->descriptor.name, right->descriptor.name);
}

static bool put_modules(FILE *out)
{
    sc_loader *loader = sc_loader_new(NULL);
    if (!loader->from_build_tree) {
        fprintf(stderr, "mangen: not run from the build tree: it would document installed modules instead\n");
        sc_loader_free(loader);
        return false;
    }
    GPtrArray *errors = g_ptr_array_new_with_free_func(g_free);
    GPtrArray *modules = sc_loader_find_all(loader, errors);
    g_ptr_array_sort(modules, compare_modules);
    uint32_t kind = 0;
    for (guint i = 0; i < modules->len; i++) {
        const sc_module *module = g_ptr_array_index(modules, i);
        const sc_module_descriptor *d = &module->descriptor;
        if (d->kind != kind) {
            kind = d->kind;
            fprintf(out, ".SH %s\n", kind == SC_MODULE_SOURCE ? "SOURCES"
                                     : kind == SC_MODULE_STRATEGY ? "STRATEGIES"
                                     : kind == SC_MODULE_SINK ? "SINKS"
                                     : kind == SC_MODULE_OBSERVER ? "OBSERVERS" : "OTHER MODULES");
        }
        fputs(".SS \"", out);
        put_text(out, d->name, true);
        fprintf(out, "\" (%s, version ", sc_module_kind_name(d->kind));
        put_text(out, d->version, true);
        fputs(")\n", out);
        if (d->description) put_line(out, d->description);
        fputs(".PP\n", out);
        if (module->option_count == 0) {
            fputs("No options of its own.\n", out);
        } else {
            fputs("Options:\n.RS 4\n", out);
            for (size_t o = 0; o < module->option_count; o++) put_option(out, &module->options[o]);
            fputs(".RE\n", out);
        }
    }
    bool ok = errors->len == 0 && modules->len > 0;
    for (guint i = 0; i < errors->len; i++) fprintf(stderr, "mangen: %s\n", (char *)errors->pdata[i]);
    if (modules->len == 0) fprintf(stderr, "mangen: no module found in the build tree\n");
    g_ptr_array_free(modules, TRUE);
    g_ptr_array_free(errors, TRUE);
    sc_loader_free(loader);
    return ok;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *equals = strchr(argv[i], '=');
        if (!equals || equals == argv[i]) {
            fprintf(stderr, "mangen: '%s' is not NAME=VALUE\nusage: mangen [NAME=VALUE]... <TEMPLATE >PAGE\n", argv[i]);
            return 2;
        }
    }
    char **definitions = argv + 1;
    /* Only the build tree's own modules belong in the page. */
    g_unsetenv("STREAMCUT_MODULE_PATH");
    char line[4096];
    int line_number = 0;
    while (fgets(line, sizeof line, stdin)) {
        line_number++;
        char kind[32];
        bool ok = true;
        if (strcmp(line, "@MODULES@\n") == 0) ok = put_modules(stdout);
        else if (sscanf(line, "@KEYS %31[a-z]@", kind) == 1) {
            ok = put_host_keys(stdout, kind);
            if (!ok) fprintf(stderr, "mangen: line %d: no section kind '%s'\n", line_number, kind);
        } else put_template_line(stdout, line, definitions);
        if (!ok) return 1;
    }
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
