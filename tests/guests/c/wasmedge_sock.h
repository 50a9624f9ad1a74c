/* WasmEdge's socket extension as the wasmedge_wasi_socket crates import it (all i32 on wasm32).
 * V1 forms take raw 4/16-byte addresses; the *_v2 names take a 128-byte storage (u16 family first). */
#ifndef WASMEDGE_SOCK_H
#define WASMEDGE_SOCK_H
#include <stdint.h>

#define WE_IMPORT(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))

typedef struct { uint8_t *buf; uint32_t size; } we_address_t;  /* WasiAddress */
typedef struct { uint8_t *buf; uint32_t size; } we_iovec_t;
typedef struct { uint8_t family; uint32_t sa_data_len; uint8_t *sa_data; } we_sockaddr_t;
typedef struct __attribute__((packed, aligned(4))) {
    uint16_t flags; uint8_t family; uint8_t socktype; uint8_t protocol; uint8_t _pad[3];
    uint32_t addrlen; we_sockaddr_t *addr; char *canonname; uint32_t canonnamelen;
    void *next;
} we_addrinfo_t;

enum { WE_INET4 = 1, WE_INET6 = 2, WE_DGRAM = 1, WE_STREAM = 2 };

uint32_t we_sock_open(uint32_t af, uint32_t type, uint32_t *fd) WE_IMPORT(sock_open);
uint32_t we_sock_bind(uint32_t fd, we_address_t *addr, uint32_t port) WE_IMPORT(sock_bind);
uint32_t we_sock_bind_v2(uint32_t fd, we_address_t *addr, uint32_t port) WE_IMPORT(sock_bind_v2);
uint32_t we_sock_listen(uint32_t fd, uint32_t backlog) WE_IMPORT(sock_listen);
uint32_t we_sock_accept(uint32_t fd, uint32_t *newfd) WE_IMPORT(sock_accept);
uint32_t we_sock_connect(uint32_t fd, we_address_t *addr, uint32_t port) WE_IMPORT(sock_connect);
uint32_t we_sock_recv(uint32_t fd, we_iovec_t *iov, uint32_t n, uint32_t flags, uint32_t *len,
                      uint32_t *oflags) WE_IMPORT(sock_recv);
uint32_t we_sock_recv_from(uint32_t fd, we_iovec_t *iov, uint32_t n, we_address_t *addr, uint32_t flags,
                           uint32_t *port, uint32_t *len, uint32_t *oflags) WE_IMPORT(sock_recv_from);
uint32_t we_sock_send(uint32_t fd, const we_iovec_t *iov, uint32_t n, uint32_t flags, uint32_t *len)
    WE_IMPORT(sock_send);
uint32_t we_sock_send_to(uint32_t fd, const we_iovec_t *iov, uint32_t n, we_address_t *addr, uint32_t port,
                         uint32_t flags, uint32_t *len) WE_IMPORT(sock_send_to);
uint32_t we_sock_shutdown(uint32_t fd, uint32_t how) WE_IMPORT(sock_shutdown);
uint32_t we_sock_getlocaladdr(uint32_t fd, we_address_t *addr, uint32_t *type, uint32_t *port)
    WE_IMPORT(sock_getlocaladdr);
uint32_t we_sock_getlocaladdr_v2(uint32_t fd, we_address_t *addr, uint32_t *port) WE_IMPORT(sock_getlocaladdr_v2);
uint32_t we_sock_getpeeraddr(uint32_t fd, we_address_t *addr, uint32_t *type, uint32_t *port)
    WE_IMPORT(sock_getpeeraddr);
uint32_t we_sock_setsockopt(uint32_t fd, int32_t level, int32_t name, const void *flag, uint32_t size)
    WE_IMPORT(sock_setsockopt);
uint32_t we_sock_getsockopt(uint32_t fd, int32_t level, int32_t name, void *flag, uint32_t *size)
    WE_IMPORT(sock_getsockopt);
uint32_t we_sock_getaddrinfo(const char *node, uint32_t node_len, const char *service, uint32_t service_len,
                             const we_addrinfo_t *hints, uint32_t *res, uint32_t max, uint32_t *res_len)
    WE_IMPORT(sock_getaddrinfo);

static inline int we_send_all(uint32_t fd, const char *p, uint32_t n) {
    while (n) {
        we_iovec_t v = {(uint8_t *)p, n};
        uint32_t sent = 0, e = we_sock_send(fd, &v, 1, 0, &sent);
        if (e) return -(int)e;
        p += sent; n -= sent;
    }
    return 0;
}

static inline int we_recv(uint32_t fd, char *p, uint32_t n) {
    we_iovec_t v = {(uint8_t *)p, n};
    uint32_t got = 0, of = 0, e = we_sock_recv(fd, &v, 1, 0, &got, &of);
    return e ? -(int)e : (int)got;
}
#endif
