/* The exec sink's command templates: splitting into words, quoting,
 * placeholders, and the errors a bad template gets. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../modules/exec/command_template.h"

static command_template *parse_ok(const char *text)
{
    char error[256] = "";
    command_template *command = command_template_parse(text, error, sizeof error);
    ck_assert_msg(command != NULL, "%s: %s", text, error);
    return command;
}

/* Expands `text` with every field named after itself ("<source>", …),
 * or the given label, and compares with the expected argv. */
static void expect_words(const char *text, const char *label, const char *const *expected)
{
    command_template *command = parse_ok(text);
    char names[FIELD_COUNT][32];
    const char *values[FIELD_COUNT];
    for (int field = 0; field < FIELD_COUNT; field++) {
        snprintf(names[field], sizeof names[field], "<%s>", command_field_name(field));
        values[field] = names[field];
    }
    values[FIELD_LABEL] = label;
    char **argv = command_template_expand(command, values);
    ck_assert_ptr_nonnull(argv);
    size_t i = 0;
    for (; expected[i] != NULL; i++) {
        ck_assert_msg(argv[i] != NULL, "%s: only %zu words", text, i);
        ck_assert_str_eq(argv[i], expected[i]);
    }
    ck_assert_msg(argv[i] == NULL, "%s: extra word %s", text, argv[i]);
    command_argv_free(argv);
    command_template_free(command);
}

static void expect_error(const char *text, const char *fragment)
{
    char error[256] = "";
    command_template *command = command_template_parse(text, error, sizeof error);
    ck_assert_msg(command == NULL, "%s was accepted", text);
    ck_assert_msg(strstr(error, fragment) != NULL, "%s: \"%s\" lacks \"%s\"", text, error, fragment);
}

START_TEST(words_split_at_whitespace_and_join_across_quotes)
{
    expect_words("  prog   a\tb  ", NULL, (const char *[]){ "prog", "a", "b", NULL });
    expect_words("prog 'a b' \"c  d\" e'f g'h '' \"\"", NULL,
                 (const char *[]){ "prog", "a b", "c  d", "ef gh", "", "", NULL });
    expect_words("prog \"it's\" 'say \"hi\"'", NULL, (const char *[]){ "prog", "it's", "say \"hi\"", NULL });
    expect_words("/bin/prog {{x}} a}}b", NULL, (const char *[]){ "/bin/prog", "{x}", "a}b", NULL });
}
END_TEST

START_TEST(placeholders_expand_inside_words_and_quotes)
{
    expect_words("prog {file} --start={start} '{source} / {strategy}' x{index}y {json}", NULL,
                 (const char *[]){ "prog", "<file>", "--start=<start>", "<source> / <strategy>", "x<index>y",
                                   "<json>", NULL });
    expect_words("prog {end} {duration} {start_utc} {end_utc} {type}", NULL,
                 (const char *[]){ "prog", "<end>", "<duration>", "<start_utc>", "<end_utc>", "<type>", NULL });
    /* A missing value is an empty argument, never a missing one. */
    expect_words("prog {label} after", NULL, (const char *[]){ "prog", "", "after", NULL });
}
END_TEST

START_TEST(a_hostile_value_stays_one_literal_argument)
{
    const char *label = "it's \"x\" $(touch pwned); rm -rf / `id` | a > b {label} \n end";
    expect_words("prog {label} '{label}'", label, (const char *[]){ "prog", label, label, NULL });
}
END_TEST

START_TEST(bad_templates_are_refused_with_a_reason)
{
    expect_error("", "empty");
    expect_error("   ", "empty");
    expect_error("prog {nope}", "unknown placeholder {nope}");
    expect_error("prog {nope}", "{file} {json}");
    expect_error("prog {file", "unterminated placeholder");
    expect_error("prog {a{file}", "unterminated placeholder");
    expect_error("prog a}b", "lone }");
    expect_error("prog 'abc", "unterminated ' quote");
    expect_error("prog \"abc", "unterminated \" quote");
    expect_error("{file} x", "program");
    expect_error("bin{index} x", "program");
    expect_error("'' x", "program");
}
END_TEST

START_TEST(the_program_and_the_fields_used_are_known)
{
    command_template *command = parse_ok("'/opt/my tools/run' {json} {label}");
    ck_assert_str_eq(command_template_program(command), "/opt/my tools/run");
    ck_assert(command_template_uses(command, FIELD_JSON));
    ck_assert(command_template_uses(command, FIELD_LABEL));
    ck_assert(!command_template_uses(command, FIELD_FILE));
    command_template_free(command);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("exec command");
    TCase *parsing = tcase_create("parsing");
    tcase_add_test(parsing, words_split_at_whitespace_and_join_across_quotes);
    tcase_add_test(parsing, placeholders_expand_inside_words_and_quotes);
    tcase_add_test(parsing, a_hostile_value_stays_one_literal_argument);
    tcase_add_test(parsing, bad_templates_are_refused_with_a_reason);
    tcase_add_test(parsing, the_program_and_the_fields_used_are_known);
    suite_add_tcase(suite, parsing);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
