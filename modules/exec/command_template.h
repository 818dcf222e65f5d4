/* exec: the command line run for every segment.
 *
 * `prog --clip {file} --at '{start} s'` is split into words at whitespace;
 * '…' and "…" keep whitespace inside one word (no escapes: put a ' inside
 * "…" and a " inside '…'; adjacent pieces join, '' is an empty word).
 * Placeholders are expanded inside every word, quoted or not; {{ and }}
 * are literal braces. Each word becomes exactly one argument whatever the
 * values hold: nothing is ever read by a shell. The first word, the
 * program, cannot hold placeholders.
 */
#ifndef STREAMCUT_EXEC_COMMAND_TEMPLATE_H
#define STREAMCUT_EXEC_COMMAND_TEMPLATE_H

#include <stddef.h>

/* What a placeholder stands for; each is also exported to the command's
 * environment as STREAMCUT_<NAME> (all but json, which is on stdin). */
enum command_field {
    FIELD_FILE,       /* the clip a file sink wrote ("file" attribute), or "" */
    FIELD_JSON,       /* the segment's JSON record, as jsonl writes it */
    FIELD_SOURCE,
    FIELD_STRATEGY,
    FIELD_INDEX,
    FIELD_START,      /* seconds on the source's timeline, "12.500000" */
    FIELD_END,
    FIELD_DURATION,
    FIELD_START_UTC,  /* ISO 8601 UTC, or "" when unknown */
    FIELD_END_UTC,
    FIELD_LABEL,
    FIELD_TYPE,       /* the source's stream type ("FILE", "HLS", …) */
    FIELD_COUNT
};

/* "file", "json", … */
const char *command_field_name(enum command_field field);

typedef struct command_template command_template;

/* Parses `text`; NULL with a one-line reason in `error` when it is empty,
 * has an unterminated quote, an unknown placeholder or a lone brace. */
command_template *command_template_parse(const char *text, char *error, size_t error_length);
void command_template_free(command_template *command);

/* The first word, as written. */
const char *command_template_program(const command_template *command);
/* Whether some word holds {field}. */
int command_template_uses(const command_template *command, enum command_field field);

/* A NULL-terminated argv, one argument per word with `values` (NULL
 * counts as "") substituted, to free with command_argv_free; NULL when
 * out of memory. */
char **command_template_expand(const command_template *command, const char *const values[FIELD_COUNT]);
void command_argv_free(char **argv);

#endif
