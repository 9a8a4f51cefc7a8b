// runtime.cpp: the public entry points of weft/runtime.h.
#include "weft/runtime.h"

#include <thread>

#include "leaf.h"
#include "proc.h"

#if WEFT_SPLIT_STACK
extern "C" void __splitstack_getcontext(void* context[10]);
#endif

namespace weft {

int run(detail::Function main, Options opts) { return detail::run_runtime(std::move(main), opts); }

FiberId go(detail::Function fn, std::source_location site) noexcept {
  std::string none;
  return detail::newproc(fn, none, site);
}

FiberId go(std::string name, detail::Function fn, std::source_location site) noexcept {
  return detail::newproc(fn, name, site);
}

void yield() {
  detail::M* m = detail::getm();
  if (!m || !m->curg) {
    detail::leaf_sched_yield();
    return;
  }
  if (m->p && m->p->preempt.load(std::memory_order_relaxed)) {
    detail::check_preempt();  // counts as honouring the request
    return;
  }
  detail::gosched(m, false);
}

void maybe_yield() { detail::check_preempt(); }

FiberId this_fiber_id() {
  detail::G* g = detail::getg();
  return g ? g->id : 0;
}

int procs() { return detail::sched ? detail::sched->nprocs : 0; }

bool in_fiber() { return detail::getg() != nullptr; }

namespace detail {
void enter_blocking() { enter_blocking_impl(); }
void exit_blocking() { exit_blocking_impl(); }

long TEST_m_tid() {
  M* m = getm();
  return m ? m->tid : 0;
}
const char* TEST_stack_kind() { return stack_kind(); }
// Not split-stack itself: calling libgcc from a split function would grow the stack.
__attribute__((noinline)) WEFT_NO_SPLIT_STACK bool TEST_fiber_has_segments_impl();
bool TEST_fiber_has_segments() { return TEST_fiber_has_segments_impl(); }
bool TEST_fiber_has_segments_impl() {
#if WEFT_SPLIT_STACK
  void* ss[10];
  __splitstack_getcontext(ss);
  return split_stack_has_segments(ss);
#else
  return false;
#endif
}
bool TEST_stack_guarded() {
  G* g = getg();
  return g && g->stack.guarded;
}
bool TEST_stack_guard_regions() { return stack_guard_regions(); }
std::size_t TEST_first_stack_size() {
  G* g = getg();
  return g ? g->stack.size : 0;
}
}  // namespace detail

}  // namespace weft
