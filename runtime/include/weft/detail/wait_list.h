// detail/wait_list.h: the storage every fiber-aware sync primitive embeds.
//
// A WaitList is a FIFO of parked fibers guarded by a tiny spinlock. The list nodes
// (runtime/src/waiter.h, Go's sudog) live on the parked fibers' own stacks, so waiting
// allocates nothing. The operations are in the runtime; this header only fixes the
// layout so that primitives can be plain members, as std::mutex is.
#pragma once

#include <atomic>
#include <cstdint>

namespace weft::detail {

struct Waiter;

struct WaitList {
  std::atomic<std::uint32_t> lock{0};
  Waiter* head = nullptr;
  Waiter* tail = nullptr;
};

}  // namespace weft::detail
