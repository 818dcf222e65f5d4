/* Parsing of option values as the INI file writes them: booleans,
 * durations, sizes, numbers. Shared by the host's own keys and by module
 * option validation, so every key accepts the same spellings. */
#ifndef SC_HOST_VALUE_H
#define SC_HOST_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Each returns true on success; on failure *why names the expected form. */
bool sc_value_parse_bool(const char *text, bool *out, const char **why);
bool sc_value_parse_int(const char *text, int64_t *out, const char **why);
bool sc_value_parse_double(const char *text, double *out, const char **why);
/** "10", "10s", "1.5s", "500ms", "250us", "2m", "1h" -> nanoseconds (>= 0). */
bool sc_value_parse_duration(const char *text, int64_t *out_ns, const char **why);
/** "1024", "64k", "64KB", "200MB", "1GiB", "1.5M" -> bytes (>= 0); k = 1000, Ki = 1024. */
bool sc_value_parse_size(const char *text, int64_t *out, const char **why);
/** Whether `text` is one of the '|'-separated `choices`. */
bool sc_value_is_choice(const char *text, const char *choices);

/** Edit distance, for "did you mean" suggestions. */
size_t sc_edit_distance(const char *a, const char *b);
/** The candidate closest to `word` if it is close enough, else NULL. */
const char *sc_closest_word(const char *word, const char *const *candidates, size_t count);

#endif
