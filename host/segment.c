#include "segment.h"

#include <string.h>

#include "packet.h"

sc_segment_box *sc_segment_new(const char *source, const char *strategy, uint64_t index,
                               int64_t start, int64_t end, uint32_t flags,
                               const char *label, const char *extra_json,
                               GPtrArray *packets, GPtrArray *streams, uint32_t reference_stream)
{
    sc_segment_box *box = g_new0(sc_segment_box, 1);
    atomic_init(&box->references, 1);
    g_mutex_init(&box->attributes_lock);
    box->attribute_keys = g_ptr_array_new_with_free_func(g_free);
    box->attribute_values = g_ptr_array_new_with_free_func(g_free);
    box->packets = packets;
    box->streams = streams;
    box->label = g_strdup(label);
    box->extra_json = g_strdup(extra_json);

    sc_segment *segment = &box->segment;
    segment->struct_size = sizeof(sc_segment);
    segment->source = source;
    segment->strategy = strategy;
    segment->index = index;
    segment->start = start;
    segment->end = end;
    segment->keyframe_start = SC_TIME_NONE;
    segment->media_end = SC_TIME_NONE;
    segment->start_utc = SC_TIME_NONE;
    segment->end_utc = SC_TIME_NONE;
    segment->packet_count = packets->len;
    segment->packets = (const sc_packet *const *)packets->pdata;
    segment->stream_count = streams->len;
    segment->streams = (const sc_stream_info *const *)streams->pdata;
    segment->reference_stream = reference_stream;
    segment->label = box->label;
    segment->extra_json = box->extra_json;
    for (guint i = 0; i < packets->len; i++) {
        const sc_packet *packet = g_ptr_array_index(packets, i);
        if (i == 0) segment->first_seq = packet->seq;
        segment->last_seq = packet->seq;
        segment->bytes += packet->size;
        if (packet->stream_index == reference_stream && (packet->flags & SC_PACKET_KEY)) {
            segment->keyframes++;
            if (segment->keyframe_start == SC_TIME_NONE) segment->keyframe_start = packet->pts;
        }
        if (packet->flags & SC_PACKET_DISCONTINUITY) flags |= SC_SEGMENT_DISCONTINUITY;
        if (packet->flags & SC_PACKET_CORRUPT) flags |= SC_SEGMENT_CORRUPT;
        int64_t packet_end = packet->pts + packet->duration;
        if (segment->media_end == SC_TIME_NONE || packet_end > segment->media_end) segment->media_end = packet_end;
    }
    segment->flags = flags;
    return box;
}

const sc_segment *sc_segment_ref(const sc_segment *segment)
{
    sc_segment_box *box = (sc_segment_box *)(uintptr_t)segment;
    atomic_fetch_add_explicit(&box->references, 1, memory_order_relaxed);
    return segment;
}

void sc_segment_unref(const sc_segment *segment)
{
    if (!segment) return;
    sc_segment_box *box = (sc_segment_box *)(uintptr_t)segment;
    if (atomic_fetch_sub_explicit(&box->references, 1, memory_order_acq_rel) != 1) return;
    for (guint i = 0; i < box->packets->len; i++) sc_packet_unref(g_ptr_array_index(box->packets, i));
    g_ptr_array_free(box->packets, TRUE);
    g_ptr_array_free(box->streams, TRUE);
    g_ptr_array_free(box->attribute_keys, TRUE);
    g_ptr_array_free(box->attribute_values, TRUE);
    g_mutex_clear(&box->attributes_lock);
    g_free(box->label);
    g_free(box->extra_json);
    g_free(box);
}

int sc_segment_set_attribute(const sc_segment *segment, const char *key, const char *value)
{
    if (!key || !*key || !value) return SC_ERR_INVALID;
    sc_segment_box *box = (sc_segment_box *)(uintptr_t)segment;
    g_mutex_lock(&box->attributes_lock);
    guint i;
    for (i = 0; i < box->attribute_keys->len; i++)
        if (strcmp(g_ptr_array_index(box->attribute_keys, i), key) == 0) break;
    if (i < box->attribute_keys->len) {
        g_free(box->attribute_values->pdata[i]);
        box->attribute_values->pdata[i] = g_strdup(value);
    } else {
        g_ptr_array_add(box->attribute_keys, g_strdup(key));
        g_ptr_array_add(box->attribute_values, g_strdup(value));
    }
    g_mutex_unlock(&box->attributes_lock);
    return SC_OK;
}

static int copy_out(const char *text, char *buffer, size_t length)
{
    size_t size = strlen(text);
    if (buffer && length) {
        size_t copied = size < length - 1 ? size : length - 1;
        memcpy(buffer, text, copied);
        buffer[copied] = '\0';
    }
    return (int)size;
}

int sc_segment_get_attribute(const sc_segment *segment, const char *key, char *buffer, size_t length)
{
    sc_segment_box *box = (sc_segment_box *)(uintptr_t)segment;
    int result = SC_ERR_NOT_FOUND;
    g_mutex_lock(&box->attributes_lock);
    for (guint i = 0; i < box->attribute_keys->len; i++) {
        if (strcmp(g_ptr_array_index(box->attribute_keys, i), key) == 0) {
            result = copy_out(g_ptr_array_index(box->attribute_values, i), buffer, length);
            break;
        }
    }
    g_mutex_unlock(&box->attributes_lock);
    return result;
}

int sc_segment_attribute_at(const sc_segment *segment, size_t index, char *key, size_t key_length,
                            char *value, size_t value_length)
{
    sc_segment_box *box = (sc_segment_box *)(uintptr_t)segment;
    int result = SC_ERR_NOT_FOUND;
    g_mutex_lock(&box->attributes_lock);
    if (index < box->attribute_keys->len) {
        copy_out(g_ptr_array_index(box->attribute_keys, index), key, key_length);
        result = copy_out(g_ptr_array_index(box->attribute_values, index), value, value_length);
    }
    g_mutex_unlock(&box->attributes_lock);
    return result;
}

char *sc_segment_flag_names(uint32_t flags)
{
    static const struct { uint32_t flag; const char *name; } names[] = {
        {SC_SEGMENT_PARTIAL, "partial"}, {SC_SEGMENT_MID_GOP_START, "mid_gop_start"},
        {SC_SEGMENT_TRUNCATED, "truncated"}, {SC_SEGMENT_DISCONTINUITY, "discontinuity"},
        {SC_SEGMENT_THINNED, "thinned"}, {SC_SEGMENT_FORCED, "forced"},
        {SC_SEGMENT_CORRUPT, "corrupt"}, {SC_SEGMENT_REJECTED, "rejected"},
    };
    GString *text = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (!(flags & names[i].flag)) continue;
        if (text->len) g_string_append_c(text, ',');
        g_string_append(text, names[i].name);
    }
    return g_string_free(text, FALSE);
}
