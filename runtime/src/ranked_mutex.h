// ranked_mutex.h: a std::mutex with a lock rank (lock_rank.h), for the runtime's few
// locks that may be held across a system call or a wait (the stack pools, the profile
// tables, the CPU profiler). BasicLockable: use it with std::lock_guard and
// std::unique_lock (and std::condition_variable_any).
#pragma once

#include <mutex>

#include "lock_rank.h"

namespace weft::detail {

class RankedMutex {
 public:
  explicit RankedMutex(LockRank rank) : rank_(rank) {}
  void lock() {
    lock_rank_acquire(rank_, this);
    mu_.lock();
  }
  void unlock() {
    mu_.unlock();
    lock_rank_release(this);
  }

 private:
  std::mutex mu_;
  LockRank rank_;
};

}  // namespace weft::detail
