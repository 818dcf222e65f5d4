/* The JSON record of a segment (or of a synchronized segment set), shared
 * by the sinks that hand records on: jsonl writes them as lines, exec
 * passes them to a command, redis and webhook publish them. One object,
 * no trailing newline; strings are escaped (ill-formed UTF-8 becomes
 * U+FFFD), times are seconds on the source's timeline and ISO 8601 UTC.
 */
#ifndef STREAMCUT_MODULES_SEGMENT_RECORD_H
#define STREAMCUT_MODULES_SEGMENT_RECORD_H

#include <streamcut/streamcut.h>

#include "text_buffer.h"

#include <stddef.h>
#include <stdint.h>

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
