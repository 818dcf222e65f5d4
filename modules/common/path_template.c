/* Output path templates (see path_template.h for the rules). */
#include "path_template.h"
#include "error_text.h"
#include "text_buffer.h"

#include <streamcut/abi.h>

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {index:NN}, {n:NN}: more digits than any uint64 has makes no sense. */
#define INDEX_WIDTH_MAX 20
/* Longest single path component common filesystems accept. */
#define COMPONENT_MAX 255

enum part_kind {
    PART_LITERAL,
    PART_SOURCE,
    PART_STRATEGY,
    PART_INDEX,
    PART_START,
    PART_END,
    PART_LABEL,
    PART_NUMBER
};

typedef struct template_part {
    enum part_kind kind;
    char *literal;   /* PART_LITERAL only, braces already unescaped */
    int width;       /* PART_INDEX, PART_NUMBER: zero-padded width, 0 = natural */
} template_part;

struct sc_path_template {
    template_part *parts;
    size_t part_count;
    int is_absolute;
    unsigned optional_used;  /* sc_path_placeholder bits */
    char base[PATH_MAX];
};

static const struct {
    const char *name;
    enum part_kind kind;
    unsigned optional;   /* the sc_path_placeholder bit that enables it, 0 = always there */
} placeholder_names[] = {
    { "source", PART_SOURCE, 0 },
    { "strategy", PART_STRATEGY, 0 },
    { "index", PART_INDEX, 0 },
    { "start", PART_START, 0 },
    { "end", PART_END, 0 },
    { "label", PART_LABEL, 0 },
    { "n", PART_NUMBER, SC_PATH_NUMBER },
};

#define PLACEHOLDER_COUNT (sizeof(placeholder_names) / sizeof(placeholder_names[0]))

/*
 * Lexical normalization: drop empty and "." components, keep a leading '/'.
 * ".." is refused rather than resolved, because resolving it lexically is
 * wrong across symlinks and we never need it. Returns 0, -1 on "..", -2 when
 * the result does not fit.
 */
static int normalize_path(const char *path, char *out, size_t outlen)
{
    size_t used = 0;
    int absolute = path[0] == '/';

    if (outlen < 2)
        return -2;
    if (absolute)
        out[used++] = '/';
    out[used] = '\0';

    const char *cursor = path;
    while (*cursor != '\0') {
        while (*cursor == '/')
            cursor++;
        const char *component = cursor;
        while (*cursor != '\0' && *cursor != '/')
            cursor++;
        size_t component_length = (size_t)(cursor - component);
        if (component_length == 0 || (component_length == 1 && component[0] == '.'))
            continue;
        if (component_length == 2 && component[0] == '.' && component[1] == '.')
            return -1;
        int needs_separator = used > 0 && out[used - 1] != '/';
        if (used + (size_t)needs_separator + component_length + 1 > outlen)
            return -2;
        if (needs_separator)
            out[used++] = '/';
        memcpy(out + used, component, component_length);
        used += component_length;
        out[used] = '\0';
    }
    if (used == 0) {
        out[0] = '.';
        out[1] = '\0';
    }
    return 0;
}

/* True when `path` (normalized) names something strictly below `base`. */
static int is_strictly_inside(const char *base, const char *path)
{
    if (strcmp(base, ".") == 0)
        return path[0] != '/' && strcmp(path, ".") != 0;
    if (strcmp(base, "/") == 0)
        return path[0] == '/' && path[1] != '\0';
    size_t base_length = strlen(base);
    return strncmp(path, base, base_length) == 0 && path[base_length] == '/' &&
           path[base_length + 1] != '\0';
}

static int append_part(sc_path_template *tmpl, enum part_kind kind, const char *literal,
                       size_t literal_length, int width)
{
    template_part *grown = realloc(tmpl->parts, (tmpl->part_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    tmpl->parts = grown;
    template_part *part = &tmpl->parts[tmpl->part_count];
    part->kind = kind;
    part->width = width;
    part->literal = NULL;
    if (kind == PART_LITERAL) {
        part->literal = malloc(literal_length + 1);
        if (part->literal == NULL)
            return -1;
        if (literal_length > 0)
            memcpy(part->literal, literal, literal_length);
        part->literal[literal_length] = '\0';
    }
    tmpl->part_count++;
    return 0;
}

/* "{source} {strategy} ..." for the placeholders this template may use. */
static void list_placeholders(unsigned optional, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < PLACEHOLDER_COUNT; i++) {
        if (placeholder_names[i].optional & ~optional)
            continue;
        int written = snprintf(out + used, outlen - used, "%s{%s}", used ? " " : "",
                               placeholder_names[i].name);
        if (written < 0 || (size_t)written >= outlen - used)
            return;
        used += (size_t)written;
    }
}

/* Parses the inside of "{...}" into a part; returns 0 or -1 with err set. */
static int parse_placeholder(sc_path_template *tmpl, unsigned optional, const char *inside,
                             size_t length, char *err, size_t errlen)
{
    const char *colon = memchr(inside, ':', length);
    size_t name_length = colon ? (size_t)(colon - inside) : length;

    if (name_length == 0) {
        format_error(err, errlen, "empty placeholder {%.*s}", (int)length, inside);
        return -1;
    }
    for (size_t i = 0; i < PLACEHOLDER_COUNT; i++) {
        const char *name = placeholder_names[i].name;
        if (strlen(name) != name_length || memcmp(name, inside, name_length) != 0 ||
            (placeholder_names[i].optional & ~optional))
            continue;
        enum part_kind kind = placeholder_names[i].kind;
        int width = 0;
        if (colon != NULL) {
            const char *spec = colon + 1;
            size_t spec_length = length - name_length - 1;
            if (kind != PART_INDEX && kind != PART_NUMBER) {
                format_error(err, errlen, "placeholder {%.*s} takes no width (only {index:NN}%s does)",
                          (int)length, inside, (optional & SC_PATH_NUMBER) ? " and {n:NN}" : "");
                return -1;
            }
            if (spec_length == 0 || spec_length > 3) {
                format_error(err, errlen, "bad width in {%.*s}: expected 1 to %d digits like {index:05}",
                          (int)length, inside, INDEX_WIDTH_MAX);
                return -1;
            }
            for (size_t d = 0; d < spec_length; d++) {
                if (spec[d] < '0' || spec[d] > '9') {
                    format_error(err, errlen, "bad width in {%.*s}: not a decimal number",
                              (int)length, inside);
                    return -1;
                }
                width = width * 10 + (spec[d] - '0');
            }
            if (width > INDEX_WIDTH_MAX) {
                format_error(err, errlen, "bad width in {%.*s}: at most %d", (int)length, inside,
                          INDEX_WIDTH_MAX);
                return -1;
            }
        }
        if (append_part(tmpl, kind, NULL, 0, width) != 0) {
            format_error(err, errlen, "out of memory");
            return -1;
        }
        tmpl->optional_used |= placeholder_names[i].optional;
        return 0;
    }
    char known[128];
    list_placeholders(optional, known, sizeof(known));
    format_error(err, errlen, "unknown placeholder {%.*s} (known: %s)", (int)length, inside, known);
    return -1;
}

/*
 * The template's own text must not climb out with "..": check it with each
 * placeholder standing for an opaque, non-empty name. Values that expand to
 * "" are caught again after expansion.
 */
static int check_static_components(const sc_path_template *tmpl, char *err, size_t errlen)
{
    text_buffer skeleton = { 0 };
    text_buffer_append(&skeleton, "", 0);
    for (size_t i = 0; i < tmpl->part_count; i++) {
        if (tmpl->parts[i].kind == PART_LITERAL)
            text_buffer_append(&skeleton, tmpl->parts[i].literal, strlen(tmpl->parts[i].literal));
        else
            text_buffer_append(&skeleton, "\x01", 1);
    }
    if (skeleton.failed || skeleton.data == NULL) {
        free(skeleton.data);
        format_error(err, errlen, "out of memory");
        return -1;
    }
    int result = 0;
    const char *cursor = skeleton.data;
    while (cursor != NULL && *cursor != '\0') {
        const char *end = strchr(cursor, '/');
        size_t length = end ? (size_t)(end - cursor) : strlen(cursor);
        if (length == 2 && cursor[0] == '.' && cursor[1] == '.') {
            format_error(err, errlen, "the template may not contain a \"..\" component");
            result = -1;
            break;
        }
        cursor = end ? end + 1 : NULL;
    }
    if (result == 0 && skeleton.length > 0 && skeleton.data[skeleton.length - 1] == '/') {
        format_error(err, errlen, "the template ends with '/': it must name a file");
        result = -1;
    }
    free(skeleton.data);
    return result;
}

/* Base folder: the literal text up to its last '/' before the first placeholder. */
static int compute_base(sc_path_template *tmpl, char *err, size_t errlen)
{
    text_buffer prefix = { 0 };
    text_buffer_append(&prefix, "", 0);
    for (size_t i = 0; i < tmpl->part_count && tmpl->parts[i].kind == PART_LITERAL; i++)
        text_buffer_append(&prefix, tmpl->parts[i].literal, strlen(tmpl->parts[i].literal));
    if (prefix.failed) {
        free(prefix.data);
        format_error(err, errlen, "out of memory");
        return -1;
    }
    char *last_slash = strrchr(prefix.data, '/');
    if (last_slash == NULL)
        strcpy(prefix.data, ".");
    else if (last_slash == prefix.data)
        last_slash[1] = '\0';
    else
        *last_slash = '\0';
    int status = normalize_path(prefix.data, tmpl->base, sizeof(tmpl->base));
    free(prefix.data);
    if (status != 0) {
        format_error(err, errlen, status == -1 ? "the base folder may not contain \"..\""
                                            : "the base folder path is too long");
        return -1;
    }
    return 0;
}

sc_path_template *sc_path_template_parse(const char *text, unsigned optional, char *err,
                                         size_t errlen)
{
    if (text == NULL || text[0] == '\0') {
        format_error(err, errlen, "the path template is empty");
        return NULL;
    }
    sc_path_template *tmpl = calloc(1, sizeof(*tmpl));
    if (tmpl == NULL) {
        format_error(err, errlen, "out of memory");
        return NULL;
    }
    tmpl->is_absolute = text[0] == '/';

    text_buffer literal = { 0 };
    const char *cursor = text;
    int ok = 1;
    while (ok && *cursor != '\0') {
        if (cursor[0] == '{' && cursor[1] == '{') {
            text_buffer_append(&literal, "{", 1);
            cursor += 2;
        } else if (cursor[0] == '}' && cursor[1] == '}') {
            text_buffer_append(&literal, "}", 1);
            cursor += 2;
        } else if (cursor[0] == '}') {
            format_error(err, errlen, "stray '}' at offset %zu (write '}}' for a literal brace)",
                      (size_t)(cursor - text));
            ok = 0;
        } else if (cursor[0] == '{') {
            const char *close = strchr(cursor + 1, '}');
            if (close == NULL) {
                format_error(err, errlen, "unterminated placeholder \"%.32s\" at offset %zu",
                          cursor, (size_t)(cursor - text));
                ok = 0;
                break;
            }
            if (literal.length > 0) {
                if (literal.failed || append_part(tmpl, PART_LITERAL, literal.data,
                                                  literal.length, 0) != 0) {
                    format_error(err, errlen, "out of memory");
                    ok = 0;
                    break;
                }
                literal.length = 0;
            }
            if (parse_placeholder(tmpl, optional, cursor + 1, (size_t)(close - cursor - 1), err,
                                  errlen) != 0) {
                ok = 0;
                break;
            }
            cursor = close + 1;
        } else {
            text_buffer_append(&literal, cursor, 1);
            cursor++;
        }
    }
    if (ok && literal.length > 0 &&
        (literal.failed || append_part(tmpl, PART_LITERAL, literal.data, literal.length, 0) != 0)) {
        format_error(err, errlen, "out of memory");
        ok = 0;
    }
    free(literal.data);

    if (ok && (check_static_components(tmpl, err, errlen) != 0 ||
               compute_base(tmpl, err, errlen) != 0))
        ok = 0;
    if (!ok) {
        sc_path_template_free(tmpl);
        return NULL;
    }
    return tmpl;
}

void sc_path_template_free(sc_path_template *tmpl)
{
    if (tmpl == NULL)
        return;
    for (size_t i = 0; i < tmpl->part_count; i++)
        free(tmpl->parts[i].literal);
    free(tmpl->parts);
    free(tmpl);
}

const char *sc_path_template_base(const sc_path_template *tmpl)
{
    return tmpl->base;
}

int sc_path_template_uses(const sc_path_template *tmpl, unsigned placeholder)
{
    return (tmpl->optional_used & placeholder) != 0;
}

/*
 * Reduce a value to a safe file-name fragment: only [A-Za-z0-9._-], never
 * starting with '.' (hidden files, "..") or '-' (read as an option by tools).
 */
static void sanitize_value(const char *value, char out[SC_PATH_VALUE_MAX + 1])
{
    size_t length = 0;
    for (const char *p = value ? value : ""; *p != '\0' && length < SC_PATH_VALUE_MAX; p++) {
        char c = *p;
        int allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        out[length++] = allowed ? c : '_';
    }
    out[length] = '\0';
    if (out[0] == '.' || out[0] == '-')
        out[0] = '_';
}

/* Seconds with millisecond precision, rounded to the nearest millisecond. */
static void format_seconds(int64_t ns, char *out, size_t outlen)
{
    if (ns == INT64_MIN) {
        snprintf(out, outlen, "none");
        return;
    }
    uint64_t magnitude = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    uint64_t milliseconds = (magnitude + 500000) / 1000000;
    snprintf(out, outlen, "%s%" PRIu64 ".%03" PRIu64, ns < 0 ? "-" : "",
             milliseconds / 1000, milliseconds % 1000);
}

static int check_component_lengths(const char *path)
{
    const char *cursor = path;
    while (*cursor != '\0') {
        const char *end = strchr(cursor, '/');
        size_t length = end ? (size_t)(end - cursor) : strlen(cursor);
        if (length > COMPONENT_MAX)
            return -1;
        if (end == NULL)
            break;
        cursor = end + 1;
    }
    return 0;
}

int sc_path_template_expand(const sc_path_template *tmpl, const sc_path_fields *fields,
                            char *out, size_t outlen, char *err, size_t errlen)
{
    text_buffer raw = { 0 };
    text_buffer_append(&raw, "", 0);
    for (size_t i = 0; i < tmpl->part_count; i++) {
        const template_part *part = &tmpl->parts[i];
        char value[SC_PATH_VALUE_MAX + 1];
        char scratch[48];
        switch (part->kind) {
        case PART_LITERAL:
            text_buffer_append(&raw, part->literal, strlen(part->literal));
            continue;
        case PART_SOURCE:
            sanitize_value(fields->source, value);
            break;
        case PART_STRATEGY:
            sanitize_value(fields->strategy, value);
            break;
        case PART_LABEL:
            sanitize_value(fields->label, value);
            break;
        case PART_INDEX:
            snprintf(scratch, sizeof(scratch), "%0*" PRIu64, part->width, fields->index);
            sanitize_value(scratch, value);
            break;
        case PART_NUMBER:
            snprintf(scratch, sizeof(scratch), "%0*" PRIu64, part->width, fields->number);
            sanitize_value(scratch, value);
            break;
        case PART_START:
            format_seconds(fields->start, scratch, sizeof(scratch));
            sanitize_value(scratch, value);
            break;
        case PART_END:
            format_seconds(fields->end, scratch, sizeof(scratch));
            sanitize_value(scratch, value);
            break;
        }
        text_buffer_append(&raw, value, strlen(value));
    }
    if (raw.failed) {
        free(raw.data);
        format_error(err, errlen, "out of memory");
        return -1;
    }

    int result = -1;
    /* An empty value in front of a '/' would turn a relative template absolute. */
    if (!tmpl->is_absolute && raw.data[0] == '/') {
        format_error(err, errlen, "\"%s\" is absolute, but the template is relative "
                  "(a placeholder expanded to nothing)", raw.data);
    } else {
        int status = normalize_path(raw.data, out, outlen);
        if (status == -1)
            format_error(err, errlen, "\"%s\" contains a \"..\" component", raw.data);
        else if (status == -2)
            format_error(err, errlen, "\"%.64s...\" is too long", raw.data);
        else if (!is_strictly_inside(tmpl->base, out))
            format_error(err, errlen, "\"%s\" is not a file inside the base folder \"%s\"",
                      out, tmpl->base);
        else if (check_component_lengths(out) != 0)
            format_error(err, errlen, "\"%s\" has a component longer than %d bytes", out,
                      COMPONENT_MAX);
        else
            result = 0;
    }
    free(raw.data);
    return result;
}
