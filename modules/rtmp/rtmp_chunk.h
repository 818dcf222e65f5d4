/* rtmp: the handshake and the chunk stream layer (RTMP specification 1.0,
 * sections 5.2 and 5.3). Plain C, no SDK type: the Check tests compile
 * these files directly.
 *
 * The reader is incremental: feed it whatever the socket gave, it consumes
 * complete chunk headers and any amount of payload, and hands back each
 * message once all its chunks arrived. It applies the two messages that
 * belong to the chunk layer itself (Set Chunk Size, Abort) before the next
 * chunk is parsed, and also returns them so the caller sees them.
 */
#ifndef STREAMCUT_RTMP_CHUNK_H
#define STREAMCUT_RTMP_CHUNK_H

#include "rtmp_bytes.h"

#include <stddef.h>
#include <stdint.h>

#define RTMP_HANDSHAKE_SIZE 1536
#define RTMP_PLAIN_VERSION 3
#define RTMP_DEFAULT_CHUNK_SIZE 128
/* The message length field has 24 bits. */
#define RTMP_LARGEST_MESSAGE 0xFFFFFFu
/* Zero bytes after every message's payload: packets made from it may be
 * over-read by decoders (SC_PACKET_PADDING). */
#define RTMP_MESSAGE_PADDING 64
/* Chunk streams one connection may use; publishers use a handful. */
#define RTMP_MAX_CHUNK_STREAMS 64
#define RTMP_EXTENDED_TIMESTAMP 0xFFFFFFu

enum rtmp_message_type {
    RTMP_MESSAGE_SET_CHUNK_SIZE = 1,
    RTMP_MESSAGE_ABORT = 2,
    RTMP_MESSAGE_ACKNOWLEDGEMENT = 3,
    RTMP_MESSAGE_USER_CONTROL = 4,
    RTMP_MESSAGE_WINDOW_ACK_SIZE = 5,
    RTMP_MESSAGE_SET_PEER_BANDWIDTH = 6,
    RTMP_MESSAGE_AUDIO = 8,
    RTMP_MESSAGE_VIDEO = 9,
    RTMP_MESSAGE_DATA_AMF3 = 15,
    RTMP_MESSAGE_SHARED_OBJECT_AMF3 = 16,
    RTMP_MESSAGE_COMMAND_AMF3 = 17,
    RTMP_MESSAGE_DATA_AMF0 = 18,
    RTMP_MESSAGE_SHARED_OBJECT_AMF0 = 19,
    RTMP_MESSAGE_COMMAND_AMF0 = 20,
    RTMP_MESSAGE_AGGREGATE = 22
};

enum rtmp_user_control_event {
    RTMP_USER_STREAM_BEGIN = 0,
    RTMP_USER_STREAM_EOF = 1,
    RTMP_USER_PING_REQUEST = 6,
    RTMP_USER_PING_RESPONSE = 7
};

typedef struct rtmp_message {
    uint32_t chunk_stream_id;
    uint32_t message_stream_id;
    uint8_t type;
    uint32_t timestamp;   /* 32 bits as the chunk headers give it */
    /* malloc'd, followed by RTMP_MESSAGE_PADDING zero bytes; the receiver
     * of the message frees it. */
    uint8_t *data;
    size_t length;
} rtmp_message;

typedef struct rtmp_chunk_stream {
    uint32_t id;
    uint32_t timestamp;        /* of the message in progress, or the last one */
    uint32_t timestamp_field;  /* the last header's delta (absolute for type 0) */
    int extended;              /* the last type 0-2 header used the extended field */
    uint32_t message_length;
    uint8_t message_type;
    uint32_t message_stream_id;
    uint8_t *payload;          /* the message being assembled, NULL between messages */
    uint32_t received;
} rtmp_chunk_stream;

typedef struct rtmp_chunk_reader {
    uint32_t chunk_size;             /* the peer's, from Set Chunk Size */
    uint32_t max_message_size;       /* larger messages are an error */
    size_t max_assembling_bytes;     /* all partial messages together */
    size_t assembling_bytes;
    rtmp_chunk_stream streams[RTMP_MAX_CHUNK_STREAMS];
    size_t stream_count;
    rtmp_chunk_stream *current;      /* the chunk whose payload is arriving */
    uint32_t chunk_remaining;
    /* Type-3 chunks that should have repeated the extended timestamp but
     * did not (a known encoder bug, tolerated). */
    uint64_t missing_extended_timestamps;
    /* Messages whose header needed the extended timestamp (past 4 h 39 m,
     * or a delta that large). */
    uint64_t extended_timestamp_messages;
    char error[160];
} rtmp_chunk_reader;

void rtmp_chunk_reader_init(rtmp_chunk_reader *reader, uint32_t max_message_size,
                            size_t max_assembling_bytes);
/* Frees the partial messages. */
void rtmp_chunk_reader_clear(rtmp_chunk_reader *reader);
/* Consumes from data[0..size): returns 1 with *message filled when a
 * message completed, 0 when everything usable was consumed (keep the
 * unconsumed rest, at most one incomplete chunk header, and feed it again
 * with more bytes), -1 on a protocol error (reader->error says which).
 * *consumed is set in every case. */
int rtmp_chunk_reader_feed(rtmp_chunk_reader *reader, const uint8_t *data, size_t size,
                           size_t *consumed, rtmp_message *message);

/* Appends one message as chunks: a type-0 header, then type-3 headers,
 * each with the extended timestamp when the timestamp needs it. */
void rtmp_chunk_write(byte_buffer *out, uint32_t chunk_stream_id, uint8_t type,
                      uint32_t message_stream_id, uint32_t timestamp, const uint8_t *payload,
                      size_t length, uint32_t chunk_size);

/* Protocol control messages (chunk stream 2, message stream 0). */
void rtmp_write_set_chunk_size(byte_buffer *out, uint32_t chunk_size);
void rtmp_write_window_ack_size(byte_buffer *out, uint32_t window);
void rtmp_write_set_peer_bandwidth(byte_buffer *out, uint32_t window, uint8_t limit_type);
void rtmp_write_acknowledgement(byte_buffer *out, uint32_t sequence_number);
void rtmp_write_user_control(byte_buffer *out, uint16_t event, uint32_t value);

/* 1 when C0 asks for the plain (unencrypted) protocol. */
int rtmp_handshake_version_ok(uint8_t version);
/* S0, S1 and S2 answering C1, the simple handshake: S1 carries our time, a
 * zero version field (which tells librtmp and FFmpeg not to look for a
 * digest) and random bytes; S2 echoes C1. `out` holds
 * 1 + 2 * RTMP_HANDSHAKE_SIZE bytes. */
void rtmp_handshake_response(const uint8_t *c1, uint32_t server_time_ms, uint64_t seed, uint8_t *out);

#endif
