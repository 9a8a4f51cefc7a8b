// context_tree.cpp: weft::Context (weft/context.h).
//
// Each derived context has a ContextState: its done channel, its error, weak links to
// its children, and (with a deadline) a timer. cancel() sets the error under the state's
// mutex, then -- unlocked -- closes done, stops the timer and cancels the children, so
// a tree is cancelled top-down without holding two states' locks at once. A child
// registers with its parent under the parent's lock; a parent already cancelled
// cancels the child at once.
#include <mutex>
#include <vector>

#include "weft/context.h"
#include "weft/mutex.h"

namespace weft {

const char* to_string(ContextError e) {
  switch (e) {
    case ContextError::none:
      return "";
    case ContextError::canceled:
      return "context canceled";
    case ContextError::deadline_exceeded:
      return "context deadline exceeded";
  }
  return "?";
}

namespace detail {

struct ContextState {
  Chan<Unit> done{0};
  std::optional<Clock::time_point> deadline;
  Mutex mu;  // guards err, children, timer
  ContextError err = ContextError::none;
  std::vector<std::weak_ptr<ContextState>> children;
  std::optional<Timer> timer;
};

namespace {

void cancel(const std::shared_ptr<ContextState>& s, ContextError why) {
  std::vector<std::weak_ptr<ContextState>> children;
  std::optional<Timer> timer;
  {
    std::lock_guard lock(s->mu);
    if (s->err != ContextError::none) return;
    s->err = why;
    children.swap(s->children);
    timer.swap(s->timer);
  }
  s->done.close();
  if (timer) timer->stop();
  for (auto& w : children)
    if (auto c = w.lock()) cancel(c, why);
}

}  // namespace
}  // namespace detail

Context Context::background() { return Context(nullptr); }

Chan<Unit> Context::done() const { return s_ ? s_->done : Chan<Unit>(); }

ContextError Context::err() const {
  if (!s_) return ContextError::none;
  std::lock_guard lock(s_->mu);
  return s_->err;
}

std::optional<Clock::time_point> Context::deadline() const {
  return s_ ? s_->deadline : std::nullopt;
}

std::pair<Context, std::function<void()>> with_cancel(const Context& parent) {
  auto s = std::make_shared<detail::ContextState>();
  if (parent.s_) s->deadline = parent.s_->deadline;
  ContextError inherited = ContextError::none;
  if (parent.s_) {
    std::lock_guard lock(parent.s_->mu);
    inherited = parent.s_->err;
    if (inherited == ContextError::none) {
      // Drop links to children that are gone, so a long-lived parent does not grow.
      auto& ch = parent.s_->children;
      std::erase_if(ch, [](const std::weak_ptr<detail::ContextState>& w) { return w.expired(); });
      ch.push_back(s);
    }
  }
  if (inherited != ContextError::none) detail::cancel(s, inherited);
  std::weak_ptr<detail::ContextState> weak = s;
  return {Context(s), [weak] {
            if (auto c = weak.lock()) detail::cancel(c, ContextError::canceled);
          }};
}

std::pair<Context, std::function<void()>> with_deadline(const Context& parent,
                                                        Clock::time_point t) {
  auto [ctx, cancel_fn] = with_cancel(parent);
  auto& s = ctx.s_;
  if (s->deadline && *s->deadline <= t) return {ctx, cancel_fn};  // the parent's is earlier
  s->deadline = t;
  std::weak_ptr<detail::ContextState> weak = s;
  Timer timer = Timer::after_func(std::chrono::duration_cast<Duration>(t - Clock::now()), [weak] {
    if (auto c = weak.lock()) detail::cancel(c, ContextError::deadline_exceeded);
  });
  bool stop_now = false;
  {
    std::lock_guard lock(s->mu);
    if (s->err == ContextError::none)
      s->timer = timer;
    else
      stop_now = true;
  }
  if (stop_now) timer.stop();
  return {ctx, cancel_fn};
}

}  // namespace weft
