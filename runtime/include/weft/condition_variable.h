// weft/condition_variable.h: condition waits for fibers, used with weft::Mutex.
//
//   weft::Mutex mu; weft::ConditionVariable cv; bool ready = false;
//   // waiter:
//   std::unique_lock lock(mu);
//   cv.wait(lock, [&] { return ready; });
//   // notifier:
//   { std::lock_guard lock(mu); ready = true; } cv.notify_one();
//
// Wake-ups are never lost: a notify that happens after wait() released the mutex
// reaches the waiter. As with std::condition_variable, spurious wake-ups are allowed
// by the contract, so wait in a loop or with a predicate.
#pragma once

#include <chrono>
#include <mutex>
#include <source_location>

#include "weft/detail/wait_list.h"
#include "weft/mutex.h"
#include "weft/time.h"

namespace weft {

enum class CvStatus { no_timeout, timeout };

class ConditionVariable {
 public:
  ConditionVariable() = default;
  ConditionVariable(const ConditionVariable&) = delete;
  ConditionVariable& operator=(const ConditionVariable&) = delete;

  // wait() atomically releases `lock`, parks until notified, and re-acquires `lock`.
  // REQUIRES: lock owns its mutex.
  void wait(std::unique_lock<Mutex>& lock,
            std::source_location site = std::source_location::current());
  template <class Pred>
  void wait(std::unique_lock<Mutex>& lock, Pred pred,
            std::source_location site = std::source_location::current()) {
    while (!pred()) wait(lock, site);
  }
  // wait_until() is wait() with a deadline; returns timeout if the deadline passed
  // before a notification arrived.
  CvStatus wait_until(std::unique_lock<Mutex>& lock, Clock::time_point deadline,
                      std::source_location site = std::source_location::current());
  CvStatus wait_for(std::unique_lock<Mutex>& lock, Duration d,
                    std::source_location site = std::source_location::current()) {
    return wait_until(lock, Clock::now() + d, site);
  }
  template <class Pred>
  bool wait_for(std::unique_lock<Mutex>& lock, Duration d, Pred pred,
                std::source_location site = std::source_location::current()) {
    auto deadline = Clock::now() + d;
    while (!pred())
      if (wait_until(lock, deadline, site) == CvStatus::timeout) return pred();
    return true;
  }

  // notify_one() wakes the longest-waiting fiber, if any. Never blocks.
  void notify_one();
  // notify_all() wakes every waiting fiber. Never blocks.
  void notify_all();

 private:
  detail::WaitList waiters_;
};

}  // namespace weft
