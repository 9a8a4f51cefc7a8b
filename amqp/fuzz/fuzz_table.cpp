// fuzz_table.cpp: bytes -> Reader::table(). A table that decodes must re-encode to the
// very bytes it was read from (types.h: "encoding a decoded table gives back the same
// bytes"), except that a boolean's octet is written back as 0 or 1 whatever non-zero
// value it was read as; and the re-encoding must decode to an equal table.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"

using namespace weft::amqp;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader r(data, size);
  FieldTable t = r.table();
  if (!r.ok()) {
    FUZZ_CHECK(r.remaining() == 0);  // an error consumes everything: nothing reads past it
    return 0;
  }
  const std::size_t consumed = size - r.remaining();

  std::string out;
  Writer w(out);
  w.table(t);
  FUZZ_CHECK(out.size() == consumed);
  for (std::size_t i = 0; i < consumed; i++) {
    const auto in = data[i], back = static_cast<std::uint8_t>(out[i]);
    if (in == back) continue;
    // The one normalisation: 't' then a non-zero octet, written back as 1.
    FUZZ_CHECK(i > 0 && data[i - 1] == 't' && in > 1 && back == 1);
  }

  Reader r2(out);
  FieldTable t2 = r2.table();
  FUZZ_CHECK(r2.ok() && r2.at_end());
  if (fuzz::reflexive(t)) FUZZ_CHECK(t2 == t);
  std::string again;
  Writer w2(again);
  w2.table(t2);
  FUZZ_CHECK(again == out);
  return 0;
}
