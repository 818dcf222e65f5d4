#include "rtmp_amf0.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading ------------------------------------------------------------ */

void amf0_reader_init(amf0_reader *reader, const uint8_t *data, size_t size)
{
    reader->data = data;
    reader->size = size;
    reader->position = 0;
}

int amf0_at_end(const amf0_reader *reader)
{
    return reader->position >= reader->size;
}

int amf0_peek_type(const amf0_reader *reader)
{
    return amf0_at_end(reader) ? -1 : reader->data[reader->position];
}

static size_t remaining(const amf0_reader *reader)
{
    return reader->size - reader->position;
}

static int take(amf0_reader *reader, size_t count, const uint8_t **bytes)
{
    if (remaining(reader) < count)
        return -1;
    *bytes = reader->data + reader->position;
    reader->position += count;
    return 0;
}

static double decode_double(const uint8_t *bytes)
{
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits = bits << 8 | bytes[i];
    double value;
    memcpy(&value, &bits, sizeof(value));
    return value;
}

int amf0_read_number(amf0_reader *reader, double *value)
{
    if (amf0_peek_type(reader) != AMF0_NUMBER || remaining(reader) < 9)
        return -1;
    *value = decode_double(reader->data + reader->position + 1);
    reader->position += 9;
    return 0;
}

int amf0_read_boolean(amf0_reader *reader, int *value)
{
    if (amf0_peek_type(reader) != AMF0_BOOLEAN || remaining(reader) < 2)
        return -1;
    *value = reader->data[reader->position + 1] != 0;
    reader->position += 2;
    return 0;
}

/* The body of a string after its marker: a 16- or 32-bit length, then bytes. */
static int read_string_body(amf0_reader *reader, size_t length_bytes, const char **text, size_t *length)
{
    const uint8_t *prefix, *bytes;
    if (take(reader, length_bytes, &prefix) != 0)
        return -1;
    size_t count = length_bytes == 2 ? read_be16(prefix) : read_be32(prefix);
    if (take(reader, count, &bytes) != 0)
        return -1;
    *text = (const char *)bytes;
    *length = count;
    return 0;
}

int amf0_read_string(amf0_reader *reader, const char **text, size_t *length)
{
    int type = amf0_peek_type(reader);
    if (type != AMF0_STRING && type != AMF0_LONG_STRING)
        return -1;
    amf0_reader attempt = *reader;
    attempt.position++;
    if (read_string_body(&attempt, type == AMF0_STRING ? 2 : 4, text, length) != 0)
        return -1;
    *reader = attempt;
    return 0;
}

int amf0_read_null(amf0_reader *reader)
{
    int type = amf0_peek_type(reader);
    if (type != AMF0_NULL && type != AMF0_UNDEFINED)
        return -1;
    reader->position++;
    return 0;
}

static int skip_value(amf0_reader *reader, int depth);

/* Properties of an object or ECMA array, up to and including the end
 * marker. An ECMA array that simply stops where the data ends is accepted:
 * some encoders leave the marker out. */
static int skip_properties(amf0_reader *reader, int depth, int end_marker_optional)
{
    for (;;) {
        if (end_marker_optional && amf0_at_end(reader))
            return 0;
        const char *name;
        size_t length;
        if (read_string_body(reader, 2, &name, &length) != 0)
            return -1;
        if (length == 0 && amf0_peek_type(reader) == AMF0_OBJECT_END) {
            reader->position++;
            return 0;
        }
        if (skip_value(reader, depth + 1) != 0)
            return -1;
    }
}

static int skip_value(amf0_reader *reader, int depth)
{
    const uint8_t *bytes;
    const char *text;
    size_t length;
    if (depth > AMF0_MAX_DEPTH || take(reader, 1, &bytes) != 0)
        return -1;
    switch (bytes[0]) {
    case AMF0_NUMBER:
        return take(reader, 8, &bytes);
    case AMF0_BOOLEAN:
        return take(reader, 1, &bytes);
    case AMF0_STRING:
        return read_string_body(reader, 2, &text, &length);
    case AMF0_LONG_STRING:
    case AMF0_XML_DOCUMENT:
        return read_string_body(reader, 4, &text, &length);
    case AMF0_NULL:
    case AMF0_UNDEFINED:
    case AMF0_UNSUPPORTED:
        return 0;
    case AMF0_REFERENCE:
        return take(reader, 2, &bytes);
    case AMF0_DATE:
        return take(reader, 10, &bytes);
    case AMF0_OBJECT:
        return skip_properties(reader, depth, 0);
    case AMF0_TYPED_OBJECT:
        if (read_string_body(reader, 2, &text, &length) != 0)
            return -1;
        return skip_properties(reader, depth, 0);
    case AMF0_ECMA_ARRAY:
        if (take(reader, 4, &bytes) != 0)
            return -1;
        return skip_properties(reader, depth, 1);
    case AMF0_STRICT_ARRAY: {
        if (take(reader, 4, &bytes) != 0)
            return -1;
        uint32_t count = read_be32(bytes);
        /* Every value takes at least one byte: a count beyond that lies. */
        if (count > remaining(reader))
            return -1;
        for (uint32_t i = 0; i < count; i++)
            if (skip_value(reader, depth + 1) != 0)
                return -1;
        return 0;
    }
    default: /* movie clip, record set, object end out of place, AMF3 */
        return -1;
    }
}

int amf0_skip_value(amf0_reader *reader)
{
    amf0_reader attempt = *reader;
    if (skip_value(&attempt, 0) != 0)
        return -1;
    *reader = attempt;
    return 0;
}

/* Moves a copy of `object` past its marker (and class name or count) to
 * its first property. */
static int enter_object(const amf0_reader *object, amf0_reader *inside, int *end_marker_optional)
{
    const uint8_t *bytes;
    const char *text;
    size_t length;
    *inside = *object;
    *end_marker_optional = 0;
    switch (amf0_peek_type(inside)) {
    case AMF0_OBJECT:
        inside->position++;
        return 0;
    case AMF0_TYPED_OBJECT:
        inside->position++;
        return read_string_body(inside, 2, &text, &length);
    case AMF0_ECMA_ARRAY:
        inside->position++;
        *end_marker_optional = 1;
        return take(inside, 4, &bytes);
    default:
        return -1;
    }
}

int amf0_find_property(const amf0_reader *object, const char *name, amf0_reader *value)
{
    amf0_reader inside;
    int end_marker_optional;
    if (enter_object(object, &inside, &end_marker_optional) != 0)
        return -1;
    size_t wanted = strlen(name);
    for (;;) {
        if (end_marker_optional && amf0_at_end(&inside))
            return -1;
        const char *key;
        size_t length;
        if (read_string_body(&inside, 2, &key, &length) != 0)
            return -1;
        if (length == 0 && amf0_peek_type(&inside) == AMF0_OBJECT_END)
            return -1;
        if (length == wanted && memcmp(key, name, length) == 0) {
            *value = inside;
            return 0;
        }
        if (skip_value(&inside, 1) != 0)
            return -1;
    }
}

int amf0_get_string_property(const amf0_reader *object, const char *name, char *text, size_t size)
{
    amf0_reader value;
    const char *found;
    size_t length;
    if (size == 0 || amf0_find_property(object, name, &value) != 0 ||
        amf0_read_string(&value, &found, &length) != 0 || length >= size)
        return -1;
    memcpy(text, found, length);
    text[length] = '\0';
    return 0;
}

int amf0_get_number_property(const amf0_reader *object, const char *name, double *value)
{
    amf0_reader found;
    int flag;
    if (amf0_find_property(object, name, &found) != 0)
        return -1;
    if (amf0_read_number(&found, value) == 0)
        return 0;
    if (amf0_read_boolean(&found, &flag) == 0) {
        *value = flag;
        return 0;
    }
    return -1;
}

/* ---- JSON ---------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at text[0], or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_sequence_length(const unsigned char *text, size_t available)
{
    unsigned char lead = text[0];
    size_t length;
    uint32_t code_point, minimum;
    if (lead < 0x80)
        return 1;
    if ((lead & 0xE0) == 0xC0) {
        length = 2;
        code_point = lead & 0x1F;
        minimum = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
        length = 3;
        code_point = lead & 0x0F;
        minimum = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
        length = 4;
        code_point = lead & 0x07;
        minimum = 0x10000;
    } else {
        return 0;
    }
    if (available < length)
        return 0;
    for (size_t i = 1; i < length; i++) {
        if ((text[i] & 0xC0) != 0x80)
            return 0;
        code_point = code_point << 6 | (text[i] & 0x3F);
    }
    if (code_point < minimum || code_point > 0x10FFFF || (code_point >= 0xD800 && code_point <= 0xDFFF))
        return 0;
    return length;
}

void json_append_string(byte_buffer *json, const char *text, size_t length)
{
    const unsigned char *bytes = (const unsigned char *)text;
    byte_buffer_append_byte(json, '"');
    size_t i = 0;
    while (i < length) {
        unsigned char byte = bytes[i];
        if (byte == '"' || byte == '\\') {
            byte_buffer_append_byte(json, '\\');
            byte_buffer_append_byte(json, byte);
            i++;
        } else if (byte == '\n') {
            byte_buffer_append_text(json, "\\n");
            i++;
        } else if (byte == '\r') {
            byte_buffer_append_text(json, "\\r");
            i++;
        } else if (byte == '\t') {
            byte_buffer_append_text(json, "\\t");
            i++;
        } else if (byte < 0x20 || byte == 0x7F) {
            byte_buffer_append_format(json, "\\u%04x", byte);
            i++;
        } else {
            size_t sequence = utf8_sequence_length(bytes + i, length - i);
            if (sequence == 0) {
                byte_buffer_append_text(json, "\\ufffd");
                i++;
            } else {
                byte_buffer_append(json, bytes + i, sequence);
                i += sequence;
            }
        }
    }
    byte_buffer_append_byte(json, '"');
}

void json_append_number(byte_buffer *json, double value)
{
    if (!isfinite(value)) {
        byte_buffer_append_text(json, "null");
        return;
    }
    if (value == floor(value) && fabs(value) < 9007199254740992.0) {
        byte_buffer_append_format(json, "%.0f", value);
        return;
    }
    /* The shortest form that reads back as the same double. */
    char text[32];
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(text, sizeof(text), "%.*g", precision, value);
        if (strtod(text, NULL) == value)
            break;
    }
    byte_buffer_append_text(json, text);
}

static int value_to_json(amf0_reader *reader, byte_buffer *json, int depth);

static int properties_to_json(amf0_reader *reader, byte_buffer *json, int depth, int end_marker_optional)
{
    byte_buffer_append_byte(json, '{');
    int first = 1;
    for (;;) {
        if (end_marker_optional && amf0_at_end(reader))
            break;
        const char *name;
        size_t length;
        if (read_string_body(reader, 2, &name, &length) != 0)
            return -1;
        if (length == 0 && amf0_peek_type(reader) == AMF0_OBJECT_END) {
            reader->position++;
            break;
        }
        if (!first)
            byte_buffer_append_byte(json, ',');
        first = 0;
        json_append_string(json, name, length);
        byte_buffer_append_byte(json, ':');
        if (value_to_json(reader, json, depth + 1) != 0)
            return -1;
    }
    byte_buffer_append_byte(json, '}');
    return 0;
}

static int value_to_json(amf0_reader *reader, byte_buffer *json, int depth)
{
    const uint8_t *bytes;
    const char *text;
    size_t length;
    if (depth > AMF0_MAX_DEPTH || take(reader, 1, &bytes) != 0)
        return -1;
    switch (bytes[0]) {
    case AMF0_NUMBER:
        if (take(reader, 8, &bytes) != 0)
            return -1;
        json_append_number(json, decode_double(bytes));
        return 0;
    case AMF0_BOOLEAN:
        if (take(reader, 1, &bytes) != 0)
            return -1;
        byte_buffer_append_text(json, bytes[0] ? "true" : "false");
        return 0;
    case AMF0_STRING:
    case AMF0_LONG_STRING:
    case AMF0_XML_DOCUMENT:
        if (read_string_body(reader, bytes[0] == AMF0_STRING ? 2 : 4, &text, &length) != 0)
            return -1;
        json_append_string(json, text, length);
        return 0;
    case AMF0_NULL:
    case AMF0_UNDEFINED:
    case AMF0_UNSUPPORTED:
        byte_buffer_append_text(json, "null");
        return 0;
    case AMF0_REFERENCE:
        if (take(reader, 2, &bytes) != 0)
            return -1;
        byte_buffer_append_text(json, "null");
        return 0;
    case AMF0_DATE:
        if (take(reader, 10, &bytes) != 0)
            return -1;
        json_append_number(json, decode_double(bytes));
        return 0;
    case AMF0_OBJECT:
        return properties_to_json(reader, json, depth, 0);
    case AMF0_TYPED_OBJECT:
        if (read_string_body(reader, 2, &text, &length) != 0)
            return -1;
        return properties_to_json(reader, json, depth, 0);
    case AMF0_ECMA_ARRAY:
        if (take(reader, 4, &bytes) != 0)
            return -1;
        return properties_to_json(reader, json, depth, 1);
    case AMF0_STRICT_ARRAY: {
        if (take(reader, 4, &bytes) != 0)
            return -1;
        uint32_t count = read_be32(bytes);
        if (count > remaining(reader))
            return -1;
        byte_buffer_append_byte(json, '[');
        for (uint32_t i = 0; i < count; i++) {
            if (i)
                byte_buffer_append_byte(json, ',');
            if (value_to_json(reader, json, depth + 1) != 0)
                return -1;
        }
        byte_buffer_append_byte(json, ']');
        return 0;
    }
    default:
        return -1;
    }
}

int amf0_value_to_json(amf0_reader *reader, byte_buffer *json)
{
    amf0_reader attempt = *reader;
    size_t mark = json->length;
    if (value_to_json(&attempt, json, 0) != 0 || json->failed) {
        if (!json->failed)
            json->length = mark;
        return -1;
    }
    *reader = attempt;
    return 0;
}

/* ---- writing ------------------------------------------------------------- */

void amf0_write_number(byte_buffer *out, double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof(bits));
    uint8_t bytes[9] = { AMF0_NUMBER };
    for (int i = 0; i < 8; i++)
        bytes[1 + i] = (uint8_t)(bits >> (56 - 8 * i));
    byte_buffer_append(out, bytes, sizeof(bytes));
}

void amf0_write_boolean(byte_buffer *out, int value)
{
    uint8_t bytes[2] = { AMF0_BOOLEAN, value ? 1 : 0 };
    byte_buffer_append(out, bytes, sizeof(bytes));
}

void amf0_write_string(byte_buffer *out, const char *text)
{
    size_t length = strlen(text);
    if (length > 0xFFFF) {
        byte_buffer_append_byte(out, AMF0_LONG_STRING);
        byte_buffer_append_be32(out, (uint32_t)length);
    } else {
        byte_buffer_append_byte(out, AMF0_STRING);
        byte_buffer_append_be16(out, (uint32_t)length);
    }
    byte_buffer_append(out, text, length);
}

void amf0_write_null(byte_buffer *out)
{
    byte_buffer_append_byte(out, AMF0_NULL);
}

void amf0_write_undefined(byte_buffer *out)
{
    byte_buffer_append_byte(out, AMF0_UNDEFINED);
}

void amf0_write_object_begin(byte_buffer *out)
{
    byte_buffer_append_byte(out, AMF0_OBJECT);
}

void amf0_write_ecma_array_begin(byte_buffer *out, uint32_t count)
{
    byte_buffer_append_byte(out, AMF0_ECMA_ARRAY);
    byte_buffer_append_be32(out, count);
}

void amf0_write_property_name(byte_buffer *out, const char *name)
{
    size_t length = strlen(name);
    if (length > 0xFFFF)
        length = 0xFFFF;
    byte_buffer_append_be16(out, (uint32_t)length);
    byte_buffer_append(out, name, length);
}

void amf0_write_object_end(byte_buffer *out)
{
    uint8_t bytes[3] = { 0, 0, AMF0_OBJECT_END };
    byte_buffer_append(out, bytes, sizeof(bytes));
}
