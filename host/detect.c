#include "detect.h"

#include <glib.h>
#include <string.h>

/* The host part of an http(s) URL, lower-cased, without a "www." or "m."
 * prefix; NULL for other schemes. */
static char *web_host(const char *url)
{
    const char *rest;
    if (g_ascii_strncasecmp(url, "https://", 8) == 0) rest = url + 8;
    else if (g_ascii_strncasecmp(url, "http://", 7) == 0) rest = url + 7;
    else return NULL;
    size_t length = strcspn(rest, "/?#");
    char *host = g_ascii_strdown(rest, (gssize)length);
    char *at = strrchr(host, '@');
    if (at) memmove(host, at + 1, strlen(at + 1) + 1);
    char *colon = strchr(host, ':');
    if (colon) *colon = '\0';
    const char *prefixes[] = {"www.", "m.", "music."};
    for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++)
        if (g_str_has_prefix(host, prefixes[i])) memmove(host, host + strlen(prefixes[i]), strlen(host) - strlen(prefixes[i]) + 1);
    return host;
}

static bool host_is(const char *host, const char *domain)
{
    if (strcmp(host, domain) == 0) return true;
    size_t host_length = strlen(host), domain_length = strlen(domain);
    return host_length > domain_length && host[host_length - domain_length - 1] == '.' &&
           strcmp(host + host_length - domain_length, domain) == 0;
}

static bool path_ends_with(const char *url, const char *suffix)
{
    size_t length = strcspn(url, "?#");
    size_t suffix_length = strlen(suffix);
    return length >= suffix_length && g_ascii_strncasecmp(url + length - suffix_length, suffix, suffix_length) == 0;
}

sc_stream_kind sc_detect_stream_kind(const char *url)
{
    if (g_ascii_strncasecmp(url, "rtmp://", 7) == 0 || g_ascii_strncasecmp(url, "rtmps://", 8) == 0)
        return (sc_stream_kind){"RTMP_FLV", "rtmp", false};
    char *host = web_host(url);
    sc_stream_kind kind = {"FILE", "avformat", false};
    if (host) {
        bool playlist = path_ends_with(url, ".m3u8");
        if (host_is(host, "youtube.com") || host_is(host, "youtu.be"))
            kind = (sc_stream_kind){"YOUTUBE_HLS", "hls", !playlist};
        else if (host_is(host, "twitch.tv"))
            kind = (sc_stream_kind){"TWITCH_HLS", "hls", !playlist};
        else if (playlist)
            kind = (sc_stream_kind){"HLS", "hls", false};
        g_free(host);
    } else if (path_ends_with(url, ".m3u8")) {
        kind = (sc_stream_kind){"HLS", "hls", false};
    }
    return kind;
}
