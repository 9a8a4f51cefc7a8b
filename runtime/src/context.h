// context.h: one fiber context switch, with everything that must travel with it.
//
// A switch is Boost.Context's jump_fcontext (saves callee-saved registers and the stack
// pointer) plus the per-thread state that belongs to the fiber rather than to
// the thread, which must be saved from the thread and restored into it on every switch:
//   - the C++ exception globals (__cxa_eh_globals: caught-exception stack and uncaught
//     count), or a fiber that parks inside a catch block and resumes on another thread
//     corrupts both threads' exception state;
//   - with segmented stacks, libgcc's split-stack context (the stack guard in the TCB
//     at %fs:0x70 and the current segment list) -- see stack_segmented.cpp;
//   - under ASan/TSan, the sanitizer's notion of the current stack (sanitizer.h).
//
// Protocol. The switcher fills a SwitchRecord {from, to} and passes it through the jump;
// whoever resumes (a fiber returning from context_switch, or a new fiber's entry
// function) calls context_resumed(), which stores the switcher's fcontext into
// record->from. A context must therefore never be resumed twice: the scheduler's
// G states guarantee a G is on at most one run queue and runs on at most one M.
#pragma once

#include <boost/context/detail/fcontext.hpp>
#include <cstddef>

#include "sanitizer.h"

#if WEFT_SPLIT_STACK
#define WEFT_NO_SPLIT_STACK __attribute__((no_split_stack))
#define WEFT_SWITCH_INLINE  // out of line: see context_switch()
extern "C" {
void __splitstack_getcontext(void* context[10]);
void __splitstack_setcontext(void* context[10]);
}
#else
#define WEFT_NO_SPLIT_STACK
#define WEFT_SWITCH_INLINE inline
#endif

namespace weft::detail {

using boost::context::detail::fcontext_t;
using boost::context::detail::transfer_t;

// The libstdc++ layout of __cxa_eh_globals (unwind-cxx.h); stable across GCC releases.
struct EhGlobals {
  void* caught_exceptions = nullptr;
  unsigned int uncaught_exceptions = 0;
};

struct Context {
  fcontext_t fctx = nullptr;
  EhGlobals eh;
#if WEFT_SPLIT_STACK
  void* ss[10] = {};  // libgcc split-stack context
#endif
#if WEFT_ASAN
  void* fake_stack = nullptr;
  const void* stack_bottom = nullptr;
  std::size_t stack_size = 0;
#endif
#if WEFT_TSAN
  void* tsan_fiber = nullptr;
  bool tsan_owned = false;  // created by us (a G), not a thread's own fiber
#endif
};

struct SwitchRecord {
  Context* from = nullptr;
  Context* to = nullptr;
  void* arg = nullptr;      // the scheduler passes its M here
  EhGlobals* eh = nullptr;  // the switching thread's exception globals (cached per M)
};

// eh_globals_current() is the calling thread's __cxa_eh_globals.
EhGlobals* eh_globals_current();

// context_resumed() completes a switch on the resumed side; context_switch() calls it
// itself, a new fiber's entry function calls it first thing.
WEFT_NO_SPLIT_STACK SwitchRecord* context_resumed(transfer_t t);

// context_switch() saves the caller into `from`, resumes `to`, and returns the record of
// whichever switch later resumes `from`. `from_exiting` tells the sanitizers that `from`
// will never be resumed (its fake stack can be freed).
//
// Inline: each call between a parking fiber and the jump is a return that mispredicts
// when the fiber is resumed (the return-address predictor holds the other fiber's
// calls), and this layer was worth a measurable share of a switch (measured:
// docs/benchmarks.md, fifth session; docs/design.md, "Switching"). Segmented stacks keep it out of
// line and not split-stack: after
// __splitstack_setcontext() the thread's stack guard describes `to`'s stack, so no
// prologue may run a stack check on `from`'s stack until the jump.
#if WEFT_SPLIT_STACK
WEFT_NO_SPLIT_STACK SwitchRecord* context_switch(Context& from, Context& to, SwitchRecord* rec,
                                                 bool from_exiting);
#endif
#if !WEFT_SPLIT_STACK || defined(WEFT_CONTEXT_SWITCH_BODY)  // (context.cpp, segmented)
WEFT_SWITCH_INLINE SwitchRecord* context_switch(Context& from, Context& to, SwitchRecord* rec,
                                                bool from_exiting) {
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
#endif

// context_make() prepares `ctx` to run `entry` on the stack [lo, lo+size) the first time
// it is switched to. With segmented stacks the caller prepares ctx.ss first.
void context_make(Context& ctx, void* lo, std::size_t size, void (*entry)(transfer_t));

// context_thread_init() makes `ctx` describe the calling thread's own stack (an M's g0).
void context_thread_init(Context& ctx);
// context_destroy() releases sanitizer state of a G's context.
void context_destroy(Context& ctx);

}  // namespace weft::detail
