// context.cpp: the switch itself. See context.h for the protocol.
#define WEFT_CONTEXT_SWITCH_BODY  // segmented stacks: context_switch() is defined here
#include "context.h"

#include <cstring>

namespace abi_detail {
extern "C" weft::detail::EhGlobals* __cxa_get_globals() noexcept;
}

namespace weft::detail {

EhGlobals* eh_globals_current() { return abi_detail::__cxa_get_globals(); }

SwitchRecord* context_resumed(transfer_t t) {
  auto* rec = static_cast<SwitchRecord*>(t.data);
  rec->from->fctx = t.fctx;
#if WEFT_ASAN
  const void* bottom = nullptr;
  std::size_t size = 0;
  __sanitizer_finish_switch_fiber(rec->to->fake_stack, &bottom, &size);
  // The first switch away from a thread's own stack is how we learn its bounds.
  if (rec->from->stack_bottom == nullptr) {
    rec->from->stack_bottom = bottom;
    rec->from->stack_size = size;
  }
#endif
  return rec;
}

void context_make(Context& ctx, void* lo, std::size_t size, void (*entry)(transfer_t)) {
  ctx.fctx = boost::context::detail::make_fcontext(static_cast<char*>(lo) + size, size, entry);
  ctx.eh = EhGlobals{};
#if WEFT_ASAN
  // A recycled stack still carries the poisoned redzones of its previous fiber's frames.
  __asan_unpoison_memory_region(lo, size);
  ctx.fake_stack = nullptr;
  ctx.stack_bottom = lo;
  ctx.stack_size = size;
#endif
#if WEFT_TSAN
  if (!ctx.tsan_fiber) {
    ctx.tsan_fiber = __tsan_create_fiber(0);
    ctx.tsan_owned = true;
  }
#endif
}

void context_thread_init(Context& ctx) {
  ctx = Context{};
#if WEFT_TSAN
  ctx.tsan_fiber = __tsan_get_current_fiber();
  ctx.tsan_owned = false;
#endif
}

void context_destroy(Context& ctx) {
#if WEFT_TSAN
  if (ctx.tsan_owned && ctx.tsan_fiber) __tsan_destroy_fiber(ctx.tsan_fiber);
  ctx.tsan_fiber = nullptr;
#endif
  (void)ctx;
}

}  // namespace weft::detail
