/* The socket ABI as C programs built for WasmEdge's "v2" extension see it: the libc socket shims
 * of vmware-labs' language runtimes (PHP, Python) and wasi-go's WasmEdge V2 module. Unlike the
 * Rust crates, they pass getsockopt's size *by value* (4), set TCP_NODELAY at level 6 (name 15),
 * use the 3-parameter sock_accept / sock_getlocaladdr / sock_getpeeraddr with 128-byte address
 * buffers, and declare the addrinfo's protocol and the sockaddr's family as uint32_t.
 * Serves "peer=<ip> family=<f> nodelay=<n>" to each connection. Env: PORT (8080). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
typedef struct { uint16_t family; uint8_t addr[126]; } addr_buf_t;
typedef struct { addr_buf_t *buf; uint32_t len; } address_t;
typedef struct { uint8_t *buf; uint32_t len; } iov_t;
typedef struct { uint32_t family, data_len; uint8_t *data; uint8_t pad[4]; } sockaddr_t;
typedef struct info {
    uint16_t flags; uint8_t family, socktype; uint32_t protocol, addrlen;
    sockaddr_t *addr; char *canonname; uint32_t canonnamelen; struct info *next;
} info_t;

int32_t s_open(int32_t family, int32_t type, int32_t *fd) IMPORT(sock_open);
int32_t s_bind(int32_t fd, address_t *a, uint32_t port) IMPORT(sock_bind);
int32_t s_listen(uint32_t fd, uint32_t backlog) IMPORT(sock_listen);
int32_t s_accept(uint32_t fd, uint32_t flags, uint32_t *out) IMPORT(sock_accept);
int32_t s_recv(uint32_t fd, iov_t *iov, uint32_t n, uint32_t flags, uint32_t *len, uint32_t *oflags)
    IMPORT(sock_recv);
int32_t s_send(uint32_t fd, iov_t *iov, uint32_t n, uint32_t flags, uint32_t *len) IMPORT(sock_send);
int32_t s_shutdown(uint32_t fd, uint32_t how) IMPORT(sock_shutdown);
int32_t s_local(uint32_t fd, address_t *a, uint32_t *port) IMPORT(sock_getlocaladdr);
int32_t s_peer(uint32_t fd, address_t *a, uint32_t *port) IMPORT(sock_getpeeraddr);
int32_t s_getopt(uint32_t fd, int32_t level, int32_t name, int32_t *v, int32_t size) IMPORT(sock_getsockopt);
int32_t s_setopt(uint32_t fd, int32_t level, int32_t name, int32_t *v, uint32_t size) IMPORT(sock_setsockopt);
int32_t s_getaddrinfo(const char *node, uint32_t nlen, const char *serv, uint32_t slen, info_t *hints,
                      info_t **res, uint32_t max, uint32_t *n) IMPORT(sock_getaddrinfo);

static void fail(const char *what, long v) {
    printf("FAIL %s: %ld\n", what, v);
    fflush(stdout);
    exit(1);
}

static int32_t get_opt(uint32_t fd, int32_t level, int32_t name) {
    volatile uint32_t *low = (volatile uint32_t *)8;  /* never a real object: must stay as it is */
    uint32_t before = *low;
    int32_t v = -1, e = s_getopt(fd, level, name, &v, 4);
    if (e) fail("getsockopt", e);
    if (*low != before) fail("getsockopt wrote to the size value as if it were a pointer", (long)*low);
    return v;
}

int main(void) {
    const char *ps = getenv("PORT");
    uint32_t port = ps ? (uint32_t)atoi(ps) : 8080, n = 0;
    int32_t fd, e, one = 1;
    if ((e = s_open(1, 2, &fd))) fail("sock_open", e);
    if ((e = s_setopt((uint32_t)fd, 6, 15, &one, 4))) fail("setsockopt TCP_NODELAY", e);
    if ((e = s_setopt((uint32_t)fd, 0, 0, &one, 4))) fail("setsockopt SO_REUSEADDR", e);
    if (get_opt((uint32_t)fd, 0, 1) != 2) fail("SO_TYPE", 0);
    if ((e = s_setopt((uint32_t)fd, 41, 26, &one, 4)) != 28) fail("IPV6_V6ONLY is no WasmEdge option", e);
    addr_buf_t b = {1, {0}};
    address_t a = {&b, 128};
    if ((e = s_bind(fd, &a, port))) fail("bind", e);
    if ((e = s_listen((uint32_t)fd, 128))) fail("listen", e);
    memset(&b, 0xAA, sizeof b);
    uint32_t lport = 0;
    if ((e = s_local((uint32_t)fd, &a, &lport))) fail("getlocaladdr", e);
    if (b.family != 1 || lport != port) fail("local address", b.family * 100000L + lport);

    static info_t infos[4];
    static sockaddr_t addrs[4];
    static uint8_t data[4][26];
    memset(addrs, 0xAA, sizeof addrs);  /* the runtime must write all of family's 4 bytes */
    for (int i = 0; i < 4; i++) {
        infos[i].protocol = 0xAAAAAAAA;
        infos[i].addr = &addrs[i];
        addrs[i].data_len = 26; addrs[i].data = data[i];
        infos[i].next = i < 3 ? &infos[i + 1] : NULL;
    }
    info_t hints = {0, 1, 2, 1, 0, NULL, NULL, 0, NULL};
    info_t *res = infos;
    if ((e = s_getaddrinfo("localhost", 9, "8080", 4, &hints, &res, 4, &n)) || !n) fail("getaddrinfo", e);
    if (addrs[0].family != 1) fail("addrinfo sockaddr family", (long)addrs[0].family);
    if (infos[0].protocol != 1) fail("addrinfo protocol", (long)infos[0].protocol);
    if (data[0][0] != 0x1f || data[0][1] != 0x90 || data[0][2] != 127) fail("addrinfo data", data[0][2]);
    printf("shim server ready\n");
    fflush(stdout);

    for (;;) {
        uint32_t c = 0, pport = 0;
        if ((e = s_accept((uint32_t)fd, 0, &c))) fail("accept", e);
        memset(&b, 0, sizeof b);
        if ((e = s_peer(c, &a, &pport))) fail("getpeeraddr", e);
        char req[2048];
        iov_t v = {(uint8_t *)req, sizeof req};
        uint32_t got = 0, of = 0;
        if ((e = s_recv(c, &v, 1, 0, &got, &of))) fail("recv", e);
        int32_t err = get_opt(c, 0, 2), nodelay = get_opt(c, 6, 15);
        char body[96], resp[256];
        int bn = snprintf(body, sizeof body, "peer=%u.%u.%u.%u family=%u nodelay=%d error=%d", b.addr[0],
                          b.addr[1], b.addr[2], b.addr[3], b.family, nodelay, err);
        int rn = snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                          bn, body);
        iov_t out = {(uint8_t *)resp, (uint32_t)rn};
        uint32_t sent = 0;
        if ((e = s_send(c, &out, 1, 0, &sent))) fail("send", e);
        s_shutdown(c, 2);
        close((int)c);
    }
}
