/* A growable text whose `failed` flag sticks (out of memory), so callers
 * check once at the end; with appenders for JSON strings and times. */
#ifndef STREAMCUT_MODULES_TEXT_BUFFER_H
#define STREAMCUT_MODULES_TEXT_BUFFER_H

#include <streamcut/streamcut.h>

#include <stddef.h>
#include <stdint.h>

/* A growable text; `failed` sticks (out of memory), so callers check once. */
typedef struct text_buffer {
    char *data;       /* NUL-terminated when not NULL */
    size_t length;
    size_t capacity;
    int failed;
} text_buffer;

void text_buffer_append(text_buffer *buf, const void *bytes, size_t count);
void text_buffer_append_text(text_buffer *buf, const char *text);
void text_buffer_append_char(text_buffer *buf, char c);
void text_buffer_append_format(text_buffer *buf, const char *fmt, ...) SC_PRINTF(2, 3);
/* A JSON string literal, quotes included (NULL: null). */
void text_buffer_append_json_string(text_buffer *buf, const char *text);
/* The same for `length` bytes; any bytes give valid JSON (invalid UTF-8
 * becomes U+FFFD). */
void text_buffer_append_json_bytes(text_buffer *buf, const char *bytes, size_t length);
/* "2026-11-25T21:22:13.250Z", or null for SC_TIME_NONE. */
void text_buffer_append_utc(text_buffer *buf, int64_t ns);
/* Seconds with 6 decimals, rounded to the microsecond ("12.345000"), or null. */
void text_buffer_append_seconds(text_buffer *buf, int64_t ns);
/* Hands the text over (never NULL unless an allocation failed; the caller
 * frees it) and leaves the buffer empty. */
char *text_buffer_take(text_buffer *buf);
void text_buffer_free(text_buffer *buf);

#endif
