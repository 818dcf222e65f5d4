/* redis: a record sink publishing every segment (or synchronized set) as one
 * entry of a Redis stream (XADD KEY [MAXLEN ~ N] * field value ...), so
 * workers on other machines can read them through a consumer group
 * (scripts/redis-consumer).
 *
 * One blocking hiredis connection per instance, used only by the sink's
 * worker. Every wait is bounded: connect_timeout for a connection,
 * command_timeout for a reply, retry_for for an outage. When the server goes
 * away, the segment at hand is retried with exponential backoff while the
 * host's bounded queue holds the segments behind it (its overflow policy
 * counts what does not fit); after retry_for the segment fails, and so do
 * the next ones at once, with one connection attempt per
 * reconnect_max_delay, until the server answers again. So neither a dead
 * nor a black-holed server holds a worker, or shutdown, longer than
 * retry_for.
 *
 * Redis Cluster: url names any one node. The sink hashes each key to its
 * slot and sends the entry to the node that owns it, learning owners from
 * MOVED replies (and following ASK once, during a resharding); a node that
 * becomes unreachable is forgotten, so the next entry asks url's node
 * again. At most CLUSTER_NODES_MAX nodes, each with its own connection.
 *
 * Delivery is at least once: when a connection dies after the server
 * applied an XADD but before its reply arrived, the retry adds the entry
 * again (consumers may key on source, strategy and index).
 */
#include "redis_cluster.h"
#include "redis_config.h"
#include "../common/segment_record.h"

#include <streamcut/streamcut.h>

#include <hiredis/hiredis.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FIRST_RETRY_DELAY_NS (100 * SC_NSEC_PER_MSEC)
#define PROBLEM_TEXT_MAX 512
#define TARGET_TEXT_MAX 512
/* ".<source name>" after a set member's field names. */
#define SC_NAME_SUFFIX_MAX 128
/* Cluster nodes one sink keeps connections to (a slot owner is stored in a
 * byte). */
#define CLUSTER_NODES_MAX 64
/* Redirects one entry may follow: a slot moves once in a resharding, so
 * more means nodes that disagree. */
#define REDIRECTS_MAX 5

enum include_level { INCLUDE_JSON, INCLUDE_FILE, INCLUDE_PAYLOAD };

/* What a connection attempt came to. */
enum connect_result {
    CONNECT_OK,
    CONNECT_UNREACHABLE,  /* worth retrying: refused, timed out, loading */
    CONNECT_REJECTED      /* the server said no: wrong password, bad db */
};

/* A server the sink talks to: url's (nodes[0]), or a Cluster node a
 * redirect named. */
typedef struct redis_node {
    char host[REDIS_HOST_MAX + 1];
    int port;
    redisContext *connection;
    int ever_connected;
    char text[TARGET_TEXT_MAX];   /* for logs: url's text (password redacted) or "Cluster node host:port" */
    int64_t outage_since;         /* monotonic ns the server was first missed; 0 when fine */
    int64_t backoff_ns;
    int gave_up;                  /* the outage outlasted retry_for */
    int64_t next_attempt_at;      /* after giving up: when to try the server again */
} redis_node;

typedef struct redis_sink {
    const sc_host_api *host;
    sc_ctx *ctx;
    record_source from;
    redis_target target;
    const char *key_template;
    enum include_level include;
    int64_t maxlen;
    int64_t max_payload_bytes;
    struct timeval connect_timeout;
    struct timeval command_timeout;
    int64_t retry_for_ns;
    int64_t reconnect_max_delay_ns;

    redis_node nodes[CLUSTER_NODES_MAX];
    int node_count;
    /* Each slot's owner as a node index + 1; 0: not known, ask nodes[0]. */
    unsigned char slot_owner[REDIS_CLUSTER_SLOTS];
    int current;               /* the node of the attempt at hand */
    char last_error[PROBLEM_TEXT_MAX];
    char last_logged[PROBLEM_TEXT_MAX];
} redis_sink;

static const sc_option_spec redis_options[] = {
    { .name = "url", .type = SC_OPT_STRING, .default_value = "redis://127.0.0.1:6379/0",
      .help = "redis://[[user]:password@]host[:port][/db] or unix://[[user]:password@]/path?db=N; "
              "keep a password out of the file with url = ${REDIS_URL}; for Redis Cluster, any one node "
              "(entries follow MOVED and ASK to the node that owns their key)" },
    { .name = "key", .type = SC_OPT_STRING, .default_value = "streamcut:{source}",
      .help = "stream key: {source} and {strategy} (a sync set's name for both), {{ and }} for "
              "literal braces (a Cluster hash tag)" },
    { .name = "maxlen", .type = SC_OPT_INT, .default_value = "10000", .min = 0, .max = 1e12,
      .help = "trim each stream to about this many entries (XADD MAXLEN ~ N); 0 keeps them all" },
    { .name = "include", .type = SC_OPT_ENUM, .default_value = "json", .choices = "json|file|payload",
      .help = "json: source, strategy, index, start, end, start_utc and the JSON record; file: also "
              "the clip's path (file); payload: also the clip's bytes (payload)" },
    { .name = "max_payload_mb", .type = SC_OPT_INT, .default_value = "16", .min = 1, .max = 512,
      .help = "largest clip (MiB) put in an entry; a larger one gets payload_skipped = too_large" },
    { .name = "connect_timeout", .type = SC_OPT_DURATION, .default_value = "2s", .min = 0.001, .max = 300,
      .help = "longest wait for a connection to open" },
    { .name = "command_timeout", .type = SC_OPT_DURATION, .default_value = "5s", .min = 0.001, .max = 300,
      .help = "longest wait for a reply: a server that stops answering fails the command after it" },
    { .name = "retry_for", .type = SC_OPT_DURATION, .default_value = "30s", .min = 0, .max = 86400,
      .help = "how long a segment waits for an unreachable server before it fails (the queue holds "
              "the next ones meanwhile); later segments of the same outage fail at once" },
    { .name = "reconnect_max_delay", .type = SC_OPT_DURATION, .default_value = "5s", .min = 0.1, .max = 300,
      .help = "longest pause between reconnection attempts (the first after 100 ms, then doubling)" },
    { .name = NULL },
};

/* ---- logging without floods ---- */

/* Logs at `level` the first time a problem is seen, and at debug level
 * while the same problem repeats (the counters keep the tally). */
static void log_problem(redis_sink *sink, int level, const char *fmt, ...) SC_PRINTF(3, 4);

static void log_problem(redis_sink *sink, int level, const char *fmt, ...)
{
    char text[PROBLEM_TEXT_MAX];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof(text), fmt, args);
    va_end(args);
    int repeated = strcmp(text, sink->last_logged) == 0;
    sink->host->log(sink->ctx, repeated ? SC_LOG_DEBUG : level, "%s", text);
    snprintf(sink->last_logged, sizeof(sink->last_logged), "%s", text);
}

static void set_last_error(redis_sink *sink, const char *text)
{
    snprintf(sink->last_error, sizeof(sink->last_error), "%s", text && text[0] ? text : "unknown error");
}

/* ---- the connection ---- */

static struct timeval timeval_from_ns(int64_t ns)
{
    return (struct timeval){ .tv_sec = (time_t)(ns / SC_NSEC_PER_SEC),
                             .tv_usec = (suseconds_t)(ns % SC_NSEC_PER_SEC / 1000) };
}

static void close_connection(redis_node *node)
{
    if (node->connection != NULL)
        redisFree(node->connection);
    node->connection = NULL;
}

static void close_all_connections(redis_sink *sink)
{
    for (int i = 0; i < sink->node_count; i++)
        close_connection(&sink->nodes[i]);
}

/* What went wrong on a connection; hiredis reports a reply that did not
 * come within the socket timeout as EAGAIN. */
static const char *connection_problem(const redisContext *connection)
{
    if (connection->err == REDIS_ERR_IO && strcmp(connection->errstr, strerror(EAGAIN)) == 0)
        return "no reply within command_timeout";
    return connection->errstr;
}

/* Server errors that pass: a server loading its data, busy with a script,
 * a replica promoted or still syncing, a cluster re-forming. */
static int is_transient_reply(const char *text)
{
    static const char *const transient[] = { "LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "READONLY",
                                             "CLUSTERDOWN", "ERR max number of clients" };
    for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
        if (strncmp(text, transient[i], strlen(transient[i])) == 0)
            return 1;
    return 0;
}

/* One handshake command (AUTH, SELECT, PING) on a fresh connection. */
static enum connect_result handshake_step(redis_sink *sink, redisContext *connection, int argc, const char **argv,
                                          const char *what)
{
    redisReply *reply = redisCommandArgv(connection, argc, argv, NULL);
    if (reply == NULL) {
        set_last_error(sink, connection_problem(connection));
        return CONNECT_UNREACHABLE;
    }
    enum connect_result result = CONNECT_OK;
    if (reply->type == REDIS_REPLY_ERROR) {
        char text[PROBLEM_TEXT_MAX];
        snprintf(text, sizeof(text), "%s: %s", what, reply->str);
        set_last_error(sink, text);
        result = is_transient_reply(reply->str) ? CONNECT_UNREACHABLE : CONNECT_REJECTED;
    }
    freeReplyObject(reply);
    return result;
}

/* Opens a connection to nodes[index]: url's server, or a Cluster node on
 * TCP. Every node gets url's credentials (a Cluster shares its users). */
static enum connect_result open_connection(redis_sink *sink, int index)
{
    redis_node *node = &sink->nodes[index];
    close_connection(node);
    const redis_target *target = &sink->target;
    int is_unix = index == 0 && target->is_unix;
    redisContext *connection = is_unix ? redisConnectUnixWithTimeout(target->socket_path, sink->connect_timeout)
                                       : redisConnectWithTimeout(node->host, node->port, sink->connect_timeout);
    node->connection = connection;
    if (connection == NULL) {
        set_last_error(sink, "out of memory");
        return CONNECT_UNREACHABLE;
    }
    if (connection->err != 0) {
        set_last_error(sink, connection->errstr);
        close_connection(node);
        return CONNECT_UNREACHABLE;
    }
    /* A server that accepts and then never answers must not hold the worker. */
    if (redisSetTimeout(connection, sink->command_timeout) != REDIS_OK) {
        set_last_error(sink, "cannot set the command timeout");
        close_connection(node);
        return CONNECT_UNREACHABLE;
    }
    if (!is_unix)
        redisEnableKeepAlive(connection);

    enum connect_result result = CONNECT_OK;
    if (target->password != NULL) {
        const char *auth_user[] = { "AUTH", target->user, target->password };
        const char *auth_default[] = { "AUTH", target->password };
        char what[160];
        snprintf(what, sizeof(what), "authentication%s%.100s failed", target->user ? " as " : "",
                 target->user ? target->user : "");
        result = target->user ? handshake_step(sink, connection, 3, auth_user, what)
                              : handshake_step(sink, connection, 2, auth_default, what);
    }
    char db_text[16];
    snprintf(db_text, sizeof(db_text), "%d", target->db);
    const char *select[] = { "SELECT", db_text };
    if (result == CONNECT_OK && target->db != 0)
        result = handshake_step(sink, connection, 2, select, "selecting the database failed");
    const char *ping[] = { "PING" };
    if (result == CONNECT_OK)
        result = handshake_step(sink, connection, 1, ping, "the server refuses commands (a password in url?)");
    if (result != CONNECT_OK) {
        close_connection(node);
        return result;
    }
    if (node->ever_connected)
        sink->host->counter_add(sink->ctx, "reconnects", 1);
    node->ever_connected = 1;
    return CONNECT_OK;
}

/* ---- Cluster routing ---- */

/* The node an entry for this key goes to first. */
static int node_for_key(const redis_sink *sink, const char *key, size_t length)
{
    int owner = sink->slot_owner[redis_cluster_key_slot(key, length)];
    return owner > 0 ? owner - 1 : 0;
}

/* The index of the node at host:port (an empty host: the one at
 * `answered`), added when new; -1 when the table is full. */
static int node_named(redis_sink *sink, const redis_redirect *redirect, int answered)
{
    const char *host = redirect->host[0] ? redirect->host : sink->nodes[answered].host;
    for (int i = 0; i < sink->node_count; i++)
        if (sink->nodes[i].port == redirect->port && strcmp(sink->nodes[i].host, host) == 0)
            return i;
    if (sink->node_count == CLUSTER_NODES_MAX)
        return -1;
    redis_node *node = &sink->nodes[sink->node_count];
    *node = (redis_node){ .port = redirect->port };
    snprintf(node->host, sizeof(node->host), "%s", host);
    int bracket = strchr(host, ':') != NULL;
    snprintf(node->text, sizeof(node->text), "Cluster node %s%s%s:%d", bracket ? "[" : "", host, bracket ? "]" : "",
             redirect->port);
    return sink->node_count++;
}

/* A node that cannot be reached owns nothing any more as far as the sink
 * knows: its slots are asked of url's node again, which knows the new
 * owners after a failover. */
static void forget_node(redis_sink *sink, int index)
{
    if (index == 0)
        return;
    for (int slot = 0; slot < REDIS_CLUSTER_SLOTS; slot++)
        if (sink->slot_owner[slot] == index + 1)
            sink->slot_owner[slot] = 0;
}

/* The server answered: end the outage, if any. */
static void note_server_back(redis_sink *sink)
{
    redis_node *node = &sink->nodes[sink->current];
    if (node->outage_since != 0 || node->gave_up)
        sink->host->log(sink->ctx, SC_LOG_INFO, "%s answers again after %.1f s", node->text,
                        (double)(sink->host->monotonic_ns() - node->outage_since) / SC_NSEC_PER_SEC);
    node->outage_since = 0;
    node->gave_up = 0;
    sink->last_logged[0] = '\0';
}

/* Waits before the next attempt while the outage is younger than
 * retry_for; returns 0 when it is older (the caller fails the entry). */
static int wait_before_retry(redis_sink *sink)
{
    redis_node *node = &sink->nodes[sink->current];
    int64_t now = sink->host->monotonic_ns();
    if (node->outage_since == 0) {
        node->outage_since = now;
        node->backoff_ns = FIRST_RETRY_DELAY_NS;
        sink->host->log(sink->ctx, SC_LOG_WARNING, "%s unreachable (%s): retrying for up to %.1f s",
                        node->text, sink->last_error,
                        (double)sink->retry_for_ns / SC_NSEC_PER_SEC);
    }
    int64_t deadline = node->outage_since + sink->retry_for_ns;
    if (now >= deadline) {
        if (!node->gave_up)
            sink->host->log(sink->ctx, SC_LOG_ERROR,
                            "%s still unreachable after %.1f s (%s): segments fail until it answers "
                            "(tried every %.1f s)",
                            node->text, (double)(now - node->outage_since) / SC_NSEC_PER_SEC,
                            sink->last_error, (double)sink->reconnect_max_delay_ns / SC_NSEC_PER_SEC);
        node->gave_up = 1;
        node->next_attempt_at = now + sink->reconnect_max_delay_ns;
        return 0;
    }
    int64_t delay = node->backoff_ns < deadline - now ? node->backoff_ns : deadline - now;
    sc_sleep_ns(delay);
    node->backoff_ns = node->backoff_ns * 2 < sink->reconnect_max_delay_ns ? node->backoff_ns * 2
                                                                           : sink->reconnect_max_delay_ns;
    return 1;
}

/* ---- the entry ---- */

/* XADD's arguments: binary-safe values, some of them owned. */
typedef struct entry_args {
    size_t count;
    size_t capacity;
    const char **values;
    size_t *lengths;
    char **owned;
    int failed;
} entry_args;

/* Adds a value; `owned` (may be NULL) is freed with the arguments. On
 * failure `owned` is freed at once and the failure sticks. */
static void args_add(entry_args *args, const char *value, size_t length, char *owned)
{
    if (!args->failed && args->count == args->capacity) {
        size_t capacity = args->capacity ? args->capacity * 2 : 32;
        const char **values = realloc(args->values, capacity * sizeof(*values));
        if (values != NULL)
            args->values = values;
        size_t *lengths = realloc(args->lengths, capacity * sizeof(*lengths));
        if (lengths != NULL)
            args->lengths = lengths;
        char **owners = realloc(args->owned, capacity * sizeof(*owners));
        if (owners != NULL)
            args->owned = owners;
        if (values == NULL || lengths == NULL || owners == NULL)
            args->failed = 1;
        else
            args->capacity = capacity;
    }
    if (args->failed || value == NULL) {
        args->failed = 1;
        free(owned);
        return;
    }
    args->values[args->count] = value;
    args->lengths[args->count] = length;
    args->owned[args->count] = owned;
    args->count++;
}

static void args_add_text(entry_args *args, const char *text)
{
    args_add(args, text, text ? strlen(text) : 0, NULL);
}

/* A field whose value is a built text (taken over by the arguments). */
static void args_add_built(entry_args *args, const char *field, text_buffer *value)
{
    args_add_text(args, field);
    if (value->failed) {
        text_buffer_free(value);
        args_add(args, NULL, 0, NULL);
        return;
    }
    if (value->data == NULL)
        text_buffer_append(value, "", 0);
    args_add(args, value->data, value->length, value->data);
    *value = (text_buffer){ 0 };
}

/* One formatted value. */
static void args_add_printf(entry_args *args, const char *fmt, ...) SC_PRINTF(2, 3);

static void args_add_printf(entry_args *args, const char *fmt, ...)
{
    char *value = NULL;
    va_list list;
    va_start(list, fmt);
    int length = vasprintf(&value, fmt, list);
    va_end(list);
    if (length < 0)
        args_add(args, NULL, 0, NULL);
    else
        args_add(args, value, (size_t)length, value);
}

static void args_free(entry_args *args)
{
    for (size_t i = 0; i < args->count; i++)
        free(args->owned[i]);
    free(args->values);
    free(args->lengths);
    free(args->owned);
    *args = (entry_args){ 0 };
}

static void args_add_seconds(entry_args *args, const char *field, int64_t ns)
{
    text_buffer value = { 0 };
    if (ns != SC_TIME_NONE)
        text_buffer_append_seconds(&value, ns);
    args_add_built(args, field, &value);
}

/* ISO 8601 UTC without the JSON quotes; empty when unknown. */
static void args_add_utc(entry_args *args, const char *field, int64_t ns)
{
    text_buffer quoted = { 0 };
    text_buffer_append_utc(&quoted, ns);
    text_buffer value = { 0 };
    if (!quoted.failed && quoted.length >= 2 && quoted.data[0] == '"')
        text_buffer_append(&value, quoted.data + 1, quoted.length - 2);
    value.failed |= quoted.failed;
    text_buffer_free(&quoted);
    args_add_built(args, field, &value);
}

static void args_start(redis_sink *sink, entry_args *args, const char *source, const char *strategy)
{
    args_add_text(args, "XADD");
    char *key = redis_key_expand(sink->key_template, source, strategy);
    args_add(args, key, key ? strlen(key) : 0, key);
    if (sink->maxlen > 0) {
        args_add_text(args, "MAXLEN");
        args_add_text(args, "~");
        args_add_printf(args, "%" PRId64, sink->maxlen);
    }
    args_add_text(args, "*");
}

/* The clip file a file sink wrote for this segment, into path; 0 when
 * there is none. */
static int clip_path(redis_sink *sink, const sc_segment *segment, char *path, size_t length)
{
    if (!SC_HOST_HAS(sink->host, segment_get_attr))
        return 0;
    int found = sink->host->segment_get_attr(sink->ctx, segment, "file", path, length);
    return found >= 0 && (size_t)found < length;
}

/* Reads the whole clip if it is at most max_payload_bytes. Returns 0 and
 * the bytes, or the reason it is skipped ("too_large", "unreadable"). */
static const char *read_clip(redis_sink *sink, const char *path, char **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    const char *problem = NULL;
    char *bytes = NULL;
    size_t done = 0;
    struct stat info;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &info) != 0)
        problem = strerror(errno);
    else if (!S_ISREG(info.st_mode))
        problem = "not a regular file";
    else if (info.st_size > sink->max_payload_bytes) {
        close(fd);
        return "too_large";
    } else if ((bytes = malloc(info.st_size > 0 ? (size_t)info.st_size : 1)) == NULL)
        problem = "out of memory";
    while (problem == NULL && done < (size_t)info.st_size) {
        ssize_t got = read(fd, bytes + done, (size_t)info.st_size - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            problem = strerror(errno);
        else if (got == 0)
            problem = "it shrank while being read";
        else
            done += (size_t)got;
    }
    if (fd >= 0)
        close(fd);
    if (problem != NULL) {
        log_problem(sink, SC_LOG_WARNING, "cannot read the clip %s: %s", path, problem);
        free(bytes);
        return "unreadable";
    }
    *data = bytes;
    *size = done;
    return NULL;
}

/* The file and payload fields of one segment; `suffix` is "" or, for a
 * set's member, ".<source>". */
static void args_add_clip(redis_sink *sink, entry_args *args, const sc_segment *segment, const char *suffix)
{
    if (sink->include == INCLUDE_JSON)
        return;
    char path[PATH_MAX + 1];
    int has_clip = clip_path(sink, segment, path, sizeof(path));
    if (has_clip) {
        args_add_printf(args, "file%s", suffix);
        args_add_printf(args, "%s", path);
    }
    if (sink->include != INCLUDE_PAYLOAD)
        return;
    const char *skipped = "no_file";
    char *data = NULL;
    size_t size = 0;
    if (has_clip)
        skipped = read_clip(sink, path, &data, &size);
    if (skipped != NULL) {
        args_add_printf(args, "payload_skipped%s", suffix);
        args_add_text(args, skipped);
        sink->host->counter_add(sink->ctx, "payloads_skipped", 1);
        return;
    }
    args_add_printf(args, "payload%s", suffix);
    args_add(args, data, size, data);
    if (!args->failed)
        sink->host->counter_add(sink->ctx, "payload_bytes", (int64_t)size);
}

/* ---- publishing ---- */

/* Sends the XADD (to the Cluster node that owns its key); returns SC_OK,
 * or an error after logging why. */
static int publish(redis_sink *sink, const entry_args *args, const char *what)
{
    if (args->failed) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "out of memory building the entry of %s", what);
        return SC_ERR_NOMEM;
    }
    /* XADD's key is its second argument. */
    sink->current = node_for_key(sink, args->values[1], args->lengths[1]);
    int asking = 0;
    int redirects = 0;
    /* A connection the server closed while idle (its `timeout`, a restart
     * long ago) deserves one immediate new one before any backoff. */
    int may_retry_at_once = 1;
    for (;;) {
        redis_node *node = &sink->nodes[sink->current];
        if (node->connection == NULL) {
            if (node->gave_up && sink->host->monotonic_ns() < node->next_attempt_at)
                return SC_ERR_IO;
            enum connect_result result = open_connection(sink, sink->current);
            if (result == CONNECT_REJECTED) {
                log_problem(sink, SC_LOG_ERROR, "%s: %s", node->text, sink->last_error);
                return SC_ERR_IO;
            }
            if (result != CONNECT_OK) {
                int keep_trying = wait_before_retry(sink);
                if (sink->current != 0) {
                    /* Ask url's node who owns the slot now: a failover
                     * may have moved it. */
                    forget_node(sink, sink->current);
                    sink->current = 0;
                    asking = 0;
                    redirects = 0;
                }
                if (!keep_trying)
                    return SC_ERR_IO;
                continue;
            }
        }
        redisReply *reply = NULL;
        if (asking) {
            /* ASK: this node takes the key for the next command only. */
            reply = redisCommand(node->connection, "ASKING");
            if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
                set_last_error(sink, reply->str);
                freeReplyObject(reply);
                log_problem(sink, SC_LOG_ERROR, "%s refused ASKING for %s: %s", node->text, what, sink->last_error);
                return SC_ERR_IO;
            }
            if (reply != NULL) {
                freeReplyObject(reply);
                reply = NULL;
            }
        }
        if (node->connection->err == 0)
            reply = redisCommandArgv(node->connection, (int)args->count, args->values, args->lengths);
        if (reply == NULL) {
            set_last_error(sink, connection_problem(node->connection));
            close_connection(node);
            if (may_retry_at_once && node->outage_since == 0) {
                may_retry_at_once = 0;
                continue;
            }
            if (!wait_before_retry(sink))
                return SC_ERR_IO;
            continue;
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            set_last_error(sink, reply->str);
            int transient = is_transient_reply(reply->str);
            redis_redirect redirect;
            int redirected = redis_cluster_parse_redirect(reply->str, &redirect) == 0;
            freeReplyObject(reply);
            if (transient) {
                close_connection(node);
                if (!wait_before_retry(sink))
                    return SC_ERR_IO;
                continue;
            }
            if (redirected && redirects < REDIRECTS_MAX) {
                int next = node_named(sink, &redirect, sink->current);
                if (next < 0) {
                    log_problem(sink, SC_LOG_ERROR, "%s for %s: more than %d Cluster nodes", sink->last_error, what,
                                CLUSTER_NODES_MAX);
                    return SC_ERR_IO;
                }
                redirects++;
                sink->host->counter_add(sink->ctx, redirect.ask ? "cluster_ask_redirects" : "cluster_redirects", 1);
                if (!redirect.ask)
                    sink->slot_owner[redirect.slot] = (unsigned char)(next + 1);
                asking = redirect.ask;
                sink->current = next;
                continue;
            }
            log_problem(sink, SC_LOG_ERROR, "%s refused %s: %s%s", node->text, what, sink->last_error,
                        redirected ? " (Cluster nodes keep redirecting: is the cluster resharding, or its "
                                     "nodes' views split?)"
                                   : "");
            return SC_ERR_IO;
        }
        freeReplyObject(reply);
        note_server_back(sink);
        return SC_OK;
    }
}

static int finish(redis_sink *sink, entry_args *args, const char *what)
{
    int status = publish(sink, args, what);
    args_free(args);
    sink->host->counter_add(sink->ctx, status == SC_OK ? "entries_added" : "entries_failed", 1);
    return status;
}

static int redis_consume(void *instance, const sc_segment *segment)
{
    redis_sink *sink = instance;
    entry_args args = { 0 };
    args_start(sink, &args, segment->source, segment->strategy);
    args_add_text(&args, "source");
    args_add_text(&args, segment->source);
    args_add_text(&args, "strategy");
    args_add_text(&args, segment->strategy);
    args_add_text(&args, "index");
    args_add_printf(&args, "%" PRIu64, segment->index);
    args_add_seconds(&args, "start", segment->start);
    args_add_seconds(&args, "end", segment->end);
    args_add_utc(&args, "start_utc", segment->struct_size >= offsetof(sc_segment, start_utc) + sizeof(int64_t)
                                         ? segment->start_utc : SC_TIME_NONE);
    text_buffer record = { 0 };
    segment_record_append(&sink->from, &record, segment);
    args_add_built(&args, "json", &record);
    args_add_clip(sink, &args, segment, "");

    char what[160];
    snprintf(what, sizeof(what), "segment %s/%" PRIu64, segment->strategy, segment->index);
    return finish(sink, &args, what);
}

/* A set: one entry; its members' clips as file.<source> / payload.<source>. */
static int redis_consume_set(void *instance, const sc_segment_set *set)
{
    redis_sink *sink = instance;
    entry_args args = { 0 };
    args_start(sink, &args, set->name, set->name);
    args_add_text(&args, "sync");
    args_add_text(&args, set->name);
    args_add_text(&args, "source");
    args_add_text(&args, set->name);
    args_add_text(&args, "strategy");
    args_add_text(&args, set->name);
    args_add_text(&args, "index");
    args_add_printf(&args, "%" PRIu64, set->index);
    args_add_utc(&args, "start_utc", set->start_utc);
    args_add_utc(&args, "end_utc", set->end_utc);
    text_buffer members = { 0 };
    for (size_t i = 0; i < set->member_count; i++) {
        if (set->segments[i] == NULL)
            continue;
        if (members.length > 0)
            text_buffer_append(&members, ",", 1);
        text_buffer_append_text(&members, set->members[i]);
    }
    args_add_built(&args, "members", &members);
    text_buffer record = { 0 };
    segment_set_record_append(&sink->from, &record, set);
    args_add_built(&args, "json", &record);
    for (size_t i = 0; i < set->member_count; i++) {
        if (set->segments[i] == NULL)
            continue;
        char suffix[SC_NAME_SUFFIX_MAX];
        snprintf(suffix, sizeof(suffix), ".%s", set->members[i]);
        args_add_clip(sink, &args, set->segments[i], suffix);
    }

    char what[160];
    snprintf(what, sizeof(what), "set %s/%" PRIu64, set->name, set->index);
    return finish(sink, &args, what);
}

/* ---- lifecycle ---- */

/* A wrong password or database is a configuration error: refuse to run.
 * A server not up yet is not: segments will wait for it. */
static int redis_start(void *instance)
{
    redis_sink *sink = instance;
    enum connect_result result = open_connection(sink, 0);
    if (result == CONNECT_REJECTED) {
        sink->host->log(sink->ctx, SC_LOG_ERROR, "%s: %s", sink->nodes[0].text, sink->last_error);
        return SC_ERR_PERMANENT;
    }
    if (result == CONNECT_UNREACHABLE)
        sink->host->log(sink->ctx, SC_LOG_WARNING,
                        "%s is not reachable yet (%s): each segment will wait up to %.1f s for it",
                        sink->nodes[0].text, sink->last_error, (double)sink->retry_for_ns / SC_NSEC_PER_SEC);
    else
        sink->host->log(sink->ctx, SC_LOG_DEBUG, "connected to %s", sink->nodes[0].text);
    return SC_OK;
}

static void redis_stop(void *instance)
{
    close_all_connections(instance);
}

static void redis_destroy(void *instance)
{
    redis_sink *sink = instance;
    if (sink == NULL)
        return;
    close_all_connections(sink);
    redis_target_clear(&sink->target);
    free(sink);
}

static int redis_create(const sc_host_api *host, sc_ctx *ctx, void **instance)
{
    redis_sink *sink = calloc(1, sizeof(*sink));
    if (sink == NULL)
        return SC_ERR_NOMEM;
    sink->host = host;
    sink->ctx = ctx;
    sink->from = (record_source){ .host = host, .ctx = ctx };

    char reason[256];
    const char *url = host->option_string(ctx, "url");
    if (url == NULL || redis_target_parse(url, &sink->target, reason, sizeof(reason)) != 0) {
        /* The reason never quotes the URL: it may hold a password. */
        host->log(ctx, SC_LOG_ERROR, "url: %s", url == NULL ? "missing" : reason);
        redis_destroy(sink);
        return SC_ERR_INVALID;
    }
    redis_node *first = &sink->nodes[0];
    snprintf(first->host, sizeof(first->host), "%s", sink->target.host);
    first->port = sink->target.port;
    redis_target_describe(&sink->target, first->text, sizeof(first->text));
    sink->node_count = 1;
    sink->key_template = host->option_string(ctx, "key");
    if (sink->key_template == NULL ||
        redis_key_template_check(sink->key_template, reason, sizeof(reason)) != 0) {
        host->log(ctx, SC_LOG_ERROR, "key = %s: %s", sink->key_template ? sink->key_template : "",
                  sink->key_template ? reason : "missing");
        redis_destroy(sink);
        return SC_ERR_INVALID;
    }
    const char *include = host->option_string(ctx, "include");
    sink->include = include && strcmp(include, "payload") == 0 ? INCLUDE_PAYLOAD
                    : include && strcmp(include, "file") == 0  ? INCLUDE_FILE
                                                               : INCLUDE_JSON;
    sink->maxlen = host->option_int(ctx, "maxlen");
    sink->max_payload_bytes = host->option_int(ctx, "max_payload_mb") * 1024 * 1024;
    sink->connect_timeout = timeval_from_ns(host->option_duration(ctx, "connect_timeout"));
    sink->command_timeout = timeval_from_ns(host->option_duration(ctx, "command_timeout"));
    sink->retry_for_ns = host->option_duration(ctx, "retry_for");
    sink->reconnect_max_delay_ns = host->option_duration(ctx, "reconnect_max_delay");
    host->log(ctx, SC_LOG_DEBUG, "publishing to %s, key %s", sink->nodes[0].text, sink->key_template);
    *instance = sink;
    return SC_OK;
}

static const sc_sink_ops redis_ops = {
    SC_OPS_INIT(sc_sink_ops),
    .create = redis_create,
    .destroy = redis_destroy,
    .start = redis_start,
    .consume = redis_consume,
    .stop = redis_stop,
    .consume_set = redis_consume_set,
};

static const sc_module_descriptor redis_module = {
    SC_DESCRIPTOR_INIT,
    .kind = SC_MODULE_SINK,
    .flags = 0,
    .name = "redis",
    .version = "0.1.0",
    .description = "publish one Redis stream entry per segment (XADD) for consumer groups on other machines",
    .options = redis_options,
    .ops = &redis_ops,
};

SC_MODULE_DEFINE(redis_module)
