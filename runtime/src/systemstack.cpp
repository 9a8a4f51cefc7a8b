// systemstack.cpp: see systemstack.h.
#include "systemstack.h"

#include <sys/mman.h>

#include "proc.h"

#if WEFT_SPLIT_STACK
// weft_systemstack_switch(fn, arg, top): save %rbp and the split-stack guard (%fs:0x70,
// glibc's tcbhead_t.__private_ss), clear the guard, move %rsp to `top`, call fn(arg),
// restore. The CFI makes the frame unwindable (debuggers, profilers) through %rbp.
extern "C" void weft_systemstack_switch(void (*fn)(void*), void* arg, void* top);
asm(R"(
    .text
    .p2align 4
    .globl weft_systemstack_switch
    .type weft_systemstack_switch, @function
weft_systemstack_switch:
    .cfi_startproc
    pushq %rbp
    .cfi_def_cfa_offset 16
    .cfi_offset %rbp, -16
    movq %rsp, %rbp
    .cfi_def_cfa_register %rbp
    pushq %fs:0x70
    pushq %fs:0x70
    movq $0, %fs:0x70
    movq %rdx, %rsp
    movq %rdi, %rax
    movq %rsi, %rdi
    callq *%rax
    leaq -16(%rbp), %rsp
    popq %rax
    movq %rax, %fs:0x70
    popq %rax
    popq %rbp
    .cfi_def_cfa %rsp, 8
    ret
    .cfi_endproc
    .size weft_systemstack_switch, .-weft_systemstack_switch
)");
#endif

namespace weft::detail {

void systemstack_call(void (*fn)(void*), void* arg) {
#if WEFT_SPLIT_STACK
  M* m = getm();
  if (!m || !m->curg || m->on_system_stack || !m->system_stack) {
    fn(arg);
    return;
  }
  m->on_system_stack = true;
  weft_systemstack_switch(fn, arg, static_cast<char*>(m->system_stack) + kSystemStackSize);
  m->on_system_stack = false;
#else
  fn(arg);
#endif
}

void systemstack_init(M* m) {
#if WEFT_SPLIT_STACK
  void* p = mmap(nullptr, kSystemStackSize, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) fatal("weft: cannot map an M's system stack");
  m->system_stack = p;
#else
  (void)m;
#endif
}

void systemstack_free(M* m) {
  if (m->system_stack) munmap(m->system_stack, kSystemStackSize);
  m->system_stack = nullptr;
}

}  // namespace weft::detail
