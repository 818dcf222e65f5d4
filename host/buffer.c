#include "buffer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "packet.h"

/* POSIX threads rather than GMutex: GLib's futex mutex is invisible to
 * ThreadSanitizer, and the buffer's concurrency is tested under it. */

/* A reader lets go of a batch only when it comes back for the next one:
 * until then it may still place a hold inside the batch (a window that
 * starts at a keyframe it just handed to its module), so a file input's
 * writer must not evict the batch under it. */
struct sc_buffer_reader {
    uint64_t cursor;   /* seq of the next packet to hand out */
    uint64_t released; /* seqs before this one are done with */
    uint64_t hold;     /* keep from this seq on; UINT64_MAX = nothing */
};

struct sc_memory_governor {
    int64_t cap;
    atomic_int_least64_t total;
    pthread_mutex_t lock;      /* one enforcer at a time; taken before any buffer's */
    GPtrArray *buffers;
};

struct sc_buffer {
    pthread_mutex_t lock;
    pthread_cond_t data_arrived;     /* readers wait on it */
    pthread_cond_t readers_advanced; /* a non-live writer waits on it */
    sc_buffer_limits limits;

    /* The ring: slots [head, head + length) hold seqs [head_seq,
     * head_seq + length); a NULL slot is a packet thinned away. */
    const sc_packet **slots;
    size_t capacity;          /* power of two */
    size_t head;
    size_t length;
    size_t held;              /* non-NULL slots */
    uint64_t head_seq;
    uint64_t next_seq;

    GArray *keyframes;        /* sc_keyframe_entry of the reference stream, by seq */
    guint keyframes_start;    /* entries before it were evicted */

    int reference_stream;
    bool live;
    bool ended;
    bool stopping;
    GPtrArray *readers;

    uint64_t bytes;           /* footprint of the held packets */
    uint64_t held_keyframes;
    int64_t newest_dts;
    int64_t last_push_ns;     /* monotonic, for the GC timer */
    sc_pin_counter *pinned;
    sc_memory_governor *governor;
    sc_buffer_stats stats;
};

static int64_t monotonic_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * SC_NSEC_PER_SEC + now.tv_nsec;
}

static void init_cond(pthread_cond_t *cond)
{
    pthread_condattr_t attributes;
    pthread_condattr_init(&attributes);
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attributes);
    pthread_condattr_destroy(&attributes);
}

sc_buffer *sc_buffer_new(const sc_buffer_limits *limits)
{
    sc_buffer *buffer = g_new0(sc_buffer, 1);
    pthread_mutex_init(&buffer->lock, NULL);
    init_cond(&buffer->data_arrived);
    init_cond(&buffer->readers_advanced);
    buffer->limits = *limits;
    buffer->capacity = 1024;
    buffer->slots = g_new0(const sc_packet *, buffer->capacity);
    buffer->keyframes = g_array_new(FALSE, FALSE, sizeof(sc_keyframe_entry));
    buffer->reference_stream = -1;
    buffer->live = true;
    buffer->readers = g_ptr_array_new();
    buffer->newest_dts = SC_TIME_NONE;
    buffer->last_push_ns = monotonic_ns();
    buffer->pinned = sc_pin_counter_new();
    return buffer;
}

static const sc_packet *slot_at(const sc_buffer *buffer, size_t position)
{
    return buffer->slots[(buffer->head + position) & (buffer->capacity - 1)];
}

static const sc_packet **slot_ref(sc_buffer *buffer, size_t position)
{
    return &buffer->slots[(buffer->head + position) & (buffer->capacity - 1)];
}

static void account_bytes(sc_buffer *buffer, int64_t delta)
{
    buffer->bytes += (uint64_t)delta;
    if (buffer->governor) atomic_fetch_add_explicit(&buffer->governor->total, delta, memory_order_relaxed);
}

void sc_buffer_free(sc_buffer *buffer)
{
    if (!buffer) return;
    for (size_t i = 0; i < buffer->length; i++)
        if (slot_at(buffer, i)) sc_packet_unref(slot_at(buffer, i));
    if (buffer->governor) atomic_fetch_sub_explicit(&buffer->governor->total, (int64_t)buffer->bytes, memory_order_relaxed);
    sc_pin_counter_unref(buffer->pinned);
    g_free(buffer->slots);
    g_array_free(buffer->keyframes, TRUE);
    for (guint i = 0; i < buffer->readers->len; i++) g_free(g_ptr_array_index(buffer->readers, i));
    g_ptr_array_free(buffer->readers, TRUE);
    pthread_cond_destroy(&buffer->data_arrived);
    pthread_cond_destroy(&buffer->readers_advanced);
    pthread_mutex_destroy(&buffer->lock);
    g_free(buffer);
}

void sc_buffer_set_reference_stream(sc_buffer *buffer, int stream_index)
{
    pthread_mutex_lock(&buffer->lock);
    buffer->reference_stream = stream_index;
    pthread_mutex_unlock(&buffer->lock);
}

int sc_buffer_reference_stream(sc_buffer *buffer)
{
    pthread_mutex_lock(&buffer->lock);
    int stream = buffer->reference_stream;
    pthread_mutex_unlock(&buffer->lock);
    return stream;
}

void sc_buffer_set_live(sc_buffer *buffer, bool live)
{
    pthread_mutex_lock(&buffer->lock);
    buffer->live = live;
    pthread_cond_broadcast(&buffer->readers_advanced);
    pthread_mutex_unlock(&buffer->lock);
}

bool sc_buffer_is_live(sc_buffer *buffer)
{
    pthread_mutex_lock(&buffer->lock);
    bool live = buffer->live;
    pthread_mutex_unlock(&buffer->lock);
    return live;
}

static guint keyframes_held(const sc_buffer *buffer)
{
    return buffer->keyframes->len - buffer->keyframes_start;
}

static sc_keyframe_entry *keyframe_at(const sc_buffer *buffer, guint i)
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
    for (size_t i = 0; i < buffer->length; i++) slots[i] = slot_at(buffer, i);
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
        if (reader->released < slowest) slowest = reader->released;
    }
    return slowest;
}

static uint64_t oldest_hold(const sc_buffer *buffer)
{
    uint64_t oldest = UINT64_MAX;
    for (guint i = 0; i < buffer->readers->len; i++) {
        const sc_buffer_reader *reader = g_ptr_array_index(buffer->readers, i);
        if (reader->hold < oldest) oldest = reader->hold;
    }
    return oldest;
}

/* A hold may stretch the buffer to twice its limits, never further: a
 * hold that waited on the writer could wait for itself. */
static bool hold_stretches(const sc_buffer *buffer, uint64_t unit_end)
{
    if (oldest_hold(buffer) >= unit_end) return false;
    const sc_buffer_limits *limits = &buffer->limits;
    if (limits->max_items > 0 && buffer->held > 2 * (uint64_t)limits->max_items) return false;
    if (limits->max_memory_bytes > 0 && buffer->bytes > 2 * (uint64_t)limits->max_memory_bytes) return false;
    if (limits->retention_ns > 0 && buffer->length > 0 && slot_at(buffer, 0) &&
        buffer->newest_dts - slot_at(buffer, 0)->dts > 2 * limits->retention_ns)
        return false;
    return true;
}

/* The buffer's own reference goes; views may keep the packet (pinned). */
static void drop_packet(sc_buffer *buffer, const sc_packet *packet)
{
    account_bytes(buffer, -(int64_t)sc_packet_footprint(packet));
    buffer->held--;
    if (is_reference_keyframe(buffer, packet)) buffer->held_keyframes--;
    sc_packet_release_pinned(packet, buffer->pinned);
}

/* Seq just past the oldest eviction unit: the oldest GOP, or a single
 * packet when no later keyframe bounds it; *next_dts is the dts of the
 * keyframe that starts the next unit. */
static uint64_t head_unit_end(const sc_buffer *buffer, int64_t *next_dts)
{
    *next_dts = SC_TIME_NONE;
    for (guint i = 0; i < keyframes_held(buffer); i++) {
        const sc_keyframe_entry *keyframe = keyframe_at(buffer, i);
        if (keyframe->seq > buffer->head_seq) {
            *next_dts = keyframe->dts;
            return keyframe->seq;
        }
    }
    return buffer->head_seq + 1;
}

static void evict_head(sc_buffer *buffer, uint64_t *reason)
{
    const sc_packet *packet = slot_at(buffer, 0);
    *slot_ref(buffer, 0) = NULL;
    buffer->head = (buffer->head + 1) & (buffer->capacity - 1);
    buffer->length--;
    buffer->head_seq++;
    while (keyframes_held(buffer) > 0 && keyframe_at(buffer, 0)->seq < buffer->head_seq) buffer->keyframes_start++;
    /* Compact the index once its dead prefix dominates. */
    if (buffer->keyframes_start > 64 && buffer->keyframes_start * 2 > buffer->keyframes->len) {
        g_array_remove_range(buffer->keyframes, 0, buffer->keyframes_start);
        buffer->keyframes_start = 0;
    }
    if (!packet) return;  /* thinned earlier, already counted */
    (*reason)++;
    drop_packet(buffer, packet);
}

static void evict_unit(sc_buffer *buffer, uint64_t unit_end, uint64_t *reason)
{
    while (buffer->length > 0 && buffer->head_seq < unit_end) evict_head(buffer, reason);
}

/* Thin the oldest GOP not thinned yet (never the newest, still being
 * written) down to its keyframe and data packets. Returns whether a GOP
 * was found; a non-live buffer only thins what every cursor reader saw,
 * and no buffer thins what a reader holds. */
static bool thin_oldest_gop(sc_buffer *buffer)
{
    uint64_t readable_end = buffer->live ? UINT64_MAX : slowest_reader(buffer);
    uint64_t held_from = oldest_hold(buffer);
    for (guint i = 0; i + 1 < keyframes_held(buffer); i++) {
        sc_keyframe_entry *keyframe = keyframe_at(buffer, i);
        uint64_t gop_end = keyframe_at(buffer, i + 1)->seq;
        if (keyframe->thinned) continue;
        if (gop_end > readable_end || gop_end > held_from) return false;
        keyframe->thinned = true;
        for (uint64_t seq = keyframe->seq + 1; seq < gop_end; seq++) {
            const sc_packet **slot = slot_ref(buffer, (size_t)(seq - buffer->head_seq));
            const sc_packet *packet = *slot;
            if (!packet) continue;
            bool droppable = packet->media_type == SC_MEDIA_AUDIO ||
                             ((int)packet->stream_index == buffer->reference_stream &&
                              !(packet->flags & SC_PACKET_KEY));
            if (!droppable) continue;
            *slot = NULL;
            buffer->stats.thinned++;
            drop_packet(buffer, packet);
        }
        return true;
    }
    return false;
}

typedef enum pressure {
    PRESSURE_NONE,
    PRESSURE_ITEMS,
    PRESSURE_MEMORY,
    PRESSURE_RETENTION
} pressure;

static pressure over_limit(const sc_buffer *buffer, int64_t newest, uint64_t unit_end, int64_t next_unit_dts)
{
    const sc_buffer_limits *limits = &buffer->limits;
    if (limits->max_items > 0 && buffer->held > (uint64_t)limits->max_items) return PRESSURE_ITEMS;
    if (limits->max_memory_bytes > 0 && buffer->bytes > (uint64_t)limits->max_memory_bytes) return PRESSURE_MEMORY;
    if (limits->retention_ns > 0 && newest != SC_TIME_NONE && buffer->length > 0) {
        int64_t window_start = newest - limits->retention_ns;
        if (next_unit_dts != SC_TIME_NONE) {
            if (next_unit_dts <= window_start) return PRESSURE_RETENTION;
        } else if (unit_end == buffer->head_seq + 1) {
            const sc_packet *head = slot_at(buffer, 0);
            if (!head || head->dts < window_start) return PRESSURE_RETENTION;
        }
    }
    return PRESSURE_NONE;
}

static void enforce_limits(sc_buffer *buffer)
{
    while (buffer->length > 0) {
        int64_t next_unit_dts;
        uint64_t unit_end = head_unit_end(buffer, &next_unit_dts);
        pressure kind = over_limit(buffer, buffer->newest_dts, unit_end, next_unit_dts);
        if (kind == PRESSURE_NONE) return;
        /* A file input holds back for a strategy keeping a start while that
         * strategy still has packets to read; once it has read everything
         * (its segment is longer than the buffer) the buffer stretches, and
         * past twice its limits it lets go. */
        if (!buffer->live && !buffer->stopping && oldest_hold(buffer) < unit_end &&
            slowest_reader(buffer) < buffer->next_seq) {
            pthread_cond_wait(&buffer->readers_advanced, &buffer->lock);
            continue;
        }
        if (hold_stretches(buffer, unit_end)) return;
        if (kind != PRESSURE_RETENTION && buffer->limits.keyframe_priority && thin_oldest_gop(buffer)) continue;
        /* A file read faster than real time waits for its readers rather
         * than evicting what they have not seen. */
        while (!buffer->live && !buffer->stopping && slowest_reader(buffer) < unit_end)
            pthread_cond_wait(&buffer->readers_advanced, &buffer->lock);
        uint64_t *reason = kind == PRESSURE_ITEMS ? &buffer->stats.evicted_items
                         : kind == PRESSURE_MEMORY ? &buffer->stats.evicted_memory
                                                   : &buffer->stats.evicted_retention;
        evict_unit(buffer, unit_end, reason);
    }
}

/* Relieve the host-wide cap: the buffer most above its fair share gives up
 * its oldest GOP (or thins one), until the total fits or nothing can go. */
static void governor_enforce(sc_memory_governor *governor)
{
    pthread_mutex_lock(&governor->lock);
    while (atomic_load_explicit(&governor->total, memory_order_relaxed) > governor->cap) {
        int64_t fair_share = governor->cap / (int64_t)MAX(governor->buffers->len, 1u);
        sc_buffer *victim = NULL;
        int64_t worst = INT64_MIN;
        for (guint i = 0; i < governor->buffers->len; i++) {
            sc_buffer *candidate = g_ptr_array_index(governor->buffers, i);
            int64_t excess = (int64_t)sc_buffer_memory(candidate) - fair_share;
            if (excess > worst) {
                worst = excess;
                victim = candidate;
            }
        }
        if (!victim) break;
        pthread_mutex_lock(&victim->lock);
        bool relieved = false;
        if (victim->length > 0) {
            if (victim->limits.keyframe_priority && thin_oldest_gop(victim)) {
                relieved = true;
            } else {
                int64_t next_unit_dts;
                uint64_t unit_end = head_unit_end(victim, &next_unit_dts);
                evict_unit(victim, unit_end, &victim->stats.evicted_host_memory);
                relieved = true;
            }
        }
        pthread_mutex_unlock(&victim->lock);
        if (!relieved) break;
    }
    pthread_mutex_unlock(&governor->lock);
}

bool sc_buffer_push(sc_buffer *buffer, sc_packet *packet)
{
    pthread_mutex_lock(&buffer->lock);
    buffer->stats.packets_in++;
    buffer->stats.bytes_in += packet->size;
    if (buffer->stopping) {
        buffer->stats.frames_dropped++;
        pthread_mutex_unlock(&buffer->lock);
        sc_packet_unref(packet);
        return false;
    }
    if (buffer->length == buffer->capacity) grow(buffer);
    packet->seq = buffer->next_seq++;
    *slot_ref(buffer, buffer->length) = packet;
    buffer->length++;
    buffer->held++;
    account_bytes(buffer, (int64_t)sc_packet_footprint(packet));
    if (buffer->newest_dts == SC_TIME_NONE || packet->dts > buffer->newest_dts) buffer->newest_dts = packet->dts;
    buffer->last_push_ns = monotonic_ns();
    if (is_reference_keyframe(buffer, packet)) {
        sc_keyframe_entry entry = {packet->seq, packet->pts, packet->dts, false};
        g_array_append_val(buffer->keyframes, entry);
        buffer->held_keyframes++;
    }
    /* Readers hear of the packet before the limits are enforced: a file
     * input's writer may wait there for them to read it. */
    pthread_cond_broadcast(&buffer->data_arrived);
    enforce_limits(buffer);
    sc_memory_governor *governor = buffer->governor;
    pthread_mutex_unlock(&buffer->lock);
    if (governor && atomic_load_explicit(&governor->total, memory_order_relaxed) > governor->cap)
        governor_enforce(governor);
    return true;
}

size_t sc_buffer_gc(sc_buffer *buffer, int64_t now_ns)
{
    pthread_mutex_lock(&buffer->lock);
    buffer->stats.gc_runs++;
    uint64_t before = buffer->stats.evicted_retention;
    if (buffer->limits.retention_ns > 0 && buffer->newest_dts != SC_TIME_NONE) {
        /* Stream time runs on with the wall clock while nothing arrives. */
        int64_t idle = now_ns - buffer->last_push_ns;
        int64_t newest = buffer->newest_dts + (idle > 0 ? idle : 0);
        uint64_t readable_end = buffer->live ? UINT64_MAX : slowest_reader(buffer);
        while (buffer->length > 0) {
            int64_t next_unit_dts;
            uint64_t unit_end = head_unit_end(buffer, &next_unit_dts);
            if (over_limit(buffer, newest, unit_end, next_unit_dts) != PRESSURE_RETENTION) break;
            if (unit_end > readable_end) break;
            evict_unit(buffer, unit_end, &buffer->stats.evicted_retention);
        }
    }
    size_t evicted = (size_t)(buffer->stats.evicted_retention - before);
    pthread_mutex_unlock(&buffer->lock);
    return evicted;
}

void sc_buffer_end(sc_buffer *buffer)
{
    pthread_mutex_lock(&buffer->lock);
    buffer->ended = true;
    pthread_cond_broadcast(&buffer->data_arrived);
    pthread_mutex_unlock(&buffer->lock);
}

void sc_buffer_stop(sc_buffer *buffer)
{
    pthread_mutex_lock(&buffer->lock);
    buffer->stopping = true;
    pthread_cond_broadcast(&buffer->readers_advanced);
    pthread_cond_broadcast(&buffer->data_arrived);
    pthread_mutex_unlock(&buffer->lock);
}

void sc_buffer_wake_readers(sc_buffer *buffer)
{
    pthread_mutex_lock(&buffer->lock);
    pthread_cond_broadcast(&buffer->data_arrived);
    pthread_mutex_unlock(&buffer->lock);
}

void sc_buffer_reader_hold(sc_buffer *buffer, sc_buffer_reader *reader, uint64_t seq)
{
    pthread_mutex_lock(&buffer->lock);
    reader->hold = seq;
    pthread_cond_broadcast(&buffer->readers_advanced);
    pthread_mutex_unlock(&buffer->lock);
}

sc_buffer_reader *sc_buffer_reader_new(sc_buffer *buffer)
{
    sc_buffer_reader *reader = g_new0(sc_buffer_reader, 1);
    reader->hold = UINT64_MAX;
    pthread_mutex_lock(&buffer->lock);
    reader->cursor = reader->released = buffer->head_seq;
    g_ptr_array_add(buffer->readers, reader);
    pthread_mutex_unlock(&buffer->lock);
    return reader;
}

void sc_buffer_reader_free(sc_buffer *buffer, sc_buffer_reader *reader)
{
    pthread_mutex_lock(&buffer->lock);
    g_ptr_array_remove(buffer->readers, reader);
    pthread_cond_broadcast(&buffer->readers_advanced);
    pthread_mutex_unlock(&buffer->lock);
    g_free(reader);
}

size_t sc_buffer_read(sc_buffer *buffer, sc_buffer_reader *reader, const sc_packet **out,
                      size_t max, int64_t timeout_ns, bool *at_end)
{
    return sc_buffer_read_until(buffer, reader, out, max, timeout_ns, SC_TIME_NONE, at_end);
}

size_t sc_buffer_read_until(sc_buffer *buffer, sc_buffer_reader *reader, const sc_packet **out, size_t max,
                            int64_t timeout_ns, int64_t dts_limit, bool *at_end)
{
    *at_end = false;
    pthread_mutex_lock(&buffer->lock);
    if (reader->released != reader->cursor) {
        reader->released = reader->cursor;
        pthread_cond_broadcast(&buffer->readers_advanced);
    }
    if (reader->cursor >= buffer->next_seq && !buffer->ended && timeout_ns > 0) {
        int64_t deadline_ns = monotonic_ns() + timeout_ns;
        struct timespec deadline = {(time_t)(deadline_ns / SC_NSEC_PER_SEC), (long)(deadline_ns % SC_NSEC_PER_SEC)};
        while (reader->cursor >= buffer->next_seq && !buffer->ended)
            if (pthread_cond_timedwait(&buffer->data_arrived, &buffer->lock, &deadline) != 0) break;
    }
    if (reader->cursor < buffer->head_seq) {
        buffer->stats.reader_missed += buffer->head_seq - reader->cursor;
        reader->cursor = buffer->head_seq;
    }
    size_t taken = 0;
    while (taken < max && reader->cursor < buffer->next_seq) {
        const sc_packet *packet = slot_at(buffer, (size_t)(reader->cursor - buffer->head_seq));
        if (packet && dts_limit != SC_TIME_NONE && packet->dts > dts_limit) break;
        reader->cursor++;
        if (packet) out[taken++] = sc_packet_ref(packet);
    }
    *at_end = buffer->ended && reader->cursor >= buffer->next_seq;
    pthread_mutex_unlock(&buffer->lock);
    return taken;
}

bool sc_buffer_keyframe_at_or_before(sc_buffer *buffer, int64_t t, sc_keyframe_entry *out)
{
    bool found = false;
    pthread_mutex_lock(&buffer->lock);
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
    pthread_mutex_unlock(&buffer->lock);
    return found;
}

bool sc_buffer_keyframe_at_or_after(sc_buffer *buffer, int64_t t, sc_keyframe_entry *out)
{
    bool found = false;
    pthread_mutex_lock(&buffer->lock);
    guint low = 0, high = keyframes_held(buffer);
    while (low < high) {
        guint middle = low + (high - low) / 2;
        if (keyframe_at(buffer, middle)->pts < t) low = middle + 1;
        else high = middle;
    }
    if (low < keyframes_held(buffer)) {
        *out = *keyframe_at(buffer, low);
        found = true;
    }
    pthread_mutex_unlock(&buffer->lock);
    return found;
}

uint64_t sc_buffer_seq_back(sc_buffer *buffer, uint64_t seq, int64_t min_dts)
{
    pthread_mutex_lock(&buffer->lock);
    if (seq > buffer->next_seq) seq = buffer->next_seq;
    while (seq > buffer->head_seq) {
        const sc_packet *previous = slot_at(buffer, (size_t)(seq - 1 - buffer->head_seq));
        if (previous && previous->dts < min_dts) break;
        seq--;
    }
    if (seq < buffer->head_seq) seq = buffer->head_seq;
    pthread_mutex_unlock(&buffer->lock);
    return seq;
}

size_t sc_buffer_copy_seq_range(sc_buffer *buffer, uint64_t first, uint64_t end, GPtrArray *out)
{
    size_t holes = 0;
    pthread_mutex_lock(&buffer->lock);
    if (end > buffer->next_seq) end = buffer->next_seq;
    if (first < buffer->head_seq) {
        holes += (size_t)(MIN(end, buffer->head_seq) - MIN(first, end));
        first = buffer->head_seq;
    }
    for (uint64_t seq = first; seq < end; seq++) {
        const sc_packet *packet = slot_at(buffer, (size_t)(seq - buffer->head_seq));
        if (packet) g_ptr_array_add(out, (gpointer)sc_packet_ref(packet));
        else holes++;
    }
    pthread_mutex_unlock(&buffer->lock);
    return holes;
}

/* First ring position whose packet has dts >= t, by bisection over the
 * (nearly) dts-ordered ring, then back over interleaving that runs late. */
static size_t position_of_time(const sc_buffer *buffer, int64_t t)
{
    size_t low = 0, high = buffer->length;
    while (low < high) {
        size_t middle = low + (high - low) / 2, probe = middle;
        while (probe < high && !slot_at(buffer, probe)) probe++;
        if (probe == high) {
            high = middle;
        } else if (slot_at(buffer, probe)->dts < t) {
            low = probe + 1;
        } else {
            high = middle;
        }
    }
    while (low > 0) {
        const sc_packet *previous = slot_at(buffer, low - 1);
        if (previous && previous->dts < t) break;
        low--;
    }
    return low;
}

void sc_buffer_copy_time_range(sc_buffer *buffer, int64_t start, int64_t end, bool from_keyframe,
                               GPtrArray *out)
{
    sc_keyframe_entry keyframe;
    bool by_seq = from_keyframe && sc_buffer_keyframe_at_or_before(buffer, start, &keyframe);
    pthread_mutex_lock(&buffer->lock);
    size_t position;
    if (by_seq) position = keyframe.seq >= buffer->head_seq ? (size_t)(keyframe.seq - buffer->head_seq) : 0;
    else position = position_of_time(buffer, start);
    for (; position < buffer->length; position++) {
        const sc_packet *packet = slot_at(buffer, position);
        if (!packet) continue;
        if (!by_seq && packet->dts < start) continue;
        if (end != SC_TIME_NONE && packet->dts >= end) {
            /* Interleaving keeps a little of other streams beyond the end. */
            if (packet->dts >= end + SC_NSEC_PER_SEC) break;
            continue;
        }
        g_ptr_array_add(out, (gpointer)sc_packet_ref(packet));
    }
    pthread_mutex_unlock(&buffer->lock);
}

void sc_buffer_get_stats(sc_buffer *buffer, sc_buffer_stats *stats)
{
    pthread_mutex_lock(&buffer->lock);
    *stats = buffer->stats;
    stats->current_frames = buffer->held;
    stats->memory_usage_bytes = buffer->bytes;
    stats->memory_usage_mb = (double)buffer->bytes / (1024.0 * 1024.0);
    stats->keyframe_ratio = buffer->held ? (double)buffer->held_keyframes / (double)buffer->held : 0.0;
    stats->pinned_bytes = atomic_load_explicit(&buffer->pinned->bytes, memory_order_relaxed);
    stats->oldest_ts = SC_TIME_NONE;
    for (size_t i = 0; i < buffer->length && stats->oldest_ts == SC_TIME_NONE; i++)
        if (slot_at(buffer, i)) stats->oldest_ts = slot_at(buffer, i)->dts;
    stats->newest_ts = buffer->held ? buffer->newest_dts : SC_TIME_NONE;
    stats->buffer_duration_seconds = buffer->held ? (double)(buffer->newest_dts - stats->oldest_ts) / 1e9 : 0.0;
    pthread_mutex_unlock(&buffer->lock);
}

uint64_t sc_buffer_memory(sc_buffer *buffer)
{
    pthread_mutex_lock(&buffer->lock);
    uint64_t bytes = buffer->bytes;
    pthread_mutex_unlock(&buffer->lock);
    return bytes;
}

sc_memory_governor *sc_memory_governor_new(int64_t cap_bytes)
{
    sc_memory_governor *governor = g_new0(sc_memory_governor, 1);
    governor->cap = cap_bytes;
    atomic_init(&governor->total, 0);
    pthread_mutex_init(&governor->lock, NULL);
    governor->buffers = g_ptr_array_new();
    return governor;
}

void sc_memory_governor_free(sc_memory_governor *governor)
{
    if (!governor) return;
    g_ptr_array_free(governor->buffers, TRUE);
    pthread_mutex_destroy(&governor->lock);
    g_free(governor);
}

void sc_memory_governor_add(sc_memory_governor *governor, sc_buffer *buffer)
{
    pthread_mutex_lock(&governor->lock);
    pthread_mutex_lock(&buffer->lock);
    buffer->governor = governor;
    atomic_fetch_add_explicit(&governor->total, (int64_t)buffer->bytes, memory_order_relaxed);
    pthread_mutex_unlock(&buffer->lock);
    g_ptr_array_add(governor->buffers, buffer);
    pthread_mutex_unlock(&governor->lock);
}

uint64_t sc_memory_governor_total(sc_memory_governor *governor)
{
    int64_t total = atomic_load_explicit(&governor->total, memory_order_relaxed);
    return total > 0 ? (uint64_t)total : 0;
}
