/* A blocking HTTP server on WasmEdge's socket ABI, one connection at a time.
 * Env: PORT (8080), BIND (0.0.0.0 | 127.0.0.1 | ::), ADDR_FORM (v1: 4/16 raw bytes | v2: 128-byte storage).
 * Routes: GET /hello, POST /echo, GET /big/N, POST /write/NAME, GET /read/NAME, GET /exit/N. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wasmedge_sock.h"

static void reply(uint32_t fd, int status, const char *body, uint32_t len) {
    char hdr[200];
    int n = snprintf(hdr, sizeof hdr, "HTTP/1.1 %d %s\r\nContent-Length: %u\r\nConnection: close\r\n\r\n",
                     status, status == 200 ? "OK" : "Not Found", len);
    we_send_all(fd, hdr, (uint32_t)n);
    we_send_all(fd, body, len);
}

static int bind_listener(const char *bind, uint32_t port, int v2) {
    uint32_t fd, e;
    int v6 = strchr(bind, ':') != NULL;
    if ((e = we_sock_open(v6 ? WE_INET6 : WE_INET4, WE_STREAM, &fd))) { printf("sock_open: %u\n", e); return -1; }
    int32_t one = 1;
    we_sock_setsockopt(fd, 0, 0 /* SO_REUSEADDR */, &one, sizeof one);
    uint8_t raw[16] = {0}, storage[128] = {0};
    if (!v6 && strcmp(bind, "127.0.0.1") == 0) { raw[0] = 127; raw[3] = 1; }
    we_address_t a;
    if (v2) {
        storage[0] = v6 ? WE_INET6 : WE_INET4;
        memcpy(storage + 2, raw, v6 ? 16 : 4);
        a = (we_address_t){storage, 128};
        e = we_sock_bind_v2(fd, &a, port);
    } else {
        a = (we_address_t){raw, v6 ? 16 : 4};
        e = we_sock_bind(fd, &a, port);
    }
    if (e) { printf("sock_bind: %u\n", e); return -1; }
    if ((e = we_sock_listen(fd, 16))) { printf("sock_listen: %u\n", e); return -1; }
    return (int)fd;
}

static void show_local(uint32_t fd) {
    uint8_t ip[16] = {0}; we_address_t a = {ip, 16}; uint32_t type = 0, port = 0;
    we_sock_getlocaladdr(fd, &a, &type, &port);
    if (type == 4) printf("listening v1 %u.%u.%u.%u:%u\n", ip[0], ip[1], ip[2], ip[3], port);
    else printf("listening v1 [ipv6]:%u\n", port);
    uint8_t st[128] = {0}; we_address_t b = {st, 128}; uint32_t port2 = 0;
    uint32_t e = we_sock_getlocaladdr_v2(fd, &b, &port2);
    printf("listening v2 family=%u %u.%u.%u.%u:%u (e=%u)\n", st[0] | st[1] << 8, st[2], st[3], st[4], st[5], port2, e);
    fflush(stdout);
}

int main(void) {
    const char *ps = getenv("PORT"), *bind = getenv("BIND"), *form = getenv("ADDR_FORM");
    uint32_t port = ps ? (uint32_t)atoi(ps) : 8080;
    int lfd = bind_listener(bind ? bind : "0.0.0.0", port, form && strcmp(form, "v2") == 0);
    if (lfd < 0) return 1;
    show_local((uint32_t)lfd);
    size_t cap = 1 << 16;
    char *req = malloc(cap);
    for (int served = 0;; served++) {
        uint32_t cfd, e;
        if ((e = we_sock_accept((uint32_t)lfd, &cfd))) { printf("sock_accept: %u\n", e); return 1; }
        size_t got = 0; char *end = NULL;
        while (!end) {
            if (got + 4096 > cap) { cap *= 2; req = realloc(req, cap); }
            int n = we_recv(cfd, req + got, (uint32_t)(cap - got - 1));
            if (n <= 0) break;
            got += (size_t)n; req[got] = 0;
            end = strstr(req, "\r\n\r\n");
        }
        if (!end) { close((int)cfd); continue; }  /* client went away early */
        size_t head = (size_t)(end - req) + 4, clen = 0;
        char *cl = strstr(req, "Content-Length:");
        if (cl && cl < end) clen = (size_t)strtoul(cl + 15, NULL, 10);
        while (got < head + clen) {
            if (head + clen + 1 > cap) { cap = head + clen + 1; req = realloc(req, cap); }
            int n = we_recv(cfd, req + got, (uint32_t)(head + clen - got));
            if (n <= 0) break;
            got += (size_t)n;
        }
        char method[8] = {0}, path[256] = {0};
        sscanf(req, "%7s %255s", method, path);
        char *body = req + head;
        if (strcmp(path, "/hello") == 0) {
            char msg[64]; int n = snprintf(msg, sizeof msg, "hello from C #%d\n", served);
            reply(cfd, 200, msg, (uint32_t)n);
        } else if (strcmp(path, "/echo") == 0) {
            reply(cfd, 200, body, (uint32_t)(got - head));
        } else if (strncmp(path, "/big/", 5) == 0) {
            size_t n = strtoul(path + 5, NULL, 10);
            char *big = malloc(n + 1);
            for (size_t i = 0; i < n; i++) big[i] = (char)('a' + i % 26);
            reply(cfd, 200, big, (uint32_t)n);
            free(big);
        } else if (strncmp(path, "/write/", 7) == 0) {
            char file[300]; snprintf(file, sizeof file, "/%s", path + 7);
            FILE *f = fopen(file, "w");
            if (f) { fwrite(body, 1, got - head, f); fclose(f); reply(cfd, 200, "ok\n", 3); }
            else reply(cfd, 404, "cannot write\n", 13);
        } else if (strncmp(path, "/read/", 6) == 0) {
            char file[300], buf[4096]; snprintf(file, sizeof file, "/%s", path + 6);
            FILE *f = fopen(file, "r");
            if (f) { size_t n = fread(buf, 1, sizeof buf, f); fclose(f); reply(cfd, 200, buf, (uint32_t)n); }
            else reply(cfd, 404, "no such file\n", 13);
        } else if (strncmp(path, "/exit/", 6) == 0) {
            reply(cfd, 200, "bye\n", 4);
            close((int)cfd);
            printf("exiting on request\n");
            return atoi(path + 6);
        } else {
            reply(cfd, 404, "not found\n", 10);
        }
        we_sock_shutdown(cfd, 2);
        close((int)cfd);
    }
}
