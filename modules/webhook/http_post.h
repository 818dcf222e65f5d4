/* One HTTP POST at a time through libsoup, for a sink's worker threads.
 *
 * The poster owns a private GMainContext: its SoupSession is created with
 * that context as the thread-default, and every POST runs libsoup's
 * asynchronous API on it, iterated by the calling thread until the answer
 * is read or the deadline cancels it. Nothing is attached to the host's
 * (global-default) context, and a blocked receiver can never hold a
 * worker past the deadline. libsoup >= 3.2 allows messages to be sent
 * from threads other than the session's; calls must not overlap (a sink
 * is served by one worker at a time).
 */
#ifndef STREAMCUT_WEBHOOK_HTTP_POST_H
#define STREAMCUT_WEBHOOK_HTTP_POST_H

#include <glib.h>
#include <stdint.h>

typedef struct http_header {
    char *name;
    char *value;
} http_header;

typedef struct http_poster_config {
    const char *url;            /* http(s), without credentials */
    const char *authorization;  /* Authorization value or NULL; never sent to another origin */
    const http_header *headers; /* sent with every request */
    size_t header_count;
    const char *user_agent;
    const char *ca_file;        /* PEM certificate authorities, or NULL for the system's */
    int64_t timeout_ns;         /* deadline of one post, redirects and answer included */
} http_poster_config;

typedef enum post_outcome {
    POST_DELIVERED, /* 2xx, or 303 (the receiver took it and points elsewhere) */
    POST_RETRYABLE, /* connection error, timeout, 408, 429, 5xx */
    POST_REJECTED,  /* any other 4xx: the receiver refuses this body */
    POST_FAILED     /* retrying cannot help: certificate, redirect refused, odd status */
} post_outcome;

typedef struct post_result {
    post_outcome outcome;
    unsigned status;        /* the last HTTP status, 0 when none came */
    int64_t retry_after_ns; /* the receiver's Retry-After, or -1 */
    int64_t elapsed_ns;
    char detail[320];       /* what happened, printable, for messages */
} post_result;

/* The redirects one post follows, at most, and only to the same scheme. */
#define HTTP_POST_MAX_REDIRECTS 3

typedef struct http_poster http_poster;

/* NULL with *error (g_free it) when the configuration cannot work. */
http_poster *http_poster_new(const http_poster_config *config, char **error);
/* POSTs `body` as application/json with the configured headers and
 * `extra` (per request); fills *result. */
void http_poster_post(http_poster *poster, GBytes *body, const http_header *extra, size_t extra_count,
                      post_result *result);
/* On the thread that called http_poster_new. */
void http_poster_free(http_poster *poster);

#endif
