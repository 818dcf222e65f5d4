/* Unit tests of the rtmp module's protocol code: the handshake, chunk
 * stream reassembly (chunk types 0-3, chunk size changes, extended
 * timestamps including on type-3 chunks, aborts, interleaving, limits),
 * RTMP timestamp unwrapping, AMF0 encoding/decoding/JSON, and FLV tag
 * bodies to codec configurations and packets. */
#include "rtmp_address.h"
#include "rtmp_amf0.h"
#include "rtmp_bytes.h"
#include "rtmp_chunk.h"
#include "rtmp_flv.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers: chunk headers written by hand, as various encoders do ---- */

static void put_basic(byte_buffer *out, unsigned type, uint32_t id)
{
    if (id < 64) {
        byte_buffer_append_byte(out, (uint8_t)(type << 6 | id));
    } else if (id < 320) {
        byte_buffer_append_byte(out, (uint8_t)(type << 6));
        byte_buffer_append_byte(out, (uint8_t)(id - 64));
    } else {
        byte_buffer_append_byte(out, (uint8_t)(type << 6 | 1));
        byte_buffer_append_byte(out, (uint8_t)((id - 64) & 0xFF));
        byte_buffer_append_byte(out, (uint8_t)((id - 64) >> 8));
    }
}

static void put_field(byte_buffer *out, uint32_t value)
{
    byte_buffer_append_be24(out, value >= RTMP_EXTENDED_TIMESTAMP ? RTMP_EXTENDED_TIMESTAMP : value);
}

static void put_extended(byte_buffer *out, uint32_t value)
{
    if (value >= RTMP_EXTENDED_TIMESTAMP)
        byte_buffer_append_be32(out, value);
}

static void put_type0(byte_buffer *out, uint32_t id, uint32_t timestamp, uint32_t length, uint8_t type,
                      uint32_t stream)
{
    put_basic(out, 0, id);
    put_field(out, timestamp);
    byte_buffer_append_be24(out, length);
    byte_buffer_append_byte(out, type);
    byte_buffer_append_le32(out, stream);
    put_extended(out, timestamp);
}

static void put_type1(byte_buffer *out, uint32_t id, uint32_t delta, uint32_t length, uint8_t type)
{
    put_basic(out, 1, id);
    put_field(out, delta);
    byte_buffer_append_be24(out, length);
    byte_buffer_append_byte(out, type);
    put_extended(out, delta);
}

static void put_type2(byte_buffer *out, uint32_t id, uint32_t delta)
{
    put_basic(out, 2, id);
    put_field(out, delta);
    put_extended(out, delta);
}

static void put_payload(byte_buffer *out, uint8_t first, size_t length)
{
    for (size_t i = 0; i < length; i++)
        byte_buffer_append_byte(out, (uint8_t)(first + i));
}

#define MAX_COLLECTED 80

typedef struct collected {
    rtmp_message messages[MAX_COLLECTED];
    size_t count;
    int error;
} collected;

/* Feeds `size` bytes in pieces of `piece` bytes, keeping the unconsumed
 * rest like the server does, and collects the messages. */
static void feed(rtmp_chunk_reader *reader, const uint8_t *data, size_t size, size_t piece, collected *out)
{
    byte_buffer pending = { 0 };
    size_t offset = 0;
    memset(out, 0, sizeof(*out));
    while (offset < size && !out->error) {
        size_t count = size - offset < piece ? size - offset : piece;
        byte_buffer_append(&pending, data + offset, count);
        offset += count;
        size_t used = 0;
        for (;;) {
            size_t consumed = 0;
            rtmp_message message;
            int result = rtmp_chunk_reader_feed(reader, pending.data + used, pending.length - used, &consumed,
                                                &message);
            ck_assert_uint_le(consumed, pending.length - used);
            used += consumed;
            if (result < 0) {
                out->error = 1;
                break;
            }
            if (result == 0)
                break;
            ck_assert_uint_lt(out->count, MAX_COLLECTED);
            out->messages[out->count++] = message;
        }
        byte_buffer_consume(&pending, used);
    }
    byte_buffer_free(&pending);
}

static void release(collected *out)
{
    for (size_t i = 0; i < out->count; i++)
        free(out->messages[i].data);
    out->count = 0;
}

static void assert_payload(const rtmp_message *message, uint8_t first, size_t length)
{
    ck_assert_uint_eq(message->length, length);
    for (size_t i = 0; i < length; i++)
        ck_assert_uint_eq(message->data[i], (uint8_t)(first + i));
    for (size_t i = 0; i < RTMP_MESSAGE_PADDING; i++)
        ck_assert_uint_eq(message->data[length + i], 0);
}

/* ---- handshake ------------------------------------------------------- */

START_TEST(handshake_answers_c1_with_s0_s1_s2)
{
    uint8_t c1[RTMP_HANDSHAKE_SIZE];
    for (size_t i = 0; i < sizeof(c1); i++)
        c1[i] = (uint8_t)(i * 7 + 3);
    uint8_t out[1 + 2 * RTMP_HANDSHAKE_SIZE];
    rtmp_handshake_response(c1, 0x01020304, 42, out);
    ck_assert_uint_eq(out[0], 3);
    const uint8_t *s1 = out + 1, *s2 = out + 1 + RTMP_HANDSHAKE_SIZE;
    ck_assert_uint_eq(read_be32(s1), 0x01020304);
    ck_assert_uint_eq(read_be32(s1 + 4), 0); /* simple handshake: no digest */
    /* S2 echoes C1 byte for byte (librtmp warns on any difference). */
    ck_assert_int_eq(memcmp(s2, c1, RTMP_HANDSHAKE_SIZE), 0);
    /* S1's random part is not all one byte and differs with the seed. */
    uint8_t other[1 + 2 * RTMP_HANDSHAKE_SIZE];
    rtmp_handshake_response(c1, 0x01020304, 43, other);
    ck_assert_int_ne(memcmp(s1 + 8, other + 1 + 8, RTMP_HANDSHAKE_SIZE - 8), 0);
    ck_assert_int_eq(rtmp_handshake_version_ok(3), 1);
    ck_assert_int_eq(rtmp_handshake_version_ok(6), 0); /* RTMPE */
}
END_TEST

/* ---- chunk streams ---------------------------------------------------- */

START_TEST(chunks_reassemble_a_message_whatever_the_read_sizes)
{
    /* 300 bytes at the default chunk size: 128 + 128 + 44, the last two
     * behind type-3 headers. */
    byte_buffer wire = { 0 };
    put_type0(&wire, 4, 1000, 300, RTMP_MESSAGE_VIDEO, 1);
    put_payload(&wire, 0, 128);
    put_basic(&wire, 3, 4);
    put_payload(&wire, 128, 128);
    put_basic(&wire, 3, 4);
    put_payload(&wire, 0, 44);
    /* Zero-length messages exist too (an empty data message). */
    put_type0(&wire, 5, 7, 0, RTMP_MESSAGE_DATA_AMF0, 1);
    size_t pieces[] = { 1, 2, 7, 100, 5000 };
    for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
        rtmp_chunk_reader reader;
        rtmp_chunk_reader_init(&reader, RTMP_LARGEST_MESSAGE, 1 << 20);
        collected out;
        feed(&reader, wire.data, wire.length, pieces[p], &out);
        ck_assert_int_eq(out.error, 0);
        ck_assert_uint_eq(out.count, 2);
        ck_assert_uint_eq(out.messages[0].type, RTMP_MESSAGE_VIDEO);
        ck_assert_uint_eq(out.messages[0].timestamp, 1000);
        ck_assert_uint_eq(out.messages[0].message_stream_id, 1);
        ck_assert_uint_eq(out.messages[0].chunk_stream_id, 4);
        ck_assert_uint_eq(out.messages[0].length, 300);
        for (size_t i = 0; i < 256; i++)
            ck_assert_uint_eq(out.messages[0].data[i], (uint8_t)i);
        for (size_t i = 0; i < 44; i++)
            ck_assert_uint_eq(out.messages[0].data[256 + i], (uint8_t)i);
        ck_assert_uint_eq(out.messages[1].length, 0);
        ck_assert_uint_eq(out.messages[1].timestamp, 7);
        ck_assert_uint_eq(reader.assembling_bytes, 0);
        release(&out);
        rtmp_chunk_reader_clear(&reader);
    }
    byte_buffer_free(&wire);
}
END_TEST

START_TEST(header_types_1_2_3_accumulate_deltas)
{
    byte_buffer wire = { 0 };
    put_type0(&wire, 6, 5000, 10, RTMP_MESSAGE_AUDIO, 1);  /* t = 5000 */
    put_payload(&wire, 1, 10);
    put_type1(&wire, 6, 23, 12, RTMP_MESSAGE_VIDEO);         /* t = 5023, new length and type */
    put_payload(&wire, 2, 12);
    put_type2(&wire, 6, 21);                                 /* t = 5044, same length and type */
    put_payload(&wire, 3, 12);
    put_basic(&wire, 3, 6);                                  /* t = 5065: repeats the delta 21 */
    put_payload(&wire, 4, 12);
    put_basic(&wire, 3, 6);                                  /* t = 5086 */
    put_payload(&wire, 5, 12);
    /* Type 3 after type 0 repeats the type-0 timestamp as the delta (the
     * specification's rule, which FFmpeg's writer follows). */
    put_type0(&wire, 7, 40, 3, RTMP_MESSAGE_AUDIO, 1);
    put_payload(&wire, 6, 3);
    put_basic(&wire, 3, 7);
    put_payload(&wire, 7, 3);
    rtmp_chunk_reader reader;
    rtmp_chunk_reader_init(&reader, RTMP_LARGEST_MESSAGE, 1 << 20);
    collected out;
    feed(&reader, wire.data, wire.length, 3, &out);
    ck_assert_int_eq(out.error, 0);
    ck_assert_uint_eq(out.count, 7);
    const uint32_t times[7] = { 5000, 5023, 5044, 5065, 5086, 40, 80 };
    const uint8_t types[7] = { 8, 9, 9, 9, 9, 8, 8 };
    const size_t lengths[7] = { 10, 12, 12, 12, 12, 3, 3 };
    for (size_t i = 0; i < 7; i++) {
        ck_assert_uint_eq(out.messages[i].timestamp, times[i]);
        ck_assert_uint_eq(out.messages[i].type, types[i]);
        ck_assert_uint_eq(out.messages[i].message_stream_id, 1);
        assert_payload(&out.messages[i], (uint8_t)(i + 1), lengths[i]);
    }
    release(&out);
    rtmp_chunk_reader_clear(&reader);
    byte_buffer_free(&wire);
}
END_TEST

START_TEST(extended_timestamps_on_every_chunk_type)
{
    /* The 24-bit field runs out at 0xFFFFFF ms (4 h 39 m 37 s): from there
     * the 32-bit value follows the header, and type-3 chunks of the same
     * message repeat it. */
    const uint32_t start = 0xFFFFFFu + 17;
    byte_buffer wire = { 0 };
    put_type0(&wire, 4, 0xFFFFF0u, 5, RTMP_MESSAGE_AUDIO, 1);   /* just below: no extension */
    put_payload(&wire, 1, 5);
    put_type0(&wire, 4, start, 200, RTMP_MESSAGE_VIDEO, 1);     /* extended */
    put_payload(&wire, 2, 128);
    put_basic(&wire, 3, 4);
    byte_buffer_append_be32(&wire, start);                        /* repeated on the continuation */
    put_payload(&wire, 130, 72);
    put_type2(&wire, 4, 33);                                      /* a small delta: no extension */
    put_payload(&wire, 3, 128);
    put_basic(&wire, 3, 4);
    put_payload(&wire, 131, 72);
    put_type1(&wire, 4, 0x1000000u, 4, RTMP_MESSAGE_VIDEO);     /* a delta that needs the extension */
    put_payload(&wire, 4, 4);
    put_basic(&wire, 3, 4);                                       /* new message, repeats that delta */
    byte_buffer_append_be32(&wire, 0x1000000u);
    put_payload(&wire, 5, 4);
    rtmp_chunk_reader reader;
    rtmp_chunk_reader_init(&reader, RTMP_LARGEST_MESSAGE, 1 << 20);
    collected out;
    feed(&reader, wire.data, wire.length, 1, &out);
    ck_assert_int_eq(out.error, 0);
    ck_assert_uint_eq(out.count, 5);
    ck_assert_uint_eq(out.messages[0].timestamp, 0xFFFFF0u);
    ck_assert_uint_eq(out.messages[1].timestamp, start);
    ck_assert_uint_eq(out.messages[1].length, 200);
    for (size_t i = 0; i < 128; i++)
        ck_assert_uint_eq(out.messages[1].data[i], (uint8_t)(2 + i));
    for (size_t i = 0; i < 72; i++)
        ck_assert_uint_eq(out.messages[1].data[128 + i], (uint8_t)(130 + i));
    ck_assert_uint_eq(out.messages[2].timestamp, start + 33);
    ck_assert_uint_eq(out.messages[2].length, 200);
    ck_assert_uint_eq(out.messages[2].data[128], 131);
    ck_assert_uint_eq(out.messages[3].timestamp, start + 33 + 0x1000000u);
    assert_payload(&out.messages[3], 4, 4);
    ck_assert_uint_eq(out.messages[4].timestamp, start + 33 + 2 * 0x1000000u);
    assert_payload(&out.messages[4], 5, 4);
    ck_assert_uint_eq(reader.missing_extended_timestamps, 0);
    ck_assert_uint_eq(reader.extended_timestamp_messages, 3);
    release(&out);
    rtmp_chunk_reader_clear(&reader);
    byte_buffer_free(&wire);
}
END_TEST

START_TEST(type3_chunks_without_the_extended_timestamp_are_tolerated)
{
    /* Some encoders leave the repeated extended timestamp out of type-3
     * continuation chunks (node-rtsp-rtmp-server#127 and many others). */
    const uint32_t start = 0x01234567;
    byte_buffer wire = { 0 };
    put_type0(&wire, 4, start, 300, RTMP_MESSAGE_VIDEO, 1);
    put_payload(&wire, 9, 128);
    put_basic(&wire, 3, 4);
    put_payload(&wire, 137, 128);
    put_basic(&wire, 3, 4);
    put_payload(&wire, 9, 44);
    rtmp_chunk_reader reader;
    rtmp_chunk_reader_init(&reader, RTMP_LARGEST_MESSAGE, 1 << 20);
    collected out;
    feed(&reader, wire.data, wire.length, 4096, &out);
    ck_assert_int_eq(out.error, 0);
    ck_assert_uint_eq(out.count, 1);
    ck_assert_uint_eq(out.messages[0].timestamp, start);
    ck_assert_uint_eq(out.messages[0].length, 300);
    ck_assert_uint_eq(out.messages[0].data[128], 137);
    ck_assert_uint_eq(out.messages[0].data[256], 9);
    ck_assert_uint_eq(reader.missing_extended_timestamps, 2);
    release(&out);
    rtmp_chunk_reader_clear(&reader);
    byte_buffer_free(&wire);
}
END_TEST

START_TEST(chunk_size_changes_and_interleaved_streams)
{
    byte_buffer wire = { 0 };
    /* Set Chunk Size 4096 (protocol control on chunk stream 2). */
    uint8_t size_body[4];
    write_be32(size_body, 4096);
    rtmp_chunk_write(&wire, 2, RTMP_MESSAGE_SET_CHUNK_SIZE, 0, 0, size_body, 4, 128);
    /* Two messages interleaved chunk by chunk: video on 6, audio on 4. */
    put_type0(&wire, 6, 100, 5000, RTMP_MESSAGE_VIDEO, 1);
    put_payload(&wire, 0, 4096);
    put_type0(&wire, 4, 90, 300, RTMP_MESSAGE_AUDIO, 1);
    put_payload(&wire, 50, 300);
    put_basic(&wire, 3, 6);
    put_payload(&wire, 0, 904);
    rtmp_chunk_reader reader;
    rtmp_chunk_reader_init(&reader, RTMP_LARGEST_MESSAGE, 1 << 20);
    collected out;
    feed(&reader, wire.data, wire.length, 1000, &out);
    ck_assert_int_eq(out.error, 0);
    ck_assert_uint_eq(out.count, 3);
    ck_assert_uint_eq(out.messages[0].type, RTMP_MESSAGE_SET_CHUNK_SIZE);
    ck_assert_uint_eq(reader.chunk_size, 4096);
    ck_assert_uint_eq(out.messages[1].type, RTMP_MESSAGE_AUDIO);
    assert_payload(&out.messages[1], 50, 300);
    ck_assert_uint_eq(out.messages[2].type, RTMP_MESSAGE_VIDEO);
    ck_assert_uint_eq(out.messages[2].length, 5000);
    ck_assert_uint_eq(out.messages[2].data[4095], (uint8_t)4095);
    ck_assert_uint_eq(out.messages[2].data[4096], 0);
    ck_assert_uint_eq(out.messages[2].data[4999], (uint8_t)903);
    release(&out);
    rtmp_chunk_reader_clear(&reader);
    byte_buffer_free(&wire);
}
END_TEST

START_TEST(abort_discards_the_partial_message)
{
    byte_buffer wire = { 0 };
    put_type0(&wire, 6, 0, 300, RTMP_MESSAGE_VIDEO, 1);
    put_payload(&wire, 0, 128);
    uint8_t abort_body[4];
    write_be32(abort_body, 6);
    rtmp_chunk_write(&wire, 2, RTMP_MESSAGE_ABORT, 0, 0, abort_body, 4, 128);
    /* The chunk stream starts over with a new message. */
    put_type1(&wire, 6, 40, 20, RTMP_MESSAGE_VIDEO);
    put_payload(&wire, 77, 20);
    rtmp_chunk_reader reader;
    rtmp_chunk_reader_init(&reader, RTMP_LARGEST_MESSAGE, 1 << 20);
    collected out;
    feed(&reader, wire.data, wire.length, 64, &out);
    ck_assert_int_eq(out.error, 0);
    ck_assert_uint_eq(out.count, 2);
    ck_assert_uint_eq(out.messages[0].type, RTMP_MESSAGE_ABORT);
    ck_assert_uint_eq(out.messages[1].timestamp, 40);
    assert_payload(&out.messages[1], 77, 20);
    ck_assert_uint_eq(reader.assembling_bytes, 0);
    release(&out);
    rtmp_chunk_reader_clear(&reader);
    byte_buffer_free(&wire);
}
END_TEST

START_TEST(writer_round_trips_through_the_reader)
{
    /* Chunk stream ids in the one-, two- and three-byte forms, timestamps
     * below and above the 24-bit limit, several chunk sizes. */
    const uint32_t ids[] = { 3, 63, 64, 319, 320, 65599 };
    const uint32_t times[] = { 0, 0xFFFFFEu, 0xFFFFFFu, 0x80000001u };
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        for (size_t t = 0; t < sizeof(times) / sizeof(times[0]); t++) {
            byte_buffer wire = { 0 }, payload = { 0 };
            put_payload(&payload, (uint8_t)i, 1000);
            uint8_t size_body[4];
            write_be32(size_body, 300);
            rtmp_chunk_write(&wire, 2, RTMP_MESSAGE_SET_CHUNK_SIZE, 0, 0, size_body, 4, 128);
            rtmp_chunk_write(&wire, ids[i], RTMP_MESSAGE_DATA_AMF0, 5, times[t], payload.data, payload.length, 300);
            rtmp_chunk_reader reader;
            rtmp_chunk_reader_init(&reader, RTMP_LARGEST_MESSAGE, 1 << 20);
            collected out;
            feed(&reader, wire.data, wire.length, 333, &out);
            ck_assert_int_eq(out.error, 0);
            ck_assert_uint_eq(out.count, 2);
            ck_assert_uint_eq(out.messages[1].chunk_stream_id, ids[i]);
            ck_assert_uint_eq(out.messages[1].message_stream_id, 5);
            ck_assert_uint_eq(out.messages[1].timestamp, times[t]);
            assert_payload(&out.messages[1], (uint8_t)i, 1000);
            ck_assert_uint_eq(reader.missing_extended_timestamps, 0);
            release(&out);
            rtmp_chunk_reader_clear(&reader);
            byte_buffer_free(&wire);
            byte_buffer_free(&payload);
        }
    }
}
END_TEST

START_TEST(protocol_errors_are_reported)
{
    rtmp_chunk_reader reader;
    collected out;
    byte_buffer wire = { 0 };

    /* A message over the limit (before publishing: 64 KiB). */
    put_type0(&wire, 3, 0, 70000, RTMP_MESSAGE_COMMAND_AMF0, 0);
    rtmp_chunk_reader_init(&reader, 64 * 1024, 1 << 20);
    feed(&reader, wire.data, wire.length, 100, &out);
    ck_assert_int_eq(out.error, 1);
    ck_assert_ptr_nonnull(strstr(reader.error, "70000"));
    rtmp_chunk_reader_clear(&reader);

    /* A chunk stream that starts without a full header. */
    wire.length = 0;
    put_type1(&wire, 9, 0, 4, RTMP_MESSAGE_AUDIO);
    rtmp_chunk_reader_init(&reader, RTMP_LARGEST_MESSAGE, 1 << 20);
    feed(&reader, wire.data, wire.length, 100, &out);
    ck_assert_int_eq(out.error, 1);
    rtmp_chunk_reader_clear(&reader);

    /* Set Chunk Size 0. */
    wire.length = 0;
    uint8_t zero[4] = { 0 };
    rtmp_chunk_write(&wire, 2, RTMP_MESSAGE_SET_CHUNK_SIZE, 0, 0, zero, 4, 128);
    rtmp_chunk_reader_init(&reader, RTMP_LARGEST_MESSAGE, 1 << 20);
    feed(&reader, wire.data, wire.length, 100, &out);
    ck_assert_int_eq(out.error, 1);
    rtmp_chunk_reader_clear(&reader);

    /* Partial messages beyond the memory budget. */
    wire.length = 0;
    put_type0(&wire, 4, 0, 600, RTMP_MESSAGE_VIDEO, 1);
    put_payload(&wire, 0, 128);
    put_type0(&wire, 5, 0, 600, RTMP_MESSAGE_VIDEO, 1);
    rtmp_chunk_reader_init(&reader, RTMP_LARGEST_MESSAGE, 1000);
    feed(&reader, wire.data, wire.length, 1000, &out);
    ck_assert_int_eq(out.error, 1);
    rtmp_chunk_reader_clear(&reader);

    /* More chunk streams than a connection may use. */
    wire.length = 0;
    for (uint32_t id = 3; id < 3 + RTMP_MAX_CHUNK_STREAMS + 1; id++) {
        put_type0(&wire, id, 0, 10, RTMP_MESSAGE_VIDEO, 1);
        put_payload(&wire, 0, 10);
    }
    rtmp_chunk_reader_init(&reader, RTMP_LARGEST_MESSAGE, 1 << 20);
    feed(&reader, wire.data, wire.length, 100000, &out);
    ck_assert_int_eq(out.error, 1);
    ck_assert_uint_eq(out.count, RTMP_MAX_CHUNK_STREAMS);
    release(&out);
    ck_assert_uint_eq(reader.stream_count, RTMP_MAX_CHUNK_STREAMS);
    rtmp_chunk_reader_clear(&reader);
    ck_assert_uint_eq(reader.assembling_bytes, 0);
    byte_buffer_free(&wire);
}
END_TEST

/* ---- timestamps ---------------------------------------------------------- */

START_TEST(timestamps_unwrap_across_24_31_and_32_bits)
{
    rtmp_timestamp_unwrapper clock = { 0 };
    int wrapped;
    /* The 24-bit boundary is not a wrap at this level: values just go on. */
    ck_assert_int_eq(rtmp_unwrap_timestamp(&clock, 0xFFFFF0u, &wrapped), 0xFFFFF0);
    ck_assert_int_eq(rtmp_unwrap_timestamp(&clock, 0x1000010u, &wrapped), 0x1000010);
    ck_assert_int_eq(wrapped, 0);
    /* A small step back (interleaving) stays a step back. */
    ck_assert_int_eq(rtmp_unwrap_timestamp(&clock, 0x1000000u, &wrapped), 0x1000000);

    /* FFmpeg writes FLV's signed timestamp masked to 31 bits: after
     * 2^31 - 1 ms it starts again near 0. */
    rtmp_timestamp_unwrapper thirty_one = { 0 };
    const int64_t half = INT64_C(1) << 31;
    ck_assert_int_eq(rtmp_unwrap_timestamp(&thirty_one, (uint32_t)(half - 40), &wrapped), half - 40);
    ck_assert_int_eq(rtmp_unwrap_timestamp(&thirty_one, (uint32_t)(half - 7), &wrapped), half - 7);
    ck_assert_int_eq(wrapped, 0);
    ck_assert_int_eq(rtmp_unwrap_timestamp(&thirty_one, 26, &wrapped), half + 26);
    ck_assert_int_eq(wrapped, 1);
    ck_assert_int_eq(rtmp_unwrap_timestamp(&thirty_one, 59, &wrapped), half + 59);
    ck_assert_int_eq(wrapped, 0);

    /* An encoder with full 32-bit timestamps passes 2^31 without a wrap,
     * and wraps at 2^32 (49.7 days). */
    rtmp_timestamp_unwrapper thirty_two = { 0 };
    ck_assert_int_eq(rtmp_unwrap_timestamp(&thirty_two, (uint32_t)(half - 10), &wrapped), half - 10);
    ck_assert_int_eq(rtmp_unwrap_timestamp(&thirty_two, (uint32_t)(half + 23), &wrapped), half + 23);
    ck_assert_int_eq(rtmp_unwrap_timestamp(&thirty_two, 0xFFFFFFF0u, &wrapped), INT64_C(0xFFFFFFF0));
    ck_assert_int_eq(rtmp_unwrap_timestamp(&thirty_two, 0x00000010u, &wrapped), INT64_C(0x100000010));
    ck_assert_int_eq(wrapped, 1);
    ck_assert_int_eq(rtmp_unwrap_timestamp(&thirty_two, 0x00000030u, &wrapped), INT64_C(0x100000030));

    /* A reset to 0 mid-stream (not near 2^31) is a big step back, left to
     * the host to rebase. */
    rtmp_timestamp_unwrapper reset = { 0 };
    rtmp_unwrap_timestamp(&reset, 500000, &wrapped);
    ck_assert_int_eq(rtmp_unwrap_timestamp(&reset, 0, &wrapped), 0);
    ck_assert_int_eq(wrapped, 0);
}
END_TEST

START_TEST(onfi_timecodes_become_utc)
{
    int64_t utc;
    const int64_t second = INT64_C(1000000000);
    /* 2026-11-25 21:22:13 UTC is 1795641733 s after the epoch. */
    ck_assert_int_eq(flv_parse_timecode("25-11-26", "21:22:13.250", 0, &utc), 0);
    ck_assert_int_eq(utc, INT64_C(1795641733) * second + 250000000);
    ck_assert_int_eq(flv_parse_timecode("25-11-2026", "21:22:13", 0, &utc), 0);
    ck_assert_int_eq(utc, INT64_C(1795641733) * second);
    ck_assert_int_eq(flv_parse_timecode("2026-11-25", "21:22:13.5", 0, &utc), 0);
    ck_assert_int_eq(utc, INT64_C(1795641733) * second + 500000000);
    /* An encoder on CET (+60 min) states 22:22:13 for the same instant. */
    ck_assert_int_eq(flv_parse_timecode("25-11-26", "22:22:13", 60 * 60 * second, &utc), 0);
    ck_assert_int_eq(utc, INT64_C(1795641733) * second);
    /* Leap day, end of a leap year, and the epoch. */
    ck_assert_int_eq(flv_parse_timecode("2024-02-29", "00:00:00", 0, &utc), 0);
    ck_assert_int_eq(utc, INT64_C(1709164800) * second);
    ck_assert_int_eq(flv_parse_timecode("31-12-2024", "23:59:59.999", 0, &utc), 0);
    ck_assert_int_eq(utc, INT64_C(1735689599) * second + 999000000);
    ck_assert_int_eq(flv_parse_timecode("1970-01-01", "00:00:00", 0, &utc), 0);
    ck_assert_int_eq(utc, 0);

    static const char *const bad_dates[] = { "", "2023-02-29", "31-04-26", "00-01-26", "2026-13-01",
                                            "2026/11/25", "1969-12-31", "25-11-2x", "25-11-260" };
    for (size_t i = 0; i < sizeof(bad_dates) / sizeof(bad_dates[0]); i++)
        ck_assert_msg(flv_parse_timecode(bad_dates[i], "12:00:00", 0, &utc) != 0, "%s accepted", bad_dates[i]);
    static const char *const bad_times[] = { "", "24:00:00", "12:60:00", "12:00", "12:00:00.", "12:00:00x",
                                            "12:00:00.1a", "1:00:00" };
    for (size_t i = 0; i < sizeof(bad_times) / sizeof(bad_times[0]); i++)
        ck_assert_msg(flv_parse_timecode("2026-11-25", bad_times[i], 0, &utc) != 0, "%s accepted", bad_times[i]);
    ck_assert_int_ne(flv_parse_timecode(NULL, "12:00:00", 0, &utc), 0);
}
END_TEST

/* ---- AMF0 ---------------------------------------------------------------- */

START_TEST(amf0_commands_encode_and_decode)
{
    byte_buffer body = { 0 };
    amf0_write_string(&body, "connect");
    amf0_write_number(&body, 1);
    amf0_write_object_begin(&body);
    amf0_write_property_name(&body, "app");
    amf0_write_string(&body, "live");
    amf0_write_property_name(&body, "tcUrl");
    amf0_write_string(&body, "rtmp://127.0.0.1:1935/live");
    amf0_write_property_name(&body, "fpad");
    amf0_write_boolean(&body, 0);
    amf0_write_property_name(&body, "objectEncoding");
    amf0_write_number(&body, 3);
    amf0_write_object_end(&body);
    amf0_write_null(&body);
    ck_assert_int_eq(body.failed, 0);
    /* The exact bytes of the start: string marker, length, text, number. */
    const uint8_t start[] = { 0x02, 0x00, 0x07, 'c', 'o', 'n', 'n', 'e', 'c', 't', 0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0 };
    ck_assert_int_eq(memcmp(body.data, start, sizeof(start)), 0);

    amf0_reader reader;
    amf0_reader_init(&reader, body.data, body.length);
    const char *name;
    size_t length;
    double transaction;
    ck_assert_int_eq(amf0_read_string(&reader, &name, &length), 0);
    ck_assert_uint_eq(length, 7);
    ck_assert_int_eq(memcmp(name, "connect", 7), 0);
    ck_assert_int_eq(amf0_read_number(&reader, &transaction), 0);
    ck_assert_double_eq(transaction, 1.0);
    amf0_reader object = reader;
    char app[16];
    double encoding;
    ck_assert_int_eq(amf0_get_string_property(&object, "app", app, sizeof(app)), 0);
    ck_assert_str_eq(app, "live");
    ck_assert_int_eq(amf0_get_number_property(&object, "objectEncoding", &encoding), 0);
    ck_assert_double_eq(encoding, 3.0);
    ck_assert_int_eq(amf0_get_number_property(&object, "fpad", &encoding), 0); /* a boolean as 0/1 */
    ck_assert_double_eq(encoding, 0.0);
    ck_assert_int_ne(amf0_get_string_property(&object, "missing", app, sizeof(app)), 0);
    ck_assert_int_ne(amf0_get_string_property(&object, "tcUrl", app, sizeof(app)), 0); /* too long */
    ck_assert_int_ne(amf0_get_number_property(&object, "app", &encoding), 0);         /* not a number */
    ck_assert_int_eq(amf0_skip_value(&reader), 0);
    ck_assert_int_eq(amf0_read_null(&reader), 0);
    ck_assert_int_eq(amf0_at_end(&reader), 1);
    ck_assert_int_ne(amf0_read_null(&reader), 0);

    /* Truncated anywhere: every read fails cleanly. */
    for (size_t cut = 0; cut < body.length - 1; cut++) {
        amf0_reader short_reader;
        amf0_reader_init(&short_reader, body.data, cut);
        int failed = amf0_read_string(&short_reader, &name, &length) != 0 ||
                     amf0_read_number(&short_reader, &transaction) != 0 || amf0_skip_value(&short_reader) != 0 ||
                     amf0_read_null(&short_reader) != 0;
        ck_assert_int_eq(failed, 1);
    }
    byte_buffer_free(&body);
}
END_TEST

START_TEST(amf0_values_become_json)
{
    byte_buffer body = { 0 };
    amf0_write_ecma_array_begin(&body, 6);
    amf0_write_property_name(&body, "width");
    amf0_write_number(&body, 1280);
    amf0_write_property_name(&body, "framerate");
    amf0_write_number(&body, 29.97);
    amf0_write_property_name(&body, "stereo");
    amf0_write_boolean(&body, 1);
    amf0_write_property_name(&body, "encoder");
    amf0_write_string(&body, "say \"hi\"\n\x01\xff\xc3\xa9");
    amf0_write_property_name(&body, "nested");
    amf0_write_object_begin(&body);
    amf0_write_property_name(&body, "none");
    amf0_write_null(&body);
    amf0_write_object_end(&body);
    amf0_write_property_name(&body, "list");
    byte_buffer_append_byte(&body, AMF0_STRICT_ARRAY);
    byte_buffer_append_be32(&body, 2);
    amf0_write_number(&body, -1.5);
    amf0_write_undefined(&body);
    amf0_write_object_end(&body);
    byte_buffer json = { 0 };
    amf0_reader reader;
    amf0_reader_init(&reader, body.data, body.length);
    ck_assert_int_eq(amf0_value_to_json(&reader, &json), 0);
    ck_assert_int_eq(amf0_at_end(&reader), 1);
    char *text = byte_buffer_take_text(&json);
    ck_assert_str_eq(text, "{\"width\":1280,\"framerate\":29.97,\"stereo\":true,"
                           "\"encoder\":\"say \\\"hi\\\"\\n\\u0001\\ufffd\xc3\xa9\","
                           "\"nested\":{\"none\":null},\"list\":[-1.5,null]}");
    free(text);

    /* An ECMA array without its end marker (some encoders) still reads;
     * a date is its milliseconds; a long string is a string. */
    body.length = 0;
    amf0_write_ecma_array_begin(&body, 1);
    amf0_write_property_name(&body, "when");
    byte_buffer number = { 0 };
    amf0_write_number(&number, 1700000000000.0);
    byte_buffer_append_byte(&body, AMF0_DATE);   /* a date: the number's 8 bytes... */
    byte_buffer_append(&body, number.data + 1, 8);
    byte_buffer_append_be16(&body, 0);           /* ...and a time zone */
    byte_buffer_free(&number);
    amf0_reader_init(&reader, body.data, body.length);
    byte_buffer dated = { 0 };
    ck_assert_int_eq(amf0_value_to_json(&reader, &dated), 0);
    text = byte_buffer_take_text(&dated);
    ck_assert_str_eq(text, "{\"when\":1700000000000}");
    free(text);

    /* Nesting deeper than the limit is refused, not recursed into. */
    body.length = 0;
    for (int depth = 0; depth < AMF0_MAX_DEPTH + 2; depth++) {
        amf0_write_object_begin(&body);
        amf0_write_property_name(&body, "a");
    }
    amf0_write_null(&body);
    for (int depth = 0; depth < AMF0_MAX_DEPTH + 2; depth++)
        amf0_write_object_end(&body);
    amf0_reader_init(&reader, body.data, body.length);
    byte_buffer deep = { 0 };
    ck_assert_int_ne(amf0_value_to_json(&reader, &deep), 0);
    ck_assert_uint_eq(deep.length, 0);
    ck_assert_int_ne(amf0_skip_value(&reader), 0);
    ck_assert_uint_eq(reader.position, 0);
    byte_buffer_free(&deep);

    /* A strict array claiming more values than bytes is refused at once. */
    body.length = 0;
    byte_buffer_append_byte(&body, AMF0_STRICT_ARRAY);
    byte_buffer_append_be32(&body, 0xFFFFFFFFu);
    amf0_reader_init(&reader, body.data, body.length);
    ck_assert_int_ne(amf0_skip_value(&reader), 0);
    byte_buffer_free(&body);
}
END_TEST

/* ---- FLV tags ------------------------------------------------------------- */

/* x264's SPS and PPS for 320x180 (cropped from 320x192) and 1920x1080. */
static const uint8_t sps_320x180[] = { 0x67, 0x64, 0x00, 0x0d, 0xac, 0xd9, 0x41, 0x41, 0x9f, 0x9f, 0x01, 0x10, 0x00,
                                       0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x42, 0x99, 0x60 };
static const uint8_t sps_1920x1080[] = { 0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x78, 0x02, 0x27, 0xe5,
                                         0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00,
                                         0xf0, 0x3c, 0x60, 0xc6, 0x58 };
static const uint8_t pps[] = { 0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0 };

static void make_avcc(byte_buffer *out, const uint8_t *sps, size_t sps_size)
{
    byte_buffer_append_byte(out, 1);
    byte_buffer_append(out, sps + 1, 3); /* profile, compatibility, level */
    byte_buffer_append_byte(out, 0xFF);  /* 4-byte NAL lengths */
    byte_buffer_append_byte(out, 0xE1);  /* one SPS */
    byte_buffer_append_be16(out, (uint32_t)sps_size);
    byte_buffer_append(out, sps, sps_size);
    byte_buffer_append_byte(out, 1);     /* one PPS */
    byte_buffer_append_be16(out, sizeof(pps));
    byte_buffer_append(out, pps, sizeof(pps));
}

START_TEST(avc_sequence_header_and_frames)
{
    byte_buffer tag = { 0 };
    const uint8_t header[5] = { 0x17, 0x00, 0x00, 0x00, 0x00 }; /* keyframe, AVC, sequence header */
    byte_buffer_append(&tag, header, sizeof(header));
    make_avcc(&tag, sps_320x180, sizeof(sps_320x180));
    flv_media media;
    ck_assert_int_eq(flv_parse_video(tag.data, tag.length, &media), 0);
    ck_assert_int_eq(media.codec, FLV_CODEC_H264);
    ck_assert_int_eq(media.kind, FLV_PACKET_CONFIG);
    ck_assert_uint_eq(media.payload_offset, 5);
    ck_assert_uint_eq(media.payload_size, tag.length - 5);
    ck_assert_str_eq(flv_codec_name(media.codec), "h264");

    flv_video_config config;
    ck_assert_int_eq(flv_parse_avc_config(tag.data + 5, tag.length - 5, &config), 0);
    ck_assert_int_eq(config.width, 320);
    ck_assert_int_eq(config.height, 180);
    ck_assert_int_eq(config.profile, 100);
    ck_assert_int_eq(config.level, 13);
    ck_assert_int_eq(config.nal_length_size, 4);
    ck_assert_int_eq(config.chroma_format, 1);
    ck_assert_int_eq(config.bit_depth, 8);

    byte_buffer full_hd = { 0 };
    make_avcc(&full_hd, sps_1920x1080, sizeof(sps_1920x1080));
    ck_assert_int_eq(flv_parse_avc_config(full_hd.data, full_hd.length, &config), 0);
    ck_assert_int_eq(config.width, 1920);
    ck_assert_int_eq(config.height, 1080);
    ck_assert_int_eq(config.level, 40);
    /* The parameter sets in band: length-prefixed SPS then PPS. */
    byte_buffer in_band = { 0 };
    ck_assert_int_eq(flv_parameter_sets(FLV_CODEC_H264, full_hd.data, full_hd.length, &in_band), 0);
    ck_assert_uint_eq(in_band.length, 4 + sizeof(sps_1920x1080) + 4 + sizeof(pps));
    ck_assert_uint_eq(read_be32(in_band.data), sizeof(sps_1920x1080));
    ck_assert_int_eq(memcmp(in_band.data + 4, sps_1920x1080, sizeof(sps_1920x1080)), 0);
    ck_assert_uint_eq(read_be32(in_band.data + 4 + sizeof(sps_1920x1080)), sizeof(pps));
    /* A truncated record is refused. */
    ck_assert_int_ne(flv_parse_avc_config(full_hd.data, full_hd.length - 3, &config), 0);
    byte_buffer_free(&full_hd);
    byte_buffer_free(&in_band);

    /* Coded frames: key flag from the frame type, composition time as a
     * signed 24-bit offset (pts = dts + offset). */
    const uint8_t key[9] = { 0x17, 0x01, 0x00, 0x00, 0x42, 0, 0, 0, 1 };
    ck_assert_int_eq(flv_parse_video(key, sizeof(key), &media), 0);
    ck_assert_int_eq(media.kind, FLV_PACKET_FRAME);
    ck_assert_int_eq(media.keyframe, 1);
    ck_assert_int_eq(media.composition_offset, 66);
    ck_assert_uint_eq(media.payload_offset, 5);
    ck_assert_uint_eq(media.payload_size, 4);
    const uint8_t inter[9] = { 0x27, 0x01, 0xFF, 0xFF, 0xDF, 0, 0, 0, 1 };
    ck_assert_int_eq(flv_parse_video(inter, sizeof(inter), &media), 0);
    ck_assert_int_eq(media.keyframe, 0);
    ck_assert_int_eq(media.composition_offset, -33);
    const uint8_t end[5] = { 0x17, 0x02, 0, 0, 0 };
    ck_assert_int_eq(flv_parse_video(end, sizeof(end), &media), 0);
    ck_assert_int_eq(media.kind, FLV_PACKET_END);
    /* Malformed: too short, unknown AVC packet type. */
    ck_assert_int_ne(flv_parse_video(key, 3, &media), 0);
    const uint8_t bad[5] = { 0x17, 0x07, 0, 0, 0 };
    ck_assert_int_ne(flv_parse_video(bad, sizeof(bad), &media), 0);
    /* Other legacy codecs (VP6 = 4) parse as unsupported. */
    const uint8_t vp6[3] = { 0x14, 0x00, 0x00 };
    ck_assert_int_eq(flv_parse_video(vp6, sizeof(vp6), &media), 0);
    ck_assert_int_eq(media.codec, FLV_CODEC_NONE);
    ck_assert_uint_eq(media.source_id, 4);
    byte_buffer_free(&tag);
}
END_TEST

START_TEST(enhanced_rtmp_hevc_and_av1)
{
    /* Enhanced RTMP: IsExHeader | frame type << 4 | packet type, FourCC. */
    const uint8_t hevc_frame[12] = { 0x80 | 0x10 | 1, 'h', 'v', 'c', '1', 0x00, 0x00, 0x21, 0, 0, 0, 2 };
    flv_media media;
    ck_assert_int_eq(flv_parse_video(hevc_frame, sizeof(hevc_frame), &media), 0);
    ck_assert_int_eq(media.codec, FLV_CODEC_HEVC);
    ck_assert_int_eq(media.enhanced, 1);
    ck_assert_int_eq(media.kind, FLV_PACKET_FRAME);
    ck_assert_int_eq(media.keyframe, 1);
    ck_assert_int_eq(media.composition_offset, 33);
    ck_assert_uint_eq(media.payload_offset, 8);
    ck_assert_uint_eq(media.payload_size, 4);
    /* CodedFramesX: no composition time. */
    const uint8_t hevc_x[9] = { 0x80 | 0x20 | 3, 'h', 'v', 'c', '1', 0, 0, 0, 2 };
    ck_assert_int_eq(flv_parse_video(hevc_x, sizeof(hevc_x), &media), 0);
    ck_assert_int_eq(media.keyframe, 0);
    ck_assert_int_eq(media.composition_offset, 0);
    ck_assert_uint_eq(media.payload_offset, 5);
    const uint8_t av1_start[9] = { 0x80 | 0x10 | 0, 'a', 'v', '0', '1', 0x81, 0x08, 0x0c, 0x00 };
    ck_assert_int_eq(flv_parse_video(av1_start, sizeof(av1_start), &media), 0);
    ck_assert_int_eq(media.codec, FLV_CODEC_AV1);
    ck_assert_int_eq(media.kind, FLV_PACKET_CONFIG);
    ck_assert_uint_eq(media.payload_size, 4);
    const uint8_t unknown[6] = { 0x80 | 0x10 | 1, 'x', 'y', 'z', 'w', 0 };
    ck_assert_int_eq(flv_parse_video(unknown, sizeof(unknown), &media), 0);
    ck_assert_int_eq(media.codec, FLV_CODEC_NONE);
    ck_assert_uint_eq(media.source_id, 0x78797A77u);

    /* A HEVCDecoderConfigurationRecord with one VPS array of one unit. */
    uint8_t hvcc[23 + 3 + 2 + 4] = { 1, 0x01, 0x60, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 93, 0xF0, 0, 0xFC, 0xFD, 0xFA,
                                     0xFA, 0, 0, 0x0F, 1, 0x20, 0, 1, 0, 4, 0x40, 0x01, 0x0C, 0x01 };
    flv_video_config config;
    ck_assert_int_eq(flv_parse_hevc_config(hvcc, sizeof(hvcc), &config), 0);
    ck_assert_int_eq(config.profile, 1);
    ck_assert_int_eq(config.level, 93);
    ck_assert_int_eq(config.chroma_format, 1);
    ck_assert_int_eq(config.bit_depth, 10);
    ck_assert_int_eq(config.nal_length_size, 4);
    byte_buffer in_band = { 0 };
    ck_assert_int_eq(flv_parameter_sets(FLV_CODEC_HEVC, hvcc, sizeof(hvcc), &in_band), 0);
    const uint8_t expected[8] = { 0, 0, 0, 4, 0x40, 0x01, 0x0C, 0x01 };
    ck_assert_uint_eq(in_band.length, sizeof(expected));
    ck_assert_int_eq(memcmp(in_band.data, expected, sizeof(expected)), 0);
    ck_assert_int_ne(flv_parse_hevc_config(hvcc, sizeof(hvcc) - 1, &config), 0);
    byte_buffer_free(&in_band);
}
END_TEST

START_TEST(aac_sequence_header_and_frames)
{
    const uint8_t header[4] = { 0xAF, 0x00, 0x12, 0x08 }; /* AAC, 44.1 kHz, stereo flag; config */
    flv_media media;
    ck_assert_int_eq(flv_parse_audio(header, sizeof(header), &media), 0);
    ck_assert_int_eq(media.codec, FLV_CODEC_AAC);
    ck_assert_int_eq(media.kind, FLV_PACKET_CONFIG);
    ck_assert_uint_eq(media.payload_offset, 2);
    ck_assert_uint_eq(media.payload_size, 2);
    flv_audio_config config;
    ck_assert_int_eq(flv_parse_aac_config(header + 2, 2, &config), 0);
    ck_assert_int_eq(config.object_type, 2);
    ck_assert_int_eq(config.sample_rate, 44100);
    ck_assert_int_eq(config.channels, 1);
    ck_assert_int_eq(config.frame_size, 1024);
    const uint8_t stereo_48k[2] = { 0x11, 0x90 };
    ck_assert_int_eq(flv_parse_aac_config(stereo_48k, 2, &config), 0);
    ck_assert_int_eq(config.sample_rate, 48000);
    ck_assert_int_eq(config.channels, 2);
    const uint8_t frames_960[2] = { 0x11, 0x94 };
    ck_assert_int_eq(flv_parse_aac_config(frames_960, 2, &config), 0);
    ck_assert_int_eq(config.frame_size, 960);
    /* HE-AAC with explicit SBR: 24 kHz core, 48 kHz out, 2048 samples. */
    const uint8_t he_aac[3] = { 0x2B, 0x11, 0x88 };
    ck_assert_int_eq(flv_parse_aac_config(he_aac, 3, &config), 0);
    ck_assert_int_eq(config.object_type, 5);
    ck_assert_int_eq(config.sample_rate, 48000);
    ck_assert_int_eq(config.channels, 2);
    ck_assert_int_eq(config.frame_size, 2048);
    ck_assert_int_ne(flv_parse_aac_config(header + 2, 1, &config), 0);

    const uint8_t raw[5] = { 0xAF, 0x01, 0x21, 0x10, 0x04 };
    ck_assert_int_eq(flv_parse_audio(raw, sizeof(raw), &media), 0);
    ck_assert_int_eq(media.kind, FLV_PACKET_FRAME);
    ck_assert_int_eq(media.keyframe, 1);
    ck_assert_uint_eq(media.payload_offset, 2);
    ck_assert_uint_eq(media.payload_size, 3);
    const uint8_t mp3[3] = { 0x2F, 0xFF, 0xFB };
    ck_assert_int_eq(flv_parse_audio(mp3, sizeof(mp3), &media), 0);
    ck_assert_int_eq(media.codec, FLV_CODEC_NONE);
    ck_assert_uint_eq(media.source_id, 2);
    const uint8_t bad[2] = { 0xAF, 0x05 };
    ck_assert_int_ne(flv_parse_audio(bad, sizeof(bad), &media), 0);
}
END_TEST

START_TEST(aggregate_messages_split_into_tags)
{
    byte_buffer aggregate = { 0 };
    const uint8_t audio[3] = { 0xAF, 0x01, 0x55 };
    const uint8_t video[6] = { 0x27, 0x01, 0, 0, 0, 0x66 };
    /* Tag: type, size, timestamp (24 + 8 bits), stream id, data, back pointer. */
    byte_buffer_append_byte(&aggregate, 8);
    byte_buffer_append_be24(&aggregate, sizeof(audio));
    byte_buffer_append_be24(&aggregate, 0x000100);
    byte_buffer_append_byte(&aggregate, 0x01);
    byte_buffer_append_be24(&aggregate, 0);
    byte_buffer_append(&aggregate, audio, sizeof(audio));
    byte_buffer_append_be32(&aggregate, 11 + sizeof(audio));
    byte_buffer_append_byte(&aggregate, 9);
    byte_buffer_append_be24(&aggregate, sizeof(video));
    byte_buffer_append_be24(&aggregate, 0x000121);
    byte_buffer_append_byte(&aggregate, 0x01);
    byte_buffer_append_be24(&aggregate, 0);
    byte_buffer_append(&aggregate, video, sizeof(video));
    /* (the last back pointer left out) */
    size_t position = 0;
    flv_tag tag;
    ck_assert_int_eq(flv_next_aggregate_tag(aggregate.data, aggregate.length, &position, &tag), 1);
    ck_assert_uint_eq(tag.type, 8);
    ck_assert_uint_eq(tag.timestamp, 0x01000100u);
    ck_assert_uint_eq(tag.size, sizeof(audio));
    ck_assert_int_eq(memcmp(tag.data, audio, sizeof(audio)), 0);
    ck_assert_int_eq(flv_next_aggregate_tag(aggregate.data, aggregate.length, &position, &tag), 1);
    ck_assert_uint_eq(tag.type, 9);
    ck_assert_uint_eq(tag.timestamp, 0x01000121u);
    ck_assert_int_eq(memcmp(tag.data, video, sizeof(video)), 0);
    ck_assert_int_eq(flv_next_aggregate_tag(aggregate.data, aggregate.length, &position, &tag), 0);
    /* A tag claiming more bytes than there are. */
    position = 0;
    ck_assert_int_eq(flv_next_aggregate_tag(aggregate.data, 12, &position, &tag), -1);
    byte_buffer_free(&aggregate);
}
END_TEST

START_TEST(frame_rates_become_fractions)
{
    int numerator, denominator;
    flv_frame_rate(30.0, &numerator, &denominator);
    ck_assert_int_eq(numerator, 30);
    ck_assert_int_eq(denominator, 1);
    flv_frame_rate(29.97, &numerator, &denominator);
    ck_assert_int_eq(numerator, 30000);
    ck_assert_int_eq(denominator, 1001);
    flv_frame_rate(59.94005994, &numerator, &denominator);
    ck_assert_int_eq(numerator, 60000);
    ck_assert_int_eq(denominator, 1001);
    flv_frame_rate(12.5, &numerator, &denominator);
    ck_assert_int_eq(numerator, 25);
    ck_assert_int_eq(denominator, 2);
    flv_frame_rate(0.0, &numerator, &denominator);
    ck_assert_int_eq(numerator, 0);
    ck_assert_int_eq(denominator, 1);
}
END_TEST

/* ---- the listen address ------------------------------------------------------ */

static int parse_address(const char *text, char *display, size_t display_size, int *family, unsigned *port)
{
    struct sockaddr_storage address;
    socklen_t length;
    char error[200];
    if (rtmp_parse_listen_address(text, &address, &length, display, display_size, error, sizeof(error)) != 0)
        return -1;
    *family = address.ss_family;
    *port = address.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&address)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&address)->sin_port);
    return 0;
}

START_TEST(listen_addresses_default_to_loopback)
{
    char display[96];
    int family;
    unsigned port;
    /* A bare port is loopback, never every interface. */
    ck_assert_int_eq(parse_address("1935", display, sizeof(display), &family, &port), 0);
    ck_assert_str_eq(display, "127.0.0.1:1935");
    ck_assert_int_eq(family, AF_INET);
    ck_assert_uint_eq(port, 1935);
    ck_assert_int_eq(parse_address("0.0.0.0:19350", display, sizeof(display), &family, &port), 0);
    ck_assert_str_eq(display, "0.0.0.0:19350");
    ck_assert_int_eq(parse_address("[::1]:1936", display, sizeof(display), &family, &port), 0);
    ck_assert_str_eq(display, "[::1]:1936");
    ck_assert_int_eq(family, AF_INET6);
    ck_assert_uint_eq(port, 1936);
    /* ":1935" meant every interface elsewhere (ossrs/srs#4690): refused. */
    const char *refused[] = { ":1935", "", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:19x",
                              "::1:1935", "[::1]1935" };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        ck_assert_msg(parse_address(refused[i], display, sizeof(display), &family, &port) != 0,
                      "'%s' accepted", refused[i]);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("rtmp_protocol");
    TCase *tcase = tcase_create("rtmp_protocol");
    tcase_add_test(tcase, handshake_answers_c1_with_s0_s1_s2);
    tcase_add_test(tcase, chunks_reassemble_a_message_whatever_the_read_sizes);
    tcase_add_test(tcase, header_types_1_2_3_accumulate_deltas);
    tcase_add_test(tcase, extended_timestamps_on_every_chunk_type);
    tcase_add_test(tcase, type3_chunks_without_the_extended_timestamp_are_tolerated);
    tcase_add_test(tcase, chunk_size_changes_and_interleaved_streams);
    tcase_add_test(tcase, abort_discards_the_partial_message);
    tcase_add_test(tcase, writer_round_trips_through_the_reader);
    tcase_add_test(tcase, protocol_errors_are_reported);
    tcase_add_test(tcase, timestamps_unwrap_across_24_31_and_32_bits);
    tcase_add_test(tcase, amf0_commands_encode_and_decode);
    tcase_add_test(tcase, amf0_values_become_json);
    tcase_add_test(tcase, avc_sequence_header_and_frames);
    tcase_add_test(tcase, enhanced_rtmp_hevc_and_av1);
    tcase_add_test(tcase, aac_sequence_header_and_frames);
    tcase_add_test(tcase, aggregate_messages_split_into_tags);
    tcase_add_test(tcase, frame_rates_become_fractions);
    tcase_add_test(tcase, onfi_timecodes_become_utc);
    tcase_add_test(tcase, listen_addresses_default_to_loopback);
    suite_add_tcase(suite, tcase);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
