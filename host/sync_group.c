/* [sync NAME] groups: several sources cut at the same wall-clock instants.
 *
 * The group's strategy module runs on the first member's stream with its
 * times mapped onto the reference clock (UTC), so its windows are windows
 * of wall-clock time. Each window it asks for is mapped back onto every
 * member's own timeline (through that member's reference clock, drift
 * included) and resolved there like any segment: from the keyframe at or
 * before the mapped start, exact start recorded. The members' segments are
 * gathered into a set; a member that is late, stalled or gone for longer
 * than sync.timeout after the first one arrived leaves the set partial
 * rather than holding up the others. */
#include <string.h>

#include "log.h"
#include "pipeline.h"
#include "runtime.h"

/* A window on the reference clock (UTC), mapped onto the member's own
 * timeline once the member's stream has reached its start: the start is
 * then interpolated on the member's fit and the end carried at most one
 * window ahead, however far the member runs behind the driver. The member
 * still gathers the window as it passes, so it may be longer than the
 * member's buffer. */
typedef struct sync_request {
    uint64_t index;
    sc_segment_request request;
} sync_request;

typedef struct open_set {
    uint64_t index;
    int64_t start_utc;
    int64_t end_utc;
    const sc_segment **segments;  /* by member, references held */
    guint arrived;                /* members delivered, present or not */
    gint64 deadline;              /* monotonic µs; 0 until the first arrival */
} open_set;

typedef struct set_box {
    sc_segment_set set;           /* must stay first */
    atomic_int references;
    const sc_segment **segments;
} set_box;

const sc_segment_set *sc_segment_set_ref(const sc_segment_set *set)
{
    set_box *box = (set_box *)(uintptr_t)set;
    atomic_fetch_add(&box->references, 1);
    return set;
}

void sc_segment_set_unref(const sc_segment_set *set)
{
    if (!set) return;
    set_box *box = (set_box *)(uintptr_t)set;
    if (atomic_fetch_sub(&box->references, 1) != 1) return;
    for (size_t i = 0; i < box->set.member_count; i++) sc_segment_unref(box->segments[i]);
    g_free(box->segments);
    g_free(box);
}

static void free_open_set(open_set *set, guint members)
{
    for (guint i = 0; i < members; i++) sc_segment_unref(set->segments[i]);
    g_free(set->segments);
    g_free(set);
}

static void dispatch(sc_sync_group *group, open_set *open)
{
    set_box *box = g_new0(set_box, 1);
    atomic_init(&box->references, 1);
    box->segments = open->segments;
    open->segments = NULL;
    sc_segment_set *set = &box->set;
    set->struct_size = sizeof *set;
    set->name = group->ctx->name;
    set->index = open->index;
    set->start_utc = open->start_utc;
    set->end_utc = open->end_utc;
    set->member_count = group->members->len;
    set->members = (const char *const *)group->member_names->pdata;
    set->segments = box->segments;
    for (size_t i = 0; i < set->member_count; i++)
        if (!box->segments[i]) set->flags |= SC_SEGMENT_SET_PARTIAL;
    if (set->flags & SC_SEGMENT_SET_PARTIAL) atomic_fetch_add(&group->sets_partial, 1);
    else atomic_fetch_add(&group->sets_complete, 1);
    sc_sink_dispatch_set(group, set);
    sc_segment_set_unref(set);
    g_free(open);
}

/* Sets leave in window order: a finished set waits for the ones before it
 * (which wait at most their timeout). */
static void release_ready(sc_sync_group *group)
{
    g_mutex_lock(&group->dispatch_lock);
    for (;;) {
        g_mutex_lock(&group->lock);
        open_set *next = g_hash_table_lookup(group->ready_sets, &group->next_dispatch);
        if (next) {
            g_hash_table_remove(group->ready_sets, &next->index);
            group->next_dispatch++;
        }
        g_mutex_unlock(&group->lock);
        if (!next) break;
        dispatch(group, next);
    }
    g_mutex_unlock(&group->dispatch_lock);
}

/* Called with the group's lock held. */
static void make_ready(sc_sync_group *group, open_set *open)
{
    g_hash_table_remove(group->open_sets, &open->index);
    g_hash_table_insert(group->ready_sets, &open->index, open);
}

int64_t sc_sync_group_emit(sc_sync_group *group, const sc_segment_request *request)
{
    g_mutex_lock(&group->lock);
    open_set *open = g_new0(open_set, 1);
    open->index = group->next_index++;
    open->start_utc = request->start;
    open->end_utc = request->end;
    open->segments = g_new0(const sc_segment *, group->members->len);
    /* Even a set no member ever answers goes out: after its window has
     * passed at live pace, plus the timeout. */
    open->deadline = g_get_monotonic_time() + (group->timeout_ns + (request->end - request->start)) / 1000;
    g_hash_table_insert(group->open_sets, &open->index, open);
    /* Once the lock is released the set belongs to the members: for a
     * window already past, every member may cut and deliver at once, and
     * the member thread that completes the set frees it. */
    uint64_t index = open->index;
    g_mutex_unlock(&group->lock);
    for (guint i = 0; i < group->members->len; i++) {
        sc_source_runtime *member = g_ptr_array_index(group->members, i);
        sc_strategy_runtime *shadow = g_ptr_array_index(group->shadows, i);
        sync_request *queued = g_new0(sync_request, 1);
        queued->index = index;
        queued->request = *request;
        queued->request.struct_size = sizeof queued->request;
        queued->request.label = NULL;
        queued->request.extra_json = NULL;
        g_mutex_lock(&shadow->requests_lock);
        g_queue_push_tail(&shadow->requests, queued);
        g_mutex_unlock(&shadow->requests_lock);
        sc_buffer_wake_readers(member->buffer);
    }
    return (int64_t)index;
}

static bool set_is_open(sc_sync_group *group, uint64_t index)
{
    g_mutex_lock(&group->lock);
    bool open = g_hash_table_contains(group->open_sets, &index);
    g_mutex_unlock(&group->lock);
    return open;
}

void sc_sync_group_deliver(sc_sync_group *group, int member, uint64_t index, const sc_segment *segment)
{
    bool complete = false;
    g_mutex_lock(&group->lock);
    open_set *open = g_hash_table_lookup(group->open_sets, &index);
    if (!open) {
        /* The set already went out partial without it. */
        g_mutex_unlock(&group->lock);
        if (segment) atomic_fetch_add(&group->late_members, 1);
        return;
    }
    if (segment) open->segments[member] = sc_segment_ref(segment);
    /* The first member to arrive starts the others' countdown. */
    if (open->arrived++ == 0) open->deadline = g_get_monotonic_time() + group->timeout_ns / 1000;
    if (open->arrived == group->members->len) {
        make_ready(group, open);
        complete = true;
    }
    g_mutex_unlock(&group->lock);
    if (complete) release_ready(group);
}

void sc_sync_group_expire(sc_sync_group *group, bool all)
{
    GPtrArray *overdue = g_ptr_array_new();
    gint64 now = g_get_monotonic_time();
    g_mutex_lock(&group->lock);
    GHashTableIter iterator;
    gpointer key, value;
    g_hash_table_iter_init(&iterator, group->open_sets);
    while (g_hash_table_iter_next(&iterator, &key, &value)) {
        open_set *open = value;
        if (all || now >= open->deadline) g_ptr_array_add(overdue, open);
    }
    for (guint i = 0; i < overdue->len; i++) make_ready(group, g_ptr_array_index(overdue, i));
    g_mutex_unlock(&group->lock);
    g_ptr_array_free(overdue, TRUE);
    release_ready(group);
}

int64_t sc_strategy_runtime_first_request_utc(sc_strategy_runtime *shadow)
{
    g_mutex_lock(&shadow->requests_lock);
    const sync_request *first = g_queue_peek_head(&shadow->requests);
    int64_t start = first ? first->request.start : SC_TIME_NONE;
    g_mutex_unlock(&shadow->requests_lock);
    return start;
}

void sc_strategy_runtime_take_requests(sc_strategy_runtime *shadow, bool input_ended)
{
    sc_sync_group *group = shadow->group;
    sc_reference_clock *clock = shadow->source->reference;
    for (;;) {
        g_mutex_lock(&shadow->requests_lock);
        sync_request *queued = g_queue_peek_head(&shadow->requests);
        /* Windows come in order: one the stream has not reached yet holds
         * the rest. A stalled member's set goes out partial meanwhile. */
        bool ready = queued && (input_ended ||
                                sc_reference_clock_reaches(clock, queued->request.start + SC_KEYFRAME_SNAP_NS) ||
                                !set_is_open(group, queued->index));
        if (ready) g_queue_pop_head(&shadow->requests);
        g_mutex_unlock(&shadow->requests_lock);
        if (!ready) return;
        if (!set_is_open(group, queued->index)) {
            /* Gone out partial without this member: late, nothing to cut. */
            atomic_fetch_add(&group->late_members, 1);
            g_free(queued);
            continue;
        }
        int64_t start = sc_reference_clock_to_media(clock, queued->request.start);
        int64_t end = sc_reference_clock_to_media(clock, queued->request.end);
        if (start == SC_TIME_NONE || end == SC_TIME_NONE || end <= start) {
            /* No clock for this member: it has nothing for this window. */
            sc_sync_group_deliver(group, shadow->member, queued->index, NULL);
        } else {
            sc_keyframe_entry keyframe;
            sc_buffer *buffer = shadow->source->buffer;
            if (sc_buffer_keyframe_at_or_after(buffer, start, &keyframe) &&
                keyframe.pts - start <= SC_KEYFRAME_SNAP_NS && keyframe.pts < end)
                start = keyframe.pts;
            else if (sc_buffer_keyframe_at_or_before(buffer, start, &keyframe) &&
                     start - keyframe.pts <= SC_KEYFRAME_SNAP_NS)
                start = keyframe.pts;
            queued->request.start = start;
            queued->request.end = end;
            sc_strategy_runtime_emit_indexed(shadow, &queued->request, queued->index);
        }
        g_free(queued);
    }
}

void sc_sync_group_free(sc_sync_group *group)
{
    if (!group) return;
    GHashTableIter iterator;
    gpointer key, value;
    g_hash_table_iter_init(&iterator, group->open_sets);
    while (g_hash_table_iter_next(&iterator, &key, &value)) free_open_set(value, group->members->len);
    g_hash_table_iter_init(&iterator, group->ready_sets);
    while (g_hash_table_iter_next(&iterator, &key, &value)) free_open_set(value, group->members->len);
    g_hash_table_destroy(group->open_sets);
    g_hash_table_destroy(group->ready_sets);
    g_mutex_clear(&group->dispatch_lock);
    g_ptr_array_free(group->members, TRUE);
    g_ptr_array_free(group->member_names, TRUE);
    g_ptr_array_free(group->shadows, TRUE);
    g_ptr_array_free(group->file_sinks, TRUE);
    g_ptr_array_free(group->record_sinks, TRUE);
    g_mutex_clear(&group->lock);
    g_free(group);
}
