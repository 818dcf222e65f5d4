/* Segments as the host builds and shares them: the public sc_segment is the
 * first member of a reference-counted box that owns the packet references
 * and the attributes sinks attach (such as the clip file written). */
#ifndef SC_HOST_SEGMENT_H
#define SC_HOST_SEGMENT_H

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <streamcut/segment.h>

typedef struct sc_segment_box {
    sc_segment segment;          /* must stay first */
    atomic_int references;
    GPtrArray *packets;          /* const sc_packet*, references held */
    GPtrArray *streams;          /* const sc_stream_info*, owned by the source */
    char *label;
    char *extra_json;
    bool source_live;            /* decides the sinks' overflow policy under "auto" */
    GMutex attributes_lock;
    GPtrArray *attribute_keys;   /* char* */
    GPtrArray *attribute_values; /* char* */
} sc_segment_box;

/** A new segment taking over `packets` (their references) and pointing at
 * `streams` (borrowed). Computes counts, bytes, keyframes and flags. */
sc_segment_box *sc_segment_new(const char *source, const char *strategy, uint64_t index,
                               int64_t start, int64_t end, uint32_t flags,
                               const char *label, const char *extra_json,
                               GPtrArray *packets, GPtrArray *streams, uint32_t reference_stream);
const sc_segment *sc_segment_ref(const sc_segment *segment);
void sc_segment_unref(const sc_segment *segment);
int sc_segment_set_attribute(const sc_segment *segment, const char *key, const char *value);
int sc_segment_get_attribute(const sc_segment *segment, const char *key, char *buffer, size_t length);
int sc_segment_attribute_at(const sc_segment *segment, size_t index, char *key, size_t key_length,
                            char *value, size_t value_length);
/** Names of the set flags, comma separated ("partial,mid_gop_start"). */
char *sc_segment_flag_names(uint32_t flags);

#endif
