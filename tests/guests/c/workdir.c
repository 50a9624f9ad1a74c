/* Relative paths against the image's WorkingDir, made the ways published programs make them.
 *  - default: wasi-libc's fopen/stat/opendir/fopen("w") (C programs; chdir is not linked, so
 *    wasi-libc hands relative paths to the root preopen as they are);
 *  - -DRUST_STD: as Rust std's fs does it: chdir is linked (std::env::set_current_dir), so
 *    wasi-libc makes every path absolute against its cwd "/", and each call finds its preopen with
 *    __wasilibc_find_relpath and then calls path_open / path_filestat_get / fd_readdir itself
 *    (open_parent, fs::read_dir, fs::write).
 * Prints "read: <data.txt>", "stat: <size>", "dir: <sorted names>", "wrote", "abs: <first line of
 * /etc/motd>", then "done". */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

#ifdef RUST_STD
int __wasilibc_find_relpath(const char *path, const char **abs_prefix, char **relative_path, size_t len);
static int (*volatile keep_chdir)(const char *) = chdir; /* links chdir.o, as std does */

static int open_parent(const char *path, char *rel, size_t n) {
    const char *prefix = NULL;
    char *out = rel;
    int fd = __wasilibc_find_relpath(path, &prefix, &out, n);
    if (fd >= 0 && out != rel) snprintf(rel, n, "%s", out);
    return fd;
}

static int read_file(const char *path, char *buf, size_t n) {
    char rel[256];
    int dir = open_parent(path, rel, sizeof rel);
    __wasi_fd_t fd;
    if (dir < 0 || __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, rel, 0, __WASI_RIGHTS_FD_READ, 0, 0, &fd)) return -1;
    __wasi_iovec_t iov = {(uint8_t *)buf, n - 1};
    __wasi_size_t got = 0;
    __wasi_fd_read(fd, &iov, 1, &got);
    buf[got] = 0;
    __wasi_fd_close(fd);
    return (int)got;
}

static __wasi_fd_t open_at(const char *path, __wasi_oflags_t oflags, __wasi_rights_t rights) {
    char rel[256];
    int dir = open_parent(path, rel, sizeof rel);
    __wasi_fd_t fd;
    if (dir < 0 || __wasi_path_open(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, rel, oflags, rights, rights, 0, &fd)) return (__wasi_fd_t)-1;
    return fd;
}

static int list_dir(const char *path, char **names, int max) {  /* fs::read_dir: its own fd_readdir */
    __wasi_fd_t fd = open_at(path, __WASI_OFLAGS_DIRECTORY, __WASI_RIGHTS_FD_READDIR);
    if (fd == (__wasi_fd_t)-1) return -1;
    static char buf[4096];
    __wasi_size_t used = 0;
    if (__wasi_fd_readdir(fd, (uint8_t *)buf, sizeof buf, 0, &used)) return -1;
    int n = 0;
    for (size_t o = 0; o + sizeof(__wasi_dirent_t) <= used && n < max;) {
        __wasi_dirent_t d;
        memcpy(&d, buf + o, sizeof d);
        o += sizeof d;
        if (buf[o] != '.') names[n++] = strndup(buf + o, d.d_namlen);
        o += d.d_namlen;
    }
    __wasi_fd_close(fd);
    return n;
}

static int write_file(const char *path, const char *text) {  /* fs::write */
    __wasi_fd_t fd = open_at(path, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, __WASI_RIGHTS_FD_WRITE);
    if (fd == (__wasi_fd_t)-1) return -1;
    __wasi_ciovec_t v = {(const uint8_t *)text, strlen(text)};
    __wasi_size_t put;
    __wasi_fd_write(fd, &v, 1, &put);
    __wasi_fd_close(fd);
    return 0;
}

static long long file_size(const char *path) {
    char rel[256];
    __wasi_filestat_t st;
    int dir = open_parent(path, rel, sizeof rel);
    if (dir < 0 || __wasi_path_filestat_get(dir, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, rel, &st)) return -1;
    return (long long)st.size;
}
#else
static int read_file(const char *path, char *buf, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t got = fread(buf, 1, n - 1, f);
    buf[got] = 0;
    fclose(f);
    return (int)got;
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) ? -1 : (long long)st.st_size;
}

static int list_dir(const char *path, char **names, int max) {
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    return n;
}

static int write_file(const char *path, const char *text) {
    FILE *w = fopen(path, "w");
    if (!w) return -1;
    fputs(text, w);
    fclose(w);
    return 0;
}
#endif

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
    char buf[256];
    if (read_file("data.txt", buf, sizeof buf) < 0) { printf("FAIL read data.txt\n"); return 1; }
    buf[strcspn(buf, "\n")] = 0;
    printf("read: %s\n", buf);
    printf("stat: %lld\n", file_size("./data.txt"));
    char *names[64];
    int n = list_dir(".", names, 64);
    if (n < 0) { printf("FAIL list .\n"); return 1; }
    qsort(names, n, sizeof *names, cmp);
    printf("dir:");
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
    if (write_file("out.txt", "written\n")) { printf("FAIL write out.txt\n"); return 1; }
    printf("wrote\n");
    if (read_file("/etc/motd", buf, sizeof buf) < 0) { printf("FAIL read /etc/motd\n"); return 1; }
    buf[strcspn(buf, "\n")] = 0;
    printf("abs: %s\n", buf);
    printf("done\n");
    return 0;
}
