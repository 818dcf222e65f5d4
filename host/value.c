#include "value.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <streamcut/helpers.h>

bool sc_value_parse_bool(const char *text, bool *out, const char **why)
{
    static const char *const truths[] = {"true", "yes", "on", "1"};
    static const char *const lies[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, truths[i]) == 0) { *out = true; return true; }
        if (strcasecmp(text, lies[i]) == 0) { *out = false; return true; }
    }
    *why = "expected a boolean (true/false, yes/no, on/off, 1/0)";
    return false;
}

bool sc_value_parse_int(const char *text, int64_t *out, const char **why)
{
    char *end;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE) {
        *why = "expected a whole number";
        return false;
    }
    *out = value;
    return true;
}

bool sc_value_parse_double(const char *text, double *out, const char **why)
{
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(value)) {
        *why = "expected a number";
        return false;
    }
    *out = value;
    return true;
}

/* Durations and sizes use the SDK's parsers, so a module that parses a
 * value itself accepts exactly what the INI file does. */
bool sc_value_parse_duration(const char *text, int64_t *out_ns, const char **why)
{
    return sc_parse_duration(text, out_ns, why) == SC_OK;
}

bool sc_value_parse_size(const char *text, int64_t *out, const char **why)
{
    return sc_parse_size(text, out, why) == SC_OK;
}

bool sc_value_is_choice(const char *text, const char *choices)
{
    size_t length = strlen(text);
    const char *p = choices;
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t item = bar ? (size_t)(bar - p) : strlen(p);
        if (item == length && strncmp(p, text, length) == 0) return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

size_t sc_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return (size_t)-1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t above = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diagonal + cost;
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[lb];
}

const char *sc_closest_word(const char *word, const char *const *candidates, size_t count)
{
    const char *best = NULL;
    size_t best_distance = (size_t)-1;
    for (size_t i = 0; i < count; i++) {
        size_t distance = sc_edit_distance(word, candidates[i]);
        if (distance < best_distance) {
            best_distance = distance;
            best = candidates[i];
        }
    }
    /* A suggestion further than a third of the word away is noise. */
    size_t limit = strlen(word) / 3 + 1;
    return best_distance <= limit ? best : NULL;
}
