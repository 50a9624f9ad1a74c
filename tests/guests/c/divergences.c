/* The WASI p1 calls where wasmtime and WasmEdge answer differently (docs/runtime.md, "Divergences"),
 * made as the published programs make them. Prints "<what>: <errno>[ <detail>]" per line, then
 * "done". Runs in a scratch root (preopen fd 3). */
#include <stdio.h>
#include <string.h>
#include <wasi/api.h>

static __wasi_fd_t open_file(const char *name, __wasi_oflags_t oflags, __wasi_fdflags_t fdflags, __wasi_errno_t *e) {
    __wasi_fd_t fd = 0;
    *e = __wasi_path_open(3, 0, name, oflags, __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE |
                          __WASI_RIGHTS_FD_ALLOCATE | __WASI_RIGHTS_FD_FILESTAT_GET, 0, fdflags, &fd);
    return fd;
}

int main(void) {
    __wasi_errno_t e;
    __wasi_fdstat_t st;
    __wasi_filestat_t fs;
    __wasi_fd_t fd = open_file("sync.txt", __WASI_OFLAGS_CREAT, __WASI_FDFLAGS_SYNC, &e);
    printf("open SYNC: %u\n", e);  /* QuickJS's fs opens every file so */
    __wasi_fd_fdstat_get(fd, &st);
    printf("fdstat flags: %u\n", st.fs_flags);
    open_file("sync.txt", 0, __WASI_FDFLAGS_DSYNC | __WASI_FDFLAGS_RSYNC, &e);
    printf("open DSYNC|RSYNC: %u\n", e);
    printf("set_flags SYNC|APPEND: %u\n", __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_SYNC | __WASI_FDFLAGS_APPEND));
    __wasi_fd_fdstat_get(fd, &st);
    printf("fdstat flags after: %u\n", st.fs_flags);
    e = __wasi_fd_allocate(fd, 0, 4096);
    __wasi_fd_filestat_get(fd, &fs);
    printf("allocate: %u size=%llu\n", e, (unsigned long long)fs.size);
    printf("symlink absolute: %u\n", __wasi_path_symlink("/sync.txt", 3, "link"));
    e = __wasi_path_filestat_get(3, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "link", &fs);
    printf("stat through link: %u size=%llu\n", e, (unsigned long long)fs.size);
    for (int i = 1; i <= 2; i++) {
        __wasi_fd_fdstat_get(i, &st);
        int tty = st.fs_filetype == __WASI_FILETYPE_CHARACTER_DEVICE &&
                  !(st.fs_rights_base & (__WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL));
        printf("fd %d isatty: %d\n", i, tty);  /* wasi-libc's isatty() */
    }
    for (int c = 0; c < 4; c++) {
        __wasi_timestamp_t t = 0, r = 0;
        __wasi_errno_t e1 = __wasi_clock_time_get(c, 1, &t), e2 = __wasi_clock_res_get(c, &r);
        printf("clock %d: %u %u res=%llu\n", c, e1, e2, (unsigned long long)r);
    }
    printf("sched_yield: %u\n", __wasi_sched_yield());
    char buf[64];
    __wasi_size_t used;
    __wasi_filesize_t off;
    printf("readlink of a file: %u\n", __wasi_path_readlink(3, "sync.txt", (uint8_t *)buf, sizeof buf, &used));
    open_file("sync.txt/", 0, 0, &e);
    printf("open file/: %u\n", e);
    printf("mkdir existing: %u\n", __wasi_path_create_directory(3, "sync.txt"));
    printf("rmdir a file: %u\n", __wasi_path_remove_directory(3, "sync.txt"));
    printf("unlink .: %u\n", __wasi_path_unlink_file(3, "."));
    printf("seek stdout: %u\n", __wasi_fd_seek(1, 0, __WASI_WHENCE_CUR, &off));
    printf("done\n");
    return 0;
}
