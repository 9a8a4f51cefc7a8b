// check.h: WEFT_ASSERT, the runtime's checked invariants (Go's throw).
//
// WEFT_ASSERT(cond) backs a `// REQUIRES:` line or a stated invariant (a G status
// transition, run-queue ownership, a wait list's lock). Where checks are on (Debug
// builds, or -DWEFT_CHECKS=ON: WEFT_ASSERTS is then defined), a false `cond` prints
// "fatal error: assertion failed: COND" with the file and line, and aborts. Elsewhere
// `cond` is not evaluated and nothing is emitted: Release builds pay nothing.
#pragma once

namespace weft::detail {

// assert_fail() reports a failed WEFT_ASSERT on stderr and aborts. Never returns.
[[noreturn]] void assert_fail(const char* expr, const char* file, int line);

#if WEFT_ASSERTS
inline constexpr bool kChecks = true;
#else
inline constexpr bool kChecks = false;
#endif

}  // namespace weft::detail

#if WEFT_ASSERTS
#define WEFT_ASSERT(cond)                       \
  (__builtin_expect(static_cast<bool>(cond), 1) \
       ? static_cast<void>(0)                   \
       : ::weft::detail::assert_fail(#cond, __FILE__, __LINE__))
#else
#define WEFT_ASSERT(cond) static_cast<void>(sizeof(static_cast<bool>(cond)))
#endif
