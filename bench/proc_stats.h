// proc_stats.h: process measurements shared by weft-bench and its C++ peer.
#pragma once

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace bench {

// rss_bytes() is the resident set size, from /proc/self/statm.
inline long rss_bytes() {
  long pages = 0, rss = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    std::fclose(f);
  }
  return rss * sysconf(_SC_PAGESIZE);
}

// cpu_ms() is the process's user + system CPU time so far, in milliseconds.
inline double cpu_ms() {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  return (r.ru_utime.tv_sec + r.ru_stime.tv_sec) * 1e3 +
         (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e3;
}

}  // namespace bench
