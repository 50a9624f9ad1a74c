/* Relative paths against the image's WorkingDir, made the ways published programs make them.
 *  - default: wasi-libc's fopen/stat/opendir/fopen("w") (C programs; chdir is not linked, so
 *    wasi-libc hands relative paths to the root preopen as they are);
 *  - -DRUST_STD: as Rust std's fs does it: chdir is linked (std::env::set_current_dir), so
 *    wasi-libc makes every path absolute against its cwd "/", and each call finds its preopen with
 *    __wasilibc_find_relpath and then calls path_open / path_filestat_get itself (open_parent).
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
#endif

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(void) {
    char buf[256];
    if (read_file("data.txt", buf, sizeof buf) < 0) { printf("FAIL read data.txt\n"); return 1; }
    buf[strcspn(buf, "\n")] = 0;
    printf("read: %s\n", buf);
    printf("stat: %lld\n", file_size("./data.txt"));
    DIR *d = opendir(".");
    if (!d) { printf("FAIL opendir .\n"); return 1; }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64)
        if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("dir:");
    for (int i = 0; i < n; i++) printf(" %s", names[i]);
    printf("\n");
    FILE *w = fopen("out.txt", "w");
    if (!w) { printf("FAIL write out.txt\n"); return 1; }
    fputs("written\n", w);
    fclose(w);
    printf("wrote\n");
    if (read_file("/etc/motd", buf, sizeof buf) < 0) { printf("FAIL read /etc/motd\n"); return 1; }
    buf[strcspn(buf, "\n")] = 0;
    printf("abs: %s\n", buf);
    printf("done\n");
    return 0;
}
