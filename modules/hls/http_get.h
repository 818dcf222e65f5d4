/* HTTP(S) GETs for the hls source through one libsoup session, so that
 * consecutive requests to a host share a kept-alive connection.
 *
 * Threading: a getter belongs to the thread that created it (the source
 * thread). It owns a private GMainContext, pushed as thread-default only
 * while the getter works, and every request runs libsoup's asynchronous
 * API on it, iterated by the calling thread until the answer is read or a
 * deadline, an idle timeout or a stop request cancels it: no call blocks
 * without bound, whatever the server does.
 *
 * Connections are pooled by libsoup per scheme, host name and port: a
 * request never travels over a connection opened for another host, even
 * when two host names lead to the same address. Redirects are followed
 * here, not by libsoup, so the caller can refuse a new location before
 * anything connects to it.
 *
 * Cookies: the configured Cookie value goes with every request, followed
 * by the cookies servers set during the getter's life (a SoupCookieJar,
 * by host and path as RFC 6265 says).
 */
#ifndef HLS_HTTP_GET_H
#define HLS_HTTP_GET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hls_http_header {
    char *name;
    char *value;
} hls_http_header;

typedef struct hls_http_config {
    const char *user_agent;        /* required */
    const hls_http_header *headers; /* sent with every request */
    size_t header_count;
    const char *cookies;           /* a Cookie value for every request, or NULL */
    int max_redirects;
} hls_http_config;

typedef enum hls_http_outcome {
    HLS_HTTP_OK = 0,
    HLS_HTTP_STOPPED,
    HLS_HTTP_TIMEOUT,           /* the request's deadline or the idle timeout */
    HLS_HTTP_STATUS,            /* an answer other than 2xx (and followed 3xx): see `status` */
    HLS_HTTP_FAILED,            /* no usable answer: connection, TLS, protocol, odd range */
    HLS_HTTP_TOO_LARGE,
    HLS_HTTP_REDIRECT_BLOCKED,  /* the new location's scheme or host is not allowed */
    HLS_HTTP_REDIRECT_LIMIT,    /* more redirects than max_redirects */
    HLS_HTTP_NOMEM
} hls_http_outcome;

/* Asked before a redirect to the absolute URL `to` (http or https) is
 * followed; false refuses it, and `why` (printable) says why. */
typedef bool (*hls_http_redirect_check)(void *opaque, const char *to, char *why, size_t why_size);
/* Polled while a request runs; true cancels it. */
typedef bool (*hls_http_stop_check)(void *opaque);
/* Takes the next `size` bytes of the body; false when out of memory. */
typedef bool (*hls_http_body_sink)(void *opaque, const uint8_t *data, size_t size);

typedef struct hls_http_request {
    const char *url;
    int64_t offset;                /* with length > 0: only bytes [offset, offset + length) */
    int64_t length;
    size_t max_size;               /* larger bodies are refused */
    int64_t timeout_ns;            /* the whole request, redirects included */
    int64_t idle_timeout_ns;       /* longest wait for a connection or for more data */
    hls_http_redirect_check redirect_check;
    hls_http_stop_check stop_check;
    hls_http_body_sink body_sink;
    void *opaque;                  /* passed to the three callbacks */
} hls_http_request;

typedef struct hls_http_result {
    hls_http_outcome outcome;
    unsigned status;               /* the last HTTP status, 0 when none came */
    char *final_url;               /* the URL the body came from (g_free), NULL unless OK */
    int requests;                  /* requests sent, redirects included */
    int new_connections;           /* of them, how many opened a connection */
    int redirects;                 /* redirects followed */
    char detail[480];              /* what went wrong, printable, URLs redacted */
} hls_http_result;

typedef struct hls_http hls_http;

/* On the thread that will use it. */
hls_http *hls_http_new(const hls_http_config *config);
/* Downloads request->url into request->body_sink; fills *result (free
 * result->final_url with hls_http_result_clear). */
void hls_http_get(hls_http *http, const hls_http_request *request, hls_http_result *result);
void hls_http_result_clear(hls_http_result *result);
/* On the thread that created it: closes every connection. */
void hls_http_free(hls_http *http);

#endif
