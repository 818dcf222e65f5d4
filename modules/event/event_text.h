/* event: text helpers of the event strategy — JSON reading and writing,
 * durations, and the parser of one line of an events file (texts are
 * built with modules/common/text_buffer). The Check tests compile this
 * file directly. */
#ifndef STREAMCUT_EVENT_TEXT_H
#define STREAMCUT_EVENT_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/text_buffer.h"

/* The same marker as the SDK's SC_TIME_NONE. */
#define EVENT_TIME_NONE INT64_MIN

/* Names go into labels, records and file names: keep them short. */
#define EVENT_NAME_MAX 200

/** 1 when the bytes are well-formed UTF-8 (no overlongs, no surrogates). */
int utf8_is_valid(const char *bytes, size_t length);
/** Length of the longest prefix of at most `max` bytes that does not cut a
 * UTF-8 sequence in two. */
size_t utf8_prefix(const char *bytes, size_t length, size_t max);

/** 1 when the bytes are exactly one JSON value (surrounding white space
 * allowed). */
int json_is_valid(const char *bytes, size_t length);

/** Parses a duration as the INI files write them: "10", "10s", "1.5s",
 * "500ms", "2m", "1h" (a bare number is seconds). 0 on success. */
int parse_duration(const char *bytes, size_t length, int64_t *ns);
/** Parses a comma-separated list of positive durations ("10s, 30s"),
 * at most `max` of them, no duplicates. 0 on success, else -1 with a reason. */
int parse_duration_list(const char *text, int64_t *out, size_t max, size_t *count, char *error,
                        size_t error_size);
/** Writes a duration compactly for labels: "10s", "1.5s", "500ms". */
void format_duration(int64_t ns, char *out, size_t size);

/** One event as read from a line of an events file. Times in ns;
 * EVENT_TIME_NONE marks "now" (time) or "the default" (rolls). */
typedef struct parsed_event {
    char *name;          /* UTF-8, no control characters, 1..EVENT_NAME_MAX bytes */
    int64_t time;
    int64_t pre_roll;
    int64_t post_roll;
    char *payload_json;  /* a valid JSON value, or NULL */
} parsed_event;

/** Parses one line: a JSON object {"name": ..., "time": s|"now", "pre_roll": s,
 * "post_roll": s, "payload": any} or the plain form `TIME NAME` / `NAME`
 * (TIME in seconds or `now`). Returns 1 for an event, 0 for a line to skip
 * (blank or a # comment), -1 for a bad line with the reason in `error`. */
int parse_event_line(const char *line, size_t length, parsed_event *event, char *error, size_t error_size);
void parsed_event_clear(parsed_event *event);

#endif
