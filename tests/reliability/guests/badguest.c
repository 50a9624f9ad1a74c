/* Guests for the reliability matrix: argv[1] = serve | trap | sockets N | flood MIB | memhog | poll0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>
#include "wasmedge_sock.h"

static uint32_t listener(uint32_t port) {
    uint32_t fd; uint8_t any[4] = {0}; we_address_t a = {any, 4};
    if (we_sock_open(WE_INET4, WE_STREAM, &fd) || we_sock_bind(fd, &a, port) || we_sock_listen(fd, 16)) abort();
    return fd;
}

static void serve(uint32_t fd) {  /* "ok" to every connection, forever */
    for (;;) {
        uint32_t c;
        if (we_sock_accept(fd, &c)) continue;
        we_send_all(c, "ok\n", 3);
        we_sock_shutdown(c, 3);
        __wasi_fd_close(c);
    }
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    if (strcmp(what, "serve") == 0) serve(listener(8080));
    if (strcmp(what, "trap") == 0) __builtin_trap();
    if (strcmp(what, "sockets") == 0) {  /* hold N sockets (or as many as we get), then serve */
        uint32_t l = listener(9000), n = (uint32_t)atoi(argv[2]), ok = 0, failed = 0, last = 0, fd;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t e = we_sock_open(WE_INET4, i % 2 ? WE_DGRAM : WE_STREAM, &fd);
            if (e) { failed++; last = e; } else ok++;
        }
        printf("opened %u failed %u errno %u\n", ok, failed, last);
        fflush(stdout);
        serve(l);
    }
    if (strcmp(what, "flood") == 0) {  /* MIB mebibytes to stdout, in 64 KiB writes */
        static char buf[1 << 16];
        memset(buf, 'x', sizeof buf);
        for (int i = 0; i < (int)sizeof buf; i += 64) buf[i + 63] = '\n';
        long chunks = atol(argv[2]) * 16;
        for (long i = 0; i < chunks; i++) {
            const char *p = buf; size_t left = sizeof buf;
            while (left) { ssize_t w = write(1, p, left); if (w <= 0) return 3; p += w; left -= (size_t)w; }
        }
        return 0;
    }
    if (strcmp(what, "memhog") == 0) {
        size_t total = 0;
        static char *volatile keep[1 << 14];
        for (int i = 0;; i++) {
            char *p = malloc(1 << 20);
            if (!p) { fprintf(stderr, "malloc failed after %zu MiB\n", total >> 20); abort(); }
            memset(p, 1, 1 << 20);
            keep[i % (1 << 14)] = p;
            total += 1 << 20;
        }
    }
    if (strcmp(what, "poll0") == 0) {  /* a zero-timeout poll, forever: busy, never blocked */
        __wasi_subscription_t sub = {.userdata = 1, .u = {.tag = __WASI_EVENTTYPE_CLOCK}};
        sub.u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
        sub.u.u.clock.timeout = 0;
        __wasi_event_t ev; __wasi_size_t n;
        printf("polling\n");
        fflush(stdout);
        for (;;) __wasi_poll_oneoff(&sub, &ev, 1, &n);
    }
    return 2;
}
