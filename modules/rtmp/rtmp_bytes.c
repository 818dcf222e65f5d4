#include "rtmp_bytes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int byte_buffer_reserve(byte_buffer *buffer, size_t extra)
{
    if (buffer->failed)
        return -1;
    if (extra <= buffer->capacity - buffer->length)
        return 0;
    if (extra > SIZE_MAX / 2 - buffer->length) {
        buffer->failed = 1;
        return -1;
    }
    size_t capacity = buffer->capacity ? buffer->capacity : 256;
    while (capacity - buffer->length < extra)
        capacity *= 2;
    uint8_t *grown = realloc(buffer->data, capacity);
    if (!grown) {
        buffer->failed = 1;
        return -1;
    }
    buffer->data = grown;
    buffer->capacity = capacity;
    return 0;
}

void byte_buffer_append(byte_buffer *buffer, const void *bytes, size_t count)
{
    if (count == 0 || byte_buffer_reserve(buffer, count) != 0)
        return;
    memcpy(buffer->data + buffer->length, bytes, count);
    buffer->length += count;
}

void byte_buffer_append_byte(byte_buffer *buffer, uint8_t value)
{
    byte_buffer_append(buffer, &value, 1);
}

void byte_buffer_append_be16(byte_buffer *buffer, uint32_t value)
{
    uint8_t bytes[2] = { (uint8_t)(value >> 8), (uint8_t)value };
    byte_buffer_append(buffer, bytes, sizeof(bytes));
}

void byte_buffer_append_be24(byte_buffer *buffer, uint32_t value)
{
    uint8_t bytes[3] = { (uint8_t)(value >> 16), (uint8_t)(value >> 8), (uint8_t)value };
    byte_buffer_append(buffer, bytes, sizeof(bytes));
}

void byte_buffer_append_be32(byte_buffer *buffer, uint32_t value)
{
    uint8_t bytes[4];
    write_be32(bytes, value);
    byte_buffer_append(buffer, bytes, sizeof(bytes));
}

void byte_buffer_append_le32(byte_buffer *buffer, uint32_t value)
{
    uint8_t bytes[4] = { (uint8_t)value, (uint8_t)(value >> 8), (uint8_t)(value >> 16),
                         (uint8_t)(value >> 24) };
    byte_buffer_append(buffer, bytes, sizeof(bytes));
}

void byte_buffer_append_text(byte_buffer *buffer, const char *text)
{
    byte_buffer_append(buffer, text, strlen(text));
}

void byte_buffer_append_format(byte_buffer *buffer, const char *format, ...)
{
    char small[128];
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(small, sizeof(small), format, arguments);
    va_end(arguments);
    if (length < 0) {
        buffer->failed = 1;
        return;
    }
    if ((size_t)length < sizeof(small)) {
        byte_buffer_append(buffer, small, (size_t)length);
        return;
    }
    if (byte_buffer_reserve(buffer, (size_t)length + 1) != 0)
        return;
    va_start(arguments, format);
    vsnprintf((char *)buffer->data + buffer->length, (size_t)length + 1, format, arguments);
    va_end(arguments);
    buffer->length += (size_t)length;
}

void byte_buffer_consume(byte_buffer *buffer, size_t count)
{
    if (count >= buffer->length) {
        buffer->length = 0;
        return;
    }
    memmove(buffer->data, buffer->data + count, buffer->length - count);
    buffer->length -= count;
}

char *byte_buffer_take_text(byte_buffer *buffer)
{
    byte_buffer_append_byte(buffer, 0);
    if (buffer->failed) {
        byte_buffer_free(buffer);
        return NULL;
    }
    char *text = (char *)buffer->data;
    *buffer = (byte_buffer){ 0 };
    return text;
}

void byte_buffer_free(byte_buffer *buffer)
{
    free(buffer->data);
    *buffer = (byte_buffer){ 0 };
}
