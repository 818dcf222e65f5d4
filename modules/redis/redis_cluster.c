#include "redis_cluster.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* CRC-16/XMODEM (polynomial 0x1021, initial value 0), the checksum the
 * Cluster specification names. Bitwise: keys are short and one is hashed
 * per entry. */
static uint16_t crc16_xmodem(const unsigned char *data, size_t length)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < length; i++) {
        crc ^= (uint16_t)(data[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

int redis_cluster_key_slot(const char *key, size_t length)
{
    const char *open = memchr(key, '{', length);
    if (open != NULL) {
        size_t after = (size_t)(open - key) + 1;
        const char *close = memchr(open + 1, '}', length - after);
        /* "{}" is no tag: the whole key is hashed. */
        if (close != NULL && close > open + 1) {
            key = open + 1;
            length = (size_t)(close - key);
        }
    }
    return crc16_xmodem((const unsigned char *)key, length) & (REDIS_CLUSTER_SLOTS - 1);
}

int redis_cluster_parse_redirect(const char *reply, redis_redirect *redirect)
{
    memset(redirect, 0, sizeof(*redirect));
    const char *rest;
    if (strncmp(reply, "MOVED ", 6) == 0) {
        rest = reply + 6;
    } else if (strncmp(reply, "ASK ", 4) == 0) {
        redirect->ask = 1;
        rest = reply + 4;
    } else {
        return -1;
    }
    char *end;
    long slot = strtol(rest, &end, 10);
    if (end == rest || *end != ' ' || slot < 0 || slot >= REDIS_CLUSTER_SLOTS)
        return -1;
    const char *endpoint = end + 1;
    /* host:port, where an IPv6 host holds colons of its own (and may come
     * in brackets): the port follows the last one. */
    const char *colon = strrchr(endpoint, ':');
    if (colon == NULL)
        return -1;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port <= 0 || port > 65535)
        return -1;
    const char *host = endpoint;
    size_t host_length = (size_t)(colon - endpoint);
    if (host_length >= 2 && host[0] == '[' && host[host_length - 1] == ']') {
        host++;
        host_length -= 2;
    }
    if (host_length > REDIS_HOST_MAX || memchr(host, ' ', host_length) != NULL)
        return -1;
    memcpy(redirect->host, host, host_length);
    redirect->host[host_length] = '\0';
    redirect->slot = (int)slot;
    redirect->port = (int)port;
    return 0;
}
