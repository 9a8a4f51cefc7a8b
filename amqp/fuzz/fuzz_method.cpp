// fuzz_method.cpp: bytes -> Reader -> decode_method(). Whatever decodes must re-encode
// to bytes that decode, completely, to an equal method (the round trip); whatever does
// not must say why (unknown ids, or a Reader error). check_method() must not crash.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"

using namespace weft::amqp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader r(data, size);
  bool unknown = false;
  std::optional<Method> m = decode_method(r, &unknown);
  if (!m) {
    FUZZ_CHECK(unknown || !r.ok());
    return 0;
  }
  FUZZ_CHECK(r.ok() && !unknown);
  const MethodInfo& info = method_info(*m);
  FUZZ_CHECK(method_info(info.class_id, info.method_id) == &info);
  (void)check_method(*m);

  const std::string once = fuzz::encode(*m);
  Reader r2(once);
  bool unknown2 = false;
  std::optional<Method> m2 = decode_method(r2, &unknown2);
  FUZZ_CHECK(m2.has_value());
  FUZZ_CHECK(r2.ok() && r2.at_end());
  FUZZ_CHECK(m2->index() == m->index());
  if (fuzz::reflexive(*m)) FUZZ_CHECK(*m2 == *m);
  // Decoding is a function of the bytes, so a canonical encoding is a fixed point.
  FUZZ_CHECK(fuzz::encode(*m2) == once);
  // Every field re-encodes to as many octets as it was read from: nothing is dropped.
  FUZZ_CHECK(size - r.remaining() == once.size());
  return 0;
}
