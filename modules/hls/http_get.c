/* HTTP(S) GETs through one libsoup session on a private main context; see
 * http_get.h for the threading and connection rules.
 */
#include "http_get.h"
#include "url.h"
#include "../common/soup_wait.h"

#include <libsoup/soup.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define READ_CHUNK (64 * 1024)
/* Of a refusal's or a redirect's body only this much is read (and thrown
 * away) so that the connection stays usable; a longer one costs the
 * connection instead. */
#define DISCARDED_BODY_MAX (64 * 1024)
/* How often a running request looks at the stop flag, its deadline and
 * its idle time. */
#define WATCH_INTERVAL_MS 20

struct hls_http {
    GMainContext *context;
    SoupSession *session;
    SoupCookieJar *jar;
    hls_http_header *headers;
    size_t header_count;
    char *cookies;
    int max_redirects;
    /* libsoup numbers connections in the order it opens them: a message
     * on a number above every one seen so far opened a new connection. */
    guint64 newest_connection;
    uint8_t *chunk;
};

typedef enum call_end {
    CALL_RUNNING = 0,
    CALL_STOPPED,
    CALL_DEADLINE,
    CALL_IDLE
} call_end;

/* One hls_http_get: the watch ends it (cancels the running hop) when
 * told to stop, at its deadline, or after idle_timeout without data. */
typedef struct get_call {
    hls_http *http;
    const hls_http_request *request;
    GCancellable *hop;          /* the running hop's; a new one per hop */
    gint64 deadline_us;
    gint64 last_activity_us;
    call_end ended;
    GTlsCertificateFlags certificate_problems; /* of the certificate libsoup refused, if it did */
} get_call;

/* ---- waiting on the private context ---- */

static void wait_for(get_call *call, GAsyncResult *const *slot)
{
    sc_soup_wait_for(call->http->context, slot);
}

static gboolean watch_call(gpointer data)
{
    get_call *call = data;
    if (call->ended != CALL_RUNNING)
        return G_SOURCE_CONTINUE;
    gint64 now = g_get_monotonic_time();
    if (call->request->stop_check != NULL && call->request->stop_check(call->request->opaque))
        call->ended = CALL_STOPPED;
    else if (now >= call->deadline_us)
        call->ended = CALL_DEADLINE;
    else if (now - call->last_activity_us >= call->request->idle_timeout_ns / 1000)
        call->ended = CALL_IDLE;
    if (call->ended != CALL_RUNNING)
        g_cancellable_cancel(call->hop);
    return G_SOURCE_CONTINUE;
}

/* ---- results ---- */

static void set_result(hls_http_result *result, hls_http_outcome outcome, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void set_result(hls_http_result *result, hls_http_outcome outcome, const char *fmt, ...)
{
    result->outcome = outcome;
    va_list args;
    va_start(args, fmt);
    g_vsnprintf(result->detail, sizeof(result->detail), fmt, args);
    va_end(args);
}

static void seconds_text(int64_t ns, char *text, size_t size)
{
    /* No printf("%f"): the decimal separator would follow the locale. */
    snprintf(text, size, "%" PRId64 ".%03" PRId64, ns / 1000000000, (ns % 1000000000) / 1000000);
}

/* The outcome of a call the watch ended. */
static void set_ended(get_call *call, hls_http_result *result)
{
    char limit[40];
    switch (call->ended) {
    case CALL_STOPPED:
        set_result(result, HLS_HTTP_STOPPED, "stopped");
        break;
    case CALL_DEADLINE:
        seconds_text(call->request->timeout_ns, limit, sizeof(limit));
        set_result(result, HLS_HTTP_TIMEOUT, "no complete answer within %s s (request_timeout)", limit);
        break;
    case CALL_IDLE:
        seconds_text(call->request->idle_timeout_ns, limit, sizeof(limit));
        set_result(result, HLS_HTTP_TIMEOUT, "no connection or no data for %s s (rw_timeout)", limit);
        break;
    case CALL_RUNNING:
        break;
    }
}

/* Servers' words go into our log: printable ASCII only, on one line. */
static void printable_copy(char *out, size_t size, const char *text)
{
    size_t used = 0;
    for (; text != NULL && *text != '\0' && used + 1 < size; text++) {
        unsigned char c = (unsigned char)*text;
        out[used++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[used] = '\0';
}

static char *shown_uri(GUri *uri)
{
    char *text = g_uri_to_string(uri);
    char *shown = hls_url_redact(text);
    g_free(text);
    if (shown == NULL)
        return g_strdup("?");
    char *copy = g_strdup(shown);
    free(shown);
    return copy;
}

/* ---- one hop ---- */

static void close_stream(get_call *call, GInputStream *stream)
{
    GAsyncResult *closed = NULL;
    g_input_stream_close_async(stream, G_PRIORITY_DEFAULT, call->hop, sc_soup_keep_result, &closed);
    wait_for(call, &closed);
    g_input_stream_close_finish(stream, closed, NULL);
    g_object_unref(closed);
}

/* Gives up the rest of an answer: the connection is closed, not reused. */
static void abandon_stream(get_call *call, GInputStream *stream)
{
    g_cancellable_cancel(call->hop);
    close_stream(call, stream);
}

/* Reads a body nobody needs (a redirect's, a refusal's) so that the
 * connection can serve the next request; false when it stopped early. */
static bool discard_body(get_call *call, GInputStream *stream)
{
    size_t total = 0;
    while (total <= DISCARDED_BODY_MAX) {
        GAsyncResult *done = NULL;
        g_input_stream_read_async(stream, call->http->chunk, READ_CHUNK, G_PRIORITY_DEFAULT, call->hop,
                                  sc_soup_keep_result, &done);
        wait_for(call, &done);
        gssize got = g_input_stream_read_finish(stream, done, NULL);
        g_object_unref(done);
        if (got == 0) {
            close_stream(call, stream);
            return true;
        }
        if (got < 0)
            break;
        call->last_activity_us = g_get_monotonic_time();
        total += (size_t)got;
    }
    abandon_stream(call, stream);
    return false;
}

static bool is_followed_redirect(unsigned status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static bool fetchable_scheme(GUri *uri)
{
    const char *scheme = g_uri_get_scheme(uri);
    return g_ascii_strcasecmp(scheme, "http") == 0 || g_ascii_strcasecmp(scheme, "https") == 0;
}

/* Where a redirect leads, or NULL with the reason in *result. Every check
 * happens here, before anything connects to the new location. */
static GUri *redirect_target(get_call *call, SoupMessage *message, GUri *from, int hops, hls_http_result *result)
{
    unsigned status = soup_message_get_status(message);
    const char *location = soup_message_headers_get_one(soup_message_get_response_headers(message), "Location");
    GUri *next = location != NULL ? g_uri_parse_relative(from, location, SOUP_HTTP_URI_FLAGS, NULL) : NULL;
    char *from_shown = shown_uri(from);
    char *to_shown = next != NULL ? shown_uri(next) : NULL;
    char *to_text = next != NULL ? g_uri_to_string(next) : NULL;
    char why[160] = "";
    bool follow = false;
    if (next != NULL && !fetchable_scheme(next)) {
        set_result(result, HLS_HTTP_REDIRECT_BLOCKED, "redirect from '%s' to '%s' refused: only http(s) is followed",
                   from_shown, to_shown);
    } else if (next == NULL || g_uri_get_host(next) == NULL || g_uri_get_host(next)[0] == '\0') {
        char shown[120];
        printable_copy(shown, sizeof(shown), location != NULL ? location : "");
        if (location != NULL)
            set_result(result, HLS_HTTP_FAILED, "HTTP %u redirect from '%s' to an unusable location '%s'", status,
                       from_shown, shown);
        else
            set_result(result, HLS_HTTP_FAILED, "HTTP %u redirect from '%s' without a Location", status, from_shown);
    } else if (call->request->redirect_check != NULL &&
               !call->request->redirect_check(call->request->opaque, to_text, why, sizeof(why))) {
        set_result(result, HLS_HTTP_REDIRECT_BLOCKED, "redirect from '%s' to '%s' refused: %s", from_shown, to_shown,
                   why[0] ? why : "not allowed");
    } else if (hops >= call->http->max_redirects) {
        set_result(result, HLS_HTTP_REDIRECT_LIMIT, "redirect from '%s' to '%s' refused: more than %d redirect%s",
                   from_shown, to_shown, call->http->max_redirects, call->http->max_redirects == 1 ? "" : "s");
    } else {
        follow = true;
    }
    g_free(to_text);
    g_free(to_shown);
    g_free(from_shown);
    if (!follow && next != NULL) {
        g_uri_unref(next);
        next = NULL;
    }
    return next;
}

static void add_request_headers(hls_http *http, SoupMessage *message, GUri *uri, const hls_http_request *request)
{
    SoupMessageHeaders *headers = soup_message_get_request_headers(message);
    for (size_t i = 0; i < http->header_count; i++)
        soup_message_headers_append(headers, http->headers[i].name, http->headers[i].value);
    /* The jar is not a session feature: as one it would replace the
     * configured cookies with its own. */
    char *stored = soup_cookie_jar_get_cookies(http->jar, uri, TRUE);
    if (http->cookies != NULL && stored != NULL) {
        char *both = g_strdup_printf("%s; %s", http->cookies, stored);
        soup_message_headers_replace(headers, "Cookie", both);
        g_free(both);
    } else if (http->cookies != NULL || stored != NULL) {
        soup_message_headers_replace(headers, "Cookie", http->cookies != NULL ? http->cookies : stored);
    }
    g_free(stored);
    if (request->length > 0) {
        soup_message_headers_set_range(headers, request->offset, request->offset + request->length - 1);
        /* A compressed range would be a range of the compressed bytes. */
        soup_message_disable_feature(message, SOUP_TYPE_CONTENT_DECODER);
    }
}

static void keep_cookies(hls_http *http, SoupMessage *message, GUri *uri)
{
    GSList *cookies = soup_cookies_from_response(message);
    for (GSList *cookie = cookies; cookie != NULL; cookie = cookie->next)
        soup_cookie_jar_add_cookie_full(http->jar, cookie->data, uri, NULL); /* takes the cookie */
    g_slist_free(cookies);
}

/* Reads a 2xx body into the request's sink: the whole of it, or the
 * asked byte range (cut out here when the server sent everything). */
static void read_body(get_call *call, SoupMessage *message, GInputStream *stream, hls_http_result *result)
{
    const hls_http_request *request = call->request;
    SoupMessageHeaders *headers = soup_message_get_response_headers(message);
    unsigned status = soup_message_get_status(message);
    bool ranged = request->length > 0;
    uint64_t skip = 0;
    uint64_t wanted = ranged ? (uint64_t)request->length : UINT64_MAX;
    if (ranged && status == 206) {
        goffset start = 0, end = 0, total = 0;
        if (!soup_message_headers_get_content_range(headers, &start, &end, &total) || start != request->offset) {
            set_result(result, HLS_HTTP_FAILED, "asked for bytes from %" PRId64 ", the server sent %s",
                       request->offset, soup_message_headers_get_one(headers, "Content-Range") ? "others" : "no range");
            abandon_stream(call, stream);
            return;
        }
    } else if (ranged) {
        skip = (uint64_t)request->offset;
    }
    if (!ranged && soup_message_headers_get_encoding(headers) == SOUP_ENCODING_CONTENT_LENGTH &&
        soup_message_headers_get_one(headers, "Content-Encoding") == NULL &&
        (uint64_t)soup_message_headers_get_content_length(headers) > request->max_size) {
        set_result(result, HLS_HTTP_TOO_LARGE, "%" PRId64 " bytes announced, more than %zu",
                   (int64_t)soup_message_headers_get_content_length(headers), request->max_size);
        abandon_stream(call, stream);
        return;
    }
    size_t received = 0;
    for (;;) {
        GAsyncResult *done = NULL;
        g_input_stream_read_async(stream, call->http->chunk, READ_CHUNK, G_PRIORITY_DEFAULT, call->hop,
                                  sc_soup_keep_result, &done);
        wait_for(call, &done);
        GError *error = NULL;
        gssize got = g_input_stream_read_finish(stream, done, &error);
        g_object_unref(done);
        if (got < 0) {
            if (call->ended != CALL_RUNNING)
                set_ended(call, result);
            else
                set_result(result, HLS_HTTP_FAILED, "%s", error->message);
            g_error_free(error);
            abandon_stream(call, stream);
            return;
        }
        if (got == 0)
            break;
        call->last_activity_us = g_get_monotonic_time();
        const uint8_t *data = call->http->chunk;
        size_t count = (size_t)got;
        if (skip >= count) {
            skip -= count;
            continue;
        }
        data += skip;
        count -= (size_t)skip;
        skip = 0;
        if (count > wanted)
            count = (size_t)wanted;
        if (count > request->max_size - received) {
            set_result(result, HLS_HTTP_TOO_LARGE, "more than %zu bytes", request->max_size);
            abandon_stream(call, stream);
            return;
        }
        if (!request->body_sink(request->opaque, data, count)) {
            set_result(result, HLS_HTTP_NOMEM, "out of memory");
            abandon_stream(call, stream);
            return;
        }
        received += count;
        wanted -= count;
        if (ranged && wanted == 0 && status != 206) {
            /* The rest of a whole file we asked a range of. */
            abandon_stream(call, stream);
            result->outcome = HLS_HTTP_OK;
            return;
        }
    }
    close_stream(call, stream);
    if (ranged && wanted > 0) {
        set_result(result, HLS_HTTP_FAILED, "the answer ended after %zu of the %" PRId64 " bytes asked for", received,
                   request->length);
        return;
    }
    result->outcome = HLS_HTTP_OK;
}

/* libsoup asks only about certificates the system's authorities do not
 * vouch for: they are refused, and the reason kept for the message. */
static gboolean refuse_certificate(SoupMessage *message, GTlsCertificate *certificate, GTlsCertificateFlags problems,
                                   gpointer data)
{
    (void)message;
    (void)certificate;
    get_call *call = data;
    call->certificate_problems = problems;
    return FALSE;
}

static void describe_failure(get_call *call, const GError *error, GUri *uri, hls_http_result *result)
{
    if (call->ended != CALL_RUNNING)
        set_ended(call, result);
    else if (call->certificate_problems != 0)
        set_result(result, HLS_HTTP_FAILED, "TLS: the certificate of %s is %s", g_uri_get_host(uri),
                   sc_tls_problem_name(call->certificate_problems));
    else
        set_result(result, HLS_HTTP_FAILED, "%s", error != NULL ? error->message : "request failed");
}

/* Sends one request and reads its answer; returns the redirect's target
 * to follow next, or NULL once *result says how the call ended. */
static GUri *send_hop(get_call *call, GUri *uri, int hops, hls_http_result *result)
{
    hls_http *http = call->http;
    SoupMessage *message = soup_message_new_from_uri(SOUP_METHOD_GET, uri);
    soup_message_add_flags(message, SOUP_MESSAGE_NO_REDIRECT);
    g_signal_connect(message, "accept-certificate", G_CALLBACK(refuse_certificate), call);
    add_request_headers(http, message, uri, call->request);
    result->requests++;
    GAsyncResult *sent = NULL;
    soup_session_send_async(http->session, message, G_PRIORITY_DEFAULT, call->hop, sc_soup_keep_result, &sent);
    wait_for(call, &sent);
    GError *error = NULL;
    GInputStream *stream = soup_session_send_finish(http->session, sent, &error);
    g_object_unref(sent);
    /* The handler points at this call, which ends before libsoup may be
     * done with the message. */
    g_signal_handlers_disconnect_by_data(message, call);
    if (stream == NULL) {
        describe_failure(call, error, uri, result);
        g_clear_error(&error);
        g_object_unref(message);
        return NULL;
    }
    guint64 connection = soup_message_get_connection_id(message);
    if (connection > http->newest_connection) {
        http->newest_connection = connection;
        result->new_connections++;
    }
    call->last_activity_us = g_get_monotonic_time();
    keep_cookies(http, message, uri);
    unsigned status = soup_message_get_status(message);
    result->status = status;
    GUri *next = NULL;
    if (status >= 200 && status < 300) {
        read_body(call, message, stream, result);
    } else if (is_followed_redirect(status)) {
        next = redirect_target(call, message, uri, hops, result);
        if (!discard_body(call, stream) && call->ended != CALL_RUNNING) {
            set_ended(call, result);
            if (next != NULL)
                g_uri_unref(next);
            next = NULL;
        }
    } else {
        char reason[64];
        printable_copy(reason, sizeof(reason), soup_message_get_reason_phrase(message));
        set_result(result, HLS_HTTP_STATUS, "HTTP %u%s%s", status, reason[0] ? " " : "", reason);
        discard_body(call, stream);
    }
    g_object_unref(stream);
    g_object_unref(message);
    return next;
}

/* ---- the call ---- */

static void follow_redirects(get_call *call, GUri *uri, hls_http_result *result)
{
    for (int hops = 0;; hops++) {
        call->hop = g_cancellable_new();
        GUri *next = send_hop(call, uri, hops, result);
        g_clear_object(&call->hop);
        if (next == NULL)
            break;
        result->redirects++;
        g_uri_unref(uri);
        uri = next;
        if (call->ended != CALL_RUNNING) {
            set_ended(call, result);
            break;
        }
    }
    if (result->outcome == HLS_HTTP_OK)
        result->final_url = result->redirects == 0 ? g_strdup(call->request->url) : g_uri_to_string(uri);
    g_uri_unref(uri);
}

void hls_http_get(hls_http *http, const hls_http_request *request, hls_http_result *result)
{
    memset(result, 0, sizeof(*result));
    result->outcome = HLS_HTTP_FAILED;
    GError *error = NULL;
    GUri *uri = g_uri_parse(request->url, SOUP_HTTP_URI_FLAGS, &error);
    if (uri == NULL) {
        set_result(result, HLS_HTTP_FAILED, "not a usable URL: %s", error->message);
        g_error_free(error);
        return;
    }
    if (!fetchable_scheme(uri)) {
        set_result(result, HLS_HTTP_FAILED, "only http(s) URLs are fetched");
        g_uri_unref(uri);
        return;
    }
    g_main_context_push_thread_default(http->context);
    gint64 now = g_get_monotonic_time();
    get_call call = {
        .http = http,
        .request = request,
        .deadline_us = now + request->timeout_ns / 1000,
        .last_activity_us = now,
    };
    GSource *watch = g_timeout_source_new(WATCH_INTERVAL_MS);
    g_source_set_callback(watch, watch_call, &call, NULL);
    g_source_attach(watch, http->context);
    if (request->stop_check != NULL && request->stop_check(request->opaque)) {
        call.ended = CALL_STOPPED;
        set_ended(&call, result);
        g_uri_unref(uri);
    } else {
        follow_redirects(&call, uri, result);
    }
    g_source_destroy(watch);
    g_source_unref(watch);
    /* Let libsoup put the connection back in its pool while the context
     * is still ours on this thread. */
    sc_soup_settle(http->context);
    g_main_context_pop_thread_default(http->context);
}

void hls_http_result_clear(hls_http_result *result)
{
    g_free(result->final_url);
    result->final_url = NULL;
}

/* ---- lifecycle ---- */

void hls_http_free(hls_http *http)
{
    if (http == NULL)
        return;
    g_main_context_push_thread_default(http->context);
    soup_session_abort(http->session);
    g_object_unref(http->session);
    sc_soup_settle(http->context);
    g_main_context_pop_thread_default(http->context);
    g_main_context_unref(http->context);
    g_object_unref(http->jar);
    for (size_t i = 0; i < http->header_count; i++) {
        g_free(http->headers[i].name);
        g_free(http->headers[i].value);
    }
    g_free(http->headers);
    g_free(http->cookies);
    g_free(http->chunk);
    g_free(http);
}

hls_http *hls_http_new(const hls_http_config *config)
{
    hls_http *http = g_new0(hls_http, 1);
    http->max_redirects = config->max_redirects;
    http->headers = g_new0(hls_http_header, config->header_count + 1);
    for (size_t i = 0; i < config->header_count; i++) {
        http->headers[i].name = g_strdup(config->headers[i].name);
        http->headers[i].value = g_strdup(config->headers[i].value);
    }
    http->header_count = config->header_count;
    http->cookies = config->cookies != NULL && config->cookies[0] != '\0' ? g_strdup(config->cookies) : NULL;
    http->chunk = g_malloc(READ_CHUNK);
    http->jar = soup_cookie_jar_new();
    http->context = g_main_context_new();
    g_main_context_push_thread_default(http->context);
    /* Timeouts are ours (the watch): libsoup's own would only add a
     * second, coarser clock. */
    http->session = soup_session_new_with_options("user-agent", config->user_agent, "timeout", 0, NULL);
    g_main_context_pop_thread_default(http->context);
    return http;
}
