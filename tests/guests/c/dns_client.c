/* Resolves argv[3] with a DNS-over-TCP query to argv[1]:argv[2] (what wasmedge_wasi_socket 0.5+ does
 * with DNS_SERVER), prints the A records, then connects to the first one at port argv[4] and sends
 * argv[5], printing the reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wasmedge_sock.h"

static int recv_exact(uint32_t fd, uint8_t *p, int n) {
    for (int got = 0; got < n;) {
        int r = we_recv(fd, (char *)p + got, (uint32_t)(n - got));
        if (r <= 0) return -1;
        got += r;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 6) { printf("usage: dns_client server port name port message\n"); return 2; }
    uint8_t server[4];
    sscanf(argv[1], "%hhu.%hhu.%hhu.%hhu", &server[0], &server[1], &server[2], &server[3]);
    uint32_t fd, e;
    we_sock_open(WE_INET4, WE_STREAM, &fd);
    we_address_t a = {server, 4};
    if ((e = we_sock_connect(fd, &a, (uint32_t)atoi(argv[2])))) { printf("connect dns: %u\n", e); return 3; }
    uint8_t q[300] = {0};
    int n = 2;
    q[n++] = 0x12; q[n++] = 0x34; q[n++] = 0x01; q[n++] = 0x00;  /* id, RD */
    q[n++] = 0; q[n++] = 1; n += 6;                                /* 1 question */
    for (char *label = strtok(argv[3], "."); label; label = strtok(NULL, ".")) {
        q[n++] = (uint8_t)strlen(label);
        memcpy(q + n, label, strlen(label)); n += (int)strlen(label);
    }
    q[n++] = 0; q[n++] = 0; q[n++] = 1; q[n++] = 0; q[n++] = 1;    /* A, IN */
    q[0] = (uint8_t)((n - 2) >> 8); q[1] = (uint8_t)(n - 2);
    we_send_all(fd, (char *)q, (uint32_t)n);
    uint8_t len[2], r[1024];
    if (recv_exact(fd, len, 2)) { printf("no dns answer\n"); return 4; }
    int rlen = len[0] << 8 | len[1];
    if (rlen > (int)sizeof r || recv_exact(fd, r, rlen)) { printf("bad dns answer\n"); return 4; }
    close((int)fd);
    int rcode = r[3] & 15, ancount = r[6] << 8 | r[7];
    printf("rcode %d answers %d\n", rcode, ancount);
    int off = 12;
    while (r[off]) off += r[off] + 1;  /* skip the question's name */
    off += 5;
    uint8_t first[4] = {0};
    for (int i = 0; i < ancount; i++) {
        off += (r[off] & 0xC0) ? 2 : 0;  /* our server compresses answer names */
        int type = r[off] << 8 | r[off + 1], rdlen = r[off + 8] << 8 | r[off + 9];
        off += 10;
        if (type == 1 && rdlen == 4) {
            printf("A %u.%u.%u.%u\n", r[off], r[off + 1], r[off + 2], r[off + 3]);
            if (i == 0) memcpy(first, r + off, 4);
        }
        off += rdlen;
    }
    if (!ancount) return 5;
    we_sock_open(WE_INET4, WE_STREAM, &fd);
    we_address_t b = {first, 4};
    if ((e = we_sock_connect(fd, &b, (uint32_t)atoi(argv[4])))) { printf("connect: %u\n", e); return 6; }
    we_send_all(fd, argv[5], (uint32_t)strlen(argv[5]));
    we_sock_shutdown(fd, 2);
    char buf[256]; int got = we_recv(fd, buf, sizeof buf - 1);
    buf[got > 0 ? got : 0] = 0;
    printf("reply: %s\n", buf);
    return 0;
}
