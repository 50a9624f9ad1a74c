/* The call sequence of a tokio_wasi/hyper_wasi server (mio_wasi's selector over
 * wasmedge_wasi_socket 0.5), written out by hand so that it runs without crates.io:
 *  - Socket::new + set_nonblocking: sock_open, then fcntl(F_GETFL) / fcntl(F_SETFL, |O_NONBLOCK)
 *    (wasi-libc: fd_fdstat_get + fd_fdstat_set_flags), before the bind, as mio's new_for_addr does;
 *  - SO_REUSEADDR / SO_KEEPALIVE through sock_setsockopt(level 0 = SOL_SOCKET, names 0 / 7, i32);
 *  - bind in the form BIND_FORM asks (raw4, raw16 on an Inet6 socket, storage = 128 bytes + u16
 *    family), listen(1024), SO_ACCEPTCONN / SO_TYPE, local_addr via the V1 getlocaladdr (16 bytes);
 *  - the selector: userdata = fd, FD_READ while read_state, FD_WRITE while write_state > 0
 *    (starts at 2, -1 per write event), a MONOTONIC relative timeout (userdata u64::MAX, >= 10 ns,
 *    precision 1 ms); events with HANGUP are dropped and the fd deregistered; nonzero event.error
 *    fails the poll (check_errors);
 *  - accept(true): the 2-parameter sock_accept until EAGAIN, then set_nonblocking, peer_addr (V1);
 *  - reads until EAGAIN (do_io re-arms both states), send, take_error (SO_ERROR), then Drop:
 *    shutdown(Both) + close.
 * Answers every HTTP request with "peer=<ip> n=<request number>". Env: PORT (8080), BIND_FORM. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>
#include "wasmedge_sock.h"

#define MAXS 512
#define TIMEOUT_TOKEN UINT64_MAX
typedef struct {
    uint32_t fd;
    int listener, read_state, write_state, registered;
    char req[4096];
    size_t req_len;
    char *out;
    size_t out_len, out_off;
    char peer[16];
} source_t;

static source_t *srcs[MAXS];
static int nsrcs;
static unsigned served;

static void fail(const char *what, uint32_t e) {
    printf("FAIL %s: errno %u\n", what, e);
    fflush(stdout);
    exit(1);
}

static void set_nonblocking(uint32_t fd) {  /* Socket::set_nonblocking -> fcntl_add */
    int prev = fcntl((int)fd, F_GETFL);
    if (prev < 0) fail("fcntl F_GETFL", 0);
    if (!(prev & O_NONBLOCK) && fcntl((int)fd, F_SETFL, prev | O_NONBLOCK) < 0) fail("fcntl F_SETFL", 0);
    if (!(fcntl((int)fd, F_GETFL) & O_NONBLOCK)) fail("O_NONBLOCK not kept", 0);
}

static int getopt_i32(uint32_t fd, int name) {
    int32_t v = -1;
    uint32_t len = 4, e = we_sock_getsockopt(fd, 0, name, &v, &len);
    if (e) fail("getsockopt", e);
    if (len != 4) fail("getsockopt length", len);
    return v;
}

static source_t *add(uint32_t fd, int listener) {
    if (nsrcs == MAXS) fail("too many sources", 0);
    source_t *s = calloc(1, sizeof *s);
    s->fd = fd; s->listener = listener; s->read_state = 1; s->write_state = 2; s->registered = 1;
    srcs[nsrcs++] = s;
    return s;
}

static source_t *find(uint32_t fd) {
    for (int i = 0; i < nsrcs; i++)
        if (srcs[i]->fd == fd) return srcs[i];
    return NULL;
}

static void drop_source(source_t *s) {  /* Drop for Socket: shutdown(Both) then close */
    we_sock_shutdown(s->fd, 3);
    close((int)s->fd);
    for (int i = 0; i < nsrcs; i++)
        if (srcs[i] == s) { srcs[i] = srcs[--nsrcs]; break; }
    free(s->out);
    free(s);
}

static void do_io_ok(source_t *s) { s->read_state = 1; s->write_state = 2; }

static int flush(source_t *s) {  /* 1 all sent, 0 would block */
    while (s->out_off < s->out_len) {
        we_iovec_t v = {(uint8_t *)s->out + s->out_off, (uint32_t)(s->out_len - s->out_off)};
        uint32_t sent = 0, e = we_sock_send(s->fd, &v, 1, 0, &sent);
        do_io_ok(s);
        if (e == __WASI_ERRNO_AGAIN) return 0;
        if (e) return -1;
        s->out_off += sent;
    }
    return 1;
}

static void accept_all(source_t *l) {
    for (;;) {
        uint32_t cfd = 0, e = we_sock_accept(l->fd, &cfd);
        do_io_ok(l);
        if (e == __WASI_ERRNO_AGAIN) return;
        if (e) fail("accept", e);
        set_nonblocking(cfd);
        uint8_t ip[16] = {0};
        we_address_t a = {ip, 16};
        uint32_t type = 0, port = 0;
        if ((e = we_sock_getpeeraddr(cfd, &a, &type, &port))) fail("getpeeraddr", e);
        if (type != 4 && type != WE_INET4) fail("peer address type", type);
        if (port == 0) fail("peer port", port);
        int32_t one = 1;
        if ((e = we_sock_setsockopt(cfd, 0, 7, &one, 4))) fail("setsockopt SO_KEEPALIVE", e);
        source_t *s = add(cfd, 0);
        snprintf(s->peer, sizeof s->peer, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
    }
}

static int on_readable(source_t *s) {  /* 1 keep, 0 drop */
    int eof = 0;
    for (;;) {
        size_t room = sizeof s->req - 1 - s->req_len;
        if (!room) return 0;
        we_iovec_t v = {(uint8_t *)s->req + s->req_len, (uint32_t)room};
        uint32_t got = 0, of = 0, e = we_sock_recv(s->fd, &v, 1, 0, &got, &of);
        do_io_ok(s);
        if (e == __WASI_ERRNO_AGAIN) break;
        if (e) return 0;
        if (got == 0) { eof = 1; break; }  /* EOF: answer a full request, drop a partial one (below) */
        s->req_len += got;
        s->req[s->req_len] = 0;
    }
    if (!s->out && strstr(s->req, "\r\n\r\n")) {
        char body[64], *head = malloc(256);
        int bn = snprintf(body, sizeof body, "peer=%s n=%u\n", s->peer, ++served);
        int hn = snprintf(head, 256, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
                          bn, body);
        s->out = head; s->out_len = (size_t)hn;
    }
    return s->out != NULL || !eof;
}

static int bind_listener(uint32_t *fd, const char *form, uint32_t port) {
    uint8_t storage[128] = {0}, raw[16] = {0};
    we_address_t a;
    int v6 = form && !strcmp(form, "raw16");
    uint32_t e = we_sock_open(v6 ? WE_INET6 : WE_INET4, WE_STREAM, fd);
    if (e) fail("sock_open", e);
    set_nonblocking(*fd);
    int32_t one = 1;
    if ((e = we_sock_setsockopt(*fd, 0, 0, &one, 4))) fail("setsockopt SO_REUSEADDR", e);
    if (getopt_i32(*fd, 0) == 0) fail("SO_REUSEADDR not kept", 0);
    if (form && !strcmp(form, "storage")) {
        storage[0] = WE_INET4;  /* u16 family, little endian, then 0.0.0.0 */
        a = (we_address_t){storage, 128};
    } else {
        a = (we_address_t){raw, v6 ? 16 : 4};
    }
    if ((e = we_sock_bind(*fd, &a, port))) fail("bind", e);
    if ((e = we_sock_listen(*fd, 1024))) fail("listen", e);
    if (getopt_i32(*fd, 13) != 1) fail("SO_ACCEPTCONN", 0);
    if (getopt_i32(*fd, 1) != WE_STREAM) fail("SO_TYPE", 0);
    uint8_t ip[16] = {0};
    we_address_t la = {ip, 16};
    uint32_t type = 0, lport = 0;
    if ((e = we_sock_getlocaladdr(*fd, &la, &type, &lport))) fail("getlocaladdr", e);
    printf("listening type=%u port=%u\n", type, lport);
    fflush(stdout);
    return lport == port ? 0 : -1;
}

int main(void) {
    const char *ps = getenv("PORT");
    uint32_t port = ps ? (uint32_t)atoi(ps) : 8080, lfd;
    if (bind_listener(&lfd, getenv("BIND_FORM"), port)) fail("local port", 0);
    add(lfd, 1);
    static __wasi_subscription_t subs[2 * MAXS + 1];
    static __wasi_event_t evs[2 * MAXS + 1];
    for (;;) {
        size_t n = 0;
        for (int i = 0; i < nsrcs; i++) {
            source_t *s = srcs[i];
            if (!s->registered) continue;
            if (s->read_state) {
                subs[n].userdata = s->fd; subs[n].u.tag = __WASI_EVENTTYPE_FD_READ;
                subs[n++].u.u.fd_read.file_descriptor = s->fd;
            }
            if (!s->listener && s->write_state > 0) {
                subs[n].userdata = s->fd; subs[n].u.tag = __WASI_EVENTTYPE_FD_WRITE;
                subs[n++].u.u.fd_write.file_descriptor = s->fd;
            }
        }
        subs[n].userdata = TIMEOUT_TOKEN; subs[n].u.tag = __WASI_EVENTTYPE_CLOCK;
        subs[n].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
        subs[n].u.u.clock.timeout = 2000000000ull;
        subs[n].u.u.clock.precision = 1000000ull;
        subs[n++].u.u.clock.flags = 0;
        __wasi_size_t nev = 0;
        uint32_t e = __wasi_poll_oneoff(subs, evs, n, &nev);
        if (e) fail("poll_oneoff", e);
        if (nev == 0 || nev > n) fail("poll_oneoff event count", (uint32_t)nev);
        for (__wasi_size_t k = 0; k < nev; k++) {
            __wasi_event_t *ev = &evs[k];
            if (ev->type == __WASI_EVENTTYPE_CLOCK) {
                if (ev->userdata != TIMEOUT_TOKEN) fail("clock event userdata", 0);
                continue;
            }
            if (ev->error) fail("event error", ev->error);
            source_t *s = find((uint32_t)ev->userdata);
            if (!s) continue;  /* dropped earlier in this batch */
            if (ev->fd_readwrite.flags & __WASI_EVENTRWFLAGS_FD_READWRITE_HANGUP) {
                drop_source(s);  /* mio removes the fd and the event; the stream is done */
                continue;
            }
            if (ev->type == __WASI_EVENTTYPE_FD_READ) {
                s->read_state = 0;
                if (s->listener) { accept_all(s); continue; }
                if (!on_readable(s)) { drop_source(s); continue; }
            } else {
                s->write_state--;
            }
            if (s->out) {
                int r = flush(s);
                if (r < 0) { drop_source(s); continue; }
                if (r == 1) {
                    int32_t err = getopt_i32(s->fd, 2);  /* take_error */
                    if (err) fail("SO_ERROR", (uint32_t)err);
                    drop_source(s);
                }
            }
        }
    }
}
