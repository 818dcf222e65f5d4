/* The hls source's HTTP layer (modules/hls/http_get.c) against a small
 * HTTP/1.1 server on loopback that the test runs itself (POSIX sockets, a
 * thread per connection, so each answer is exactly what a case needs, and
 * every connection and request is logged): kept-alive connections reused
 * per host and never across host names, byte ranges (206, and a 200 the
 * client cuts), size caps (announced and streamed), the request deadline
 * against a trickling answer, the idle timeout against a silent server,
 * stop requests, redirects (chains against max_redirects, a refused host
 * that never sees a connection, a non-http location, no Location), error
 * statuses that keep the connection, cookies scoped to their host, and
 * credentials never shown in messages. */
#include <check.h>
#include <glib.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http_get.h"

#define MAX_CONNECTIONS 64
#define MAX_LOGGED 256
#define MS INT64_C(1000000)

/* ---- the test server ---- */

typedef struct logged_request {
    int connection;
    char host[128];
    char path[256];
} logged_request;

typedef struct test_server test_server;

typedef struct server_connection {
    test_server *server;
    int socket;
    int id;
    pthread_t thread;
} server_connection;

struct test_server {
    int listener;
    int port;
    pthread_t acceptor;
    pthread_mutex_t lock;
    server_connection connections[MAX_CONNECTIONS];
    int connection_count;
    logged_request log[MAX_LOGGED];
    int log_count;
    atomic_bool stopping;
};

static uint8_t pattern_byte(size_t i)
{
    return (uint8_t)(i * 7 + 3);
}

static bool send_all(int socket, const void *data, size_t size)
{
    const char *bytes = data;
    while (size > 0) {
        ssize_t sent = send(socket, bytes, size, MSG_NOSIGNAL);
        if (sent <= 0)
            return false;
        bytes += sent;
        size -= (size_t)sent;
    }
    return true;
}

static bool send_text(int socket, const char *text)
{
    return send_all(socket, text, strlen(text));
}

/* Header `name`'s value in a request head, or "" */
static void header_value(const char *head, const char *name, char *out, size_t size)
{
    out[0] = '\0';
    size_t length = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line != NULL; line = strstr(line + 2, "\r\n")) {
        const char *start = line + 2;
        if (strncasecmp(start, name, length) == 0 && start[length] == ':') {
            start += length + 1;
            while (*start == ' ')
                start++;
            size_t value_length = strcspn(start, "\r");
            if (value_length >= size)
                value_length = size - 1;
            memcpy(out, start, value_length);
            out[value_length] = '\0';
            return;
        }
    }
}

static bool send_pattern(int socket, size_t from, size_t count)
{
    uint8_t chunk[4096];
    while (count > 0) {
        size_t n = count < sizeof(chunk) ? count : sizeof(chunk);
        for (size_t i = 0; i < n; i++)
            chunk[i] = pattern_byte(from + i);
        if (!send_all(socket, chunk, n))
            return false;
        from += n;
        count -= n;
    }
    return true;
}

/* Waits for the client to close (or the server to stop). */
static bool wait_for_close(server_connection *connection)
{
    char byte;
    while (!atomic_load(&connection->server->stopping) && recv(connection->socket, &byte, 1, 0) > 0) {
    }
    return false;
}

static bool answer_redirect(int socket, const char *location)
{
    char head[1024];
    if (location != NULL)
        snprintf(head, sizeof(head), "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 5\r\n\r\nmoved", location);
    else
        snprintf(head, sizeof(head), "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n");
    return send_text(socket, head);
}

static bool answer_body(int socket, const char *status, const char *extra_headers, const char *body)
{
    char head[1024];
    snprintf(head, sizeof(head), "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\n\r\n", status, extra_headers, strlen(body));
    return send_text(socket, head) && send_text(socket, body);
}

/* Answers one request; false closes the connection. */
static bool answer(server_connection *connection, const char *head)
{
    int socket = connection->socket;
    char path[256] = "";
    if (sscanf(head, "GET %255s HTTP/1.1", path) != 1)
        return false;
    test_server *server = connection->server;
    pthread_mutex_lock(&server->lock);
    if (server->log_count < MAX_LOGGED) {
        logged_request *entry = &server->log[server->log_count++];
        entry->connection = connection->id;
        header_value(head, "Host", entry->host, sizeof(entry->host));
        snprintf(entry->path, sizeof(entry->path), "%s", path);
    }
    pthread_mutex_unlock(&server->lock);
    char text[512];
    size_t size = 0;
    if (sscanf(path, "/bytes/%zu", &size) == 1 || sscanf(path, "/whole/%zu", &size) == 1) {
        char range[128];
        header_value(head, "Range", range, sizeof(range));
        size_t first = 0, last = 0;
        if (strncmp(path, "/bytes/", 7) == 0 && sscanf(range, "bytes=%zu-%zu", &first, &last) == 2 && first < size) {
            if (last >= size)
                last = size - 1;
            snprintf(text, sizeof(text),
                     "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes %zu-%zu/%zu\r\nContent-Length: %zu\r\n\r\n",
                     first, last, size, last - first + 1);
            return send_text(socket, text) && send_pattern(socket, first, last - first + 1);
        }
        snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", size);
        return send_text(socket, text) && send_pattern(socket, 0, size);
    }
    if (sscanf(path, "/chunked/%zu", &size) == 1) {
        if (!send_text(socket, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
            return false;
        for (size_t sent = 0; sent < size; sent += 1000) {
            size_t n = size - sent < 1000 ? size - sent : 1000;
            snprintf(text, sizeof(text), "%zx\r\n", n);
            if (!send_text(socket, text) || !send_pattern(socket, sent, n) || !send_text(socket, "\r\n"))
                return false;
        }
        return send_text(socket, "0\r\n\r\n");
    }
    if (strcmp(path, "/trickle") == 0) {
        if (!send_text(socket, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"))
            return false;
        for (size_t i = 0; i < 100000 && !atomic_load(&server->stopping); i++) {
            if (!send_pattern(socket, i, 1))
                return false;
            g_usleep(20000);
        }
        return false;
    }
    if (strcmp(path, "/silent") == 0)
        return wait_for_close(connection);
    int hops = 0;
    if (sscanf(path, "/redirect/%d", &hops) == 1) {
        if (hops <= 1)
            return answer_redirect(socket, "/bytes/16");
        snprintf(text, sizeof(text), "/redirect/%d", hops - 1);
        return answer_redirect(socket, text);
    }
    if (strncmp(path, "/to?", 4) == 0)
        return answer_redirect(socket, path + 4);
    if (strcmp(path, "/nolocation") == 0)
        return answer_redirect(socket, NULL);
    if (strcmp(path, "/status/404") == 0)
        return answer_body(socket, "404 Not Found", "", "gone");
    if (strcmp(path, "/setcookie") == 0)
        return answer_body(socket, "200 OK", "Set-Cookie: a=1; Path=/\r\n", "ok");
    if (strcmp(path, "/echo-cookie") == 0) {
        char cookie[256];
        header_value(head, "Cookie", cookie, sizeof(cookie));
        return answer_body(socket, "200 OK", "", cookie);
    }
    return answer_body(socket, "404 Not Found", "", "unknown");
}

static void *serve_connection(void *data)
{
    server_connection *connection = data;
    char buffer[8192];
    size_t used = 0;
    for (;;) {
        char *end;
        while ((end = memmem(buffer, used, "\r\n\r\n", 4)) == NULL) {
            if (used == sizeof(buffer) - 1)
                return NULL;
            ssize_t got = recv(connection->socket, buffer + used, sizeof(buffer) - 1 - used, 0);
            if (got <= 0)
                return NULL;
            used += (size_t)got;
        }
        size_t length = (size_t)(end + 4 - buffer);
        char head[8192];
        memcpy(head, buffer, length);
        head[length] = '\0';
        memmove(buffer, buffer + length, used - length);
        used -= length;
        if (!answer(connection, head))
            return NULL;
    }
}

static void *accept_connections(void *data)
{
    test_server *server = data;
    for (;;) {
        int socket = accept(server->listener, NULL, NULL);
        if (socket < 0)
            return NULL;
        pthread_mutex_lock(&server->lock);
        if (atomic_load(&server->stopping) || server->connection_count == MAX_CONNECTIONS) {
            pthread_mutex_unlock(&server->lock);
            close(socket);
            continue;
        }
        server_connection *connection = &server->connections[server->connection_count];
        *connection = (server_connection){ .server = server, .socket = socket, .id = server->connection_count };
        pthread_create(&connection->thread, NULL, serve_connection, connection);
        server->connection_count++;
        pthread_mutex_unlock(&server->lock);
    }
}

static test_server *server_start(void)
{
    test_server *server = calloc(1, sizeof(*server));
    ck_assert_ptr_nonnull(server);
    pthread_mutex_init(&server->lock, NULL);
    server->listener = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(server->listener, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(bind(server->listener, (struct sockaddr *)&address, sizeof(address)), 0);
    ck_assert_int_eq(listen(server->listener, 16), 0);
    socklen_t length = sizeof(address);
    ck_assert_int_eq(getsockname(server->listener, (struct sockaddr *)&address, &length), 0);
    server->port = ntohs(address.sin_port);
    pthread_create(&server->acceptor, NULL, accept_connections, server);
    return server;
}

static int server_connections(test_server *server)
{
    pthread_mutex_lock(&server->lock);
    int count = server->connection_count;
    pthread_mutex_unlock(&server->lock);
    return count;
}

/* Every connection served one host only. */
static void assert_one_host_per_connection(test_server *server)
{
    pthread_mutex_lock(&server->lock);
    for (int i = 0; i < server->log_count; i++)
        for (int k = 0; k < i; k++)
            if (server->log[k].connection == server->log[i].connection)
                ck_assert_msg(strcmp(server->log[k].host, server->log[i].host) == 0,
                              "connection %d carried requests for %s and %s", server->log[i].connection,
                              server->log[k].host, server->log[i].host);
    pthread_mutex_unlock(&server->lock);
}

static void server_stop(test_server *server)
{
    atomic_store(&server->stopping, true);
    shutdown(server->listener, SHUT_RDWR);
    pthread_join(server->acceptor, NULL);
    close(server->listener);
    for (int i = 0; i < server->connection_count; i++) {
        shutdown(server->connections[i].socket, SHUT_RDWR);
        pthread_join(server->connections[i].thread, NULL);
        close(server->connections[i].socket);
    }
    pthread_mutex_destroy(&server->lock);
    free(server);
}

/* ---- the client side ---- */

typedef struct test_call {
    uint8_t *body;
    size_t size;
    gint64 stop_at_us;       /* 0: never */
    int refused_port;        /* redirects to this port are refused */
    int redirect_checks;
} test_call;

static bool collect(void *opaque, const uint8_t *data, size_t size)
{
    test_call *call = opaque;
    call->body = realloc(call->body, call->size + size + 1);
    memcpy(call->body + call->size, data, size);
    call->size += size;
    call->body[call->size] = '\0';
    return true;
}

static bool stop_check(void *opaque)
{
    test_call *call = opaque;
    return call->stop_at_us != 0 && g_get_monotonic_time() >= call->stop_at_us;
}

static bool redirect_check(void *opaque, const char *to, char *why, size_t why_size)
{
    test_call *call = opaque;
    call->redirect_checks++;
    char port[16];
    snprintf(port, sizeof(port), ":%d/", call->refused_port);
    if (call->refused_port != 0 && strstr(to, port) != NULL) {
        snprintf(why, why_size, "not an allowed host");
        return false;
    }
    return true;
}

typedef struct fetched {
    hls_http_result result;
    test_call call;
    int64_t elapsed_ms;
} fetched;

static void fetched_clear(fetched *done)
{
    hls_http_result_clear(&done->result);
    free(done->call.body);
}

static fetched get_range(hls_http *client, const char *url, int64_t offset, int64_t length, size_t max_size,
                         int64_t timeout_ms, int64_t idle_ms, test_call call)
{
    fetched done = { .call = call };
    hls_http_request request = {
        .url = url,
        .offset = offset,
        .length = length,
        .max_size = max_size,
        .timeout_ns = timeout_ms * MS,
        .idle_timeout_ns = idle_ms * MS,
        .redirect_check = redirect_check,
        .stop_check = stop_check,
        .body_sink = collect,
        .opaque = &done.call,
    };
    gint64 started = g_get_monotonic_time();
    hls_http_get(client, &request, &done.result);
    done.elapsed_ms = (g_get_monotonic_time() - started) / 1000;
    return done;
}

static fetched get(hls_http *client, const char *url)
{
    return get_range(client, url, 0, 0, 1 << 20, 5000, 5000, (test_call){ 0 });
}

static hls_http *new_client(int max_redirects, const char *cookies)
{
    hls_http_header header = { .name = "X-Test", .value = "1" };
    hls_http_config config = {
        .user_agent = "streamcut-test",
        .headers = &header,
        .header_count = 1,
        .cookies = cookies,
        .max_redirects = max_redirects,
    };
    return hls_http_new(&config);
}

/* Each case gets a server and a client (max_redirects 5, no cookies);
 * URLs made by url_of live until the case ends. */
static test_server *server;
static hls_http *http;
static GPtrArray *owned_urls;

static void start_case(void)
{
    server = server_start();
    http = new_client(5, NULL);
    owned_urls = g_ptr_array_new_with_free_func(g_free);
}

static void end_case(void)
{
    hls_http_free(http);
    if (server != NULL)
        server_stop(server);
    g_ptr_array_free(owned_urls, TRUE);
}

static const char *url_of(const char *host, int port, const char *path)
{
    char *url = g_strdup_printf("http://%s:%d%s", host, port, path);
    g_ptr_array_add(owned_urls, url);
    return url;
}

/* A URL of the case's server at 127.0.0.1. */
static const char *local(const char *path)
{
    return url_of("127.0.0.1", server->port, path);
}

static void assert_pattern(const fetched *done, size_t from, size_t count)
{
    ck_assert_uint_eq(done->call.size, count);
    for (size_t i = 0; i < count; i++)
        ck_assert_msg(done->call.body[i] == pattern_byte(from + i), "byte %zu differs", i);
}

static void assert_outcome(const fetched *done, hls_http_outcome outcome, const char *detail_part)
{
    ck_assert_msg(done->result.outcome == outcome, "outcome %d, expected %d (%s)", done->result.outcome, outcome,
                  done->result.detail);
    if (detail_part != NULL)
        ck_assert_msg(strstr(done->result.detail, detail_part) != NULL, "'%s' not in '%s'", detail_part,
                      done->result.detail);
}

/* ---- cases ---- */

START_TEST(kept_alive_per_host)
{
    int opened = 0;
    for (int i = 0; i < 6; i++) {
        fetched done = get(http, url_of(i % 2 == 0 ? "127.0.0.1" : "localhost", server->port, "/bytes/1000"));
        assert_outcome(&done, HLS_HTTP_OK, NULL);
        assert_pattern(&done, 0, 1000);
        ck_assert_int_eq(done.result.requests, 1);
        opened += done.result.new_connections;
        fetched_clear(&done);
    }
    /* The same address under two names: two connections, never shared. */
    ck_assert_int_eq(server_connections(server), 2);
    ck_assert_int_eq(opened, 2);
    assert_one_host_per_connection(server);
}
END_TEST

START_TEST(byte_ranges)
{
    fetched done = get_range(http, local("/bytes/1000"), 100, 50, 1 << 20, 5000, 5000, (test_call){ 0 });
    assert_outcome(&done, HLS_HTTP_OK, NULL);
    ck_assert_uint_eq(done.result.status, 206);
    assert_pattern(&done, 100, 50);
    fetched_clear(&done);
    /* A server that ignores Range: the client cuts the range out. */
    done = get_range(http, local("/whole/1000"), 100, 50, 1 << 20, 5000, 5000, (test_call){ 0 });
    assert_outcome(&done, HLS_HTTP_OK, NULL);
    ck_assert_uint_eq(done.result.status, 200);
    assert_pattern(&done, 100, 50);
    fetched_clear(&done);
    /* A range past the end comes back short: refused, not passed on. */
    done = get_range(http, local("/bytes/1000"), 990, 50, 1 << 20, 5000, 5000, (test_call){ 0 });
    assert_outcome(&done, HLS_HTTP_FAILED, "10 of the 50");
    fetched_clear(&done);
}
END_TEST

START_TEST(size_caps)
{
    const struct {
        const char *path;
        size_t size;
        hls_http_outcome outcome;
    } cases[] = {
        { "/bytes/4000", 4000, HLS_HTTP_OK },
        { "/bytes/4001", 0, HLS_HTTP_TOO_LARGE },   /* announced */
        { "/chunked/4000", 4000, HLS_HTTP_OK },
        { "/chunked/9000", 0, HLS_HTTP_TOO_LARGE }, /* found while reading */
        { "/bytes/0", 0, HLS_HTTP_OK },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fetched done = get_range(http, local(cases[i].path), 0, 0, 4000, 5000, 5000, (test_call){ 0 });
        assert_outcome(&done, cases[i].outcome, NULL);
        if (cases[i].outcome == HLS_HTTP_OK) {
            assert_pattern(&done, 0, cases[i].size);
        } else {
            ck_assert_ptr_null(done.result.final_url);
            ck_assert_uint_le(done.call.size, 4000);
        }
        fetched_clear(&done);
    }
}
END_TEST

START_TEST(deadline_against_trickle)
{
    fetched done = get_range(http, local("/trickle"), 0, 0, 1 << 20, 300, 2000, (test_call){ 0 });
    assert_outcome(&done, HLS_HTTP_TIMEOUT, "request_timeout");
    ck_assert_msg(done.elapsed_ms >= 280 && done.elapsed_ms < 1000, "took %" PRId64 " ms", done.elapsed_ms);
    ck_assert_uint_gt(done.call.size, 0); /* it did trickle */
    fetched_clear(&done);
    /* The abandoned connection is not reused: the next request opens one. */
    done = get(http, local("/bytes/10"));
    assert_outcome(&done, HLS_HTTP_OK, NULL);
    ck_assert_int_eq(done.result.new_connections, 1);
    fetched_clear(&done);
}
END_TEST

START_TEST(idle_timeout_against_silence)
{
    fetched done = get_range(http, local("/silent"), 0, 0, 1 << 20, 5000, 200, (test_call){ 0 });
    assert_outcome(&done, HLS_HTTP_TIMEOUT, "rw_timeout");
    ck_assert_msg(done.elapsed_ms >= 180 && done.elapsed_ms < 1000, "took %" PRId64 " ms", done.elapsed_ms);
    fetched_clear(&done);
}
END_TEST

START_TEST(stop_request)
{
    test_call call = { .stop_at_us = g_get_monotonic_time() + 100000 };
    fetched done = get_range(http, local("/silent"), 0, 0, 1 << 20, 10000, 10000, call);
    assert_outcome(&done, HLS_HTTP_STOPPED, NULL);
    ck_assert_msg(done.elapsed_ms < 500, "took %" PRId64 " ms", done.elapsed_ms);
    fetched_clear(&done);
    /* Already stopped: nothing is sent at all. */
    call.stop_at_us = 1;
    done = get_range(http, local("/silent"), 0, 0, 1 << 20, 10000, 10000, call);
    assert_outcome(&done, HLS_HTTP_STOPPED, NULL);
    ck_assert_int_eq(done.result.requests, 0);
    fetched_clear(&done);
}
END_TEST

START_TEST(redirect_chains)
{
    hls_http_free(http);
    http = new_client(2, NULL);
    fetched done = get(http, local("/redirect/2"));
    assert_outcome(&done, HLS_HTTP_OK, NULL);
    ck_assert_int_eq(done.result.redirects, 2);
    ck_assert_int_eq(done.result.requests, 3);
    ck_assert_int_eq(done.result.new_connections, 1); /* a redirect's body is read: the connection stays */
    ck_assert_str_eq(done.result.final_url, local("/bytes/16"));
    assert_pattern(&done, 0, 16);
    fetched_clear(&done);
    done = get(http, local("/redirect/3"));
    assert_outcome(&done, HLS_HTTP_REDIRECT_LIMIT, "/redirect/1' to '");
    ck_assert_msg(strstr(done.result.detail, "more than 2 redirects") != NULL, "%s", done.result.detail);
    ck_assert_int_eq(done.result.redirects, 2);
    fetched_clear(&done);
    /* max_redirects = 0: none at all. */
    hls_http *strict = new_client(0, NULL);
    done = get(strict, local("/bytes/16"));
    assert_outcome(&done, HLS_HTTP_OK, NULL);
    fetched_clear(&done);
    done = get(strict, local("/redirect/2"));
    assert_outcome(&done, HLS_HTTP_REDIRECT_LIMIT, "more than 0 redirects");
    fetched_clear(&done);
    hls_http_free(strict);
}
END_TEST

START_TEST(redirects_checked_before_connecting)
{
    test_server *outside = server_start();
    char path[128];
    snprintf(path, sizeof(path), "/to?http://127.0.0.1:%d/bytes/16", outside->port);
    test_call refusing = { .refused_port = outside->port };
    fetched done = get_range(http, local(path), 0, 0, 1 << 20, 5000, 5000, refusing);
    char expected[256];
    snprintf(expected, sizeof(expected), "redirect from 'http://127.0.0.1:%d/to?...' to 'http://127.0.0.1:%d/bytes/16' "
             "refused: not an allowed host", server->port, outside->port);
    assert_outcome(&done, HLS_HTTP_REDIRECT_BLOCKED, expected);
    ck_assert_int_eq(done.call.redirect_checks, 1);
    fetched_clear(&done);
    ck_assert_int_eq(server_connections(outside), 0);

    /* Allowed, the other host gets its own connection. */
    snprintf(path, sizeof(path), "/to?http://localhost:%d/bytes/16", outside->port);
    done = get(http, local(path));
    assert_outcome(&done, HLS_HTTP_OK, NULL);
    ck_assert_int_eq(done.result.new_connections, 1);
    ck_assert_int_eq(server_connections(outside), 1);
    fetched_clear(&done);

    const struct {
        const char *path;
        hls_http_outcome outcome;
        const char *detail;
    } refused[] = {
        { "/to?file:///etc/passwd", HLS_HTTP_REDIRECT_BLOCKED, "only http(s)" },
        { "/to?ftp://127.0.0.1/x", HLS_HTTP_REDIRECT_BLOCKED, "only http(s)" },
        { "/nolocation", HLS_HTTP_FAILED, "without a Location" },
        { "/to?http://", HLS_HTTP_FAILED, "unusable location" },
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        done = get(http, local(refused[i].path));
        assert_outcome(&done, refused[i].outcome, refused[i].detail);
        fetched_clear(&done);
    }
    /* Credentials, in the URL asked for or in a Location, are never shown. */
    snprintf(path, sizeof(path), "/to?http://user:pw-in-location@127.0.0.1:%d/x", outside->port);
    const char *hidden = url_of("user:secret@127.0.0.1", server->port, path);
    done = get_range(http, hidden, 0, 0, 1 << 20, 5000, 5000, refusing);
    assert_outcome(&done, HLS_HTTP_REDIRECT_BLOCKED, "***@");
    ck_assert_msg(strstr(done.result.detail, "secret") == NULL && strstr(done.result.detail, "pw-in") == NULL, "%s",
                  done.result.detail);
    fetched_clear(&done);
    ck_assert_int_eq(server_connections(outside), 1);
    assert_one_host_per_connection(server);
    assert_one_host_per_connection(outside);
    server_stop(outside);
}
END_TEST

START_TEST(status_keeps_connection)
{
    fetched done = get(http, local("/status/404"));
    assert_outcome(&done, HLS_HTTP_STATUS, NULL);
    ck_assert_uint_eq(done.result.status, 404);
    ck_assert_str_eq(done.result.detail, "HTTP 404 Not Found");
    ck_assert_uint_eq(done.call.size, 0); /* an error page is not a body */
    fetched_clear(&done);
    done = get(http, local("/bytes/10"));
    assert_outcome(&done, HLS_HTTP_OK, NULL);
    ck_assert_int_eq(done.result.new_connections, 0);
    fetched_clear(&done);
    ck_assert_int_eq(server_connections(server), 1);
    /* Nobody listening: a clear failure, at once. */
    const char *gone = local("/bytes/10");
    server_stop(server);
    server = NULL;
    done = get(http, gone);
    assert_outcome(&done, HLS_HTTP_FAILED, NULL);
    ck_assert_msg(done.elapsed_ms < 2000, "took %" PRId64 " ms", done.elapsed_ms);
    fetched_clear(&done);
}
END_TEST

START_TEST(cookies_by_host)
{
    hls_http_free(http);
    http = new_client(5, "conf=x");
    const struct {
        const char *host;
        const char *path;
        const char *cookies; /* as the server got them, or NULL not to look */
    } steps[] = {
        { "127.0.0.1", "/echo-cookie", "conf=x" },
        { "127.0.0.1", "/setcookie", NULL },
        { "127.0.0.1", "/echo-cookie", "conf=x; a=1" },
        { "localhost", "/echo-cookie", "conf=x" }, /* another host: only the configured ones */
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        fetched done = get(http, url_of(steps[i].host, server->port, steps[i].path));
        assert_outcome(&done, HLS_HTTP_OK, NULL);
        if (steps[i].cookies != NULL)
            ck_assert_str_eq((char *)done.call.body, steps[i].cookies);
        fetched_clear(&done);
    }
    /* Without configured cookies, only the server's. */
    hls_http *plain = new_client(5, NULL);
    fetched done = get(plain, local("/setcookie"));
    fetched_clear(&done);
    done = get(plain, local("/echo-cookie"));
    ck_assert_str_eq((char *)done.call.body, "a=1");
    fetched_clear(&done);
    hls_http_free(plain);
}
END_TEST

/* A group of cases, each with its own server and client. */
static TCase *add_group(Suite *suite, const char *name)
{
    TCase *group = tcase_create(name);
    tcase_set_timeout(group, 30);
    tcase_add_checked_fixture(group, start_case, end_case);
    suite_add_tcase(suite, group);
    return group;
}

int main(void)
{
    Suite *suite = suite_create("hls_http");
    TCase *requests = add_group(suite, "requests");
    tcase_add_test(requests, kept_alive_per_host);
    tcase_add_test(requests, byte_ranges);
    tcase_add_test(requests, size_caps);
    tcase_add_test(requests, status_keeps_connection);
    tcase_add_test(requests, cookies_by_host);
    TCase *deadlines = add_group(suite, "deadlines");
    tcase_add_test(deadlines, deadline_against_trickle);
    tcase_add_test(deadlines, idle_timeout_against_silence);
    tcase_add_test(deadlines, stop_request);
    TCase *redirects = add_group(suite, "redirects");
    tcase_add_test(redirects, redirect_chains);
    tcase_add_test(redirects, redirects_checked_before_connecting);
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
