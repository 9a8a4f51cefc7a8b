// base/log.cpp: see base/log.h. One fprintf per line: stderr is unbuffered and a line is written
// whole, so lines from different threads do not interleave mid-line.
#include "base/log.h"

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace weftd {

namespace {
std::atomic<LogLevel> g_level{LogLevel::info};
const char* kNames[] = {"debug", "info", "warn", "error"};
}  // namespace

void set_log_level(LogLevel level) { g_level = level; }

bool parse_log_level(const char* s, LogLevel* out) {
  for (int i = 0; i < 4; i++)
    if (std::strcmp(s, kNames[i]) == 0) return *out = static_cast<LogLevel>(i), true;
  return false;
}

void log_at(LogLevel level, const char* fmt, ...) {
  if (level < g_level.load(std::memory_order_relaxed)) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  std::time_t t = std::time(nullptr);
  std::tm tm;
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::fprintf(stderr, "%s %-5s %s\n", ts, kNames[static_cast<int>(level)], msg);
}

}  // namespace weftd
