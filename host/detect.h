/* Stream type detection from a URL, as the original design's adapters do:
 * youtube.com / youtu.be -> YOUTUBE_HLS, twitch.tv -> TWITCH_HLS,
 * rtmp:// and rtmps:// -> RTMP_FLV, a path ending in .m3u8 -> HLS,
 * anything else libavformat may open -> FILE. `module = auto` uses it to
 * pick the source module; `streamcut probe URL` prints it. */
#ifndef SC_HOST_DETECT_H
#define SC_HOST_DETECT_H

#include <stdbool.h>

typedef struct sc_stream_kind {
    const char *type;        /* "YOUTUBE_HLS", "TWITCH_HLS", "RTMP_FLV", "HLS", "FILE" */
    const char *module;      /* the source module that reads it */
    bool needs_resolver;     /* a page URL: a resolver command must turn it into a stream URL */
} sc_stream_kind;

sc_stream_kind sc_detect_stream_kind(const char *url);

#endif
