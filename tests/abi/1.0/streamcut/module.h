/* streamcut module SDK: the module descriptor and per-kind operations.
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
 * Instance state is opaque to the host: `create` stores a pointer in
 * *instance and every later callback receives it back.
 */
#ifndef STREAMCUT_MODULE_H
#define STREAMCUT_MODULE_H

#include "abi.h"
#include "options.h"
#include "host.h"

SC_BEGIN_DECLS

enum sc_module_kind {
    SC_MODULE_SOURCE = 1,   /**< ingests packets (sc_source_ops) */
    SC_MODULE_STRATEGY = 2, /**< cuts segments (sc_strategy_ops) */
    SC_MODULE_SINK = 3      /**< consumes segments (sc_sink_ops) */
};

enum sc_module_flag {
    /** Sink: writes files and records them with segment_set_attr; the host
     * runs it before record sinks (jsonl, ...) see the same segment. */
    SC_MODULE_PRODUCES_FILES = 1u << 0
};

/** Common to every kind: create is called on the main thread after the
 * options were validated; it returns SC_OK and sets *instance, or an error
 * (after logging why). destroy frees what create made. */
typedef int (*sc_create_fn)(const sc_host_api *host, sc_ctx *ctx, void **instance);
typedef void (*sc_destroy_fn)(void *instance);

/** Source operations. */
typedef struct sc_source_ops {
    uint32_t struct_size;
    sc_create_fn create;
    sc_destroy_fn destroy;
    /** Optional, main thread, before the source thread starts. */
    int (*start)(void *instance);
    /** On the source's own thread: read input, declare streams, push
     * packets, until the input ends (return SC_OK) or source_should_stop
     * is set (return SC_OK or SC_ERR_STOPPED) or it fails (an error:
     * SC_ERR_PERMANENT when retrying cannot help, any other to have the
     * host reconnect, i.e. call run() again after a backoff). */
    int (*run)(void *instance);
    /** Optional, any thread: make a blocked run() return soon. */
    void (*stop)(void *instance);
} sc_source_ops;

/** Why a strategy is flushed. */
enum sc_flush_reason {
    SC_FLUSH_END_OF_INPUT = 1,  /**< the source ended */
    SC_FLUSH_SHUTDOWN = 2       /**< the host is stopping (signal) */
};

/** Strategy operations. All but create/destroy run on the strategy's
 * own thread, one call at a time. */
typedef struct sc_strategy_ops {
    uint32_t struct_size;
    sc_create_fn create;
    sc_destroy_fn destroy;
    /** Optional: before the first packet. */
    int (*start)(void *instance);
    /** Every packet of the source, in buffer (decode) order. The packet is
     * borrowed for the call; packet_ref it to keep it. */
    int (*packet)(void *instance, const sc_packet *pkt);
    /** Optional: emit what is still open (flag it SC_SEGMENT_PARTIAL). */
    void (*flush)(void *instance, int reason);
    /** Optional: an event for this strategy's source. */
    void (*event)(void *instance, const sc_event *ev);
    /** Optional: after the last call, before destroy. */
    void (*stop)(void *instance);
} sc_strategy_ops;

/** Sink operations. consume runs on the sink's worker, one segment at a
 * time, in order per input. */
typedef struct sc_sink_ops {
    uint32_t struct_size;
    sc_create_fn create;
    sc_destroy_fn destroy;
    /** Optional: before the first segment. */
    int (*start)(void *instance);
    /** Handle one segment (borrowed for the call; segment_ref to keep). A
     * non-zero return is logged and counted as a failure; the sink goes on. */
    int (*consume)(void *instance, const sc_segment *seg);
    /** Optional: after the last segment; flush and close outputs. */
    void (*stop)(void *instance);
    /** Optional: a synchronized segment set from a [sync NAME] group. A sink
     * without it receives each present member through consume. */
    int (*consume_set)(void *instance, const sc_segment_set *set);
} sc_sink_ops;

/** The descriptor a module's entry function returns. */
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
    uint32_t reserved0;
    const void *ops;              /**< sc_source_ops / sc_strategy_ops / sc_sink_ops */
} sc_module_descriptor;

/** Smallest descriptor a 1.x host accepts: everything up to `ops`. */
#define SC_DESCRIPTOR_MIN_SIZE \
    (offsetof(sc_module_descriptor, ops) + sizeof(const void *))

/** Fills the ABI fields of a descriptor from the headers compiled against. */
#define SC_DESCRIPTOR_INIT \
    .struct_size = sizeof(sc_module_descriptor), \
    .abi_major = SC_ABI_MAJOR, .abi_minor = SC_ABI_MINOR, \
    .option_spec_size = sizeof(sc_option_spec)

/** Fills the struct_size of an ops table. */
#define SC_OPS_INIT(type) .struct_size = sizeof(type)

/** Defines the module's exported entry function. */
#define SC_MODULE_DEFINE(descriptor) \
    SC_EXTERN_C SC_EXPORT const sc_module_descriptor *streamcut_module_entry(void); \
    SC_EXTERN_C SC_EXPORT const sc_module_descriptor *streamcut_module_entry(void) \
    { return &(descriptor); }

/** Type of the entry function. */
typedef const sc_module_descriptor *(*sc_module_entry_fn)(void);

SC_END_DECLS

#endif /* STREAMCUT_MODULE_H */
