/* The JSON record of a segment or a synchronized set, as the jsonl, exec,
 * redis and webhook sinks hand it on: one object, the same fields
 * everywhere, so a consumer parses one format whatever carried it.
 */
#include "segment_record.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Attribute values are file paths; keys are "file.<instance name>". */
#define ATTR_KEY_MAX 256
#define ATTR_VALUE_MAX (PATH_MAX + 1)
/* extra_json deeper than this is not believed to be a sane object. */
#define JSON_DEPTH_MAX 64

/* ---- validating extra_json ---- */

typedef struct json_reader {
    const unsigned char *at;
    const unsigned char *end;
    int depth;
} json_reader;

static int json_value(json_reader *reader);

static void json_skip_space(json_reader *reader)
{
    while (reader->at < reader->end &&
           (*reader->at == ' ' || *reader->at == '\t' || *reader->at == '\n' || *reader->at == '\r'))
        reader->at++;
}

static int json_expect(json_reader *reader, const char *word)
{
    size_t length = strlen(word);
    if ((size_t)(reader->end - reader->at) < length || memcmp(reader->at, word, length) != 0)
        return -1;
    reader->at += length;
    return 0;
}

static int is_hex_digit(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int json_string(json_reader *reader)
{
    if (reader->at >= reader->end || *reader->at != '"')
        return -1;
    reader->at++;
    while (reader->at < reader->end) {
        unsigned char c = *reader->at;
        if (c == '"') {
            reader->at++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (reader->end - reader->at < 2)
                return -1;
            unsigned char escaped = reader->at[1];
            if (escaped == 'u') {
                if (reader->end - reader->at < 6)
                    return -1;
                for (int i = 2; i < 6; i++)
                    if (!is_hex_digit(reader->at[i]))
                        return -1;
                reader->at += 6;
            } else if (escaped != '\0' && strchr("\"\\/bfnrt", escaped) != NULL) {
                reader->at += 2;
            } else {
                return -1;
            }
            continue;
        }
        int sequence = sc_utf8_sequence(reader->at, (size_t)(reader->end - reader->at));
        if (sequence < 0)
            return -1;
        reader->at += sequence;
    }
    return -1;
}

static int json_digits(json_reader *reader)
{
    const unsigned char *start = reader->at;
    while (reader->at < reader->end && *reader->at >= '0' && *reader->at <= '9')
        reader->at++;
    return reader->at > start ? 0 : -1;
}

static int json_number(json_reader *reader)
{
    if (reader->at < reader->end && *reader->at == '-')
        reader->at++;
    if (reader->at < reader->end && *reader->at == '0')
        reader->at++;
    else if (json_digits(reader) != 0)
        return -1;
    if (reader->at < reader->end && *reader->at == '.') {
        reader->at++;
        if (json_digits(reader) != 0)
            return -1;
    }
    if (reader->at < reader->end && (*reader->at == 'e' || *reader->at == 'E')) {
        reader->at++;
        if (reader->at < reader->end && (*reader->at == '+' || *reader->at == '-'))
            reader->at++;
        if (json_digits(reader) != 0)
            return -1;
    }
    return 0;
}

/* Object or array: `close` ends it, members are "key": value when is_object. */
static int json_container(json_reader *reader, unsigned char close, int is_object)
{
    if (++reader->depth > JSON_DEPTH_MAX)
        return -1;
    reader->at++;
    json_skip_space(reader);
    if (reader->at < reader->end && *reader->at == close) {
        reader->at++;
        reader->depth--;
        return 0;
    }
    for (;;) {
        if (is_object) {
            if (json_string(reader) != 0)
                return -1;
            json_skip_space(reader);
            if (reader->at >= reader->end || *reader->at != ':')
                return -1;
            reader->at++;
        }
        if (json_value(reader) != 0)
            return -1;
        json_skip_space(reader);
        if (reader->at >= reader->end)
            return -1;
        if (*reader->at == close) {
            reader->at++;
            reader->depth--;
            return 0;
        }
        if (*reader->at != ',')
            return -1;
        reader->at++;
        json_skip_space(reader);
    }
}

static int json_value(json_reader *reader)
{
    json_skip_space(reader);
    if (reader->at >= reader->end)
        return -1;
    switch (*reader->at) {
    case '{': return json_container(reader, '}', 1);
    case '[': return json_container(reader, ']', 0);
    case '"': return json_string(reader);
    case 't': return json_expect(reader, "true");
    case 'f': return json_expect(reader, "false");
    case 'n': return json_expect(reader, "null");
    default: return json_number(reader);
    }
}

/* True when `text` is exactly one JSON object (surrounding spaces allowed). */
static int is_json_object(const char *text, size_t length)
{
    json_reader reader = { (const unsigned char *)text, (const unsigned char *)text + length, 0 };
    json_skip_space(&reader);
    if (reader.at >= reader.end || *reader.at != '{')
        return 0;
    if (json_value(&reader) != 0)
        return 0;
    json_skip_space(&reader);
    return reader.at == reader.end;
}

/* Appends the members of the object `text` (validated) after ours. Line
 * breaks between its tokens become spaces: the record must stay one line,
 * and a valid object has no raw line break inside its strings. */
static void append_object_members(text_buffer *buf, const char *text)
{
    const char *open = strchr(text, '{');
    const char *close = strrchr(text, '}');
    const char *first = open + 1;
    while (first < close && strchr(" \t\r\n", *first) != NULL)
        first++;
    if (first == close)
        return;
    text_buffer_append(buf, ",", 1);
    size_t start = buf->length;
    text_buffer_append(buf, first, (size_t)(close - first));
    if (buf->failed)
        return;
    for (size_t i = start; i < buf->length; i++)
        if (buf->data[i] == '\n' || buf->data[i] == '\r')
            buf->data[i] = ' ';
    while (buf->length > start && strchr(" \t", buf->data[buf->length - 1]) != NULL)
        buf->data[--buf->length] = '\0';
}

/* ---- the record ---- */

static const char *media_type_name(uint32_t media_type)
{
    switch (media_type) {
    case SC_MEDIA_VIDEO: return "video";
    case SC_MEDIA_AUDIO: return "audio";
    case SC_MEDIA_DATA: return "data";
    case SC_MEDIA_SUBTITLE: return "subtitle";
    default: return "unknown";
    }
}

static const struct {
    uint32_t flag;
    const char *name;
} segment_flag_names[] = {
    { SC_SEGMENT_PARTIAL, "partial" },
    { SC_SEGMENT_MID_GOP_START, "mid_gop_start" },
    { SC_SEGMENT_TRUNCATED, "truncated" },
    { SC_SEGMENT_DISCONTINUITY, "discontinuity" },
    { SC_SEGMENT_THINNED, "thinned" },
    { SC_SEGMENT_FORCED, "forced" },
    { SC_SEGMENT_CORRUPT, "corrupt" },
    { SC_SEGMENT_REJECTED, "rejected" },
};

static void append_streams(text_buffer *buf, const sc_segment *segment)
{
    text_buffer_append_text(buf, ",\"streams\":[");
    for (size_t i = 0; i < segment->stream_count; i++) {
        const sc_stream_info *info = segment->streams ? segment->streams[i] : NULL;
        text_buffer_append_format(buf, "%s{\"index\":%zu,\"type\":\"%s\",\"codec\":", i ? "," : "", i,
                      media_type_name(info ? info->media_type : SC_MEDIA_UNKNOWN));
        text_buffer_append_json_string(buf, info ? info->codec_name : NULL);
        text_buffer_append(buf, "}", 1);
    }
    text_buffer_append(buf, "]", 1);
}

static void append_flags(text_buffer *buf, uint32_t flags)
{
    text_buffer_append_text(buf, ",\"flags\":[");
    int first = 1;
    for (size_t i = 0; i < sizeof(segment_flag_names) / sizeof(segment_flag_names[0]); i++) {
        if (!(flags & segment_flag_names[i].flag))
            continue;
        text_buffer_append_format(buf, "%s\"%s\"", first ? "" : ",", segment_flag_names[i].name);
        first = 0;
    }
    text_buffer_append(buf, "]", 1);
}

/* The attribute `key` a file sink left ("file" from clip, "thumbnail"),
 * as the member of the same name, whatever its length. */
static void append_file(const record_source *from, text_buffer *buf, const sc_segment *segment,
                        const char *key)
{
    if (!SC_HOST_HAS(from->host, segment_get_attr))
        return;
    char stack_value[ATTR_VALUE_MAX];
    int length = from->host->segment_get_attr(from->ctx, segment, key, stack_value,
                                              sizeof(stack_value));
    if (length < 0)
        return;
    if ((size_t)length < sizeof(stack_value)) {
        text_buffer_append_format(buf, ",\"%s\":", key);
        text_buffer_append_json_string(buf, stack_value);
        return;
    }
    char *value = malloc((size_t)length + 1);
    if (value == NULL) {
        buf->failed = 1;
        return;
    }
    if (from->host->segment_get_attr(from->ctx, segment, key, value, (size_t)length + 1) >= 0) {
        value[length] = '\0';
        text_buffer_append_format(buf, ",\"%s\":", key);
        text_buffer_append_json_string(buf, value);
    }
    free(value);
}

/* `member`: {"<sink instance>": path, ...} from the "<key>.<instance>"
 * attributes: "files" from clip's "file.", "thumbnails" from "thumbnail.". */
static void append_files(const record_source *from, text_buffer *buf, const sc_segment *segment,
                         const char *key, const char *member)
{
    if (!SC_HOST_HAS(from->host, segment_attr_at))
        return;
    size_t prefix_length = strlen(key);
    char attribute[ATTR_KEY_MAX];
    char *value = malloc(ATTR_VALUE_MAX);
    if (value == NULL) {
        buf->failed = 1;
        return;
    }
    int found = 0;
    for (size_t i = 0;; i++) {
        attribute[0] = '\0';
        value[0] = '\0';
        if (from->host->segment_attr_at(from->ctx, segment, i, attribute, sizeof(attribute), value,
                                        ATTR_VALUE_MAX) < 0)
            break;
        attribute[sizeof(attribute) - 1] = '\0';
        value[ATTR_VALUE_MAX - 1] = '\0';
        if (strncmp(attribute, key, prefix_length) != 0 || attribute[prefix_length] != '.')
            continue;
        if (found)
            text_buffer_append(buf, ",", 1);
        else
            text_buffer_append_format(buf, ",\"%s\":{", member);
        text_buffer_append_json_string(buf, attribute + prefix_length + 1);
        text_buffer_append(buf, ":", 1);
        text_buffer_append_json_string(buf, value);
        found = 1;
    }
    if (found)
        text_buffer_append(buf, "}", 1);
    free(value);
}

static void append_segment(const record_source *from, text_buffer *buf, const sc_segment *segment)
{
    text_buffer_append_text(buf, "{\"source\":");
    text_buffer_append_json_string(buf, segment->source);
    /* source_type arrived after the first segment layout: only read it
     * when the host's segment is large enough to have it. */
    if (segment->struct_size >= offsetof(sc_segment, source_type) + sizeof(segment->source_type) &&
        segment->source_type) {
        text_buffer_append_text(buf, ",\"type\":");
        text_buffer_append_json_string(buf, segment->source_type);
    }
    text_buffer_append_text(buf, ",\"strategy\":");
    text_buffer_append_json_string(buf, segment->strategy);
    text_buffer_append_format(buf, ",\"index\":%" PRIu64, segment->index);
    text_buffer_append_text(buf, ",\"start\":");
    text_buffer_append_seconds(buf, segment->start);
    text_buffer_append_text(buf, ",\"end\":");
    text_buffer_append_seconds(buf, segment->end);
    int64_t duration = SC_TIME_NONE;
    if (segment->start != SC_TIME_NONE && segment->end != SC_TIME_NONE &&
        __builtin_sub_overflow(segment->end, segment->start, &duration))
        duration = SC_TIME_NONE;
    text_buffer_append_text(buf, ",\"duration\":");
    text_buffer_append_seconds(buf, duration);
    text_buffer_append_text(buf, ",\"keyframe_start\":");
    text_buffer_append_seconds(buf, segment->keyframe_start);
    text_buffer_append_text(buf, ",\"media_end\":");
    text_buffer_append_seconds(buf, segment->media_end);
    if (segment->struct_size >= offsetof(sc_segment, end_utc) + sizeof(segment->end_utc)) {
        text_buffer_append_text(buf, ",\"start_utc\":");
        text_buffer_append_utc(buf, segment->start_utc);
        text_buffer_append_text(buf, ",\"end_utc\":");
        text_buffer_append_utc(buf, segment->end_utc);
    }
    text_buffer_append_format(buf, ",\"packets\":%zu,\"bytes\":%" PRIu64 ",\"keyframes\":%" PRIu32,
                  segment->packet_count, segment->bytes, segment->keyframes);
    append_streams(buf, segment);
    append_flags(buf, segment->flags);
    if (segment->label != NULL) {
        text_buffer_append_text(buf, ",\"label\":");
        text_buffer_append_json_string(buf, segment->label);
    }
    append_file(from, buf, segment, "file");
    append_files(from, buf, segment, "file", "files");
    append_file(from, buf, segment, "thumbnail");
    append_files(from, buf, segment, "thumbnail", "thumbnails");
    if (segment->extra_json != NULL) {
        if (is_json_object(segment->extra_json, strlen(segment->extra_json))) {
            append_object_members(buf, segment->extra_json);
        } else {
            text_buffer_append_text(buf, ",\"extra\":");
            text_buffer_append_json_string(buf, segment->extra_json);
        }
    }
    text_buffer_append_text(buf, "}");
}

void segment_record_append(const record_source *from, text_buffer *out, const sc_segment *segment)
{
    append_segment(from, out, segment);
}

/* A synchronized set: one object, its members' records nested by source
 * name (null for a missing member). */
void segment_set_record_append(const record_source *from, text_buffer *out, const sc_segment_set *set)
{
    text_buffer *record = out;
    text_buffer_append_text(record, "{\"sync\":");
    text_buffer_append_json_string(record, set->name);
    text_buffer_append_format(record, ",\"index\":%" PRIu64 ",\"start_utc\":", set->index);
    text_buffer_append_utc(record, set->start_utc);
    text_buffer_append_text(record, ",\"end_utc\":");
    text_buffer_append_utc(record, set->end_utc);
    text_buffer_append_text(record, (set->flags & SC_SEGMENT_SET_PARTIAL) ? ",\"flags\":[\"partial\"]" : ",\"flags\":[]");
    text_buffer_append_text(record, ",\"segments\":{");
    for (size_t i = 0; i < set->member_count; i++) {
        if (i) text_buffer_append_text(record, ",");
        text_buffer_append_json_string(record, set->members[i]);
        text_buffer_append_text(record, ":");
        if (!set->segments[i]) {
            text_buffer_append_text(record, "null");
            continue;
        }
        text_buffer member = { 0 };
        append_segment(from, &member, set->segments[i]);
        if (member.failed) record->failed = 1;
        else text_buffer_append(record, member.data, member.length);
        free(member.data);
    }
    text_buffer_append_text(record, "}}");
}
