/* exec: command line templates (see command_template.h for the rules). */
#include "command_template.h"

#include "../common/error_text.h"

#include "../common/segment_record.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A piece of a word: literal text (field < 0) or one placeholder. */
typedef struct word_part {
    int field;
    char *literal;
} word_part;

typedef struct template_word {
    word_part *parts;
    size_t part_count;
} template_word;

struct command_template {
    template_word *words;
    size_t word_count;
    char *program;
    unsigned used_fields;   /* bit per enum command_field */
};

static const char *const field_names[FIELD_COUNT] = {
    [FIELD_FILE] = "file",         [FIELD_JSON] = "json",         [FIELD_SOURCE] = "source",
    [FIELD_STRATEGY] = "strategy", [FIELD_INDEX] = "index",       [FIELD_START] = "start",
    [FIELD_END] = "end",           [FIELD_DURATION] = "duration", [FIELD_START_UTC] = "start_utc",
    [FIELD_END_UTC] = "end_utc",   [FIELD_LABEL] = "label",       [FIELD_TYPE] = "type",
};

const char *command_field_name(enum command_field field)
{
    return field < FIELD_COUNT ? field_names[field] : "";
}

static void free_word(template_word *word)
{
    for (size_t i = 0; i < word->part_count; i++)
        free(word->parts[i].literal);
    free(word->parts);
    *word = (template_word){ 0 };
}

void command_template_free(command_template *command)
{
    if (command == NULL)
        return;
    for (size_t i = 0; i < command->word_count; i++)
        free_word(&command->words[i]);
    free(command->words);
    free(command->program);
    free(command);
}

/* The word being read: finished parts plus the literal text since the
 * last placeholder. Returns 0, or -1 when out of memory. */
typedef struct word_builder {
    template_word word;
    text_buffer literal;
    int started;      /* a quote opened or a character was read */
} word_builder;

static int add_part(word_builder *builder, int field)
{
    if (builder->literal.failed)
        return -1;
    word_part *grown = realloc(builder->word.parts, (builder->word.part_count + 2) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    builder->word.parts = grown;
    if (builder->literal.length > 0) {
        grown[builder->word.part_count++] = (word_part){ .field = -1, .literal = builder->literal.data };
        builder->literal = (text_buffer){ 0 };
    }
    if (field >= 0)
        grown[builder->word.part_count++] = (word_part){ .field = field, .literal = NULL };
    return 0;
}

static int finish_word(command_template *command, word_builder *builder)
{
    if (add_part(builder, -1) != 0)
        return -1;
    template_word *grown = realloc(command->words, (command->word_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return -1;
    command->words = grown;
    command->words[command->word_count++] = builder->word;
    text_buffer_free(&builder->literal);
    *builder = (word_builder){ 0 };
    return 0;
}

/* Reads "{name}" at `text`; returns the field and sets *length, or -1. */
static int read_placeholder(const char *text, size_t *length, char *error, size_t error_length)
{
    const char *close = strchr(text + 1, '}');
    const char *open = strchr(text + 1, '{');
    if (close == NULL || (open != NULL && open < close)) {
        format_error(error, error_length, "unterminated placeholder at \"%.20s\" (write {{ for a brace)", text);
        return -1;
    }
    size_t name_length = (size_t)(close - text - 1);
    for (int field = 0; field < FIELD_COUNT; field++) {
        if (strlen(field_names[field]) == name_length && strncmp(text + 1, field_names[field], name_length) == 0) {
            *length = name_length + 2;
            return field;
        }
    }
    text_buffer known = { 0 };
    for (int field = 0; field < FIELD_COUNT; field++)
        text_buffer_append_format(&known, "%s{%s}", field ? " " : "", field_names[field]);
    format_error(error, error_length, "unknown placeholder {%.*s}; known: %s", (int)(name_length > 40 ? 40 : name_length),
              text + 1, known.failed ? "?" : known.data);
    text_buffer_free(&known);
    return -1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

command_template *command_template_parse(const char *text, char *error, size_t error_length)
{
    command_template *command = calloc(1, sizeof(*command));
    if (command == NULL) {
        format_error(error, error_length, "out of memory");
        return NULL;
    }
    word_builder builder = { 0 };
    char quote = 0;
    const char *quote_start = NULL;
    const char *failure = NULL;   /* set when `error` already holds the reason */
    for (const char *at = text; *at != '\0' && failure == NULL; at++) {
        char c = *at;
        if (quote == 0 && is_blank(c)) {
            if (builder.started && finish_word(command, &builder) != 0)
                failure = "out of memory";
            continue;
        }
        builder.started = 1;
        if (quote == 0 && (c == '\'' || c == '"')) {
            quote = c;
            quote_start = at;
        } else if (quote != 0 && c == quote) {
            quote = 0;
        } else if (c == '{' && at[1] == '{') {
            text_buffer_append(&builder.literal, "{", 1);
            at++;
        } else if (c == '}' && at[1] == '}') {
            text_buffer_append(&builder.literal, "}", 1);
            at++;
        } else if (c == '{') {
            size_t length = 0;
            int field = read_placeholder(at, &length, error, error_length);
            if (field < 0) {
                failure = "";
            } else if (add_part(&builder, field) != 0) {
                failure = "out of memory";
            } else {
                command->used_fields |= 1u << field;
                at += length - 1;
            }
        } else if (c == '}') {
            format_error(error, error_length, "a lone } at \"%.20s\" (write }} for a brace)", at);
            failure = "";
        } else {
            text_buffer_append(&builder.literal, at, 1);
        }
    }
    if (failure == NULL && quote != 0) {
        format_error(error, error_length, "unterminated %c quote at \"%.20s\"", quote, quote_start);
        failure = "";
    }
    if (failure == NULL && builder.started && finish_word(command, &builder) != 0)
        failure = "out of memory";
    if (failure == NULL && command->word_count == 0) {
        format_error(error, error_length, "the command is empty");
        failure = "";
    }
    if (failure == NULL) {
        const template_word *program = &command->words[0];
        if (program->part_count != 1 || program->parts[0].field >= 0 || program->parts[0].literal[0] == '\0') {
            format_error(error, error_length, "the program (first word) must be a fixed name or path, without placeholders");
            failure = "";
        } else if ((command->program = strdup(program->parts[0].literal)) == NULL) {
            failure = "out of memory";
        }
    }
    if (failure != NULL) {
        if (failure[0] != '\0')
            format_error(error, error_length, "%s", failure);
        free_word(&builder.word);
        text_buffer_free(&builder.literal);
        command_template_free(command);
        return NULL;
    }
    return command;
}

const char *command_template_program(const command_template *command)
{
    return command->program;
}

int command_template_uses(const command_template *command, enum command_field field)
{
    return field < FIELD_COUNT && (command->used_fields & (1u << field)) != 0;
}

void command_argv_free(char **argv)
{
    if (argv == NULL)
        return;
    for (char **arg = argv; *arg != NULL; arg++)
        free(*arg);
    free(argv);
}

char **command_template_expand(const command_template *command, const char *const values[FIELD_COUNT])
{
    char **argv = calloc(command->word_count + 1, sizeof(*argv));
    if (argv == NULL)
        return NULL;
    for (size_t i = 0; i < command->word_count; i++) {
        const template_word *word = &command->words[i];
        text_buffer arg = { 0 };
        text_buffer_append(&arg, "", 0);   /* an empty word is still an argument */
        for (size_t p = 0; p < word->part_count; p++) {
            const word_part *part = &word->parts[p];
            const char *value = part->field < 0 ? part->literal : values[part->field];
            text_buffer_append_text(&arg, value != NULL ? value : "");
        }
        if (arg.failed) {
            text_buffer_free(&arg);
            command_argv_free(argv);
            return NULL;
        }
        argv[i] = arg.data;
    }
    return argv;
}
