// runtime.cpp: the public entry points of weft/runtime.h.
#include "weft/runtime.h"

#include <atomic>
#include <cstdint>

#include "leaf.h"
#include "proc.h"

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
}  // namespace detail

}  // namespace weft
