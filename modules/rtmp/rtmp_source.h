/* rtmp: the instance shared by the module entry (rtmp.c), the pull mode
 * (rtmp_pull.c, through FFmpeg) and the listen mode (rtmp_listen.c, our
 * own server). */
#ifndef STREAMCUT_RTMP_SOURCE_H
#define STREAMCUT_RTMP_SOURCE_H

#include <streamcut/streamcut.h>

#include "rtmp_address.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct rtmp_source {
    const sc_host_api *host;
    sc_ctx *ctx;
    atomic_bool stop_requested;
    /* stop() writes a byte here so the listen loop's poll wakes at once. */
    int wake_pipe[2];

    /* pull */
    int pulling;
    const char *rtmp_live;
    int64_t rw_timeout_ns;
    int64_t analyzeduration_ns;

    /* listen */
    struct sockaddr_storage listen_address;
    socklen_t listen_address_length;
    char listen_display[96];       /* "127.0.0.1:1935", for messages */
    const char *app;
    const char *key;               /* empty: any key */
    int64_t idle_timeout_ns;
    int64_t takeover_after_ns;
    int max_connections;
    int metadata_events;
    int data_events;
    int timecodes;
    int64_t timecode_offset_ns;
} rtmp_source;

int rtmp_stop_wanted(rtmp_source *source);

int rtmp_pull_run(rtmp_source *source);
int rtmp_listen_run(rtmp_source *source);

#endif
