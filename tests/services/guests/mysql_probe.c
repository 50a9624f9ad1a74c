/* Reads DATABASE_URL (mysql://user:pw@HOST:PORT/db), resolves HOST with the WasmEdge socket ABI
 * (sock_getaddrinfo, as Docker+Wasm images do), connects, reads the server's handshake packet and
 * prints "server version: <version>". Proves that a service name reaches a real MySQL server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wasmedge_sock.h"

int main(void) {
    const char *url = getenv("DATABASE_URL");
    if (!url || strncmp(url, "mysql://", 8) != 0) { printf("DATABASE_URL must be mysql://...\n"); return 2; }
    const char *at = strchr(url + 8, '@');
    const char *hp = at ? at + 1 : url + 8;
    char host[256] = "", port[16] = "3306";
    size_t n = strcspn(hp, ":/");
    if (n >= sizeof host) return 2;
    memcpy(host, hp, n);
    if (hp[n] == ':') {
        size_t m = strcspn(hp + n + 1, "/");
        if (m >= sizeof port) return 2;
        memcpy(port, hp + n + 1, m);
        port[m] = 0;
    }
    we_addrinfo_t hints = {0}, ai = {0};
    uint8_t sa_data[26];
    we_sockaddr_t sa = {0, 26, sa_data};
    ai.addr = &sa;
    hints.family = WE_INET4; hints.socktype = WE_STREAM;
    uint32_t res = (uint32_t)(uintptr_t)&ai, count = 0;
    uint32_t e = we_sock_getaddrinfo(host, (uint32_t)strlen(host), port, (uint32_t)strlen(port), &hints, &res, 1, &count);
    if (e || count == 0) { printf("getaddrinfo %s: error %u\n", host, e); return 3; }
    uint32_t fd;
    we_sock_open(WE_INET4, WE_STREAM, &fd);
    we_address_t a = {sa_data + 2, 4};
    if ((e = we_sock_connect(fd, &a, (uint32_t)(sa_data[0] << 8 | sa_data[1])))) {
        printf("connect %s:%s: error %u\n", host, port, e);
        return 4;
    }
    unsigned char buf[512];
    int got = 0, r;
    while (got < 5 && (r = we_recv(fd, (char *)buf + got, sizeof buf - 1 - got)) > 0) got += r;
    unsigned len = buf[0] | buf[1] << 8 | buf[2] << 16;
    while ((unsigned)got < 4 + len && got < (int)sizeof buf - 1 &&
           (r = we_recv(fd, (char *)buf + got, sizeof buf - 1 - got)) > 0) got += r;
    buf[got] = 0;
    if (got < 6 || buf[4] != 10) { printf("not a MySQL handshake (%d bytes)\n", got); return 5; }
    printf("connected to %s:%s\nserver version: %s\n", host, port, (char *)buf + 5);
    close((int)fd);
    return 0;
}
