#include "av_stream_info.h"

#include <libavutil/pixdesc.h>
#include <string.h>

int sc_av_media_type(const AVCodecParameters *codec)
{
    switch (codec->codec_type) {
    case AVMEDIA_TYPE_VIDEO: return SC_MEDIA_VIDEO;
    case AVMEDIA_TYPE_AUDIO: return SC_MEDIA_AUDIO;
    case AVMEDIA_TYPE_SUBTITLE: return SC_MEDIA_SUBTITLE;
    default: return SC_MEDIA_DATA;
    }
}


/* MPEG-TS and others put numeric stream types in codec_tag; only a real
 * fourcc ('avc1', 'hvc1', ...) means something to another container. */
static uint32_t fourcc_or_zero(uint32_t tag)
{
    for (int shift = 0; shift < 32; shift += 8) {
        unsigned byte = (tag >> shift) & 0xff;
        if (byte < 0x20 || byte > 0x7e)
            return 0;
    }
    return tag;
}

void sc_av_describe_stream(const AVStream *stream, sc_stream_info *info)
{
    const AVCodecParameters *codec = stream->codecpar;
    int video = codec->codec_type == AVMEDIA_TYPE_VIDEO;
    memset(info, 0, sizeof(*info));
    info->struct_size = sizeof(*info);
    info->media_type = (uint32_t)sc_av_media_type(codec);
    info->codec_tag = fourcc_or_zero(codec->codec_tag);
    info->codec_name = avcodec_get_name(codec->codec_id);
    info->duration = stream->duration != AV_NOPTS_VALUE && stream->time_base.den > 0
                         ? av_rescale_q(stream->duration, stream->time_base, (AVRational){ 1, 1000000000 })
                         : SC_TIME_NONE;
    if (codec->format >= 0 && (video || codec->codec_type == AVMEDIA_TYPE_AUDIO))
        info->format_name = video ? av_get_pix_fmt_name((enum AVPixelFormat)codec->format)
                                  : av_get_sample_fmt_name((enum AVSampleFormat)codec->format);
    info->extradata = codec->extradata;
    info->extradata_size = codec->extradata_size > 0 ? (size_t)codec->extradata_size : 0;
    info->time_base_num = stream->time_base.num;
    info->time_base_den = stream->time_base.den;
    info->bit_rate = codec->bit_rate;
    info->profile = codec->profile;
    info->level = codec->level;

    AVRational aspect = codec->sample_aspect_ratio.num ? codec->sample_aspect_ratio
                                                       : stream->sample_aspect_ratio;
    AVRational rate = stream->avg_frame_rate.num > 0 && stream->avg_frame_rate.den > 0
                          ? stream->avg_frame_rate : stream->r_frame_rate;
    if (aspect.num <= 0 || aspect.den <= 0)
        aspect = (AVRational){ 0, 1 };
    if (rate.num <= 0 || rate.den <= 0)
        rate = (AVRational){ 0, 1 };
    if (video) {
        info->width = codec->width;
        info->height = codec->height;
        info->fps_num = rate.num;
        info->fps_den = rate.den;
        info->video_delay = codec->video_delay;
        info->color_range = codec->color_range;
        info->color_primaries = codec->color_primaries;
        info->color_trc = codec->color_trc;
        info->color_space = codec->color_space;
        info->chroma_location = codec->chroma_location;
    } else if (codec->codec_type == AVMEDIA_TYPE_AUDIO) {
        info->sample_rate = codec->sample_rate;
        info->channels = codec->ch_layout.nb_channels;
        if (codec->ch_layout.order == AV_CHANNEL_ORDER_NATIVE)
            info->channel_layout = codec->ch_layout.u.mask;
        info->frame_size = codec->frame_size;
        info->initial_padding = codec->initial_padding;
        info->block_align = codec->block_align;
    }
    info->sar_num = video ? aspect.num : 0;
    info->sar_den = video ? aspect.den : 1;
    if (!video) {
        info->fps_num = 0;
        info->fps_den = 1;
    }
    info->bits_per_coded_sample = codec->bits_per_coded_sample;

    const AVDictionaryEntry *language = av_dict_get(stream->metadata, "language", NULL, 0);
    if (language && strcmp(language->value, "und") != 0)
        info->language = language->value;
}
