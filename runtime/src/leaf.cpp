// leaf.cpp: see leaf.h. Built without -fsplit-stack (runtime/CMakeLists.txt).
#include "leaf.h"

#include <errno.h>
#include <sched.h>
#include <unistd.h>

namespace weft::detail {

namespace {
long syscall6(long n, long a, long b, long c, long d, long e, long f) {
  return syscall(n, a, b, c, d, e, f);
}
long syscall6_neg(long n, long a, long b, long c, long d, long e, long f) {
  long r = syscall(n, a, b, c, d, e, f);
  return r < 0 ? -errno : r;
}
}  // namespace

int (*const leaf_clock_gettime)(clockid_t, struct timespec*) = &clock_gettime;
int (*const leaf_sched_yield)() = &sched_yield;
long (*const leaf_syscall6)(long, long, long, long, long, long, long) = &syscall6;
long (*const leaf_syscall6_neg)(long, long, long, long, long, long, long) = &syscall6_neg;

}  // namespace weft::detail
