/* The plugin tests' guest: a small HTTP server that opens its listener with the WasmEdge socket ABI,
 * as Docker+Wasm server images do. argv[1] picks what it does, so one image covers every test:
 *   serve   listen on $PORT (8080) after $DELAY_MS, answer "hello <$GREETING> <path>"; GET /exit exits 0,
 *           GET /crash traps (unreachable)
 *   fail    print an error and exit 3 before listening
 *   idle    print a line and never listen (readiness timeouts)
 *   echo    print its arguments and $GREETING, exit with argv[2] (default 0)
 * With $NO_FLUSH set it never calls fflush, like most programs: its lines then reach the log as
 * libc's buffer fills, unless stdout is a terminal (tty=True), where libc writes each line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static int listen_on(uint32_t port) {
    uint32_t fd = 0;
    uint8_t any[4] = {0, 0, 0, 0};
    wasi_address addr = {any, 4};
    uint32_t err = wasmedge_sock_open(1 /* inet4 */, 2 /* stream */, &fd);
    if (!err) err = wasmedge_sock_bind(fd, &addr, port);
    if (!err) err = wasmedge_sock_listen(fd, 16);
    if (err) {
        fprintf(stderr, "webapp: cannot listen on port %u: errno %u\n", port, err);
        exit(1);
    }
    return (int)fd;
}

static void send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, 0);
        if (n <= 0) return;
        data += n;
        len -= (size_t)n;
    }
}

/* Waits by watching the clock (clock_time_get) rather than sleeping (poll_oneoff): the delay is
 * about when the listener appears, not about testing the runtime's sleep. */
static void delay_ms(int ms) {
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static int serve(void) {
    uint32_t port = (uint32_t)atoi(env_or("PORT", "8080"));
    int delay = atoi(env_or("DELAY_MS", "0"));
    if (delay > 0) delay_ms(delay);
    int listener = listen_on(port);
    printf("webapp: listening on %u\n", port);
    if (!getenv("NO_FLUSH")) fflush(stdout);
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        char req[2048];
        size_t used = 0;
        while (used < sizeof req - 1) { /* read up to the end of the headers */
            ssize_t n = recv(fd, req + used, sizeof req - 1 - used, 0);
            if (n <= 0) break;
            used += (size_t)n;
            req[used] = 0;
            if (strstr(req, "\r\n\r\n")) break;
        }
        req[used] = 0;
        char method[16] = "", path[512] = "";
        if (sscanf(req, "%15s %511s", method, path) != 2) {
            close(fd);
            continue;
        }
        printf("webapp: %s %s\n", method, path);
        if (!getenv("NO_FLUSH")) fflush(stdout);
        if (strcmp(path, "/crash") == 0) __builtin_trap();
        char body[700], head[200];
        int blen = snprintf(body, sizeof body, "hello %s %s\n", env_or("GREETING", "world"), path);
        int hlen = snprintf(head, sizeof head,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                            "Connection: close\r\n\r\n", blen);
        send_all(fd, head, (size_t)hlen);
        send_all(fd, body, (size_t)blen);
        close(fd);
        if (strcmp(path, "/exit") == 0) {
            printf("webapp: bye\n");
            return 0;
        }
    }
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "serve";
    if (strcmp(mode, "serve") == 0) return serve();
    if (strcmp(mode, "fail") == 0) {
        fprintf(stderr, "webapp: cannot start: bad config\n");
        return 3;
    }
    if (strcmp(mode, "idle") == 0) {
        printf("webapp: idle, not listening\n");
        fflush(stdout);
        for (;;) sleep(1);
    }
    if (strcmp(mode, "echo") == 0) {
        for (int i = 0; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
        printf("GREETING=%s\n", env_or("GREETING", ""));
        return argc > 2 ? atoi(argv[2]) : 0;
    }
    fprintf(stderr, "webapp: unknown mode %s (serve, fail, idle, echo)\n", mode);
    return 2;
}
