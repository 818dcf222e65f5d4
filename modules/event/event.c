/* event: replay-buffer clips around events, with pre-roll and post-roll
 * taken from the buffer.
 *
 * Every event (time T, name, payload) asks for the segment
 * [T - pre_roll, T + post_roll) — or, with `clips`, one segment per length L,
 * [T + post_roll - L, T + post_roll) — on the source's timeline. An event
 * may bring its own pre_roll and post_roll (with `clips` only post_roll
 * applies). Starts are clamped at 0, where the timeline begins. Events come from three places:
 * the host (sc_strategy_ops.event: the control API, other modules), an
 * events file or FIFO read on a thread of this module and posted through
 * the host, and the source's timed-metadata packets (ID3, text, AMF).
 *
 * When a segment is requested: as soon as the stream has reached its start,
 * so the host starts it at the keyframe at or before that start (a request
 * for a start the stream has not reached yet would anchor it at the newest
 * keyframe seen so far) and then gathers the rest as it passes, completing
 * the segment once post_roll has passed. An event in the past (the common
 * case: "now", or an in-band cue) is requested at once; its pre-roll is
 * served from the buffer, and flagged truncated by the host when the buffer
 * no longer reaches back that far.
 *
 * Overlapping clips, per clip length (`overlap`):
 * - allow: every event gets its own clip.
 * - split: clips never overlap: a clip starts where an earlier clip ends
 *   and ends where an earlier clip begins (a start moved ahead of the
 *   stream waits for it, as above); an event whose range is already
 *   covered gets no clip (counted events_covered).
 * - merge (default): an event whose range overlaps the open clip, or comes
 *   within merge_gap of it, joins it: the clip spans all of them and ends
 *   post_roll after the last. The clip is requested when it closes, once
 *   the stream is merge_gap past its end with no new event; the buffer must
 *   still hold its start then (retention longer than the clip). An event
 *   that arrives after its neighbour closed starts a new clip, clipped like
 *   split, so merged clips never overlap either.
 *
 * Records carry label "event:NAME" (plus "/LENGTH" with several clips) and
 * {"event", "event_time", "payload", "pre_roll", "post_roll",
 * "merged_events"} (plus "last_event_time" when merged, "clip_length" with
 * clips); pre_roll and post_roll there are the clip's actual distances
 * from its first and last event. */
#include <streamcut/streamcut.h>

#include "event_reader.h"
#include "event_text.h"
#include "timed_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLIP_LENGTHS 16
/* Requested ranges remembered per clip length to keep split and merged
 * clips apart; events reaching further back than this many clips are rare. */
#define HISTORY_SIZE 256
/* Events waiting for the stream to reach their start; beyond this the
 * input is flooding us with future events. */
#define WAITING_MAX 100000
/* Event times beyond this (about 31 years of stream) are nonsense. */
#define EVENT_TIME_MAX (INT64_C(1000000000) * SC_NSEC_PER_SEC)

enum overlap_mode { OVERLAP_MERGE, OVERLAP_SPLIT, OVERLAP_ALLOW };

/* One event, shared by the clips it asks for. */
typedef struct shared_event {
    int references;
    char *name;
    char *payload_json;  /* valid JSON, or NULL */
    int64_t time;        /* SC_TIME_NONE until "now" is known */
    int64_t pre_roll;
    int64_t post_roll;
} shared_event;

typedef struct candidate {
    shared_event *event;
    int64_t start;
    int64_t end;
} candidate;

/* The merged clip still growing (overlap = merge). */
typedef struct merge_group {
    int open;
    int64_t start;
    int64_t end;
    shared_event *lead;  /* earliest event: names the clip */
    int64_t last_time;
    uint32_t count;
} merge_group;

typedef struct time_range {
    int64_t start;
    int64_t end;
} time_range;

/* A clip decided on but moved to a start the stream has not reached yet
 * (split clips start where an earlier clip ends): requested once it has. */
typedef struct deferred_clip {
    shared_event *lead;
    int64_t start;
    int64_t end;
    int64_t last_time;
    uint32_t count;
} deferred_clip;

/* The clips of one length (or the pre_roll clips when `clips` is unset). */
typedef struct clip_series {
    int64_t length;          /* 0: [time - pre_roll, time + post_roll) */
    char label_suffix[40];   /* "/30s" with several lengths, else "" */
    candidate *waiting;      /* sorted by start, then arrival */
    size_t waiting_count;
    size_t waiting_capacity;
    merge_group group;
    deferred_clip *deferred; /* sorted by start */
    size_t deferred_count;
    size_t deferred_capacity;
    time_range history[HISTORY_SIZE];
    size_t history_count;
    size_t history_next;
} clip_series;

typedef struct event_strategy {
    const sc_host_api *host;
    sc_ctx *ctx;
    int64_t pre_roll;
    int64_t post_roll;
    int64_t merge_gap;
    int overlap;
    int data_events;
    int has_clip_lengths;
    const char *events_path;
    clip_series series[MAX_CLIP_LENGTHS];
    size_t series_count;
    int reference_stream;        /* -1 until the first packet */
    int64_t reference_progress;  /* newest dts of the reference stream */
    int64_t newest_pts;          /* "now" */
    shared_event **unresolved;   /* "now" events that came before any packet */
    size_t unresolved_count;
    size_t unresolved_capacity;
    event_reader *reader;
} event_strategy;

static const sc_option_spec event_options[] = {
    {.name = "pre_roll", .type = SC_OPT_DURATION, .default_value = "10s", .min = 0, .max = 86400,
     .help = "footage before each event: a clip starts at event time - pre_roll (exactly; the packets from the "
             "keyframe at or before it)"},
    {.name = "post_roll", .type = SC_OPT_DURATION, .default_value = "5s", .min = 0, .max = 86400,
     .help = "footage after each event: a clip ends at event time + post_roll and comes out once the stream got "
             "there; 0 saves the last pre_roll seconds (a replay buffer)"},
    {.name = "clips", .type = SC_OPT_STRING, .default_value = "",
     .help = "several clip lengths per event, e.g. \"10s, 30s, 60s\": each clip ends at event time + post_roll and "
             "lasts its length (replaces pre_roll); labels get /LENGTH"},
    {.name = "overlap", .type = SC_OPT_ENUM, .default_value = "merge", .choices = "merge|split|allow",
     .help = "overlapping clips: merge = one clip over events closer than merge_gap, cut once post_roll passed "
             "the last; split = a clip starts where the earlier one ended; allow = independent clips"},
    {.name = "merge_gap", .type = SC_OPT_DURATION, .default_value = "0", .min = 0, .max = 86400,
     .help = "overlap = merge: clips that overlap or lie this close become one clip"},
    {.name = "events", .type = SC_OPT_STRING, .default_value = "",
     .help = "FIFO (made when the path is free) or regular file, one event a line: JSON {\"name\", \"time\" (s or "
             "\"now\"), \"pre_roll\", \"post_roll\", \"payload\"} or `TIME NAME` / `NAME`; reaches every strategy of "
             "the source"},
    {.name = "data_events", .type = SC_OPT_BOOL, .default_value = "true",
     .help = "the source's timed-metadata packets become events at their time: ID3 (TXXX, TIT2, PRIV), text, "
             "AMF cues"},
    {0},
};

/* ---- events ---- */

static shared_event *event_ref(shared_event *event)
{
    event->references++;
    return event;
}

static void event_unref(shared_event *event)
{
    if (!event || --event->references > 0) return;
    free(event->name);
    free(event->payload_json);
    free(event);
}

/* A payload that is not valid JSON is kept as a JSON string. */
static char *checked_payload(const char *payload_json)
{
    if (!payload_json) return NULL;
    size_t length = strlen(payload_json);
    text_buffer out = {0};
    if (json_is_valid(payload_json, length)) text_buffer_append(&out, payload_json, length);
    else text_buffer_append_json_bytes(&out, payload_json, length);
    return text_buffer_take(&out);
}

static shared_event *event_new(const char *name, const char *payload_json, int64_t time, int64_t pre_roll,
                               int64_t post_roll)
{
    shared_event *event = calloc(1, sizeof *event);
    if (!event) return NULL;
    event->references = 1;
    event->name = strdup(name);
    event->payload_json = checked_payload(payload_json);
    if (!event->name || (payload_json && !event->payload_json)) {
        event_unref(event);
        return NULL;
    }
    event->time = time;
    event->pre_roll = pre_roll;
    event->post_roll = post_roll;
    return event;
}

/* ---- requesting clips ---- */

static void remember(clip_series *series, int64_t start, int64_t end)
{
    series->history[series->history_next] = (time_range){start, end};
    series->history_next = (series->history_next + 1) % HISTORY_SIZE;
    if (series->history_count < HISTORY_SIZE) series->history_count++;
}

/* Shrinks [*start, *end) until no clip requested before overlaps it: a
 * clip that covers its start pushes the start to that clip's end, one that
 * begins inside it pulls the end back to that clip's start. The start only
 * grows and the end only shrinks, so this ends. */
static void avoid_requested(const clip_series *series, int64_t *start, int64_t *end)
{
    int changed = 1;
    while (changed && *start < *end) {
        changed = 0;
        for (size_t i = 0; i < series->history_count && *start < *end; i++) {
            const time_range *range = &series->history[i];
            if (range->start >= *end || range->end <= *start) continue;
            if (range->start <= *start) *start = range->end;
            else *end = range->start;
            changed = 1;
        }
    }
}

static char *build_extra_json(const event_strategy *self, const clip_series *series, const shared_event *lead,
                              int64_t start, int64_t end, int64_t last_time, uint32_t count)
{
    text_buffer text = {0};
    text_buffer_append_text(&text, "{\"event\":");
    text_buffer_append_json_bytes(&text, lead->name, strlen(lead->name));
    text_buffer_append_text(&text, ",\"event_time\":");
    text_buffer_append_seconds(&text, lead->time);
    text_buffer_append_text(&text, ",\"payload\":");
    text_buffer_append_text(&text, lead->payload_json ? lead->payload_json : "null");
    text_buffer_append_text(&text, ",\"pre_roll\":");
    text_buffer_append_seconds(&text, lead->time - start);
    text_buffer_append_text(&text, ",\"post_roll\":");
    text_buffer_append_seconds(&text, end - last_time);
    char number[32];
    snprintf(number, sizeof number, "%u", count);
    text_buffer_append_text(&text, ",\"merged_events\":");
    text_buffer_append_text(&text, number);
    if (count > 1) {
        text_buffer_append_text(&text, ",\"last_event_time\":");
        text_buffer_append_seconds(&text, last_time);
    }
    if (self->has_clip_lengths) {
        text_buffer_append_text(&text, ",\"clip_length\":");
        text_buffer_append_seconds(&text, series->length);
    }
    text_buffer_append_char(&text, '}');
    return text_buffer_take(&text);
}

static void request_clip(event_strategy *self, clip_series *series, const shared_event *lead, int64_t start,
                         int64_t end, int64_t last_time, uint32_t count)
{
    const sc_host_api *host = self->host;
    text_buffer label = {0};
    text_buffer_append_text(&label, "event:");
    text_buffer_append_text(&label, lead->name);
    text_buffer_append_text(&label, series->label_suffix);
    char *label_text = text_buffer_take(&label);
    char *extra_json = build_extra_json(self, series, lead, start, end, last_time, count);
    if (!label_text || !extra_json) {
        host->log(self->ctx, SC_LOG_ERROR, "out of memory: clip for event '%s' lost", lead->name);
        host->counter_add(self->ctx, "clips_lost", 1);
    } else {
        sc_segment_request request = {
            .struct_size = sizeof request,
            .start = start,
            .end = end,
            .label = label_text,
            .extra_json = extra_json,
        };
        int64_t index = host->segment_emit(self->ctx, &request);
        if (index < 0) {
            host->log(self->ctx, SC_LOG_ERROR, "clip [%.3f, %.3f) for event '%s' refused (status %lld)",
                      (double)start / 1e9, (double)end / 1e9, lead->name, (long long)index);
            host->counter_add(self->ctx, "clips_lost", 1);
        } else {
            host->log(self->ctx, SC_LOG_DEBUG, "segment %lld: [%.3f, %.3f) %s (%u event%s)", (long long)index,
                      (double)start / 1e9, (double)end / 1e9, label_text, count, count == 1 ? "" : "s");
            host->counter_add(self->ctx, "clips_requested", 1);
        }
    }
    free(label_text);
    free(extra_json);
}

/* Holds a clip back until the stream reaches its start. */
static void defer_clip(event_strategy *self, clip_series *series, shared_event *lead, int64_t start, int64_t end,
                       int64_t last_time, uint32_t count)
{
    if (series->deferred_count == series->deferred_capacity) {
        size_t capacity = series->deferred_capacity ? series->deferred_capacity * 2 : 8;
        deferred_clip *grown = realloc(series->deferred, capacity * sizeof *grown);
        if (!grown) {
            self->host->log(self->ctx, SC_LOG_ERROR, "out of memory: clip for event '%s' lost", lead->name);
            self->host->counter_add(self->ctx, "clips_lost", 1);
            return;
        }
        series->deferred = grown;
        series->deferred_capacity = capacity;
    }
    size_t at = series->deferred_count;
    while (at > 0 && series->deferred[at - 1].start > start) at--;
    memmove(series->deferred + at + 1, series->deferred + at,
            (series->deferred_count - at) * sizeof *series->deferred);
    series->deferred[at] = (deferred_clip){event_ref(lead), start, end, last_time, count};
    series->deferred_count++;
}

/* Requests [start, end) clear of the clips requested before it. The range
 * is reserved at once, so later events keep out of it, but a start moved
 * beyond what the stream has reached waits for it: the host anchors a
 * request at the newest keyframe it has seen. */
static void request_apart(event_strategy *self, clip_series *series, shared_event *lead, int64_t start, int64_t end,
                          int64_t last_time, uint32_t count)
{
    avoid_requested(series, &start, &end);
    if (start >= end) {
        self->host->log(self->ctx, SC_LOG_DEBUG, "event '%s' at %.3f: already covered by earlier clips", lead->name,
                        (double)lead->time / 1e9);
        self->host->counter_add(self->ctx, "events_covered", 1);
        return;
    }
    remember(series, start, end);
    if (start > self->reference_progress) defer_clip(self, series, lead, start, end, last_time, count);
    else request_clip(self, series, lead, start, end, last_time, count);
}

static void close_group(event_strategy *self, clip_series *series)
{
    merge_group *group = &series->group;
    if (!group->open) return;
    request_apart(self, series, group->lead, group->start, group->end, group->last_time, group->count);
    event_unref(group->lead);
    *group = (merge_group){0};
}

static void open_group(clip_series *series, const candidate *clip)
{
    series->group = (merge_group){
        .open = 1,
        .start = clip->start,
        .end = clip->end,
        .lead = event_ref(clip->event),
        .last_time = clip->event->time,
        .count = 1,
    };
}

/* A clip whose start the stream has reached. */
static void admit(event_strategy *self, clip_series *series, const candidate *clip)
{
    shared_event *event = clip->event;
    if (self->overlap == OVERLAP_ALLOW) {
        request_clip(self, series, event, clip->start, clip->end, event->time, 1);
        return;
    }
    if (self->overlap == OVERLAP_SPLIT) {
        request_apart(self, series, event, clip->start, clip->end, event->time, 1);
        return;
    }
    merge_group *group = &series->group;
    if (!group->open) {
        open_group(series, clip);
    } else if (clip->start <= group->end + self->merge_gap && clip->end + self->merge_gap >= group->start) {
        if (clip->start < group->start) group->start = clip->start;
        if (clip->end > group->end) group->end = clip->end;
        if (event->time < group->lead->time) {
            event_unref(group->lead);
            group->lead = event_ref(clip->event);
        }
        if (event->time > group->last_time) group->last_time = event->time;
        group->count++;
    } else if (clip->start > group->end + self->merge_gap) {
        close_group(self, series);
        open_group(series, clip);
    } else {
        /* Wholly before the open clip: a late event of its own. */
        request_apart(self, series, event, clip->start, clip->end, event->time, 1);
    }
}

/* Requests what the stream has made ready: clips whose start it reached,
 * and merged clips it passed merge_gap beyond. */
static void advance(event_strategy *self)
{
    if (self->reference_progress == SC_TIME_NONE) return;
    for (size_t s = 0; s < self->series_count; s++) {
        clip_series *series = &self->series[s];
        size_t ready = 0;
        while (ready < series->deferred_count && series->deferred[ready].start <= self->reference_progress) {
            deferred_clip *clip = &series->deferred[ready];
            request_clip(self, series, clip->lead, clip->start, clip->end, clip->last_time, clip->count);
            event_unref(clip->lead);
            ready++;
        }
        if (ready) {
            memmove(series->deferred, series->deferred + ready,
                    (series->deferred_count - ready) * sizeof *series->deferred);
            series->deferred_count -= ready;
        }
        size_t due = 0;
        while (due < series->waiting_count && series->waiting[due].start <= self->reference_progress) {
            admit(self, series, &series->waiting[due]);
            event_unref(series->waiting[due].event);
            due++;
        }
        if (due) {
            memmove(series->waiting, series->waiting + due, (series->waiting_count - due) * sizeof *series->waiting);
            series->waiting_count -= due;
        }
        if (self->overlap == OVERLAP_MERGE && series->group.open &&
            self->reference_progress >= series->group.end + self->merge_gap)
            close_group(self, series);
    }
}

static int wait_for_start(event_strategy *self, clip_series *series, shared_event *event, int64_t start, int64_t end)
{
    if (series->waiting_count == WAITING_MAX) {
        self->host->log(self->ctx, SC_LOG_WARNING, "more than %d clips wait for their start: event '%s' dropped",
                        WAITING_MAX, event->name);
        self->host->counter_add(self->ctx, "events_dropped", 1);
        return -1;
    }
    if (series->waiting_count == series->waiting_capacity) {
        size_t capacity = series->waiting_capacity ? series->waiting_capacity * 2 : 16;
        candidate *grown = realloc(series->waiting, capacity * sizeof *grown);
        if (!grown) return -1;
        series->waiting = grown;
        series->waiting_capacity = capacity;
    }
    /* After every clip starting at or before it: equal starts keep arrival order. */
    size_t at = series->waiting_count;
    while (at > 0 && series->waiting[at - 1].start > start) at--;
    memmove(series->waiting + at + 1, series->waiting + at, (series->waiting_count - at) * sizeof *series->waiting);
    series->waiting[at] = (candidate){.event = event_ref(event), .start = start, .end = end};
    series->waiting_count++;
    return 0;
}

/* Queues the clips of an event whose time is known. */
static void schedule(event_strategy *self, shared_event *event)
{
    for (size_t s = 0; s < self->series_count; s++) {
        clip_series *series = &self->series[s];
        int64_t end = event->time + event->post_roll;
        int64_t start = series->length ? end - series->length : event->time - event->pre_roll;
        if (start < 0) start = 0;
        if (end <= start) {
            self->host->log(self->ctx, SC_LOG_DEBUG, "event '%s' at %.3f: empty clip [%.3f, %.3f) skipped",
                            event->name, (double)event->time / 1e9, (double)start / 1e9, (double)end / 1e9);
            self->host->counter_add(self->ctx, "clips_empty", 1);
            continue;
        }
        if (wait_for_start(self, series, event, start, end) != 0) break;
    }
    advance(self);
}

static void add_event(event_strategy *self, shared_event *event)
{
    if (event->time == SC_TIME_NONE) {
        if (self->newest_pts == SC_TIME_NONE) {
            /* Nothing seen yet: "now" is the first packet. */
            if (self->unresolved_count == self->unresolved_capacity) {
                size_t capacity = self->unresolved_capacity ? self->unresolved_capacity * 2 : 8;
                shared_event **grown = realloc(self->unresolved, capacity * sizeof *grown);
                if (!grown) {
                    self->host->counter_add(self->ctx, "events_dropped", 1);
                    event_unref(event);
                    return;
                }
                self->unresolved = grown;
                self->unresolved_capacity = capacity;
            }
            self->unresolved[self->unresolved_count++] = event;
            return;
        }
        event->time = self->newest_pts;
    }
    schedule(self, event);
    event_unref(event);
}

/* ---- the events file ---- */

static void on_reader_warning(void *opaque, const char *message)
{
    event_strategy *self = opaque;
    self->host->log(self->ctx, SC_LOG_WARNING, "%s", message);
}

/* On the reader's thread: touches only what create set and never changes. */
static void on_event_line(void *opaque, const char *line, size_t length, uint64_t line_number, int overlong)
{
    event_strategy *self = opaque;
    const sc_host_api *host = self->host;
    char error[160];
    if (overlong) {
        host->log(self->ctx, SC_LOG_WARNING, "%s:%llu: line longer than %d bytes; ignored", self->events_path,
                  (unsigned long long)line_number, EVENT_LINE_MAX);
        host->counter_add(self->ctx, "events_rejected", 1);
        return;
    }
    parsed_event parsed;
    int result = parse_event_line(line, length, &parsed, error, sizeof error);
    if (result == 0) return;
    if (result < 0) {
        host->log(self->ctx, SC_LOG_WARNING, "%s:%llu: %s; line ignored: %.*s%s", self->events_path,
                  (unsigned long long)line_number, error, (int)(length > 80 ? 80 : length), line,
                  length > 80 ? "..." : "");
        host->counter_add(self->ctx, "events_rejected", 1);
        return;
    }
    sc_event event = {
        .struct_size = sizeof event,
        .name = parsed.name,
        .time = parsed.time == EVENT_TIME_NONE ? SC_TIME_NONE : parsed.time,
        .pre_roll = parsed.pre_roll == EVENT_TIME_NONE ? SC_TIME_NONE : parsed.pre_roll,
        .post_roll = parsed.post_roll == EVENT_TIME_NONE ? SC_TIME_NONE : parsed.post_roll,
        .payload_json = parsed.payload_json,
    };
    int status = host->event_post(self->ctx, &event);
    if (status != SC_OK) {
        host->log(self->ctx, SC_LOG_WARNING, "%s:%llu: event '%s' could not be posted (status %d)", self->events_path,
                  (unsigned long long)line_number, parsed.name, status);
        host->counter_add(self->ctx, "events_rejected", 1);
    }
    parsed_event_clear(&parsed);
}

/* ---- module operations ---- */

static void free_series(clip_series *series)
{
    for (size_t i = 0; i < series->waiting_count; i++) event_unref(series->waiting[i].event);
    free(series->waiting);
    for (size_t i = 0; i < series->deferred_count; i++) event_unref(series->deferred[i].lead);
    free(series->deferred);
    event_unref(series->group.lead);
    *series = (clip_series){0};
}

static void event_destroy(void *instance)
{
    event_strategy *self = instance;
    if (!self) return;
    event_reader_stop(self->reader);
    for (size_t s = 0; s < self->series_count; s++) free_series(&self->series[s]);
    for (size_t i = 0; i < self->unresolved_count; i++) event_unref(self->unresolved[i]);
    free(self->unresolved);
    free(self);
}

static int setup_series(event_strategy *self, const char *clips)
{
    const sc_host_api *host = self->host;
    if (!clips[0]) {
        if (self->pre_roll == 0 && self->post_roll == 0) {
            host->log(self->ctx, SC_LOG_ERROR, "pre_roll and post_roll are both 0: every clip would be empty");
            return SC_ERR_INVALID;
        }
        self->series_count = 1;
        return SC_OK;
    }
    if (host->option_is_set(self->ctx, "pre_roll")) {
        host->log(self->ctx, SC_LOG_ERROR, "pre_roll and clips exclude each other: with clips, each clip ends at "
                                           "event time + post_roll and lasts its length");
        return SC_ERR_INVALID;
    }
    int64_t lengths[MAX_CLIP_LENGTHS];
    size_t count;
    char error[128];
    if (parse_duration_list(clips, lengths, MAX_CLIP_LENGTHS, &count, error, sizeof error) != 0) {
        host->log(self->ctx, SC_LOG_ERROR, "clips: %s", error);
        return SC_ERR_INVALID;
    }
    self->has_clip_lengths = 1;
    self->series_count = count;
    for (size_t i = 0; i < count; i++) {
        self->series[i].length = lengths[i];
        if (count > 1) {
            char duration[32];
            format_duration(lengths[i], duration, sizeof duration);
            snprintf(self->series[i].label_suffix, sizeof self->series[i].label_suffix, "/%s", duration);
        }
    }
    return SC_OK;
}

static int event_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    event_strategy *self = calloc(1, sizeof *self);
    if (!self) return SC_ERR_NOMEM;
    self->host = host;
    self->ctx = ctx;
    self->pre_roll = host->option_duration(ctx, "pre_roll");
    self->post_roll = host->option_duration(ctx, "post_roll");
    self->merge_gap = host->option_duration(ctx, "merge_gap");
    const char *overlap = host->option_string(ctx, "overlap");
    self->overlap = strcmp(overlap, "split") == 0 ? OVERLAP_SPLIT
                  : strcmp(overlap, "allow") == 0 ? OVERLAP_ALLOW
                                                  : OVERLAP_MERGE;
    self->data_events = host->option_bool(ctx, "data_events");
    self->events_path = host->option_string(ctx, "events");
    self->reference_stream = -1;
    self->reference_progress = SC_TIME_NONE;
    self->newest_pts = SC_TIME_NONE;
    int status = setup_series(self, host->option_string(ctx, "clips"));
    if (status != SC_OK) {
        free(self);
        return status;
    }
    if (self->overlap != OVERLAP_MERGE && host->option_is_set(ctx, "merge_gap"))
        host->log(ctx, SC_LOG_WARNING, "merge_gap only applies with overlap = merge");
    *instance = self;
    return SC_OK;
}

/* Starts the events reader; a regular file is read to its end here, so all
 * its events are queued before the first packet whatever the thread timing. */
static int event_start(void *instance)
{
    event_strategy *self = instance;
    if (!self->events_path || !self->events_path[0]) return SC_OK;
    char error[256];
    int created;
    self->reader = event_reader_start(self->events_path, on_event_line, on_reader_warning, self, &created, error,
                                      sizeof error);
    if (!self->reader) {
        self->host->log(self->ctx, SC_LOG_ERROR, "events: %s", error);
        return SC_ERR_IO;
    }
    if (created)
        self->host->log(self->ctx, SC_LOG_INFO, "events: made the FIFO %s; write events to it, one a line",
                        self->events_path);
    event_reader_wait_file(self->reader);
    return SC_OK;
}

static void data_packet_event(event_strategy *self, const sc_packet *packet, int64_t time)
{
    const sc_stream_info *info = self->host->stream_get(self->ctx, packet->stream_index);
    if (!info || !timed_data_codec_supported(info->codec_name) || time == SC_TIME_NONE) return;
    char *name = NULL, *payload = NULL;
    int result = timed_data_to_event(info->codec_name, packet->data, packet->size, &name, &payload);
    if (result < 0) {
        self->host->log(self->ctx, SC_LOG_DEBUG, "malformed %s packet at %.3f s ignored", info->codec_name,
                        (double)time / 1e9);
        self->host->counter_add(self->ctx, "data_events_malformed", 1);
    } else if (result > 0) {
        shared_event *event = event_new(name, payload, time, self->pre_roll, self->post_roll);
        if (event) {
            self->host->counter_add(self->ctx, "data_events", 1);
            add_event(self, event);
        } else {
            self->host->counter_add(self->ctx, "events_dropped", 1);
        }
    }
    free(name);
    free(payload);
}

static int event_packet(void *instance, const sc_packet *packet)
{
    event_strategy *self = instance;
    if (self->reference_stream < 0) {
        int chosen = sc_reference_stream(self->host, self->ctx);
        self->reference_stream = chosen >= 0 ? chosen : 0;
    }
    int64_t time = packet->pts != SC_TIME_NONE ? packet->pts : packet->dts;
    if (time != SC_TIME_NONE && (self->newest_pts == SC_TIME_NONE || time > self->newest_pts))
        self->newest_pts = time;
    int64_t decode_time = packet->dts != SC_TIME_NONE ? packet->dts : packet->pts;
    if ((int)packet->stream_index == self->reference_stream && decode_time != SC_TIME_NONE &&
        (self->reference_progress == SC_TIME_NONE || decode_time > self->reference_progress))
        self->reference_progress = decode_time;
    if (self->unresolved_count && self->newest_pts != SC_TIME_NONE) {
        size_t count = self->unresolved_count;
        self->unresolved_count = 0;
        for (size_t i = 0; i < count; i++) add_event(self, self->unresolved[i]);
    }
    if (self->data_events && packet->media_type == SC_MEDIA_DATA) data_packet_event(self, packet, time);
    advance(self);
    return SC_OK;
}

static void event_event(void *instance, const sc_event *posted)
{
    event_strategy *self = instance;
    const sc_host_api *host = self->host;
    host->counter_add(self->ctx, "events_received", 1);
    const char *why = NULL;
    size_t name_length = posted->name ? strlen(posted->name) : 0;
    if (name_length == 0) why = "no name";
    else if (name_length > EVENT_NAME_MAX || !utf8_is_valid(posted->name, name_length)) why = "bad name";
    else if (posted->time != SC_TIME_NONE && (posted->time < 0 || posted->time > EVENT_TIME_MAX)) why = "bad time";
    else if (posted->pre_roll != SC_TIME_NONE && (posted->pre_roll < 0 || posted->pre_roll > EVENT_TIME_MAX))
        why = "bad pre_roll";
    else if (posted->post_roll != SC_TIME_NONE && (posted->post_roll < 0 || posted->post_roll > EVENT_TIME_MAX))
        why = "bad post_roll";
    for (size_t i = 0; !why && i < name_length; i++)
        if ((unsigned char)posted->name[i] < 0x20 || posted->name[i] == 0x7f) why = "control character in the name";
    if (why) {
        host->log(self->ctx, SC_LOG_WARNING, "event ignored: %s", why);
        host->counter_add(self->ctx, "events_rejected", 1);
        return;
    }
    shared_event *event = event_new(posted->name, posted->payload_json, posted->time,
                                    posted->pre_roll != SC_TIME_NONE ? posted->pre_roll : self->pre_roll,
                                    posted->post_roll != SC_TIME_NONE ? posted->post_roll : self->post_roll);
    if (!event) {
        host->counter_add(self->ctx, "events_dropped", 1);
        return;
    }
    add_event(self, event);
}

/* What is still open is requested now (the host flags what the data does
 * not reach partial); clips whose start the stream never reached have no
 * footage. */
static void event_flush(void *instance, int reason)
{
    event_strategy *self = instance;
    (void)reason;
    size_t unreached = self->unresolved_count;
    for (size_t i = 0; i < self->unresolved_count; i++) event_unref(self->unresolved[i]);
    self->unresolved_count = 0;
    for (size_t s = 0; s < self->series_count; s++) {
        clip_series *series = &self->series[s];
        unreached += series->waiting_count;
        for (size_t i = 0; i < series->waiting_count; i++) event_unref(series->waiting[i].event);
        series->waiting_count = 0;
        close_group(self, series);
        unreached += series->deferred_count;
        for (size_t i = 0; i < series->deferred_count; i++) event_unref(series->deferred[i].lead);
        series->deferred_count = 0;
    }
    if (unreached) {
        self->host->log(self->ctx, SC_LOG_INFO, "%zu clip%s past the end of the stream not cut", unreached,
                        unreached == 1 ? "" : "s");
        self->host->counter_add(self->ctx, "clips_unreached", (int64_t)unreached);
    }
}

static void event_stop(void *instance)
{
    event_strategy *self = instance;
    event_reader_stop(self->reader);
    self->reader = NULL;
}

static const sc_strategy_ops event_ops = {
    SC_OPS_INIT(sc_strategy_ops),
    .create = event_create,
    .destroy = event_destroy,
    .start = event_start,
    .packet = event_packet,
    .flush = event_flush,
    .event = event_event,
    .stop = event_stop,
};

static const sc_module_descriptor event_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_STRATEGY,
    .name = "event",
    .version = "0.1.0",
    .description = "replay-buffer clips around events (events file/FIFO, in-band ID3/AMF/text, host events) "
                   "with exact pre-roll and post-roll",
    .options = event_options,
    .ops = &event_ops,
};

SC_MODULE_DEFINE(event_module)
