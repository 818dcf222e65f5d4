/* The HTTP control API ([host] control = ADDRESS:PORT): stream state and
 * stats as JSON, Prometheus metrics, health, and events posted into the
 * running pipeline.
 *
 * libmicrohttpd rather than libsoup: it caps what an unfriendly client can
 * take natively (connections, per-connection memory for headers, idle
 * time), runs on its own threads without a GLib main loop, and never
 * blocks the pipeline. Each connection has its own thread, so a slow
 * client only holds its own.
 *
 * Loopback alone does not protect a local HTTP API: a web page can make
 * the browser send requests to 127.0.0.1 (DNS rebinding, cross-site
 * POSTs). So every request's Host must be one of the allowed names, a
 * present Origin must be one of them too, POSTs must be application/json
 * (a form cannot send that without a preflight), and listening beyond
 * loopback requires a bearer token, compared in constant time.
 */
#include "control_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../modules/common/segment_record.h"
#include "log.h"
#include "metrics.h"
#include "stats_report.h"

/* Nesting deeper than this is refused before the JSON parser (which
 * recurses) sees the body. */
#define JSON_MAX_DEPTH 32
#define EVENT_NAME_MAX 128
/* Clip orders kept for polling; the oldest finished ones go first. */
#define CLIP_ORDERS_KEPT 256
/* How long POST .../clip with no post-roll waits for the sinks before it
 * answers 202 and leaves the rest to polling. */
#define CLIP_WAIT_US (30 * G_USEC_PER_SEC)
#define CLIP_MAX_PRE_S (24 * 3600.0)
#define CLIP_MAX_POST_S 3600.0

struct sc_control {
    sc_pipeline *pipeline;
    struct MHD_Daemon *daemon;
    int listen_fd;
    char *token;                  /* NULL: none required */
    GPtrArray *allowed_hosts;     /* char*, lower case, without port */
    size_t max_body;
    int max_connections;
    GMutex connections_lock;
    GHashTable *connections;      /* struct MHD_Connection* -> its socket (GINT_TO_POINTER) */
    atomic_uint_least64_t refused_connections;
    gint64 started_us;
    char display[80];
    GMutex orders_lock;
    GQueue orders;                /* sc_clip_order* (references), oldest first */
};

typedef struct request_state {
    GString *body;
    bool too_large;
    bool answered;                /* refused from its headers: the rest is discarded */
} request_state;

static const sc_option_value *host_option(sc_pipeline *pipeline, const char *name)
{
    for (guint i = 0; pipeline->host_options && i < pipeline->host_options->len; i++) {
        const sc_option_value *value = &g_array_index(pipeline->host_options, sc_option_value, i);
        if (strcmp(value->spec->name, name) == 0) return value;
    }
    return NULL;
}

static bool tokens_equal(const char *given, size_t given_length, const char *expected)
{
    /* Constant time in the given token's length: every byte is compared,
     * and a length mismatch does not end the loop early. */
    size_t expected_length = strlen(expected);
    unsigned char difference = given_length != expected_length;
    for (size_t i = 0; i < given_length; i++)
        difference |= (unsigned char)given[i] ^ (unsigned char)expected[i % (expected_length ? expected_length : 1)];
    return difference == 0 && expected_length > 0;
}

/* "name", "name:port", "[v6]", "[v6]:port" -> lower-case name (g_free). */
static char *host_name_of(const char *authority)
{
    const char *end;
    if (authority[0] == '[') {
        end = strchr(authority, ']');
        if (!end) return NULL;
        end++;
    } else {
        end = strchr(authority, ':');
        if (!end) end = authority + strlen(authority);
    }
    return g_ascii_strdown(authority, end - authority);
}

static bool allowed_host(const sc_control *control, const char *authority)
{
    char *name = host_name_of(authority);
    bool allowed = false;
    for (guint i = 0; name && i < control->allowed_hosts->len && !allowed; i++)
        allowed = strcmp(name, g_ptr_array_index(control->allowed_hosts, i)) == 0;
    g_free(name);
    return allowed;
}

static bool allowed_origin(const sc_control *control, const char *origin)
{
    const char *authority = NULL;
    if (g_str_has_prefix(origin, "http://")) authority = origin + 7;
    else if (g_str_has_prefix(origin, "https://")) authority = origin + 8;
    if (!authority || strchr(authority, '/')) return false;
    return allowed_host(control, authority);
}

static enum MHD_Result respond(struct MHD_Connection *connection, unsigned status, const char *content_type,
                               char *text)
{
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"streamcut\"");
    enum MHD_Result result = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result respond_json(struct MHD_Connection *connection, unsigned status, char *json)
{
    /* MHD frees with free(); GLib's allocator is malloc on every platform
     * GLib >= 2.46 supports, but copy to be independent of it. */
    char *copy = strdup(json ? json : "null");
    g_free(json);
    return copy ? respond(connection, status, "application/json", copy) : MHD_NO;
}

static enum MHD_Result respond_error(struct MHD_Connection *connection, unsigned status, const char *fmt, ...)
    SC_PRINTF(3, 4);

static enum MHD_Result respond_error(struct MHD_Connection *connection, unsigned status, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *message = g_strdup_vprintf(fmt, args);
    va_end(args);
    JsonBuilder *builder = json_builder_new();
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "error");
    json_builder_add_string_value(builder, message);
    json_builder_set_member_name(builder, "status");
    json_builder_add_int_value(builder, status);
    json_builder_end_object(builder);
    char *text = sc_json_builder_finish(builder);
    g_free(message);
    return respond_json(connection, status, text);
}

static char *streams_json(sc_pipeline *pipeline)
{
    JsonBuilder *builder = json_builder_new();
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "streams");
    json_builder_begin_array(builder);
    for (guint i = 0; i < pipeline->sources->len; i++)
        sc_stats_add_source(builder, g_ptr_array_index(pipeline->sources, i));
    json_builder_end_array(builder);
    json_builder_end_object(builder);
    char *text = sc_json_builder_finish(builder);
    return text;
}

static enum MHD_Result readiness(sc_control *control, struct MHD_Connection *connection)
{
    JsonBuilder *builder = json_builder_new();
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "not_live");
    json_builder_begin_array(builder);
    guint waiting = 0;
    for (guint i = 0; i < control->pipeline->sources->len; i++) {
        sc_source_runtime *source = g_ptr_array_index(control->pipeline->sources, i);
        if (atomic_load(&source->state) == SC_SOURCE_LIVE) continue;
        waiting++;
        json_builder_add_string_value(builder, source->ctx->name);
    }
    json_builder_end_array(builder);
    json_builder_set_member_name(builder, "status");
    json_builder_add_string_value(builder, waiting ? "not ready" : "ready");
    json_builder_end_object(builder);
    char *text = sc_json_builder_finish(builder);
    return respond_json(connection, waiting ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK, text);
}

/* Depth of the deepest array/object nesting, strings skipped. */
static int json_depth(const char *text, size_t length)
{
    int depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < length; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > deepest) deepest = depth;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return deepest;
}

/* A number member in seconds -> ns; absent -> SC_TIME_NONE. False with
 * *why when present but not a finite number in range. */
static bool seconds_member(JsonObject *object, const char *name, bool may_be_negative, int64_t *ns, const char **why)
{
    *ns = SC_TIME_NONE;
    JsonNode *node = json_object_get_member(object, name);
    if (!node || JSON_NODE_HOLDS_NULL(node)) return true;
    if (!JSON_NODE_HOLDS_VALUE(node) ||
        (json_node_get_value_type(node) != G_TYPE_DOUBLE && json_node_get_value_type(node) != G_TYPE_INT64)) {
        *why = "must be a number of seconds";
        return false;
    }
    double seconds = json_node_get_value_type(node) == G_TYPE_DOUBLE ? json_node_get_double(node)
                                                                     : (double)json_node_get_int(node);
    if (!(seconds >= (may_be_negative ? -9e9 : 0) && seconds <= 9e9)) {
        *why = may_be_negative ? "is out of range" : "must be a number of seconds >= 0";
        return false;
    }
    *ns = (int64_t)(seconds * 1e9);
    return true;
}

static bool valid_event_name(const char *name)
{
    size_t length = strlen(name);
    if (length == 0 || length > EVENT_NAME_MAX || !g_utf8_validate(name, (gssize)length, NULL)) return false;
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) return false;
    return true;
}

/* The body as a JSON object with only `known` members (NULL-terminated);
 * NULL when it is not, with a 400 (or 503) queued in *result. The caller
 * unrefs *parser. */
static JsonObject *parse_body(sc_control *control, struct MHD_Connection *connection, const GString *body,
                              const char *const *known, const char *expected, JsonParser **parser,
                              enum MHD_Result *result)
{
    *parser = NULL;
    if (atomic_load(&control->pipeline->stopping)) {
        *result = respond_error(connection, MHD_HTTP_SERVICE_UNAVAILABLE, "the pipeline is shutting down");
        return NULL;
    }
    if (json_depth(body->str, body->len) > JSON_MAX_DEPTH) {
        *result = respond_error(connection, MHD_HTTP_BAD_REQUEST, "JSON nested deeper than %d levels", JSON_MAX_DEPTH);
        return NULL;
    }
    *parser = json_parser_new();
    GError *error = NULL;
    if (!json_parser_load_from_data(*parser, body->str, (gssize)body->len, &error)) {
        *result = respond_error(connection, MHD_HTTP_BAD_REQUEST, "bad JSON: %s", error->message);
        g_error_free(error);
        return NULL;
    }
    JsonNode *root = json_parser_get_root(*parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        *result = respond_error(connection, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object");
        return NULL;
    }
    JsonObject *object = json_node_get_object(root);
    GList *members = json_object_get_members(object);
    for (GList *member = members; member; member = member->next) {
        bool found = false;
        for (const char *const *name = known; *name && !found; name++) found = strcmp(member->data, *name) == 0;
        if (!found) {
            *result = respond_error(connection, MHD_HTTP_BAD_REQUEST, "unknown member \"%s\" (expected %s)",
                                    (const char *)member->data, expected);
            g_list_free(members);
            return NULL;
        }
    }
    g_list_free(members);
    return object;
}

static enum MHD_Result post_event(sc_control *control, struct MHD_Connection *connection, sc_source_runtime *source,
                                  const GString *body)
{
    static const char *const known[] = {"name", "time", "pre_roll", "post_roll", "payload", NULL};
    JsonParser *parser;
    enum MHD_Result result = MHD_NO;
    JsonObject *object = parse_body(control, connection, body, known, "name, time, pre_roll, post_roll, payload",
                                    &parser, &result);
    if (!object) {
        if (parser) g_object_unref(parser);
        return result;
    }
    JsonNode *name_node = json_object_get_member(object, "name");
    if (!name_node || !JSON_NODE_HOLDS_VALUE(name_node) || json_node_get_value_type(name_node) != G_TYPE_STRING ||
        !valid_event_name(json_node_get_string(name_node))) {
        result = respond_error(connection, MHD_HTTP_BAD_REQUEST,
                               "\"name\" must be a string of 1 to %d characters without control characters",
                               EVENT_NAME_MAX);
        g_object_unref(parser);
        return result;
    }
    sc_event event = {.struct_size = sizeof event, .name = json_node_get_string(name_node)};
    const char *why = NULL;
    const char *bad = !seconds_member(object, "time", false, &event.time, &why)          ? "time"
                      : !seconds_member(object, "pre_roll", false, &event.pre_roll, &why)   ? "pre_roll"
                      : !seconds_member(object, "post_roll", false, &event.post_roll, &why) ? "post_roll"
                                                                                            : NULL;
    if (bad) {
        result = respond_error(connection, MHD_HTTP_BAD_REQUEST, "\"%s\" %s", bad, why);
        g_object_unref(parser);
        return result;
    }
    char *payload = NULL;
    JsonNode *payload_node = json_object_get_member(object, "payload");
    if (payload_node && !JSON_NODE_HOLDS_NULL(payload_node)) payload = json_to_string(payload_node, FALSE);
    event.payload_json = payload;

    JsonBuilder *builder = json_builder_new();
    json_builder_begin_object(builder);
    json_builder_set_member_name(builder, "stream");
    json_builder_add_string_value(builder, source->ctx->name);
    json_builder_set_member_name(builder, "name");
    json_builder_add_string_value(builder, event.name);
    json_builder_set_member_name(builder, "strategies");
    json_builder_begin_array(builder);
    guint takers = 0;
    for (guint i = 0; i < source->strategies->len; i++) {
        sc_strategy_runtime *strategy = g_ptr_array_index(source->strategies, i);
        if (strategy->ctx->kind != SC_SECTION_STRATEGY || !strategy->ctx->module->ops.strategy.event) continue;
        json_builder_add_string_value(builder, strategy->ctx->name);
        takers++;
    }
    json_builder_end_array(builder);
    json_builder_end_object(builder);
    char *text = sc_json_builder_finish(builder);
    if (takers == 0) {
        g_free(text);
        result = respond_error(connection, MHD_HTTP_CONFLICT,
                               "no strategy of stream \"%s\" takes events (add an event strategy for it)",
                               source->ctx->name);
    } else {
        sc_source_runtime_post_event(source, &event);
        sc_ctx_counter_add(source->ctx, "control_events", 1);
        result = respond_json(connection, MHD_HTTP_ACCEPTED, text);
    }
    g_free(payload);
    g_object_unref(parser);
    return result;
}

static bool method_is(const char *method, const char *expected) { return strcmp(method, expected) == 0; }

static void remember_order(sc_control *control, sc_clip_order *order)
{
    g_mutex_lock(&control->orders_lock);
    g_queue_push_tail(&control->orders, sc_clip_order_ref(order));
    for (GList *link = control->orders.head; link && control->orders.length > CLIP_ORDERS_KEPT;) {
        GList *next = link->next;
        sc_clip_order *old = link->data;
        if (sc_clip_order_wait(old, 0)) {
            g_queue_delete_link(&control->orders, link);
            sc_clip_order_unref(old);
        }
        link = next;
    }
    g_mutex_unlock(&control->orders_lock);
}

static sc_clip_order *find_order(sc_control *control, uint64_t id)
{
    sc_clip_order *found = NULL;
    g_mutex_lock(&control->orders_lock);
    for (GList *link = control->orders.head; link && !found; link = link->next)
        if (((sc_clip_order *)link->data)->id == id) found = sc_clip_order_ref(link->data);
    g_mutex_unlock(&control->orders_lock);
    return found;
}

/* 200 with the segment record once the sinks are through, 409 when the
 * window held nothing, 202 while it is being cut or written. */
static enum MHD_Result order_status(sc_control *control, struct MHD_Connection *connection, sc_clip_order *order)
{
    (void)control;
    if (sc_clip_order_wait(order, 0)) {
        if (!order->segment)
            return respond_error(connection, MHD_HTTP_CONFLICT,
                                 "clip %" G_GUINT64_FORMAT ": the buffer held nothing in that window", order->id);
        record_source from = {.host = sc_host_api_table(), .ctx = NULL};
        text_buffer record = {0};
        segment_record_append(&from, &record, order->segment);
        if (record.failed) {
            text_buffer_free(&record);
            return MHD_NO;
        }
        char *text = g_strdup(record.data);
        text_buffer_free(&record);
        return respond_json(connection, MHD_HTTP_OK, text);
    }
    char *text = g_strdup_printf("{\"id\":%" G_GUINT64_FORMAT ",\"status\":\"pending\",\"poll\":\"/v1/clips/%"
                                 G_GUINT64_FORMAT "\"}", order->id, order->id);
    return respond_json(connection, MHD_HTTP_ACCEPTED, text);
}

/* The named sinks (every sink when absent); NULL with a 400 queued. */
static GPtrArray *clip_sinks(sc_control *control, struct MHD_Connection *connection, JsonObject *object,
                             enum MHD_Result *result)
{
    GPtrArray *all = control->pipeline->sinks, *chosen = g_ptr_array_new();
    JsonNode *node = json_object_get_member(object, "sinks");
    if (!node || JSON_NODE_HOLDS_NULL(node)) {
        for (guint i = 0; i < all->len; i++) g_ptr_array_add(chosen, g_ptr_array_index(all, i));
    } else if (!JSON_NODE_HOLDS_ARRAY(node)) {
        *result = respond_error(connection, MHD_HTTP_BAD_REQUEST, "\"sinks\" must be an array of sink names");
        g_ptr_array_free(chosen, TRUE);
        return NULL;
    } else {
        JsonArray *names = json_node_get_array(node);
        for (guint n = 0; n < json_array_get_length(names); n++) {
            JsonNode *name = json_array_get_element(names, n);
            const char *text = JSON_NODE_HOLDS_VALUE(name) && json_node_get_value_type(name) == G_TYPE_STRING
                                   ? json_node_get_string(name) : NULL;
            sc_sink_runtime *sink = NULL;
            for (guint i = 0; text && i < all->len && !sink; i++)
                if (strcmp(((sc_sink_runtime *)g_ptr_array_index(all, i))->ctx->name, text) == 0)
                    sink = g_ptr_array_index(all, i);
            bool twice = false;
            for (guint i = 0; sink && i < chosen->len; i++) twice = twice || chosen->pdata[i] == sink;
            if (!sink || twice) {
                *result = respond_error(connection, MHD_HTTP_BAD_REQUEST, "\"sinks\"[%u]: %s", n,
                                        !text ? "not a string" : twice ? "listed twice" : "no sink of that name");
                g_ptr_array_free(chosen, TRUE);
                return NULL;
            }
            g_ptr_array_add(chosen, sink);
        }
    }
    if (chosen->len == 0) {
        *result = respond_error(connection, MHD_HTTP_BAD_REQUEST, "no sink to hand the clip to");
        g_ptr_array_free(chosen, TRUE);
        return NULL;
    }
    return chosen;
}

static enum MHD_Result post_clip(sc_control *control, struct MHD_Connection *connection, sc_source_runtime *source,
                                 const GString *body)
{
    static const char *const known[] = {"pre", "post", "sinks", "label", NULL};
    JsonParser *parser;
    enum MHD_Result result = MHD_NO;
    JsonObject *object = parse_body(control, connection, body, known, "pre, post, sinks, label", &parser, &result);
    if (!object) {
        if (parser) g_object_unref(parser);
        return result;
    }
    int64_t pre, post;
    const char *why = NULL;
    if (!seconds_member(object, "pre", false, &pre, &why) || pre == SC_TIME_NONE || pre <= 0 ||
        pre > (int64_t)(CLIP_MAX_PRE_S * 1e9)) {
        result = respond_error(connection, MHD_HTTP_BAD_REQUEST,
                               "\"pre\" must be the seconds to keep before now, more than 0 and at most %.0f",
                               CLIP_MAX_PRE_S);
        g_object_unref(parser);
        return result;
    }
    if (!seconds_member(object, "post", false, &post, &why) || post > (int64_t)(CLIP_MAX_POST_S * 1e9)) {
        result = respond_error(connection, MHD_HTTP_BAD_REQUEST,
                               "\"post\" must be the seconds still to come, 0 to %.0f", CLIP_MAX_POST_S);
        g_object_unref(parser);
        return result;
    }
    if (post == SC_TIME_NONE) post = 0;
    const char *label = "clip";
    JsonNode *label_node = json_object_get_member(object, "label");
    if (label_node) {
        if (!JSON_NODE_HOLDS_VALUE(label_node) || json_node_get_value_type(label_node) != G_TYPE_STRING ||
            !valid_event_name(json_node_get_string(label_node))) {
            result = respond_error(connection, MHD_HTTP_BAD_REQUEST,
                                   "\"label\" must be a string of 1 to %d characters without control characters",
                                   EVENT_NAME_MAX);
            g_object_unref(parser);
            return result;
        }
        label = json_node_get_string(label_node);
    }
    GPtrArray *sinks = clip_sinks(control, connection, object, &result);
    if (!sinks) {
        g_object_unref(parser);
        return result;
    }
    sc_clip_order *order = sc_clip_order_new(source, pre, post, label, sinks, &why);
    g_ptr_array_free(sinks, TRUE);
    g_object_unref(parser);
    if (!order) return respond_error(connection, MHD_HTTP_CONFLICT, "stream \"%s\": %s", source->ctx->name, why);
    sc_ctx_counter_add(source->ctx, "control_clips", 1);
    remember_order(control, order);
    if (post == 0) sc_clip_order_wait(order, g_get_monotonic_time() + CLIP_WAIT_US);
    result = order_status(control, connection, order);
    sc_clip_order_unref(order);
    return result;
}

static enum MHD_Result wrong_method(struct MHD_Connection *connection, const char *allowed)
{
    char *message = g_strdup_printf("{\"error\":\"method not allowed; use %s\",\"status\":405}", allowed);
    char *copy = strdup(message);
    g_free(message);
    if (!copy) return MHD_NO;
    struct MHD_Response *response = MHD_create_response_from_buffer(strlen(copy), copy, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, allowed);
    enum MHD_Result result = MHD_queue_response(connection, MHD_HTTP_METHOD_NOT_ALLOWED, response);
    MHD_destroy_response(response);
    return result;
}

static enum MHD_Result route(sc_control *control, struct MHD_Connection *connection, const char *url,
                             const char *method, const GString *body)
{
    sc_pipeline *pipeline = control->pipeline;
    gint64 uptime = g_get_monotonic_time() - control->started_us;
    if (strcmp(url, "/healthz") == 0) {
        if (!method_is(method, "GET") && !method_is(method, "HEAD")) return wrong_method(connection, "GET");
        return respond_json(connection, MHD_HTTP_OK, g_strdup("{\"status\":\"ok\"}"));
    }
    if (strcmp(url, "/readyz") == 0) {
        if (!method_is(method, "GET") && !method_is(method, "HEAD")) return wrong_method(connection, "GET");
        return readiness(control, connection);
    }
    if (strcmp(url, "/metrics") == 0) {
        if (!method_is(method, "GET") && !method_is(method, "HEAD")) return wrong_method(connection, "GET");
        char *text = sc_metrics_render(pipeline, uptime);
        char *copy = strdup(text);
        g_free(text);
        return copy ? respond(connection, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", copy) : MHD_NO;
    }
    if (strcmp(url, "/v1/stats") == 0) {
        if (!method_is(method, "GET") && !method_is(method, "HEAD")) return wrong_method(connection, "GET");
        return respond_json(connection, MHD_HTTP_OK, sc_stats_json(pipeline, NULL, uptime));
    }
    if (strcmp(url, "/v1/streams") == 0 || strcmp(url, "/v1/streams/") == 0) {
        if (!method_is(method, "GET") && !method_is(method, "HEAD")) return wrong_method(connection, "GET");
        return respond_json(connection, MHD_HTTP_OK, streams_json(pipeline));
    }
    if (g_str_has_prefix(url, "/v1/clips/")) {
        if (!method_is(method, "GET") && !method_is(method, "HEAD")) return wrong_method(connection, "GET");
        char *end = NULL;
        const char *digits = url + strlen("/v1/clips/");
        guint64 id = g_ascii_strtoull(digits, &end, 10);
        sc_clip_order *order = *digits && end && !*end ? find_order(control, id) : NULL;
        if (!order) return respond_error(connection, MHD_HTTP_NOT_FOUND, "no clip %s", digits);
        enum MHD_Result result = order_status(control, connection, order);
        sc_clip_order_unref(order);
        return result;
    }
    if (g_str_has_prefix(url, "/v1/streams/")) {
        const char *rest = url + strlen("/v1/streams/");
        const char *slash = strchr(rest, '/');
        char *id = slash ? g_strndup(rest, slash - rest) : g_strdup(rest);
        sc_source_runtime *source = sc_stats_find_source(pipeline, id);
        enum MHD_Result result;
        if (!source) {
            result = respond_error(connection, MHD_HTTP_NOT_FOUND, "no stream \"%s\"", id);
        } else if (!slash) {
            result = method_is(method, "GET") || method_is(method, "HEAD")
                         ? respond_json(connection, MHD_HTTP_OK, sc_stats_json(pipeline, id, uptime))
                         : wrong_method(connection, "GET");
        } else if (strcmp(slash, "/events") == 0) {
            result = method_is(method, "POST") ? post_event(control, connection, source, body)
                                               : wrong_method(connection, "POST");
        } else if (strcmp(slash, "/clip") == 0) {
            result = method_is(method, "POST") ? post_clip(control, connection, source, body)
                                               : wrong_method(connection, "POST");
        } else {
            result = respond_error(connection, MHD_HTTP_NOT_FOUND, "no such endpoint: %s", url);
        }
        g_free(id);
        return result;
    }
    return respond_error(connection, MHD_HTTP_NOT_FOUND, "no such endpoint: %s", url);
}

/* Checks that need only the headers; false when the request may go on,
 * else a response was queued. */
static bool refuse_early(sc_control *control, struct MHD_Connection *connection, const char *url, const char *method,
                         enum MHD_Result *result)
{
    const char *host = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (host && !allowed_host(control, host)) {
        *result = respond_error(connection, MHD_HTTP_FORBIDDEN,
                                "Host \"%s\" is not allowed (add it to [host] control_allowed_hosts)", host);
        return true;
    }
    const char *origin = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Origin");
    if (origin && !allowed_origin(control, origin)) {
        *result = respond_error(connection, MHD_HTTP_FORBIDDEN, "cross-origin requests are refused");
        return true;
    }
    if (control->token && strcmp(url, "/healthz") != 0) {
        const char *authorization =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        bool ok = authorization && g_ascii_strncasecmp(authorization, "Bearer ", 7) == 0 &&
                  tokens_equal(authorization + 7, strlen(authorization + 7), control->token);
        if (!ok) {
            *result = respond_error(connection, MHD_HTTP_UNAUTHORIZED, "a valid bearer token is required");
            return true;
        }
    }
    if (method_is(method, "POST")) {
        const char *type = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        size_t type_length = type ? strcspn(type, "; \t") : 0;
        if (!type || type_length != strlen("application/json") ||
            g_ascii_strncasecmp(type, "application/json", type_length) != 0) {
            *result = respond_error(connection, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                    "POST bodies must be Content-Type: application/json");
            return true;
        }
        const char *length = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && g_ascii_strtoull(length, NULL, 10) > control->max_body) {
            *result = respond_error(connection, MHD_HTTP_CONTENT_TOO_LARGE, "the body exceeds %zu bytes",
                                    control->max_body);
            return true;
        }
    }
    return false;
}

static enum MHD_Result handle(void *data, struct MHD_Connection *connection, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **connection_data)
{
    (void)version;
    sc_control *control = data;
    request_state *state = *connection_data;
    if (!state) {
        state = g_new0(request_state, 1);
        state->body = g_string_new(NULL);
        *connection_data = state;
        enum MHD_Result result;
        /* Refusing before the body arrives: what follows is discarded. */
        if (refuse_early(control, connection, url, method, &result)) {
            state->answered = true;
            return result;
        }
        return MHD_YES;
    }
    if (state->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (state->body->len + *upload_data_size > control->max_body) state->too_large = true;
        else g_string_append_len(state->body, upload_data, (gssize)*upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (state->too_large)
        return respond_error(connection, MHD_HTTP_CONTENT_TOO_LARGE, "the body exceeds %zu bytes", control->max_body);
    return route(control, connection, url, method, state->body);
}

static void request_done(void *data, struct MHD_Connection *connection, void **connection_data,
                         enum MHD_RequestTerminationCode code)
{
    (void)data;
    (void)connection;
    (void)code;
    request_state *state = *connection_data;
    if (!state) return;
    g_string_free(state->body, TRUE);
    g_free(state);
    *connection_data = NULL;
}

/* The connection cap, counted here: the accept policy sees every new
 * connection before MHD spends a thread on it.
 *
 * MHD reports a connection closed only when its polling thread cleans it
 * up, which is the thread that runs this policy. So a client that closed
 * its previous connection and opened the next one at once still finds the
 * old one listed; waiting here would only delay that cleanup. Instead a
 * listed connection whose peer has hung up (or that has shut down) is not
 * counted: it is over, only its bookkeeping is not. */
static int connections_in_use(sc_control *control)
{
    int in_use = 0;
    g_mutex_lock(&control->connections_lock);
    GHashTableIter iter;
    gpointer key, value;
    g_hash_table_iter_init(&iter, control->connections);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        struct pollfd watched = {.fd = GPOINTER_TO_INT(value), .events = POLLRDHUP};
        bool finished = watched.fd >= 0 && poll(&watched, 1, 0) == 1 &&
                        (watched.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
        if (!finished) in_use++;
    }
    g_mutex_unlock(&control->connections_lock);
    return in_use;
}

static enum MHD_Result accept_policy(void *data, const struct sockaddr *address, socklen_t length)
{
    (void)address;
    (void)length;
    sc_control *control = data;
    if (connections_in_use(control) < control->max_connections) return MHD_YES;
    if (atomic_fetch_add(&control->refused_connections, 1) == 0)
        sc_log(SC_LOG_WARNING, NULL, "control API: %d connections open, refusing more (control_max_connections)",
               control->max_connections);
    return MHD_NO;
}

static void connection_changed(void *data, struct MHD_Connection *connection, void **socket_data,
                               enum MHD_ConnectionNotificationCode code)
{
    (void)socket_data;
    sc_control *control = data;
    g_mutex_lock(&control->connections_lock);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
        g_hash_table_insert(control->connections, connection, GINT_TO_POINTER(info ? info->connect_fd : -1));
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        g_hash_table_remove(control->connections, connection);
    }
    g_mutex_unlock(&control->connections_lock);
}

/* MHD's own complaints (malformed requests, limits hit) go to our log. */
static void log_daemon_message(void *data, const char *fmt, va_list args)
{
    (void)data;
    char *message = g_strdup_vprintf(fmt, args);
    g_strchomp(message);
    sc_log(SC_LOG_DEBUG, "control", "%s", message);
    g_free(message);
}

static bool is_loopback(const struct sockaddr *address)
{
    if (address->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)address)->sin_addr.s_addr) >> 24) == 127;
    if (address->sa_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)address)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(v6) ||
               (IN6_IS_ADDR_V4MAPPED(v6) && v6->s6_addr[12] == 127);
    }
    return false;
}

/* HOST:PORT, [V6]:PORT or a bare PORT (loopback) into a socket address. */
static bool parse_address(const char *text, struct sockaddr_storage *address, socklen_t *length, const char **why)
{
    char *host = NULL;
    const char *port;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            *why = "expected [IPv6]:PORT";
            return false;
        }
        host = g_strndup(text + 1, close - text - 1);
        port = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        host = colon ? g_strndup(text, colon - text) : g_strdup("127.0.0.1");
        port = colon ? colon + 1 : text;
    }
    char *end = NULL;
    unsigned long number = strtoul(port, &end, 10);
    if (!*port || *end || number > 65535) {
        g_free(host);
        *why = "expected HOST:PORT with a port from 0 to 65535";
        return false;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *found = NULL;
    int status = getaddrinfo(*host ? host : "127.0.0.1", port, &hints, &found);
    g_free(host);
    if (status != 0 || !found) {
        *why = "the host is not an address or a name this machine resolves";
        return false;
    }
    memcpy(address, found->ai_addr, found->ai_addrlen);
    *length = found->ai_addrlen;
    freeaddrinfo(found);
    return true;
}

static void add_allowed(GPtrArray *hosts, const char *name)
{
    char *lower = g_ascii_strdown(name, -1);
    g_strstrip(lower);
    if (*lower) g_ptr_array_add(hosts, lower);
    else g_free(lower);
}

static void unref_order(gpointer order) { sc_clip_order_unref(order); }

void sc_control_stop(sc_control *control)
{
    if (!control) return;
    /* The pipeline has finished: orders not done by now never will be;
     * release the requests waiting for them before the server stops. */
    g_mutex_lock(&control->orders_lock);
    for (GList *link = control->orders.head; link; link = link->next) sc_clip_order_abandon(link->data);
    g_mutex_unlock(&control->orders_lock);
    if (control->daemon) MHD_stop_daemon(control->daemon);
    g_queue_clear_full(&control->orders, unref_order);
    g_mutex_clear(&control->orders_lock);
    g_hash_table_destroy(control->connections);
    g_mutex_clear(&control->connections_lock);
    uint64_t refused = atomic_load(&control->refused_connections);
    if (refused) sc_log(SC_LOG_INFO, NULL, "control API: %" G_GUINT64_FORMAT " connections refused over the cap", (guint64)refused);
    if (control->listen_fd >= 0) close(control->listen_fd);
    g_free(control->token);
    g_ptr_array_free(control->allowed_hosts, TRUE);
    g_free(control);
}

sc_control *sc_control_start(sc_pipeline *pipeline, const char *config_path, GPtrArray *errors)
{
    const sc_option_value *listen_option = host_option(pipeline, "control");
    if (!listen_option || !listen_option->text || !*listen_option->text) return NULL;
    const sc_option_value *token = host_option(pipeline, "control_token");
    struct sockaddr_storage address;
    socklen_t address_length;
    const char *why = NULL;
    if (!parse_address(listen_option->text, &address, &address_length, &why)) {
        g_ptr_array_add(errors, g_strdup_printf("%s:%d: control = %s: %s", config_path, listen_option->line,
                                                listen_option->text, why));
        return NULL;
    }
    bool has_token = token && token->text && *token->text;
    if (!is_loopback((struct sockaddr *)&address) && !has_token) {
        g_ptr_array_add(errors, g_strdup_printf("%s:%d: control = %s listens beyond loopback: set control_token "
                                                "(clients then send Authorization: Bearer TOKEN)",
                                                config_path, listen_option->line, listen_option->text));
        return NULL;
    }
    sc_control *control = g_new0(sc_control, 1);
    control->pipeline = pipeline;
    control->listen_fd = -1;
    control->token = has_token ? g_strdup(token->text) : NULL;
    control->max_body = (size_t)host_option(pipeline, "control_max_body")->as_int;
    control->max_connections = (int)host_option(pipeline, "control_max_connections")->as_int;
    control->started_us = g_get_monotonic_time();
    g_mutex_init(&control->orders_lock);
    g_mutex_init(&control->connections_lock);
    control->connections = g_hash_table_new(NULL, NULL);
    control->allowed_hosts = g_ptr_array_new_with_free_func(g_free);
    add_allowed(control->allowed_hosts, "localhost");
    add_allowed(control->allowed_hosts, "127.0.0.1");
    add_allowed(control->allowed_hosts, "[::1]");
    char numeric[64] = "";
    getnameinfo((struct sockaddr *)&address, address_length, numeric, sizeof numeric, NULL, 0, NI_NUMERICHOST);
    if (address.ss_family == AF_INET6) {
        char *bracketed = g_strdup_printf("[%s]", numeric);
        add_allowed(control->allowed_hosts, bracketed);
        g_free(bracketed);
    } else {
        add_allowed(control->allowed_hosts, numeric);
    }
    const sc_option_value *extra = host_option(pipeline, "control_allowed_hosts");
    if (extra && extra->text) {
        char **names = g_strsplit(extra->text, ",", -1);
        for (char **name = names; *name; name++) add_allowed(control->allowed_hosts, *name);
        g_strfreev(names);
    }

    int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int yes = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (fd < 0 || bind(fd, (struct sockaddr *)&address, address_length) != 0 || listen(fd, 64) != 0) {
        g_ptr_array_add(errors, g_strdup_printf("%s:%d: control = %s: cannot listen: %s", config_path, listen_option->line,
                                                listen_option->text, g_strerror(errno)));
        if (fd >= 0) close(fd);
        sc_control_stop(control);
        return NULL;
    }
    control->listen_fd = fd;
    struct sockaddr_storage bound;
    socklen_t bound_length = sizeof bound;
    char port[16] = "";
    if (getsockname(fd, (struct sockaddr *)&bound, &bound_length) == 0)
        getnameinfo((struct sockaddr *)&bound, bound_length, NULL, 0, port, sizeof port, NI_NUMERICSERV);
    g_snprintf(control->display, sizeof control->display, address.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
               numeric, port);

    unsigned timeout_s = (unsigned)(host_option(pipeline, "control_timeout")->as_int / 1000000000);
    control->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, accept_policy,
        control, handle, control, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, request_done, control,
        MHD_OPTION_NOTIFY_CONNECTION, connection_changed, control,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout_s ? timeout_s : 1u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)32 * 1024, MHD_OPTION_EXTERNAL_LOGGER, log_daemon_message, NULL, MHD_OPTION_END);
    if (!control->daemon) {
        g_ptr_array_add(errors, g_strdup_printf("%s:%d: control = %s: the HTTP server did not start", config_path,
                                                listen_option->line, listen_option->text));
        sc_control_stop(control);
        return NULL;
    }
    control->listen_fd = -1; /* the daemon closes it when it stops */
    sc_log(SC_LOG_INFO, NULL, "control API listening on http://%s%s", control->display,
           control->token ? " (bearer token required)" : "");
    return control;
}

const char *sc_control_address(const sc_control *control) { return control ? control->display : NULL; }
