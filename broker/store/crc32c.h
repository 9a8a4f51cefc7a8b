// store/crc32c.h: CRC-32C (Castagnoli; iSCSI, RFC 3720), the checksum of every record of
// the durable log (store/log_format.h) -- the one LevelDB's log and RabbitMQ's CQv2
// store use.
//
// extend(crc, data, n) continues a CRC over more bytes, as LevelDB's crc32c::Extend:
// extend(value(a), b) == value(a + b). The work is done by SSE4.2's crc32 instruction
// where the CPU has it (chosen once, at the first call, with __builtin_cpu_supports)
// and by a slicing-by-8 table otherwise; both give the same value for every input
// (tests/broker/store/segment_log_test.cpp checks them against each other).
//
// A CRC stored next to data that is itself checksummed again (a record holding records)
// is masked first, as LevelDB does: the CRC of a string with its own CRC embedded is
// degenerate. Thread-safe: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weftd::crc32c {

// extend() returns the CRC-32C of the bytes whose CRC is `crc` followed by data[0, n).
std::uint32_t extend(std::uint32_t crc, const void* data, std::size_t n);

inline std::uint32_t extend(std::uint32_t crc, std::string_view s) {
  return extend(crc, s.data(), s.size());
}
inline std::uint32_t value(const void* data, std::size_t n) { return extend(0, data, n); }
inline std::uint32_t value(std::string_view s) { return extend(0, s.data(), s.size()); }

// The two implementations behind extend(), for tests and benchmarks.
std::uint32_t extend_portable(std::uint32_t crc, const void* data, std::size_t n);
// REQUIRES: hardware_available().
std::uint32_t extend_hardware(std::uint32_t crc, const void* data, std::size_t n);
// hardware_available() tells whether this CPU has the crc32 instruction (x86-64 SSE4.2).
bool hardware_available();

// mask() is the form a CRC is stored in (a rotation plus a constant, LevelDB's);
// unmask(mask(c)) == c.
inline constexpr std::uint32_t kMaskDelta = 0xa282ead8u;
inline constexpr std::uint32_t mask(std::uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + kMaskDelta;
}
inline constexpr std::uint32_t unmask(std::uint32_t masked) {
  const std::uint32_t rot = masked - kMaskDelta;
  return (rot >> 17) | (rot << 15);
}

}  // namespace weftd::crc32c
