// alloc_split.cpp: operator new/delete for segmented-stack builds.
//
// malloc is not split-stack code and may use kilobytes of stack; called directly from
// a fiber it would make gold give the caller a ~1 MiB segment (leaf.h). These
// replacements (the standard's replaceable allocation functions) run malloc/free on
// the M's system stack when called on a fiber, so allocating in fiber code -- the
// runtime's or the user's -- never grows the fiber's stack.
#if WEFT_SPLIT_STACK
#include <cstdlib>
#include <new>

#include "systemstack.h"

namespace {

void* sys_malloc(std::size_t n) {
  void* p = nullptr;
  weft::detail::systemstack([&] { p = std::malloc(n ? n : 1); });
  return p;
}

void* sys_aligned(std::size_t n, std::size_t align) {
  void* p = nullptr;
  weft::detail::systemstack([&] {
    if (posix_memalign(&p, align < sizeof(void*) ? sizeof(void*) : align, n ? n : 1) != 0)
      p = nullptr;
  });
  return p;
}

void sys_free(void* p) {
  if (p) weft::detail::systemstack([&] { std::free(p); });
}

[[noreturn]] __attribute__((noinline, cold)) void out_of_memory() { throw std::bad_alloc(); }

}  // namespace

void* operator new(std::size_t n) {
  void* p = sys_malloc(n);
  if (!p) out_of_memory();
  return p;
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return sys_malloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return sys_malloc(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  void* p = sys_aligned(n, static_cast<std::size_t>(a));
  if (!p) out_of_memory();
  return p;
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return sys_aligned(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return sys_aligned(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { sys_free(p); }
void operator delete[](void* p) noexcept { sys_free(p); }
void operator delete(void* p, std::size_t) noexcept { sys_free(p); }
void operator delete[](void* p, std::size_t) noexcept { sys_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { sys_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { sys_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { sys_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { sys_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { sys_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { sys_free(p); }
#endif
