/* One HTTP POST at a time through libsoup on a private main context; see
 * http_post.h for the threading rules. Redirects are followed here rather
 * than by libsoup so that the body and method stay (libsoup turns a
 * redirected POST into a GET), the scheme cannot change, the number of
 * hops is small, and credentials never reach another origin.
 */
#include "http_post.h"
#include "../common/soup_wait.h"

#include <libsoup/soup.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Of an answer's body only this much is read: a webhook's answer is small,
 * and one that streams more costs the connection, not memory. */
#define ANSWER_READ_MAX (64 * 1024)
#define ANSWER_CHUNK 8192
/* The start of an answer kept to explain a refusal. */
#define ANSWER_SHOWN_MAX 160
/* A Retry-After beyond a day is not believed. */
#define RETRY_AFTER_MAX_SECONDS 86400

struct http_poster {
    GMainContext *context;
    SoupSession *session;
    GUri *url;
    GTlsDatabase *authorities; /* https: whom certificates must chain to */
    char *authorization;
    http_header *headers;
    size_t header_count;
    int64_t timeout_ns;
};

/* One post: the deadline cancels everything still running in it. */
typedef struct post_attempt {
    http_poster *poster;
    GCancellable *cancellable;
    bool timed_out;
    char certificate_problem[128]; /* set when the re-check refused the server */
} post_attempt;

/* ---- waiting for libsoup's callbacks on the private context ---- */

static void wait_for(post_attempt *attempt, GAsyncResult *const *slot)
{
    sc_soup_wait_for(attempt->poster->context, slot);
}

static gboolean deadline_passed(gpointer data)
{
    post_attempt *attempt = data;
    attempt->timed_out = true;
    g_cancellable_cancel(attempt->cancellable);
    return G_SOURCE_REMOVE;
}

/* ---- small helpers ---- */

/* Receivers' words go into our log: printable ASCII only, on one line. */
static void append_printable(char *out, size_t size, const char *text, size_t length)
{
    size_t used = strlen(out);
    for (size_t i = 0; i < length && used + 1 < size; i++) {
        unsigned char c = (unsigned char)text[i];
        out[used++] = (c >= 0x20 && c < 0x7f) ? (char)c : (c == '\n' || c == '\r' || c == '\t') ? ' ' : '?';
    }
    out[used] = '\0';
}

static int effective_port(GUri *uri)
{
    int port = g_uri_get_port(uri);
    if (port > 0)
        return port;
    return g_ascii_strcasecmp(g_uri_get_scheme(uri), "https") == 0 ? 443 : 80;
}

static bool same_origin(GUri *a, GUri *b)
{
    return g_ascii_strcasecmp(g_uri_get_scheme(a), g_uri_get_scheme(b)) == 0 &&
           g_ascii_strcasecmp(g_uri_get_host(a), g_uri_get_host(b)) == 0 && effective_port(a) == effective_port(b);
}

/* Delta-seconds or an HTTP date; -1 when absent or unreadable. */
static int64_t parse_retry_after(const char *value)
{
    if (value == NULL)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (g_ascii_isdigit(*value)) {
        guint64 seconds = 0;
        const char *end = value;
        while (g_ascii_isdigit(*end) && seconds <= RETRY_AFTER_MAX_SECONDS)
            seconds = seconds * 10 + (guint64)(*end++ - '0');
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end != '\0' && !g_ascii_isdigit(*end))
            return -1;
        return (int64_t)MIN(seconds, (guint64)RETRY_AFTER_MAX_SECONDS) * G_GINT64_CONSTANT(1000000000);
    }
    GDateTime *when = soup_date_time_new_from_http_string(value);
    if (when == NULL)
        return -1;
    GDateTime *now = g_date_time_new_now_utc();
    GTimeSpan wait_us = g_date_time_difference(when, now);
    g_date_time_unref(now);
    g_date_time_unref(when);
    wait_us = CLAMP(wait_us, 0, (GTimeSpan)RETRY_AFTER_MAX_SECONDS * G_TIME_SPAN_SECOND);
    return (int64_t)wait_us * 1000;
}

static bool is_followed_redirect(unsigned status)
{
    return status == 301 || status == 302 || status == 307 || status == 308;
}

static void set_outcome(post_result *result, post_outcome outcome, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void set_outcome(post_result *result, post_outcome outcome, const char *fmt, ...)
{
    result->outcome = outcome;
    va_list args;
    va_start(args, fmt);
    g_vsnprintf(result->detail, sizeof(result->detail), fmt, args);
    va_end(args);
}

/* ---- certificates ---- */

/* GLib's TLS backend resumes a session another connection to the same
 * address validated, whatever database that one trusted: a sink with the
 * system's authorities could ride on a session another sink accepted with
 * its own tls_ca_file. So every new TLS connection's certificate is
 * checked again here, against this poster's authorities and host name. */
static void check_new_tls_connection(SoupMessage *message, GSocketClientEvent event, GIOStream *connection,
                                     gpointer data)
{
    post_attempt *attempt = data;
    if (event != G_SOCKET_CLIENT_TLS_HANDSHAKED || !G_IS_TLS_CONNECTION(connection))
        return;
    GTlsCertificate *certificate = g_tls_connection_get_peer_certificate(G_TLS_CONNECTION(connection));
    GUri *uri = soup_message_get_uri(message);
    GSocketConnectable *identity = g_network_address_new(g_uri_get_host(uri), (guint16)effective_port(uri));
    GError *error = NULL;
    GTlsCertificateFlags problems =
        certificate == NULL ? G_TLS_CERTIFICATE_GENERIC_ERROR
                            : g_tls_database_verify_chain(attempt->poster->authorities, certificate,
                                                          G_TLS_DATABASE_PURPOSE_AUTHENTICATE_SERVER, identity, NULL,
                                                          G_TLS_DATABASE_VERIFY_NONE, NULL, &error);
    g_object_unref(identity);
    if (problems != 0 || error != NULL) {
        if (error != NULL)
            g_snprintf(attempt->certificate_problem, sizeof(attempt->certificate_problem),
                       "the server's certificate could not be checked: %s", error->message);
        else
            g_snprintf(attempt->certificate_problem, sizeof(attempt->certificate_problem),
                       "the server's certificate is %s", sc_tls_problem_name(problems));
        g_cancellable_cancel(attempt->cancellable);
    }
    g_clear_error(&error);
}

/* ---- one request ---- */

/* Reads the answer's body (up to ANSWER_READ_MAX), keeping its start in
 * `shown`, then closes the stream. An answer cut short by the cap drops
 * the connection rather than the worker's time. */
static void read_answer(post_attempt *attempt, GInputStream *stream, char *shown, size_t shown_size)
{
    size_t total = 0;
    shown[0] = '\0';
    while (total < ANSWER_READ_MAX) {
        GAsyncResult *done = NULL;
        g_input_stream_read_bytes_async(stream, ANSWER_CHUNK, G_PRIORITY_DEFAULT, attempt->cancellable,
                                        sc_soup_keep_result, &done);
        wait_for(attempt, &done);
        GBytes *chunk = g_input_stream_read_bytes_finish(stream, done, NULL);
        g_object_unref(done);
        if (chunk == NULL)
            break;
        gsize size = 0;
        const char *data = g_bytes_get_data(chunk, &size);
        if (size == 0) {
            g_bytes_unref(chunk);
            break;
        }
        size_t room = strlen(shown);
        if (room + 1 < shown_size)
            append_printable(shown, shown_size, data, MIN(size, shown_size - 1 - room));
        total += size;
        g_bytes_unref(chunk);
    }
    if (total >= ANSWER_READ_MAX)
        g_cancellable_cancel(attempt->cancellable);
    GAsyncResult *closed = NULL;
    g_input_stream_close_async(stream, G_PRIORITY_DEFAULT, attempt->cancellable, sc_soup_keep_result, &closed);
    wait_for(attempt, &closed);
    g_input_stream_close_finish(stream, closed, NULL);
    g_object_unref(closed);
}

static SoupMessage *new_request(post_attempt *attempt, GUri *uri, GBytes *body, const http_header *extra,
                                size_t extra_count)
{
    http_poster *poster = attempt->poster;
    SoupMessage *message = soup_message_new_from_uri(SOUP_METHOD_POST, uri);
    if (poster->authorities != NULL)
        g_signal_connect(message, "network-event", G_CALLBACK(check_new_tls_connection), attempt);
    /* The Idempotency-Key makes a repeat harmless, which lets libsoup reuse
     * a kept-alive connection for a POST instead of opening one each time. */
    soup_message_add_flags(message, SOUP_MESSAGE_NO_REDIRECT | SOUP_MESSAGE_IDEMPOTENT);
    soup_message_set_request_body_from_bytes(message, "application/json", body);
    SoupMessageHeaders *headers = soup_message_get_request_headers(message);
    for (size_t i = 0; i < poster->header_count; i++)
        soup_message_headers_append(headers, poster->headers[i].name, poster->headers[i].value);
    for (size_t i = 0; i < extra_count; i++)
        soup_message_headers_replace(headers, extra[i].name, extra[i].value);
    if (poster->authorization != NULL && same_origin(uri, poster->url))
        soup_message_headers_replace(headers, "Authorization", poster->authorization);
    return message;
}

/* The next URL of a redirect, or NULL with the reason in *result. */
static GUri *redirect_target(http_poster *poster, GUri *from, SoupMessage *message, unsigned hops,
                             post_result *result)
{
    unsigned status = soup_message_get_status(message);
    const char *location = soup_message_headers_get_one(soup_message_get_response_headers(message), "Location");
    if (location == NULL) {
        set_outcome(result, POST_FAILED, "HTTP %u redirect without a Location", status);
        return NULL;
    }
    if (hops >= HTTP_POST_MAX_REDIRECTS) {
        set_outcome(result, POST_FAILED, "more than %d redirects", HTTP_POST_MAX_REDIRECTS);
        return NULL;
    }
    GUri *next = g_uri_parse_relative(from, location, G_URI_FLAGS_ENCODED, NULL);
    if (next == NULL || g_uri_get_host(next) == NULL || g_uri_get_host(next)[0] == '\0') {
        set_outcome(result, POST_FAILED, "HTTP %u redirect to an invalid URL", status);
    } else if (g_ascii_strcasecmp(g_uri_get_scheme(next), g_uri_get_scheme(poster->url)) != 0) {
        set_outcome(result, POST_FAILED, "HTTP %u redirect from %s to %s refused (only the same scheme is followed)",
                    status, g_uri_get_scheme(poster->url), g_uri_get_scheme(next));
    } else if (g_uri_get_userinfo(next) != NULL) {
        set_outcome(result, POST_FAILED, "HTTP %u redirect to a URL with credentials refused", status);
    } else {
        return next;
    }
    if (next != NULL)
        g_uri_unref(next);
    return NULL;
}

static void classify_status(SoupMessage *message, const char *answer, post_result *result)
{
    unsigned status = soup_message_get_status(message);
    char reason[64] = "";
    const char *phrase = soup_message_get_reason_phrase(message);
    if (phrase != NULL)
        append_printable(reason, sizeof(reason), phrase, strlen(phrase));
    post_outcome outcome;
    if ((status >= 200 && status < 300) || status == 303)
        outcome = POST_DELIVERED;
    else if (status == 408 || status == 429 || (status >= 500 && status < 600))
        outcome = POST_RETRYABLE;
    else if (status >= 400 && status < 500)
        outcome = POST_REJECTED;
    else
        outcome = POST_FAILED;
    set_outcome(result, outcome, "HTTP %u%s%s%s%s", status, reason[0] ? " " : "", reason, answer[0] ? ": " : "",
                answer);
    if (outcome == POST_RETRYABLE)
        result->retry_after_ns =
            parse_retry_after(soup_message_headers_get_one(soup_message_get_response_headers(message), "Retry-After"));
}

static void classify_error(post_attempt *attempt, const GError *error, post_result *result)
{
    if (attempt->certificate_problem[0] != '\0') {
        set_outcome(result, POST_FAILED, "TLS: %s", attempt->certificate_problem);
    } else if (attempt->timed_out) {
        set_outcome(result, POST_RETRYABLE, "no answer within %.3g s", attempt->poster->timeout_ns / 1e9);
    } else if (g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE) ||
               g_error_matches(error, G_TLS_ERROR, G_TLS_ERROR_CERTIFICATE_REQUIRED)) {
        /* A certificate does not fix itself between retries. */
        set_outcome(result, POST_FAILED, "TLS: %s", error->message);
    } else {
        set_outcome(result, POST_RETRYABLE, "%s", error != NULL ? error->message : "request failed");
    }
}

/* Sends `message` and reads its answer; returns the redirect's target to
 * follow next, or NULL once *result says how the post ended. */
static GUri *send_message(post_attempt *attempt, SoupMessage *message, GUri *uri, unsigned hops,
                          post_result *result)
{
    http_poster *poster = attempt->poster;
    GAsyncResult *sent = NULL;
    soup_session_send_async(poster->session, message, G_PRIORITY_DEFAULT, attempt->cancellable, sc_soup_keep_result,
                            &sent);
    wait_for(attempt, &sent);
    GError *error = NULL;
    GInputStream *stream = soup_session_send_finish(poster->session, sent, &error);
    g_object_unref(sent);
    if (stream == NULL) {
        classify_error(attempt, error, result);
        g_clear_error(&error);
        return NULL;
    }
    char answer[ANSWER_SHOWN_MAX + 1];
    read_answer(attempt, stream, answer, sizeof(answer));
    g_object_unref(stream);
    result->status = soup_message_get_status(message);
    if (attempt->timed_out || attempt->certificate_problem[0] != '\0') {
        classify_error(attempt, NULL, result);
        return NULL;
    }
    if (is_followed_redirect(result->status))
        return redirect_target(poster, uri, message, hops, result);
    classify_status(message, answer, result);
    return NULL;
}

static void post_following_redirects(post_attempt *attempt, GBytes *body, const http_header *extra,
                                     size_t extra_count, post_result *result)
{
    GUri *uri = g_uri_ref(attempt->poster->url);
    for (unsigned hops = 0;; hops++) {
        SoupMessage *message = new_request(attempt, uri, body, extra, extra_count);
        GUri *next = send_message(attempt, message, uri, hops, result);
        /* The certificate check points at this attempt, which ends soon. */
        g_signal_handlers_disconnect_by_data(message, attempt);
        g_object_unref(message);
        if (next == NULL)
            break;
        g_uri_unref(uri);
        uri = next;
    }
    g_uri_unref(uri);
}

void http_poster_post(http_poster *poster, GBytes *body, const http_header *extra, size_t extra_count,
                      post_result *result)
{
    memset(result, 0, sizeof(*result));
    result->retry_after_ns = -1;
    int64_t started = g_get_monotonic_time();
    g_main_context_push_thread_default(poster->context);

    post_attempt attempt = { .poster = poster, .cancellable = g_cancellable_new() };
    GSource *deadline = g_timeout_source_new((guint)MAX(1, poster->timeout_ns / 1000000));
    g_source_set_callback(deadline, deadline_passed, &attempt, NULL);
    g_source_attach(deadline, poster->context);

    post_following_redirects(&attempt, body, extra, extra_count, result);

    g_source_destroy(deadline);
    g_source_unref(deadline);
    /* Let libsoup finish with the message (connection state, queue) while
     * its context is still ours on this thread. */
    sc_soup_settle(poster->context);
    g_object_unref(attempt.cancellable);
    g_main_context_pop_thread_default(poster->context);
    result->elapsed_ns = (g_get_monotonic_time() - started) * 1000;
}

/* ---- lifecycle ---- */

void http_poster_free(http_poster *poster)
{
    if (poster == NULL)
        return;
    if (poster->session != NULL) {
        g_main_context_push_thread_default(poster->context);
        soup_session_abort(poster->session);
        g_object_unref(poster->session);
        sc_soup_settle(poster->context);
        g_main_context_pop_thread_default(poster->context);
    }
    if (poster->context != NULL)
        g_main_context_unref(poster->context);
    if (poster->url != NULL)
        g_uri_unref(poster->url);
    g_clear_object(&poster->authorities);
    for (size_t i = 0; i < poster->header_count; i++) {
        g_free(poster->headers[i].name);
        g_free(poster->headers[i].value);
    }
    g_free(poster->headers);
    g_free(poster->authorization);
    g_free(poster);
}

http_poster *http_poster_new(const http_poster_config *config, char **error)
{
    *error = NULL;
    http_poster *poster = g_new0(http_poster, 1);
    poster->timeout_ns = config->timeout_ns;
    poster->authorization = g_strdup(config->authorization);
    poster->headers = g_new0(http_header, config->header_count + 1);
    for (size_t i = 0; i < config->header_count; i++) {
        poster->headers[i].name = g_strdup(config->headers[i].name);
        poster->headers[i].value = g_strdup(config->headers[i].value);
        poster->header_count++;
    }
    poster->url = g_uri_parse(config->url, G_URI_FLAGS_ENCODED, NULL);
    if (poster->url == NULL) {
        *error = g_strdup("url: not a valid URL");
        http_poster_free(poster);
        return NULL;
    }
    bool https = g_ascii_strcasecmp(g_uri_get_scheme(poster->url), "https") == 0;
    if ((https || config->ca_file != NULL) && !g_tls_backend_supports_tls(g_tls_backend_get_default())) {
        *error = g_strdup("https needs GLib's TLS support: install the Debian package glib-networking");
        http_poster_free(poster);
        return NULL;
    }

    poster->context = g_main_context_new();
    g_main_context_push_thread_default(poster->context);
    poster->session = soup_session_new_with_options("user-agent", config->user_agent, NULL);
    if (config->ca_file != NULL) {
        GError *failure = NULL;
        /* GLib takes absolute paths only; relative ones are the working
         * folder's, as for every other path a pipeline names. */
        char *absolute = g_canonicalize_filename(config->ca_file, NULL);
        GTlsDatabase *authorities = g_tls_file_database_new(absolute, &failure);
        g_free(absolute);
        if (authorities == NULL) {
            *error = g_strdup_printf("tls_ca_file = %s: %s", config->ca_file, failure->message);
            g_error_free(failure);
        } else {
            g_object_set(poster->session, "tls-database", authorities, NULL);
            poster->authorities = authorities;
        }
    } else if (https) {
        poster->authorities = g_tls_backend_get_default_database(g_tls_backend_get_default());
    }
    g_main_context_pop_thread_default(poster->context);
    if (*error != NULL) {
        http_poster_free(poster);
        return NULL;
    }
    return poster;
}
