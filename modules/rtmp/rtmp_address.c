/* rtmp: the listen option's address. Plain C, no SDK type: the Check
 * tests compile this file directly. */
#include "rtmp_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rtmp_parse_listen_address(const char *text, struct sockaddr_storage *address, socklen_t *length,
                              char *display, size_t display_size, char *error, size_t error_size)
{
    char host[256], port[16];
    size_t text_length = strlen(text);
    if (text_length == 0 || text_length >= sizeof(host)) {
        snprintf(error, error_size, "expected HOST:PORT, like 127.0.0.1:1935");
        return -1;
    }
    if (strspn(text, "0123456789") == text_length) {
        /* A bare port must never mean every interface. */
        snprintf(host, sizeof(host), "127.0.0.1");
        snprintf(port, sizeof(port), "%.15s", text);
    } else {
        const char *port_start;
        if (text[0] == '[') {
            const char *bracket = strchr(text, ']');
            if (!bracket || bracket[1] != ':') {
                snprintf(error, error_size, "expected [IPV6]:PORT");
                return -1;
            }
            snprintf(host, sizeof(host), "%.*s", (int)(bracket - text - 1), text + 1);
            port_start = bracket + 2;
        } else {
            const char *colon = strrchr(text, ':');
            if (!colon) {
                snprintf(error, error_size, "no port: write HOST:PORT, like 127.0.0.1:1935");
                return -1;
            }
            if (memchr(text, ':', (size_t)(colon - text))) {
                snprintf(error, error_size, "IPv6 addresses go in brackets: [::1]:1935");
                return -1;
            }
            snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
            port_start = colon + 1;
        }
        if (host[0] == '\0') {
            snprintf(error, error_size, "no host: write 127.0.0.1:PORT for this machine only, or "
                                        "0.0.0.0:PORT for every interface");
            return -1;
        }
        snprintf(port, sizeof(port), "%.15s", port_start);
    }
    size_t digits = strspn(port, "0123456789");
    long number = digits == strlen(port) && digits > 0 && digits <= 5 ? strtol(port, NULL, 10) : 0;
    if (number < 1 || number > 65535) {
        snprintf(error, error_size, "the port must be a number from 1 to 65535");
        return -1;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV };
    struct addrinfo *found = NULL;
    int result = getaddrinfo(host, port, &hints, &found);
    if (result != 0 || !found) {
        snprintf(error, error_size, "cannot resolve '%s': %s", host, gai_strerror(result));
        return -1;
    }
    memcpy(address, found->ai_addr, found->ai_addrlen);
    *length = found->ai_addrlen;
    freeaddrinfo(found);
    char numeric[INET6_ADDRSTRLEN] = "?";
    if (address->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)address)->sin6_addr, numeric, sizeof(numeric));
        snprintf(display, display_size, "[%s]:%ld", numeric, number);
    } else {
        inet_ntop(AF_INET, &((struct sockaddr_in *)address)->sin_addr, numeric, sizeof(numeric));
        snprintf(display, display_size, "%s:%ld", numeric, number);
    }
    return 0;
}
