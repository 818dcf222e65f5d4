#include "rtmp_flv.h"
#include "../common/civil_date.h"

#include <math.h>
#include <string.h>

#define FOURCC(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

enum {
    LEGACY_VIDEO_AVC = 7,
    LEGACY_VIDEO_HEVC = 12,   /* not in the FLV specification, widely used in China */
    LEGACY_AUDIO_AAC = 10,
    VIDEO_FRAME_KEY = 1,
    VIDEO_FRAME_GENERATED_KEY = 4,
    VIDEO_FRAME_COMMAND = 5,
    ENHANCED_SEQUENCE_START = 0,
    ENHANCED_CODED_FRAMES = 1,
    ENHANCED_SEQUENCE_END = 2,
    ENHANCED_CODED_FRAMES_X = 3,
    ENHANCED_METADATA = 4,
    ENHANCED_MPEG2TS_SEQUENCE_START = 5
};

static int32_t signed24(const uint8_t *bytes)
{
    uint32_t value = read_be24(bytes);
    return value & 0x800000u ? (int32_t)value - 0x1000000 : (int32_t)value;
}

const char *flv_codec_name(int codec)
{
    switch (codec) {
    case FLV_CODEC_H264: return "h264";
    case FLV_CODEC_HEVC: return "hevc";
    case FLV_CODEC_AV1: return "av1";
    case FLV_CODEC_VP9: return "vp9";
    case FLV_CODEC_AAC: return "aac";
    default: return NULL;
    }
}

static int codec_from_fourcc(uint32_t fourcc)
{
    switch (fourcc) {
    case FOURCC('a', 'v', 'c', '1'): return FLV_CODEC_H264;
    case FOURCC('h', 'v', 'c', '1'): return FLV_CODEC_HEVC;
    case FOURCC('a', 'v', '0', '1'): return FLV_CODEC_AV1;
    case FOURCC('v', 'p', '0', '9'): return FLV_CODEC_VP9;
    default: return FLV_CODEC_NONE;
    }
}

static int parse_enhanced_video(const uint8_t *data, size_t size, flv_media *media)
{
    unsigned frame_type = (data[0] >> 4) & 0x07;
    unsigned packet_type = data[0] & 0x0F;
    if (size < 5)
        return -1;
    media->enhanced = 1;
    media->source_id = read_be32(data + 1);
    media->codec = codec_from_fourcc(media->source_id);
    media->keyframe = frame_type == VIDEO_FRAME_KEY || frame_type == VIDEO_FRAME_GENERATED_KEY;
    size_t offset = 5;
    if (frame_type == VIDEO_FRAME_COMMAND && packet_type != ENHANCED_METADATA) {
        media->kind = FLV_PACKET_OTHER;
    } else {
        switch (packet_type) {
        case ENHANCED_SEQUENCE_START:
            media->kind = FLV_PACKET_CONFIG;
            break;
        case ENHANCED_CODED_FRAMES:
            media->kind = FLV_PACKET_FRAME;
            /* Only the codecs with reordering carry a composition time. */
            if (media->codec == FLV_CODEC_H264 || media->codec == FLV_CODEC_HEVC) {
                if (size < 8)
                    return -1;
                media->composition_offset = signed24(data + 5);
                offset = 8;
            }
            break;
        case ENHANCED_CODED_FRAMES_X:
            media->kind = FLV_PACKET_FRAME;
            break;
        case ENHANCED_SEQUENCE_END:
            media->kind = FLV_PACKET_END;
            break;
        case ENHANCED_MPEG2TS_SEQUENCE_START:
        case ENHANCED_METADATA:
        default: /* multitrack and later extensions are not supported */
            media->kind = FLV_PACKET_OTHER;
            if (packet_type > ENHANCED_MPEG2TS_SEQUENCE_START)
                media->codec = FLV_CODEC_NONE;
            break;
        }
    }
    media->payload_offset = offset;
    media->payload_size = size - offset;
    return 0;
}

int flv_parse_video(const uint8_t *data, size_t size, flv_media *media)
{
    memset(media, 0, sizeof(*media));
    if (size < 1)
        return -1;
    if (data[0] & 0x80)
        return parse_enhanced_video(data, size, media);
    unsigned frame_type = data[0] >> 4;
    unsigned codec_id = data[0] & 0x0F;
    media->source_id = codec_id;
    media->keyframe = frame_type == VIDEO_FRAME_KEY || frame_type == VIDEO_FRAME_GENERATED_KEY;
    if (codec_id != LEGACY_VIDEO_AVC && codec_id != LEGACY_VIDEO_HEVC) {
        media->codec = FLV_CODEC_NONE;
        media->kind = frame_type == VIDEO_FRAME_COMMAND ? FLV_PACKET_OTHER : FLV_PACKET_FRAME;
        media->payload_offset = 1;
        media->payload_size = size - 1;
        return 0;
    }
    media->codec = codec_id == LEGACY_VIDEO_AVC ? FLV_CODEC_H264 : FLV_CODEC_HEVC;
    if (frame_type == VIDEO_FRAME_COMMAND) {
        media->kind = FLV_PACKET_OTHER;
        media->payload_offset = 1;
        media->payload_size = size - 1;
        return 0;
    }
    if (size < 5)
        return -1;
    switch (data[1]) {
    case 0: media->kind = FLV_PACKET_CONFIG; break;
    case 1: media->kind = FLV_PACKET_FRAME; break;
    case 2: media->kind = FLV_PACKET_END; break;
    default: return -1;
    }
    media->composition_offset = media->kind == FLV_PACKET_FRAME ? signed24(data + 2) : 0;
    media->payload_offset = 5;
    media->payload_size = size - 5;
    return 0;
}

int flv_parse_audio(const uint8_t *data, size_t size, flv_media *media)
{
    memset(media, 0, sizeof(*media));
    if (size < 1)
        return -1;
    unsigned sound_format = data[0] >> 4;
    media->source_id = sound_format;
    media->audio_stereo = data[0] & 1;
    media->keyframe = 1;
    if (sound_format != LEGACY_AUDIO_AAC) {
        media->codec = FLV_CODEC_NONE;
        media->kind = FLV_PACKET_FRAME;
        media->payload_offset = 1;
        media->payload_size = size - 1;
        return 0;
    }
    if (size < 2)
        return -1;
    media->codec = FLV_CODEC_AAC;
    if (data[1] == 0)
        media->kind = FLV_PACKET_CONFIG;
    else if (data[1] == 1)
        media->kind = FLV_PACKET_FRAME;
    else
        return -1;
    media->payload_offset = 2;
    media->payload_size = size - 2;
    return 0;
}

/* ---- bit reading ------------------------------------------------------- */

typedef struct bit_reader {
    const uint8_t *data;
    size_t size_bits;
    size_t position;
    int overrun;
} bit_reader;

static uint32_t read_bits(bit_reader *reader, unsigned count)
{
    uint32_t value = 0;
    for (unsigned i = 0; i < count; i++) {
        if (reader->position >= reader->size_bits) {
            reader->overrun = 1;
            return 0;
        }
        unsigned bit = (reader->data[reader->position / 8] >> (7 - reader->position % 8)) & 1;
        value = value << 1 | bit;
        reader->position++;
    }
    return value;
}

static uint32_t read_unsigned_golomb(bit_reader *reader)
{
    unsigned zeros = 0;
    while (read_bits(reader, 1) == 0) {
        if (reader->overrun || ++zeros > 31) {
            reader->overrun = 1;
            return 0;
        }
    }
    return ((1u << zeros) - 1) + read_bits(reader, zeros);
}

static int32_t read_signed_golomb(bit_reader *reader)
{
    uint32_t code = read_unsigned_golomb(reader);
    return code & 1 ? (int32_t)((code + 1) / 2) : -(int32_t)(code / 2);
}

/* The RBSP of a NAL unit body: emulation prevention bytes removed. */
static size_t unescape_rbsp(const uint8_t *nal, size_t size, uint8_t *out, size_t capacity)
{
    size_t length = 0;
    unsigned zeros = 0;
    for (size_t i = 0; i < size && length < capacity; i++) {
        if (zeros >= 2 && nal[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = nal[i] == 0 ? zeros + 1 : 0;
        out[length++] = nal[i];
    }
    return length;
}

static void skip_scaling_list(bit_reader *reader, int size)
{
    int last = 8, next = 8;
    for (int j = 0; j < size && !reader->overrun; j++) {
        if (next != 0) {
            int32_t delta = read_signed_golomb(reader);
            next = (last + delta + 256) % 256;
        }
        last = next == 0 ? last : next;
    }
}

/* H.264 sequence parameter set (7.3.2.1.1) up to the frame cropping. */
static int parse_avc_sps(const uint8_t *nal, size_t size, flv_video_config *config)
{
    uint8_t rbsp[512];
    if (size < 4)
        return -1;
    size_t length = unescape_rbsp(nal + 1, size - 1, rbsp, sizeof(rbsp));
    bit_reader reader = { .data = rbsp, .size_bits = length * 8 };
    unsigned profile = read_bits(&reader, 8);
    read_bits(&reader, 16); /* constraint flags, level */
    read_unsigned_golomb(&reader); /* seq_parameter_set_id */
    unsigned chroma_format = 1, bit_depth = 8;
    if (profile == 100 || profile == 110 || profile == 122 || profile == 244 || profile == 44 ||
        profile == 83 || profile == 86 || profile == 118 || profile == 128 || profile == 138 ||
        profile == 139 || profile == 134 || profile == 135) {
        chroma_format = read_unsigned_golomb(&reader);
        if (chroma_format > 3)
            return -1;
        if (chroma_format == 3)
            read_bits(&reader, 1); /* separate_colour_plane_flag */
        bit_depth = 8 + read_unsigned_golomb(&reader);
        read_unsigned_golomb(&reader); /* bit_depth_chroma */
        read_bits(&reader, 1); /* qpprime_y_zero_transform_bypass_flag */
        if (read_bits(&reader, 1)) {
            int lists = chroma_format != 3 ? 8 : 12;
            for (int i = 0; i < lists; i++)
                if (read_bits(&reader, 1))
                    skip_scaling_list(&reader, i < 6 ? 16 : 64);
        }
    }
    read_unsigned_golomb(&reader); /* log2_max_frame_num_minus4 */
    unsigned order_type = read_unsigned_golomb(&reader);
    if (order_type == 0) {
        read_unsigned_golomb(&reader);
    } else if (order_type == 1) {
        read_bits(&reader, 1);
        read_signed_golomb(&reader);
        read_signed_golomb(&reader);
        uint32_t cycle = read_unsigned_golomb(&reader);
        if (cycle > 255)
            return -1;
        for (uint32_t i = 0; i < cycle; i++)
            read_signed_golomb(&reader);
    }
    read_unsigned_golomb(&reader); /* max_num_ref_frames */
    read_bits(&reader, 1);
    uint32_t width_in_macroblocks = read_unsigned_golomb(&reader) + 1;
    uint32_t height_in_map_units = read_unsigned_golomb(&reader) + 1;
    unsigned frame_macroblocks_only = read_bits(&reader, 1);
    if (!frame_macroblocks_only)
        read_bits(&reader, 1);
    read_bits(&reader, 1); /* direct_8x8_inference_flag */
    uint32_t crop_left = 0, crop_right = 0, crop_top = 0, crop_bottom = 0;
    if (read_bits(&reader, 1)) {
        crop_left = read_unsigned_golomb(&reader);
        crop_right = read_unsigned_golomb(&reader);
        crop_top = read_unsigned_golomb(&reader);
        crop_bottom = read_unsigned_golomb(&reader);
    }
    if (reader.overrun || width_in_macroblocks > 1024 || height_in_map_units > 1024)
        return -1;
    unsigned crop_unit_x = chroma_format == 1 || chroma_format == 2 ? 2 : 1;
    unsigned crop_unit_y = (chroma_format == 1 ? 2 : 1) * (2 - frame_macroblocks_only);
    int64_t width = (int64_t)width_in_macroblocks * 16 - (int64_t)crop_unit_x * (crop_left + crop_right);
    int64_t height = (int64_t)(2 - frame_macroblocks_only) * height_in_map_units * 16 -
                     (int64_t)crop_unit_y * (crop_top + crop_bottom);
    if (width <= 0 || height <= 0)
        return -1;
    config->width = (int)width;
    config->height = (int)height;
    config->chroma_format = (int)chroma_format;
    config->bit_depth = (int)bit_depth;
    return 0;
}

/* ---- configuration records ---------------------------------------------- */

int flv_parse_avc_config(const uint8_t *record, size_t size, flv_video_config *config)
{
    *config = (flv_video_config){ .profile = -99, .level = -99, .chroma_format = -1 };
    if (size < 7 || record[0] != 1)
        return -1;
    config->profile = record[1];
    config->level = record[3];
    config->nal_length_size = (record[4] & 3) + 1;
    unsigned sps_count = record[5] & 0x1F;
    size_t position = 6;
    for (unsigned i = 0; i < sps_count; i++) {
        if (position + 2 > size)
            return -1;
        size_t length = read_be16(record + position);
        position += 2;
        if (position + length > size)
            return -1;
        if (i == 0)
            parse_avc_sps(record + position, length, config); /* the size is optional */
        position += length;
    }
    if (position + 1 > size)
        return -1;
    unsigned pps_count = record[position++];
    for (unsigned i = 0; i < pps_count; i++) {
        if (position + 2 > size)
            return -1;
        size_t length = read_be16(record + position);
        position += 2 + length;
        if (position > size)
            return -1;
    }
    return 0;
}

int flv_parse_hevc_config(const uint8_t *record, size_t size, flv_video_config *config)
{
    *config = (flv_video_config){ .profile = -99, .level = -99, .chroma_format = -1 };
    if (size < 23 || record[0] != 1)
        return -1;
    config->profile = record[1] & 0x1F;
    config->level = record[12];
    config->chroma_format = record[16] & 3;
    config->bit_depth = 8 + (record[17] & 7);
    config->nal_length_size = (record[21] & 3) + 1;
    unsigned arrays = record[22];
    size_t position = 23;
    for (unsigned i = 0; i < arrays; i++) {
        if (position + 3 > size)
            return -1;
        unsigned count = read_be16(record + position + 1);
        position += 3;
        for (unsigned j = 0; j < count; j++) {
            if (position + 2 > size)
                return -1;
            size_t length = read_be16(record + position);
            position += 2 + length;
            if (position > size)
                return -1;
        }
    }
    return 0;
}

static void append_nal(byte_buffer *out, const uint8_t *nal, size_t length, int nal_length_size)
{
    for (int shift = 8 * (nal_length_size - 1); shift >= 0; shift -= 8)
        byte_buffer_append_byte(out, (uint8_t)(length >> shift));
    byte_buffer_append(out, nal, length);
}

int flv_parameter_sets(int codec, const uint8_t *record, size_t size, byte_buffer *out)
{
    flv_video_config config;
    size_t start = out->length;
    if (codec == FLV_CODEC_H264) {
        if (flv_parse_avc_config(record, size, &config) != 0)
            return -1;
        size_t position = 5;
        for (int list = 0; list < 2; list++) {
            unsigned count = list == 0 ? record[position] & 0x1F : record[position];
            position++;
            for (unsigned i = 0; i < count; i++) {
                size_t length = read_be16(record + position);
                if (config.nal_length_size < 4 && length >> (8 * config.nal_length_size))
                    return -1;
                append_nal(out, record + position + 2, length, config.nal_length_size);
                position += 2 + length;
            }
        }
    } else if (codec == FLV_CODEC_HEVC) {
        if (flv_parse_hevc_config(record, size, &config) != 0)
            return -1;
        unsigned arrays = record[22];
        size_t position = 23;
        for (unsigned i = 0; i < arrays; i++) {
            unsigned count = read_be16(record + position + 1);
            position += 3;
            for (unsigned j = 0; j < count; j++) {
                size_t length = read_be16(record + position);
                if (config.nal_length_size < 4 && length >> (8 * config.nal_length_size))
                    return -1;
                append_nal(out, record + position + 2, length, config.nal_length_size);
                position += 2 + length;
            }
        }
    } else {
        return -1;
    }
    return out->failed || out->length == start ? -1 : 0;
}

static const int aac_sample_rates[13] = { 96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                          22050, 16000, 12000, 11025, 8000, 7350 };

static unsigned read_object_type(bit_reader *reader)
{
    unsigned type = read_bits(reader, 5);
    return type == 31 ? 32 + read_bits(reader, 6) : type;
}

static int read_sample_rate(bit_reader *reader)
{
    unsigned index = read_bits(reader, 4);
    if (index == 15)
        return (int)read_bits(reader, 24);
    return index < 13 ? aac_sample_rates[index] : 0;
}

int flv_parse_aac_config(const uint8_t *config_bytes, size_t size, flv_audio_config *config)
{
    *config = (flv_audio_config){ 0 };
    bit_reader reader = { .data = config_bytes, .size_bits = size * 8 };
    unsigned object_type = read_object_type(&reader);
    int sample_rate = read_sample_rate(&reader);
    unsigned channel_config = read_bits(&reader, 4);
    int spectral_band_replication = object_type == 5 || object_type == 29;
    unsigned core_type = object_type;
    if (spectral_band_replication) {
        sample_rate = read_sample_rate(&reader); /* the extension's output rate */
        core_type = read_object_type(&reader);
    }
    int frame_size = 1024;
    switch (core_type) {
    case 1: case 2: case 3: case 4: case 6: case 7:
    case 17: case 19: case 20: case 21: case 22: case 23:
        if (read_bits(&reader, 1)) /* frameLengthFlag */
            frame_size = 960;
        break;
    default:
        break;
    }
    if (reader.overrun || object_type == 0 || sample_rate <= 0)
        return -1;
    config->object_type = (int)object_type;
    config->sample_rate = sample_rate;
    config->channels = channel_config == 7 ? 8 : channel_config <= 6 ? (int)channel_config : 0;
    config->frame_size = spectral_band_replication ? 2 * frame_size : frame_size;
    return 0;
}

/* ---- aggregate messages --------------------------------------------------- */

int flv_next_aggregate_tag(const uint8_t *data, size_t size, size_t *position, flv_tag *tag)
{
    size_t at = *position;
    if (at >= size)
        return 0;
    if (size - at < 11)
        return -1;
    const uint8_t *header = data + at;
    size_t length = read_be24(header + 1);
    if (size - at - 11 < length)
        return -1;
    tag->type = header[0] & 0x1F;
    tag->timestamp = (uint32_t)header[7] << 24 | read_be24(header + 4);
    tag->data = header + 11;
    tag->size = length;
    at += 11 + length;
    /* The back pointer after each tag; the last one is sometimes left out. */
    at = size - at >= 4 ? at + 4 : size;
    *position = at;
    return 1;
}

/* ---- rates and timestamps ------------------------------------------------ */

static long greatest_common_divisor(long a, long b)
{
    while (b) {
        long rest = a % b;
        a = b;
        b = rest;
    }
    return a;
}

void flv_frame_rate(double rate, int *numerator, int *denominator)
{
    *numerator = 0;
    *denominator = 1;
    if (!(rate > 0.0 && rate < 1000.0))
        return;
    double whole = round(rate);
    if (whole > 0 && fabs(rate - whole) < 0.001) {
        *numerator = (int)whole;
        return;
    }
    double ntsc = round(rate * 1.001);
    if (fabs(rate - ntsc * 1000.0 / 1001.0) < 0.001) {
        *numerator = (int)ntsc * 1000;
        *denominator = 1001;
        return;
    }
    long thousandths = lround(rate * 1000.0);
    long divisor = greatest_common_divisor(thousandths, 1000);
    *numerator = (int)(thousandths / divisor);
    *denominator = (int)(1000 / divisor);
}

int64_t rtmp_unwrap_timestamp(rtmp_timestamp_unwrapper *unwrapper, uint32_t timestamp, int *wrapped)
{
    if (wrapped)
        *wrapped = 0;
    if (!unwrapper->started) {
        unwrapper->started = 1;
        unwrapper->last = timestamp;
        unwrapper->value = timestamp;
        return unwrapper->value;
    }
    const uint32_t half = UINT32_C(0x80000000);
    uint32_t last = unwrapper->last;
    int64_t step;
    if (last >= half - RTMP_WRAP31_WINDOW_MS && last < half && timestamp < RTMP_WRAP31_WINDOW_MS) {
        step = (int64_t)timestamp + half - last;
        if (wrapped)
            *wrapped = 1;
    } else {
        uint32_t difference = timestamp - last;
        step = difference >= half ? (int64_t)difference - (INT64_C(1) << 32) : (int64_t)difference;
        if (wrapped && step > 0 && timestamp < last)
            *wrapped = 1;
    }
    unwrapper->value += step;
    unwrapper->last = timestamp;
    return unwrapper->value;
}

/* Fixed-width unsigned decimal field; -1 when any character is no digit. */
static int read_digits(const char *text, int width)
{
    int value = 0;
    for (int i = 0; i < width; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

int flv_parse_timecode(const char *date, const char *time, int64_t offset_ns, int64_t *utc_ns)
{
    if (!date || !time)
        return -1;
    size_t date_length = strlen(date);
    int year, month, day;
    if (date_length == 10 && date[4] == '-' && date[7] == '-') {
        year = read_digits(date, 4);
        month = read_digits(date + 5, 2);
        day = read_digits(date + 8, 2);
    } else if ((date_length == 8 || date_length == 10) && date[2] == '-' && date[5] == '-') {
        day = read_digits(date, 2);
        month = read_digits(date + 3, 2);
        year = read_digits(date + 6, (int)date_length - 6);
        if (year >= 0 && date_length == 8)
            year += 2000; /* two-digit years: encoders of this century */
    } else {
        return -1;
    }
    if (!civil_date_valid(year, month, day))
        return -1;
    if (strlen(time) < 8 || time[2] != ':' || time[5] != ':')
        return -1;
    int hour = read_digits(time, 2), minute = read_digits(time + 3, 2), second = read_digits(time + 6, 2);
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60)
        return -1;
    int64_t fraction_ns = 0;
    const char *rest = time + 8;
    if (*rest == '.') {
        rest++;
        int64_t scale = 100000000;
        if (*rest == '\0')
            return -1;
        for (; *rest; rest++) {
            if (*rest < '0' || *rest > '9')
                return -1;
            fraction_ns += (*rest - '0') * scale;
            scale /= 10;
        }
    } else if (*rest != '\0') {
        return -1;
    }
    int64_t seconds = civil_days_from_date(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    *utc_ns = seconds * INT64_C(1000000000) + fraction_ns - offset_ns;
    return 0;
}
