/* The event loop of WasmEdge's QuickJS runtime (wasmedge_quickjs.wasm, src/event_loop), written
 * out in C: one poll_oneoff over every pending task, userdata = task index, each task removed when
 * its event comes back.
 *  - setTimeout(fn, ms): a CLOCK subscription on REALTIME with ABSTIME, deadline = now + ms
 *    (SystemTime based); fs.readdir/stat/... run inside a setTimeout(.., 0) callback;
 *  - fs.readFile / fs.read (binding.fread): an FD_READ subscription on the *regular file*, then
 *    fd_pread(len) when its event arrives; fs.write: FD_WRITE on the file, then fd_seek + fd_write;
 *  - the HTTP server (wasi_sock): FD_READ on the non-blocking listener -> sock_accept, FD_READ
 *    on the connection -> sock_recv, the answer via sock_send.
 *  - files are opened as its fs binding opens them (src/internal_module/fs.rs, open_sync): the
 *    preopen and relative path from __wasilibc_find_relpath, then path_open with the fdflag SYNC
 *    and its fixed rights; statSync is path_filestat_get the same way.
 * Prints "readdir: ...", "stat: <size of hello.txt>", "readFile: ...", "writeFile: n", "timer",
 * "stale fd error=<errno>" (a subscription on a closed fd), then "fs done"; answers each HTTP request
 * with DIR/hello.txt, read through the async path. Env: PORT (8080), DIR (/data; "." for the working
 * directory, as server.js's './index.html'), NO_SERVER (no listener: files and clocks). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>
#include "wasmedge_sock.h"

enum { T_TIMEOUT = 1, T_FDREAD, T_FDWRITE, T_ACCEPT, T_RECV, T_STALE };
enum { A_READDIR = 1, A_TIMER, A_FILE, A_SERVE };
typedef struct { int kind, action; uint32_t fd, conn; uint64_t deadline, len; } task_t;

#define MAXT 256
static task_t tasks[MAXT];
static const char *dir;
static int pending_fs = 5;

static void fail(const char *what, unsigned e) {
    printf("FAIL %s: %u\n", what, e);
    fflush(stdout);
    exit(1);
}

static int add(task_t t) {
    for (int i = 0; i < MAXT; i++)
        if (!tasks[i].kind) { tasks[i] = t; return i; }
    fail("too many tasks", 0);
    return -1;
}

static uint64_t realtime_ns(void) {
    __wasi_timestamp_t t = 0;
    __wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &t);
    return t;
}

static void set_timeout(int action, uint64_t ms) {
    add((task_t){T_TIMEOUT, action, 0, 0, realtime_ns() + ms * 1000000ull, 0});
}

static void fs_done(void) {
    if (--pending_fs == 0) { printf("fs done\n"); fflush(stdout); }
}

int __wasilibc_find_relpath(const char *path, const char **abs_prefix, char **relative_path, size_t len);

static int open_parent(const char *path, char *rel, size_t n) {
    const char *prefix = NULL;
    char *out = rel;
    int fd = __wasilibc_find_relpath(path, &prefix, &out, n);
    if (fd >= 0 && out != rel) snprintf(rel, n, "%s", out);
    return fd;
}

static int qjs_open(const char *path, int writing) {  /* openSync(path, flags, mode) */
    char rel[256];
    int dir = open_parent(path, rel, sizeof rel);
    __wasi_rights_t rights = __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_POLL_FD_READWRITE |
                             __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_READDIR;
    if (writing)
        rights |= __WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_ADVISE | __WASI_RIGHTS_FD_ALLOCATE |
                  __WASI_RIGHTS_FD_DATASYNC | __WASI_RIGHTS_FD_FDSTAT_SET_FLAGS |
                  __WASI_RIGHTS_FD_FILESTAT_SET_SIZE | __WASI_RIGHTS_FD_FILESTAT_SET_TIMES | __WASI_RIGHTS_FD_SYNC;
    __wasi_fd_t fd;
    __wasi_oflags_t oflags = writing ? __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC : 0;
    if (dir < 0) fail("find_relpath", 0);
    uint32_t e = __wasi_path_open(dir, 0, rel, oflags, rights, 0, __WASI_FDFLAGS_SYNC, &fd);
    if (e) fail(writing ? "open (SYNC) for writing" : "open (SYNC)", e);
    return (int)fd;
}

static long long qjs_stat(const char *path) {  /* statSync */
    char rel[256];
    __wasi_filestat_t st;
    int dir = open_parent(path, rel, sizeof rel);
    uint32_t e = dir < 0 ? 8 : __wasi_path_filestat_get(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, rel, &st);
    if (e) fail("stat", e);
    return (long long)st.size;
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void do_readdir(void) {  /* readdirSync inside the setTimeout(.., 0) callback */
    DIR *d = opendir(dir);
    if (!d) fail("opendir", 0);
    char *names[64];
    int n = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) && n < 64)
        if (ent->d_name[0] != '.') names[n++] = strdup(ent->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp);
    printf("readdir:");
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
    char path[256];
    snprintf(path, sizeof path, "%s/hello.txt", dir);
    printf("stat: %lld\n", qjs_stat(path));
    fflush(stdout);
    fs_done();
}

static void read_file_async(int action, uint32_t conn) {  /* fs.readFile: open + stat, then fread */
    char path[256];
    snprintf(path, sizeof path, "%s/hello.txt", dir);
    int fd = qjs_open(path, 0);
    struct stat st;
    fstat(fd, &st);
    add((task_t){T_FDREAD, action, (uint32_t)fd, conn, 0, (uint64_t)st.st_size});
}

static void write_file_async(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    int fd = qjs_open(path, 1);
    add((task_t){T_FDWRITE, 0, (uint32_t)fd, 0, 0, 0});
}

static void on_file_data(task_t *t, const char *data, size_t n) {
    if (t->action == A_FILE) {
        printf("readFile: %.*s\n", (int)n, data);
        fflush(stdout);
        fs_done();
        return;
    }
    char head[128];
    int hn = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
    if (we_send_all(t->conn, head, (uint32_t)hn) || we_send_all(t->conn, data, (uint32_t)n)) fail("send", 0);
    close((int)t->conn);
}

static void run_event(task_t t, __wasi_event_t *ev) {
    if (t.kind == T_STALE) {  /* a closed fd still subscribed: that event's error */
        printf("stale fd error=%u\n", ev->error);
        fflush(stdout);
        fs_done();
        return;
    }
    if (ev->error) fail("event error", ev->error);
    char buf[8192];
    switch (t.kind) {
    case T_TIMEOUT:
        if (t.action == A_READDIR) do_readdir();
        else { printf("timer\n"); fflush(stdout); fs_done(); }
        return;
    case T_FDREAD: {
        if (t.len > sizeof buf) fail("file too big", 0);
        __wasi_iovec_t v = {(uint8_t *)buf, (size_t)t.len};
        __wasi_size_t got = 0;
        uint32_t e = __wasi_fd_pread(t.fd, &v, 1, 0, &got);
        if (e) fail("fd_pread", e);
        close((int)t.fd);
        on_file_data(&t, buf, got);
        return;
    }
    case T_FDWRITE: {
        __wasi_filesize_t pos = 0;
        uint32_t e = __wasi_fd_seek(t.fd, 0, __WASI_WHENCE_SET, &pos);
        __wasi_ciovec_t v = {(const uint8_t *)"written", 7};
        __wasi_size_t put = 0;
        if (e || (e = __wasi_fd_write(t.fd, &v, 1, &put))) fail("fd_write", e);
        close((int)t.fd);
        printf("writeFile: %u\n", (unsigned)put);
        fflush(stdout);
        fs_done();
        return;
    }
    case T_ACCEPT: {
        for (;;) {
            uint32_t c = 0, e = we_sock_accept(t.fd, &c);
            if (e == __WASI_ERRNO_AGAIN) break;
            if (e) fail("accept", e);
            fcntl((int)c, F_SETFL, O_NONBLOCK);
            add((task_t){T_RECV, 0, c, 0, 0, 0});
        }
        add(t);  /* the server keeps listening */
        return;
    }
    case T_RECV: {
        int got = we_recv(t.fd, buf, sizeof buf);
        if (got == -(int)__WASI_ERRNO_AGAIN) { add(t); return; }
        if (got <= 0) { close((int)t.fd); return; }
        read_file_async(A_SERVE, t.fd);  /* one read holds the whole small request */
        return;
    }
    }
}

int main(void) {
    const char *ps = getenv("PORT");
    dir = getenv("DIR") ? getenv("DIR") : "/data";
    uint32_t lfd, e;
    add((task_t){T_STALE, 0, 9999, 0, 0, 0});  /* an fd that is not open */
    if (getenv("NO_SERVER")) goto loop;
    if ((e = we_sock_open(WE_INET4, WE_STREAM, &lfd))) fail("sock_open", e);
    __wasi_fdstat_t st;
    if ((e = __wasi_fd_fdstat_get(lfd, &st))) fail("fd_fdstat_get", e);
    if ((e = __wasi_fd_fdstat_set_flags(lfd, st.fs_flags | __WASI_FDFLAGS_NONBLOCK))) fail("set_flags", e);
    uint8_t any[4] = {0};
    we_address_t a = {any, 4};
    if ((e = we_sock_bind(lfd, &a, ps ? (uint32_t)atoi(ps) : 8080))) fail("bind", e);
    if ((e = we_sock_listen(lfd, 128))) fail("listen", e);
    add((task_t){T_ACCEPT, 0, lfd, 0, 0, 0});
loop:
    set_timeout(A_READDIR, 0);
    read_file_async(A_FILE, 0);
    write_file_async();
    set_timeout(A_TIMER, 50);

    static __wasi_subscription_t subs[MAXT];
    static __wasi_event_t evs[MAXT];
    for (;;) {
        size_t n = 0;
        for (int i = 0; i < MAXT; i++) {
            task_t *t = &tasks[i];
            if (!t->kind) continue;
            __wasi_subscription_t *s = &subs[n++];
            memset(s, 0, sizeof *s);
            s->userdata = (uint64_t)i;
            if (t->kind == T_TIMEOUT) {
                s->u.tag = __WASI_EVENTTYPE_CLOCK;
                s->u.u.clock.id = __WASI_CLOCKID_REALTIME;
                s->u.u.clock.timeout = t->deadline;
                s->u.u.clock.flags = __WASI_SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME;
            } else if (t->kind == T_FDWRITE) {
                s->u.tag = __WASI_EVENTTYPE_FD_WRITE;
                s->u.u.fd_write.file_descriptor = t->fd;
            } else {
                s->u.tag = __WASI_EVENTTYPE_FD_READ;
                s->u.u.fd_read.file_descriptor = t->fd;
            }
        }
        if (!n) return 0;
        __wasi_size_t nev = 0;
        if ((e = __wasi_poll_oneoff(subs, evs, n, &nev))) fail("poll_oneoff", e);
        for (__wasi_size_t k = 0; k < nev; k++) {
            int i = (int)evs[k].userdata;
            if (i < 0 || i >= MAXT || !tasks[i].kind) fail("event userdata", (unsigned)i);
            task_t t = tasks[i];
            tasks[i].kind = 0;
            int want = t.kind == T_TIMEOUT ? __WASI_EVENTTYPE_CLOCK
                       : t.kind == T_FDWRITE ? __WASI_EVENTTYPE_FD_WRITE : __WASI_EVENTTYPE_FD_READ;
            if (evs[k].type != want) fail("event type", evs[k].type);
            run_event(t, &evs[k]);
        }
    }
}
