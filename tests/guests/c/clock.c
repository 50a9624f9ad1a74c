/* Sleeps through poll_oneoff clock subscriptions (relative and absolute) and prints how long each
 * took by the guest's own monotonic clock, in milliseconds. */
#include <stdio.h>
#include <time.h>

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(void) {
    long long t0 = now_ms();
    struct timespec rel = {0, 50 * 1000000};
    nanosleep(&rel, 0);
    long long t1 = now_ms();
    printf("relative %lld\n", t1 - t0);

    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += 80 * 1000000;
    if (until.tv_nsec >= 1000000000) { until.tv_sec++; until.tv_nsec -= 1000000000; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, 0);
    printf("absolute %lld\n", now_ms() - t1);
    return 0;
}
