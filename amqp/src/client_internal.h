// client_internal.h: the state behind weft/amqp/client.h's handles, shared by
// client.cpp (connection, handshake, reader and writer fibers) and client_channel.cpp
// (channel methods and the dispatch of incoming channel commands).
//
// Ownership: a Connection handle owns a ConnState; the reader, writer and pump fibers
// hold it too while they run. A Channel handle owns a ChannelState, which holds its
// ConnState. The ConnState's channel map holds every open ChannelState (a cycle, broken
// when the channel closes or the connection shuts down: every path to "closed" goes
// through ChannelState::fail()).
//
// Locks: ConnState::mu and ChannelState::mu are never held together; neither is held
// across a channel send or a socket call. ChannelState::rpc_mu (one synchronous RPC per
// channel) and pub_mu (publish sequence order) are held across sends, and are taken
// before mu.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "weft/amqp/client.h"
#include "weft/amqp/frame.h"
#include "weft/chan.h"
#include "weft/condition_variable.h"
#include "weft/mutex.h"
#include "weft/net.h"
#include "weft/runtime.h"
#include "weft/select.h"
#include "weft/waitgroup.h"

namespace weft::amqp::detail {

// ---- outgoing commands -------------------------------------------------------------

struct OutContent {
  BasicProperties properties;
  std::string body;
};

// Outgoing: one command for the writer fiber. A content command is one item, so its
// method, header and body frames go out back to back.
struct Outgoing {
  std::uint16_t channel = 0;
  Method method;
  std::unique_ptr<OutContent> content;
};

// validate() encodes a command into a scratch buffer so that a value the wire cannot
// carry (a shortstr over 255 bytes) throws CodecError in the caller's fiber, not in the
// writer's.
void validate(const Method& m, const BasicProperties* props = nullptr);

AmqpError not_open_error(bool connection);

// ---- pumps -------------------------------------------------------------------------

class PumpBase {
 public:
  virtual ~PumpBase() = default;
  // stop() drops what is queued and closes the output channel, waking a pump parked
  // in a send to a reader that never comes.
  virtual void stop() = 0;
  // exited(): the pump's fiber has returned (its output is closed).
  bool exited() const { return exited_.load(); }

 protected:
  std::atomic<bool> exited_{false};
};

// Pump<T>: an unbounded queue in front of an unbuffered weft::Chan<T>, emptied by a
// fiber of its own (run()). The reader fiber pushes without ever blocking.
template <class T>
class Pump : public PumpBase {
 public:
  weft::Chan<T> out{0};

  void push(T v) {
    {
      std::lock_guard l(mu_);
      if (stopped_ || finishing_) return;
      q_.push_back(std::move(v));
    }
    cv_.notify_one();
  }
  // finish(): deliver what is queued, then close the output.
  void finish() {
    {
      std::lock_guard l(mu_);
      finishing_ = true;
    }
    cv_.notify_one();
  }
  void stop() override {
    {
      std::lock_guard l(mu_);
      if (stopped_) return;
      stopped_ = true;
      q_.clear();
    }
    cv_.notify_one();
    stop_ch_.close();
  }
  void run() {
    for (;;) {
      std::optional<T> v;
      {
        std::unique_lock l(mu_);
        cv_.wait(l, [&] { return !q_.empty() || finishing_ || stopped_; });
        if (stopped_ || q_.empty()) break;
        v.emplace(std::move(q_.front()));
        q_.pop_front();
      }
      bool sent = false;
      weft::select(weft::on_send(out, std::move(*v), [&] { sent = true; }),
                   weft::on_recv(stop_ch_, [](std::optional<bool>) {}));
      if (!sent) break;
    }
    out.close();
    exited_.store(true);
  }

 private:
  weft::Mutex mu_;
  weft::ConditionVariable cv_;
  std::deque<T> q_;
  bool finishing_ = false, stopped_ = false;
  weft::Chan<bool> stop_ch_{0};
};

struct ChannelState;

// ---- the connection ----------------------------------------------------------------

struct ConnState : std::enable_shared_from_this<ConnState> {
  explicit ConnState(ConnectionOptions o) : opts(std::move(o)) {}

  ConnectionOptions opts;
  weft::net::TcpConn sock;
  // Negotiated by tune/tune-ok; fixed afterwards.
  std::uint16_t channel_max = 0;
  std::uint32_t frame_max = 0;
  std::uint16_t heartbeat = 0;  // seconds
  FieldTable server_properties;

  weft::Chan<Outgoing> out{128};    // to the writer; closed by shutdown()
  weft::Chan<bool> writer_done{0};  // closed by the writer when it returns
  weft::Chan<bool> done{0};         // closed when shutdown() has finished
  weft::WaitGroup fibers;           // reader, writer, pumps

  std::atomic<bool> accepting{true};            // channel traffic may be sent
  std::atomic<std::int64_t> close_deadline{0};  // steady-clock ns for close-ok; 0: none

  weft::Mutex mu;
  enum class State { open, closing, closed };
  State state = State::open;                                        // guarded by mu
  std::optional<AmqpError> error;                                   // guarded by mu
  std::optional<AmqpError> write_error;                             // guarded by mu
  std::map<std::uint16_t, std::shared_ptr<ChannelState>> channels;  // guarded by mu
  std::uint16_t next_channel = 1;                                   // guarded by mu
  bool blocked = false;                                             // guarded by mu

  // send() queues a command for the writer; throws AmqpError once the connection no
  // longer takes channel traffic. send_nothrow() is the reader's form (and the one for
  // connection-level commands sent while closing): false if the writer is gone.
  void send(Outgoing o);
  bool send_nothrow(Outgoing o);
  AmqpError closed_error();

  void start_fibers(FrameDecoder dec);
  void reader_loop(FrameDecoder& dec);
  void writer_loop();
  void arm_read_deadline();
  // shutdown(): the reader's last act. Fails every channel, stops the writer (after it
  // has written what was queued), closes the socket and closes `done`.
  void shutdown(std::optional<AmqpError> err);
  void remove_channel(std::uint16_t id, const ChannelState* ch);
  void close();
  // go_pump() starts a pump fiber counted in `fibers`.
  template <class T>
  void go_pump(const std::shared_ptr<Pump<T>>& p) {
    fibers.add(1);
    weft::go("amqp pump", [p, wg = fibers] {
      p->run();
      wg.done();
    });
  }
};

// ---- a channel ---------------------------------------------------------------------

struct ChannelState : std::enable_shared_from_this<ChannelState> {
  ChannelState(std::shared_ptr<ConnState> c, std::uint16_t i) : conn(std::move(c)), id(i) {}

  const std::shared_ptr<ConnState> conn;
  const std::uint16_t id;

  weft::Mutex rpc_mu;  // one synchronous RPC at a time
  weft::Mutex pub_mu;  // publish sequence numbers in wire order
  weft::Mutex mu;
  weft::ConditionVariable cv;  // RPC replies, confirms, close

  // Guarded by mu:
  bool closed = false;   // no more traffic; error says why
  bool closing = false;  // the client sent channel.close
  std::optional<AmqpError> error;
  bool awaiting = false;  // an RPC waits for `reply`
  std::optional<Command> reply;
  std::map<std::string, std::shared_ptr<Pump<Delivery>>, std::less<>> consumers;
  std::vector<std::shared_ptr<PumpBase>> pumps;  // every pump started on the channel
  std::shared_ptr<Pump<Returned>> returns;
  std::uint64_t consumer_seq = 0;
  bool confirm = false;
  std::uint64_t next_seq = 1;
  std::set<std::uint64_t> unconfirmed;
  bool nacked = false;

  // call() sends a synchronous method and waits for its reply; throws AmqpError if the
  // channel closes first. `closing` marks the channel as closing (channel.close).
  Command call(Method m, bool closing = false);
  template <class Ok>
  Ok call_ok(Method m);
  // send() sends an asynchronous method (ack, nack, reject, ...).
  void send(Method m);
  AmqpError closed_error();  // REQUIRES: mu held
  void check_open();         // throws closed_error() (takes mu)
  void close();

  // dispatch() runs on the reader fiber for each whole command of this channel.
  void dispatch(Command& cmd);
  void deliver_reply(Command& cmd);
  // fail() closes the channel: wakes the RPC and confirm waiters, stops every pump.
  void fail(std::optional<AmqpError> err);
};

template <class Ok>
Ok ChannelState::call_ok(Method m) {
  Command c = call(std::move(m));
  if (auto* ok = std::get_if<Ok>(&c.method)) return std::move(*ok);
  throw AmqpError(
      kCommandInvalid,
      std::string("unexpected reply ") + method_info(c.method).name + ", expected " + Ok::kName,
      false);
}

}  // namespace weft::amqp::detail
