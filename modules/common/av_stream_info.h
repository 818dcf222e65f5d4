/* Describing an FFmpeg stream to the host: shared by the source modules
 * that demux with libavformat (compiled into each; never exported). */
#ifndef SC_MODULES_AV_STREAM_INFO_H
#define SC_MODULES_AV_STREAM_INFO_H

#include <libavformat/avformat.h>
#include <streamcut/streamcut.h>

/** The SDK media type of a stream's codec parameters. */
int sc_av_media_type(const AVCodecParameters *codec);
/** Fill `info` from `stream`. Strings and extradata point into `stream`:
 * the host copies them in source_add_stream. */
void sc_av_describe_stream(const AVStream *stream, sc_stream_info *info);

#endif
