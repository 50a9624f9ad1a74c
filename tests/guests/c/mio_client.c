/* tokio_wasi's TcpStream::connect as mio_wasi makes it (wasmedge_wasi_socket 0.5): sock_open,
 * set_nonblocking (fcntl), sock_connect with a raw 4-byte address -> 0 or EINPROGRESS (26), wait for
 * FD_WRITE in poll_oneoff, take_error (SO_ERROR, a WASI errno), peer_addr (V1 getpeeraddr), then
 * write the request and read until EOF between FD_READ events, and Drop (shutdown(Both) + close).
 * argv: port [port...] on 127.0.0.1; prints one "port=<p> so_error=<e> ..." line per port. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>
#include "wasmedge_sock.h"

static int wait_for(uint32_t fd, __wasi_eventtype_t type, uint16_t *flags) {
    __wasi_subscription_t subs[2];
    __wasi_event_t evs[2];
    memset(subs, 0, sizeof subs);
    subs[0].userdata = fd; subs[0].u.tag = type;
    subs[0].u.u.fd_read.file_descriptor = fd;
    subs[1].userdata = UINT64_MAX; subs[1].u.tag = __WASI_EVENTTYPE_CLOCK;
    subs[1].u.u.clock.id = __WASI_CLOCKID_MONOTONIC; subs[1].u.u.clock.timeout = 10000000000ull;
    __wasi_size_t n = 0;
    if (__wasi_poll_oneoff(subs, evs, 2, &n) || n == 0) return -1;
    for (__wasi_size_t i = 0; i < n; i++)
        if (evs[i].userdata == fd && evs[i].type == type) {
            if (flags) *flags = evs[i].fd_readwrite.flags;
            return evs[i].error;
        }
    return -2;  /* timed out */
}

static void one(uint32_t port) {
    uint32_t fd, e;
    if ((e = we_sock_open(WE_INET4, WE_STREAM, &fd))) { printf("port=%u open %u\n", port, e); return; }
    fcntl((int)fd, F_SETFL, fcntl((int)fd, F_GETFL) | O_NONBLOCK);
    uint8_t ip[4] = {127, 0, 0, 1};
    we_address_t a = {ip, 4};
    e = we_sock_connect(fd, &a, port);
    if (e && e != __WASI_ERRNO_INPROGRESS) { printf("port=%u connect %u\n", port, e); close((int)fd); return; }
    int w = wait_for(fd, __WASI_EVENTTYPE_FD_WRITE, NULL);
    int32_t soerr = -1;
    uint32_t len = 4;
    we_sock_getsockopt(fd, 0, 2, &soerr, &len);
    printf("port=%u connect=%u writable=%d so_error=%d", port, e, w, soerr);
    if (soerr == 0) {
        uint8_t pip[16] = {0};
        we_address_t pa = {pip, 16};
        uint32_t type = 0, pport = 0;
        we_sock_getpeeraddr(fd, &pa, &type, &pport);
        printf(" peer=%u.%u.%u.%u:%u type=%u", pip[0], pip[1], pip[2], pip[3], pport, type);
        const char *req = "GET / HTTP/1.0\r\n\r\n";
        if (we_send_all(fd, req, (uint32_t)strlen(req))) printf(" send failed");
        size_t total = 0;
        char buf[4096];
        for (;;) {
            int got = we_recv(fd, buf, sizeof buf);
            if (got == -(int)__WASI_ERRNO_AGAIN) {
                uint16_t fl = 0;
                if (wait_for(fd, __WASI_EVENTTYPE_FD_READ, &fl) < 0) { printf(" read wait failed"); break; }
                continue;
            }
            if (got <= 0) break;
            total += (size_t)got;
        }
        printf(" got=%zu", total);
    }
    printf("\n");
    fflush(stdout);
    we_sock_shutdown(fd, 3);
    close((int)fd);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) one((uint32_t)atoi(argv[i]));
    printf("done\n");
    return 0;
}
