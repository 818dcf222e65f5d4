/* webhook: a record sink POSTing each segment's JSON record (or a sync
 * set's) to an HTTP(S) URL.
 *
 * The body is exactly the record jsonl writes (modules/common/
 * segment_record), sent as application/json with an Idempotency-Key that
 * stays the same across the retries of one record, so a receiver can drop
 * the repeats a lost answer causes; with hmac_secret it is signed
 * (X-Streamcut-Signature: sha256=HEX, HMAC-SHA256 of the exact body).
 *
 * A post that fails in a way that may pass later (no connection, no answer
 * within `timeout`, 408, 429, 5xx) is retried `retries` times, waiting
 * retry_initial_delay, doubling up to retry_max_delay, with jitter, or what
 * the receiver's Retry-After asks for (capped at retry_max_delay). Other
 * 4xx answers are the receiver refusing this body: not retried, counted
 * `rejected`. The sink's worker waits while it retries; segments queue up
 * behind it (the host's queue and on_overflow decide what happens then).
 *
 * Credentials written in the URL become HTTP Basic authentication and are
 * never shown: messages print the URL with "***" in their place.
 */
#include "../common/segment_record.h"
#include "http_post.h"

#include <streamcut/streamcut.h>

#include <glib.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef STREAMCUT_VERSION
#define STREAMCUT_VERSION "unknown"
#endif

/* Headers the sink writes itself, or that frame the message: a `headers`
 * entry naming one would break or forge the request. */
static const char *const reserved_headers[] = {
    "Host", "Content-Length", "Content-Type", "Transfer-Encoding", "Connection", "Keep-Alive",
    "Proxy-Connection", "Upgrade", "TE", "Trailer", "Expect", "User-Agent", "Idempotency-Key",
    "X-Streamcut-Signature", NULL,
};

typedef struct webhook_sink {
    record_source from;
    const sc_host_api *host;
    sc_ctx *ctx;
    http_poster *poster;
    char *display_url;   /* the URL with credentials hidden, for messages */
    char *hmac_secret;   /* NULL: bodies are not signed */
    int64_t retries;
    int64_t initial_delay_ns;
    int64_t max_delay_ns;
    int64_t timeout_ns;
    /* Part of every Idempotency-Key: a rerun of the same pipeline posts
     * new records, not repeats of the last run's. */
    char run_id[17];
} webhook_sink;

static const sc_option_spec webhook_options[] = {
    {
        .name = "url",
        .type = SC_OPT_STRING,
        .flags = SC_OPT_REQUIRED,
        .help = "http:// or https:// URL to POST each record to; user:password@ in it is sent as Basic "
                "authentication and shown as *** in messages",
    },
    {
        .name = "headers",
        .type = SC_OPT_STRING,
        .default_value = "",
        .help = "extra request headers, \"Name: value\" entries separated by | or newlines (use @file or "
                "${ENV} for secrets); CR/LF and the headers the sink sets itself are refused",
    },
    {
        .name = "bearer_token",
        .type = SC_OPT_STRING,
        .default_value = "",
        .help = "send Authorization: Bearer TOKEN (write ${ENV_VAR} to keep it out of the file); like URL "
                "credentials, never sent to another host after a redirect",
    },
    {
        .name = "hmac_secret",
        .type = SC_OPT_STRING,
        .default_value = "",
        .help = "sign each body: X-Streamcut-Signature: sha256=<hex HMAC-SHA256 of the exact body with this key>",
    },
    {
        .name = "timeout",
        .type = SC_OPT_DURATION,
        .default_value = "10s",
        .help = "deadline of one attempt: connecting, sending, up to 3 same-scheme redirects and the answer",
        .min = 0.01,
        .max = 3600,
    },
    {
        .name = "retries",
        .type = SC_OPT_INT,
        .default_value = "3",
        .help = "attempts after the first when the connection fails, the deadline passes, or the answer is "
                "408, 429 or 5xx (other 4xx are not retried: counted rejected)",
        .min = 0,
        .max = 1000,
    },
    {
        .name = "retry_initial_delay",
        .type = SC_OPT_DURATION,
        .default_value = "1s",
        .help = "wait before the first retry; it doubles (with +-20% jitter) for each further one",
        .min = 0,
        .max = 3600,
    },
    {
        .name = "retry_max_delay",
        .type = SC_OPT_DURATION,
        .default_value = "30s",
        .help = "longest wait between attempts, also the cap on a receiver's Retry-After",
        .min = 0,
        .max = 3600,
    },
    {
        .name = "tls_ca_file",
        .type = SC_OPT_STRING,
        .default_value = "",
        .help = "PEM file of the certificate authorities trusted for https (default: the system's)",
    },
    { .name = NULL },
};

/* ---- options ---- */

static bool is_token_char(unsigned char c)
{
    return g_ascii_isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Why `value` cannot be a header value, or NULL when it can. */
static const char *header_value_problem(const char *value)
{
    for (const unsigned char *c = (const unsigned char *)value; *c; c++) {
        if (*c == '\r' || *c == '\n')
            return "contains CR or LF (that would inject headers)";
        if ((*c < 0x20 && *c != '\t') || *c == 0x7f)
            return "contains a control character";
    }
    return NULL;
}

/* Adds one "Name: value" entry; *authorization takes an Authorization
 * entry (sent to the URL's origin only). Values are never logged. */
static bool add_header_entry(webhook_sink *sink, GArray *headers, char **authorization, char *entry,
                             unsigned number)
{
    char *colon = strchr(entry, ':');
    if (colon == NULL) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "headers: entry %u has no ':' (expected \"Name: value\")", number);
        return false;
    }
    *colon = '\0';
    char *name = g_strstrip(entry);
    char *value = g_strstrip(colon + 1);
    if (name[0] == '\0') {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "headers: entry %u has no name before ':'", number);
        return false;
    }
    for (const char *c = name; *c; c++) {
        if (!is_token_char((unsigned char)*c)) {
            sink->host->log(sink->ctx, SC_LOG_ERROR,
                            "headers: entry %u: a header name is letters, digits and !#$%%&'*+-.^_`~ only", number);
            return false;
        }
    }
    const char *problem = header_value_problem(value);
    if (problem != NULL) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "headers: the value of %s %s; refused", name, problem);
        return false;
    }
    for (const char *const *reserved = reserved_headers; *reserved; reserved++) {
        if (g_ascii_strcasecmp(name, *reserved) == 0) {
            sink->host->log(sink->ctx, SC_LOG_ERROR, "headers: %s is set by the sink itself and cannot be given",
                            *reserved);
            return false;
        }
    }
    if (g_ascii_strcasecmp(name, "Authorization") == 0) {
        if (*authorization != NULL) {
            sink->host->log(sink->ctx, SC_LOG_ERROR,
                            "headers: Authorization given twice (bearer_token, URL credentials or headers: pick one)");
            return false;
        }
        *authorization = g_strdup(value);
        return true;
    }
    http_header header = { .name = g_strdup(name), .value = g_strdup(value) };
    g_array_append_val(headers, header);
    return true;
}

static bool parse_headers(webhook_sink *sink, const char *text, GArray *headers, char **authorization)
{
    /* Checked before splitting: entries are trimmed, which would hide a
     * CR at the end of a value. */
    if (strchr(text, '\r') != NULL) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "headers: contains a CR (that would inject headers); refused");
        return false;
    }
    char **entries = g_strsplit_set(text, "|\n", -1);
    bool ok = true;
    unsigned number = 0;
    for (char **entry = entries; ok && *entry; entry++) {
        if (g_strstrip(*entry)[0] == '\0')
            continue;
        ok = add_header_entry(sink, headers, authorization, *entry, ++number);
    }
    g_strfreev(entries);
    return ok;
}

static void clear_header(gpointer data)
{
    http_header *header = data;
    g_free(header->name);
    g_free(header->value);
}

/* Splits `text` into a URL without credentials (*clean), the Basic
 * credentials it carried (*authorization, or untouched) and the URL to
 * show. Never prints the URL itself: it may hold a password. */
static bool parse_url(webhook_sink *sink, const char *text, char **clean, char **authorization)
{
    GUri *uri = g_uri_parse(text, G_URI_FLAGS_ENCODED | G_URI_FLAGS_HAS_PASSWORD, NULL);
    if (uri == NULL) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "url: not a valid absolute URL (expected http://HOST[:PORT]/PATH)");
        return false;
    }
    const char *scheme = g_uri_get_scheme(uri);
    bool ok = false;
    if (g_ascii_strcasecmp(scheme, "http") != 0 && g_ascii_strcasecmp(scheme, "https") != 0) {
        char shown[32] = "";
        g_strlcpy(shown, scheme, sizeof(shown));
        sink->host->log(sink->ctx, SC_LOG_ERROR, "url: only http:// and https:// URLs are supported, not %s://",
                        g_strcanon(shown, G_CSET_a_2_z G_CSET_A_2_Z G_CSET_DIGITS "+-.", '?'));
    } else if (g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0') {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "url: no host");
    } else {
        ok = true;
    }
    if (ok && g_uri_get_user(uri) != NULL) {
        char *user = g_uri_unescape_string(g_uri_get_user(uri), NULL);
        char *password = g_uri_get_password(uri) ? g_uri_unescape_string(g_uri_get_password(uri), NULL)
                                                 : g_strdup("");
        if (user == NULL || password == NULL || strchr(user, ':') != NULL) {
            sink->host->log(sink->ctx, SC_LOG_ERROR, "url: the credentials in it are not well-formed");
            ok = false;
        } else {
            char *pair = g_strconcat(user, ":", password, NULL);
            char *encoded = g_base64_encode((const guchar *)pair, strlen(pair));
            *authorization = g_strconcat("Basic ", encoded, NULL);
            g_free(encoded);
            g_free(pair);
        }
        g_free(user);
        g_free(password);
    }
    if (ok) {
        char *lower_scheme = g_ascii_strdown(scheme, -1);
        *clean = g_uri_join(G_URI_FLAGS_ENCODED, lower_scheme, NULL, g_uri_get_host(uri), g_uri_get_port(uri),
                            g_uri_get_path(uri), g_uri_get_query(uri), NULL);
        g_free(lower_scheme);
        const char *after_scheme = strstr(*clean, "://") + 3;
        sink->display_url = g_uri_get_user(uri) != NULL
                                ? g_strdup_printf("%.*s***@%s", (int)(after_scheme - *clean), *clean, after_scheme)
                                : g_strdup(*clean);
    }
    g_uri_unref(uri);
    return ok;
}

/* ---- delivery ---- */

/* Key characters outside a header token become '_' (instance names are
 * tokens already; this only guards the format). */
static void make_token(char *text)
{
    for (char *c = text; *c; c++)
        if (!is_token_char((unsigned char)*c) && *c != '/' && *c != ':')
            *c = '_';
}

static int64_t next_wait(const webhook_sink *sink, int64_t backoff_ns, const post_result *result)
{
    if (result->retry_after_ns >= 0)
        return MIN(result->retry_after_ns, sink->max_delay_ns);
    /* Jitter keeps sinks that failed together from retrying in step. */
    return MIN((int64_t)((double)backoff_ns * g_random_double_range(0.8, 1.2)), sink->max_delay_ns);
}

/* POSTs `record` until it is delivered, refused, or out of retries. */
static int deliver(webhook_sink *sink, text_buffer *record, const char *what, char *idempotency_key)
{
    if (record->failed) {
        text_buffer_free(record);
        sink->host->log(sink->ctx, SC_LOG_ERROR, "out of memory building the record of %s", what);
        return SC_ERR_NOMEM;
    }
    GBytes *body = g_bytes_new_with_free_func(record->data, record->length, free, record->data);
    *record = (text_buffer){ 0 };

    make_token(idempotency_key);
    http_header extra[2] = { { .name = "Idempotency-Key", .value = idempotency_key } };
    size_t extra_count = 1;
    char *signature = NULL;
    if (sink->hmac_secret != NULL) {
        gsize size = 0;
        const guchar *data = g_bytes_get_data(body, &size);
        char *hex = g_compute_hmac_for_data(G_CHECKSUM_SHA256, (const guchar *)sink->hmac_secret,
                                            strlen(sink->hmac_secret), data, size);
        signature = g_strconcat("sha256=", hex, NULL);
        g_free(hex);
        extra[extra_count++] = (http_header){ .name = "X-Streamcut-Signature", .value = signature };
    }

    int status = SC_ERR_IO;
    int64_t backoff_ns = sink->initial_delay_ns;
    for (int64_t attempt = 0;; attempt++) {
        post_result result;
        http_poster_post(sink->poster, body, extra, extra_count, &result);
        if (result.outcome == POST_DELIVERED) {
            sink->host->counter_add(sink->ctx, "posted", 1);
            sink->host->log(sink->ctx, SC_LOG_DEBUG, "%s: POST %s: %s in %.0f ms", what, sink->display_url,
                            result.detail, result.elapsed_ns / 1e6);
            status = SC_OK;
            break;
        }
        if (result.outcome == POST_REJECTED) {
            sink->host->counter_add(sink->ctx, "rejected", 1);
            sink->host->log(sink->ctx, SC_LOG_ERROR, "%s: POST %s: %s (refused by the receiver: not retried)", what,
                            sink->display_url, result.detail);
            break;
        }
        if (result.outcome == POST_FAILED || attempt >= sink->retries) {
            sink->host->counter_add(sink->ctx, "failed", 1);
            if (result.outcome == POST_FAILED)
                sink->host->log(sink->ctx, SC_LOG_ERROR, "%s: POST %s: %s (not retried)", what, sink->display_url,
                                result.detail);
            else
                sink->host->log(sink->ctx, SC_LOG_ERROR, "%s: POST %s: %s; giving up after %" PRId64 " attempt%s",
                                what, sink->display_url, result.detail, attempt + 1, attempt == 0 ? "" : "s");
            break;
        }
        int64_t wait_ns = next_wait(sink, backoff_ns, &result);
        backoff_ns = MIN(backoff_ns * 2, sink->max_delay_ns);
        sink->host->counter_add(sink->ctx, "retries", 1);
        sink->host->log(sink->ctx, SC_LOG_WARNING, "%s: POST %s: %s; retry %" PRId64 " of %" PRId64 " in %.3g s%s",
                        what, sink->display_url, result.detail, attempt + 1, sink->retries, wait_ns / 1e9,
                        result.retry_after_ns >= 0 ? " (Retry-After)" : "");
        g_usleep((gulong)(wait_ns / 1000));
    }
    g_free(signature);
    g_bytes_unref(body);
    return status;
}

static int webhook_consume(void *instance, const sc_segment *segment)
{
    webhook_sink *sink = instance;
    text_buffer record = { 0 };
    segment_record_append(&sink->from, &record, segment);
    char *what = g_strdup_printf("segment %s/%" PRIu64, segment->strategy, segment->index);
    char *key = g_strdup_printf("%s:%s/%s/%" PRIu64 "/%" PRId64, sink->run_id, segment->source, segment->strategy,
                                segment->index, segment->start);
    int status = deliver(sink, &record, what, key);
    g_free(key);
    g_free(what);
    return status;
}

static int webhook_consume_set(void *instance, const sc_segment_set *set)
{
    webhook_sink *sink = instance;
    text_buffer record = { 0 };
    segment_set_record_append(&sink->from, &record, set);
    char *what = g_strdup_printf("set %s/%" PRIu64, set->name, set->index);
    char *key = g_strdup_printf("%s:sync/%s/%" PRIu64 "/%" PRId64, sink->run_id, set->name, set->index,
                                set->start_utc);
    int status = deliver(sink, &record, what, key);
    g_free(key);
    g_free(what);
    return status;
}

/* ---- lifecycle ---- */

static void webhook_destroy(void *instance)
{
    webhook_sink *sink = instance;
    if (sink == NULL)
        return;
    http_poster_free(sink->poster);
    g_free(sink->display_url);
    if (sink->hmac_secret != NULL)
        memset(sink->hmac_secret, 0, strlen(sink->hmac_secret));
    g_free(sink->hmac_secret);
    g_free(sink);
}

static const char *non_empty_option(const sc_host_api *host, sc_ctx *ctx, const char *name)
{
    const char *value = host->option_string(ctx, name);
    return value != NULL && value[0] != '\0' ? value : NULL;
}

static int webhook_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    webhook_sink *sink = g_new0(webhook_sink, 1);
    sink->host = host;
    sink->ctx = ctx;
    sink->from = (record_source){ .host = host, .ctx = ctx };
    sink->retries = host->option_int(ctx, "retries");
    sink->timeout_ns = host->option_duration(ctx, "timeout");
    sink->initial_delay_ns = host->option_duration(ctx, "retry_initial_delay");
    sink->max_delay_ns = host->option_duration(ctx, "retry_max_delay");
    g_snprintf(sink->run_id, sizeof(sink->run_id), "%08x%08x", g_random_int(), g_random_int());

    char *url = NULL;
    char *authorization = NULL;
    GArray *headers = g_array_new(FALSE, TRUE, sizeof(http_header));
    g_array_set_clear_func(headers, clear_header);
    bool ok = parse_url(sink, host->option_string(ctx, "url"), &url, &authorization);

    const char *token = non_empty_option(host, ctx, "bearer_token");
    if (ok && token != NULL) {
        const char *problem = header_value_problem(token);
        if (problem != NULL || strchr(token, ' ') != NULL) {
            host->log(ctx, SC_LOG_ERROR, "bearer_token %s; refused", problem ? problem : "contains a space");
            ok = false;
        } else if (authorization != NULL) {
            host->log(ctx, SC_LOG_ERROR, "bearer_token and credentials in url: give one of them");
            ok = false;
        } else {
            authorization = g_strconcat("Bearer ", token, NULL);
        }
    }
    const char *header_text = non_empty_option(host, ctx, "headers");
    if (ok && header_text != NULL)
        ok = parse_headers(sink, header_text, headers, &authorization);
    if (ok && sink->max_delay_ns < sink->initial_delay_ns) {
        host->log(ctx, SC_LOG_ERROR, "retry_max_delay (%.3g s) is shorter than retry_initial_delay (%.3g s)",
                  sink->max_delay_ns / 1e9, sink->initial_delay_ns / 1e9);
        ok = false;
    }
    const char *secret = non_empty_option(host, ctx, "hmac_secret");
    if (secret != NULL)
        sink->hmac_secret = g_strdup(secret);

    if (ok) {
        http_poster_config config = {
            .url = url,
            .authorization = authorization,
            .headers = (const http_header *)(void *)headers->data,
            .header_count = headers->len,
            .user_agent = "streamcut/" STREAMCUT_VERSION,
            .ca_file = non_empty_option(host, ctx, "tls_ca_file"),
            .timeout_ns = sink->timeout_ns,
        };
        char *error = NULL;
        sink->poster = http_poster_new(&config, &error);
        if (sink->poster == NULL) {
            host->log(ctx, SC_LOG_ERROR, "%s", error);
            g_free(error);
            ok = false;
        }
    }
    g_free(url);
    if (authorization != NULL)
        memset(authorization, 0, strlen(authorization));
    g_free(authorization);
    g_array_free(headers, TRUE);
    if (!ok) {
        webhook_destroy(sink);
        return SC_ERR_INVALID;
    }
    /* Zeros too, so the end-of-run stats always show all four. */
    static const char *const counters[] = { "posted", "retries", "failed", "rejected" };
    for (size_t i = 0; i < G_N_ELEMENTS(counters); i++)
        host->counter_add(ctx, counters[i], 0);
    host->log(ctx, SC_LOG_DEBUG, "posting records to %s", sink->display_url);
    *instance = sink;
    return SC_OK;
}

static const sc_sink_ops webhook_ops = {
    SC_OPS_INIT(sc_sink_ops),
    .create = webhook_create,
    .destroy = webhook_destroy,
    .consume = webhook_consume,
    .consume_set = webhook_consume_set,
};

static const sc_module_descriptor webhook_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SINK,
    .flags = 0,
    .name = "webhook",
    .version = "0.1.0",
    .description = "POST each segment's JSON record to an HTTP(S) URL (retries with backoff, signed bodies)",
    .options = webhook_options,
    .ops = &webhook_ops,
};

SC_MODULE_DEFINE(webhook_module)
