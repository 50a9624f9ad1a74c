/* UDP echo on WasmEdge's recv_from (V2 form: 128-byte address storage + port) and send_to.
 * Replies "<family>:<peer port>:<payload>". Env: PORT (5353). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wasmedge_sock.h"

int main(void) {
    const char *ps = getenv("PORT");
    uint32_t fd, e;
    we_sock_open(WE_INET4, WE_DGRAM, &fd);
    uint8_t any[4] = {0};
    we_address_t a = {any, 4};
    if ((e = we_sock_bind(fd, &a, ps ? (uint32_t)atoi(ps) : 5353))) { printf("bind %u\n", e); return 1; }
    printf("udp ready\n"); fflush(stdout);
    for (;;) {
        char buf[1024], out[1100];
        uint8_t storage[128] = {0};
        we_address_t peer = {storage, 128};
        we_iovec_t v = {(uint8_t *)buf, sizeof buf - 1};
        uint32_t port = 0, len = 0, oflags = 0;
        if ((e = we_sock_recv_from(fd, &v, 1, &peer, 0, &port, &len, &oflags))) { printf("recv_from %u\n", e); return 1; }
        buf[len] = 0;
        if (strcmp(buf, "quit") == 0) return 0;
        int n = snprintf(out, sizeof out, "%u:%u:%s", storage[0] | storage[1] << 8, port, buf);
        we_address_t back = {storage + 2, 4};  /* raw IPv4 form for send_to */
        we_iovec_t o = {(uint8_t *)out, (uint32_t)n};
        uint32_t sent = 0;
        if ((e = we_sock_send_to(fd, &o, 1, &back, port, 0, &sent))) { printf("send_to %u\n", e); return 1; }
    }
}
