#include "buffer.h"

#include "packet.h"

struct sc_buffer_reader {
    uint64_t cursor;   /* seq of the next packet to hand out */
};

struct sc_buffer {
    GMutex lock;
    GCond data_arrived;     /* readers wait on it */
    GCond readers_advanced; /* a non-live writer waits on it */
    sc_buffer_limits limits;

    const sc_packet **slots;  /* ring */
    size_t capacity;          /* power of two */
    size_t head;              /* slot of the oldest packet */
    size_t count;
    uint64_t head_seq;        /* seq of the oldest packet */
    uint64_t next_seq;

    GArray *keyframes;        /* sc_keyframe_entry of the reference stream */
    guint keyframes_start;    /* entries before it were evicted */

    int reference_stream;
    bool live;
    bool ended;
    bool stopping;
    GPtrArray *readers;

    uint64_t bytes;           /* footprint of the held packets */
    uint64_t held_keyframes;
    int64_t newest_dts;
    sc_buffer_stats stats;
};

sc_buffer *sc_buffer_new(const sc_buffer_limits *limits)
{
    sc_buffer *buffer = g_new0(sc_buffer, 1);
    g_mutex_init(&buffer->lock);
    g_cond_init(&buffer->data_arrived);
    g_cond_init(&buffer->readers_advanced);
    buffer->limits = *limits;
    buffer->capacity = 1024;
    buffer->slots = g_new0(const sc_packet *, buffer->capacity);
    buffer->keyframes = g_array_new(FALSE, FALSE, sizeof(sc_keyframe_entry));
    buffer->reference_stream = -1;
    buffer->live = true;
    buffer->readers = g_ptr_array_new();
    buffer->newest_dts = SC_TIME_NONE;
    return buffer;
}

static const sc_packet *slot_at(const sc_buffer *buffer, size_t position)
{
    return buffer->slots[(buffer->head + position) & (buffer->capacity - 1)];
}

void sc_buffer_free(sc_buffer *buffer)
{
    if (!buffer) return;
    for (size_t i = 0; i < buffer->count; i++) sc_packet_unref(slot_at(buffer, i));
    g_free(buffer->slots);
    g_array_free(buffer->keyframes, TRUE);
    for (guint i = 0; i < buffer->readers->len; i++) g_free(g_ptr_array_index(buffer->readers, i));
    g_ptr_array_free(buffer->readers, TRUE);
    g_cond_clear(&buffer->data_arrived);
    g_cond_clear(&buffer->readers_advanced);
    g_mutex_clear(&buffer->lock);
    g_free(buffer);
}

void sc_buffer_set_reference_stream(sc_buffer *buffer, int stream_index)
{
    g_mutex_lock(&buffer->lock);
    buffer->reference_stream = stream_index;
    g_mutex_unlock(&buffer->lock);
}

int sc_buffer_reference_stream(sc_buffer *buffer)
{
    g_mutex_lock(&buffer->lock);
    int stream = buffer->reference_stream;
    g_mutex_unlock(&buffer->lock);
    return stream;
}

void sc_buffer_set_live(sc_buffer *buffer, bool live)
{
    g_mutex_lock(&buffer->lock);
    buffer->live = live;
    g_cond_broadcast(&buffer->readers_advanced);
    g_mutex_unlock(&buffer->lock);
}

bool sc_buffer_is_live(sc_buffer *buffer)
{
    g_mutex_lock(&buffer->lock);
    bool live = buffer->live;
    g_mutex_unlock(&buffer->lock);
    return live;
}

static guint keyframes_held(const sc_buffer *buffer)
{
    return buffer->keyframes->len - buffer->keyframes_start;
}

static const sc_keyframe_entry *keyframe_at(const sc_buffer *buffer, guint i)
{
    return &g_array_index(buffer->keyframes, sc_keyframe_entry, buffer->keyframes_start + i);
}

static bool is_reference_keyframe(const sc_buffer *buffer, const sc_packet *packet)
{
    return (packet->flags & SC_PACKET_KEY) && (int)packet->stream_index == buffer->reference_stream;
}

static void grow(sc_buffer *buffer)
{
    size_t capacity = buffer->capacity * 2;
    const sc_packet **slots = g_new0(const sc_packet *, capacity);
    for (size_t i = 0; i < buffer->count; i++) slots[i] = slot_at(buffer, i);
    g_free(buffer->slots);
    buffer->slots = slots;
    buffer->capacity = capacity;
    buffer->head = 0;
}

static uint64_t slowest_reader(const sc_buffer *buffer)
{
    uint64_t slowest = UINT64_MAX;
    for (guint i = 0; i < buffer->readers->len; i++) {
        const sc_buffer_reader *reader = g_ptr_array_index(buffer->readers, i);
        if (reader->cursor < slowest) slowest = reader->cursor;
    }
    return slowest;
}

/* Seq just past the oldest eviction unit: the oldest GOP, or a single
 * packet when no later keyframe bounds it. */
static uint64_t head_unit_end(const sc_buffer *buffer, int64_t *next_unit_dts)
{
    *next_unit_dts = SC_TIME_NONE;
    for (guint i = 0; i < keyframes_held(buffer); i++) {
        const sc_keyframe_entry *keyframe = keyframe_at(buffer, i);
        if (keyframe->seq > buffer->head_seq) {
            *next_unit_dts = keyframe->dts;
            return keyframe->seq;
        }
    }
    return buffer->head_seq + 1;
}

static void evict_head_packet(sc_buffer *buffer, uint64_t *reason_counter)
{
    const sc_packet *packet = buffer->slots[buffer->head];
    buffer->slots[buffer->head] = NULL;
    buffer->head = (buffer->head + 1) & (buffer->capacity - 1);
    buffer->count--;
    buffer->head_seq++;
    buffer->bytes -= sc_packet_footprint(packet);
    if (is_reference_keyframe(buffer, packet)) {
        buffer->held_keyframes--;
        if (keyframes_held(buffer) > 0 && keyframe_at(buffer, 0)->seq == packet->seq)
            buffer->keyframes_start++;
        /* Compact the index once its dead prefix dominates. */
        if (buffer->keyframes_start > 64 && buffer->keyframes_start * 2 > buffer->keyframes->len) {
            g_array_remove_range(buffer->keyframes, 0, buffer->keyframes_start);
            buffer->keyframes_start = 0;
        }
    }
    (*reason_counter)++;
    sc_packet_unref(packet);
}

/* Which limit the buffer is over, as the counter to charge, or NULL. */
static uint64_t *over_limit(sc_buffer *buffer, uint64_t unit_end, int64_t next_unit_dts)
{
    const sc_buffer_limits *limits = &buffer->limits;
    if (limits->max_items > 0 && buffer->count > (uint64_t)limits->max_items)
        return &buffer->stats.evicted_items;
    if (limits->max_memory_bytes > 0 && buffer->bytes > (uint64_t)limits->max_memory_bytes)
        return &buffer->stats.evicted_memory;
    if (limits->retention_ns > 0 && buffer->newest_dts != SC_TIME_NONE) {
        int64_t window_start = buffer->newest_dts - limits->retention_ns;
        if (next_unit_dts != SC_TIME_NONE) {
            if (next_unit_dts <= window_start) return &buffer->stats.evicted_retention;
        } else if (unit_end == buffer->head_seq + 1 && slot_at(buffer, 0)->dts < window_start) {
            return &buffer->stats.evicted_retention;
        }
    }
    return NULL;
}

static void enforce_limits(sc_buffer *buffer)
{
    while (buffer->count > 0) {
        int64_t next_unit_dts;
        uint64_t unit_end = head_unit_end(buffer, &next_unit_dts);
        uint64_t *reason = over_limit(buffer, unit_end, next_unit_dts);
        if (!reason) return;
        /* A file read faster than real time waits for its readers rather
         * than evicting what they have not seen. */
        while (!buffer->live && !buffer->stopping && slowest_reader(buffer) < unit_end)
            g_cond_wait(&buffer->readers_advanced, &buffer->lock);
        while (buffer->count > 0 && buffer->head_seq < unit_end) evict_head_packet(buffer, reason);
    }
}

bool sc_buffer_push(sc_buffer *buffer, sc_packet *packet)
{
    g_mutex_lock(&buffer->lock);
    buffer->stats.packets_in++;
    buffer->stats.bytes_in += packet->size;
    if (buffer->stopping) {
        buffer->stats.frames_dropped++;
        g_mutex_unlock(&buffer->lock);
        sc_packet_unref(packet);
        return false;
    }
    if (buffer->count == buffer->capacity) grow(buffer);
    packet->seq = buffer->next_seq++;
    buffer->slots[(buffer->head + buffer->count) & (buffer->capacity - 1)] = packet;
    buffer->count++;
    buffer->bytes += sc_packet_footprint(packet);
    if (buffer->newest_dts == SC_TIME_NONE || packet->dts > buffer->newest_dts) buffer->newest_dts = packet->dts;
    if (is_reference_keyframe(buffer, packet)) {
        sc_keyframe_entry entry = {packet->seq, packet->pts, packet->dts};
        g_array_append_val(buffer->keyframes, entry);
        buffer->held_keyframes++;
    }
    enforce_limits(buffer);
    g_cond_broadcast(&buffer->data_arrived);
    g_mutex_unlock(&buffer->lock);
    return true;
}

void sc_buffer_end(sc_buffer *buffer)
{
    g_mutex_lock(&buffer->lock);
    buffer->ended = true;
    g_cond_broadcast(&buffer->data_arrived);
    g_mutex_unlock(&buffer->lock);
}

void sc_buffer_stop(sc_buffer *buffer)
{
    g_mutex_lock(&buffer->lock);
    buffer->stopping = true;
    g_cond_broadcast(&buffer->readers_advanced);
    g_cond_broadcast(&buffer->data_arrived);
    g_mutex_unlock(&buffer->lock);
}

void sc_buffer_wake_readers(sc_buffer *buffer)
{
    g_mutex_lock(&buffer->lock);
    g_cond_broadcast(&buffer->data_arrived);
    g_mutex_unlock(&buffer->lock);
}

sc_buffer_reader *sc_buffer_reader_new(sc_buffer *buffer)
{
    sc_buffer_reader *reader = g_new0(sc_buffer_reader, 1);
    g_mutex_lock(&buffer->lock);
    reader->cursor = buffer->head_seq;
    g_ptr_array_add(buffer->readers, reader);
    g_mutex_unlock(&buffer->lock);
    return reader;
}

void sc_buffer_reader_free(sc_buffer *buffer, sc_buffer_reader *reader)
{
    g_mutex_lock(&buffer->lock);
    g_ptr_array_remove(buffer->readers, reader);
    g_cond_broadcast(&buffer->readers_advanced);
    g_mutex_unlock(&buffer->lock);
    g_free(reader);
}

size_t sc_buffer_read(sc_buffer *buffer, sc_buffer_reader *reader, const sc_packet **out,
                      size_t max, int64_t timeout_ns, bool *at_end)
{
    *at_end = false;
    g_mutex_lock(&buffer->lock);
    if (reader->cursor >= buffer->next_seq && !buffer->ended && timeout_ns > 0) {
        gint64 deadline = g_get_monotonic_time() + timeout_ns / 1000;
        while (reader->cursor >= buffer->next_seq && !buffer->ended)
            if (!g_cond_wait_until(&buffer->data_arrived, &buffer->lock, deadline)) break;
    }
    if (reader->cursor < buffer->head_seq) {
        buffer->stats.reader_missed += buffer->head_seq - reader->cursor;
        reader->cursor = buffer->head_seq;
    }
    size_t taken = 0;
    while (taken < max && reader->cursor < buffer->next_seq) {
        const sc_packet *packet = slot_at(buffer, (size_t)(reader->cursor - buffer->head_seq));
        out[taken++] = sc_packet_ref(packet);
        reader->cursor++;
    }
    if (taken) g_cond_broadcast(&buffer->readers_advanced);
    *at_end = buffer->ended && reader->cursor >= buffer->next_seq;
    g_mutex_unlock(&buffer->lock);
    return taken;
}

bool sc_buffer_keyframe_at_or_before(sc_buffer *buffer, int64_t t, sc_keyframe_entry *out)
{
    bool found = false;
    g_mutex_lock(&buffer->lock);
    guint low = 0, high = keyframes_held(buffer);
    while (low < high) {
        guint middle = low + (high - low) / 2;
        if (keyframe_at(buffer, middle)->pts <= t) low = middle + 1;
        else high = middle;
    }
    if (low > 0) {
        *out = *keyframe_at(buffer, low - 1);
        found = true;
    }
    g_mutex_unlock(&buffer->lock);
    return found;
}

bool sc_buffer_keyframe_at_or_after(sc_buffer *buffer, int64_t t, sc_keyframe_entry *out)
{
    bool found = false;
    g_mutex_lock(&buffer->lock);
    for (guint i = 0; i < keyframes_held(buffer); i++) {
        if (keyframe_at(buffer, i)->pts >= t) {
            *out = *keyframe_at(buffer, i);
            found = true;
            break;
        }
    }
    g_mutex_unlock(&buffer->lock);
    return found;
}

uint64_t sc_buffer_seq_back(sc_buffer *buffer, uint64_t seq, int64_t min_dts)
{
    g_mutex_lock(&buffer->lock);
    if (seq > buffer->next_seq) seq = buffer->next_seq;
    while (seq > buffer->head_seq) {
        const sc_packet *previous = slot_at(buffer, (size_t)(seq - 1 - buffer->head_seq));
        if (previous->dts < min_dts) break;
        seq--;
    }
    if (seq < buffer->head_seq) seq = buffer->head_seq;
    g_mutex_unlock(&buffer->lock);
    return seq;
}

void sc_buffer_copy_seq_range(sc_buffer *buffer, uint64_t first, uint64_t end, GPtrArray *out)
{
    g_mutex_lock(&buffer->lock);
    if (first < buffer->head_seq) first = buffer->head_seq;
    if (end > buffer->next_seq) end = buffer->next_seq;
    for (uint64_t seq = first; seq < end; seq++)
        g_ptr_array_add(out, (gpointer)sc_packet_ref(slot_at(buffer, (size_t)(seq - buffer->head_seq))));
    g_mutex_unlock(&buffer->lock);
}

void sc_buffer_copy_time_range(sc_buffer *buffer, int64_t start, int64_t end, bool from_keyframe,
                               GPtrArray *out)
{
    sc_keyframe_entry keyframe;
    bool by_seq = from_keyframe && sc_buffer_keyframe_at_or_before(buffer, start, &keyframe);
    g_mutex_lock(&buffer->lock);
    for (size_t i = 0; i < buffer->count; i++) {
        const sc_packet *packet = slot_at(buffer, i);
        if (by_seq ? packet->seq < keyframe.seq : packet->dts < start) continue;
        if (end != SC_TIME_NONE && packet->dts >= end) continue;
        g_ptr_array_add(out, (gpointer)sc_packet_ref(packet));
    }
    g_mutex_unlock(&buffer->lock);
}

void sc_buffer_get_stats(sc_buffer *buffer, sc_buffer_stats *stats)
{
    g_mutex_lock(&buffer->lock);
    *stats = buffer->stats;
    stats->current_frames = buffer->count;
    stats->memory_usage_bytes = buffer->bytes;
    stats->memory_usage_mb = (double)buffer->bytes / (1024.0 * 1024.0);
    stats->keyframe_ratio = buffer->count ? (double)buffer->held_keyframes / (double)buffer->count : 0.0;
    stats->oldest_ts = buffer->count ? slot_at(buffer, 0)->dts : SC_TIME_NONE;
    stats->newest_ts = buffer->count ? buffer->newest_dts : SC_TIME_NONE;
    stats->buffer_duration_seconds = buffer->count
        ? (double)(buffer->newest_dts - slot_at(buffer, 0)->dts) / 1e9 : 0.0;
    g_mutex_unlock(&buffer->lock);
}
