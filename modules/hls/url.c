/* URL helpers for the hls source (see url.h). */
#include "url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A piece of a URL: where it starts, how long it is, and whether it was
 * there at all ("?" with nothing after it is an empty but present query). */
typedef struct url_slice {
    const char *start;
    size_t length;
    bool present;
} url_slice;

typedef struct url_components {
    url_slice scheme;
    url_slice authority;
    url_slice path;
    url_slice query;
} url_components;

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Length of the scheme (before ':'), 0 when the text does not start with one. */
static size_t scheme_length(const char *text)
{
    if (!is_alpha(text[0]))
        return 0;
    size_t i = 1;
    while (is_alpha(text[i]) || is_digit(text[i]) || text[i] == '+' || text[i] == '-' || text[i] == '.')
        i++;
    return text[i] == ':' ? i : 0;
}

bool hls_url_has_scheme(const char *reference)
{
    return reference && scheme_length(reference) > 0;
}

/* Splits by the generic syntax of RFC 3986 appendix B; the fragment is
 * dropped, HTTP never sends it. */
static void split_components(const char *text, url_components *parts)
{
    memset(parts, 0, sizeof(*parts));
    const char *cursor = text;
    size_t scheme = scheme_length(text);
    if (scheme) {
        parts->scheme = (url_slice){ text, scheme, true };
        cursor += scheme + 1;
    }
    if (cursor[0] == '/' && cursor[1] == '/') {
        cursor += 2;
        size_t length = strcspn(cursor, "/?#");
        parts->authority = (url_slice){ cursor, length, true };
        cursor += length;
    }
    size_t path_length = strcspn(cursor, "?#");
    parts->path = (url_slice){ cursor, path_length, true };
    cursor += path_length;
    if (*cursor == '?') {
        cursor++;
        parts->query = (url_slice){ cursor, strcspn(cursor, "#"), true };
    }
}

/* A growing output string with a hard cap; `failed` sticks once the cap
 * or memory ran out. */
typedef struct url_builder {
    char *text;
    size_t length;
    size_t capacity;
    bool failed;
} url_builder;

static void builder_append(url_builder *builder, const char *text, size_t length)
{
    if (builder->failed)
        return;
    if (builder->length + length >= HLS_URL_MAX_LENGTH) {
        builder->failed = true;
        return;
    }
    if (builder->length + length + 1 > builder->capacity) {
        size_t capacity = builder->capacity ? builder->capacity : 64;
        while (capacity < builder->length + length + 1)
            capacity *= 2;
        char *grown = realloc(builder->text, capacity);
        if (!grown) {
            builder->failed = true;
            return;
        }
        builder->text = grown;
        builder->capacity = capacity;
    }
    memcpy(builder->text + builder->length, text, length);
    builder->length += length;
    builder->text[builder->length] = '\0';
}

/* Appends text, percent-encoding what may not appear raw in an HTTP
 * request line (spaces, controls, non-ASCII bytes). */
static void builder_append_encoded(url_builder *builder, const char *text, size_t length)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char byte = (unsigned char)text[i];
        if (byte > 0x20 && byte < 0x7f)
            continue;
        builder_append(builder, text + run, i - run);
        char escaped[3] = { '%', hex[byte >> 4], hex[byte & 15] };
        builder_append(builder, escaped, 3);
        run = i + 1;
    }
    builder_append(builder, text + run, length - run);
}

/* RFC 3986 5.2.4: removes "." and ".." segments. The result is never
 * longer than the input. */
static char *remove_dot_segments(const char *path, size_t length)
{
    char *output = malloc(length + 1);
    if (!output)
        return NULL;
    size_t out = 0;
    size_t i = 0;
    while (i < length) {
        const char *rest = path + i;
        size_t left = length - i;
        if (left >= 3 && memcmp(rest, "../", 3) == 0) {
            i += 3;
        } else if (left >= 2 && memcmp(rest, "./", 2) == 0) {
            i += 2;
        } else if (left >= 3 && memcmp(rest, "/./", 3) == 0) {
            i += 2;
        } else if (left == 2 && memcmp(rest, "/.", 2) == 0) {
            /* "/." at the end becomes "/" */
            output[out++] = '/';
            i += 2;
        } else if ((left >= 4 && memcmp(rest, "/../", 4) == 0) || (left == 3 && memcmp(rest, "/..", 3) == 0)) {
            /* Drop the last output segment, then continue with "/". */
            while (out > 0 && output[out - 1] != '/')
                out--;
            if (out > 0)
                out--;
            if (left == 3) {
                output[out++] = '/';
                i += 3;
            } else {
                i += 3; /* leaves the "/" of "/../" as the next input */
            }
        } else if ((left == 1 && rest[0] == '.') || (left == 2 && memcmp(rest, "..", 2) == 0)) {
            i = length;
        } else {
            /* Move the first segment (with its leading "/", if any). */
            size_t segment = rest[0] == '/' ? 1 : 0;
            while (segment < left && rest[segment] != '/')
                segment++;
            memcpy(output + out, rest, segment);
            out += segment;
            i += segment;
        }
    }
    output[out] = '\0';
    return output;
}

static void append_path(url_builder *builder, const char *path, size_t length)
{
    char *clean = remove_dot_segments(path, length);
    if (!clean) {
        builder->failed = true;
        return;
    }
    builder_append_encoded(builder, clean, strlen(clean));
    free(clean);
}

static void append_scheme(url_builder *builder, url_slice scheme)
{
    char lowered[32];
    if (scheme.length >= sizeof(lowered)) {
        builder->failed = true;
        return;
    }
    for (size_t i = 0; i < scheme.length; i++)
        lowered[i] = lower(scheme.start[i]);
    builder_append(builder, lowered, scheme.length);
    builder_append(builder, ":", 1);
}

static void append_authority(url_builder *builder, url_slice authority)
{
    if (!authority.present)
        return;
    builder_append(builder, "//", 2);
    builder_append_encoded(builder, authority.start, authority.length);
}

static void append_query(url_builder *builder, url_slice query)
{
    if (!query.present)
        return;
    builder_append(builder, "?", 1);
    builder_append_encoded(builder, query.start, query.length);
}

char *hls_url_resolve(const char *base, const char *reference)
{
    if (!reference || strlen(reference) >= HLS_URL_MAX_LENGTH)
        return NULL;
    url_components relative;
    split_components(reference, &relative);
    url_builder builder = { 0 };

    if (relative.scheme.present) {
        append_scheme(&builder, relative.scheme);
        append_authority(&builder, relative.authority);
        append_path(&builder, relative.path.start, relative.path.length);
        append_query(&builder, relative.query);
    } else if (!base || !hls_url_has_scheme(base) || strlen(base) >= HLS_URL_MAX_LENGTH) {
        builder_append(&builder, reference, strlen(reference));
    } else {
        url_components origin;
        split_components(base, &origin);
        append_scheme(&builder, origin.scheme);
        if (relative.authority.present) {
            append_authority(&builder, relative.authority);
            append_path(&builder, relative.path.start, relative.path.length);
            append_query(&builder, relative.query);
        } else {
            append_authority(&builder, origin.authority);
            if (relative.path.length == 0) {
                append_path(&builder, origin.path.start, origin.path.length);
                append_query(&builder, relative.query.present ? relative.query : origin.query);
            } else if (relative.path.start[0] == '/') {
                append_path(&builder, relative.path.start, relative.path.length);
                append_query(&builder, relative.query);
            } else {
                /* Merge: the base's path up to its last "/", then the reference. */
                size_t directory = 0;
                for (size_t i = 0; i < origin.path.length; i++)
                    if (origin.path.start[i] == '/')
                        directory = i + 1;
                size_t merged_length = directory + relative.path.length + 1;
                char *merged = malloc(merged_length + 1);
                if (!merged) {
                    builder.failed = true;
                } else {
                    size_t at = 0;
                    if (origin.authority.present && origin.path.length == 0)
                        merged[at++] = '/';
                    memcpy(merged + at, origin.path.start, directory);
                    at += directory;
                    memcpy(merged + at, relative.path.start, relative.path.length);
                    at += relative.path.length;
                    append_path(&builder, merged, at);
                    free(merged);
                }
                append_query(&builder, relative.query);
            }
        }
    }
    if (builder.failed || !builder.text) {
        free(builder.text);
        return NULL;
    }
    return builder.text;
}

bool hls_url_split(const char *url, hls_url_parts *parts)
{
    memset(parts, 0, sizeof(*parts));
    if (!url)
        return false;
    url_components components;
    split_components(url, &components);
    if (!components.scheme.present || !components.authority.present ||
        components.scheme.length >= sizeof(parts->scheme))
        return false;
    for (size_t i = 0; i < components.scheme.length; i++)
        parts->scheme[i] = lower(components.scheme.start[i]);

    /* userinfo ends at the last '@' of the authority */
    const char *host = components.authority.start;
    size_t length = components.authority.length;
    for (size_t i = length; i > 0; i--) {
        if (host[i - 1] == '@') {
            host += i;
            length -= i;
            break;
        }
    }
    size_t host_length;
    const char *after;
    if (length > 0 && host[0] == '[') {
        const char *close = memchr(host, ']', length);
        if (!close)
            return false;
        host_length = (size_t)(close - host - 1);
        after = close + 1;
        host++;
    } else {
        const char *colon = memchr(host, ':', length);
        host_length = colon ? (size_t)(colon - host) : length;
        after = host + host_length;
    }
    if (host_length == 0 || host_length >= sizeof(parts->host))
        return false;
    for (size_t i = 0; i < host_length; i++)
        parts->host[i] = lower(host[i]);

    const char *end = components.authority.start + components.authority.length;
    if (after < end) {
        if (*after != ':')
            return false;
        after++;
        if (after == end) {
            after = NULL; /* "host:" means the default port */
        } else {
            long port = 0;
            for (const char *digit = after; digit < end; digit++) {
                if (!is_digit(*digit))
                    return false;
                port = port * 10 + (*digit - '0');
                if (port > 65535)
                    return false;
            }
            parts->port = (int)port;
        }
    }
    if (parts->port == 0) {
        if (strcmp(parts->scheme, "http") == 0)
            parts->port = 80;
        else if (strcmp(parts->scheme, "https") == 0)
            parts->port = 443;
    }
    return true;
}

char *hls_url_redact(const char *url)
{
    if (!url)
        return NULL;
    url_components components;
    split_components(url, &components);
    url_builder builder = { 0 };
    if (components.scheme.present) {
        builder_append(&builder, components.scheme.start, components.scheme.length);
        builder_append(&builder, ":", 1);
    }
    if (components.authority.present) {
        const char *authority = components.authority.start;
        size_t length = components.authority.length;
        builder_append(&builder, "//", 2);
        for (size_t i = length; i > 0; i--) {
            if (authority[i - 1] == '@') {
                builder_append(&builder, "***@", 4);
                authority += i;
                length -= i;
                break;
            }
        }
        builder_append(&builder, authority, length);
    }
    builder_append(&builder, components.path.start, components.path.length);
    if (components.query.present && components.query.length > 0)
        builder_append(&builder, "?...", 4);
    if (builder.failed || !builder.text) {
        free(builder.text);
        return strdup("(unprintable URL)");
    }
    return builder.text;
}
