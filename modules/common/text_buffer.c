/* A growable text for the modules that build records, JSON and paths
 * (segment_record, path_template). */
#include "text_buffer.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- a growable text buffer; `failed` sticks so callers check once ---- */

/* Room for `count` more bytes and the NUL; 0, or -1 once failed. */
static int text_buffer_reserve(text_buffer *buf, size_t count)
{
    if (buf->failed)
        return -1;
    if (buf->length + count + 1 > buf->capacity) {
        size_t wanted = buf->capacity ? buf->capacity : 1024;
        while (wanted < buf->length + count + 1)
            wanted *= 2;
        char *grown = realloc(buf->data, wanted);
        if (grown == NULL) {
            buf->failed = 1;
            return -1;
        }
        buf->data = grown;
        buf->capacity = wanted;
    }
    return 0;
}

void text_buffer_append(text_buffer *buf, const void *bytes, size_t count)
{
    if (text_buffer_reserve(buf, count) != 0)
        return;
    if (count > 0)
        memcpy(buf->data + buf->length, bytes, count);
    buf->length += count;
    buf->data[buf->length] = '\0';
}

void text_buffer_append_text(text_buffer *buf, const char *text)
{
    text_buffer_append(buf, text, strlen(text));
}

void text_buffer_append_char(text_buffer *buf, char c)
{
    text_buffer_append(buf, &c, 1);
}

void text_buffer_append_format(text_buffer *buf, const char *fmt, ...)
{
    char small[128];
    va_list args;
    va_start(args, fmt);
    int length = vsnprintf(small, sizeof(small), fmt, args);
    va_end(args);
    if (length < 0) {
        buf->failed = 1;
        return;
    }
    if ((size_t)length < sizeof(small)) {
        text_buffer_append(buf, small, (size_t)length);
        return;
    }
    char *large = malloc((size_t)length + 1);
    if (large == NULL) {
        buf->failed = 1;
        return;
    }
    va_start(args, fmt);
    vsnprintf(large, (size_t)length + 1, fmt, args);
    va_end(args);
    text_buffer_append(buf, large, (size_t)length);
    free(large);
}

/* ---- JSON strings ---- */

/* The SDK's escaping: invalid UTF-8 becomes U+FFFD. */
void text_buffer_append_json_bytes(text_buffer *buf, const char *bytes, size_t length)
{
    size_t escaped_length = sc_json_escape(NULL, 0, bytes, length);
    text_buffer_append(buf, "\"", 1);
    if (text_buffer_reserve(buf, escaped_length) == 0) {
        sc_json_escape(buf->data + buf->length, buf->capacity - buf->length, bytes, length);
        buf->length += escaped_length;
    }
    text_buffer_append(buf, "\"", 1);
}

void text_buffer_append_json_string(text_buffer *buf, const char *text)
{
    if (text == NULL)
        text_buffer_append_text(buf, "null");
    else
        text_buffer_append_json_bytes(buf, text, strlen(text));
}

/* ISO 8601 UTC with milliseconds ("2026-11-25T19:42:38.123Z"), or null. */
void text_buffer_append_utc(text_buffer *buf, int64_t ns)
{
    if (ns == SC_TIME_NONE || ns <= 0) {
        text_buffer_append_text(buf, "null");
        return;
    }
    time_t seconds = (time_t)(ns / SC_NSEC_PER_SEC);
    int milliseconds = (int)((ns % SC_NSEC_PER_SEC) / SC_NSEC_PER_MSEC);
    struct tm broken;
    char text[48];
    gmtime_r(&seconds, &broken);
    size_t length = strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &broken);
    snprintf(text + length, sizeof(text) - length, ".%03dZ", milliseconds);
    text_buffer_append_format(buf, "\"%s\"", text);
}

/* Seconds with 6 decimals (rounded to the microsecond), or null. */
void text_buffer_append_seconds(text_buffer *buf, int64_t ns)
{
    if (ns == SC_TIME_NONE) {
        text_buffer_append_text(buf, "null");
        return;
    }
    uint64_t magnitude = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;
    uint64_t microseconds = magnitude / 1000 + (magnitude % 1000 >= 500);
    text_buffer_append_format(buf, "%s%" PRIu64 ".%06" PRIu64, ns < 0 ? "-" : "",
                  microseconds / 1000000, microseconds % 1000000);
}

char *text_buffer_take(text_buffer *buf)
{
    if (buf->failed) {
        text_buffer_free(buf);
        return NULL;
    }
    text_buffer_append(buf, "", 0);
    char *data = buf->data;
    *buf = (text_buffer){ 0 };
    return data;
}

void text_buffer_free(text_buffer *buf)
{
    free(buf->data);
    *buf = (text_buffer){ 0 };
}
