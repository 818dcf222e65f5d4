/* Output path templates of the file-writing sinks (clip, thumbnail);
 * compiled into each of them.
 *
 * A template is a path with placeholders, e.g. "clips/{source}/{index:05}.ts".
 * Placeholders: {source} {strategy} {index} {start} {end} {label}, and {n}
 * for the sinks that write several files per segment (SC_PATH_NUMBER);
 * {index} and {n} take an optional width ({index:05}, at most 20 digits,
 * zero-padded); {start}/{end} expand to seconds with millisecond precision
 * ("12.500"). "{{" and "}}" stand for literal braces.
 *
 * Safety model: the base folder is the template's text up to its last '/'
 * before the first placeholder ("." when there is none). Every expanded path
 * must name a file strictly inside it. Substituted values are reduced to
 * [A-Za-z0-9._-] (so they can never add a '/'), may not start with '.' or
 * '-', and are capped in length; a ".." component anywhere is refused, in
 * the template's own text (at parse time) as well as after expansion.
 */
#ifndef STREAMCUT_MODULES_PATH_TEMPLATE_H
#define STREAMCUT_MODULES_PATH_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

/** Longest value a placeholder expands to, after sanitizing. */
#define SC_PATH_VALUE_MAX 64

typedef struct sc_path_template sc_path_template;

/** Placeholders only some sinks offer (bits for sc_path_template_parse). */
enum sc_path_placeholder {
    SC_PATH_NUMBER = 1u << 0   /**< {n}: the file's number within its segment */
};

/** The values placeholders expand to. Times are ns; INT64_MIN = unknown. */
typedef struct sc_path_fields {
    const char *source;    /**< NULL expands to "" */
    const char *strategy;
    uint64_t index;
    int64_t start;
    int64_t end;
    const char *label;
    uint64_t number;       /**< {n} */
} sc_path_fields;

/** Parse `text`, accepting the optional placeholders in `optional`
 * (sc_path_placeholder bits). Returns NULL and a one-line reason in err on
 * failure. */
sc_path_template *sc_path_template_parse(const char *text, unsigned optional, char *err,
                                         size_t errlen);

/** Whether the template uses the optional placeholder `placeholder`. */
int sc_path_template_uses(const sc_path_template *tmpl, unsigned placeholder);

void sc_path_template_free(sc_path_template *tmpl);

/** The normalized base folder every expansion stays inside ("." or e.g.
 * "clips" or "/var/clips"). */
const char *sc_path_template_base(const sc_path_template *tmpl);

/** Expand into `out` (a normalized path: no "//", no "." components).
 * Returns 0, or -1 with a reason in err when the result would not be a file
 * inside the base folder or does not fit in outlen bytes. */
int sc_path_template_expand(const sc_path_template *tmpl, const sc_path_fields *fields,
                            char *out, size_t outlen, char *err, size_t errlen);

#endif /* STREAMCUT_MODULES_PATH_TEMPLATE_H */
