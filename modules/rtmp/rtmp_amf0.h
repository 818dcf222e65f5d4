/* rtmp: AMF0, the encoding of RTMP commands (connect, publish, _result,
 * onStatus) and script data (onMetaData, cue points). Plain C, no SDK type:
 * the Check tests compile these files directly.
 *
 * Reading never allocates: a reader walks the encoded bytes, and values
 * are found, copied or turned into JSON from there. Every function returns
 * 0 on success and -1 when the bytes are malformed, truncated, of another
 * type than asked, or nested deeper than AMF0_MAX_DEPTH (a hostile peer
 * must not be able to exhaust the stack).
 */
#ifndef STREAMCUT_RTMP_AMF0_H
#define STREAMCUT_RTMP_AMF0_H

#include "rtmp_bytes.h"

#include <stddef.h>
#include <stdint.h>

enum amf0_type {
    AMF0_NUMBER = 0,
    AMF0_BOOLEAN = 1,
    AMF0_STRING = 2,
    AMF0_OBJECT = 3,
    AMF0_MOVIECLIP = 4,
    AMF0_NULL = 5,
    AMF0_UNDEFINED = 6,
    AMF0_REFERENCE = 7,
    AMF0_ECMA_ARRAY = 8,
    AMF0_OBJECT_END = 9,
    AMF0_STRICT_ARRAY = 10,
    AMF0_DATE = 11,
    AMF0_LONG_STRING = 12,
    AMF0_UNSUPPORTED = 13,
    AMF0_RECORDSET = 14,
    AMF0_XML_DOCUMENT = 15,
    AMF0_TYPED_OBJECT = 16,
    AMF0_AVMPLUS = 17
};

#define AMF0_MAX_DEPTH 16

typedef struct amf0_reader {
    const uint8_t *data;
    size_t size;
    size_t position;
} amf0_reader;

void amf0_reader_init(amf0_reader *reader, const uint8_t *data, size_t size);
int amf0_at_end(const amf0_reader *reader);
/* The type marker of the next value, or -1 at the end. */
int amf0_peek_type(const amf0_reader *reader);

int amf0_read_number(amf0_reader *reader, double *value);
int amf0_read_boolean(amf0_reader *reader, int *value);
/* A string or long string; `text` points into the data, not terminated. */
int amf0_read_string(amf0_reader *reader, const char **text, size_t *length);
/* Null or undefined. */
int amf0_read_null(amf0_reader *reader);
int amf0_skip_value(amf0_reader *reader);

/* With `object` positioned on an object, ECMA array or typed object: a
 * reader positioned on the value of property `name` (the first one). */
int amf0_find_property(const amf0_reader *object, const char *name, amf0_reader *value);
/* The property as a NUL-terminated string; -1 when absent, not a string, or
 * longer than size - 1. */
int amf0_get_string_property(const amf0_reader *object, const char *name, char *text, size_t size);
/* The property as a number (a boolean counts as 0 or 1). */
int amf0_get_number_property(const amf0_reader *object, const char *name, double *value);

/* Appends the next value as JSON and moves past it: objects and ECMA
 * arrays become objects, strict arrays arrays, dates their milliseconds,
 * null/undefined/references null; strings are escaped, invalid UTF-8
 * replaced by U+FFFD, non-finite numbers become null. */
int amf0_value_to_json(amf0_reader *reader, byte_buffer *json);

/* JSON helpers shared with the module. */
void json_append_string(byte_buffer *json, const char *text, size_t length);
void json_append_number(byte_buffer *json, double value);

void amf0_write_number(byte_buffer *out, double value);
void amf0_write_boolean(byte_buffer *out, int value);
void amf0_write_string(byte_buffer *out, const char *text);
void amf0_write_null(byte_buffer *out);
void amf0_write_undefined(byte_buffer *out);
void amf0_write_object_begin(byte_buffer *out);
void amf0_write_ecma_array_begin(byte_buffer *out, uint32_t count);
/* The name of the next property of an object or ECMA array; its value follows. */
void amf0_write_property_name(byte_buffer *out, const char *name);
void amf0_write_object_end(byte_buffer *out);

#endif
