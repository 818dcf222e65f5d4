/* redis sink: where to connect (the url option) and which stream key an
 * entry goes to (the key option).
 *
 * URLs:
 *   redis://[[user]:password@]host[:port][/db]     host may be [IPv6]
 *   unix://[[user]:password@]/path/to/socket[?db=N]
 * `db` may also be given as ?db=N on a redis:// URL. The user and password
 * are percent-decoded (%40 for '@'); the last '@' ends them, so a password
 * may hold '/', ':' or '#' unescaped. rediss:// (TLS) is refused: Debian 12's
 * hiredis is built without TLS.
 *
 * Nothing here ever puts a password into a message: errors name the part
 * that is wrong, and redis_target_describe writes "***" in its place.
 *
 * Key templates: {source} and {strategy} expand to the segment's (or the
 * synchronized set's) names; "{{" and "}}" are literal braces, which is how
 * a Redis Cluster hash tag is written ("{{streamcut}}:{source}").
 */
#ifndef STREAMCUT_MODULES_REDIS_CONFIG_H
#define STREAMCUT_MODULES_REDIS_CONFIG_H

#include <stddef.h>

/* sun_path of struct sockaddr_un holds 108 bytes with its NUL. */
#define REDIS_SOCKET_PATH_MAX 107
/* Longest host name DNS allows. */
#define REDIS_HOST_MAX 253

typedef struct redis_target {
    int is_unix;
    char host[REDIS_HOST_MAX + 1];             /* IPv6 without brackets */
    int port;
    char socket_path[REDIS_SOCKET_PATH_MAX + 1];
    char *user;       /* NULL: AUTH with the password alone (the default user) */
    char *password;   /* NULL: no AUTH */
    int db;
} redis_target;

/* Parses `url` into *target (cleared first). Returns 0, or -1 with a
 * one-line reason in err (which never quotes the password). */
int redis_target_parse(const char *url, redis_target *target, char *err, size_t errlen);

/* Frees the credentials (wiping the password first). */
void redis_target_clear(redis_target *target);

/* The target for log lines: "redis://127.0.0.1:6379/0",
 * "redis://worker:***@db.example:6380/2", "unix:///run/redis.sock?db=1". */
void redis_target_describe(const redis_target *target, char *out, size_t outlen);

/* 0 when `text` is a valid key template, else -1 and a reason in err. */
int redis_key_template_check(const char *text, char *err, size_t errlen);

/* The key for these names (a template that passed the check). Returns a
 * malloc'ed string, or NULL when out of memory. */
char *redis_key_expand(const char *text, const char *source, const char *strategy);

#endif
