// signal.cpp: fatal errors, and turning a guarded-stack overflow into a clear message.
//
// A fiber that overflows a guarded stack touches its PROT_NONE guard page and gets
// SIGSEGV -- on a stack that has no room left, so the handler runs on a per-M
// alternate signal stack (sigaltstack). If the faulting address is in the running
// fiber's guard region the handler prints the fiber's id, name and creation site and
// exits with status 2 (a Go panic's). Any other fault is not ours: the previous action
// (the default, or a sanitizer's) is restored and the faulting instruction re-executes.
// Every M has the signal stack, segmented builds included: the CPU profiler's SIGPROF
// handler runs on it too.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "proc.h"

namespace weft::detail {

namespace {

constexpr std::size_t kAltStackSize = 64 * 1024;
struct sigaction g_old_segv, g_old_bus;
std::once_flag g_install_once;

void write_str(const char* s) {
  if (write(2, s, std::strlen(s)) < 0) {
  }
}

void write_u64(unsigned long long v) {
  char buf[24];
  int i = sizeof buf;
  buf[--i] = '\0';
  do {
    buf[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v && i > 0);
  write_str(buf + i);
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
  M* m = getm();
  G* g = m ? m->curg : nullptr;
  if (g && stack_guard_contains(g->stack, info->si_addr)) {
    write_str("fatal error: stack overflow in fiber ");
    write_u64(g->id);
    write_str(" \"");
    write_str(g->name.c_str());
    write_str("\" (guarded stack of ");
    write_u64(g->stack.size);
    write_str(" bytes; set WEFT_STACK_SIZE or Options::stack_size)\ncreated by ");
    write_str(g->site.function_name());
    write_str("\n\tat ");
    write_str(g->site.file_name());
    write_str(":");
    write_u64(g->site.line());
    write_str("\n");
    _exit(2);
  }
  // Not an overflow of ours: hand the signal to whoever had it before.
  const struct sigaction& old = sig == SIGSEGV ? g_old_segv : g_old_bus;
  if (old.sa_flags & SA_SIGINFO) {
    if (old.sa_sigaction) return old.sa_sigaction(sig, info, uctx);
  } else if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    return old.sa_handler(sig);
  }
  signal(sig, SIG_DFL);  // re-executing the access now kills the process with a core
}

void install_process_handler() {
  struct sigaction sa {};
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &g_old_segv);
  sigaction(SIGBUS, &sa, &g_old_bus);
}

}  // namespace

void overflow_handler_install_thread(M* m) {
  // Segmented stacks grow instead of overflowing: no guard pages to watch. They still
  // need the signal stack: the profiler's SIGPROF handler runs on it (cpuprof.cpp), and a
  // signal frame does not fit in a fiber's 2 KiB first segment.
  if (!WEFT_SPLIT_STACK) std::call_once(g_install_once, install_process_handler);
  m->altstack =
      mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m->altstack == MAP_FAILED) {
    m->altstack = nullptr;
    return;
  }
  stack_t ss{};
  ss.ss_sp = m->altstack;
  ss.ss_size = kAltStackSize;
  sigaltstack(&ss, &m->old_altstack);
}

void overflow_handler_remove_thread(M* m) {
  if (!m->altstack) return;
  if (m->old_altstack.ss_sp && !(m->old_altstack.ss_flags & SS_DISABLE)) {
    sigaltstack(&m->old_altstack, nullptr);
  } else {
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
  }
  munmap(m->altstack, kAltStackSize);
  m->altstack = nullptr;
}

void fatal(const char* msg) {
  write_str("fatal error: ");
  write_str(msg);
  write_str("\n");
  std::_Exit(2);
}

}  // namespace weft::detail
