#include "rtmp_chunk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of the message header after the basic header, by chunk type. */
static const size_t message_header_sizes[4] = { 11, 7, 3, 0 };

void rtmp_chunk_reader_init(rtmp_chunk_reader *reader, uint32_t max_message_size,
                            size_t max_assembling_bytes)
{
    memset(reader, 0, sizeof(*reader));
    reader->chunk_size = RTMP_DEFAULT_CHUNK_SIZE;
    reader->max_message_size = max_message_size < RTMP_LARGEST_MESSAGE ? max_message_size
                                                                        : RTMP_LARGEST_MESSAGE;
    reader->max_assembling_bytes = max_assembling_bytes;
}

static void drop_partial(rtmp_chunk_reader *reader, rtmp_chunk_stream *stream)
{
    if (stream->payload) {
        reader->assembling_bytes -= stream->message_length;
        free(stream->payload);
        stream->payload = NULL;
    }
    stream->received = 0;
}

void rtmp_chunk_reader_clear(rtmp_chunk_reader *reader)
{
    for (size_t i = 0; i < reader->stream_count; i++)
        drop_partial(reader, &reader->streams[i]);
    reader->stream_count = 0;
    reader->current = NULL;
    reader->chunk_remaining = 0;
}

static int fail(rtmp_chunk_reader *reader, const char *why, ...) __attribute__((format(printf, 2, 3)));

static int fail(rtmp_chunk_reader *reader, const char *why, ...)
{
    va_list arguments;
    va_start(arguments, why);
    vsnprintf(reader->error, sizeof(reader->error), why, arguments);
    va_end(arguments);
    return -1;
}

static rtmp_chunk_stream *find_stream(rtmp_chunk_reader *reader, uint32_t id)
{
    for (size_t i = 0; i < reader->stream_count; i++)
        if (reader->streams[i].id == id)
            return &reader->streams[i];
    return NULL;
}

/* The chunk layer's own messages take effect before the next chunk. */
static int apply_control(rtmp_chunk_reader *reader, const rtmp_message *message)
{
    if (message->type == RTMP_MESSAGE_SET_CHUNK_SIZE) {
        if (message->length < 4)
            return fail(reader, "Set Chunk Size of %zu bytes", message->length);
        uint32_t size = read_be32(message->data) & 0x7FFFFFFFu;
        if (size == 0)
            return fail(reader, "Set Chunk Size to %u", size);
        /* A chunk longer than the longest message changes nothing. */
        reader->chunk_size = size < RTMP_LARGEST_MESSAGE ? size : RTMP_LARGEST_MESSAGE;
    } else if (message->type == RTMP_MESSAGE_ABORT && message->length >= 4) {
        rtmp_chunk_stream *stream = find_stream(reader, read_be32(message->data));
        if (stream)
            drop_partial(reader, stream);
    }
    return 0;
}

/* Parses one chunk header at data[0..size). Returns its length, 0 when
 * more bytes are needed, -1 on an error. */
static int parse_header(rtmp_chunk_reader *reader, const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned type = data[0] >> 6;
    uint32_t id = data[0] & 0x3F;
    size_t position = 1;
    if (id == 0) {
        if (size < 2)
            return 0;
        id = 64 + data[1];
        position = 2;
    } else if (id == 1) {
        if (size < 3)
            return 0;
        id = 64 + data[1] + 256u * data[2];
        position = 3;
    }
    if (id < 2)
        return fail(reader, "chunk stream id %u is reserved", id);
    size_t header_size = message_header_sizes[type];
    if (size < position + header_size)
        return 0;
    const uint8_t *header = data + position;
    position += header_size;

    rtmp_chunk_stream *stream = find_stream(reader, id);
    if (!stream) {
        if (type != 0)
            return fail(reader, "chunk stream %u starts without a full (type 0) header", id);
        if (reader->stream_count >= RTMP_MAX_CHUNK_STREAMS)
            return fail(reader, "more than %d chunk streams", RTMP_MAX_CHUNK_STREAMS);
        stream = &reader->streams[reader->stream_count++];
        memset(stream, 0, sizeof(*stream));
        stream->id = id;
    }
    int continuing = stream->payload != NULL;
    if (continuing && type != 3)
        return fail(reader, "chunk stream %u: a new message header in the middle of a message", id);

    uint32_t field = 0;
    int extended = stream->extended;
    if (type < 3) {
        field = read_be24(header);
        extended = field == RTMP_EXTENDED_TIMESTAMP;
        if (extended) {
            if (size < position + 4)
                return 0;
            field = read_be32(data + position);
            position += 4;
        }
    } else if (stream->extended) {
        /* Type 3 repeats the extended timestamp after a header that used
         * it. Some encoders leave it out of continuation chunks: only
         * bytes that match the value are taken as the field. */
        if (size < position + 4)
            return 0;
        uint32_t repeated = read_be32(data + position);
        if (repeated == stream->timestamp_field || repeated == stream->timestamp)
            position += 4;
        else
            reader->missing_extended_timestamps++;
    }

    if (!continuing) {
        uint32_t length = stream->message_length;
        if (type == 0 || type == 1)
            length = read_be24(header + 3);
        if (length > reader->max_message_size)
            return fail(reader, "message of %u bytes is over the limit", length);
        if (reader->assembling_bytes + length > reader->max_assembling_bytes)
            return fail(reader, "partial messages over %zu bytes", reader->max_assembling_bytes);
        uint8_t *payload = calloc(1, (size_t)length + RTMP_MESSAGE_PADDING);
        if (!payload)
            return fail(reader, "out of memory for a message of %u bytes", length);
        if (type == 0) {
            stream->timestamp = field;
            stream->message_stream_id = read_le32(header + 7);
        } else if (type < 3) {
            stream->timestamp += field;
        } else {
            /* Type 3 starting a message repeats the previous delta (after a
             * type-0 header, the absolute timestamp: the specification's
             * rule, which FFmpeg's writer follows). */
            stream->timestamp += stream->timestamp_field;
        }
        if (type < 3) {
            stream->timestamp_field = field;
            stream->extended = extended;
        }
        if (type == 0 || type == 1) {
            stream->message_length = length;
            stream->message_type = header[6];
        }
        stream->payload = payload;
        stream->received = 0;
        reader->assembling_bytes += length;
        if (stream->extended)
            reader->extended_timestamp_messages++;
    }
    reader->current = stream;
    uint32_t left = stream->message_length - stream->received;
    reader->chunk_remaining = left < reader->chunk_size ? left : reader->chunk_size;
    return (int)position;
}

int rtmp_chunk_reader_feed(rtmp_chunk_reader *reader, const uint8_t *data, size_t size,
                           size_t *consumed, rtmp_message *message)
{
    size_t position = 0;
    for (;;) {
        if (!reader->current) {
            int header = parse_header(reader, data + position, size - position);
            if (header <= 0) {
                *consumed = position;
                return header;
            }
            position += (size_t)header;
        }
        rtmp_chunk_stream *stream = reader->current;
        size_t available = size - position;
        size_t count = available < reader->chunk_remaining ? available : reader->chunk_remaining;
        memcpy(stream->payload + stream->received, data + position, count);
        stream->received += (uint32_t)count;
        reader->chunk_remaining -= (uint32_t)count;
        position += count;
        if (reader->chunk_remaining > 0) {
            *consumed = position;
            return 0;
        }
        reader->current = NULL;
        if (stream->received == stream->message_length) {
            *message = (rtmp_message){
                .chunk_stream_id = stream->id,
                .message_stream_id = stream->message_stream_id,
                .type = stream->message_type,
                .timestamp = stream->timestamp,
                .data = stream->payload,
                .length = stream->message_length,
            };
            reader->assembling_bytes -= stream->message_length;
            stream->payload = NULL;
            stream->received = 0;
            *consumed = position;
            if (apply_control(reader, message) != 0) {
                free(message->data);
                message->data = NULL;
                return -1;
            }
            return 1;
        }
        if (position == size) {
            *consumed = position;
            return 0;
        }
    }
}

/* ---- writing ------------------------------------------------------------- */

static void write_basic_header(byte_buffer *out, unsigned type, uint32_t id)
{
    if (id >= 2 && id <= 63) {
        byte_buffer_append_byte(out, (uint8_t)(type << 6 | id));
    } else if (id >= 64 && id <= 319) {
        byte_buffer_append_byte(out, (uint8_t)(type << 6));
        byte_buffer_append_byte(out, (uint8_t)(id - 64));
    } else {
        uint32_t offset = id - 64;
        byte_buffer_append_byte(out, (uint8_t)(type << 6 | 1));
        byte_buffer_append_byte(out, (uint8_t)(offset & 0xFF));
        byte_buffer_append_byte(out, (uint8_t)(offset >> 8));
    }
}

void rtmp_chunk_write(byte_buffer *out, uint32_t chunk_stream_id, uint8_t type,
                      uint32_t message_stream_id, uint32_t timestamp, const uint8_t *payload,
                      size_t length, uint32_t chunk_size)
{
    int extended = timestamp >= RTMP_EXTENDED_TIMESTAMP;
    write_basic_header(out, 0, chunk_stream_id);
    byte_buffer_append_be24(out, extended ? RTMP_EXTENDED_TIMESTAMP : timestamp);
    byte_buffer_append_be24(out, (uint32_t)length);
    byte_buffer_append_byte(out, type);
    byte_buffer_append_le32(out, message_stream_id);
    if (extended)
        byte_buffer_append_be32(out, timestamp);
    size_t offset = 0;
    for (;;) {
        size_t count = length - offset < chunk_size ? length - offset : chunk_size;
        byte_buffer_append(out, payload + offset, count);
        offset += count;
        if (offset >= length)
            break;
        write_basic_header(out, 3, chunk_stream_id);
        if (extended)
            byte_buffer_append_be32(out, timestamp);
    }
}

#define CONTROL_CHUNK_STREAM 2

void rtmp_write_set_chunk_size(byte_buffer *out, uint32_t chunk_size)
{
    uint8_t body[4];
    write_be32(body, chunk_size & 0x7FFFFFFFu);
    rtmp_chunk_write(out, CONTROL_CHUNK_STREAM, RTMP_MESSAGE_SET_CHUNK_SIZE, 0, 0, body, 4,
                     RTMP_DEFAULT_CHUNK_SIZE);
}

void rtmp_write_window_ack_size(byte_buffer *out, uint32_t window)
{
    uint8_t body[4];
    write_be32(body, window);
    rtmp_chunk_write(out, CONTROL_CHUNK_STREAM, RTMP_MESSAGE_WINDOW_ACK_SIZE, 0, 0, body, 4,
                     RTMP_DEFAULT_CHUNK_SIZE);
}

void rtmp_write_set_peer_bandwidth(byte_buffer *out, uint32_t window, uint8_t limit_type)
{
    uint8_t body[5];
    write_be32(body, window);
    body[4] = limit_type;
    rtmp_chunk_write(out, CONTROL_CHUNK_STREAM, RTMP_MESSAGE_SET_PEER_BANDWIDTH, 0, 0, body, 5,
                     RTMP_DEFAULT_CHUNK_SIZE);
}

void rtmp_write_acknowledgement(byte_buffer *out, uint32_t sequence_number)
{
    uint8_t body[4];
    write_be32(body, sequence_number);
    rtmp_chunk_write(out, CONTROL_CHUNK_STREAM, RTMP_MESSAGE_ACKNOWLEDGEMENT, 0, 0, body, 4,
                     RTMP_DEFAULT_CHUNK_SIZE);
}

void rtmp_write_user_control(byte_buffer *out, uint16_t event, uint32_t value)
{
    uint8_t body[6] = { (uint8_t)(event >> 8), (uint8_t)event };
    write_be32(body + 2, value);
    rtmp_chunk_write(out, CONTROL_CHUNK_STREAM, RTMP_MESSAGE_USER_CONTROL, 0, 0, body, 6,
                     RTMP_DEFAULT_CHUNK_SIZE);
}

/* ---- handshake ----------------------------------------------------------- */

int rtmp_handshake_version_ok(uint8_t version)
{
    return version == RTMP_PLAIN_VERSION;
}

void rtmp_handshake_response(const uint8_t *c1, uint32_t server_time_ms, uint64_t seed, uint8_t *out)
{
    uint8_t *s0 = out, *s1 = out + 1, *s2 = out + 1 + RTMP_HANDSHAKE_SIZE;
    s0[0] = RTMP_PLAIN_VERSION;
    write_be32(s1, server_time_ms);
    /* A zero version field tells clients this is the simple handshake,
     * with no digest to verify. */
    memset(s1 + 4, 0, 4);
    uint64_t state = seed ? seed : UINT64_C(0x9E3779B97F4A7C15);
    for (size_t i = 8; i < RTMP_HANDSHAKE_SIZE; i++) {
        /* xorshift64: the bytes only need to differ between connections. */
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        s1[i] = (uint8_t)(state >> 32);
    }
    /* S2 is C1 exactly: librtmp (OBS) compares the two and warns on any
     * difference, and nobody reads the time the specification puts there. */
    memcpy(s2, c1, RTMP_HANDSHAKE_SIZE);
}
