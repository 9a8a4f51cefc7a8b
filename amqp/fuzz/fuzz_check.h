// fuzz_check.h: what the AMQP codec fuzzers share -- a check that aborts (so libFuzzer
// records the input as a crash) and the codec's round trips.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "weft/amqp/frame.h"
#include "weft/amqp/spec.h"
#include "weft/amqp/types.h"

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

namespace weft::amqp::fuzz {

inline std::string encode(const Method& m) {
  std::string out;
  Writer w(out);
  encode_method(m, w);
  return out;
}

// reflexive() is false when a value is unequal to itself -- a float or double NaN in a
// field table makes `x == x` false -- and then only the wire bytes can be compared.
template <class T>
bool reflexive(const T& x) {
  return x == x;
}

}  // namespace weft::amqp::fuzz
