/* event: text helpers (see event_text.h). Numbers are read as exact
 * decimals, never through a double, so "12.1" seconds is exactly
 * 12100000000 ns and does not depend on the process's locale. */
#include "event_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper JSON than this is not believed to be a sane payload. */
#define JSON_DEPTH_MAX 32
/* Durations and times beyond this many seconds (about 31 years) are typos. */
#define SECONDS_MAX INT64_C(1000000000)
#define NS_PER_SECOND INT64_C(1000000000)

/* ---- UTF-8 ---- */

/* Length of the well-formed UTF-8 sequence at `bytes`, or 0. */
static size_t utf8_sequence(const unsigned char *bytes, size_t available)
{
    unsigned char c = bytes[0];
    if (c < 0x80) return 1;
    size_t length;
    unsigned char low = 0x80, high = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) length = 2;
    else if (c == 0xe0) { length = 3; low = 0xa0; }
    else if (c == 0xed) { length = 3; high = 0x9f; }  /* no surrogates */
    else if (c >= 0xe1 && c <= 0xef) length = 3;
    else if (c == 0xf0) { length = 4; low = 0x90; }
    else if (c >= 0xf1 && c <= 0xf3) length = 4;
    else if (c == 0xf4) { length = 4; high = 0x8f; }
    else return 0;
    if (available < length) return 0;
    if (bytes[1] < low || bytes[1] > high) return 0;
    for (size_t i = 2; i < length; i++)
        if ((bytes[i] & 0xc0) != 0x80) return 0;
    return length;
}

int utf8_is_valid(const char *bytes, size_t length)
{
    const unsigned char *at = (const unsigned char *)bytes;
    size_t i = 0;
    while (i < length) {
        size_t sequence = utf8_sequence(at + i, length - i);
        if (sequence == 0) return 0;
        i += sequence;
    }
    return 1;
}

size_t utf8_prefix(const char *bytes, size_t length, size_t max)
{
    if (length <= max) return length;
    size_t cut = max;
    /* Step back over continuation bytes to the start of the cut sequence. */
    while (cut > 0 && ((unsigned char)bytes[cut] & 0xc0) == 0x80) cut--;
    return cut;
}

static void utf8_encode(text_buffer *text, uint32_t code)
{
    char out[4];
    size_t length;
    if (code < 0x80) {
        out[0] = (char)code;
        length = 1;
    } else if (code < 0x800) {
        out[0] = (char)(0xc0 | (code >> 6));
        out[1] = (char)(0x80 | (code & 0x3f));
        length = 2;
    } else if (code < 0x10000) {
        out[0] = (char)(0xe0 | (code >> 12));
        out[1] = (char)(0x80 | ((code >> 6) & 0x3f));
        out[2] = (char)(0x80 | (code & 0x3f));
        length = 3;
    } else {
        out[0] = (char)(0xf0 | (code >> 18));
        out[1] = (char)(0x80 | ((code >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((code >> 6) & 0x3f));
        out[3] = (char)(0x80 | (code & 0x3f));
        length = 4;
    }
    text_buffer_append(text, out, length);
}

/* ---- JSON reading ---- */

typedef struct json_cursor {
    const char *at;
    const char *end;
    int depth;
} json_cursor;

static void json_skip_space(json_cursor *cursor)
{
    while (cursor->at < cursor->end &&
           (*cursor->at == ' ' || *cursor->at == '\t' || *cursor->at == '\n' || *cursor->at == '\r'))
        cursor->at++;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(const char *at, const char *end, uint32_t *out)
{
    if (end - at < 4) return -1;
    uint32_t value = 0;
    for (int i = 0; i < 4; i++) {
        int digit = hex_value(at[i]);
        if (digit < 0) return -1;
        value = value << 4 | (uint32_t)digit;
    }
    *out = value;
    return 0;
}

/* Reads a string literal; with `decoded` non-NULL appends its UTF-8 text.
 * Lone surrogates are refused: they have no UTF-8 form. */
static int json_string(json_cursor *cursor, text_buffer *decoded)
{
    if (cursor->at >= cursor->end || *cursor->at != '"') return -1;
    cursor->at++;
    while (cursor->at < cursor->end) {
        unsigned char c = (unsigned char)*cursor->at;
        if (c == '"') {
            cursor->at++;
            return 0;
        }
        if (c < 0x20) return -1;
        if (c != '\\') {
            size_t sequence = utf8_sequence((const unsigned char *)cursor->at, (size_t)(cursor->end - cursor->at));
            if (sequence == 0) return -1;
            if (decoded) text_buffer_append(decoded, cursor->at, sequence);
            cursor->at += sequence;
            continue;
        }
        if (cursor->end - cursor->at < 2) return -1;
        char escaped = cursor->at[1];
        cursor->at += 2;
        const char *simple = strchr("\"\\/bfnrt", escaped);
        if (escaped != '\0' && simple) {
            static const char meaning[] = "\"\\/\b\f\n\r\t";
            if (decoded) text_buffer_append_char(decoded, meaning[simple - "\"\\/bfnrt"]);
            continue;
        }
        if (escaped != 'u') return -1;
        uint32_t code;
        if (read_hex4(cursor->at, cursor->end, &code) != 0) return -1;
        cursor->at += 4;
        if (code >= 0xdc00 && code <= 0xdfff) return -1;
        if (code >= 0xd800 && code <= 0xdbff) {
            uint32_t low;
            if (cursor->end - cursor->at < 6 || cursor->at[0] != '\\' || cursor->at[1] != 'u' ||
                read_hex4(cursor->at + 2, cursor->end, &low) != 0 || low < 0xdc00 || low > 0xdfff)
                return -1;
            cursor->at += 6;
            code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        }
        if (decoded) utf8_encode(decoded, code);
    }
    return -1;
}

static int json_digits(json_cursor *cursor)
{
    const char *start = cursor->at;
    while (cursor->at < cursor->end && *cursor->at >= '0' && *cursor->at <= '9') cursor->at++;
    return cursor->at > start ? 0 : -1;
}

static int json_number(json_cursor *cursor)
{
    if (cursor->at < cursor->end && *cursor->at == '-') cursor->at++;
    if (cursor->at < cursor->end && *cursor->at == '0') cursor->at++;
    else if (json_digits(cursor) != 0) return -1;
    if (cursor->at < cursor->end && *cursor->at == '.') {
        cursor->at++;
        if (json_digits(cursor) != 0) return -1;
    }
    if (cursor->at < cursor->end && (*cursor->at == 'e' || *cursor->at == 'E')) {
        cursor->at++;
        if (cursor->at < cursor->end && (*cursor->at == '+' || *cursor->at == '-')) cursor->at++;
        if (json_digits(cursor) != 0) return -1;
    }
    return 0;
}

static int json_word(json_cursor *cursor, const char *word)
{
    size_t length = strlen(word);
    if ((size_t)(cursor->end - cursor->at) < length || memcmp(cursor->at, word, length) != 0) return -1;
    cursor->at += length;
    return 0;
}

static int json_value(json_cursor *cursor);

static int json_container(json_cursor *cursor, char close, int is_object)
{
    if (++cursor->depth > JSON_DEPTH_MAX) return -1;
    cursor->at++;
    json_skip_space(cursor);
    if (cursor->at < cursor->end && *cursor->at == close) {
        cursor->at++;
        cursor->depth--;
        return 0;
    }
    for (;;) {
        if (is_object) {
            if (json_string(cursor, NULL) != 0) return -1;
            json_skip_space(cursor);
            if (cursor->at >= cursor->end || *cursor->at != ':') return -1;
            cursor->at++;
            json_skip_space(cursor);
        }
        if (json_value(cursor) != 0) return -1;
        json_skip_space(cursor);
        if (cursor->at >= cursor->end) return -1;
        if (*cursor->at == close) {
            cursor->at++;
            cursor->depth--;
            return 0;
        }
        if (*cursor->at != ',') return -1;
        cursor->at++;
        json_skip_space(cursor);
    }
}

static int json_value(json_cursor *cursor)
{
    if (cursor->at >= cursor->end) return -1;
    switch (*cursor->at) {
    case '{': return json_container(cursor, '}', 1);
    case '[': return json_container(cursor, ']', 0);
    case '"': return json_string(cursor, NULL);
    case 't': return json_word(cursor, "true");
    case 'f': return json_word(cursor, "false");
    case 'n': return json_word(cursor, "null");
    default: return json_number(cursor);
    }
}

int json_is_valid(const char *bytes, size_t length)
{
    json_cursor cursor = {.at = bytes, .end = bytes + length};
    json_skip_space(&cursor);
    if (json_value(&cursor) != 0) return 0;
    json_skip_space(&cursor);
    return cursor.at == cursor.end;
}

/* ---- numbers and durations ---- */

/* Exact decimal (optional sign, digits, fraction, exponent) times `scale`
 * nanoseconds, rounded half away from zero. 0 on success. */
static int decimal_to_ns(const char *bytes, size_t length, int64_t scale, int allow_exponent, int64_t *out)
{
    const char *at = bytes, *end = bytes + length;
    int negative = 0;
    if (at < end && (*at == '-' || *at == '+')) negative = *at++ == '-';
    uint64_t digits = 0;
    int significant = 0, exponent = 0, seen_digit = 0;
    for (; at < end && *at >= '0' && *at <= '9'; at++) {
        seen_digit = 1;
        if (significant < 18) {
            digits = digits * 10 + (uint64_t)(*at - '0');
            if (digits) significant++;
        } else {
            exponent++;
        }
    }
    if (at < end && *at == '.') {
        at++;
        const char *fraction = at;
        for (; at < end && *at >= '0' && *at <= '9'; at++) {
            if (significant < 18) {
                digits = digits * 10 + (uint64_t)(*at - '0');
                if (digits) significant++;
                exponent--;
            }
        }
        if (at == fraction && !seen_digit) return -1;
        seen_digit = 1;
    }
    if (!seen_digit) return -1;
    if (allow_exponent && at < end && (*at == 'e' || *at == 'E')) {
        at++;
        int exponent_negative = 0;
        if (at < end && (*at == '+' || *at == '-')) exponent_negative = *at++ == '-';
        if (at == end || *at < '0' || *at > '9') return -1;
        int value = 0;
        for (; at < end && *at >= '0' && *at <= '9'; at++)
            if (value < 1000) value = value * 10 + (*at - '0');
        exponent += exponent_negative ? -value : value;
    }
    if (at != end) return -1;
    /* value = digits * 10^exponent * scale */
    uint64_t value = digits;
    if (value == 0) {
        *out = 0;
        return 0;
    }
    uint64_t limit = (uint64_t)SECONDS_MAX * NS_PER_SECOND;
    /* Multiply by scale first, then apply the decimal exponent. */
    if (value > limit / (uint64_t)scale) return -1;
    value *= (uint64_t)scale;
    for (; exponent > 0; exponent--) {
        if (value > limit / 10) return -1;
        value *= 10;
    }
    for (; exponent < 0; exponent++) {
        if (exponent == -1) {
            value = value / 10 + (value % 10 >= 5);
        } else {
            value /= 10;
            if (value == 0) break;
        }
    }
    if (value > limit) return -1;
    *out = negative ? -(int64_t)value : (int64_t)value;
    return 0;
}

int parse_duration(const char *bytes, size_t length, int64_t *ns)
{
    static const struct {
        const char *unit;
        int64_t scale;
    } units[] = {
        {"", NS_PER_SECOND}, {"s", NS_PER_SECOND}, {"sec", NS_PER_SECOND}, {"ms", 1000000}, {"us", 1000},
        {"ns", 1}, {"m", 60 * NS_PER_SECOND}, {"min", 60 * NS_PER_SECOND}, {"h", 3600 * NS_PER_SECOND},
    };
    while (length && (*bytes == ' ' || *bytes == '\t')) bytes++, length--;
    while (length && (bytes[length - 1] == ' ' || bytes[length - 1] == '\t')) length--;
    size_t number = 0;
    while (number < length && ((bytes[number] >= '0' && bytes[number] <= '9') || bytes[number] == '.')) number++;
    if (number == 0) return -1;
    size_t unit = number;
    while (unit < length && bytes[unit] == ' ') unit++;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t unit_length = strlen(units[i].unit);
        if (unit_length == length - unit && memcmp(bytes + unit, units[i].unit, unit_length) == 0)
            return decimal_to_ns(bytes, number, units[i].scale, 0, ns);
    }
    return -1;
}

int parse_duration_list(const char *text, int64_t *out, size_t max, size_t *count, char *error, size_t error_size)
{
    *count = 0;
    const char *at = text;
    while (*at) {
        const char *comma = strchr(at, ',');
        size_t length = comma ? (size_t)(comma - at) : strlen(at);
        while (length && (*at == ' ' || *at == '\t')) at++, length--;
        while (length && (at[length - 1] == ' ' || at[length - 1] == '\t')) length--;
        int64_t value;
        if (parse_duration(at, length, &value) != 0 || value <= 0) {
            snprintf(error, error_size, "'%.*s' is not a positive duration (such as 10s, 1.5s, 500ms, 2m)",
                     (int)(length > 40 ? 40 : length), at);
            return -1;
        }
        if (*count == max) {
            snprintf(error, error_size, "more than %zu durations", max);
            return -1;
        }
        for (size_t i = 0; i < *count; i++) {
            if (out[i] == value) {
                snprintf(error, error_size, "'%.*s' is listed twice", (int)(length > 40 ? 40 : length), at);
                return -1;
            }
        }
        out[(*count)++] = value;
        if (!comma) break;
        at = comma + 1;
        if (!*at) {
            snprintf(error, error_size, "nothing after the last comma");
            return -1;
        }
    }
    if (*count == 0) {
        snprintf(error, error_size, "no duration given");
        return -1;
    }
    return 0;
}

void format_duration(int64_t ns, char *out, size_t size)
{
    if (ns % NS_PER_SECOND == 0) {
        snprintf(out, size, "%llds", (long long)(ns / NS_PER_SECOND));
    } else if (ns % 1000000 == 0 && ns < NS_PER_SECOND) {
        snprintf(out, size, "%lldms", (long long)(ns / 1000000));
    } else {
        /* Seconds with the decimals it needs, at most nine. */
        char fraction[16];
        snprintf(fraction, sizeof fraction, "%09lld", (long long)(ns % NS_PER_SECOND));
        size_t digits = strlen(fraction);
        while (digits > 1 && fraction[digits - 1] == '0') digits--;
        snprintf(out, size, "%lld.%.*ss", (long long)(ns / NS_PER_SECOND), (int)digits, fraction);
    }
}

/* ---- event lines ---- */

void parsed_event_clear(parsed_event *event)
{
    free(event->name);
    free(event->payload_json);
    event->name = NULL;
    event->payload_json = NULL;
}

static int set_error(char *error, size_t error_size, const char *format, ...) __attribute__((format(printf, 3, 4)));

static int set_error(char *error, size_t error_size, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(error, error_size, format, args);
    va_end(args);
    return -1;
}

/* A name must be printable text of bounded length. */
static int check_name(const char *name, size_t length, char *error, size_t error_size)
{
    if (length == 0) return set_error(error, error_size, "empty event name");
    if (length > EVENT_NAME_MAX) return set_error(error, error_size, "event name longer than %d bytes", EVENT_NAME_MAX);
    if (!utf8_is_valid(name, length)) return set_error(error, error_size, "event name is not valid UTF-8");
    for (size_t i = 0; i < length; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return set_error(error, error_size, "event name holds a control character");
    return 0;
}

static int is_now(const char *bytes, size_t length) { return length == 3 && memcmp(bytes, "now", 3) == 0; }

/* A number of seconds, or a duration string, for pre_roll / post_roll. */
static int roll_value(json_cursor *cursor, const char *key, int64_t *out, char *error, size_t error_size)
{
    const char *start = cursor->at;
    if (*start == 'n') {
        if (json_word(cursor, "null") != 0) return set_error(error, error_size, "bad value for \"%s\"", key);
        *out = EVENT_TIME_NONE;
        return 0;
    }
    if (*start == '"') {
        text_buffer text = {0};
        int result = json_string(cursor, &text);
        if (result == 0 && (text.failed || parse_duration(text.data ? text.data : "", text.length, out) != 0))
            result = -1;
        text_buffer_free(&text);
        if (result != 0)
            return set_error(error, error_size, "\"%s\" must be seconds or a duration such as \"1.5s\"", key);
        return 0;
    }
    if (json_number(cursor) != 0 || decimal_to_ns(start, (size_t)(cursor->at - start), NS_PER_SECOND, 1, out) != 0)
        return set_error(error, error_size, "\"%s\" must be a number of seconds", key);
    if (*out < 0) return set_error(error, error_size, "\"%s\" is negative", key);
    return 0;
}

static int time_value(json_cursor *cursor, int64_t *out, char *error, size_t error_size)
{
    const char *start = cursor->at;
    if (*start == 'n') {
        if (json_word(cursor, "null") != 0) return set_error(error, error_size, "bad value for \"time\"");
        *out = EVENT_TIME_NONE;
        return 0;
    }
    if (*start == '"') {
        text_buffer text = {0};
        int result = json_string(cursor, &text);
        int now = result == 0 && !text.failed && text.data && is_now(text.data, text.length);
        text_buffer_free(&text);
        if (!now) return set_error(error, error_size, "\"time\" must be seconds on the stream timeline or \"now\"");
        *out = EVENT_TIME_NONE;
        return 0;
    }
    if (json_number(cursor) != 0 || decimal_to_ns(start, (size_t)(cursor->at - start), NS_PER_SECOND, 1, out) != 0)
        return set_error(error, error_size, "\"time\" must be seconds on the stream timeline or \"now\"");
    if (*out < 0) return set_error(error, error_size, "\"time\" is negative");
    return 0;
}

static int parse_json_line(const char *line, size_t length, parsed_event *event, char *error, size_t error_size)
{
    json_cursor cursor = {.at = line, .end = line + length};
    json_skip_space(&cursor);
    if (!json_is_valid(line, length)) return set_error(error, error_size, "not valid JSON");
    /* Valid JSON from here on: only the meaning of members can be wrong. */
    cursor.at++;
    json_skip_space(&cursor);
    int has_name = 0;
    while (cursor.at < cursor.end && *cursor.at != '}') {
        text_buffer key = {0};
        json_string(&cursor, &key);
        json_skip_space(&cursor);
        cursor.at++; /* ':' */
        json_skip_space(&cursor);
        const char *key_text = key.data ? key.data : "";
        int result = 0;
        if (key.failed) {
            result = set_error(error, error_size, "out of memory");
        } else if (strcmp(key_text, "name") == 0) {
            if (*cursor.at != '"') {
                result = set_error(error, error_size, "\"name\" must be a string");
            } else {
                text_buffer name = {0};
                json_string(&cursor, &name);
                if (name.failed) result = set_error(error, error_size, "out of memory");
                else result = check_name(name.data ? name.data : "", name.length, error, error_size);
                if (result == 0) {
                    free(event->name);
                    event->name = text_buffer_take(&name);
                    has_name = 1;
                } else {
                    text_buffer_free(&name);
                }
            }
        } else if (strcmp(key_text, "time") == 0) {
            result = time_value(&cursor, &event->time, error, error_size);
        } else if (strcmp(key_text, "pre_roll") == 0) {
            result = roll_value(&cursor, "pre_roll", &event->pre_roll, error, error_size);
        } else if (strcmp(key_text, "post_roll") == 0) {
            result = roll_value(&cursor, "post_roll", &event->post_roll, error, error_size);
        } else if (strcmp(key_text, "payload") == 0) {
            const char *start = cursor.at;
            json_value(&cursor);
            free(event->payload_json);
            event->payload_json = NULL;
            if (!(cursor.at - start == 4 && memcmp(start, "null", 4) == 0)) {
                event->payload_json = malloc((size_t)(cursor.at - start) + 1);
                if (!event->payload_json) {
                    result = set_error(error, error_size, "out of memory");
                } else {
                    memcpy(event->payload_json, start, (size_t)(cursor.at - start));
                    event->payload_json[cursor.at - start] = '\0';
                }
            }
        } else {
            /* Unknown members are the writer's business (ids, sources...). */
            json_value(&cursor);
        }
        text_buffer_free(&key);
        if (result != 0) return -1;
        json_skip_space(&cursor);
        if (cursor.at < cursor.end && *cursor.at == ',') {
            cursor.at++;
            json_skip_space(&cursor);
        }
    }
    if (!has_name) return set_error(error, error_size, "no \"name\"");
    return 0;
}

/* `TIME NAME` or `NAME`; TIME is seconds or `now`. A lone time is more
 * likely a mistake than an event named "12.5", so it is refused. */
static int parse_plain_line(const char *line, size_t length, parsed_event *event, char *error, size_t error_size)
{
    size_t word = 0;
    while (word < length && line[word] != ' ' && line[word] != '\t') word++;
    size_t rest = word;
    while (rest < length && (line[rest] == ' ' || line[rest] == '\t')) rest++;
    int64_t time = EVENT_TIME_NONE;
    int is_time = 0;
    if (is_now(line, word)) {
        is_time = 1;
    } else if ((line[0] >= '0' && line[0] <= '9') || line[0] == '.') {
        is_time = decimal_to_ns(line, word, NS_PER_SECOND, 0, &time) == 0;
    } else if (line[0] == '-' && decimal_to_ns(line, word, NS_PER_SECOND, 0, &time) == 0) {
        return set_error(error, error_size, "negative time");
    }
    if (is_time && rest == length) return set_error(error, error_size, "a time without an event name");
    const char *name = is_time ? line + rest : line;
    size_t name_length = is_time ? length - rest : length;
    if (check_name(name, name_length, error, error_size) != 0) return -1;
    event->name = malloc(name_length + 1);
    if (!event->name) return set_error(error, error_size, "out of memory");
    memcpy(event->name, name, name_length);
    event->name[name_length] = '\0';
    event->time = is_time ? time : EVENT_TIME_NONE;
    return 0;
}

int parse_event_line(const char *line, size_t length, parsed_event *event, char *error, size_t error_size)
{
    *event = (parsed_event){.time = EVENT_TIME_NONE, .pre_roll = EVENT_TIME_NONE, .post_roll = EVENT_TIME_NONE};
    error[0] = '\0';
    while (length && (*line == ' ' || *line == '\t')) line++, length--;
    while (length && (line[length - 1] == ' ' || line[length - 1] == '\t' || line[length - 1] == '\r')) length--;
    if (length == 0 || line[0] == '#') return 0;
    if (memchr(line, '\0', length)) return set_error(error, error_size, "line holds a NUL byte");
    int result = line[0] == '{' ? parse_json_line(line, length, event, error, error_size)
                                : parse_plain_line(line, length, event, error, error_size);
    if (result != 0) {
        parsed_event_clear(event);
        return -1;
    }
    return 1;
}
