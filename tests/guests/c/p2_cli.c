/* A plain wasip1 C program that the tests turn into a command component with the preview-1
 * adapter (what wasi-sdk + wasm-tools, TinyGo and Rust's wasip1 output become).
 * argv[1] = echo | exit N | sleep MS | spin | memhog | cwdfile NAME | trap */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "echo";
    if (strcmp(what, "echo") == 0) {
        for (int i = 0; i < argc; i++) printf("arg[%d]=%s\n", i, argv[i]);
        printf("FOO=%s\n", getenv("FOO") ? getenv("FOO") : "-");
        char buf[256]; size_t n = fread(buf, 1, sizeof buf - 1, stdin); buf[n] = 0;
        printf("stdin=%s\n", buf);
        fprintf(stderr, "echo done\n");
        return 0;
    }
    if (strcmp(what, "exit") == 0) { printf("exiting\n"); fflush(stdout); return atoi(argv[2]); }
    if (strcmp(what, "sleep") == 0) {
        printf("sleeping\n"); fflush(stdout);
        struct timespec ts = {atoi(argv[2]) / 1000, (atoi(argv[2]) % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        printf("woke\n");
        return 0;
    }
    if (strcmp(what, "spin") == 0) {
        printf("spinning\n"); fflush(stdout);
        volatile unsigned long n = 0;
        for (;;) n++;
    }
    if (strcmp(what, "memhog") == 0) {
        static char *volatile keep[1 << 13];
        for (int i = 0;; i++) {
            char *p = malloc(1 << 20);
            if (!p) { fprintf(stderr, "malloc failed after %d MiB\n", i); abort(); }
            memset(p, 1, 1 << 20);
            keep[i % (1 << 13)] = p;
        }
    }
    if (strcmp(what, "cwdfile") == 0) {  /* wasi-libc resolves relative paths from / (it has no cwd) */
        printf("PWD=%s\n", getenv("PWD") ? getenv("PWD") : "-");
        FILE *f = fopen(argv[2], "r");
        if (!f) { perror("fopen"); return 2; }
        char buf[256]; size_t n = fread(buf, 1, sizeof buf - 1, f); buf[n] = 0;
        printf("read=%s\n", buf);
        return 0;
    }
    if (strcmp(what, "trap") == 0) __builtin_trap();
    return 0;
}
