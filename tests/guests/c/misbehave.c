/* Guests that go wrong on purpose: argv[1] = trap | spin | memhog | exit N | block. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wasmedge_sock.h"

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "";
    printf("misbehave: %s\n", what);
    fflush(stdout);
    if (strcmp(what, "trap") == 0) __builtin_trap();
    if (strcmp(what, "spin") == 0) {
        volatile unsigned long n = 0;
        for (;;) n++;
    }
    if (strcmp(what, "memhog") == 0) {
        size_t total = 0;
        static char *volatile keep[1 << 13];  /* volatile: the allocations must really happen */
        for (int i = 0;; i++) {
            char *p = malloc(1 << 20);
            if (!p) { fprintf(stderr, "malloc failed after %zu MiB\n", total >> 20); abort(); }
            memset(p, 1, 1 << 20);
            keep[i % (1 << 13)] = p;
            total += 1 << 20;
        }
    }
    if (strcmp(what, "exit") == 0) return atoi(argv[2]);
    if (strcmp(what, "block") == 0) {  /* blocked in accept forever */
        uint32_t fd, c; uint8_t any[4] = {0}; we_address_t a = {any, 4};
        we_sock_open(WE_INET4, WE_STREAM, &fd);
        we_sock_bind(fd, &a, 9000);
        we_sock_listen(fd, 1);
        we_sock_accept(fd, &c);
    }
    if (strcmp(what, "flood") == 0) {
        for (int i = 0; i < 20000; i++) printf("flood line %d ..............................................\n", i);
        return 0;
    }
    if (strcmp(what, "stdin") == 0) {
        char buf[256]; size_t n = fread(buf, 1, sizeof buf - 1, stdin); buf[n] = 0;
        printf("stdin: %s\n", buf);
        return 0;
    }
    return 0;
}
