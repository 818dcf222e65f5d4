/* From the host's stream descriptions and packets to FFmpeg's: what the
 * modules that mux (clip) or decode (scene, thumbnail) a source's streams
 * share. Compiled into each of them; never exported. The reverse direction,
 * for sources, is av_stream_info.h. */
#ifndef SC_MODULES_AV_CODEC_H
#define SC_MODULES_AV_CODEC_H

#include <libavcodec/avcodec.h>
#include <streamcut/streamcut.h>

/** Fill `par` (as avcodec_parameters_alloc leaves it) from `info`: codec,
 * tag, extradata, and the picture or sound shape. Values out of FFmpeg's
 * ranges become "unknown". Returns 0, AVERROR(EINVAL) when FFmpeg does not
 * know the codec name, or AVERROR(ENOMEM). */
int sc_av_parameters_from_info(AVCodecParameters *par, const sc_stream_info *info);

/** A decoder for `info`, allocated and set up but not opened (callers add
 * their own speed settings, then avcodec_open2(*decoder, (*decoder)->codec,
 * NULL)). Its packets and frames carry the host's nanosecond timestamps.
 * Returns 0, AVERROR_DECODER_NOT_FOUND, AVERROR(EINVAL) or AVERROR(ENOMEM). */
int sc_av_decoder_alloc(const sc_stream_info *info, AVCodecContext **decoder);

/** Points `out` (blank) at the host packet's payload without copying it:
 * the AVPacket's buffer holds a reference to the packet (decoders with
 * frame threads keep payloads past avcodec_send_packet). Timestamps stay
 * in nanoseconds. Returns SC_OK or SC_ERR_NOMEM / SC_ERR_INVALID (no or
 * oversized payload). */
int sc_av_packet_borrow(const sc_host_api *host, const sc_packet *packet, AVPacket *out);

#endif
