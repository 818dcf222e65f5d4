/* redis sink: the url and key options (see redis_config.h for the rules). */
#include "redis_config.h"

#include "../common/error_text.h"

#include <streamcut/abi.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PORT 6379

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The percent-decoded copy of text[0, length), or NULL (bad escape, a NUL
 * byte, or no memory: *bad_escape tells which). */
static char *percent_decode(const char *text, size_t length, int *bad_escape)
{
    *bad_escape = 0;
    char *decoded = malloc(length + 1);
    if (decoded == NULL)
        return NULL;
    size_t out = 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] != '%') {
            decoded[out++] = text[i];
            continue;
        }
        int high = i + 2 < length ? hex_value(text[i + 1]) : -1;
        int low = i + 2 < length ? hex_value(text[i + 2]) : -1;
        /* %00 would cut the secret short where hiredis reads it as text. */
        if (high >= 0 && low >= 0 && (high | low) != 0) {
            decoded[out++] = (char)(high * 16 + low);
            i += 2;
            continue;
        }
        free(decoded);
        *bad_escape = 1;
        return NULL;
    }
    decoded[out] = '\0';
    return decoded;
}

/* A decimal integer in [min, max] spanning exactly text[0, length). */
static int parse_number(const char *text, size_t length, long min, long max, long *value)
{
    if (length == 0 || length > 10)
        return -1;
    long result = 0;
    for (size_t i = 0; i < length; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        result = result * 10 + (text[i] - '0');
    }
    if (result < min || result > max)
        return -1;
    *value = result;
    return 0;
}

/* "user:password", ":password" (the default user) or "" (no credentials). */
static int parse_credentials(const char *text, size_t length, redis_target *target, char *err, size_t errlen)
{
    const char *colon = memchr(text, ':', length);
    if (colon == NULL) {
        format_error(err, errlen, "the credentials before '@' must be user:password or :password");
        return -1;
    }
    int bad_escape = 0;
    size_t user_length = (size_t)(colon - text);
    if (user_length > 0) {
        target->user = percent_decode(text, user_length, &bad_escape);
        if (target->user == NULL) {
            format_error(err, errlen, bad_escape ? "the user name has a bad %%-escape" : "out of memory");
            return -1;
        }
    }
    size_t password_length = length - user_length - 1;
    if (password_length == 0) {
        format_error(err, errlen, "the password after ':' is empty");
        return -1;
    }
    target->password = percent_decode(colon + 1, password_length, &bad_escape);
    if (target->password == NULL) {
        format_error(err, errlen, bad_escape ? "the password has a bad %%-escape" : "out of memory");
        return -1;
    }
    return 0;
}

/* "host", "host:port", "[v6]" or "[v6]:port". */
static int parse_host_port(const char *text, size_t length, redis_target *target, char *err, size_t errlen)
{
    const char *host = text;
    size_t host_length;
    const char *rest;
    if (length > 0 && text[0] == '[') {
        const char *close = memchr(text, ']', length);
        if (close == NULL) {
            format_error(err, errlen, "an IPv6 address needs its closing ']'");
            return -1;
        }
        host = text + 1;
        host_length = (size_t)(close - host);
        rest = close + 1;
        if (rest < text + length && *rest != ':') {
            format_error(err, errlen, "unexpected text after the IPv6 address");
            return -1;
        }
    } else {
        const char *colon = memchr(text, ':', length);
        host_length = colon ? (size_t)(colon - text) : length;
        rest = text + host_length;
    }
    if (host_length == 0) {
        format_error(err, errlen, "no host name");
        return -1;
    }
    if (host_length > REDIS_HOST_MAX) {
        format_error(err, errlen, "the host name is longer than %d bytes", REDIS_HOST_MAX);
        return -1;
    }
    for (size_t i = 0; i < host_length; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= ' ' || c >= 0x7f || strchr("@/?#[]", c) != NULL) {
            format_error(err, errlen, "the host name has a character that does not belong in one");
            return -1;
        }
    }
    memcpy(target->host, host, host_length);
    target->host[host_length] = '\0';
    target->port = DEFAULT_PORT;
    if (rest < text + length) {
        long port;
        if (parse_number(rest + 1, (size_t)(text + length - rest - 1), 1, 65535, &port) != 0) {
            format_error(err, errlen, "the port must be a number from 1 to 65535");
            return -1;
        }
        target->port = (int)port;
    }
    return 0;
}

/* "" or "db=N". */
static int parse_query(const char *text, redis_target *target, int db_given, char *err, size_t errlen)
{
    if (text[0] == '\0')
        return 0;
    if (strncmp(text, "db=", 3) != 0 || strchr(text, '&') != NULL) {
        format_error(err, errlen, "the only parameter a URL takes is ?db=N");
        return -1;
    }
    if (db_given) {
        format_error(err, errlen, "the database is given twice (path and ?db=)");
        return -1;
    }
    long db;
    if (parse_number(text + 3, strlen(text + 3), 0, INT_MAX, &db) != 0) {
        format_error(err, errlen, "db must be a database number (0, 1, ...)");
        return -1;
    }
    target->db = (int)db;
    return 0;
}

int redis_target_parse(const char *url, redis_target *target, char *err, size_t errlen)
{
    memset(target, 0, sizeof(*target));
    const char *rest;
    if (strncmp(url, "redis://", 8) == 0) {
        rest = url + 8;
    } else if (strncmp(url, "unix://", 7) == 0) {
        rest = url + 7;
        target->is_unix = 1;
    } else if (strncmp(url, "rediss://", 9) == 0) {
        format_error(err, errlen, "rediss:// (TLS) is not supported: Debian 12's hiredis has no TLS; "
                               "use a unix socket or a TLS tunnel (stunnel, ssh)");
        return -1;
    } else {
        format_error(err, errlen, "must start with redis:// or unix://");
        return -1;
    }
    const char *query = strchr(rest, '?');
    /* The last '@' before the query ends the credentials: passwords may
     * hold characters that would otherwise end the authority. */
    const char *at = NULL;
    for (const char *c = rest; *c && c != query; c++)
        if (*c == '@')
            at = c;
    if (at != NULL && parse_credentials(rest, (size_t)(at - rest), target, err, errlen) != 0)
        goto fail;
    if (at != NULL)
        rest = at + 1;
    if (query == NULL)
        query = rest + strlen(rest);

    int db_given = 0;
    if (target->is_unix) {
        size_t path_length = (size_t)(query - rest);
        if (path_length == 0 || rest[0] != '/') {
            format_error(err, errlen, "a unix socket URL names an absolute path: unix:///run/redis.sock");
            goto fail;
        }
        if (path_length > REDIS_SOCKET_PATH_MAX) {
            format_error(err, errlen, "the socket path is longer than %d bytes", REDIS_SOCKET_PATH_MAX);
            goto fail;
        }
        memcpy(target->socket_path, rest, path_length);
        target->socket_path[path_length] = '\0';
    } else {
        const char *slash = memchr(rest, '/', (size_t)(query - rest));
        const char *authority_end = slash ? slash : query;
        if (parse_host_port(rest, (size_t)(authority_end - rest), target, err, errlen) != 0)
            goto fail;
        if (slash != NULL && slash + 1 < query) {
            long db;
            if (parse_number(slash + 1, (size_t)(query - slash - 1), 0, INT_MAX, &db) != 0) {
                format_error(err, errlen, "the path must be a database number (/0, /1, ...)");
                goto fail;
            }
            target->db = (int)db;
            db_given = 1;
        }
    }
    if (*query == '?' && parse_query(query + 1, target, db_given, err, errlen) != 0)
        goto fail;
    return 0;
fail:
    redis_target_clear(target);
    return -1;
}

void redis_target_clear(redis_target *target)
{
    if (target->password != NULL) {
        /* volatile keeps the compiler from dropping a wipe it sees unread. */
        volatile char *secret = target->password;
        while (*secret)
            *secret++ = '\0';
    }
    free(target->password);
    free(target->user);
    target->password = NULL;
    target->user = NULL;
}

void redis_target_describe(const redis_target *target, char *out, size_t outlen)
{
    char credentials[128] = "";
    if (target->password != NULL)
        snprintf(credentials, sizeof(credentials), "%.100s:***@", target->user ? target->user : "");
    if (target->is_unix) {
        snprintf(out, outlen, "unix://%s%s?db=%d", credentials, target->socket_path, target->db);
    } else {
        int is_ipv6 = strchr(target->host, ':') != NULL;
        snprintf(out, outlen, "redis://%s%s%s%s:%d/%d", credentials, is_ipv6 ? "[" : "", target->host,
                 is_ipv6 ? "]" : "", target->port, target->db);
    }
}

/* ---- key templates ---- */

enum key_part { KEY_SOURCE, KEY_STRATEGY, KEY_UNKNOWN };

static enum key_part placeholder_kind(const char *name, size_t length)
{
    if (length == 6 && memcmp(name, "source", 6) == 0)
        return KEY_SOURCE;
    if (length == 8 && memcmp(name, "strategy", 8) == 0)
        return KEY_STRATEGY;
    return KEY_UNKNOWN;
}

/* Walks the template, appending its expansion to out (when not NULL, of
 * room for the whole result). Returns the expansion's length, or -1 with a
 * reason in err. */
static long walk_template(const char *text, const char *source, const char *strategy, char *out, char *err,
                          size_t errlen)
{
    size_t length = 0;
    for (const char *c = text; *c;) {
        const char *piece = c;
        size_t piece_length = 1;
        if ((c[0] == '{' && c[1] == '{') || (c[0] == '}' && c[1] == '}')) {
            c += 2;
        } else if (c[0] == '}') {
            format_error(err, errlen, "a lone '}' (write }} for a literal brace)");
            return -1;
        } else if (c[0] == '{') {
            const char *close = strchr(c, '}');
            if (close == NULL) {
                format_error(err, errlen, "a '{' without its '}' (write {{ for a literal brace)");
                return -1;
            }
            enum key_part kind = placeholder_kind(c + 1, (size_t)(close - c - 1));
            if (kind == KEY_UNKNOWN) {
                format_error(err, errlen, "unknown placeholder {%.*s}: the key takes {source} and {strategy}",
                          (int)(close - c - 1 > 40 ? 40 : close - c - 1), c + 1);
                return -1;
            }
            piece = kind == KEY_SOURCE ? source : strategy;
            piece_length = strlen(piece);
            c = close + 1;
        } else {
            c++;
        }
        if (out != NULL)
            memcpy(out + length, piece, piece_length);
        length += piece_length;
    }
    if (length == 0) {
        format_error(err, errlen, "the key is empty");
        return -1;
    }
    return (long)length;
}

int redis_key_template_check(const char *text, char *err, size_t errlen)
{
    return walk_template(text, "source", "strategy", NULL, err, errlen) < 0 ? -1 : 0;
}

char *redis_key_expand(const char *text, const char *source, const char *strategy)
{
    source = source ? source : "";
    strategy = strategy ? strategy : "";
    long length = walk_template(text, source, strategy, NULL, NULL, 0);
    if (length < 0)
        return NULL;
    char *key = malloc((size_t)length + 1);
    if (key == NULL)
        return NULL;
    walk_template(text, source, strategy, key, NULL, 0);
    key[length] = '\0';
    return key;
}
