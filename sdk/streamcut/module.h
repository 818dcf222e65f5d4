/**
 * @file module.h
 * @brief The module descriptor and per-kind operations.
 *
 * A module is a shared object that exports exactly one function,
 * `streamcut_module_entry`, returning a pointer to a constant
 * sc_module_descriptor. Write it with the two macros below:
 *
 *     static const sc_strategy_ops my_ops = { SC_OPS_INIT(sc_strategy_ops), ... };
 *     static const sc_module_descriptor my_module = {
 *         SC_DESCRIPTOR_INIT,
 *         .kind = SC_MODULE_STRATEGY, .name = "mine", .version = "1.0",
 *         .description = "...", .options = my_options, .ops = &my_ops,
 *     };
 *     SC_MODULE_DEFINE(my_module)
 *
 * (Those are C99 designated initializers. In C++, fill the structs in
 * declaration order or assign their fields in a function the entry calls
 * once, and set struct_size, abi_major, abi_minor and option_spec_size as
 * SC_DESCRIPTOR_INIT does.)
 *
 * Instance state is opaque to the host: `create` stores a pointer in
 * *instance and every later callback receives it back.
 *
 * Life cycle and threads, for every kind: the host loads the module, then,
 * on its main thread, calls each instance's `create` and right after it
 * its optional `start`, before any pipeline thread runs. Then each kind's
 * callbacks run on the thread its ops table names, one call at a time per
 * instance unless it says otherwise. At the end the host calls `stop` (if
 * any) and, once no thread of the pipeline runs any more, `destroy` on the
 * main thread: observers first, then sinks, strategies, sources. A failing
 * create or start stops the run before it begins (exit status 2); destroy
 * is still called for every instance whose create succeeded.
 *
 * Ops tables grow at their end (sdk/ABI.md): a module sets `struct_size` to
 * the size it was built with (SC_OPS_INIT), and the host never calls an op
 * beyond it. Optional ops may be NULL.
 */
#ifndef STREAMCUT_MODULE_H
#define STREAMCUT_MODULE_H

#include "abi.h"
#include "options.h"
#include "host.h"

SC_BEGIN_DECLS

/** What a module does; sc_module_descriptor.kind, and which ops table
 * sc_module_descriptor.ops points to. */
enum sc_module_kind {
    SC_MODULE_SOURCE = 1,   /**< ingests packets (sc_source_ops) */
    SC_MODULE_STRATEGY = 2, /**< cuts segments (sc_strategy_ops) */
    SC_MODULE_SINK = 3,     /**< consumes segments (sc_sink_ops) */
    SC_MODULE_OBSERVER = 4  /**< watches packets and segments (sc_observer_ops); ABI 1.1 */
};

/** Bits of sc_module_descriptor.flags. */
enum sc_module_flag {
    /** Sink: writes files and records them with segment_set_attr; the host
     * runs it before record sinks (jsonl, ...) see the same segment. */
    SC_MODULE_PRODUCES_FILES = 1u << 0
};

/** Common to every kind: create is called on the main thread after the
 * options were validated; it returns SC_OK and sets *instance, or an error
 * (after logging why). destroy frees what create made. `host` and `ctx`
 * stay valid until destroy returns: keep them in the instance. */
typedef int (*sc_create_fn)(const sc_host_api *host, sc_ctx *ctx, void **instance);
/** Frees an instance; on the main thread, after the instance's last
 * callback returned. It drops what the instance still holds (packet_unref,
 * segment_unref, view_release) and may log. */
typedef void (*sc_destroy_fn)(void *instance);

/** Source operations. */
typedef struct sc_source_ops {
    uint32_t struct_size;   /**< sizeof(sc_source_ops) built against (SC_OPS_INIT) */
    sc_create_fn create;    /**< required */
    sc_destroy_fn destroy;  /**< required */
    /** Optional, main thread, before the source thread starts. */
    int (*start)(void *instance);
    /** Required. On the source's own thread: read input, declare streams,
     * push packets, until the input ends (return SC_OK) or source_should_stop
     * is set (return SC_OK or SC_ERR_STOPPED) or it fails (an error:
     * SC_ERR_PERMANENT when retrying cannot help, any other to have the
     * host reconnect, i.e. call run() again after a backoff). */
    int (*run)(void *instance);
    /** Optional, any thread (a signal handler's thread, the control API):
     * make a blocked run() return soon. It may run while run() does, so it
     * must only set flags or wake up waits. */
    void (*stop)(void *instance);
} sc_source_ops;

/** Why a strategy is flushed. */
enum sc_flush_reason {
    SC_FLUSH_END_OF_INPUT = 1,  /**< the source ended */
    SC_FLUSH_SHUTDOWN = 2       /**< the host is stopping (signal) */
};

/** Strategy operations. All but create, start and destroy run on the
 * strategy's own thread, one call at a time; segment_emit is meant to be
 * called from them. */
typedef struct sc_strategy_ops {
    uint32_t struct_size;   /**< sizeof(sc_strategy_ops) built against (SC_OPS_INIT) */
    sc_create_fn create;    /**< required */
    sc_destroy_fn destroy;  /**< required */
    /** Optional: main thread, after create, before the first packet. */
    int (*start)(void *instance);
    /** Required. Every packet of the source, in buffer (decode) order. The
     * packet is borrowed for the call; packet_ref it to keep it. A non-zero
     * return is counted (packet_errors); packets keep coming. */
    int (*packet)(void *instance, const sc_packet *pkt);
    /** Optional: emit what is still open (flag it SC_SEGMENT_PARTIAL). Once,
     * after the last packet; `reason` is an sc_flush_reason. */
    void (*flush)(void *instance, int reason);
    /** Optional: an event for this strategy's source, between two packet
     * calls (borrowed for the call). */
    void (*event)(void *instance, const sc_event *ev);
    /** Optional: after the last call, before destroy. */
    void (*stop)(void *instance);
} sc_strategy_ops;

/** Sink operations. consume runs on the sink's worker, one segment at a
 * time, in order per input. The host's worker pool serves all sinks, so
 * successive calls may come from different threads, never two at once. */
typedef struct sc_sink_ops {
    uint32_t struct_size;   /**< sizeof(sc_sink_ops) built against (SC_OPS_INIT) */
    sc_create_fn create;    /**< required */
    sc_destroy_fn destroy;  /**< required */
    /** Optional: main thread, after create, before the first segment. */
    int (*start)(void *instance);
    /** Required. Handle one segment (borrowed for the call; segment_ref to
     * keep). A non-zero return is logged and counted as a failure; the sink
     * goes on. */
    int (*consume)(void *instance, const sc_segment *seg);
    /** Optional: after the last segment; flush and close outputs. Main
     * thread, once the sink's queue is drained. */
    void (*stop)(void *instance);
    /** Optional: a synchronized segment set from a [sync NAME] group. A sink
     * without it receives each present member through consume. Same thread
     * rules and return value as consume. */
    int (*consume_set)(void *instance, const sc_segment_set *set);
    /** Optional (ABI 1.1): SIGHUP — close and reopen output files kept
     * open (logrotate moved them). Called on the sink's worker, between
     * two consume calls. */
    void (*reopen)(void *instance);
} sc_sink_ops;

/** Observer operations (ABI 1.1): the frame and segment callbacks. An
 * observer names the sources it watches ([observer NAME] sources = a, b)
 * and sees their packets (after the synchronizer: normalized timestamps)
 * and the segments cut from them, on its own thread, through a bounded
 * queue that drops rather than wait: an observer never slows ingest. */
typedef struct sc_observer_ops {
    uint32_t struct_size;   /**< sizeof(sc_observer_ops) built against (SC_OPS_INIT) */
    sc_create_fn create;    /**< required */
    sc_destroy_fn destroy;  /**< required */
    /** Optional: main thread, after create, before the first call. */
    int (*start)(void *instance);
    /** Optional (but packet or segment is required): one packet of `source`
     * (borrowed for the call; packet_ref to keep it), with the description
     * of its stream. */
    void (*packet)(void *instance, const char *source, const sc_packet *packet, const sc_stream_info *stream);
    /** Optional: a segment cut from a watched source, as its sinks get it
     * (borrowed; segment_ref to keep). */
    void (*segment)(void *instance, const sc_segment *segment);
    /** Optional: after the last call, before destroy; on its thread. */
    void (*stop)(void *instance);
    /** Optional: SIGHUP — reopen output files kept open; on its thread. */
    void (*reopen)(void *instance);
} sc_observer_ops;

/** The descriptor a module's entry function returns. It and everything it
 * points to (strings, options, ops) must stay valid and unchanged as long
 * as the module is loaded: make them static const. The loader refuses a
 * descriptor whose struct_size is below SC_DESCRIPTOR_MIN_SIZE, whose ABI
 * major differs from the host's or whose minor is newer than the host's,
 * whose name is not 1-48 characters of [a-z0-9_-] (or differs from the
 * file's name), without version or description, of an unknown kind, or
 * whose ops table lacks a required op. */
typedef struct sc_module_descriptor {
    uint32_t struct_size;         /**< sizeof(sc_module_descriptor) built against */
    uint16_t abi_major;           /**< SC_ABI_MAJOR built against */
    uint16_t abi_minor;           /**< SC_ABI_MINOR built against */
    uint32_t kind;                /**< enum sc_module_kind */
    uint32_t flags;               /**< enum sc_module_flag bits */
    const char *name;             /**< unique module name, [a-z0-9_-]+ */
    const char *version;          /**< module's own version string */
    const char *description;      /**< one line */
    const sc_option_spec *options;/**< NULL-name-terminated array, or NULL */
    uint32_t option_spec_size;    /**< sizeof(sc_option_spec) built against */
    uint32_t reserved0;           /**< 0 */
    const void *ops;              /**< sc_source_ops / sc_strategy_ops / sc_sink_ops / sc_observer_ops */
} sc_module_descriptor;

/** Smallest descriptor a 1.x host accepts: everything up to `ops`. */
#define SC_DESCRIPTOR_MIN_SIZE \
    (offsetof(sc_module_descriptor, ops) + sizeof(const void *))

/** Fills the ABI fields of a descriptor from the headers compiled against. */
#define SC_DESCRIPTOR_INIT SC_DESCRIPTOR_INIT_MINOR(SC_ABI_MINOR)

/** As SC_DESCRIPTOR_INIT, but claims ABI minor `minor` (<= SC_ABI_MINOR):
 * the oldest minor whose hosts the module supports. Hosts refuse modules
 * claiming a newer minor than theirs, so a module built against these
 * headers that must also load in older hosts claims the oldest minor it
 * needs, and checks SC_HOST_HAS before calling a host function added
 * later (sdk/ABI.md). */
#define SC_DESCRIPTOR_INIT_MINOR(minor) \
    .struct_size = sizeof(sc_module_descriptor), \
    .abi_major = SC_ABI_MAJOR, .abi_minor = (minor), \
    .option_spec_size = sizeof(sc_option_spec)

/** Fills the struct_size of an ops table. */
#define SC_OPS_INIT(type) .struct_size = sizeof(type)

/** Defines the module's exported entry function. The host calls it once,
 * on the main thread, when it loads the module. */
#define SC_MODULE_DEFINE(descriptor) \
    SC_EXTERN_C SC_EXPORT const sc_module_descriptor *streamcut_module_entry(void); \
    SC_EXTERN_C SC_EXPORT const sc_module_descriptor *streamcut_module_entry(void) \
    { return &(descriptor); }

/** Type of the entry function. */
typedef const sc_module_descriptor *(*sc_module_entry_fn)(void);

SC_END_DECLS

#endif /* STREAMCUT_MODULE_H */
