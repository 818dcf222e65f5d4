/* rtmp: a growable byte buffer and big-endian readers, shared by the
 * protocol code (chunks, AMF0, FLV tags) and the server. Plain C, no SDK
 * type: the Check tests compile these files directly. */
#ifndef STREAMCUT_RTMP_BYTES_H
#define STREAMCUT_RTMP_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* Appends never report errors one by one: a failed allocation sets
 * `failed`, later appends do nothing, and the writer checks it once. */
typedef struct byte_buffer {
    uint8_t *data;
    size_t length;
    size_t capacity;
    int failed;
} byte_buffer;

int byte_buffer_reserve(byte_buffer *buffer, size_t extra);
void byte_buffer_append(byte_buffer *buffer, const void *bytes, size_t count);
void byte_buffer_append_byte(byte_buffer *buffer, uint8_t value);
void byte_buffer_append_be16(byte_buffer *buffer, uint32_t value);
void byte_buffer_append_be24(byte_buffer *buffer, uint32_t value);
void byte_buffer_append_be32(byte_buffer *buffer, uint32_t value);
void byte_buffer_append_le32(byte_buffer *buffer, uint32_t value);
void byte_buffer_append_text(byte_buffer *buffer, const char *text);
void byte_buffer_append_format(byte_buffer *buffer, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
/* Drops the first `count` bytes (already sent or parsed). */
void byte_buffer_consume(byte_buffer *buffer, size_t count);
/* Returns the bytes as a NUL-terminated string the caller frees (NULL after
 * a failure) and leaves the buffer empty. */
char *byte_buffer_take_text(byte_buffer *buffer);
void byte_buffer_free(byte_buffer *buffer);

static inline uint32_t read_be16(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] << 8 | bytes[1];
}

static inline uint32_t read_be24(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] << 16 | (uint32_t)bytes[1] << 8 | bytes[2];
}

static inline uint32_t read_be32(const uint8_t *bytes)
{
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
}

static inline uint32_t read_le32(const uint8_t *bytes)
{
    return (uint32_t)bytes[3] << 24 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[1] << 8 | bytes[0];
}

static inline void write_be32(uint8_t *bytes, uint32_t value)
{
    bytes[0] = (uint8_t)(value >> 24);
    bytes[1] = (uint8_t)(value >> 16);
    bytes[2] = (uint8_t)(value >> 8);
    bytes[3] = (uint8_t)value;
}

#endif
