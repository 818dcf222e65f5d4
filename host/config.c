#include "config.h"

#include <streamcut/abi.h>

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef enum line_kind {
    LINE_BLANK,      /* empty or comment */
    LINE_SECTION,
    LINE_KEY
} line_kind;

typedef struct line_info {
    line_kind kind;
    int section;     /* index into config->sections, -1 before the first */
    char *key;       /* LINE_KEY: the key as the pre-check read it */
    bool delivered;  /* inih handed this key to the handler */
} line_info;

typedef struct parse_state {
    sc_config *config;
    GPtrArray *errors;
    const char *data;
    size_t size;
    size_t offset;       /* reader position in data */
    int line_number;     /* 1-based number of the line inih is handling */
    line_info *lines;    /* indexed by line_number - 1 */
    int line_count;
    bool failed;
} parse_state;

static void add_error(parse_state *state, int line, const char *fmt, ...) SC_PRINTF(3, 4);

static void add_error(parse_state *state, int line, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *message = g_strdup_vprintf(fmt, args);
    va_end(args);
    g_ptr_array_add(state->errors, g_strdup_printf("%s:%d: %s", state->config->path, line, message));
    g_free(message);
    state->failed = true;
}

const char *sc_section_kind_name(sc_section_kind kind)
{
    switch (kind) {
    case SC_SECTION_HOST: return "host";
    case SC_SECTION_SOURCE: return "source";
    case SC_SECTION_STRATEGY: return "strategy";
    case SC_SECTION_SINK: return "sink";
    case SC_SECTION_SYNC: return "sync";
    case SC_SECTION_OBSERVER: return "observer";
    }
    return "?";
}

static void free_entry(gpointer data)
{
    sc_config_entry *entry = data;
    g_free(entry->key);
    g_free(entry->value);
    g_free(entry);
}

static void free_section(gpointer data)
{
    sc_config_section *section = data;
    g_free(section->name);
    g_ptr_array_free(section->entries, TRUE);
    g_free(section);
}

void sc_config_free(sc_config *config)
{
    if (!config) return;
    g_ptr_array_free(config->sections, TRUE);
    g_free(config->path);
    g_free(config);
}

static bool valid_name(const char *name)
{
    if (!*name) return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') return false;
    return true;
}

static char *trim(char *text)
{
    while (*text == ' ' || *text == '\t') text++;
    char *end = text + strlen(text);
    while (end > text && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) end--;
    *end = '\0';
    return text;
}

static void check_section_header(parse_state *state, int line, char *text)
{
    char *close = strchr(text, ']');
    if (!close) {
        add_error(state, line, "section header has no closing ']'");
        return;
    }
    char *rest = trim(close + 1);
    if (*rest && *rest != ';' && *rest != '#') {
        add_error(state, line, "unexpected text after the section header: '%s'", rest);
        return;
    }
    *close = '\0';
    char *inner = trim(text + 1);
    if (strlen(inner) > SC_CONFIG_MAX_NAME) {
        add_error(state, line, "section header is longer than %d characters", SC_CONFIG_MAX_NAME);
        return;
    }
    char **words = g_strsplit_set(inner, " \t", -1);
    GPtrArray *parts = g_ptr_array_new();
    for (char **w = words; *w; w++)
        if (**w) g_ptr_array_add(parts, *w);
    sc_config_section *section = g_new0(sc_config_section, 1);
    section->line = line;
    section->entries = g_ptr_array_new_with_free_func(free_entry);
    const char *kind = parts->len > 0 ? g_ptr_array_index(parts, 0) : "";
    bool ok = true;
    if (strcmp(kind, "host") == 0) {
        section->kind = SC_SECTION_HOST;
        section->name = g_strdup("");
        if (parts->len != 1) {
            add_error(state, line, "[host] takes no name");
            ok = false;
        }
    } else if (strcmp(kind, "source") == 0 || strcmp(kind, "strategy") == 0 ||
               strcmp(kind, "sink") == 0 || strcmp(kind, "sync") == 0 || strcmp(kind, "observer") == 0) {
        section->kind = strcmp(kind, "source") == 0 ? SC_SECTION_SOURCE
                      : strcmp(kind, "strategy") == 0 ? SC_SECTION_STRATEGY
                      : strcmp(kind, "sync") == 0 ? SC_SECTION_SYNC
                      : strcmp(kind, "observer") == 0 ? SC_SECTION_OBSERVER : SC_SECTION_SINK;
        if (parts->len != 2) {
            add_error(state, line, "expected [%s NAME]", kind);
            ok = false;
        } else if (!valid_name(g_ptr_array_index(parts, 1))) {
            add_error(state, line, "section name '%s' may only use letters, digits, '_', '-' and '.'",
                      (char *)g_ptr_array_index(parts, 1));
            ok = false;
        } else {
            section->name = g_strdup(g_ptr_array_index(parts, 1));
        }
    } else {
        add_error(state, line, "unknown section kind '%s' (expected host, source, strategy, sync, sink or observer)", kind);
        ok = false;
    }
    if (ok) {
        for (guint i = 0; i < state->config->sections->len; i++) {
            sc_config_section *other = g_ptr_array_index(state->config->sections, i);
            if (section->kind == SC_SECTION_HOST && other->kind == SC_SECTION_HOST) {
                add_error(state, line, "duplicate section [host] (first at line %d)", other->line);
                ok = false;
            } else if (section->kind != SC_SECTION_HOST && strcmp(other->name, section->name) == 0) {
                add_error(state, line, "duplicate name '%s' (first used by [%s %s] at line %d)",
                          section->name, sc_section_kind_name(other->kind), other->name, other->line);
                ok = false;
            }
        }
    }
    if (!section->name) section->name = g_strdup("");
    /* Keep even a bad section so its keys are not reported against the
     * previous one; the load fails anyway. */
    g_ptr_array_add(state->config->sections, section);
    (void)ok;
    g_ptr_array_free(parts, TRUE);
    g_strfreev(words);
}

/* The line-by-line check: everything inih would silently misread. */
static void precheck(parse_state *state)
{
    int line = 0, current_section = -1;
    bool section_has_key = false;
    size_t position = 0;
    state->line_count = 0;
    for (size_t i = 0; i < state->size; i++)
        if (state->data[i] == '\n') state->line_count++;
    state->line_count++;
    state->lines = g_new0(line_info, state->line_count);
    while (position < state->size) {
        line++;
        const char *start = state->data + position;
        const char *newline = memchr(start, '\n', state->size - position);
        size_t length = newline ? (size_t)(newline - start) : state->size - position;
        position += length + (newline ? 1 : 0);
        line_info *info = &state->lines[line - 1];
        info->section = current_section;
        /* inih's limit counts a CR before the newline too. */
        size_t raw_length = length;
        if (length && start[length - 1] == '\r') length--;
        if (memchr(start, '\0', length)) {
            add_error(state, line, "NUL byte in line");
            continue;
        }
        if (raw_length > SC_CONFIG_MAX_LINE) {
            add_error(state, line,
                      "line is %zu bytes; lines are limited to %d bytes (inih would split it) - "
                      "put a long value in a file (key = @/path/to/file) or the environment (key = ${VAR})",
                      raw_length, SC_CONFIG_MAX_LINE);
            continue;
        }
        if (!g_utf8_validate(start, (gssize)length, NULL)) {
            add_error(state, line, "line is not valid UTF-8");
            continue;
        }
        char *text = g_strndup(start, length);
        if (line == 1 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
            (unsigned char)text[2] == 0xBF)
            memmove(text, text + 3, strlen(text + 3) + 1);
        bool indented = text[0] == ' ' || text[0] == '\t';
        char *body = trim(text);
        if (*body == '\0' || *body == ';' || *body == '#') {
            info->kind = LINE_BLANK;
        } else if (indented && section_has_key) {
            add_error(state, line,
                      "indented line would be read as a continuation of the previous key; "
                      "continuation lines are not supported");
        } else if (*body == '[') {
            info->kind = LINE_SECTION;
            check_section_header(state, line, body);
            current_section = (int)state->config->sections->len - 1;
            info->section = current_section;
            section_has_key = false;
        } else {
            char *separator = strpbrk(body, "=:");
            if (!separator) {
                add_error(state, line, "expected 'key = value'");
            } else {
                *separator = '\0';
                char *key = trim(body);
                if (current_section < 0) {
                    add_error(state, line, "key '%s' outside of any section", key);
                } else if (!*key) {
                    add_error(state, line, "missing key before '='");
                } else if (strlen(key) > SC_CONFIG_MAX_NAME) {
                    add_error(state, line, "key is longer than %d characters", SC_CONFIG_MAX_NAME);
                } else {
                    info->kind = LINE_KEY;
                    info->key = g_strdup(key);
                    section_has_key = true;
                    for (int previous = 0; previous < line - 1; previous++) {
                        line_info *other = &state->lines[previous];
                        if (other->kind == LINE_KEY && other->section == current_section &&
                            strcmp(other->key, key) == 0) {
                            add_error(state, line, "duplicate key '%s' (first at line %d)", key, previous + 1);
                            break;
                        }
                    }
                }
            }
        }
        g_free(text);
    }
}

static char *read_line(char *buffer, int size, void *stream)
{
    parse_state *state = stream;
    if (state->offset >= state->size || size < 2) return NULL;
    const char *start = state->data + state->offset;
    const char *newline = memchr(start, '\n', state->size - state->offset);
    size_t length = newline ? (size_t)(newline - start) + 1 : state->size - state->offset;
    /* precheck guaranteed every line fits; refuse to split one regardless. */
    if (length > (size_t)size - 1) return NULL;
    memcpy(buffer, start, length);
    buffer[length] = '\0';
    state->offset += length;
    state->line_number++;
    return buffer;
}

static char *expand_value(parse_state *state, int line, const char *raw)
{
    if (raw[0] == '@' && raw[1] == '@') return g_strdup(raw + 1);
    if (raw[0] == '@') {
        const char *file = raw + 1;
        /* Relative value files live next to the pipeline file. */
        char *path;
        if (g_path_is_absolute(file)) {
            path = g_strdup(file);
        } else {
            char *dir = g_path_get_dirname(state->config->path);
            path = g_build_filename(dir, file, NULL);
            g_free(dir);
        }
        char *contents = NULL;
        gsize length = 0;
        GError *error = NULL;
        if (!g_file_get_contents(path, &contents, &length, &error)) {
            add_error(state, line, "cannot read value file %s: %s", path, error->message);
            g_error_free(error);
            g_free(path);
            return NULL;
        }
        char *result = NULL;
        if (length > SC_CONFIG_MAX_FILE_VALUE)
            add_error(state, line, "value file %s is larger than %d bytes", path, SC_CONFIG_MAX_FILE_VALUE);
        else if (memchr(contents, '\0', length))
            add_error(state, line, "value file %s contains a NUL byte", path);
        else {
            while (length && (contents[length - 1] == '\n' || contents[length - 1] == '\r'))
                contents[--length] = '\0';
            result = g_strdup(contents);
        }
        g_free(contents);
        g_free(path);
        return result;
    }
    GString *out = g_string_new(NULL);
    for (const char *p = raw; *p;) {
        if (p[0] == '$' && p[1] == '{') {
            const char *close = strchr(p + 2, '}');
            if (!close) {
                add_error(state, line, "'${' without a closing '}'");
                g_string_free(out, TRUE);
                return NULL;
            }
            char *name = g_strndup(p + 2, (gsize)(close - p - 2));
            const char *value = g_getenv(name);
            if (!value) {
                add_error(state, line, "environment variable '%s' is not set", name);
                g_free(name);
                g_string_free(out, TRUE);
                return NULL;
            }
            g_string_append(out, value);
            g_free(name);
            p = close + 1;
        } else {
            g_string_append_c(out, *p++);
        }
    }
    return g_string_free(out, FALSE);
}

static int handle_key(void *user, const char *section_name, const char *key, const char *value)
{
    parse_state *state = user;
    int line = state->line_number;
    if (line < 1 || line > state->line_count) return 0;
    line_info *info = &state->lines[line - 1];
    if (info->kind != LINE_KEY || strcmp(info->key, key) != 0 || info->section < 0) {
        add_error(state, line, "could not be read consistently (key '%s')", key);
        return 0;
    }
    info->delivered = true;
    sc_config_section *section = g_ptr_array_index(state->config->sections, info->section);
    (void)section_name;
    char *expanded = expand_value(state, line, value);
    if (!expanded) return 1;
    sc_config_entry *entry = g_new0(sc_config_entry, 1);
    entry->key = g_strdup(key);
    entry->value = expanded;
    entry->line = line;
    g_ptr_array_add(section->entries, entry);
    return 1;
}

sc_config *sc_config_load_data(const char *path, const char *data, size_t size, GPtrArray *errors)
{
    parse_state state = {0};
    state.config = g_new0(sc_config, 1);
    state.config->path = g_strdup(path);
    state.config->sections = g_ptr_array_new_with_free_func(free_section);
    state.errors = errors;
    state.data = data;
    state.size = size;
    precheck(&state);
    if (!state.failed) {
        int result = ini_parse_stream(read_line, &state, handle_key, &state);
        if (result != 0 && !state.failed)
            add_error(&state, result > 0 ? result : state.line_number, "parse error");
        for (int i = 0; i < state.line_count && !state.failed; i++)
            if (state.lines[i].kind == LINE_KEY && !state.lines[i].delivered)
                add_error(&state, i + 1, "key '%s' was not read", state.lines[i].key);
    }
    for (int i = 0; i < state.line_count; i++) g_free(state.lines[i].key);
    g_free(state.lines);
    if (state.failed) {
        sc_config_free(state.config);
        return NULL;
    }
    return state.config;
}

sc_config *sc_config_load(const char *path, GPtrArray *errors)
{
    char *data = NULL;
    gsize size = 0;
    GError *error = NULL;
    if (!g_file_get_contents(path, &data, &size, &error)) {
        g_ptr_array_add(errors, g_strdup_printf("%s: cannot read pipeline file: %s", path, error->message));
        g_error_free(error);
        return NULL;
    }
    sc_config *config = sc_config_load_data(path, data, size, errors);
    g_free(data);
    return config;
}

const sc_config_entry *sc_config_section_find(const sc_config_section *section, const char *key)
{
    for (guint i = 0; i < section->entries->len; i++) {
        const sc_config_entry *entry = g_ptr_array_index(section->entries, i);
        if (strcmp(entry->key, key) == 0) return entry;
    }
    return NULL;
}

const sc_config_section *sc_config_find_section(const sc_config *config, const char *name)
{
    for (guint i = 0; i < config->sections->len; i++) {
        const sc_config_section *section = g_ptr_array_index(config->sections, i);
        if (section->kind != SC_SECTION_HOST && strcmp(section->name, name) == 0) return section;
    }
    return NULL;
}
