/* The JSON record of a segment (or of a synchronized segment set), shared
 * by the sinks that hand records on: jsonl writes them as lines, exec
 * passes them to a command, redis and webhook publish them. One object,
 * no trailing newline; strings are escaped (ill-formed UTF-8 becomes
 * U+FFFD), times are seconds on the source's timeline and ISO 8601 UTC.
 */
#ifndef STREAMCUT_MODULES_SEGMENT_RECORD_H
#define STREAMCUT_MODULES_SEGMENT_RECORD_H

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
void text_buffer_append_format(text_buffer *buf, const char *fmt, ...) SC_PRINTF(2, 3);
/* A JSON string literal, quotes included. */
void text_buffer_append_json_string(text_buffer *buf, const char *text);
/* "2026-11-25T21:22:13.250Z", or null for SC_TIME_NONE. */
void text_buffer_append_utc(text_buffer *buf, int64_t ns);
/* Seconds with millisecond precision ("12.345"), or null for SC_TIME_NONE. */
void text_buffer_append_seconds(text_buffer *buf, int64_t ns);
void text_buffer_free(text_buffer *buf);

/* Where the record reads the segment's attributes (the files clip sinks
 * wrote): the calling sink's host and context. */
typedef struct record_source {
    const sc_host_api *host;
    sc_ctx *ctx;
} record_source;

void segment_record_append(const record_source *from, text_buffer *out, const sc_segment *segment);
/* {"sync": NAME, "index": …, "start_utc": …, "end_utc": …, "flags": […],
 *  "segments": {"a": {record}, "b": null}} */
void segment_set_record_append(const record_source *from, text_buffer *out, const sc_segment_set *set);

#endif
