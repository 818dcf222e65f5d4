/* HLS playlist parser (see m3u8.h). */
#include "m3u8.h"
#include "url.h"
#include "../common/civil_date.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSEC_PER_SEC INT64_C(1000000000)
/* No sane duration (segment, target, daterange) is longer than a day;
 * the cap keeps every later sum far from overflowing. */
#define MAX_DURATION_NS (INT64_C(86400) * NSEC_PER_SEC)
/* Sequence numbers are 64-bit unsigned in the specification; capping
 * them at 2^62 keeps "sequence + entries" arithmetic safe. */
#define MAX_SEQUENCE (INT64_C(1) << 62)
#define MAX_ATTRIBUTES 256

typedef struct parser {
    const char *base_url;
    const m3u8_limits *limits;
    m3u8_playlist *playlist;
    unsigned line_number;
    size_t entries;

    size_t segment_capacity;
    size_t variant_capacity;
    size_t rendition_capacity;
    size_t map_capacity;
    size_t key_capacity;
    size_t daterange_capacity;

    /* What applies to the next segment or variant URI line. */
    bool have_extinf;
    int64_t pending_duration_ns;
    char *pending_title;
    bool pending_discontinuity;
    bool pending_gap;
    int64_t pending_date_ns;
    bool have_range;
    int64_t pending_range_length;
    int64_t pending_range_offset; /* -1: continue after the previous range */
    bool have_stream_inf;
    m3u8_variant pending_variant;

    int current_map;
    int current_key;
    int64_t next_sequence;
    int64_t discontinuity_sequence;
    bool sequence_fixed;          /* a segment was seen: no more sequence tags */
    bool have_target_duration;
    bool saw_media_tag;
    bool saw_master_tag;
    bool saw_prefetch;
    /* Where the previous byte range ended, for "n" without "@o". */
    char *range_uri;
    int64_t range_end;
} parser;

const char *m3u8_status_text(int status)
{
    switch (status) {
    case M3U8_OK: return "ok";
    case M3U8_ERR_NOMEM: return "out of memory";
    case M3U8_ERR_NOT_PLAYLIST: return "not an HLS playlist (no #EXTM3U header)";
    case M3U8_ERR_TOO_LARGE: return "playlist too large";
    case M3U8_ERR_TOO_MANY: return "too many playlist entries";
    case M3U8_ERR_SYNTAX: return "malformed playlist";
    case M3U8_ERR_MISSING_URI: return "segment or variant without its URI";
    case M3U8_ERR_MIXED: return "master and media playlist tags mixed";
    default: return "unknown playlist error";
    }
}

static int fail(parser *state, int status, const char *format, ...) __attribute__((format(printf, 3, 4)));

static int fail(parser *state, int status, const char *format, ...)
{
    m3u8_playlist *playlist = state->playlist;
    if (playlist->error[0] == '\0') {
        va_list arguments;
        va_start(arguments, format);
        vsnprintf(playlist->error, sizeof(playlist->error), format, arguments);
        va_end(arguments);
        playlist->error_line = state->line_number;
    }
    return status;
}

/* ---- numbers and dates ------------------------------------------------ */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* decimal-integer: digits only, at most `max`. */
static bool parse_integer(const char *text, size_t length, int64_t max, int64_t *value)
{
    if (length == 0 || length > 19)
        return false;
    int64_t result = 0;
    for (size_t i = 0; i < length; i++) {
        if (!is_digit(text[i]))
            return false;
        int digit = text[i] - '0';
        if (result > (max - digit) / 10)
            return false;
        result = result * 10 + digit;
    }
    *value = result;
    return true;
}

bool m3u8_parse_seconds(const char *text, size_t length, bool allow_negative, int64_t max_ns,
                        int64_t *value_ns)
{
    size_t i = 0;
    bool negative = false;
    if (length > 0 && text[0] == '-') {
        if (!allow_negative)
            return false;
        negative = true;
        i = 1;
    }
    int64_t whole = 0;
    size_t whole_digits = 0;
    int64_t max_whole = max_ns / NSEC_PER_SEC;
    for (; i < length && is_digit(text[i]); i++, whole_digits++) {
        whole = whole * 10 + (text[i] - '0');
        if (whole > max_whole)
            return false;
    }
    if (whole_digits == 0)
        return false;
    int64_t fraction = 0;
    if (i < length && text[i] == '.') {
        i++;
        size_t fraction_digits = 0;
        int64_t scale = NSEC_PER_SEC / 10;
        for (; i < length && is_digit(text[i]); i++, fraction_digits++) {
            fraction += (text[i] - '0') * scale;
            scale /= 10;
        }
        if (fraction_digits == 0)
            return false;
    }
    if (i != length)
        return false;
    int64_t result = whole * NSEC_PER_SEC + fraction;
    if (result > max_ns)
        return false;
    *value_ns = negative ? -result : result;
    return true;
}

static bool fixed_digits(const char *text, size_t length, size_t at, size_t count, int64_t *value)
{
    if (at + count > length)
        return false;
    return parse_integer(text + at, count, INT64_C(9999), value);
}

bool m3u8_parse_date(const char *text, size_t length, int64_t *utc_ns)
{
    int64_t year, month, day, hour, minute, second;
    if (!fixed_digits(text, length, 0, 4, &year) || length < 19 || text[4] != '-' ||
        !fixed_digits(text, length, 5, 2, &month) || text[7] != '-' ||
        !fixed_digits(text, length, 8, 2, &day) ||
        (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
        !fixed_digits(text, length, 11, 2, &hour) || text[13] != ':' ||
        !fixed_digits(text, length, 14, 2, &minute) || text[16] != ':' ||
        !fixed_digits(text, length, 17, 2, &second))
        return false;
    if (!civil_date_valid(year, month, day) || hour > 23 || minute > 59 || second > 60)
        return false;
    size_t i = 19;
    int64_t fraction = 0;
    if (i < length && (text[i] == '.' || text[i] == ',')) {
        i++;
        int64_t scale = NSEC_PER_SEC / 10;
        size_t digits = 0;
        for (; i < length && is_digit(text[i]); i++, digits++) {
            fraction += (text[i] - '0') * scale;
            scale /= 10;
        }
        if (digits == 0)
            return false;
    }
    int64_t offset_seconds = 0;
    if (i < length && (text[i] == 'Z' || text[i] == 'z')) {
        i++;
    } else if (i < length && (text[i] == '+' || text[i] == '-')) {
        int sign = text[i] == '-' ? -1 : 1;
        int64_t offset_hours, offset_minutes = 0;
        if (!fixed_digits(text, length, i + 1, 2, &offset_hours))
            return false;
        i += 3;
        if (i < length && text[i] == ':')
            i++;
        if (i < length) {
            if (!fixed_digits(text, length, i, 2, &offset_minutes))
                return false;
            i += 2;
        }
        if (offset_hours > 23 || offset_minutes > 59)
            return false;
        offset_seconds = sign * (offset_hours * 3600 + offset_minutes * 60);
    } else if (i != length) {
        return false;
    }
    if (i != length)
        return false;
    int64_t seconds = civil_days_from_date(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
                      offset_seconds;
    if (seconds < 0)
        return false;
    *utc_ns = seconds * NSEC_PER_SEC + fraction;
    return true;
}

static bool parse_hex_iv(const char *text, size_t length, uint8_t iv[16])
{
    if (length < 3 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X') || length - 2 > 32)
        return false;
    memset(iv, 0, 16);
    size_t digits = length - 2;
    for (size_t i = 0; i < digits; i++) {
        char c = text[2 + i];
        int nibble;
        if (c >= '0' && c <= '9')
            nibble = c - '0';
        else if (c >= 'a' && c <= 'f')
            nibble = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            nibble = c - 'A' + 10;
        else
            return false;
        /* right-aligned: the last digit is the low nibble of byte 15 */
        size_t position = 32 - digits + i;
        iv[position / 2] |= (uint8_t)(position % 2 ? nibble : nibble << 4);
    }
    return true;
}

/* ---- attribute lists ---------------------------------------------------- */

static void free_attributes(m3u8_attribute *attributes, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(attributes[i].name);
        free(attributes[i].value);
    }
    free(attributes);
}

static char *copy_text(const char *text, size_t length)
{
    char *copy = malloc(length + 1);
    if (copy) {
        memcpy(copy, text, length);
        copy[length] = '\0';
    }
    return copy;
}

static bool is_name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-';
}

/* AttributeName=AttributeValue pairs separated by commas. Returns
 * M3U8_OK, M3U8_ERR_SYNTAX or M3U8_ERR_NOMEM; a repeated name keeps its
 * first value. */
static int parse_attributes(const char *text, size_t length, m3u8_attribute **out, size_t *out_count)
{
    m3u8_attribute *attributes = NULL;
    size_t count = 0, capacity = 0;
    size_t i = 0;
    int status = M3U8_OK;
    /* Trailing blanks are common; nothing else may follow the last value. */
    while (length > 0 && (text[length - 1] == ' ' || text[length - 1] == '\t'))
        length--;
    while (i < length) {
        size_t name_start = i;
        while (i < length && is_name_char(text[i]))
            i++;
        size_t name_length = i - name_start;
        if (name_length == 0 || i >= length || text[i] != '=') {
            status = M3U8_ERR_SYNTAX;
            break;
        }
        i++;
        const char *value;
        size_t value_length;
        bool quoted = false;
        if (i < length && text[i] == '"') {
            quoted = true;
            const char *close = memchr(text + i + 1, '"', length - i - 1);
            if (!close) {
                status = M3U8_ERR_SYNTAX;
                break;
            }
            value = text + i + 1;
            value_length = (size_t)(close - value);
            i = (size_t)(close - text) + 1;
        } else {
            size_t value_start = i;
            while (i < length && text[i] != ',' && text[i] != '"' && text[i] != ' ' && text[i] != '\t')
                i++;
            value = text + value_start;
            value_length = i - value_start;
            if (value_length == 0 || (i < length && text[i] != ',')) {
                status = M3U8_ERR_SYNTAX;
                break;
            }
        }
        if (i < length) {
            if (text[i] != ',' || i + 1 >= length) {
                status = M3U8_ERR_SYNTAX;
                break;
            }
            i++;
        }
        bool repeated = false;
        for (size_t k = 0; k < count; k++)
            if (strlen(attributes[k].name) == name_length &&
                memcmp(attributes[k].name, text + name_start, name_length) == 0)
                repeated = true;
        if (repeated)
            continue;
        if (count == MAX_ATTRIBUTES) {
            status = M3U8_ERR_SYNTAX;
            break;
        }
        if (count == capacity) {
            size_t grown_capacity = capacity ? capacity * 2 : 8;
            m3u8_attribute *grown = realloc(attributes, grown_capacity * sizeof(*grown));
            if (!grown) {
                status = M3U8_ERR_NOMEM;
                break;
            }
            attributes = grown;
            capacity = grown_capacity;
        }
        m3u8_attribute *attribute = &attributes[count];
        attribute->name = copy_text(text + name_start, name_length);
        attribute->value = copy_text(value, value_length);
        attribute->quoted = quoted;
        count++;
        if (!attribute->name || !attribute->value) {
            status = M3U8_ERR_NOMEM;
            break;
        }
    }
    if (status != M3U8_OK) {
        free_attributes(attributes, count);
        return status;
    }
    *out = attributes;
    *out_count = count;
    return M3U8_OK;
}

static const m3u8_attribute *find_attribute(const m3u8_attribute *attributes, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(attributes[i].name, name) == 0)
            return &attributes[i];
    return NULL;
}

/* ---- JSON ------------------------------------------------------------- */

static bool json_reserve(char **buffer, size_t *length, size_t *capacity, size_t more)
{
    if (*length + more + 1 <= *capacity)
        return true;
    size_t grown_capacity = *capacity ? *capacity : 64;
    while (grown_capacity < *length + more + 1) {
        if (grown_capacity > SIZE_MAX / 4)
            return false;
        grown_capacity *= 2;
    }
    char *grown = realloc(*buffer, grown_capacity);
    if (!grown)
        return false;
    *buffer = grown;
    *capacity = grown_capacity;
    return true;
}

static bool json_append(char **buffer, size_t *length, size_t *capacity, const char *text, size_t text_length)
{
    if (!json_reserve(buffer, length, capacity, text_length))
        return false;
    memcpy(*buffer + *length, text, text_length);
    *length += text_length;
    (*buffer)[*length] = '\0';
    return true;
}

/* Length of the valid UTF-8 sequence at `text`, 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *text)
{
    unsigned char lead = text[0];
    if (lead < 0x80)
        return 1;
    size_t length;
    uint32_t code;
    if (lead >= 0xc2 && lead <= 0xdf) {
        length = 2;
        code = lead & 0x1f;
    } else if (lead >= 0xe0 && lead <= 0xef) {
        length = 3;
        code = lead & 0x0f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
        length = 4;
        code = lead & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < length; i++) {
        if ((text[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        code = (code << 6) | (text[i] & 0x3f);
    }
    if ((length == 3 && (code < 0x800 || (code >= 0xd800 && code <= 0xdfff))) ||
        (length == 4 && (code < 0x10000 || code > 0x10ffff)))
        return 0;
    return length;
}

bool m3u8_json_append_string(char **buffer, size_t *length, size_t *capacity, const char *text)
{
    if (!json_append(buffer, length, capacity, "\"", 1))
        return false;
    const unsigned char *cursor = (const unsigned char *)text;
    while (*cursor) {
        unsigned char c = *cursor;
        char escaped[8];
        if (c == '"' || c == '\\') {
            escaped[0] = '\\';
            escaped[1] = (char)c;
            if (!json_append(buffer, length, capacity, escaped, 2))
                return false;
            cursor++;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(escaped, sizeof(escaped), "\\u%04x", c);
            if (!json_append(buffer, length, capacity, escaped, 6))
                return false;
            cursor++;
        } else {
            size_t sequence = utf8_sequence(cursor);
            if (sequence == 0) {
                if (!json_append(buffer, length, capacity, "\\ufffd", 6))
                    return false;
                cursor++;
            } else {
                if (!json_append(buffer, length, capacity, (const char *)cursor, sequence))
                    return false;
                cursor += sequence;
            }
        }
    }
    return json_append(buffer, length, capacity, "\"", 1);
}

/* A JSON number as the grammar allows it (no leading zeros, no "1."). */
static bool is_json_number(const char *text)
{
    size_t i = 0;
    if (text[i] == '-')
        i++;
    if (!is_digit(text[i]))
        return false;
    if (text[i] == '0' && is_digit(text[i + 1]))
        return false;
    while (is_digit(text[i]))
        i++;
    if (text[i] == '.') {
        i++;
        if (!is_digit(text[i]))
            return false;
        while (is_digit(text[i]))
            i++;
    }
    return text[i] == '\0' && i <= 40;
}

char *m3u8_attributes_json(const m3u8_attribute *attributes, size_t count)
{
    char *buffer = NULL;
    size_t length = 0, capacity = 0;
    bool ok = json_append(&buffer, &length, &capacity, "{", 1);
    for (size_t i = 0; ok && i < count; i++) {
        if (i > 0)
            ok = json_append(&buffer, &length, &capacity, ",", 1);
        ok = ok && m3u8_json_append_string(&buffer, &length, &capacity, attributes[i].name) &&
             json_append(&buffer, &length, &capacity, ":", 1);
        if (!ok)
            break;
        if (!attributes[i].quoted && is_json_number(attributes[i].value))
            ok = json_append(&buffer, &length, &capacity, attributes[i].value, strlen(attributes[i].value));
        else
            ok = m3u8_json_append_string(&buffer, &length, &capacity, attributes[i].value);
    }
    ok = ok && json_append(&buffer, &length, &capacity, "}", 1);
    if (!ok) {
        free(buffer);
        return NULL;
    }
    return buffer;
}

/* ---- playlist entries ------------------------------------------------- */

static bool grow_array(void **array, size_t *capacity, size_t count, size_t element_size)
{
    if (count < *capacity)
        return true;
    size_t grown_capacity = *capacity ? *capacity * 2 : 16;
    void *grown = realloc(*array, grown_capacity * element_size);
    if (!grown)
        return false;
    *array = grown;
    *capacity = grown_capacity;
    return true;
}

static int count_entry(parser *state)
{
    if (++state->entries > state->limits->max_entries)
        return fail(state, M3U8_ERR_TOO_MANY, "more than %zu entries", state->limits->max_entries);
    return M3U8_OK;
}

/* Resolves a URI from the playlist, refusing controls and empty text. */
static int resolve_uri(parser *state, const char *text, size_t length, char **resolved)
{
    if (length == 0)
        return fail(state, M3U8_ERR_SYNTAX, "empty URI");
    for (size_t i = 0; i < length; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
            return fail(state, M3U8_ERR_SYNTAX, "control character in a URI");
    if (length >= HLS_URL_MAX_LENGTH)
        return fail(state, M3U8_ERR_SYNTAX, "URI longer than %d bytes", HLS_URL_MAX_LENGTH);
    char *raw = copy_text(text, length);
    if (!raw)
        return M3U8_ERR_NOMEM;
    *resolved = hls_url_resolve(state->base_url, raw);
    free(raw);
    if (!*resolved)
        return fail(state, M3U8_ERR_SYNTAX, "URI cannot be resolved");
    return M3U8_OK;
}

static void clear_pending_segment(parser *state)
{
    state->have_extinf = false;
    free(state->pending_title);
    state->pending_title = NULL;
    state->pending_discontinuity = false;
    state->pending_gap = false;
    state->pending_date_ns = M3U8_NONE;
    state->have_range = false;
}

/* The PROGRAM-DATE-TIME of the next segment: its own tag, or the previous
 * segment's date plus its duration while no discontinuity intervened. */
static int64_t carried_date(parser *state, const m3u8_segment *segment)
{
    const m3u8_playlist *playlist = state->playlist;
    if (state->pending_date_ns != M3U8_NONE)
        return state->pending_date_ns;
    /* `segment` is already counted: the previous one is two from the end. */
    if (segment->discontinuity || playlist->segment_count < 2)
        return M3U8_NONE;
    const m3u8_segment *previous = &playlist->segments[playlist->segment_count - 2];
    if (previous->program_date_time_ns == M3U8_NONE)
        return M3U8_NONE;
    return previous->program_date_time_ns + previous->duration_ns;
}

static int add_segment(parser *state, const char *uri_text, size_t uri_length, bool prefetch)
{
    m3u8_playlist *playlist = state->playlist;
    int status = count_entry(state);
    if (status != M3U8_OK)
        return status;
    if (!prefetch && state->saw_prefetch)
        return fail(state, M3U8_ERR_SYNTAX, "a segment after #EXT-X-TWITCH-PREFETCH");
    if (state->next_sequence >= MAX_SEQUENCE)
        return fail(state, M3U8_ERR_SYNTAX, "media sequence overflow");
    if (!grow_array((void **)&playlist->segments, &state->segment_capacity, playlist->segment_count,
                    sizeof(m3u8_segment)))
        return M3U8_ERR_NOMEM;
    char *uri = NULL;
    status = resolve_uri(state, uri_text, uri_length, &uri);
    if (status != M3U8_OK)
        return status;

    /* Counted at once, so m3u8_free releases it whatever fails below. */
    m3u8_segment *segment = &playlist->segments[playlist->segment_count++];
    memset(segment, 0, sizeof(*segment));
    segment->uri = uri;
    segment->sequence = state->next_sequence++;
    segment->prefetch = prefetch;
    segment->map_index = state->current_map;
    segment->key_index = state->current_key;
    segment->range_offset = 0;
    segment->range_length = -1;
    if (prefetch) {
        segment->duration_ns = 0;
        segment->discontinuity = false;
        segment->program_date_time_ns = M3U8_NONE;
    } else {
        segment->duration_ns = state->pending_duration_ns;
        segment->title = state->pending_title;
        state->pending_title = NULL;
        segment->discontinuity = state->pending_discontinuity;
        segment->gap = state->pending_gap;
        segment->date_explicit = state->pending_date_ns != M3U8_NONE;
        segment->program_date_time_ns = carried_date(state, segment);
    }
    if (segment->discontinuity)
        state->discontinuity_sequence++;
    segment->discontinuity_sequence = state->discontinuity_sequence;

    if (state->have_range) {
        int64_t offset = state->pending_range_offset;
        if (offset < 0) {
            /* Without "@o" the range continues the previous one of the same resource. */
            if (!state->range_uri || strcmp(state->range_uri, uri) != 0)
                return fail(state, M3U8_ERR_SYNTAX, "EXT-X-BYTERANGE without offset does not follow a range of the same URI");
            offset = state->range_end;
        }
        if (offset > INT64_MAX / 2 - state->pending_range_length)
            return fail(state, M3U8_ERR_SYNTAX, "byte range out of bounds");
        segment->range_offset = offset;
        segment->range_length = state->pending_range_length;
        free(state->range_uri);
        state->range_uri = strdup(uri);
        if (!state->range_uri)
            return M3U8_ERR_NOMEM;
        state->range_end = offset + state->pending_range_length;
    }
    state->sequence_fixed = true;
    clear_pending_segment(state);
    return M3U8_OK;
}

static int add_variant(parser *state, const char *uri_text, size_t uri_length)
{
    m3u8_playlist *playlist = state->playlist;
    if (!grow_array((void **)&playlist->variants, &state->variant_capacity, playlist->variant_count,
                    sizeof(m3u8_variant)))
        return M3U8_ERR_NOMEM;
    char *uri = NULL;
    int status = resolve_uri(state, uri_text, uri_length, &uri);
    if (status != M3U8_OK)
        return status;
    m3u8_variant *variant = &playlist->variants[playlist->variant_count++];
    *variant = state->pending_variant;
    variant->uri = uri;
    memset(&state->pending_variant, 0, sizeof(state->pending_variant));
    state->have_stream_inf = false;
    return M3U8_OK;
}

static int parse_stream_inf(parser *state, const char *value, size_t length)
{
    m3u8_attribute *attributes;
    size_t count;
    int status = parse_attributes(value, length, &attributes, &count);
    if (status != M3U8_OK)
        return status == M3U8_ERR_NOMEM ? status : fail(state, status, "malformed EXT-X-STREAM-INF attributes");
    status = count_entry(state);
    m3u8_variant variant = { 0 };
    const m3u8_attribute *bandwidth = find_attribute(attributes, count, "BANDWIDTH");
    const m3u8_attribute *average = find_attribute(attributes, count, "AVERAGE-BANDWIDTH");
    const m3u8_attribute *resolution = find_attribute(attributes, count, "RESOLUTION");
    const m3u8_attribute *frame_rate = find_attribute(attributes, count, "FRAME-RATE");
    const m3u8_attribute *codecs = find_attribute(attributes, count, "CODECS");
    const m3u8_attribute *video = find_attribute(attributes, count, "VIDEO");
    if (status == M3U8_OK &&
        (!bandwidth || bandwidth->quoted ||
         !parse_integer(bandwidth->value, strlen(bandwidth->value), INT64_MAX / 2, &variant.bandwidth)))
        status = fail(state, M3U8_ERR_SYNTAX, "EXT-X-STREAM-INF without a valid BANDWIDTH");
    if (status == M3U8_OK && average &&
        (average->quoted ||
         !parse_integer(average->value, strlen(average->value), INT64_MAX / 2, &variant.average_bandwidth)))
        status = fail(state, M3U8_ERR_SYNTAX, "bad AVERAGE-BANDWIDTH");
    if (status == M3U8_OK && resolution) {
        const char *x = strchr(resolution->value, 'x');
        int64_t width, height;
        if (resolution->quoted || !x ||
            !parse_integer(resolution->value, (size_t)(x - resolution->value), 65535, &width) ||
            !parse_integer(x + 1, strlen(x + 1), 65535, &height))
            status = fail(state, M3U8_ERR_SYNTAX, "bad RESOLUTION");
        else {
            variant.width = (int)width;
            variant.height = (int)height;
        }
    }
    if (status == M3U8_OK && frame_rate) {
        int64_t rate_ns;
        if (frame_rate->quoted ||
            !m3u8_parse_seconds(frame_rate->value, strlen(frame_rate->value), false, 1000 * NSEC_PER_SEC, &rate_ns))
            status = fail(state, M3U8_ERR_SYNTAX, "bad FRAME-RATE");
        else
            variant.frame_rate_milli = rate_ns / 1000000;
    }
    if (status == M3U8_OK && codecs) {
        variant.codecs = strdup(codecs->value);
        if (!variant.codecs)
            status = M3U8_ERR_NOMEM;
    }
    if (status == M3U8_OK && video) {
        variant.video_group = strdup(video->value);
        if (!variant.video_group)
            status = M3U8_ERR_NOMEM;
    }
    free_attributes(attributes, count);
    if (status != M3U8_OK) {
        free(variant.codecs);
        free(variant.video_group);
        return status;
    }
    state->pending_variant = variant;
    state->have_stream_inf = true;
    return M3U8_OK;
}

static int parse_media(parser *state, const char *value, size_t length)
{
    m3u8_attribute *attributes;
    size_t count;
    int status = parse_attributes(value, length, &attributes, &count);
    if (status != M3U8_OK)
        return status == M3U8_ERR_NOMEM ? status : fail(state, status, "malformed EXT-X-MEDIA attributes");
    const m3u8_attribute *uri = find_attribute(attributes, count, "URI");
    if (uri) {
        m3u8_playlist *playlist = state->playlist;
        status = count_entry(state);
        if (status == M3U8_OK && !uri->quoted)
            status = fail(state, M3U8_ERR_SYNTAX, "EXT-X-MEDIA URI must be quoted");
        if (status == M3U8_OK && !grow_array((void **)&playlist->rendition_uris, &state->rendition_capacity,
                                             playlist->rendition_count, sizeof(char *)))
            status = M3U8_ERR_NOMEM;
        char *resolved = NULL;
        if (status == M3U8_OK)
            status = resolve_uri(state, uri->value, strlen(uri->value), &resolved);
        if (status == M3U8_OK)
            playlist->rendition_uris[playlist->rendition_count++] = resolved;
    }
    free_attributes(attributes, count);
    return status;
}

/* "n" or "n@o"; `offset` is -1 without "@o". */
static bool parse_range(const char *text, size_t length, int64_t *range_length, int64_t *offset)
{
    const char *at = memchr(text, '@', length);
    size_t length_digits = at ? (size_t)(at - text) : length;
    if (!parse_integer(text, length_digits, INT64_MAX / 4, range_length) || *range_length == 0)
        return false;
    *offset = -1;
    if (at && !parse_integer(at + 1, length - length_digits - 1, INT64_MAX / 4, offset))
        return false;
    return true;
}

static int parse_map(parser *state, const char *value, size_t length)
{
    m3u8_attribute *attributes;
    size_t count;
    int status = parse_attributes(value, length, &attributes, &count);
    if (status != M3U8_OK)
        return status == M3U8_ERR_NOMEM ? status : fail(state, status, "malformed EXT-X-MAP attributes");
    m3u8_playlist *playlist = state->playlist;
    const m3u8_attribute *uri = find_attribute(attributes, count, "URI");
    const m3u8_attribute *range = find_attribute(attributes, count, "BYTERANGE");
    m3u8_map map = { .range_offset = 0, .range_length = -1 };
    if (!uri || !uri->quoted)
        status = fail(state, M3U8_ERR_SYNTAX, "EXT-X-MAP without a quoted URI");
    if (status == M3U8_OK && range) {
        int64_t offset;
        if (!range->quoted || !parse_range(range->value, strlen(range->value), &map.range_length, &offset))
            status = fail(state, M3U8_ERR_SYNTAX, "bad EXT-X-MAP BYTERANGE");
        else
            map.range_offset = offset < 0 ? 0 : offset;
    }
    if (status == M3U8_OK)
        status = count_entry(state);
    if (status == M3U8_OK &&
        !grow_array((void **)&playlist->maps, &state->map_capacity, playlist->map_count, sizeof(m3u8_map)))
        status = M3U8_ERR_NOMEM;
    if (status == M3U8_OK)
        status = resolve_uri(state, uri->value, strlen(uri->value), &map.uri);
    if (status == M3U8_OK) {
        playlist->maps[playlist->map_count] = map;
        state->current_map = (int)playlist->map_count++;
    }
    free_attributes(attributes, count);
    return status;
}

static int parse_key(parser *state, const char *value, size_t length)
{
    m3u8_attribute *attributes;
    size_t count;
    int status = parse_attributes(value, length, &attributes, &count);
    if (status != M3U8_OK)
        return status == M3U8_ERR_NOMEM ? status : fail(state, status, "malformed EXT-X-KEY attributes");
    m3u8_playlist *playlist = state->playlist;
    const m3u8_attribute *method = find_attribute(attributes, count, "METHOD");
    const m3u8_attribute *uri = find_attribute(attributes, count, "URI");
    const m3u8_attribute *iv = find_attribute(attributes, count, "IV");
    m3u8_key key = { 0 };
    if (!method || method->quoted)
        status = fail(state, M3U8_ERR_SYNTAX, "EXT-X-KEY without METHOD");
    else if (strcmp(method->value, "NONE") == 0)
        key.method = M3U8_KEY_NONE;
    else if (strcmp(method->value, "AES-128") == 0)
        key.method = M3U8_KEY_AES128;
    else if (strcmp(method->value, "SAMPLE-AES") == 0 || strcmp(method->value, "SAMPLE-AES-CTR") == 0)
        key.method = M3U8_KEY_SAMPLE_AES;
    else
        key.method = M3U8_KEY_OTHER;
    if (status == M3U8_OK && key.method != M3U8_KEY_NONE && (!uri || !uri->quoted))
        status = fail(state, M3U8_ERR_SYNTAX, "EXT-X-KEY without a quoted URI");
    if (status == M3U8_OK && iv) {
        if (iv->quoted || !parse_hex_iv(iv->value, strlen(iv->value), key.iv))
            status = fail(state, M3U8_ERR_SYNTAX, "bad EXT-X-KEY IV");
        key.has_iv = true;
    }
    if (status == M3U8_OK && key.method == M3U8_KEY_NONE) {
        state->current_key = -1;
        free_attributes(attributes, count);
        return M3U8_OK;
    }
    if (status == M3U8_OK)
        status = count_entry(state);
    if (status == M3U8_OK &&
        !grow_array((void **)&playlist->keys, &state->key_capacity, playlist->key_count, sizeof(m3u8_key)))
        status = M3U8_ERR_NOMEM;
    if (status == M3U8_OK)
        status = resolve_uri(state, uri->value, strlen(uri->value), &key.uri);
    if (status == M3U8_OK) {
        playlist->keys[playlist->key_count] = key;
        state->current_key = (int)playlist->key_count++;
    }
    free_attributes(attributes, count);
    return status;
}

/* Descriptive: a malformed daterange is dropped and counted. */
static int parse_daterange(parser *state, const char *value, size_t length)
{
    m3u8_playlist *playlist = state->playlist;
    m3u8_attribute *attributes;
    size_t count;
    int status = parse_attributes(value, length, &attributes, &count);
    if (status == M3U8_ERR_NOMEM)
        return status;
    if (status != M3U8_OK) {
        playlist->warnings++;
        return M3U8_OK;
    }
    const m3u8_attribute *id = find_attribute(attributes, count, "ID");
    const m3u8_attribute *class_name = find_attribute(attributes, count, "CLASS");
    const m3u8_attribute *start = find_attribute(attributes, count, "START-DATE");
    const m3u8_attribute *end = find_attribute(attributes, count, "END-DATE");
    const m3u8_attribute *duration = find_attribute(attributes, count, "DURATION");
    const m3u8_attribute *planned = find_attribute(attributes, count, "PLANNED-DURATION");
    m3u8_daterange range = { .end_ns = M3U8_NONE, .duration_ns = -1, .planned_duration_ns = -1 };
    bool valid = id && id->quoted && id->value[0] && start && start->quoted &&
                 m3u8_parse_date(start->value, strlen(start->value), &range.start_ns);
    if (valid && end && (!end->quoted || !m3u8_parse_date(end->value, strlen(end->value), &range.end_ns)))
        valid = false;
    if (valid && duration &&
        (duration->quoted ||
         !m3u8_parse_seconds(duration->value, strlen(duration->value), false, MAX_DURATION_NS, &range.duration_ns)))
        valid = false;
    if (valid && planned &&
        (planned->quoted ||
         !m3u8_parse_seconds(planned->value, strlen(planned->value), false, MAX_DURATION_NS,
                             &range.planned_duration_ns)))
        valid = false;
    if (!valid) {
        free_attributes(attributes, count);
        playlist->warnings++;
        return M3U8_OK;
    }
    status = count_entry(state);
    if (status == M3U8_OK && !grow_array((void **)&playlist->dateranges, &state->daterange_capacity,
                                         playlist->daterange_count, sizeof(m3u8_daterange)))
        status = M3U8_ERR_NOMEM;
    if (status == M3U8_OK) {
        range.id = strdup(id->value);
        range.class_name = class_name ? strdup(class_name->value) : NULL;
        if (!range.id || (class_name && !range.class_name)) {
            free(range.id);
            free(range.class_name);
            status = M3U8_ERR_NOMEM;
        }
    }
    if (status != M3U8_OK) {
        free_attributes(attributes, count);
        return status;
    }
    range.attributes = attributes;
    range.attribute_count = count;
    playlist->dateranges[playlist->daterange_count++] = range;
    return M3U8_OK;
}

static int parse_extinf(parser *state, const char *value, size_t length)
{
    if (state->have_extinf)
        return fail(state, M3U8_ERR_MISSING_URI, "EXTINF follows EXTINF without a URI between them");
    const char *comma = memchr(value, ',', length);
    size_t number_length = comma ? (size_t)(comma - value) : length;
    while (number_length > 0 && (value[number_length - 1] == ' ' || value[number_length - 1] == '\t'))
        number_length--;
    int64_t duration;
    if (!m3u8_parse_seconds(value, number_length, false, MAX_DURATION_NS, &duration))
        return fail(state, M3U8_ERR_SYNTAX, "bad EXTINF duration");
    state->have_extinf = true;
    state->pending_duration_ns = duration;
    free(state->pending_title);
    state->pending_title = NULL;
    if (comma && (size_t)(comma - value) + 1 < length) {
        state->pending_title = copy_text(comma + 1, length - (size_t)(comma - value) - 1);
        if (!state->pending_title)
            return M3U8_ERR_NOMEM;
    }
    return M3U8_OK;
}

static bool tag_is(const char *name, size_t name_length, const char *expected)
{
    return strlen(expected) == name_length && memcmp(name, expected, name_length) == 0;
}

static int sequence_tag(parser *state, const char *value, size_t length, int64_t *target, const char *name)
{
    if (state->sequence_fixed)
        return fail(state, M3U8_ERR_SYNTAX, "%s after the first segment", name);
    if (!parse_integer(value, length, MAX_SEQUENCE, target))
        return fail(state, M3U8_ERR_SYNTAX, "bad %s", name);
    return M3U8_OK;
}

static int parse_tag(parser *state, const char *line, size_t length)
{
    m3u8_playlist *playlist = state->playlist;
    const char *colon = memchr(line, ':', length);
    size_t name_length = colon ? (size_t)(colon - line) : length;
    const char *value = colon ? colon + 1 : line + length;
    size_t value_length = colon ? length - name_length - 1 : 0;
    const char *name = line;

    if (tag_is(name, name_length, "#EXTINF")) {
        state->saw_media_tag = true;
        return parse_extinf(state, value, value_length);
    }
    if (tag_is(name, name_length, "#EXT-X-TARGETDURATION")) {
        state->saw_media_tag = true;
        int64_t duration;
        if (!m3u8_parse_seconds(value, value_length, false, MAX_DURATION_NS, &duration))
            return fail(state, M3U8_ERR_SYNTAX, "bad EXT-X-TARGETDURATION");
        /* An integer by the specification; a decimal is rounded up, as the
         * rule "every EXTINF rounds to at most this" implies. */
        playlist->target_duration_ns = (duration + NSEC_PER_SEC - 1) / NSEC_PER_SEC * NSEC_PER_SEC;
        state->have_target_duration = true;
        return M3U8_OK;
    }
    if (tag_is(name, name_length, "#EXT-X-MEDIA-SEQUENCE")) {
        state->saw_media_tag = true;
        int status = sequence_tag(state, value, value_length, &playlist->media_sequence, "EXT-X-MEDIA-SEQUENCE");
        state->next_sequence = playlist->media_sequence;
        return status;
    }
    if (tag_is(name, name_length, "#EXT-X-DISCONTINUITY-SEQUENCE")) {
        state->saw_media_tag = true;
        int status = sequence_tag(state, value, value_length, &playlist->discontinuity_sequence,
                                  "EXT-X-DISCONTINUITY-SEQUENCE");
        state->discontinuity_sequence = playlist->discontinuity_sequence;
        return status;
    }
    if (tag_is(name, name_length, "#EXT-X-DISCONTINUITY")) {
        state->saw_media_tag = true;
        state->pending_discontinuity = true;
        return M3U8_OK;
    }
    if (tag_is(name, name_length, "#EXT-X-GAP")) {
        state->pending_gap = true;
        return M3U8_OK;
    }
    if (tag_is(name, name_length, "#EXT-X-ENDLIST")) {
        state->saw_media_tag = true;
        playlist->end_list = true;
        return M3U8_OK;
    }
    if (tag_is(name, name_length, "#EXT-X-PLAYLIST-TYPE")) {
        if (tag_is(value, value_length, "VOD"))
            playlist->playlist_type = M3U8_TYPE_VOD;
        else if (tag_is(value, value_length, "EVENT"))
            playlist->playlist_type = M3U8_TYPE_EVENT;
        else
            return fail(state, M3U8_ERR_SYNTAX, "bad EXT-X-PLAYLIST-TYPE");
        return M3U8_OK;
    }
    if (tag_is(name, name_length, "#EXT-X-VERSION")) {
        int64_t version;
        if (!parse_integer(value, value_length, 1000, &version))
            return fail(state, M3U8_ERR_SYNTAX, "bad EXT-X-VERSION");
        playlist->version = (int)version;
        return M3U8_OK;
    }
    if (tag_is(name, name_length, "#EXT-X-BYTERANGE")) {
        state->saw_media_tag = true;
        if (!parse_range(value, value_length, &state->pending_range_length, &state->pending_range_offset))
            return fail(state, M3U8_ERR_SYNTAX, "bad EXT-X-BYTERANGE");
        state->have_range = true;
        return M3U8_OK;
    }
    if (tag_is(name, name_length, "#EXT-X-PROGRAM-DATE-TIME")) {
        int64_t date;
        if (m3u8_parse_date(value, value_length, &date))
            state->pending_date_ns = date;
        else
            playlist->warnings++;
        return M3U8_OK;
    }
    if (tag_is(name, name_length, "#EXT-X-MAP"))
        return parse_map(state, value, value_length);
    if (tag_is(name, name_length, "#EXT-X-KEY"))
        return parse_key(state, value, value_length);
    if (tag_is(name, name_length, "#EXT-X-DATERANGE"))
        return parse_daterange(state, value, value_length);
    if (tag_is(name, name_length, "#EXT-X-STREAM-INF")) {
        state->saw_master_tag = true;
        if (state->have_stream_inf)
            return fail(state, M3U8_ERR_MISSING_URI, "EXT-X-STREAM-INF follows EXT-X-STREAM-INF without a URI");
        return parse_stream_inf(state, value, value_length);
    }
    if (tag_is(name, name_length, "#EXT-X-MEDIA")) {
        state->saw_master_tag = true;
        return parse_media(state, value, value_length);
    }
    if (tag_is(name, name_length, "#EXT-X-I-FRAME-STREAM-INF")) {
        state->saw_master_tag = true;
        return M3U8_OK;
    }
    if (tag_is(name, name_length, "#EXT-X-TWITCH-PREFETCH")) {
        state->saw_media_tag = true;
        if (state->have_extinf)
            return fail(state, M3U8_ERR_MISSING_URI, "EXT-X-TWITCH-PREFETCH follows EXTINF without a URI");
        state->saw_prefetch = true;
        return add_segment(state, value, value_length, true);
    }
    /* Every other tag (EXT-X-START, EXT-X-INDEPENDENT-SEGMENTS, vendor
     * tags): ignored, as the specification requires of clients. */
    return M3U8_OK;
}

static int parse_uri_line(parser *state, const char *line, size_t length)
{
    if (state->have_stream_inf)
        return add_variant(state, line, length);
    if (state->have_extinf)
        return add_segment(state, line, length, false);
    return fail(state, M3U8_ERR_SYNTAX, "URI line without EXTINF or EXT-X-STREAM-INF");
}

static void free_variant(m3u8_variant *variant)
{
    free(variant->uri);
    free(variant->codecs);
    free(variant->video_group);
}

void m3u8_free(m3u8_playlist *playlist)
{
    if (!playlist)
        return;
    for (size_t i = 0; i < playlist->segment_count; i++) {
        free(playlist->segments[i].uri);
        free(playlist->segments[i].title);
    }
    free(playlist->segments);
    for (size_t i = 0; i < playlist->variant_count; i++)
        free_variant(&playlist->variants[i]);
    free(playlist->variants);
    for (size_t i = 0; i < playlist->rendition_count; i++)
        free(playlist->rendition_uris[i]);
    free(playlist->rendition_uris);
    for (size_t i = 0; i < playlist->map_count; i++)
        free(playlist->maps[i].uri);
    free(playlist->maps);
    for (size_t i = 0; i < playlist->key_count; i++)
        free(playlist->keys[i].uri);
    free(playlist->keys);
    for (size_t i = 0; i < playlist->daterange_count; i++) {
        free(playlist->dateranges[i].id);
        free(playlist->dateranges[i].class_name);
        free_attributes(playlist->dateranges[i].attributes, playlist->dateranges[i].attribute_count);
    }
    free(playlist->dateranges);
    /* Keep the error text for the caller; drop the pointers. */
    char error[sizeof(playlist->error)];
    unsigned error_line = playlist->error_line;
    memcpy(error, playlist->error, sizeof(error));
    memset(playlist, 0, sizeof(*playlist));
    memcpy(playlist->error, error, sizeof(error));
    playlist->error_line = error_line;
}

static int parse_lines(parser *state, const char *text, size_t length)
{
    size_t position = 0;
    static const char bom[] = "\xEF\xBB\xBF";
    if (length >= 3 && memcmp(text, bom, 3) == 0)
        position = 3;
    bool first = true;
    while (position < length) {
        const char *line = text + position;
        const char *newline = memchr(line, '\n', length - position);
        size_t line_length = newline ? (size_t)(newline - line) : length - position;
        position += line_length + (newline ? 1 : 0);
        state->line_number++;
        /* CRLF endings and trailing blanks */
        while (line_length > 0 &&
               (line[line_length - 1] == '\r' || line[line_length - 1] == ' ' || line[line_length - 1] == '\t'))
            line_length--;
        if (first) {
            first = false;
            if (line_length != 7 || memcmp(line, "#EXTM3U", 7) != 0)
                return fail(state, M3U8_ERR_NOT_PLAYLIST, "the first line is not #EXTM3U");
            continue;
        }
        /* Leading blanks are not part of a URI or tag either. */
        while (line_length > 0 && (line[0] == ' ' || line[0] == '\t')) {
            line++;
            line_length--;
        }
        if (line_length == 0)
            continue;
        int status;
        if (line[0] == '#') {
            if (line_length < 4 || memcmp(line, "#EXT", 4) != 0)
                continue; /* a comment */
            status = parse_tag(state, line, line_length);
        } else {
            status = parse_uri_line(state, line, line_length);
        }
        if (status != M3U8_OK)
            return status;
    }
    if (first)
        return fail(state, M3U8_ERR_NOT_PLAYLIST, "empty playlist");
    if (state->have_extinf)
        return fail(state, M3U8_ERR_MISSING_URI, "the last EXTINF has no URI");
    if (state->have_stream_inf)
        return fail(state, M3U8_ERR_MISSING_URI, "the last EXT-X-STREAM-INF has no URI");
    if (state->saw_master_tag && state->saw_media_tag)
        return fail(state, M3U8_ERR_MIXED, "master (EXT-X-STREAM-INF/EXT-X-MEDIA) and media (EXTINF/...) tags in one playlist");
    state->playlist->master = state->saw_master_tag;
    if (!state->playlist->master && !state->have_target_duration)
        return fail(state, M3U8_ERR_SYNTAX, "media playlist without EXT-X-TARGETDURATION");
    return M3U8_OK;
}

int m3u8_parse(const char *text, size_t length, const char *base_url, const m3u8_limits *limits,
               m3u8_playlist *playlist)
{
    memset(playlist, 0, sizeof(*playlist));
    playlist->version = 1;
    parser state = {
        .base_url = base_url,
        .limits = limits,
        .playlist = playlist,
        .pending_date_ns = M3U8_NONE,
        .current_map = -1,
        .current_key = -1,
    };
    int status;
    if (length > limits->max_bytes)
        status = fail(&state, M3U8_ERR_TOO_LARGE, "%zu bytes, more than %zu", length, limits->max_bytes);
    else if (length > 0 && memchr(text, '\0', length))
        status = fail(&state, M3U8_ERR_SYNTAX, "NUL byte in the playlist");
    else
        status = parse_lines(&state, text, length);
    free(state.pending_title);
    free(state.range_uri);
    free_variant(&state.pending_variant);
    if (status != M3U8_OK)
        m3u8_free(playlist);
    return status;
}

/* ---- variant choice --------------------------------------------------- */

bool m3u8_parse_quality(const char *text, m3u8_quality *quality)
{
    char *end;
    memset(quality, 0, sizeof(*quality));
    if (strcmp(text, "best") == 0) {
        quality->kind = M3U8_QUALITY_BEST;
        return true;
    }
    if (strcmp(text, "worst") == 0) {
        quality->kind = M3U8_QUALITY_WORST;
        return true;
    }
    if (text[0] < '0' || text[0] > '9')
        return false;
    errno = 0;
    unsigned long long number = strtoull(text, &end, 10);
    if (errno != 0 || number == 0 || number > INT64_MAX / 1000000)
        return false;
    if (*end == 'p') {
        if (number > 65535)
            return false;
        quality->kind = M3U8_QUALITY_HEIGHT;
        quality->height = (int)number;
        if (end[1] == '\0')
            return true;
        char *rate_end;
        unsigned long long rate = strtoull(end + 1, &rate_end, 10);
        if (*rate_end != '\0' || rate == 0 || rate > 1000 || end[1] < '0' || end[1] > '9')
            return false;
        quality->frame_rate_milli = (int64_t)rate * 1000;
        return true;
    }
    int64_t scale = 1;
    if (*end == 'k' || *end == 'K')
        scale = 1000, end++;
    else if (*end == 'M' || *end == 'm')
        scale = 1000000, end++;
    if (*end != '\0')
        return false;
    quality->kind = M3U8_QUALITY_BANDWIDTH;
    quality->bandwidth = (int64_t)number * scale;
    return true;
}

static bool variant_has_video(const m3u8_variant *variant)
{
    if (variant->height > 0)
        return true;
    if (variant->video_group && strcmp(variant->video_group, "audio_only") == 0)
        return false;
    if (!variant->codecs)
        return true;
    static const char *const video_codecs[] = { "avc", "hvc", "hev", "av01", "vp09", "vp8", "mp4v", "dvh" };
    for (size_t i = 0; i < sizeof(video_codecs) / sizeof(video_codecs[0]); i++)
        if (strstr(variant->codecs, video_codecs[i]))
            return true;
    return false;
}

/* For quality = <height>p[<rate>]: the wanted height at the wanted rate
 * first, then the wanted height, then the closest lower height, then the
 * lowest of the rest; the caller breaks ties by bandwidth. */
static int64_t height_score(const m3u8_quality *quality, const m3u8_variant *variant)
{
    int64_t wanted = quality->height, rate = quality->frame_rate_milli;
    if (variant->height == wanted) {
        bool rate_matches = !rate || (variant->frame_rate_milli > rate - 1500 && variant->frame_rate_milli < rate + 1500);
        return rate_matches ? INT64_C(3) << 40 : INT64_C(2) << 40;
    }
    if (variant->height > 0 && variant->height < wanted)
        return (INT64_C(1) << 40) + variant->height;
    return -(int64_t)variant->height;
}

const m3u8_variant *m3u8_choose_variant(const m3u8_playlist *master, const m3u8_quality *quality)
{
    const m3u8_variant *best = NULL;
    bool any_video = false;
    for (size_t i = 0; i < master->variant_count; i++)
        any_video |= variant_has_video(&master->variants[i]);
    for (size_t i = 0; i < master->variant_count; i++) {
        const m3u8_variant *variant = &master->variants[i];
        if (any_video && !variant_has_video(variant))
            continue;
        if (!best) {
            best = variant;
            continue;
        }
        switch (quality->kind) {
        case M3U8_QUALITY_WORST:
            if (variant->bandwidth < best->bandwidth)
                best = variant;
            break;
        case M3U8_QUALITY_BEST:
            if (variant->bandwidth > best->bandwidth)
                best = variant;
            break;
        case M3U8_QUALITY_BANDWIDTH: {
            bool fits = variant->bandwidth <= quality->bandwidth;
            bool best_fits = best->bandwidth <= quality->bandwidth;
            if ((fits && (!best_fits || variant->bandwidth > best->bandwidth)) ||
                (!fits && !best_fits && variant->bandwidth < best->bandwidth))
                best = variant;
            break;
        }
        case M3U8_QUALITY_HEIGHT: {
            int64_t score_variant = height_score(quality, variant), score_best = height_score(quality, best);
            if (score_variant > score_best || (score_variant == score_best && variant->bandwidth > best->bandwidth))
                best = variant;
            break;
        }
        }
    }
    return best;
}

