// weft/context.h: cancellation and deadlines that flow down a tree (Go's context).
//
//   auto [ctx, cancel] = weft::with_timeout(weft::Context::background(), 2s);
//   weft::select(weft::on_recv(replies, [&](auto r) { use(r); }),
//                weft::on_recv(ctx.done(), [&](auto) { log(weft::to_string(ctx.err())); }));
//   cancel();  // always call it: it releases the timer and the parent's link
//
// A Context is a value handle. Cancelling one cancels every context derived from it,
// never its parent. done() is a channel closed at cancellation (a nil channel for
// background(), which is never cancelled), so it works as a select case; err() says why.
// Thread safe.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "weft/chan.h"
#include "weft/time.h"

namespace weft {

enum class ContextError { none, canceled, deadline_exceeded };
// "context canceled" / "context deadline exceeded", as Go says it.
const char* to_string(ContextError e);

// The element type of done() channels: nothing is ever sent, they are only closed.
struct Unit {};

namespace detail {
struct ContextState;
}

class Context {
 public:
  // background() is the root: never cancelled, no deadline.
  static Context background();

  // done() is closed when the context is cancelled.
  Chan<Unit> done() const;
  // err() is none until cancelled, then why.
  ContextError err() const;
  // deadline() is when the context will cancel itself, if it will.
  std::optional<Clock::time_point> deadline() const;

 private:
  friend std::pair<Context, std::function<void()>> with_deadline(const Context&, Clock::time_point);
  friend std::pair<Context, std::function<void()>> with_cancel(const Context&);
  explicit Context(std::shared_ptr<detail::ContextState> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::ContextState> s_;  // nullptr: background
};

// with_cancel() derives a context cancelled by the returned function (idempotent) or
// when the parent is.
std::pair<Context, std::function<void()>> with_cancel(const Context& parent);
// with_deadline() also cancels at `t` (or at the parent's earlier deadline).
std::pair<Context, std::function<void()>> with_deadline(const Context& parent, Clock::time_point t);
// with_timeout() is with_deadline(parent, now + d).
inline std::pair<Context, std::function<void()>> with_timeout(const Context& parent, Duration d) {
  return with_deadline(parent, Clock::now() + d);
}

}  // namespace weft
