/* Resolvers: turn a page URL (youtube.com/watch?v=..., twitch.tv/NAME)
 * into a stream URL by running a configured command such as
 * `yt-dlp -g {url}` or `streamlink --stream-url {url} best`. The command is
 * split into words once and run without a shell ({url} is substituted
 * inside words, never re-split), under a deadline after which its whole
 * process group is killed. Resolved URLs expire, so sources resolve again
 * at every (re)connection. */
#ifndef SC_HOST_RESOLVER_H
#define SC_HOST_RESOLVER_H

#include <stddef.h>
#include <stdint.h>

/** Runs `command` for `url`; on success copies the first non-empty line of
 * its output into `out` and returns its length; else a negative status and
 * *error (g_free) says why. */
int sc_resolve_url(const char *command, const char *url, int64_t timeout_ns, char *out, size_t length,
                   char **error);

#endif
