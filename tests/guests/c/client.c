/* A client: resolves argv[1] with sock_getaddrinfo, connects (WasmEdge sock_connect) to argv[2],
 * sends argv[3], prints what comes back until EOF. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wasmedge_sock.h"

int main(int argc, char **argv) {
    if (argc < 4) { printf("usage: client host port message\n"); return 2; }
    const char *host = argv[1], *port = argv[2], *msg = argv[3];
    we_addrinfo_t hints = {0}, ai[4] = {{0}};
    we_sockaddr_t sa[4];
    uint8_t sa_data[4][26];
    for (int i = 0; i < 4; i++) {
        sa[i] = (we_sockaddr_t){0, 26, sa_data[i]};
        ai[i].addr = &sa[i];
        ai[i].next = i < 3 ? &ai[i + 1] : NULL;
    }
    hints.family = WE_INET4; hints.socktype = WE_STREAM;
    uint32_t res = (uint32_t)(uintptr_t)&ai[0], n = 0;
    uint32_t e = we_sock_getaddrinfo(host, (uint32_t)strlen(host), port, (uint32_t)strlen(port), &hints, &res, 4, &n);
    if (e || n == 0) { printf("getaddrinfo %s: error %u\n", host, e); return 3; }
    uint8_t *d = sa_data[0];
    uint32_t rport = (uint32_t)(d[0] << 8 | d[1]);
    printf("resolved %s -> %u.%u.%u.%u:%u (%u results)\n", host, d[2], d[3], d[4], d[5], rport, n);
    uint32_t fd;
    we_sock_open(WE_INET4, WE_STREAM, &fd);
    we_address_t a = {d + 2, 4};
    if ((e = we_sock_connect(fd, &a, rport))) { printf("connect: error %u\n", e); return 4; }
    uint8_t pip[16]; we_address_t pa = {pip, 16}; uint32_t ptype = 0, pport = 0;
    we_sock_getpeeraddr(fd, &pa, &ptype, &pport);
    printf("peer %u.%u.%u.%u:%u\n", pip[0], pip[1], pip[2], pip[3], pport);
    we_send_all(fd, msg, (uint32_t)strlen(msg));
    we_sock_shutdown(fd, 2);
    char buf[4096];
    int got, total = 0;
    printf("reply: ");
    while ((got = we_recv(fd, buf, sizeof buf - 1)) > 0) { buf[got] = 0; printf("%s", buf); total += got; }
    printf("\nreceived %d bytes\n", total);
    close((int)fd);
    return 0;
}
