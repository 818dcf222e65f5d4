/**
 * @file packet.h
 * @brief Packets and stream descriptions.
 *
 * A packet is one compressed access unit (a video frame, an audio frame, a
 * data message) of one elementary stream of a source. Packets are created
 * through the host (packet_alloc / packet_wrap), filled by the source, then
 * handed to the host with source_push. From then on they are immutable and
 * reference-counted: readers that keep one past the callback that gave it to
 * them take a reference with packet_ref and drop it with packet_unref.
 *
 * Lifetimes: a packet a callback receives (sc_strategy_ops.packet,
 * sc_observer_ops.packet, a segment's packets) is borrowed for that call
 * (or, for a segment's, as long as the segment); packet_ref keeps it longer,
 * from any thread, and each packet_ref needs one packet_unref. A module
 * never frees a packet any other way and never writes to one it did not
 * allocate and has not pushed yet.
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
    SC_MEDIA_UNKNOWN = 0,  /**< not known */
    SC_MEDIA_VIDEO = 1,    /**< video frames */
    SC_MEDIA_AUDIO = 2,    /**< audio frames */
    SC_MEDIA_DATA = 3,     /**< timed metadata: ID3, SCTE-35, AMF, ... */
    SC_MEDIA_SUBTITLE = 4  /**< subtitles, captions */
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
 *
 * Sources obtain packets from sc_host_api.packet_alloc or packet_wrap only
 * (never allocate an sc_packet themselves: the host's are larger and
 * pooled), and give each one to source_push exactly once.
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
 *
 * A source fills one (zeroed, struct_size = sizeof(sc_stream_info)) and
 * declares it with sc_host_api.source_add_stream, which copies it with its
 * strings and extradata. Readers get the host's copy (stream_get, a
 * segment's `streams`, an observer's packet callback), valid as long as the
 * instance, or the segment, lives; it is never modified.
 */
typedef struct sc_stream_info {
    uint32_t struct_size;     /**< sizeof(sc_stream_info) of the writer */
    uint32_t index;           /**< stream index within its source (host fills) */
    uint32_t media_type;      /**< enum sc_media_type */
    uint32_t codec_tag;       /**< container fourcc, 0 if none */
    const char *codec_name;   /**< e.g. "h264", "hevc", "aac"; never NULL */
    const char *format_name;  /**< pixel or sample format name, or NULL */
    const uint8_t *extradata; /**< codec global header (avcC, AudioSpecificConfig, ...) */
    size_t extradata_size;    /**< bytes of extradata, 0 when none */
    int32_t time_base_num;    /**< time base of the original timestamps */
    int32_t time_base_den;    /**< denominator of time_base_num */
    int64_t bit_rate;         /**< bits per second, 0 if unknown */
    int32_t profile;          /**< codec profile, -99 if unknown */
    int32_t level;            /**< codec level, -99 if unknown */
    /* video */
    int32_t width;            /**< video: coded width in pixels, 0 if unknown */
    int32_t height;           /**< video: coded height in pixels, 0 if unknown */
    int32_t sar_num;          /**< sample aspect ratio, 0/1 if unknown */
    int32_t sar_den;          /**< denominator of sar_num */
    int32_t fps_num;          /**< nominal frame rate, 0/1 if unknown */
    int32_t fps_den;          /**< denominator of fps_num */
    int32_t video_delay;      /**< reorder depth (B-frames), 0 if none */
    int32_t color_range;      /**< see above */
    int32_t color_primaries;  /**< H.273 colour primaries (2 = unspecified) */
    int32_t color_trc;        /**< H.273 transfer characteristics (2 = unspecified) */
    int32_t color_space;      /**< H.273 matrix coefficients (2 = unspecified) */
    int32_t chroma_location;  /**< see above */
    /* audio */
    int32_t sample_rate;      /**< audio: samples per second, 0 if unknown */
    int32_t channels;         /**< audio: channel count, 0 if unknown */
    uint64_t channel_layout;  /**< native channel mask, 0 if unknown */
    int32_t frame_size;       /**< samples per frame, 0 if variable/unknown */
    int32_t initial_padding;  /**< encoder priming samples */
    int32_t block_align;      /**< audio: bytes per coded block (PCM, ADPCM), 0 if n/a */
    int32_t bits_per_coded_sample; /**< bits per coded sample, 0 if n/a */
    const char *language;     /**< ISO 639 code or NULL */
    /* ABI 1.1 */
    int64_t duration;         /**< ns the input lasts when known (a file), else SC_TIME_NONE;
                                   the host reads it only from writers whose struct_size covers it */
} sc_stream_info;

SC_END_DECLS

#endif /* STREAMCUT_PACKET_H */
