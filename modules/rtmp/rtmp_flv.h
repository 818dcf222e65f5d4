/* rtmp: FLV tag bodies (RTMP audio/video messages carry exactly these) to
 * codec configurations and packets, and RTMP timestamps to a 64-bit
 * timeline. Plain C, no SDK type: the Check tests compile these files
 * directly.
 *
 * Video: legacy AVC (codec id 7) and HEVC under the unofficial codec id 12,
 * and Enhanced RTMP (v1) FourCC headers for avc1, hvc1, av01 and vp09.
 * Audio: AAC (sound format 10). Anything else parses as FLV_CODEC_NONE with
 * the id it had, so the caller can count and skip it.
 */
#ifndef STREAMCUT_RTMP_FLV_H
#define STREAMCUT_RTMP_FLV_H

#include "rtmp_bytes.h"

#include <stddef.h>
#include <stdint.h>

enum flv_codec {
    FLV_CODEC_NONE = 0,
    FLV_CODEC_H264,
    FLV_CODEC_HEVC,
    FLV_CODEC_AV1,
    FLV_CODEC_VP9,
    FLV_CODEC_AAC
};

enum flv_packet_kind {
    FLV_PACKET_CONFIG = 1,   /* sequence header: the codec configuration record */
    FLV_PACKET_FRAME = 2,    /* coded data */
    FLV_PACKET_END = 3,      /* end of sequence */
    FLV_PACKET_OTHER = 4     /* info/command frames, metadata: nothing to decode */
};

typedef struct flv_media {
    int codec;                   /* enum flv_codec; NONE = not supported */
    int kind;                    /* enum flv_packet_kind */
    int keyframe;
    int32_t composition_offset;  /* ms; pts = dts + this */
    size_t payload_offset;       /* the configuration record or coded data */
    size_t payload_size;
    uint32_t source_id;          /* legacy codec id / sound format, or the FourCC */
    int enhanced;                /* Enhanced RTMP header */
    int audio_stereo;            /* legacy audio header flag */
} flv_media;

/* 0 when parsed (codec NONE for what is not supported), -1 when malformed. */
int flv_parse_video(const uint8_t *data, size_t size, flv_media *media);
int flv_parse_audio(const uint8_t *data, size_t size, flv_media *media);

/* FFmpeg's codec name, or NULL. */
const char *flv_codec_name(int codec);

typedef struct flv_video_config {
    int width;                   /* 0 when the record does not say */
    int height;
    int profile;                 /* -99 when unknown */
    int level;
    int nal_length_size;         /* bytes of the NAL unit length prefixes */
    int chroma_format;           /* 0 mono, 1 4:2:0, 2 4:2:2, 3 4:4:4; -1 unknown */
    int bit_depth;               /* 0 unknown */
} flv_video_config;

typedef struct flv_audio_config {
    int object_type;             /* 2 = AAC LC, 5 = SBR, 29 = PS, ... */
    int sample_rate;             /* the output rate (with SBR, the doubled one) */
    int channels;                /* 0 when a program config element decides */
    int frame_size;              /* samples per packet at sample_rate */
} flv_audio_config;

/* AVCDecoderConfigurationRecord, with its first SPS parsed for the picture
 * size (cropping applied). */
int flv_parse_avc_config(const uint8_t *record, size_t size, flv_video_config *config);
/* HEVCDecoderConfigurationRecord: profile, level, chroma, depth, NAL length
 * size (the picture size is left to the stream's metadata). */
int flv_parse_hevc_config(const uint8_t *record, size_t size, flv_video_config *config);
/* AudioSpecificConfig. */
int flv_parse_aac_config(const uint8_t *config_bytes, size_t size, flv_audio_config *config);
/* Appends the parameter sets of an avcC or hvcC record as length-prefixed
 * NAL units, ready to put in front of a keyframe's data (in-band parameter
 * sets, when a publisher's configuration differs from the declared one). */
int flv_parameter_sets(int codec, const uint8_t *record, size_t size, byte_buffer *out);

/* One FLV tag of an aggregate message. */
typedef struct flv_tag {
    uint8_t type;          /* 8 audio, 9 video, 18 script data */
    uint32_t timestamp;    /* 32 bits, ms */
    const uint8_t *data;
    size_t size;
} flv_tag;

/* The next tag at data[*position..size): 1 with *tag filled and *position
 * advanced, 0 at the end, -1 when malformed. */
int flv_next_aggregate_tag(const uint8_t *data, size_t size, size_t *position, flv_tag *tag);

/* A frame rate in frames per second as a fraction: whole rates as n/1,
 * NTSC rates as n*1000/1001, others to a thousandth. 0/1 when unusable. */
void flv_frame_rate(double rate, int *numerator, int *denominator);

/* RTMP timestamps are 32-bit milliseconds; this keeps a 64-bit running
 * value per track. A step is the signed 32-bit difference from the last
 * timestamp, so the 2^32 wrap (49.7 days) continues seamlessly; a step
 * from just under 2^31 to just above 0 is taken for the 31-bit wrap of
 * encoders that write FLV's signed timestamp (FFmpeg masks it to 31 bits)
 * and continues seamlessly too. */
typedef struct rtmp_timestamp_unwrapper {
    int started;
    uint32_t last;
    int64_t value;
} rtmp_timestamp_unwrapper;

/* How close to 2^31 (and to 0 after it) a step counts as the 31-bit wrap. */
#define RTMP_WRAP31_WINDOW_MS 60000u

/* Returns the unwrapped timestamp; *wrapped (may be NULL) is set to 1 when
 * a 31- or 32-bit wrap was crossed. */
int64_t rtmp_unwrap_timestamp(rtmp_timestamp_unwrapper *unwrapper, uint32_t timestamp, int *wrapped);

/* The wall-clock time an encoder states in an onFI data message (Adobe
 * FMLE, Wirecast, Elemental and others send one every few seconds): `date`
 * as "dd-mm-yy", "dd-mm-yyyy" or "yyyy-mm-dd", `time` as "hh:mm:ss" with
 * an optional fraction ".fff". The encoder's clock has no zone; it is read
 * as UTC and `offset_ns` (the zone's offset east of UTC) is subtracted.
 * 0 with *utc_ns set, -1 when either text is not such a date or time. */
int flv_parse_timecode(const char *date, const char *time, int64_t offset_ns, int64_t *utc_ns);

#endif
