// base/log.h: weftd's leveled log lines on stderr ("2026-11-26T15:04:05Z info  connection 3: ...").
#pragma once

namespace weftd {

enum class LogLevel { debug, info, warn, error };
void set_log_level(LogLevel level);
bool parse_log_level(const char* s, LogLevel* out);

void log_at(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) ::weftd::log_at(::weftd::LogLevel::debug, __VA_ARGS__)
#define log_info(...) ::weftd::log_at(::weftd::LogLevel::info, __VA_ARGS__)
#define log_warn(...) ::weftd::log_at(::weftd::LogLevel::warn, __VA_ARGS__)
#define log_error(...) ::weftd::log_at(::weftd::LogLevel::error, __VA_ARGS__)

}  // namespace weftd
