#include "av_codec.h"

#include <libavutil/channel_layout.h>
#include <libavutil/pixdesc.h>
#include <libavutil/samplefmt.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static enum AVMediaType media_type_to_av(uint32_t media_type)
{
    switch (media_type) {
    case SC_MEDIA_VIDEO: return AVMEDIA_TYPE_VIDEO;
    case SC_MEDIA_AUDIO: return AVMEDIA_TYPE_AUDIO;
    case SC_MEDIA_DATA: return AVMEDIA_TYPE_DATA;
    case SC_MEDIA_SUBTITLE: return AVMEDIA_TYPE_SUBTITLE;
    default: return AVMEDIA_TYPE_UNKNOWN;
    }
}

/* Enum-valued fields come from another process's idea of FFmpeg; out-of-range
 * values would make muxers write garbage, so they become "unspecified". */
static int enum_or(int32_t value, int count, int fallback)
{
    return value >= 0 && value < count ? value : fallback;
}

static int copy_extradata(AVCodecParameters *par, const sc_stream_info *info)
{
    if (info->extradata == NULL || info->extradata_size == 0 ||
        info->extradata_size > INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
        return 0;
    par->extradata = av_mallocz(info->extradata_size + AV_INPUT_BUFFER_PADDING_SIZE);
    if (par->extradata == NULL)
        return AVERROR(ENOMEM);
    memcpy(par->extradata, info->extradata, info->extradata_size);
    par->extradata_size = (int)info->extradata_size;
    return 0;
}

static void fill_video_parameters(AVCodecParameters *par, const sc_stream_info *info)
{
    par->width = info->width > 0 ? info->width : 0;
    par->height = info->height > 0 ? info->height : 0;
    if (info->format_name != NULL)
        par->format = av_get_pix_fmt(info->format_name);
    if (info->sar_num > 0 && info->sar_den > 0)
        par->sample_aspect_ratio = (AVRational){ info->sar_num, info->sar_den };
    par->video_delay = info->video_delay > 0 ? info->video_delay : 0;
    par->color_range = enum_or(info->color_range, AVCOL_RANGE_NB, AVCOL_RANGE_UNSPECIFIED);
    par->color_space = enum_or(info->color_space, AVCOL_SPC_NB, AVCOL_SPC_UNSPECIFIED);
    par->chroma_location = enum_or(info->chroma_location, AVCHROMA_LOC_NB,
                                   AVCHROMA_LOC_UNSPECIFIED);
    /* 0 is a reserved code for these two (unlike matrix 0, which is RGB). */
    par->color_primaries = info->color_primaries > 0
        ? enum_or(info->color_primaries, AVCOL_PRI_NB, AVCOL_PRI_UNSPECIFIED)
        : AVCOL_PRI_UNSPECIFIED;
    par->color_trc = info->color_trc > 0
        ? enum_or(info->color_trc, AVCOL_TRC_NB, AVCOL_TRC_UNSPECIFIED)
        : AVCOL_TRC_UNSPECIFIED;
}

static int fill_audio_parameters(AVCodecParameters *par, const sc_stream_info *info)
{
    if (info->format_name != NULL)
        par->format = av_get_sample_fmt(info->format_name);
    par->sample_rate = info->sample_rate > 0 ? info->sample_rate : 0;
    int mask_channels = info->channel_layout ? __builtin_popcountll(info->channel_layout) : 0;
    int status = 0;
    if (mask_channels > 0 && (info->channels <= 0 || info->channels == mask_channels))
        status = av_channel_layout_from_mask(&par->ch_layout, info->channel_layout);
    else if (info->channels > 0)
        av_channel_layout_default(&par->ch_layout, info->channels);
    par->frame_size = info->frame_size > 0 ? info->frame_size : 0;
    par->initial_padding = info->initial_padding > 0 ? info->initial_padding : 0;
    par->block_align = info->block_align > 0 ? info->block_align : 0;
    return status < 0 ? status : 0;
}

int sc_av_parameters_from_info(AVCodecParameters *par, const sc_stream_info *info)
{
    const AVCodecDescriptor *descriptor =
        info->codec_name ? avcodec_descriptor_get_by_name(info->codec_name) : NULL;
    if (descriptor == NULL)
        return AVERROR(EINVAL);
    /* The codec decides what it is; a contradicting declaration would only
     * make muxers and decoders reject the stream. */
    par->codec_type = descriptor->type != AVMEDIA_TYPE_UNKNOWN ? descriptor->type
                                                               : media_type_to_av(info->media_type);
    par->codec_id = descriptor->id;
    par->codec_tag = info->codec_tag;
    par->bit_rate = info->bit_rate > 0 ? info->bit_rate : 0;
    par->profile = info->profile;
    par->level = info->level;
    par->bits_per_coded_sample = info->bits_per_coded_sample > 0 ? info->bits_per_coded_sample : 0;

    int status = copy_extradata(par, info);
    if (status < 0)
        return status;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO)
        fill_video_parameters(par, info);
    else if (par->codec_type == AVMEDIA_TYPE_AUDIO)
        return fill_audio_parameters(par, info);
    return 0;
}

/* Codec names are FFmpeg's codec names, not decoder names: go through the
 * codec id so the preferred decoder wins (e.g. libdav1d for "av1"). */
static const AVCodec *find_decoder(const char *codec_name)
{
    const AVCodecDescriptor *descriptor = avcodec_descriptor_get_by_name(codec_name);
    const AVCodec *codec = descriptor ? avcodec_find_decoder(descriptor->id) : NULL;
    return codec ? codec : avcodec_find_decoder_by_name(codec_name);
}

int sc_av_decoder_alloc(const sc_stream_info *info, AVCodecContext **decoder)
{
    *decoder = NULL;
    const AVCodec *codec = info->codec_name ? find_decoder(info->codec_name) : NULL;
    if (codec == NULL)
        return AVERROR_DECODER_NOT_FOUND;
    AVCodecParameters *par = avcodec_parameters_alloc();
    AVCodecContext *context = par ? avcodec_alloc_context3(codec) : NULL;
    int status = context ? sc_av_parameters_from_info(par, info) : AVERROR(ENOMEM);
    if (status >= 0) {
        /* A decoder by name may serve a codec id of its own. */
        par->codec_id = codec->id;
        status = avcodec_parameters_to_context(context, par);
    }
    avcodec_parameters_free(&par);
    if (status < 0) {
        avcodec_free_context(&context);
        return status;
    }
    context->coded_width = context->width;
    context->coded_height = context->height;
    if (info->fps_num > 0 && info->fps_den > 0)
        context->framerate = (AVRational){ info->fps_num, info->fps_den };
    /* Packets carry nanoseconds on the source timeline, so frames do too. */
    context->pkt_timebase = (AVRational){ 1, (int)SC_NSEC_PER_SEC };
    *decoder = context;
    return 0;
}

/* What an AVPacket's buffer holds on to while the decoder keeps the payload. */
typedef struct borrowed_packet {
    const sc_host_api *host;
    const sc_packet *packet;
} borrowed_packet;

static void release_borrowed_packet(void *opaque, uint8_t *data)
{
    (void)data;
    borrowed_packet *borrowed = opaque;
    borrowed->host->packet_unref(borrowed->packet);
    free(borrowed);
}

/* The host's payloads carry the padding FFmpeg's decoders need
 * (SC_PACKET_PADDING >= AV_INPUT_BUFFER_PADDING_SIZE), so none is copied. */
int sc_av_packet_borrow(const sc_host_api *host, const sc_packet *packet, AVPacket *out)
{
    if (packet->data == NULL || packet->size == 0 ||
        packet->size > INT_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
        return SC_ERR_INVALID;
    borrowed_packet *borrowed = malloc(sizeof(*borrowed));
    if (!borrowed)
        return SC_ERR_NOMEM;
    borrowed->host = host;
    borrowed->packet = host->packet_ref(packet);
    out->buf = av_buffer_create((uint8_t *)(uintptr_t)packet->data, packet->size,
                                release_borrowed_packet, borrowed, AV_BUFFER_FLAG_READONLY);
    if (!out->buf) {
        release_borrowed_packet(borrowed, NULL);
        return SC_ERR_NOMEM;
    }
    out->data = out->buf->data;
    out->size = (int)packet->size;
    out->pts = packet->pts == SC_TIME_NONE ? AV_NOPTS_VALUE : packet->pts;
    out->dts = packet->dts == SC_TIME_NONE ? AV_NOPTS_VALUE : packet->dts;
    out->duration = packet->duration;
    out->flags = 0;
    if (packet->flags & SC_PACKET_KEY)
        out->flags |= AV_PKT_FLAG_KEY;
    if (packet->flags & SC_PACKET_CORRUPT)
        out->flags |= AV_PKT_FLAG_CORRUPT;
    return SC_OK;
}
