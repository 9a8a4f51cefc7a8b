// detail/function.h: a move-only, type-erased `void()` callable.
//
// std::function requires copyable targets, which rules out lambdas that capture a
// std::unique_ptr (a fiber body that owns a connection, say). C++23's
// std::move_only_function is not in C++20, so the runtime carries this small one.
// Small callables (up to kInline bytes) live inside the object: spawning a fiber whose
// body captures a few pointers allocates nothing beyond the fiber itself.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace weft::detail {

class Function {
 public:
  static constexpr std::size_t kInline = 48;

  Function() noexcept = default;
  Function(std::nullptr_t) noexcept {}

  template <class F, class D = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<D, Function> && std::is_invocable_v<D&>>>
  Function(F&& f) {  // NOLINT: implicit, like std::function
    if constexpr (sizeof(D) <= kInline && alignof(D) <= alignof(std::max_align_t) &&
                  std::is_nothrow_move_constructible_v<D>) {
      ::new (static_cast<void*>(buf_)) D(std::forward<F>(f));
      ops_ = &inline_ops<D>;
    } else {
      *reinterpret_cast<D**>(buf_) = new D(std::forward<F>(f));
      ops_ = &heap_ops<D>;
    }
  }

  Function(Function&& o) noexcept : ops_(o.ops_) {
    if (ops_) ops_->move(buf_, o.buf_);
    o.ops_ = nullptr;
  }
  Function& operator=(Function&& o) noexcept {
    if (this != &o) {
      reset();
      ops_ = o.ops_;
      if (ops_) ops_->move(buf_, o.buf_);
      o.ops_ = nullptr;
    }
    return *this;
  }
  Function(const Function&) = delete;
  Function& operator=(const Function&) = delete;
  ~Function() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }
  void operator()() { ops_->call(buf_); }

  // reset() destroys the target now (a finished fiber drops its captures before it parks
  // in the free list, not when it is reused).
  void reset() noexcept {
    if (ops_) ops_->destroy(buf_);
    ops_ = nullptr;
  }

 private:
  struct Ops {
    void (*call)(void*);
    void (*move)(void* dst, void* src) noexcept;
    void (*destroy)(void*) noexcept;
  };
  template <class D>
  static constexpr Ops inline_ops = {[](void* p) { (*static_cast<D*>(p))(); },
                                     [](void* dst, void* src) noexcept {
                                       ::new (dst) D(std::move(*static_cast<D*>(src)));
                                       static_cast<D*>(src)->~D();
                                     },
                                     [](void* p) noexcept { static_cast<D*>(p)->~D(); }};
  template <class D>
  static constexpr Ops heap_ops = {
      [](void* p) { (**static_cast<D**>(p))(); },
      [](void* dst, void* src) noexcept { *static_cast<D**>(dst) = *static_cast<D**>(src); },
      [](void* p) noexcept { delete *static_cast<D**>(p); }};

  alignas(std::max_align_t) unsigned char buf_[kInline];
  const Ops* ops_ = nullptr;
};

}  // namespace weft::detail
