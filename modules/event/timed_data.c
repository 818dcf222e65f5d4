/* event: in-band timed metadata to events (see timed_data.h). Everything
 * read from a packet is bounds-checked: payloads come from the network. */
#include "timed_data.h"

#include "event_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting deeper than this in AMF is not believed to be a cue. */
#define AMF_DEPTH_MAX 16
/* PRIV data beyond this is not worth a record. */
#define PRIV_PAYLOAD_MAX 4096

static const char APPLE_TIMESTAMP_OWNER[] = "com.apple.streaming.transportStreamTimestamp";

int timed_data_codec_supported(const char *codec_name)
{
    return codec_name && (strcmp(codec_name, "timed_id3") == 0 || strcmp(codec_name, "text") == 0 ||
                          strcmp(codec_name, "none") == 0);
}

/* ---- names and payloads ---- */

/* The event name from decoded text: control characters become spaces,
 * white space is trimmed, the length capped on a character boundary.
 * Returns 1 with *name set, 0 when nothing is left, -1 for bad UTF-8. */
static int make_name(const char *bytes, size_t length, char **name)
{
    if (!utf8_is_valid(bytes, length)) return -1;
    size_t start = 0;
    while (start < length && ((unsigned char)bytes[start] <= 0x20 || bytes[start] == 0x7f)) start++;
    while (length > start && ((unsigned char)bytes[length - 1] <= 0x20 || bytes[length - 1] == 0x7f)) length--;
    if (start == length) return 0;
    size_t kept = utf8_prefix(bytes + start, length - start, EVENT_NAME_MAX);
    char *out = malloc(kept + 1);
    if (!out) return -1;
    for (size_t i = 0; i < kept; i++) {
        unsigned char c = (unsigned char)bytes[start + i];
        out[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    out[kept] = '\0';
    *name = out;
    return 1;
}

/* A JSON object or array given as text stays structured; anything else
 * becomes a JSON string. */
static char *payload_from_text(const char *bytes, size_t length)
{
    size_t start = 0;
    while (start < length && (bytes[start] == ' ' || bytes[start] == '\t' || bytes[start] == '\n' ||
                              bytes[start] == '\r'))
        start++;
    text_buffer out = {0};
    if (start < length && (bytes[start] == '{' || bytes[start] == '[') && json_is_valid(bytes, length))
        text_buffer_append(&out, bytes + start, length - start);
    else
        text_buffer_append_json_bytes(&out, bytes, length);
    return text_buffer_take(&out);
}

/* ---- ID3v2 ---- */

static uint32_t read_be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* 28 bits in four bytes of 7; -1 when a byte has its top bit set. */
static int64_t read_syncsafe(const uint8_t *p)
{
    if ((p[0] | p[1] | p[2] | p[3]) & 0x80) return -1;
    return (int64_t)p[0] << 21 | (int64_t)p[1] << 14 | (int64_t)p[2] << 7 | p[3];
}

/* Undoes unsynchronisation (every 0xFF 0x00 was written for 0xFF) into a
 * fresh buffer. */
static uint8_t *resynchronise(const uint8_t *data, size_t size, size_t *out_size)
{
    uint8_t *out = malloc(size ? size : 1);
    if (!out) return NULL;
    size_t length = 0;
    for (size_t i = 0; i < size; i++) {
        out[length++] = data[i];
        if (data[i] == 0xff && i + 1 < size && data[i + 1] == 0x00) i++;
    }
    *out_size = length;
    return out;
}

/* Where the text of `encoding` ends: the index of its terminator (or
 * `size`) and the terminator's width. */
static size_t text_end(int encoding, const uint8_t *data, size_t size, size_t *width)
{
    if (encoding == 1 || encoding == 2) {
        *width = 2;
        for (size_t i = 0; i + 1 < size; i += 2)
            if (data[i] == 0 && data[i + 1] == 0) return i;
        return size;
    }
    *width = 1;
    const uint8_t *nul = memchr(data, 0, size);
    return nul ? (size_t)(nul - data) : size;
}

/* Decodes ID3 text (0 Latin-1, 1 UTF-16 with BOM, 2 UTF-16BE, 3 UTF-8)
 * to UTF-8. 0 on success. */
static int decode_id3_text(int encoding, const uint8_t *data, size_t size, text_buffer *out)
{
    if (encoding == 0) {
        for (size_t i = 0; i < size; i++) {
            if (data[i] < 0x80) {
                text_buffer_append_char(out, (char)data[i]);
            } else {
                char pair[2] = {(char)(0xc0 | (data[i] >> 6)), (char)(0x80 | (data[i] & 0x3f))};
                text_buffer_append(out, pair, 2);
            }
        }
        return out->failed ? -1 : 0;
    }
    if (encoding == 3) {
        if (!utf8_is_valid((const char *)data, size)) return -1;
        text_buffer_append(out, (const char *)data, size);
        return out->failed ? -1 : 0;
    }
    if (encoding != 1 && encoding != 2) return -1;
    int big_endian = 1;
    size_t i = 0;
    if (size >= 2 && ((data[0] == 0xff && data[1] == 0xfe) || (data[0] == 0xfe && data[1] == 0xff))) {
        big_endian = data[0] == 0xfe;
        i = 2;
    }
    for (; i + 1 < size; i += 2) {
        uint32_t unit = big_endian ? (uint32_t)data[i] << 8 | data[i + 1] : (uint32_t)data[i + 1] << 8 | data[i];
        uint32_t code = unit;
        if (unit >= 0xdc00 && unit <= 0xdfff) return -1;
        if (unit >= 0xd800 && unit <= 0xdbff) {
            if (i + 3 >= size) return -1;
            uint32_t low = big_endian ? (uint32_t)data[i + 2] << 8 | data[i + 3]
                                      : (uint32_t)data[i + 3] << 8 | data[i + 2];
            if (low < 0xdc00 || low > 0xdfff) return -1;
            code = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
            i += 2;
        }
        char bytes[4];
        size_t length;
        if (code < 0x80) {
            bytes[0] = (char)code;
            length = 1;
        } else if (code < 0x800) {
            bytes[0] = (char)(0xc0 | (code >> 6));
            bytes[1] = (char)(0x80 | (code & 0x3f));
            length = 2;
        } else if (code < 0x10000) {
            bytes[0] = (char)(0xe0 | (code >> 12));
            bytes[1] = (char)(0x80 | ((code >> 6) & 0x3f));
            bytes[2] = (char)(0x80 | (code & 0x3f));
            length = 3;
        } else {
            bytes[0] = (char)(0xf0 | (code >> 18));
            bytes[1] = (char)(0x80 | ((code >> 12) & 0x3f));
            bytes[2] = (char)(0x80 | ((code >> 6) & 0x3f));
            bytes[3] = (char)(0x80 | (code & 0x3f));
            length = 4;
        }
        text_buffer_append(out, bytes, length);
    }
    return out->failed ? -1 : 0;
}

/* The frames the tag's event is made of (pointers into the tag). */
typedef struct id3_frames {
    const uint8_t *txxx, *tit2, *priv;
    size_t txxx_size, tit2_size, priv_size;
    uint8_t *owned[3];  /* resynchronised copies, freed at the end */
} id3_frames;

static void keep_frame(id3_frames *frames, const char *id, const uint8_t *data, size_t size, uint8_t *owned)
{
    const uint8_t **slot = NULL;
    size_t *slot_size = NULL;
    int index = -1;
    if (strcmp(id, "TXXX") == 0) slot = &frames->txxx, slot_size = &frames->txxx_size, index = 0;
    else if (strcmp(id, "TIT2") == 0) slot = &frames->tit2, slot_size = &frames->tit2_size, index = 1;
    else if (strcmp(id, "PRIV") == 0) slot = &frames->priv, slot_size = &frames->priv_size, index = 2;
    if (!slot || *slot) {
        free(owned);
        return;
    }
    if (index == 2) {
        /* Apple's per-segment timestamp is not an event. */
        const uint8_t *nul = memchr(data, 0, size);
        size_t owner = nul ? (size_t)(nul - data) : size;
        if (owner == sizeof APPLE_TIMESTAMP_OWNER - 1 && memcmp(data, APPLE_TIMESTAMP_OWNER, owner) == 0) {
            free(owned);
            return;
        }
    }
    *slot = data;
    *slot_size = size;
    frames->owned[index] = owned;
}

/* Walks the frames of a tag body; -1 when the structure is broken before
 * any frame could be read. */
static int read_id3_frames(int major, int tag_unsynchronised, const uint8_t *body, size_t size, id3_frames *frames)
{
    size_t header = major == 2 ? 6 : 10;
    size_t at = 0;
    while (at + header <= size) {
        const uint8_t *frame = body + at;
        if (frame[0] == 0) break; /* padding */
        char id[5] = {0};
        size_t frame_size;
        unsigned format_flags = 0;
        if (major == 2) {
            memcpy(id, frame, 3);
            frame_size = (size_t)frame[3] << 16 | (size_t)frame[4] << 8 | frame[5];
            if (strcmp(id, "TXX") == 0) strcpy(id, "TXXX");
            else if (strcmp(id, "TT2") == 0) strcpy(id, "TIT2");
        } else {
            memcpy(id, frame, 4);
            int64_t length = major == 4 ? read_syncsafe(frame + 4) : (int64_t)read_be32(frame + 4);
            if (length < 0) return -1;
            frame_size = (size_t)length;
            format_flags = frame[9];
        }
        for (int i = 0; i < (major == 2 ? 3 : 4); i++)
            if (!((id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9'))) return -1;
        if (frame_size > size - at - header) return -1;
        const uint8_t *data = frame + header;
        size_t data_size = frame_size;
        at += header + frame_size;
        int compressed, encrypted, grouped, unsynchronised = 0, length_indicator = 0;
        if (major == 3) {
            compressed = format_flags & 0x80;
            encrypted = format_flags & 0x40;
            grouped = format_flags & 0x20;
        } else {
            compressed = format_flags & 0x08;
            encrypted = format_flags & 0x04;
            grouped = format_flags & 0x40;
            unsynchronised = (format_flags & 0x02) || (major == 4 && tag_unsynchronised);
            length_indicator = format_flags & 0x01;
        }
        if (compressed || encrypted) continue;
        size_t skip = (grouped ? 1u : 0u) + (length_indicator ? 4u : 0u);
        if (skip > data_size) continue;
        data += skip;
        data_size -= skip;
        uint8_t *owned = NULL;
        if (unsynchronised) {
            owned = resynchronise(data, data_size, &data_size);
            if (!owned) return -1;
            data = owned;
        }
        keep_frame(frames, id, data, data_size, owned);
    }
    return 0;
}

static int txxx_event(const uint8_t *data, size_t size, char **name, char **payload)
{
    if (size < 1) return -1;
    int encoding = data[0];
    size_t width;
    size_t description_end = text_end(encoding, data + 1, size - 1, &width);
    text_buffer description = {0}, value = {0};
    int result = decode_id3_text(encoding, data + 1, description_end, &description);
    size_t value_start = 1 + description_end + width;
    if (result == 0 && value_start < size) {
        size_t value_width;
        size_t value_end = text_end(encoding, data + value_start, size - value_start, &value_width);
        result = decode_id3_text(encoding, data + value_start, value_end, &value);
    }
    if (result == 0) {
        if (description.length) result = make_name(description.data, description.length, name);
        else result = make_name("TXXX", 4, name);
        if (result == 1 && value.length) {
            *payload = payload_from_text(value.data, value.length);
            if (!*payload) {
                free(*name);
                *name = NULL;
                result = -1;
            }
        }
    } else {
        result = -1;
    }
    text_buffer_free(&description);
    text_buffer_free(&value);
    return result;
}

static int tit2_event(const uint8_t *data, size_t size, char **name)
{
    if (size < 1) return -1;
    size_t width;
    size_t end = text_end(data[0], data + 1, size - 1, &width);
    text_buffer title = {0};
    int result = decode_id3_text(data[0], data + 1, end, &title) == 0 ? make_name(title.data ? title.data : "",
                                                                                title.length, name)
                                                                      : -1;
    text_buffer_free(&title);
    return result;
}

static int priv_event(const uint8_t *data, size_t size, char **name, char **payload)
{
    const uint8_t *nul = memchr(data, 0, size);
    if (!nul) return -1;
    size_t owner = (size_t)(nul - data);
    text_buffer owner_text = {0};
    decode_id3_text(0, data, owner, &owner_text);
    int result = owner_text.failed ? -1 : make_name(owner_text.data ? owner_text.data : "", owner_text.length, name);
    text_buffer_free(&owner_text);
    if (result != 1) return result;
    const uint8_t *bytes = nul + 1;
    size_t length = size - owner - 1;
    if (length > PRIV_PAYLOAD_MAX) length = PRIV_PAYLOAD_MAX;
    if (length == 0) return 1;
    int printable = utf8_is_valid((const char *)bytes, length);
    for (size_t i = 0; printable && i < length; i++)
        if ((bytes[i] < 0x20 && bytes[i] != '\t' && bytes[i] != '\n' && bytes[i] != '\r') || bytes[i] == 0x7f)
            printable = 0;
    text_buffer out = {0};
    if (printable) {
        text_buffer_append_json_bytes(&out, (const char *)bytes, length);
    } else {
        static const char hex[] = "0123456789abcdef";
        text_buffer_append_char(&out, '"');
        for (size_t i = 0; i < length; i++) {
            char pair[2] = {hex[bytes[i] >> 4], hex[bytes[i] & 15]};
            text_buffer_append(&out, pair, 2);
        }
        text_buffer_append_char(&out, '"');
    }
    *payload = text_buffer_take(&out);
    if (!*payload) {
        free(*name);
        *name = NULL;
        return -1;
    }
    return 1;
}

static int id3_to_event(const uint8_t *data, size_t size, char **name, char **payload)
{
    if (size < 10) return -1;
    int major = data[3];
    int flags = data[5];
    int64_t tag_size = read_syncsafe(data + 6);
    if (major < 2 || major > 4 || data[4] == 0xff || tag_size < 0 || (size_t)tag_size > size - 10) return -1;
    if (major == 2 && (flags & 0x40)) return 0; /* v2.2 compression: no known scheme */
    const uint8_t *body = data + 10;
    size_t body_size = (size_t)tag_size;
    uint8_t *resynchronised = NULL;
    if ((flags & 0x80) && major < 4) {
        resynchronised = resynchronise(body, body_size, &body_size);
        if (!resynchronised) return -1;
        body = resynchronised;
    }
    int result = 0;
    if (major > 2 && (flags & 0x40)) {
        /* v2.3: size excludes its own four bytes; v2.4: syncsafe, includes them. */
        int64_t extended = body_size >= 4 ? (major == 4 ? read_syncsafe(body) : (int64_t)read_be32(body) + 4) : -1;
        if (extended < 4 || (size_t)extended > body_size) result = -1;
        else body += extended, body_size -= (size_t)extended;
    }
    id3_frames frames = {0};
    if (result == 0) result = read_id3_frames(major, flags & 0x80, body, body_size, &frames);
    if (result == 0) {
        if (frames.txxx) result = txxx_event(frames.txxx, frames.txxx_size, name, payload);
        else if (frames.tit2) result = tit2_event(frames.tit2, frames.tit2_size, name);
        else if (frames.priv) result = priv_event(frames.priv, frames.priv_size, name, payload);
        else result = 0;
    }
    for (int i = 0; i < 3; i++) free(frames.owned[i]);
    free(resynchronised);
    return result;
}

/* ---- AMF0 ---- */

typedef struct amf_reader {
    const uint8_t *at;
    const uint8_t *end;
} amf_reader;

static int amf_take(amf_reader *reader, size_t count, const uint8_t **out)
{
    if ((size_t)(reader->end - reader->at) < count) return -1;
    *out = reader->at;
    reader->at += count;
    return 0;
}

static void append_number(text_buffer *out, double value)
{
    if (!isfinite(value)) {
        text_buffer_append_text(out, "null");
        return;
    }
    /* The shortest of 15 or 17 digits that reads back the same. */
    char text[40];
    snprintf(text, sizeof text, "%.15g", value);
    if (strtod(text, NULL) != value) snprintf(text, sizeof text, "%.17g", value);
    text_buffer_append_text(out, text);
}

static int amf_string_bytes(amf_reader *reader, size_t length_bytes, const uint8_t **bytes, size_t *length)
{
    const uint8_t *prefix;
    if (amf_take(reader, length_bytes, &prefix) != 0) return -1;
    *length = length_bytes == 2 ? (size_t)prefix[0] << 8 | prefix[1] : read_be32(prefix);
    if (amf_take(reader, *length, bytes) != 0) return -1;
    return utf8_is_valid((const char *)*bytes, *length) ? 0 : -1;
}

/* While converting the first argument of onCuePoint, its "name" member. */
typedef struct amf_capture {
    const char *key;
    const uint8_t *value;
    size_t value_length;
} amf_capture;

static int amf_value(amf_reader *reader, text_buffer *out, int depth, amf_capture *capture);

/* Members "key": value until the empty key and the object-end marker. */
static int amf_members(amf_reader *reader, text_buffer *out, int depth, amf_capture *capture)
{
    text_buffer_append_char(out, '{');
    for (int first = 1;; first = 0) {
        const uint8_t *key;
        size_t key_length;
        if (amf_string_bytes(reader, 2, &key, &key_length) != 0) return -1;
        if (key_length == 0) {
            const uint8_t *marker;
            if (amf_take(reader, 1, &marker) != 0 || *marker != 0x09) return -1;
            text_buffer_append_char(out, '}');
            return 0;
        }
        if (!first) text_buffer_append_char(out, ',');
        text_buffer_append_json_bytes(out, (const char *)key, key_length);
        text_buffer_append_char(out, ':');
        const uint8_t *value_start = reader->at;
        if (amf_value(reader, out, depth + 1, NULL) != 0) return -1;
        if (capture && !capture->value && key_length == strlen(capture->key) &&
            memcmp(key, capture->key, key_length) == 0 && *value_start == 0x02) {
            capture->value = value_start + 3;
            capture->value_length = (size_t)value_start[1] << 8 | value_start[2];
        }
    }
}

static int amf_value(amf_reader *reader, text_buffer *out, int depth, amf_capture *capture)
{
    if (depth > AMF_DEPTH_MAX) return -1;
    const uint8_t *type, *bytes;
    size_t length;
    if (amf_take(reader, 1, &type) != 0) return -1;
    switch (*type) {
    case 0x00: /* number */
    case 0x0b: { /* date: milliseconds, then a time zone nobody fills */
        if (amf_take(reader, 8, &bytes) != 0) return -1;
        uint64_t bits = (uint64_t)read_be32(bytes) << 32 | read_be32(bytes + 4);
        double value;
        memcpy(&value, &bits, sizeof value);
        append_number(out, value);
        if (*type == 0x0b && amf_take(reader, 2, &bytes) != 0) return -1;
        return 0;
    }
    case 0x01:
        if (amf_take(reader, 1, &bytes) != 0) return -1;
        text_buffer_append_text(out, *bytes ? "true" : "false");
        return 0;
    case 0x02: /* string */
    case 0x0c: /* long string */
    case 0x0f: /* XML document */
        if (amf_string_bytes(reader, *type == 0x02 ? 2 : 4, &bytes, &length) != 0) return -1;
        text_buffer_append_json_bytes(out, (const char *)bytes, length);
        return 0;
    case 0x03: /* object */
        return amf_members(reader, out, depth, capture);
    case 0x10: /* typed object: a class name, then members */
        if (amf_string_bytes(reader, 2, &bytes, &length) != 0) return -1;
        return amf_members(reader, out, depth, capture);
    case 0x08: /* ECMA array: a count nobody trusts, then members */
        if (amf_take(reader, 4, &bytes) != 0) return -1;
        return amf_members(reader, out, depth, capture);
    case 0x0a: { /* strict array */
        if (amf_take(reader, 4, &bytes) != 0) return -1;
        uint32_t count = read_be32(bytes);
        text_buffer_append_char(out, '[');
        for (uint32_t i = 0; i < count; i++) {
            if (i) text_buffer_append_char(out, ',');
            if (amf_value(reader, out, depth + 1, NULL) != 0) return -1;
        }
        text_buffer_append_char(out, ']');
        return 0;
    }
    case 0x05: /* null */
    case 0x06: /* undefined */
    case 0x0d: /* unsupported */
        text_buffer_append_text(out, "null");
        return 0;
    default: /* references, AMF3 switch, movie clips: not cues */
        return -1;
    }
}

static int amf_to_event(const uint8_t *data, size_t size, char **name, char **payload)
{
    amf_reader reader = {.at = data, .end = data + size};
    const uint8_t *type, *handler;
    size_t handler_length;
    if (amf_take(&reader, 1, &type) != 0 || *type != 0x02) return -1;
    if (amf_string_bytes(&reader, 2, &handler, &handler_length) != 0) return -1;
    if ((handler_length == 10 && memcmp(handler, "onMetaData", 10) == 0) ||
        (handler_length == 13 && memcmp(handler, "@setDataFrame", 13) == 0))
        return 0;
    int is_cue_point = handler_length == 10 && memcmp(handler, "onCuePoint", 10) == 0;
    amf_capture capture = {.key = "name"};
    text_buffer arguments = {0};
    size_t count = 0;
    while (reader.at < reader.end) {
        if (count) text_buffer_append_char(&arguments, ',');
        if (amf_value(&reader, &arguments, 1, count == 0 && is_cue_point ? &capture : NULL) != 0) {
            text_buffer_free(&arguments);
            return -1;
        }
        count++;
    }
    int result = capture.value ? make_name((const char *)capture.value, capture.value_length, name) : 0;
    if (result == 0) result = make_name((const char *)handler, handler_length, name);
    if (result != 1 || count == 0) {
        text_buffer_free(&arguments);
        return result;
    }
    text_buffer out = {0};
    if (count > 1) text_buffer_append_char(&out, '[');
    text_buffer_append(&out, arguments.data ? arguments.data : "", arguments.length);
    if (count > 1) text_buffer_append_char(&out, ']');
    text_buffer_free(&arguments);
    *payload = text_buffer_take(&out);
    if (!*payload) {
        free(*name);
        *name = NULL;
        return -1;
    }
    return 1;
}

/* ---- entry ---- */

int timed_data_to_event(const char *codec_name, const uint8_t *data, size_t size, char **name, char **payload_json)
{
    *name = NULL;
    *payload_json = NULL;
    if (!codec_name || !data) return 0;
    if (strcmp(codec_name, "timed_id3") == 0 && size >= 3 && memcmp(data, "ID3", 3) == 0)
        return id3_to_event(data, size, name, payload_json);
    if (strcmp(codec_name, "timed_id3") == 0 || strcmp(codec_name, "text") == 0) {
        /* Text payloads may carry a terminating NUL. */
        while (size && data[size - 1] == 0) size--;
        if (memchr(data, 0, size)) return -1;
        return make_name((const char *)data, size, name);
    }
    if (strcmp(codec_name, "none") == 0) return amf_to_event(data, size, name, payload_json);
    return 0;
}
