// store/crc32c.cpp: see store/crc32c.h.
#include "store/crc32c.h"

#include <bit>
#include <cstring>

namespace weftd::crc32c {

namespace {

constexpr std::uint32_t kPoly = 0x82f63b78u;  // 0x1EDC6F41, bit-reflected

// kTable[k][b]: the CRC register after byte b followed by k zero bytes (slicing-by-8).
struct Table {
  std::uint32_t t[8][256];
};

constexpr Table make_table() {
  Table x{};
  for (std::uint32_t i = 0; i < 256; i++) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (kPoly & (0u - (c & 1u)));
    x.t[0][i] = c;
  }
  for (int k = 1; k < 8; k++)
    for (int i = 0; i < 256; i++) x.t[k][i] = (x.t[k - 1][i] >> 8) ^ x.t[0][x.t[k - 1][i] & 0xff];
  return x;
}

constexpr Table kTable = make_table();

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t extend_sse42(std::uint32_t crc,
                                                             const unsigned char* p,
                                                             std::size_t n) {
  std::uint64_t l = ~crc;
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    l = __builtin_ia32_crc32di(l, w);
  }
  auto l32 = static_cast<std::uint32_t>(l);
  for (; n > 0; p++, n--) l32 = __builtin_ia32_crc32qi(l32, *p);
  return ~l32;
}
#endif

using Fn = std::uint32_t (*)(std::uint32_t, const void*, std::size_t);

Fn pick() { return hardware_available() ? extend_hardware : extend_portable; }

}  // namespace

std::uint32_t extend_portable(std::uint32_t crc, const void* data, std::size_t n) {
  auto p = static_cast<const unsigned char*>(data);
  std::uint32_t l = ~crc;
  const auto& t = kTable.t;
  if constexpr (std::endian::native == std::endian::little) {
    for (; n >= 8; p += 8, n -= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      w ^= l;
      l = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
          t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
    }
  }
  for (; n > 0; p++, n--) l = t[0][(l ^ *p) & 0xff] ^ (l >> 8);
  return ~l;
}

std::uint32_t extend_hardware(std::uint32_t crc, const void* data, std::size_t n) {
#if defined(__x86_64__)
  return extend_sse42(crc, static_cast<const unsigned char*>(data), n);
#else
  return extend_portable(crc, data, n);
#endif
}

bool hardware_available() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
#else
  return false;
#endif
}

std::uint32_t extend(std::uint32_t crc, const void* data, std::size_t n) {
  static const Fn fn = pick();
  return fn(crc, data, n);
}

}  // namespace weftd::crc32c
