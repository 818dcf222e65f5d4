/* URL helpers for the hls source: resolving playlist references against
 * the playlist's address (RFC 3986, section 5.2), splitting out the parts
 * the allowed-hosts rule looks at, and hiding credentials in messages.
 *
 * Everything here works on untrusted text: no function trusts a length or
 * a terminator it did not check, and every result is a fresh allocation
 * the caller frees (NULL on allocation failure or unusable input). */
#ifndef HLS_URL_H
#define HLS_URL_H

#include <stdbool.h>
#include <stddef.h>

/** Longest URL the hls source handles; longer references are refused. */
#define HLS_URL_MAX_LENGTH 8192

/** The parts of an absolute URL the access rules need. */
typedef struct hls_url_parts {
    char scheme[16];   /**< lower case, e.g. "https" */
    char host[256];    /**< lower case, without brackets for IPv6 */
    int port;          /**< explicit port, or the scheme's default (80/443), 0 if unknown */
} hls_url_parts;

/** Whether `reference` starts with a scheme ("x:" with x = ALPHA *(ALPHA / DIGIT / + - .)). */
bool hls_url_has_scheme(const char *reference);

/** `reference` resolved against the absolute URL `base` (RFC 3986 5.2,
 * dot segments removed). An absolute reference comes back normalized, a
 * NULL or non-absolute base returns the reference as it is. NULL when the
 * result would be longer than HLS_URL_MAX_LENGTH. */
char *hls_url_resolve(const char *base, const char *reference);

/** Splits an absolute URL; false when it has no scheme or no host. */
bool hls_url_split(const char *url, hls_url_parts *parts);

/** The URL with user:password@ replaced by ***@ and any query replaced by
 * "?..." (signed URLs carry their secrets there). */
char *hls_url_redact(const char *url);

#endif
