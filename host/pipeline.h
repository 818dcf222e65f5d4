/* A pipeline: the INI file validated against the modules it names, then
 * instantiated and run. */
#ifndef SC_HOST_PIPELINE_H
#define SC_HOST_PIPELINE_H

#include <glib.h>
#include <stdio.h>

#include "runtime.h"

/** Parse and validate `path` completely (modules found and loaded, every
 * key and reference checked). On failure NULL, with "FILE:LINE: message"
 * lines in `errors`; warnings are logged. */
sc_pipeline *sc_pipeline_load(const char *path, GPtrArray *errors);
void sc_pipeline_free(sc_pipeline *pipeline);
/** Print the resolved graph (`streamcut check`). */
void sc_pipeline_print_graph(const sc_pipeline *pipeline, FILE *out);
/** Create the instances. On failure an error line per instance in `errors`. */
bool sc_pipeline_create(sc_pipeline *pipeline, GPtrArray *errors);
/** Start every thread: sinks, then strategies, then sources. */
void sc_pipeline_start(sc_pipeline *pipeline);
/** True once every source has ended or failed. */
bool sc_pipeline_sources_done(sc_pipeline *pipeline);
/** A [host] key's value (never NULL for a declared key). */
const sc_option_value *sc_pipeline_host_option(sc_pipeline *pipeline, const char *name);
/** SIGHUP: sinks and observers with a reopen op reopen their files before
 * their next item. */
void sc_pipeline_request_reopen(sc_pipeline *pipeline);
/** Ask every source to stop (signal); open segments close as partial. */
void sc_pipeline_request_stop(sc_pipeline *pipeline);
/** Wait for the sources, drain strategies and sinks, destroy instances.
 * Returns 0, or 1 when a source failed. */
int sc_pipeline_finish(sc_pipeline *pipeline);
/** Log the counters of every part (at the end of a run). */
void sc_pipeline_log_stats(sc_pipeline *pipeline);

/* source_runner.c, strategy_runner.c, sink_runner.c */
void sc_source_runtime_start(sc_source_runtime *source);
void sc_source_runtime_request_stop(sc_source_runtime *source);
void sc_strategy_runtime_start(sc_strategy_runtime *strategy);
void sc_strategy_runtime_join(sc_strategy_runtime *strategy);
sc_worker_pool *sc_worker_pool_start(guint workers);
void sc_worker_pool_stop(sc_worker_pool *pool);
void sc_sink_runtime_attach(sc_sink_runtime *sink, sc_worker_pool *pool);
/** Wait until the sink's queue is drained, then call its stop op. */
void sc_sink_runtime_close(sc_sink_runtime *sink);
void sc_stream_info_free(gpointer info);

/** Host-owned keys of each section kind, as option schemas. */
const sc_option_spec *sc_host_keys(sc_section_kind kind);
/** Parse `text` as `spec` says into `value`; false with *why on error. */
bool sc_option_value_parse(const sc_option_spec *spec, const char *text, sc_option_value *value,
                           const char **why);

#endif
