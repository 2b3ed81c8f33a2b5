/* Preloaded after libfaketime on a clock-skewed kvstore (tests/chaos, the
 * clock-skew nemesis).
 *
 * libfaketime shifts what the process reads from CLOCK_REALTIME, but not the
 * kernel's: an absolute CLOCK_REALTIME futex deadline, which abseil's Mutex
 * computes as absl::Now() + timeout, then expires `skew` seconds late (clock
 * ahead) or at once (clock behind), so a node's heartbeat and maintenance
 * loops would stall or spin: a harness artefact, not clock skew. This wrapper
 * turns such a wait into the same relative wait on CLOCK_MONOTONIC (which
 * FAKETIME_DONT_FAKE_MONOTONIC=1 leaves alone), as a real skewed clock would
 * behave. Every other syscall passes through unchanged.
 *
 *   cc -O2 -shared -fPIC -o futex_realtime.so futex_realtime.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <linux/futex.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

typedef long (*syscall_fn)(long, ...);

static int64_t ns_of(const struct timespec* t) {
  return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

long syscall(long number, ...) {
  static syscall_fn real;
  if (!real) real = (syscall_fn)dlsym(RTLD_NEXT, "syscall");
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long);
  va_end(ap);
  int op = (int)a[1];
  const struct timespec* deadline = (const struct timespec*)a[3];
  if (number == SYS_futex && deadline && (op & FUTEX_CLOCK_REALTIME) &&
      (op & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET) {
    struct timespec now, mono, abs_mono;
    clock_gettime(CLOCK_REALTIME, &now); /* libfaketime's, skewed */
    clock_gettime(CLOCK_MONOTONIC, &mono);
    int64_t left = ns_of(deadline) - ns_of(&now);
    int64_t at = ns_of(&mono) + (left > 0 ? left : 0);
    abs_mono.tv_sec = at / 1000000000;
    abs_mono.tv_nsec = at % 1000000000;
    return real(number, a[0], op & ~FUTEX_CLOCK_REALTIME, a[2], (long)&abs_mono, a[4], a[5]);
  }
  return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
