// context.cpp: the switch itself. See context.h for the protocol.
#include "context.h"

#include <cstring>

#if WEFT_SPLIT_STACK
extern "C" {
void __splitstack_getcontext(void* context[10]);
void __splitstack_setcontext(void* context[10]);
}
#endif

namespace abi_detail {
extern "C" weft::detail::EhGlobals* __cxa_get_globals() noexcept;
}

namespace weft::detail {

EhGlobals* eh_globals_current() { return abi_detail::__cxa_get_globals(); }

// Not split-stack: after __splitstack_setcontext() the thread's stack guard describes
// `to`'s stack, so no prologue may run a stack check on `from`'s stack until the jump.
SwitchRecord* context_switch(Context& from, Context& to, SwitchRecord* rec, bool from_exiting) {
  rec->from = &from;
  rec->to = &to;
  // rec belongs to the switching M, whose thread's globals it caches.
  EhGlobals* eh = rec->eh ? rec->eh : eh_globals_current();
  from.eh = *eh;
  *eh = to.eh;
#if WEFT_SPLIT_STACK
  __splitstack_getcontext(from.ss);
  __splitstack_setcontext(to.ss);
#endif
#if WEFT_ASAN
  __sanitizer_start_switch_fiber(from_exiting ? nullptr : &from.fake_stack, to.stack_bottom,
                                 to.stack_size);
#else
  (void)from_exiting;
#endif
#if WEFT_TSAN
  __tsan_switch_to_fiber(to.tsan_fiber, 0);
#endif
  transfer_t t = boost::context::detail::jump_fcontext(to.fctx, rec);
  return context_resumed(t);
}

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
