#include "value.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Splits "1.5ms" into 1.5 and "ms"; rejects anything but a plain decimal. */
static bool split_number_unit(const char *text, double *number, const char **unit)
{
    const char *p = text;
    if (!isdigit((unsigned char)*p) && *p != '.') return false;
    char *end;
    errno = 0;
    *number = strtod(p, &end);
    if (end == p || errno == ERANGE || !isfinite(*number) || *number < 0) return false;
    /* strtod accepts hex, inf and exponents; the INI format wants decimals. */
    for (const char *c = p; c < end; c++)
        if (!isdigit((unsigned char)*c) && *c != '.') return false;
    while (*end == ' ') end++;
    *unit = end;
    return true;
}

bool sc_value_parse_duration(const char *text, int64_t *out_ns, const char **why)
{
    static const struct { const char *unit; double ns; } units[] = {
        {"", 1e9}, {"s", 1e9}, {"sec", 1e9}, {"ms", 1e6}, {"us", 1e3},
        {"ns", 1}, {"m", 60e9}, {"min", 60e9}, {"h", 3600e9},
    };
    double number;
    const char *unit;
    *why = "expected a duration such as 10, 10s, 500ms, 2m or 1h";
    if (!split_number_unit(text, &number, &unit)) return false;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(unit, units[i].unit) == 0) {
            double ns = number * units[i].ns;
            if (ns > 9.2e18) { *why = "duration too large"; return false; }
            *out_ns = (int64_t)llround(ns);
            return true;
        }
    }
    return false;
}

bool sc_value_parse_size(const char *text, int64_t *out, const char **why)
{
    static const struct { const char *unit; double factor; } units[] = {
        {"", 1}, {"b", 1}, {"k", 1e3}, {"kb", 1e3}, {"m", 1e6}, {"mb", 1e6},
        {"g", 1e9}, {"gb", 1e9}, {"ki", 1024.0}, {"kib", 1024.0},
        {"mi", 1048576.0}, {"mib", 1048576.0}, {"gi", 1073741824.0},
        {"gib", 1073741824.0},
    };
    double number;
    const char *unit;
    *why = "expected a size such as 1024, 64k, 200MB or 1GiB";
    if (!split_number_unit(text, &number, &unit)) return false;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(unit, units[i].unit) == 0) {
            double bytes = number * units[i].factor;
            if (bytes > 9.2e18) { *why = "size too large"; return false; }
            *out = (int64_t)llround(bytes);
            return true;
        }
    }
    return false;
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
