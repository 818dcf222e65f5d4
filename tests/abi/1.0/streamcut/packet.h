/* streamcut module SDK: packets and stream descriptions.
 *
 * A packet is one compressed access unit (a video frame, an audio frame, a
 * data message) of one elementary stream of a source. Packets are created
 * through the host (packet_alloc / packet_wrap), filled by the source, then
 * handed to the host with source_push. From then on they are immutable and
 * reference-counted: readers that keep one past the callback that gave it to
 * them take a reference with packet_ref and drop it with packet_unref.
 */
#ifndef STREAMCUT_PACKET_H
#define STREAMCUT_PACKET_H

#include "abi.h"

SC_BEGIN_DECLS

/** Payloads are followed by at least this many zero bytes, so decoders and
 * bitstream filters may over-read safely. packet_alloc guarantees it;
 * packet_wrap callers must provide it (FFmpeg's packet buffers do). */
#define SC_PACKET_PADDING 64

/** What an elementary stream carries. */
enum sc_media_type {
    SC_MEDIA_UNKNOWN = 0,
    SC_MEDIA_VIDEO = 1,
    SC_MEDIA_AUDIO = 2,
    SC_MEDIA_DATA = 3,     /**< timed metadata: ID3, SCTE-35, AMF, ... */
    SC_MEDIA_SUBTITLE = 4
};

/** Packet flags (sc_packet.flags). */
enum sc_packet_flag {
    SC_PACKET_KEY = 1u << 0,           /**< decodable without earlier packets */
    SC_PACKET_CORRUPT = 1u << 1,       /**< the demuxer flagged it as damaged */
    SC_PACKET_DISCONTINUITY = 1u << 2, /**< first packet after a gap/reset */
    SC_PACKET_TS_FIXED = 1u << 3,      /**< the host adjusted a non-monotonic DTS */
    SC_PACKET_TS_INTERPOLATED = 1u << 4 /**< the host filled a missing timestamp */
};

/**
 * One compressed packet.
 *
 * Sources fill: stream_index, flags (KEY, CORRUPT, DISCONTINUITY), orig_pts,
 * orig_dts, orig_duration and time_base_num/den (the timestamps exactly as the
 * input gave them), and optionally arrival_ns. The host fills the rest when the
 * packet is pushed: pts/dts/duration on the source's normalized timeline
 * (nanoseconds, continuous, starting near 0), media_type and seq.
 */
typedef struct sc_packet {
    uint32_t struct_size;    /**< sizeof(sc_packet) of the host that made it */
    uint32_t stream_index;   /**< index into the source's streams */
    uint32_t media_type;     /**< enum sc_media_type */
    uint32_t flags;          /**< enum sc_packet_flag bits */
    int64_t pts;             /**< presentation time, ns, normalized */
    int64_t dts;             /**< decode time, ns, normalized */
    int64_t duration;        /**< ns, 0 when unknown */
    int64_t orig_pts;        /**< original pts in time_base units or SC_TIME_NONE */
    int64_t orig_dts;        /**< original dts in time_base units or SC_TIME_NONE */
    int64_t orig_duration;   /**< original duration in time_base units, 0 if unknown */
    int32_t time_base_num;   /**< original time base numerator */
    int32_t time_base_den;   /**< original time base denominator */
    int64_t arrival_ns;      /**< wall clock (UTC epoch ns) when it arrived */
    uint64_t seq;            /**< per-source sequence number, from 0, set by the host */
    const uint8_t *data;     /**< payload; shared, never modify after push */
    size_t size;             /**< payload bytes */
    int64_t source_utc_ns;   /**< wall clock (UTC epoch ns) of this packet's pts as
                                  the source states it (HLS PROGRAM-DATE-TIME, RTMP
                                  metadata), or SC_TIME_NONE; sources fill it */
} sc_packet;

/**
 * Description of one elementary stream, enough to remux it without
 * re-encoding. Codec and format names are FFmpeg's names ("h264", "aac",
 * "yuv420p", "fltp") carried as plain strings. color_primaries, color_trc
 * and color_space use the ITU-T H.273 code points (2 = unspecified);
 * color_range: 0 unspecified, 1 limited, 2 full; chroma_location:
 * 0 unspecified, 1 left, 2 center, 3 top-left, 4 top, 5 bottom-left, 6 bottom.
 */
typedef struct sc_stream_info {
    uint32_t struct_size;     /**< sizeof(sc_stream_info) of the writer */
    uint32_t index;           /**< stream index within its source (host fills) */
    uint32_t media_type;      /**< enum sc_media_type */
    uint32_t codec_tag;       /**< container fourcc, 0 if none */
    const char *codec_name;   /**< e.g. "h264", "hevc", "aac"; never NULL */
    const char *format_name;  /**< pixel or sample format name, or NULL */
    const uint8_t *extradata; /**< codec global header (avcC, AudioSpecificConfig, ...) */
    size_t extradata_size;
    int32_t time_base_num;    /**< time base of the original timestamps */
    int32_t time_base_den;
    int64_t bit_rate;         /**< bits per second, 0 if unknown */
    int32_t profile;          /**< codec profile, -99 if unknown */
    int32_t level;            /**< codec level, -99 if unknown */
    /* video */
    int32_t width;
    int32_t height;
    int32_t sar_num;          /**< sample aspect ratio, 0/1 if unknown */
    int32_t sar_den;
    int32_t fps_num;          /**< nominal frame rate, 0/1 if unknown */
    int32_t fps_den;
    int32_t video_delay;      /**< reorder depth (B-frames), 0 if none */
    int32_t color_range;      /**< see above */
    int32_t color_primaries;
    int32_t color_trc;
    int32_t color_space;
    int32_t chroma_location;
    /* audio */
    int32_t sample_rate;
    int32_t channels;
    uint64_t channel_layout;  /**< native channel mask, 0 if unknown */
    int32_t frame_size;       /**< samples per frame, 0 if variable/unknown */
    int32_t initial_padding;  /**< encoder priming samples */
    int32_t block_align;
    int32_t bits_per_coded_sample;
    const char *language;     /**< ISO 639 code or NULL */
} sc_stream_info;

SC_END_DECLS

#endif /* STREAMCUT_PACKET_H */
