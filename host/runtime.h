/* The running pipeline: module instances (sc_ctx) and the runtime state of
 * every source, strategy and sink. Shared by the graph builder, the runners
 * and the host services table; nothing outside host/ sees it. */
#ifndef SC_HOST_RUNTIME_H
#define SC_HOST_RUNTIME_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <streamcut/module.h>

#include "buffer.h"
#include "clock.h"
#include "config.h"
#include "loader.h"
#include "quality.h"
#include "reference_clock.h"
#include "segment.h"

typedef struct sc_pipeline sc_pipeline;
typedef struct sc_source_runtime sc_source_runtime;
typedef struct sc_strategy_runtime sc_strategy_runtime;
typedef struct sc_sink_runtime sc_sink_runtime;
/* Two clocks map one instant to within a few milliseconds of each other
 * (and a double holds UTC in ns only to 256 ns): a member's keyframe this
 * close to its mapped start is the cut the driver saw (a scene cut, a
 * keyframe-aligned window), not a GOP earlier or later. */
#define SC_KEYFRAME_SNAP_NS (5 * SC_NSEC_PER_MSEC)

typedef struct sc_sync_group sc_sync_group;
typedef struct sc_clip_order sc_clip_order;
typedef struct sc_observer_runtime sc_observer_runtime;

/** One resolved option of an instance: module schema or host key. */
typedef struct sc_option_value {
    const sc_option_spec *spec;
    char *text;          /* the INI value, or the default; NULL when neither */
    bool set;            /* given in the INI section */
    int line;
    int64_t as_int;      /* INT, DURATION (ns), SIZE (bytes), BOOL (0/1) */
    double as_double;
} sc_option_value;

struct sc_ctx {
    sc_section_kind kind;
    char *name;
    const sc_config_section *section;
    sc_module *module;
    void *instance;               /* the module's, from create */
    GArray *options;              /* sc_option_value: the module's schema */
    GArray *host_options;         /* sc_option_value: host keys of the section */
    sc_pipeline *pipeline;
    sc_source_runtime *source;    /* for source and strategy instances */
    sc_strategy_runtime *strategy;
    sc_sink_runtime *sink;
    const char *detected_type;    /* module = auto: the type its url showed */
    sc_sync_group *group;         /* a [sync NAME] section's group */
    GMutex counters_lock;
    GHashTable *counters;         /* char* -> int64_t* */
};

typedef enum sc_source_state {
    SC_SOURCE_CONNECTING,
    SC_SOURCE_LIVE,
    SC_SOURCE_RECONNECTING,
    SC_SOURCE_ENDED,
    SC_SOURCE_FAILED
} sc_source_state;

typedef struct sc_reconnect_policy {
    int64_t initial_delay_ns;
    int64_t max_delay_ns;
    int64_t give_up_after_ns;     /* 0 = never */
} sc_reconnect_policy;

struct sc_source_runtime {
    sc_ctx *ctx;
    sc_buffer *buffer;
    sc_clock clock;               /* source thread only */
    int timestamp_format;         /* sync.timestamp_format as configured (may be auto) */
    sc_reference_clock *reference; /* media time -> UTC */
    GMutex streams_lock;
    GPtrArray *streams;           /* sc_stream_info*, deep copies, append-only */
    bool reference_decided;       /* source thread only */
    int reference_stream;         /* source thread only, once decided */
    GPtrArray *startup;           /* source thread only: packets held until the origin is known */
    GThread *thread;
    atomic_int stop_requested;
    atomic_int state;             /* sc_source_state */
    int result;
    sc_reconnect_policy reconnect;
    guint declared_this_run;      /* streams declared since run() was (re)called */
    atomic_uint_least64_t reconnects;
    atomic_uint_least64_t packets_pushed;
    atomic_int discontinuity_pending;
    const char *type;             /* interned, e.g. "HLS"; NULL until known */
    bool type_locked;             /* detected from a page URL: modules do not override it */
    GMutex error_lock;
    char *last_error;             /* the module's last error message */
    char *resolver;               /* the section's resolver command, or NULL */
    int64_t resolver_timeout_ns;
    GPtrArray *strategies;        /* sc_strategy_runtime* reading this source */
    sc_strategy_runtime *replay;  /* with the control API: cuts clip orders */
    GPtrArray *observers;         /* sc_observer_runtime* watching it, or NULL */
};

struct sc_observer_runtime {
    sc_ctx *ctx;
    GThread *thread;
    GMutex lock;
    GCond changed;
    GQueue queue;                 /* struct observed* */
    guint capacity;
    bool drop_newest;
    bool closing;
    bool want_packets;
    bool want_segments;
    atomic_uint_least64_t packets_seen;
    atomic_uint_least64_t segments_seen;
    atomic_uint_least64_t dropped_packets;
    atomic_uint_least64_t dropped_segments;
    atomic_int reopen_requested;  /* SIGHUP: call reopen before the next item */
};

typedef struct sc_pending_segment sc_pending_segment;

struct sc_strategy_runtime {
    sc_ctx *ctx;
    sc_source_runtime *source;
    sc_buffer_reader *reader;
    GThread *thread;
    GPtrArray *file_sinks;        /* sc_sink_runtime*: run first */
    GPtrArray *record_sinks;      /* sc_sink_runtime*: run after the file sinks */
    /* strategy thread only: */
    GPtrArray *pending;           /* sc_pending_segment* */
    uint64_t next_index;
    uint64_t processed_end;       /* seq after the last packet handed to the module */
    uint64_t module_hold;         /* strategy_hold's seq (UINT64_MAX: none) */
    uint64_t recent_hold;         /* the latest reference keyframe, less a lookback */
    GArray *stream_progress;      /* int64_t: largest dts seen per stream */
    int reference_stream;
    int64_t reference_media_end;  /* largest pts + duration of the reference stream */
    /* events posted from other threads: */
    GMutex events_lock;
    GQueue events;                /* sc_event* (deep copies) */
    sc_quality_rules quality;
    sc_sink_runtime *reject_sink; /* quality.reject_sink, or NULL */
    /* In a [sync NAME] group: the driver runs the group's module on the
     * first member's stream with times on the reference clock; each member
     * has a shadow (no module) that resolves the group's requests on its
     * own stream and hands the segments to the group. */
    sc_sync_group *group;
    int member;                   /* shadow: index in the group; driver: -1 */
    GMutex requests_lock;
    GQueue requests;              /* shadow: struct sync_request* to resolve */
    /* A source's replay runtime (control API): no module either; it cuts
     * the windows of clip orders and hands them to the sinks they name. */
    bool replay;
    GQueue orders;                /* replay: sc_clip_order* (references) to cut */
    atomic_uint_least64_t segments_emitted;
    atomic_uint_least64_t segments_empty;
    atomic_uint_least64_t segments_rejected;
};

typedef enum sc_overflow_policy {
    SC_OVERFLOW_AUTO,
    SC_OVERFLOW_BLOCK,
    SC_OVERFLOW_DROP_OLDEST,
    SC_OVERFLOW_DROP_NEWEST
} sc_overflow_policy;

typedef struct sc_worker_pool sc_worker_pool;

struct sc_sink_runtime {
    sc_ctx *ctx;
    bool produces_files;
    sc_worker_pool *pool;
    GMutex lock;
    GCond changed;                /* queue, scheduled or running changed */
    GQueue queue;                 /* struct sink_item* */
    guint capacity;
    sc_overflow_policy overflow;
    bool scheduled;               /* waiting for, or held by, a worker */
    bool running;                 /* a worker is in consume() */
    bool closing;
    bool has_inputs;              /* a strategy feeds it (from, or as reject sink) */
    atomic_uint_least64_t consumed;
    atomic_uint_least64_t failed;
    atomic_uint_least64_t dropped_overflow;
    atomic_int reopen_requested;  /* SIGHUP: call reopen before the next consume */
};

struct sc_sync_group {
    sc_ctx *ctx;
    GPtrArray *members;           /* sc_source_runtime*, in `sources` order */
    GPtrArray *member_names;      /* const char* (their ctx names) */
    GPtrArray *shadows;           /* sc_strategy_runtime*, by member */
    sc_strategy_runtime *driver;
    GPtrArray *file_sinks;        /* sc_sink_runtime* */
    GPtrArray *record_sinks;
    int64_t timeout_ns;
    GMutex lock;
    GHashTable *open_sets;        /* index -> struct open_set*, waiting for members */
    GHashTable *ready_sets;       /* index -> struct open_set*, waiting for earlier sets */
    uint64_t next_index;
    uint64_t next_dispatch;       /* sets leave in index order */
    GMutex dispatch_lock;
    atomic_uint_least64_t sets_complete;
    atomic_uint_least64_t sets_partial;
    atomic_uint_least64_t late_members;
    atomic_int driver_done;       /* the driver asks for no more windows */
    atomic_int_least64_t driver_utc; /* the driver's latest packet on the reference clock */
    atomic_int_least64_t driver_hold_utc; /* the driver module's strategy_hold, UTC (or none) */
};

struct sc_pipeline {
    sc_config *config;
    sc_loader *loader;
    GPtrArray *contexts;          /* sc_ctx*, every instance, in file order */
    GPtrArray *sources;           /* sc_source_runtime* */
    GPtrArray *strategies;        /* sc_strategy_runtime* */
    GPtrArray *sinks;             /* sc_sink_runtime* */
    GPtrArray *groups;            /* sc_sync_group* */
    GPtrArray *observers;         /* sc_observer_runtime* */
    GArray *host_options;         /* [host] section values */
    sc_memory_governor *governor; /* [host] max_memory_mb, or NULL */
    sc_worker_pool *workers;      /* [host] workers */
    struct sc_housekeeping *housekeeping;
    atomic_int stopping;
};

/* host_api.c */
const sc_host_api *sc_host_api_table(void);
void sc_ctx_counter_add(sc_ctx *ctx, const char *name, int64_t delta);
/** The option's value record, or NULL (logged) when undeclared. */
const sc_option_value *sc_ctx_option(sc_ctx *ctx, const char *name);

/* source_runner.c, strategy_runner.c */
/** Normalize, buffer and announce one packet from a source. */
int sc_source_runtime_push(sc_source_runtime *source, sc_packet *packet);
int sc_source_runtime_add_stream(sc_source_runtime *source, const sc_stream_info *info);
/** Buffer the packets held while the timeline's origin was unknown, with
 * `origin` (raw ns) or the first held packet's time when SC_TIME_NONE. */
int sc_source_runtime_flush_startup(sc_source_runtime *source, int64_t origin);
int64_t sc_strategy_runtime_emit(sc_strategy_runtime *strategy, const sc_segment_request *request);
/** Sets the reader's hold to the earlier of the module's (strategy_hold)
 * and the runner's own at the latest keyframe. Strategy thread only. */
void sc_strategy_runtime_apply_hold(sc_strategy_runtime *strategy);
int64_t sc_strategy_runtime_emit_indexed(sc_strategy_runtime *strategy, const sc_segment_request *request,
                                         uint64_t index);
int sc_source_runtime_post_event(sc_source_runtime *source, const sc_event *event);
sc_event *sc_event_copy(const sc_event *event);
const char *sc_source_state_name(int state);
void sc_event_free(gpointer event);

/* sync_group.c */
/** Driver: the module asked for the window [start, end) on the reference
 * clock (UTC ns): every member resolves it on its own timeline. */
int64_t sc_sync_group_emit(sc_sync_group *group, const sc_segment_request *request);
/** Shadow: a member's segment for set `index` (NULL: nothing there). */
void sc_sync_group_deliver(sc_sync_group *group, int member, uint64_t index, const sc_segment *segment);
/** Dispatch sets whose members are overdue (all of them when `all`). */
void sc_sync_group_expire(sc_sync_group *group, bool all);
/** Shadow thread: turn queued requests into pending segments. */
void sc_strategy_runtime_take_requests(sc_strategy_runtime *shadow, bool input_ended);
/** Shadow: the start (UTC) of the oldest request not taken yet, or SC_TIME_NONE. */
int64_t sc_strategy_runtime_first_request_utc(sc_strategy_runtime *shadow);
void sc_sync_group_free(sc_sync_group *group);
const sc_segment_set *sc_segment_set_ref(const sc_segment_set *set);
void sc_segment_set_unref(const sc_segment_set *set);

/* replay.c: clip orders (POST /v1/streams/{id}/clip) */
/** One replay-buffer clip: the window [start, end) of a source, cut by its
 * replay runtime and handed to the sinks it names (file sinks first). */
struct sc_clip_order {
    gint refs;                    /* atomic: the control API and the pipeline */
    uint64_t id;
    int64_t start;                /* on the source timeline, ns */
    int64_t end;
    char *label;
    GPtrArray *file_sinks;        /* sc_sink_runtime*, borrowed */
    GPtrArray *record_sinks;
    GMutex lock;
    GCond finished;
    bool done;                    /* every sink is through with it, or nothing was there */
    const sc_segment *segment;    /* reference; NULL until cut, or when empty */
    atomic_int items_left;        /* record sinks' items + 1 for the file sinks as a whole */
};
/** Orders [now - pre, now + post) from `source` ("now": its newest packet)
 * for `sinks` (sc_sink_runtime*). NULL with *why when it cannot. */
sc_clip_order *sc_clip_order_new(sc_source_runtime *source, int64_t pre, int64_t post, const char *label,
                                 GPtrArray *sinks, const char **why);
sc_clip_order *sc_clip_order_ref(sc_clip_order *order);
void sc_clip_order_unref(sc_clip_order *order);
/** Waits until done or `deadline_us` (g_get_monotonic_time); true when done. */
bool sc_clip_order_wait(sc_clip_order *order, gint64 deadline_us);
/** Cut (segment, referenced by the order) or found empty (NULL): dispatches. */
void sc_clip_order_cut(sc_clip_order *order, const sc_segment *segment);
/** The pipeline is gone: waiters stop waiting (a segment not cut by now
 * reads as none). */
void sc_clip_order_abandon(sc_clip_order *order);
/** A sink finished with its item (written, failed or dropped). */
void sc_clip_order_item_done(sc_clip_order *order);
/** The replay thread: turn queued orders into pending segments. */
void sc_strategy_runtime_take_orders(sc_strategy_runtime *replay);

/* observer_runner.c */
/** From the source thread: a normalized packet, to its observers' queues. */
void sc_observers_packet(sc_source_runtime *source, const sc_packet *packet, const sc_stream_info *stream);
/** From a strategy thread: a segment cut from `source`, to its observers. */
void sc_observers_segment(sc_source_runtime *source, const sc_segment *segment);
void sc_observer_runtime_start(sc_observer_runtime *observer);
/** Lets the observer drain its queue, then calls its stop op. */
void sc_observer_runtime_close(sc_observer_runtime *observer);
void sc_observer_runtime_free(sc_observer_runtime *observer);

/* sink_runner.c */
/** Hand a clip order's segment to its sinks (file sinks first). */
void sc_sink_dispatch_order(sc_clip_order *order);
/** Hand a finished set to the group's sinks (file sinks first). */
void sc_sink_dispatch_set(sc_sync_group *group, const sc_segment_set *set);
/** Hand a finished segment to the strategy's sinks (file sinks first), or
 * to `only` that sink (e.g. the reject sink). */
void sc_sink_dispatch(sc_strategy_runtime *strategy, const sc_segment *segment, sc_sink_runtime *only);

#endif
