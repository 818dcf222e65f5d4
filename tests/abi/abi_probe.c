/* Every type of the module ABI, reachable from exported functions, so that
 * abidw records their layout from the debug information of this one small
 * shared object. Built against the current headers and against the frozen
 * ABI 1.0 copy (tests/abi/1.0), hence the minor-version guards.
 * tests/test_abi_baseline.sh checks that each type the ABI headers declare
 * is named here. The helpers (helpers.h) are compiled into each module and
 * are no part of the ABI. */
#include <streamcut/streamcut.h>

#define PROBE(type) \
    SC_EXTERN_C SC_EXPORT void sc_abi_probe_##type(const type *value); \
    SC_EXTERN_C SC_EXPORT void sc_abi_probe_##type(const type *value) { (void)value; }

#define PROBE_ENUM(name) \
    SC_EXTERN_C SC_EXPORT void sc_abi_probe_##name(enum name value); \
    SC_EXTERN_C SC_EXPORT void sc_abi_probe_##name(enum name value) { (void)value; }

PROBE(sc_ctx)
PROBE(sc_view)
PROBE(sc_event)
PROBE(sc_host_api)
PROBE(sc_module_descriptor)
PROBE(sc_source_ops)
PROBE(sc_strategy_ops)
PROBE(sc_sink_ops)
#if SC_ABI_MINOR >= 1
PROBE(sc_observer_ops)
#endif
PROBE(sc_option_spec)
PROBE(sc_packet)
PROBE(sc_stream_info)
PROBE(sc_segment_request)
PROBE(sc_segment)
PROBE(sc_segment_set)
PROBE(sc_create_fn)
PROBE(sc_destroy_fn)
PROBE(sc_module_entry_fn)

PROBE_ENUM(sc_status)
PROBE_ENUM(sc_log_level)
PROBE_ENUM(sc_media_type)
PROBE_ENUM(sc_packet_flag)
PROBE_ENUM(sc_segment_flag)
PROBE_ENUM(sc_segment_set_flag)
PROBE_ENUM(sc_view_flag)
PROBE_ENUM(sc_module_kind)
PROBE_ENUM(sc_module_flag)
PROBE_ENUM(sc_flush_reason)
PROBE_ENUM(sc_option_type)
PROBE_ENUM(sc_option_flag)
