/* A non-blocking echo server driven by poll_oneoff (the shape of tokio/mio event loops).
 * Each client's bytes are echoed back; when the client half-closes, the server answers
 * "BYE <bytes>\n" and closes. Clients that reset are dropped. Env: PORT (7000), DATA_FILE.
 * The first poll also waits on DATA_FILE (a regular file) next to the listener: real WASI's answer
 * for the file must come back with the socket events. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>
#include "wasmedge_sock.h"

#define MAXC 256
typedef struct { uint32_t fd; char *out; size_t out_len, out_off; size_t total; int eof; } client_t;
static client_t clients[MAXC];
static int nclients;

static void drop(int i) {
    close((int)clients[i].fd);
    free(clients[i].out);
    clients[i] = clients[--nclients];
}

static void queue(client_t *c, const char *p, size_t n) {
    c->out = realloc(c->out, c->out_len + n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

static int flush(client_t *c) {  /* 1: all sent, 0: would block, -1: error */
    while (c->out_off < c->out_len) {
        we_iovec_t v = {(uint8_t *)c->out + c->out_off, (uint32_t)(c->out_len - c->out_off)};
        uint32_t sent = 0, e = we_sock_send(c->fd, &v, 1, 0, &sent);
        if (e == __WASI_ERRNO_AGAIN) return 0;
        if (e) return -1;
        c->out_off += sent;
    }
    c->out_len = c->out_off = 0;
    return 1;
}

int main(void) {
    const char *ps = getenv("PORT"), *data_file = getenv("DATA_FILE");
    uint32_t lfd, e;
    we_sock_open(WE_INET4, WE_STREAM, &lfd);
    uint8_t any[4] = {0};
    we_address_t a = {any, 4};
    if ((e = we_sock_bind(lfd, &a, ps ? (uint32_t)atoi(ps) : 7000))) { printf("bind %u\n", e); return 1; }
    we_sock_listen(lfd, 64);
    fcntl((int)lfd, F_SETFL, O_NONBLOCK);  /* -> fd_fdstat_set_flags on a socket fd */
    int file_fd = data_file ? open(data_file, O_RDONLY) : -1;
    printf("event server ready\n"); fflush(stdout);
    static __wasi_subscription_t subs[2 * MAXC + 3];
    static __wasi_event_t evs[2 * MAXC + 3];
    char buf[65536];
    for (;;) {
        size_t n = 0;
        subs[n].userdata = 1000000; subs[n].u.tag = __WASI_EVENTTYPE_FD_READ;
        subs[n++].u.u.fd_read.file_descriptor = lfd;
        for (int i = 0; i < nclients; i++) {
            subs[n].userdata = (uint64_t)i; subs[n].u.tag = __WASI_EVENTTYPE_FD_READ;
            subs[n++].u.u.fd_read.file_descriptor = clients[i].fd;
            if (clients[i].out_len) {
                subs[n].userdata = 2000000 + (uint64_t)i; subs[n].u.tag = __WASI_EVENTTYPE_FD_WRITE;
                subs[n++].u.u.fd_write.file_descriptor = clients[i].fd;
            }
        }
        if (file_fd >= 0) {
            subs[n].userdata = 3000000; subs[n].u.tag = __WASI_EVENTTYPE_FD_READ;
            subs[n++].u.u.fd_read.file_descriptor = (uint32_t)file_fd;
        }
        subs[n].userdata = 4000000; subs[n].u.tag = __WASI_EVENTTYPE_CLOCK;
        subs[n].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
        subs[n].u.u.clock.timeout = 500000000ull; subs[n].u.u.clock.precision = 0; subs[n++].u.u.clock.flags = 0;
        __wasi_size_t nev = 0;
        if ((e = __wasi_poll_oneoff(subs, evs, n, &nev))) { printf("poll_oneoff %u\n", e); return 1; }
        int closed[MAXC] = {0};
        for (__wasi_size_t k = 0; k < nev; k++) {
            uint64_t u = evs[k].userdata;
            if (u == 4000000) continue;  /* timeout tick */
            if (u == 3000000) {
                printf("file event type=%u error=%u nbytes=%llu\n", evs[k].type, evs[k].error,
                       (unsigned long long)evs[k].fd_readwrite.nbytes);
                fflush(stdout);
                close(file_fd); file_fd = -1;
                continue;
            }
            if (u == 1000000) {
                for (;;) {
                    uint32_t cfd;
                    e = we_sock_accept(lfd, &cfd);
                    if (e == __WASI_ERRNO_AGAIN) break;
                    if (e) { printf("accept %u\n", e); break; }
                    fcntl((int)cfd, F_SETFL, O_NONBLOCK);
                    if (nclients == MAXC) { close((int)cfd); continue; }
                    clients[nclients++] = (client_t){cfd, NULL, 0, 0, 0, 0};
                }
                continue;
            }
            int i = (int)(u % 1000000);
            if (i >= nclients || closed[i]) continue;
            client_t *c = &clients[i];
            if (u >= 2000000) {
                if (flush(c) < 0) closed[i] = 1;
            } else {
                int got = we_recv(c->fd, buf, sizeof buf);
                if (got == -(int)__WASI_ERRNO_AGAIN) continue;
                if (got < 0) { closed[i] = 1; continue; }  /* reset by the client */
                if (got == 0) {
                    char bye[64]; int m = snprintf(bye, sizeof bye, "BYE %zu\n", c->total);
                    queue(c, bye, (size_t)m);
                    c->eof = 1;
                } else {
                    c->total += (size_t)got;
                    queue(c, buf, (size_t)got);
                }
                if (flush(c) < 0) closed[i] = 1;
            }
            if (c->eof && !c->out_len) closed[i] = 1;
        }
        for (int i = nclients - 1; i >= 0; i--)
            if (closed[i]) drop(i);
    }
}
