/* A tiny HTTP/1.1 server for the benchmarks: answers every request with "ok", keeps connections
 * alive and serves many clients at once through poll(). Built two ways from this one source:
 *   default       opens its own listener with the WasmEdge socket ABI, as Docker+Wasm images do
 *                 (PORT env var, default 8080);
 *   -DPREOPENED   uses the listener the host hands over as fd 3 (wasmtime run -S tcplisten=...).
 * Reading and writing go through wasi-libc's recv/send (WASI sock_recv/sock_send) and poll()
 * (poll_oneoff), which both ABIs share, so the only difference is where the listener comes from. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNS 128
#define BUF_SIZE 2048

#ifndef PREOPENED
typedef struct {
    const uint8_t *buf;
    uint32_t size;
} wasi_address;

__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_open")))
uint32_t wasmedge_sock_open(uint8_t family, uint8_t type, uint32_t *fd);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_bind")))
uint32_t wasmedge_sock_bind(uint32_t fd, wasi_address *addr, uint32_t port);
__attribute__((import_module("wasi_snapshot_preview1"), import_name("sock_listen")))
uint32_t wasmedge_sock_listen(uint32_t fd, uint32_t backlog);

static int open_listener(void) {
    const char *port_env = getenv("PORT");
    uint32_t port = port_env ? (uint32_t)atoi(port_env) : 8080;
    uint32_t fd = 0;
    uint8_t any[4] = {0, 0, 0, 0};
    wasi_address addr = {any, 4};
    uint32_t err = wasmedge_sock_open(1 /* inet4 */, 2 /* stream */, &fd);
    if (!err) err = wasmedge_sock_bind(fd, &addr, port);
    if (!err) err = wasmedge_sock_listen(fd, 128);
    if (err) {
        fprintf(stderr, "http_ok: cannot listen on port %u: errno %u\n", port, err);
        exit(1);
    }
    return (int)fd;
}
#else
static int open_listener(void) { return 3; }
#endif

static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";

typedef struct {
    int fd;
    size_t used;
    char buf[BUF_SIZE];
} conn;

static conn conns[MAX_CONNS];
static struct pollfd fds[MAX_CONNS + 1];

static int send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Answer every complete request in the buffer; returns -1 when the connection should close. */
static int serve(conn *c) {
    ssize_t n = recv(c->fd, c->buf + c->used, sizeof c->buf - c->used, 0);
    if (n <= 0) return -1;
    c->used += (size_t)n;
    for (;;) {
        char *end = NULL;
        for (size_t i = 3; i < c->used; i++) {
            if (memcmp(c->buf + i - 3, "\r\n\r\n", 4) == 0) {
                end = c->buf + i + 1;
                break;
            }
        }
        if (!end) return c->used == sizeof c->buf ? -1 : 0; /* oversized header: drop it */
        if (send_all(c->fd, RESPONSE, sizeof RESPONSE - 1) < 0) return -1;
        size_t rest = c->used - (size_t)(end - c->buf);
        memmove(c->buf, end, rest);
        c->used = rest;
    }
}

int main(void) {
    int listener = open_listener();
    int count = 0;
    printf("http_ok: listening\n");
    fflush(stdout);
    for (;;) {
        fds[0].fd = listener;
        fds[0].events = POLLIN;
        for (int i = 0; i < count; i++) {
            fds[i + 1].fd = conns[i].fd;
            fds[i + 1].events = POLLIN;
            fds[i + 1].revents = 0;
        }
        if (poll(fds, (nfds_t)count + 1, -1) < 0) {
            if (errno == EINTR) continue;
            perror("http_ok: poll");
            return 1;
        }
        for (int i = count - 1; i >= 0; i--) {
            if (!fds[i + 1].revents) continue;
            if (serve(&conns[i]) < 0) {
                close(conns[i].fd);
                conns[i] = conns[--count]; /* keeps the array dense; order does not matter */
            }
        }
        if (fds[0].revents) {
            int fd = accept(listener, NULL, NULL);
            if (fd < 0) continue;
            if (count == MAX_CONNS) {
                close(fd);
                continue;
            }
            conns[count].fd = fd;
            conns[count].used = 0;
            count++;
        }
    }
}
