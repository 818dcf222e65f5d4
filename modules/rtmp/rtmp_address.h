/* rtmp: parsing the listen option. Plain C, no SDK type: the Check tests
 * compile this file directly. */
#ifndef STREAMCUT_RTMP_ADDRESS_H
#define STREAMCUT_RTMP_ADDRESS_H

#include <stddef.h>
#include <sys/socket.h>

/* "HOST:PORT", "[IPV6]:PORT" or a bare "PORT", which means 127.0.0.1:
 * listening on every interface must be spelled out (0.0.0.0:PORT), and
 * ":PORT" is refused as ambiguous. Fills the socket address and a numeric
 * "ip:port" for messages. Returns 0, or -1 with the reason in `error`. */
int rtmp_parse_listen_address(const char *text, struct sockaddr_storage *address, socklen_t *length,
                              char *display, size_t display_size, char *error, size_t error_size);

#endif
