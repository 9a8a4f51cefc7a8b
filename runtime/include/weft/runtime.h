// weft/runtime.h: starting the runtime, starting fibers, yielding.
//
// weft runs many fibers (G, Go's goroutines) on a few OS threads (M) through a fixed set
// of processors (P, GOMAXPROCS). A fiber is cheap: it starts on a small stack that grows
// on demand, and blocking it (on a channel, a mutex, a timer or a socket) parks only the
// fiber, never the thread.
//
//   int main() {
//     return weft::run([] {
//       weft::WaitGroup wg;
//       for (int i = 0; i < 1000; i++) {
//         wg.add(1);
//         weft::go([wg, i]() mutable { work(i); wg.done(); });
//       }
//       wg.wait();
//     });
//   }
//
// Thread safety: every function here may be called from any fiber; go() may also be
// called from a plain thread while a runtime is running.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <source_location>
#include <string>
#include <type_traits>
#include <utility>

#include "weft/detail/function.h"

namespace weft {

// Options for run(). Zero values mean "from the environment, else the default".
struct Options {
  // procs is the number of processors P: fibers running Go-style in parallel.
  // Default: $WEFT_PROCS, else the number of online cores (GOMAXPROCS).
  int procs = 0;
  // stack_size is the reserved size of a guarded stack, in bytes (virtual; committed
  // lazily). Segmented stacks ignore it: they grow without bound.
  // Default: $WEFT_STACK_SIZE, else 256 KiB (1 MiB under sanitizers).
  std::size_t stack_size = 0;
  // stack_trim_after_ms: a fiber parked this long gets the pages of its guarded stack
  // below its stack pointer given back to the kernel (Go shrinks idle stacks at GC);
  // negative: never. Default: $WEFT_STACK_TRIM_MS (0 there: never), else 1000.
  int stack_trim_after_ms = 0;
  // poll_spin_us: when every P is idle, the thread that would sleep in the network
  // poller first polls without blocking for this long, so that a request arriving soon
  // after the last one is taken without a thread wake-up. Lower latency for up to this
  // much CPU after each burst of work (a whole core under steady traffic); a server that
  // wants it says so. Negative: never. Default: $WEFT_POLL_SPIN_US, else 0 (never).
  int poll_spin_us = 0;
};

// run() starts the runtime on the calling thread, runs `main` in a fiber named "main",
// and returns once `main` returns, like a Go program's main. Fibers still parked then are
// reclaimed without unwinding (their destructors do not run), as a Go program's are at
// exit; run() reports their number through weft::stats() before it returns.
// Returns 0. REQUIRES: no runtime is running in this process.
int run(detail::Function main, Options opts = {});

// FiberId identifies a fiber for its lifetime; ids are never reused within a process.
using FiberId = std::uint64_t;

// go() starts `fn` in a new fiber, made runnable on the current P (or the global queue
// when called from outside the runtime). The creation site is recorded for panics and
// profiles. Never blocks.
// go() never throws: if the system cannot give a fiber memory, the process ends (as Go's).
FiberId go(detail::Function fn,
           std::source_location site = std::source_location::current()) noexcept;

// go() with a name, shown in fiber dumps and panic messages.
FiberId go(std::string name, detail::Function fn,
           std::source_location site = std::source_location::current()) noexcept;

// yield() lets other runnable fibers run; the caller stays runnable (Go's Gosched).
void yield();

// maybe_yield() yields only if sysmon has asked the running fiber to: it has run for
// more than 10 ms without rescheduling. Call it in long CPU-bound loops; it costs a few
// nanoseconds when there is no request. (Every blocking runtime call, go(), and mutex
// hand-offs check for the request too: weft's preemption is cooperative.)
void maybe_yield();

// this_fiber_id() returns the id of the calling fiber, 0 outside the runtime.
FiberId this_fiber_id();

// procs() returns the number of processors of the running runtime (0 if none).
int procs();

// in_fiber() tells whether the caller runs on a fiber of a running runtime.
bool in_fiber();

// blocking() runs `fn` -- a call that may block its thread: file I/O, getaddrinfo, a
// blocking third-party library -- while other fibers go on running. The calling fiber's
// processor is handed to another thread if `fn` takes more than ~20 µs (Go's
// entersyscall/exitsyscall). Returns fn's result; exceptions propagate.
template <class F>
auto blocking(F&& fn) -> decltype(fn());

namespace detail {
void enter_blocking();
void exit_blocking();
}  // namespace detail

template <class F>
auto blocking(F&& fn) -> decltype(fn()) {
  // The exception, if any, is carried out of the catch block before exit_blocking(),
  // which may move this fiber to another thread: a fiber must never change threads
  // inside a catch block or an unwind.
  using R = decltype(fn());
  std::exception_ptr error;
  detail::enter_blocking();
  if constexpr (std::is_void_v<R>) {
    try {
      std::forward<F>(fn)();
    } catch (...) {
      error = std::current_exception();
    }
    detail::exit_blocking();
    if (error) std::rethrow_exception(error);
  } else {
    std::optional<R> result;
    try {
      result.emplace(std::forward<F>(fn)());
    } catch (...) {
      error = std::current_exception();
    }
    detail::exit_blocking();
    if (error) std::rethrow_exception(error);
    return std::move(*result);
  }
}

}  // namespace weft
