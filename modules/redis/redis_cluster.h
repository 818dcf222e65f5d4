/* redis sink: what a client needs of Redis Cluster to put each entry on the
 * node that owns its key.
 *
 * A Cluster splits keys into 16384 hash slots (CRC16 of the key, or of its
 * hash tag: the text between the first '{' and the next '}', when that is
 * not empty). A node asked about a slot it does not own answers
 * "MOVED <slot> <host>:<port>" (the slot lives there now: remember it) or
 * "ASK <slot> <host>:<port>" (the slot is being moved: ask there once,
 * after ASKING, and keep the map as it is).
 */
#ifndef STREAMCUT_MODULES_REDIS_CLUSTER_H
#define STREAMCUT_MODULES_REDIS_CLUSTER_H

#include "redis_config.h"

#include <stddef.h>

#define REDIS_CLUSTER_SLOTS 16384

/* The hash slot of a key of `length` bytes (binary-safe). */
int redis_cluster_key_slot(const char *key, size_t length);

typedef struct redis_redirect {
    int ask;                           /* 1: ASK (once), 0: MOVED (for good) */
    int slot;
    char host[REDIS_HOST_MAX + 1];     /* empty: the node that answered; IPv6 without brackets */
    int port;
} redis_redirect;

/* Parses a MOVED or ASK error reply. Returns 0, or -1 when `reply` is
 * another error or malformed. */
int redis_cluster_parse_redirect(const char *reply, redis_redirect *redirect);

#endif
