#include "quality.h"

void sc_quality_measure_segment(const sc_segment *segment, size_t thinned_packets, sc_quality_measure *out)
{
    *out = (sc_quality_measure){0};
    size_t corrupt = 0;
    int64_t previous_reference_dts = SC_TIME_NONE;
    for (size_t i = 0; i < segment->packet_count; i++) {
        const sc_packet *packet = segment->packets[i];
        if (packet->flags & SC_PACKET_CORRUPT) corrupt++;
        if (packet->stream_index != segment->reference_stream) continue;
        if (previous_reference_dts != SC_TIME_NONE && packet->dts - previous_reference_dts > out->largest_gap_ns)
            out->largest_gap_ns = packet->dts - previous_reference_dts;
        previous_reference_dts = packet->dts;
    }
    if (segment->keyframe_start != SC_TIME_NONE && segment->media_end != SC_TIME_NONE) {
        int64_t content_end = segment->media_end < segment->end ? segment->media_end : segment->end;
        out->duration_ns = content_end - segment->keyframe_start;
        if (out->duration_ns < 0) out->duration_ns = 0;
    }
    if (segment->packet_count) out->corrupt_ratio = (double)corrupt / (double)segment->packet_count;
    if (out->duration_ns > 0) out->bitrate_kbps = (double)segment->bytes * 8.0 / ((double)out->duration_ns / 1e9) / 1000.0;
    if (segment->packet_count + thinned_packets)
        out->thinned_ratio = (double)thinned_packets / (double)(segment->packet_count + thinned_packets);
}

const char *sc_quality_verdict(const sc_quality_rules *rules, const sc_segment *segment,
                               const sc_quality_measure *measure)
{
    if (rules->min_duration_ns > 0 && measure->duration_ns < rules->min_duration_ns) return "min_duration";
    /* A segment always starts decodable; this asks for one whose nominal
     * start is itself a keyframe (nothing before it was added). */
    if (rules->require_keyframe_start && (segment->flags & (SC_SEGMENT_MID_GOP_START | SC_SEGMENT_TRUNCATED)))
        return "require_keyframe_start";
    if (measure->corrupt_ratio > rules->max_corrupt_ratio) return "max_corrupt_ratio";
    if (rules->max_gap_ns > 0 && measure->largest_gap_ns > rules->max_gap_ns) return "max_gap";
    if (rules->min_bitrate_kbps > 0 && measure->bitrate_kbps < rules->min_bitrate_kbps) return "min_bitrate_kbps";
    if (measure->thinned_ratio > rules->max_thinned_ratio) return "max_thinned_ratio";
    return NULL;
}
