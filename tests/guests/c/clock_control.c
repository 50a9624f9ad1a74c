/* The guest of the controlled-clock tests (tests/runtime/test_clock_control.py).
 *   token    issues a token at start and checks it every second (a relative sleep): "valid" until an
 *            hour of the guest's wall-clock time has passed, then "expired" and exit 0.
 *   sleeper  sleeps 10 s in a loop (relative), then 10 s more until an absolute monotonic deadline,
 *            printing the tick, the guest's monotonic seconds and its wall-clock seconds each time.
 *   now      prints the guest's wall-clock seconds since the epoch and exits. */
#include <stdio.h>
#include <string.h>
#include <time.h>

static long long secs(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (long long)t.tv_sec;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "now";
    setvbuf(stdout, NULL, _IONBF, 0);
    if (strcmp(mode, "token") == 0) {
        long long issued = secs(CLOCK_REALTIME);
        printf("issued %lld\n", issued);
        for (;;) {
            struct timespec one = {1, 0};
            nanosleep(&one, 0);
            long long age = secs(CLOCK_REALTIME) - issued;
            if (age >= 3600) {
                printf("expired after %lld s\n", age);
                return 0;
            }
            printf("valid at %lld s\n", age);
        }
    }
    if (strcmp(mode, "sleeper") == 0) {
        long long mono0 = secs(CLOCK_MONOTONIC), wall0 = secs(CLOCK_REALTIME);
        printf("start\n");
        for (int tick = 1; tick <= 3; tick++) {
            struct timespec ten = {10, 0};
            nanosleep(&ten, 0);
            printf("tick %d mono %lld wall %lld\n", tick, secs(CLOCK_MONOTONIC) - mono0,
                   secs(CLOCK_REALTIME) - wall0);
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 10;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, 0);
        printf("absolute mono %lld\n", secs(CLOCK_MONOTONIC) - mono0);
        return 0;
    }
    printf("now %lld\n", secs(CLOCK_REALTIME));
    return 0;
}
