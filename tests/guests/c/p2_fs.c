/* File operations through libc, for the wasi:filesystem tests: a wasip1 program that the tests
 * wrap with the preview-1 adapter, which turns each libc call into wasi:filesystem calls.
 * argv is a list of operations, each with its arguments ("write /a hi cat /a"); each prints one
 * line "OP: RESULT", where a failure is the errno's name ("ENOENT"). See test_filesystem.py. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
#define E(x) case x: return #x;
        E(EACCES) E(EAGAIN) E(EBADF) E(EBUSY) E(EEXIST) E(EFBIG) E(EILSEQ) E(EINVAL) E(EIO)
        E(EISDIR) E(ELOOP) E(EMLINK) E(ENAMETOOLONG) E(ENOENT) E(ENOMEM) E(ENOSPC) E(ENOTDIR)
        E(ENOTEMPTY) E(ENOTSUP) E(EPERM) E(EROFS) E(ESPIPE) E(EXDEV) E(ENOTCAPABLE) E(EOVERFLOW)
#undef E
        default: { static char buf[32]; snprintf(buf, sizeof buf, "errno%d", e); return buf; }
    }
}

#define FAIL(op) do { printf("%s: %s\n", op, ename(errno)); return; } while (0)

static void put(int fd, const char *op, const char *text) {
    if (fd < 0) FAIL(op);
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    if (n < 0) { errno = e; FAIL(op); }
    printf("%s: ok %zd\n", op, n);
}

static void cat_fd(int fd, const char *op) {
    if (fd < 0) FAIL(op);
    char buf[4096]; ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n < 0) { errno = e; FAIL(op); }
    buf[n] = 0;
    printf("%s: %s\n", op, buf);
}

static const char *kind(mode_t m) {
    return S_ISREG(m) ? "reg" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "lnk" : S_ISCHR(m) ? "chr" : "other";
}

static const char *dkind(unsigned char t) {
    return t == DT_REG ? "reg" : t == DT_DIR ? "dir" : t == DT_LNK ? "lnk" : "other";
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void ls(const char *path) {
    DIR *d = opendir(path);
    if (!d) FAIL("ls");
    char *names[256]; int n = 0; struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *s = malloc(strlen(e->d_name) + 8);
        sprintf(s, "%s:%s", e->d_name, dkind(e->d_type));
        names[n++] = s;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("ls:");
    for (int i = 0; i < n; i++) { printf(" %s", names[i]); free(names[i]); }
    printf("\n");
}

static void show_stat(const char *op, int r, struct stat *st) {
    if (r < 0) FAIL(op);
    printf("%s: %s size=%lld nlink=%llu mtime=%lld\n", op, kind(st->st_mode), (long long)st->st_size,
           (unsigned long long)st->st_nlink, (long long)st->st_mtim.tv_sec);
}

static void seek_test(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) FAIL("seek");
    char buf[16] = {0};
    if (write(fd, "0123456789", 10) != 10) FAIL("seek");
    off_t end = lseek(fd, 0, SEEK_END);
    lseek(fd, 2, SEEK_SET);
    ssize_t n = read(fd, buf, 3);
    lseek(fd, -2, SEEK_END);
    if (write(fd, "XY", 2) != 2) FAIL("seek");
    off_t cur = lseek(fd, 0, SEEK_CUR);
    close(fd);
    printf("seek: end=%lld read=%.*s cur=%lld\n", (long long)end, (int)n, buf, (long long)cur);
}

static void set_times(const char *op, const char *path, long long sec, int by_fd) {
    struct timespec ts[2] = {{sec, 0}, {sec, 0}};
    if (sec < 0) { ts[0].tv_nsec = ts[1].tv_nsec = UTIME_NOW; }
    int r;
    if (by_fd) {
        int fd = open(path, O_RDONLY);
        if (fd < 0) FAIL(op);
        r = futimens(fd, ts);
        int e = errno; close(fd); errno = e;
    } else {
        r = utimensat(AT_FDCWD, path, ts, 0);
    }
    if (r < 0) FAIL(op);
    printf("%s: ok\n", op);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        const char *op = argv[i];
        const char *a = i + 1 < argc ? argv[i + 1] : "", *b = i + 2 < argc ? argv[i + 2] : "";
        const char *c = i + 3 < argc ? argv[i + 3] : "";
        struct stat st;
        if (!strcmp(op, "write")) { put(open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644), op, b); i += 2; }
        else if (!strcmp(op, "create")) { put(open(a, O_WRONLY | O_CREAT | O_EXCL, 0644), op, b); i += 2; }
        else if (!strcmp(op, "overwrite")) { put(open(a, O_WRONLY), op, b); i += 2; }
        else if (!strcmp(op, "append")) { put(open(a, O_WRONLY | O_APPEND | O_CREAT, 0644), op, b); i += 2; }
        else if (!strcmp(op, "cat")) { cat_fd(open(a, O_RDONLY), op); i += 1; }
        else if (!strcmp(op, "catnofollow")) { cat_fd(open(a, O_RDONLY | O_NOFOLLOW), op); i += 1; }
        else if (!strcmp(op, "writeonly")) {  /* write through a descriptor opened read-only */
            int fd = open(a, O_RDONLY);
            if (fd < 0) { printf("%s: %s\n", op, ename(errno)); }
            else { ssize_t n = write(fd, "x", 1); int e = errno; close(fd);
                   if (n < 0) printf("%s: %s\n", op, ename(e)); else printf("%s: ok\n", op); }
            i += 1;
        }
        else if (!strcmp(op, "pread")) {
            int fd = open(a, O_RDONLY);
            char buf[256] = {0};
            ssize_t n = fd < 0 ? -1 : pread(fd, buf, atoi(c), atoi(b));
            int e = errno; if (fd >= 0) close(fd);
            if (n < 0) printf("%s: %s\n", op, ename(e)); else printf("%s: %zd %.*s\n", op, n, (int)n, buf);
            i += 3;
        }
        else if (!strcmp(op, "pwrite")) {
            int fd = open(a, O_WRONLY);
            ssize_t n = fd < 0 ? -1 : pwrite(fd, c, strlen(c), atoi(b));
            int e = errno; if (fd >= 0) close(fd);
            if (n < 0) printf("%s: %s\n", op, ename(e)); else printf("%s: ok %zd\n", op, n);
            i += 3;
        }
        else if (!strcmp(op, "seek")) { seek_test(a); i += 1; }
        else if (!strcmp(op, "ls")) { ls(a); i += 1; }
        else if (!strcmp(op, "mkdir")) { printf("mkdir: %s\n", mkdir(a, 0755) ? ename(errno) : "ok"); i += 1; }
        else if (!strcmp(op, "rmdir")) { printf("rmdir: %s\n", rmdir(a) ? ename(errno) : "ok"); i += 1; }
        else if (!strcmp(op, "unlink")) { printf("unlink: %s\n", unlink(a) ? ename(errno) : "ok"); i += 1; }
        else if (!strcmp(op, "rename")) { printf("rename: %s\n", rename(a, b) ? ename(errno) : "ok"); i += 2; }
        else if (!strcmp(op, "symlink")) { printf("symlink: %s\n", symlink(a, b) ? ename(errno) : "ok"); i += 2; }
        else if (!strcmp(op, "link")) { printf("link: %s\n", link(a, b) ? ename(errno) : "ok"); i += 2; }
        else if (!strcmp(op, "readlink")) {
            char buf[256]; ssize_t n = readlink(a, buf, sizeof buf - 1);
            if (n < 0) printf("readlink: %s\n", ename(errno)); else printf("readlink: %.*s\n", (int)n, buf);
            i += 1;
        }
        else if (!strcmp(op, "stat")) { int r = stat(a, &st); show_stat(op, r, &st); i += 1; }
        else if (!strcmp(op, "lstat")) { int r = lstat(a, &st); show_stat(op, r, &st); i += 1; }
        else if (!strcmp(op, "fstat")) {
            int fd = open(a, O_RDONLY); int r = fd < 0 ? -1 : fstat(fd, &st);
            int e = errno; if (fd >= 0) close(fd); errno = e;
            show_stat(op, r, &st); i += 1;
        }
        else if (!strcmp(op, "utime")) { set_times(op, a, atoll(b), 0); i += 2; }
        else if (!strcmp(op, "futime")) { set_times(op, a, atoll(b), 1); i += 2; }
        else if (!strcmp(op, "touch")) { set_times(op, a, -1, 0); i += 1; }
        else if (!strcmp(op, "truncate")) {
            int fd = open(a, O_WRONLY); int r = fd < 0 ? -1 : ftruncate(fd, atoi(b));
            int e = errno; if (fd >= 0) close(fd);
            printf("truncate: %s\n", r ? ename(e) : "ok"); i += 2;
        }
        else if (!strcmp(op, "fsync")) {
            int fd = open(a, O_RDWR); int r = fd < 0 ? -1 : fsync(fd);
            if (!r) r = fdatasync(fd);
            int e = errno; if (fd >= 0) close(fd);
            printf("fsync: %s\n", r ? ename(e) : "ok"); i += 1;
        }
        else if (!strcmp(op, "openat")) {  /* a path relative to an opened directory */
            int d = open(a, O_RDONLY | O_DIRECTORY);
            if (d < 0) { printf("openat: %s\n", ename(errno)); i += 2; continue; }
            int fd = openat(d, b, O_RDONLY);
            int e = errno; close(d); errno = e;
            cat_fd(fd, op); i += 2;
        }
        else if (!strcmp(op, "fdflags")) {
            int fd = open(a, O_WRONLY | O_APPEND);
            int fl = fd < 0 ? -1 : fcntl(fd, F_GETFL);
            int e = errno; if (fd >= 0) close(fd);
            if (fl < 0) printf("fdflags: %s\n", ename(e));
            else printf("fdflags: %s%s\n", (fl & O_ACCMODE) == O_WRONLY ? "wronly" : (fl & O_ACCMODE) == O_RDWR ? "rdwr" : "rdonly",
                        fl & O_APPEND ? " append" : "");
            i += 1;
        }
        else if (!strcmp(op, "chdir")) { printf("chdir: %s\n", chdir(a) ? ename(errno) : "ok"); i += 1; }
        else if (!strcmp(op, "fds")) {  /* open and close many files: host fds must be released */
            int n = atoi(a), bad = 0;
            for (int k = 0; k < n; k++) { int fd = open(b, O_RDONLY); if (fd < 0) bad++; else close(fd); }
            printf("fds: %d failed\n", bad); i += 2;
        }
        else if (!strcmp(op, "leak")) {  /* files and listings never closed: the host closes them */
            int n = atoi(a), ok = 0;
            for (int k = 0; k < n; k++) { if (open(b, O_RDONLY) >= 0) ok++; }
            DIR *d = opendir("/");
            printf("leak: %d open%s\n", ok, d && readdir(d) ? " +dir" : ""); i += 2;
        }
        else { printf("%s: unknown op\n", op); return 2; }
    }
    return 0;
}
