// sanitizer.h: fiber-switch annotations for ASan and TSan, compiled away otherwise.
//
// ASan must be told when the stack changes under it (__sanitizer_start_switch_fiber
// before the jump, __sanitizer_finish_switch_fiber after it), or it reports false stack
// overflows and loses fake frames. TSan models each fiber as its own "thread" of
// happens-before: __tsan_switch_to_fiber before every jump.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif
