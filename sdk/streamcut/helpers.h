/**
 * @file helpers.h
 * @brief Helpers modules commonly need, as static inline functions.
 *
 * Nothing here crosses the ABI: every function is compiled into the module
 * that uses it, so using them never ties a module to a newer host. They
 * depend on the C standard library only (the sleeping helpers on POSIX, see
 * below), allocate nothing and keep no state, so they are safe on any
 * thread.
 *
 * - Option values: sc_parse_duration() and sc_parse_size() accept exactly
 *   what the host accepts in an INI file ("10s", "500ms", "2m", "1.5h";
 *   "200MB", "64k", "1GiB"), for modules that read lists or values the
 *   host does not parse for them. Decimals are read exactly, never through
 *   a double, and do not depend on the locale.
 * - Time: sc_rescale() (overflow-safe a*b/c), sc_ts_to_ns() and
 *   sc_ns_to_ts() (time-base units to and from nanoseconds),
 *   sc_ns_to_seconds() and sc_seconds_to_ns().
 * - Packets: sc_segment_next_packet() and sc_view_next_packet() walk a
 *   segment or a view, optionally only one stream or one media type;
 *   sc_segment_stream() and sc_segment_find_stream() find stream
 *   descriptions.
 * - JSON: sc_json_escape() writes any bytes as the inside of a JSON string
 *   into a caller's buffer (invalid UTF-8 becomes U+FFFD, control
 *   characters are escaped), sc_utf8_valid() checks text.
 * - Pacing (POSIX only): sc_sleep_ns() and sc_wait_until().
 *
 * The time helpers return ::SC_TIME_NONE for "no value", which is also what
 * they give back when the result would not fit in an int64_t.
 */
#ifndef STREAMCUT_HELPERS_H
#define STREAMCUT_HELPERS_H

#include <errno.h>
#include <string.h>
#include <time.h>

#include "abi.h"
#include "packet.h"
#include "segment.h"
#include "host.h"

SC_BEGIN_DECLS

/** Largest value an int64_t holds, spelled without <limits.h> macros that
 * C++ hides behind __STDC_LIMIT_MACROS in some libraries. */
#define SC_HELPERS_INT64_MAX INT64_C(9223372036854775807)

/* ------------------------------------------------------------------ */
/** @name Overflow-safe arithmetic and time conversion
 * @{ */

/**
 * @brief `value * multiplier / divisor`, rounded to the nearest integer
 * (halves away from zero), without intermediate overflow.
 *
 * The product is formed in 128 bits, so `sc_rescale(INT64_MAX / 2, 90000,
 * 1000000000)` is exact.
 *
 * @param value      any value but ::SC_TIME_NONE
 * @param multiplier >= 0
 * @param divisor    > 0
 * @return the result, or ::SC_TIME_NONE when `value` is ::SC_TIME_NONE, an
 *         argument is out of range, or the result does not fit in
 *         [INT64_MIN + 1, INT64_MAX].
 */
static inline int64_t sc_rescale(int64_t value, int64_t multiplier, int64_t divisor)
{
    uint64_t magnitude, factor, low, high, rounding, quotient, remainder;
    uint64_t a_low, a_high, b_low, b_high, cross1, cross2, middle;
    int negative;
    int bit;

    if (value == SC_TIME_NONE || multiplier < 0 || divisor <= 0) return SC_TIME_NONE;
    negative = value < 0;
    magnitude = negative ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    factor = (uint64_t)multiplier;

    /* 64 x 64 -> 128 bits from 32-bit halves. */
    a_low = magnitude & 0xFFFFFFFFu;
    a_high = magnitude >> 32;
    b_low = factor & 0xFFFFFFFFu;
    b_high = factor >> 32;
    low = a_low * b_low;
    cross1 = a_high * b_low;
    cross2 = a_low * b_high;
    high = a_high * b_high;
    middle = (low >> 32) + (cross1 & 0xFFFFFFFFu) + (cross2 & 0xFFFFFFFFu);
    low = (low & 0xFFFFFFFFu) | (middle << 32);
    high += (cross1 >> 32) + (cross2 >> 32) + (middle >> 32);

    /* Round to nearest: add half the divisor before truncating. */
    rounding = (uint64_t)divisor / 2;
    low += rounding;
    if (low < rounding) high++;

    /* A quotient wider than 64 bits cannot fit. */
    if (high >= (uint64_t)divisor) return SC_TIME_NONE;
    /* Long division, one bit at a time; the remainder stays below the
     * divisor, itself below 2^63, so shifting it never overflows. */
    quotient = 0;
    remainder = high;
    for (bit = 63; bit >= 0; bit--) {
        remainder = (remainder << 1) | ((low >> bit) & 1u);
        if (remainder >= (uint64_t)divisor) {
            remainder -= (uint64_t)divisor;
            quotient |= (uint64_t)1 << bit;
        }
    }
    if (quotient > (uint64_t)SC_HELPERS_INT64_MAX) return SC_TIME_NONE;
    return negative ? -(int64_t)quotient : (int64_t)quotient;
}

/**
 * @brief A timestamp in time-base units (`num/den` seconds each, as in
 * sc_packet.orig_pts with sc_packet.time_base_num / time_base_den) to
 * nanoseconds, rounded to the nearest.
 * @return nanoseconds, or ::SC_TIME_NONE for ::SC_TIME_NONE, a time base
 *         that is not positive, or a result out of range.
 */
static inline int64_t sc_ts_to_ns(int64_t timestamp, int32_t time_base_num, int32_t time_base_den)
{
    if (time_base_num <= 0 || time_base_den <= 0) return SC_TIME_NONE;
    return sc_rescale(timestamp, (int64_t)time_base_num * SC_NSEC_PER_SEC, time_base_den);
}

/**
 * @brief Nanoseconds to time-base units (`num/den` seconds each), rounded
 * to the nearest; the inverse of sc_ts_to_ns().
 * @return the timestamp, or ::SC_TIME_NONE as sc_ts_to_ns() does.
 */
static inline int64_t sc_ns_to_ts(int64_t ns, int32_t time_base_num, int32_t time_base_den)
{
    if (time_base_num <= 0 || time_base_den <= 0) return SC_TIME_NONE;
    return sc_rescale(ns, time_base_den, (int64_t)time_base_num * SC_NSEC_PER_SEC);
}

/**
 * @brief Nanoseconds as seconds. A double keeps every nanosecond of
 * times up to about 48 days (2^22 s), and sc_seconds_to_ns() gives them
 * back exactly; the caller handles ::SC_TIME_NONE first (it has no
 * meaning in seconds).
 */
static inline double sc_ns_to_seconds(int64_t ns)
{
    /* Whole seconds and the rest apart: a large ns value as one double
     * would lose its last digits before the division. */
    return (double)(ns / SC_NSEC_PER_SEC) + (double)(ns % SC_NSEC_PER_SEC) / 1e9;
}

/**
 * @brief Seconds to nanoseconds, rounded to the nearest (halves away from
 * zero).
 * @return nanoseconds, or ::SC_TIME_NONE for NaN or a value beyond about
 *         ±292 years.
 */
static inline int64_t sc_seconds_to_ns(double seconds)
{
    /* 2^63 is exactly representable; anything at or beyond it is not an int64. */
    const double limit = 9223372036854775808.0;
    double ns = seconds * 1e9;
    int64_t whole;
    double rest;

    if (ns != ns || ns >= limit || ns <= -limit) return SC_TIME_NONE;
    whole = (int64_t)ns;
    /* Exact: below 2^53 the subtraction loses nothing, above it ns is whole. */
    rest = ns - (double)whole;
    if (rest >= 0.5 && whole < SC_HELPERS_INT64_MAX) whole++;
    else if (rest <= -0.5) whole--;
    if (whole == SC_TIME_NONE) return SC_TIME_NONE;
    return whole;
}

/** @} */

/* ------------------------------------------------------------------ */
/** @name Parsing option values: durations and sizes
 * @{ */

/**
 * @brief Reads an unsigned decimal ("12", "1.5", ".25", "3.") scaled by
 * `scale`, exactly, rounded to the nearest unit. Internal to the parsers
 * below; usable on its own.
 *
 * @param text    the digits (not NUL-terminated necessarily)
 * @param length  bytes of `text` that are the number: all must be digits
 *                and at most one '.', with at least one digit
 * @param scale   units per 1 (e.g. ::SC_NSEC_PER_SEC for seconds), > 0
 * @param out     receives the value
 * @return ::SC_OK; ::SC_ERR_INVALID when `text` is not such a decimal;
 *         ::SC_ERR_UNSUPPORTED when the value does not fit in an int64_t.
 */
static inline int sc_parse_scaled_decimal(const char *text, size_t length, int64_t scale, int64_t *out)
{
    uint64_t whole = 0, fraction = 0, fraction_unit = 1;
    int digits = 0, seen_point = 0;
    size_t i;
    int64_t fraction_scaled;

    if (!text || !out || scale <= 0) return SC_ERR_INVALID;
    for (i = 0; i < length; i++) {
        char c = text[i];
        if (c == '.') {
            if (seen_point) return SC_ERR_INVALID;
            seen_point = 1;
            continue;
        }
        if (c < '0' || c > '9') return SC_ERR_INVALID;
        digits++;
        if (!seen_point) {
            /* Past 2^63 the value cannot fit whatever the scale. */
            if (whole > (uint64_t)SC_HELPERS_INT64_MAX / 10) return SC_ERR_UNSUPPORTED;
            whole = whole * 10 + (uint64_t)(c - '0');
        } else if (fraction_unit <= UINT64_C(100000000000000000)) {
            /* 18 fraction digits are far below a unit of any scale used
             * here; further digits are read but do not count. */
            fraction = fraction * 10 + (uint64_t)(c - '0');
            fraction_unit *= 10;
        }
    }
    if (digits == 0) return SC_ERR_INVALID;
    if (whole > (uint64_t)(SC_HELPERS_INT64_MAX / scale)) return SC_ERR_UNSUPPORTED;
    fraction_scaled = sc_rescale((int64_t)fraction, scale, (int64_t)fraction_unit);
    if (fraction_scaled == SC_TIME_NONE ||
        fraction_scaled > SC_HELPERS_INT64_MAX - (int64_t)whole * scale)
        return SC_ERR_UNSUPPORTED;
    *out = (int64_t)whole * scale + fraction_scaled;
    return SC_OK;
}

/** One unit of sc_parse_duration() or sc_parse_size(). */
typedef struct sc_unit {
    const char *name;  /**< as written after the number; "" for none */
    int64_t scale;     /**< nanoseconds or bytes per 1 of that unit */
} sc_unit;

/**
 * @brief Splits "1.5 ms" into its number and unit and scales the number.
 * The number is digits with at most one '.', first in `text`; spaces may
 * separate it from the unit; nothing may follow the unit. Units match
 * exactly, or ignoring ASCII case when `ignore_case` is set.
 */
static inline int sc_parse_with_units(const char *text, size_t length, const sc_unit *units, size_t unit_count,
                                      int ignore_case, int64_t *out)
{
    size_t number = 0, unit_start, unit_length, i, k;

    if (!text || !out) return SC_ERR_INVALID;
    while (number < length && ((text[number] >= '0' && text[number] <= '9') || text[number] == '.')) number++;
    if (number == 0) return SC_ERR_INVALID;
    unit_start = number;
    while (unit_start < length && text[unit_start] == ' ') unit_start++;
    unit_length = length - unit_start;
    for (i = 0; i < unit_count; i++) {
        const char *name = units[i].name;
        if (strlen(name) != unit_length) continue;
        for (k = 0; k < unit_length; k++) {
            char a = text[unit_start + k], b = name[k];
            if (ignore_case) {
                if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
                if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
            }
            if (a != b) break;
        }
        if (k == unit_length) return sc_parse_scaled_decimal(text, number, units[i].scale, out);
    }
    return SC_ERR_INVALID;
}

/**
 * @brief Parses a duration as the INI format writes it, into nanoseconds.
 *
 * A non-negative decimal, optionally followed (after optional spaces) by a
 * unit: none or `s` or `sec` (seconds), `ms`, `us`, `ns`, `m` or `min`
 * (minutes), `h` (hours); units are case-sensitive (`m` is minutes, `ms`
 * milliseconds). Examples: "10", "10s", "1.5s", "500ms", "2m", "1.5h",
 * ".25s". Not accepted: signs, exponents, hex, leading spaces, anything
 * after the unit. Fractions are exact and rounded to the nearest ns.
 *
 * @param text   the text, `length` bytes (need not be NUL-terminated)
 * @param length its length
 * @param ns     receives the duration on success; untouched on failure
 * @param why    when not NULL, set on failure to a sentence saying what was
 *               expected (a string literal, never to be freed)
 * @return ::SC_OK, or ::SC_ERR_INVALID (not a duration, or more than
 *         INT64_MAX ns, about 292 years).
 */
static inline int sc_parse_duration_n(const char *text, size_t length, int64_t *ns, const char **why)
{
    static const sc_unit units[] = {
        {"", INT64_C(1000000000)}, {"s", INT64_C(1000000000)}, {"sec", INT64_C(1000000000)},
        {"ms", INT64_C(1000000)}, {"us", INT64_C(1000)}, {"ns", INT64_C(1)},
        {"m", INT64_C(60000000000)}, {"min", INT64_C(60000000000)}, {"h", INT64_C(3600000000000)},
    };
    int status = sc_parse_with_units(text, length, units, sizeof units / sizeof units[0], 0, ns);
    if (status == SC_OK) return SC_OK;
    if (why)
        *why = status == SC_ERR_UNSUPPORTED ? "duration too large"
                                            : "expected a duration such as 10, 10s, 500ms, 2m or 1h";
    return SC_ERR_INVALID;
}

/** @brief sc_parse_duration_n() on a NUL-terminated string (NULL is invalid). */
static inline int sc_parse_duration(const char *text, int64_t *ns, const char **why)
{
    return sc_parse_duration_n(text, text ? strlen(text) : 0, ns, why);
}

/**
 * @brief Parses a size as the INI format writes it, into bytes.
 *
 * A non-negative decimal, optionally followed (after optional spaces) by a
 * unit, in any ASCII case: none or `b` (bytes); `k`/`kb`, `m`/`mb`,
 * `g`/`gb` (powers of 1000); `ki`/`kib`, `mi`/`mib`, `gi`/`gib` (powers of
 * 1024). Examples: "1024", "64k", "200MB", "1GiB", "1.5M". Fractions are
 * exact and rounded to the nearest byte.
 *
 * @param text, length, why  as for sc_parse_duration_n()
 * @param bytes  receives the size on success; untouched on failure
 * @return ::SC_OK, or ::SC_ERR_INVALID (not a size, or more than INT64_MAX
 *         bytes).
 */
static inline int sc_parse_size_n(const char *text, size_t length, int64_t *bytes, const char **why)
{
    static const sc_unit units[] = {
        {"", 1}, {"b", 1}, {"k", INT64_C(1000)}, {"kb", INT64_C(1000)}, {"m", INT64_C(1000000)},
        {"mb", INT64_C(1000000)}, {"g", INT64_C(1000000000)}, {"gb", INT64_C(1000000000)},
        {"ki", INT64_C(1024)}, {"kib", INT64_C(1024)}, {"mi", INT64_C(1048576)}, {"mib", INT64_C(1048576)},
        {"gi", INT64_C(1073741824)}, {"gib", INT64_C(1073741824)},
    };
    int status = sc_parse_with_units(text, length, units, sizeof units / sizeof units[0], 1, bytes);
    if (status == SC_OK) return SC_OK;
    if (why)
        *why = status == SC_ERR_UNSUPPORTED ? "size too large" : "expected a size such as 1024, 64k, 200MB or 1GiB";
    return SC_ERR_INVALID;
}

/** @brief sc_parse_size_n() on a NUL-terminated string (NULL is invalid). */
static inline int sc_parse_size(const char *text, int64_t *bytes, const char **why)
{
    return sc_parse_size_n(text, text ? strlen(text) : 0, bytes, why);
}

/** @} */

/* ------------------------------------------------------------------ */
/** @name Walking the packets of a segment or a view
 *
 * Both walkers take a cursor the caller starts at 0 and return the next
 * matching packet, or NULL at the end:
 *
 *     size_t at = 0;
 *     const sc_packet *pkt;
 *     while ((pkt = sc_segment_next_packet(seg, &at, SC_ANY_STREAM, SC_MEDIA_AUDIO)) != NULL)
 *         ...
 *
 * Packets are borrowed from the segment or view: valid while it is (for a
 * segment a sink got, during the consume call, or until segment_unref).
 * @{ */

/** Stream filter of the walkers: every stream. */
#define SC_ANY_STREAM (-1)
/** Media filter of the walkers: every media type. */
#define SC_ANY_MEDIA UINT32_MAX

/** @brief Whether `packet` passes the walkers' filters. */
static inline int sc_packet_matches(const sc_packet *packet, int stream_index, uint32_t media_type)
{
    if (!packet) return 0;
    if (stream_index != SC_ANY_STREAM && (stream_index < 0 || packet->stream_index != (uint32_t)stream_index))
        return 0;
    return media_type == SC_ANY_MEDIA || packet->media_type == media_type;
}

/**
 * @brief The next packet of `segment` at or after position `*cursor` that
 * is of stream `stream_index` (or ::SC_ANY_STREAM) and of `media_type` (an
 * ::sc_media_type, or ::SC_ANY_MEDIA), in decode order. `*cursor` moves past
 * it.
 * @return the packet, or NULL when no further packet matches (or
 *         `segment` or `cursor` is NULL).
 */
static inline const sc_packet *sc_segment_next_packet(const sc_segment *segment, size_t *cursor, int stream_index,
                                                      uint32_t media_type)
{
    if (!segment || !cursor) return NULL;
    while (*cursor < segment->packet_count) {
        const sc_packet *packet = segment->packets[(*cursor)++];
        if (sc_packet_matches(packet, stream_index, media_type)) return packet;
    }
    return NULL;
}

/**
 * @brief As sc_segment_next_packet(), over a view from view_range,
 * view_last or view_seq; `host` is the table the module got in create.
 */
static inline const sc_packet *sc_view_next_packet(const sc_host_api *host, const sc_view *view, size_t *cursor,
                                                   int stream_index, uint32_t media_type)
{
    size_t count;
    if (!host || !view || !cursor) return NULL;
    count = host->view_count(view);
    while (*cursor < count) {
        const sc_packet *packet = host->view_packet(view, (*cursor)++);
        if (sc_packet_matches(packet, stream_index, media_type)) return packet;
    }
    return NULL;
}

/**
 * @brief The description of the stream `packet` belongs to, from
 * `segment`'s stream table.
 * @return it, or NULL when the index is out of range.
 */
static inline const sc_stream_info *sc_segment_stream(const sc_segment *segment, const sc_packet *packet)
{
    if (!segment || !packet || packet->stream_index >= segment->stream_count) return NULL;
    return segment->streams[packet->stream_index];
}

/**
 * @brief The index of the first stream of `segment` whose media type is
 * `media_type`.
 * @return that index, or -1 when the segment has no such stream.
 */
static inline int sc_segment_find_stream(const sc_segment *segment, uint32_t media_type)
{
    size_t i;
    if (!segment) return -1;
    for (i = 0; i < segment->stream_count && i < 0x7FFFFFFF; i++)
        if (segment->streams[i] && segment->streams[i]->media_type == media_type) return (int)i;
    return -1;
}

/**
 * @brief The stream whose keyframes bound segments, by the host's own
 * rule: the first video stream, else the first audio stream.
 *
 * For source and strategy instances (it reads host->stream_count and
 * host->stream_get of `ctx`); call it once streams are declared, e.g. at
 * the first packet.
 * @return that index, or -1 when the source has neither (or no streams).
 */
static inline int sc_reference_stream(const sc_host_api *host, sc_ctx *ctx)
{
    size_t count, i;
    int first_audio = -1;
    if (!host || !host->stream_count || !host->stream_get) return -1;
    count = host->stream_count(ctx);
    for (i = 0; i < count && i < 0x7FFFFFFF; i++) {
        const sc_stream_info *info = host->stream_get(ctx, i);
        if (!info) continue;
        if (info->media_type == SC_MEDIA_VIDEO) return (int)i;
        if (info->media_type == SC_MEDIA_AUDIO && first_audio < 0) first_audio = (int)i;
    }
    return first_audio;
}

/** @} */

/* ------------------------------------------------------------------ */
/** @name JSON text
 * @{ */

/**
 * @brief Length of the UTF-8 sequence starting at `text`.
 *
 * Well-formed sequences exclude overlong forms, UTF-16 surrogates
 * (U+D800..U+DFFF) and code points past U+10FFFF.
 *
 * @param text       at least one byte
 * @param available  bytes from `text` to the end of the input, >= 1
 * @return 1 to 4 for a well-formed sequence; for an ill-formed one, minus
 *         the length of its longest ill-formed prefix (Unicode's "maximal
 *         subpart"), so that each such run counts as one bad character.
 */
static inline int sc_utf8_sequence(const unsigned char *text, size_t available)
{
    unsigned char lead = text[0], low = 0x80, high = 0xBF;
    int continuation, i;

    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) {
        continuation = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        continuation = 2;
        if (lead == 0xE0) low = 0xA0;       /* overlong */
        else if (lead == 0xED) high = 0x9F; /* surrogates */
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        continuation = 3;
        if (lead == 0xF0) low = 0x90;       /* overlong */
        else if (lead == 0xF4) high = 0x8F; /* past U+10FFFF */
    } else {
        return -1;
    }
    for (i = 1; i <= continuation; i++) {
        unsigned char c;
        if ((size_t)i >= available) return -i;
        c = text[i];
        if (c < (i == 1 ? low : 0x80) || c > (i == 1 ? high : 0xBF)) return -i;
    }
    return continuation + 1;
}

/** @brief Whether `length` bytes of `text` are well-formed UTF-8 (NUL bytes included). */
static inline int sc_utf8_valid(const char *text, size_t length)
{
    size_t i = 0;
    while (i < length) {
        int sequence = sc_utf8_sequence((const unsigned char *)text + i, length - i);
        if (sequence < 0) return 0;
        i += (size_t)sequence;
    }
    return 1;
}

/**
 * @brief Writes `length` bytes of `text` as the inside of a JSON string
 * (without the quotes) into `out`, like snprintf.
 *
 * Any input gives valid JSON: `"` and `\` are escaped, `\n` `\r` `\t` `\b`
 * `\f` use their short escapes, other bytes below 0x20 (NUL included)
 * become `\u00XX`, and each ill-formed UTF-8 run becomes U+FFFD (the
 * replacement character, as UTF-8). Well-formed UTF-8 passes unchanged.
 *
 * @param out       the buffer, or NULL with `out_size` 0 to measure
 * @param out_size  its size; when > 0 the output is always NUL-terminated,
 *                  and a truncated output stops before an escape or a
 *                  UTF-8 sequence that does not fit whole (it stays valid)
 * @param text      the bytes (NULL only with `length` 0)
 * @param length    their count
 * @return the length of the whole escaped text (not counting the NUL): the
 *         output was complete when it is less than `out_size`.
 */
static inline size_t sc_json_escape(char *out, size_t out_size, const char *text, size_t length)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *bytes = (const unsigned char *)text;
    size_t needed = 0, written = 0, i = 0;
    int truncated = 0;

    while (i < length) {
        unsigned char c = bytes[i];
        char escape[7];
        const char *piece = escape;
        size_t piece_length = 2, consumed = 1;

        escape[0] = '\\';
        switch (c) {
        case '"': escape[1] = '"'; break;
        case '\\': escape[1] = '\\'; break;
        case '\n': escape[1] = 'n'; break;
        case '\r': escape[1] = 'r'; break;
        case '\t': escape[1] = 't'; break;
        case '\b': escape[1] = 'b'; break;
        case '\f': escape[1] = 'f'; break;
        default:
            if (c < 0x20) {
                escape[1] = 'u';
                escape[2] = '0';
                escape[3] = '0';
                escape[4] = hex[c >> 4];
                escape[5] = hex[c & 15];
                piece_length = 6;
            } else if (c < 0x80) {
                piece = (const char *)bytes + i;
                piece_length = 1;
            } else {
                int sequence = sc_utf8_sequence(bytes + i, length - i);
                if (sequence > 0) {
                    piece = (const char *)bytes + i;
                    piece_length = (size_t)sequence;
                    consumed = (size_t)sequence;
                } else {
                    piece = "\xEF\xBF\xBD"; /* U+FFFD */
                    piece_length = 3;
                    consumed = (size_t)-sequence;
                }
            }
        }
        if (!truncated && out && written + piece_length < out_size) {
            memcpy(out + written, piece, piece_length);
            written += piece_length;
        } else {
            truncated = 1;
        }
        needed += piece_length;
        i += consumed;
    }
    if (out && out_size) out[written] = '\0';
    return needed;
}

/** @} */

/* ------------------------------------------------------------------ */
/** @name Pacing (POSIX)
 *
 * Defined when the module is compiled with POSIX interfaces visible
 * (`_POSIX_C_SOURCE` >= 199309L, which GCC's and Clang's default gnu modes
 * and `-D_GNU_SOURCE` give): they need nanosleep().
 * @{ */

#if (defined(_POSIX_C_SOURCE) && _POSIX_C_SOURCE >= 199309L) || defined(SC_DOXYGEN)
/**
 * @brief Sleeps `ns` nanoseconds (nothing when <= 0), resuming after
 * signal interruptions. Blocks the calling thread: call it only on a thread
 * the module owns, such as a source's run().
 */
static inline void sc_sleep_ns(int64_t ns)
{
    struct timespec pause;
    if (ns <= 0) return;
    pause.tv_sec = (time_t)(ns / SC_NSEC_PER_SEC);
    pause.tv_nsec = (long)(ns % SC_NSEC_PER_SEC);
    while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
    }
}

/**
 * @brief Waits until the host's monotonic clock (sc_host_api.monotonic_ns)
 * reaches `due_ns`, in sleeps of at most `slice_ns`, checking
 * `stop_wanted(opaque)` before each one so that a stop request is noticed
 * within a slice. A source pacing a file at real time calls it from run()
 * with a `stop_wanted` that reads its own stop flag and
 * sc_host_api.source_should_stop.
 *
 * @return ::SC_OK once due; ::SC_ERR_STOPPED as soon as `stop_wanted`
 *         returns non-zero (NULL `stop_wanted` never stops).
 */
static inline int sc_wait_until(const sc_host_api *host, int64_t due_ns, int64_t slice_ns,
                                int (*stop_wanted)(void *opaque), void *opaque)
{
    for (;;) {
        int64_t remaining;
        if (stop_wanted && stop_wanted(opaque)) return SC_ERR_STOPPED;
        remaining = due_ns - host->monotonic_ns();
        if (remaining <= 0) return SC_OK;
        sc_sleep_ns(slice_ns > 0 && remaining > slice_ns ? slice_ns : remaining);
    }
}
#endif

/** @} */

SC_END_DECLS

#endif /* STREAMCUT_HELPERS_H */
