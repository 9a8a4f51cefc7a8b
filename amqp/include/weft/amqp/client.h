// weft/amqp/client.h: a blocking-style AMQP 0-9-1 client on the runtime.
//
// Every call looks blocking to the fiber that makes it and parks only that fiber, as
// weft::net's sockets do; write clients the way Go's amqp091-go is used:
//
//   auto conn = weft::amqp::Connection::open("amqp://guest:guest@127.0.0.1:5672/");
//   auto ch = conn.channel();
//   auto q = ch.queue_declare("", {.exclusive = true});
//   ch.queue_bind(q.name, "amq.topic", "logs.#");
//   auto c = ch.basic_consume(q.name);
//   ch.basic_publish("amq.topic", "logs.info", "hello");
//   for (auto& d : c.deliveries) { use(d.body); d.ack(); }   // until cancelled/closed
//
// Design (docs/design.md, "The AMQP client", has the long form):
//
//  * One TCP connection, three kinds of fibers. The caller's fiber does the handshake
//    (start/start-ok, tune/tune-ok, open) inline, then starts a reader and a writer.
//    The reader decodes every frame (FrameDecoder, a ContentAssembler per channel) and
//    dispatches whole commands: replies to the channel's waiting RPC, deliveries and
//    returns to unbounded per-consumer queues, confirms to the confirm tracker, server
//    close methods to the close paths. It never blocks on user code: a slow consumer
//    cannot stop other channels' replies or heartbeats.
//  * Writes are coalesced by a writer fiber fed by a weft::Chan of outgoing commands:
//    it takes one, then whatever else is already queued (up to 256 KiB), encodes them
//    all into its one FrameEncoder buffer and writes the batch with one write call. A
//    content command (method, header, body frames) is one item, so its frames are never
//    interleaved with another command's. The channel's capacity is the backpressure: a
//    publisher parks while 128 commands wait. The writer also sends heartbeats (at
//    every heartbeat/2 tick with nothing written since the previous tick).
//  * Deliveries reach the user through a pump fiber per consumer: the reader appends to
//    the consumer's unbounded queue, the pump moves them into the consumer's unbuffered
//    weft::Chan<Delivery>. A fiber may therefore make synchronous calls (even on the same
//    channel) while it holds undrained deliveries; bound memory with basic_qos.
//  * Errors are exceptions of one type, AmqpError, carrying the reply code and text of
//    the close method that ended the channel or connection (0 when the transport
//    failed: EOF, a socket error, missed heartbeats). A soft error closes one channel:
//    later calls on it throw the server's code and text; a hard error or a lost
//    connection fails every channel. Calls on what the client closed itself throw 504
//    "channel/connection is not open" (amqp091-go's ErrClosed).
//
// Invariants: one synchronous RPC per channel is outstanding at a time (a per-channel
// mutex; concurrent callers queue); a consumer is registered before its basic.consume is
// sent (the client always chooses the tag), so no delivery can precede it; publish
// sequence numbers are assigned and enqueued under one lock, so they match the wire
// order; Connection::close() (and the destructor) returns only after every fiber the
// connection started -- reader, writer, pumps -- has finished.
//
// Thread safety: Connection and Channel may be used from any number of fibers at once.
// They are move-only owners: destroying a Channel closes it, destroying a Connection
// closes it (both block briefly for the close handshake). All calls must be made from
// fibers (inside weft::run).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "weft/amqp/frame.h"
#include "weft/amqp/spec.h"
#include "weft/amqp/types.h"
#include "weft/chan.h"

namespace weft::amqp {

namespace detail {
struct ConnState;
struct ChannelState;
}  // namespace detail

// AmqpError: why a channel or the connection is gone, or why a call was refused.
class AmqpError : public std::runtime_error {
 public:
  AmqpError(std::uint16_t code, std::string text, bool connection_error, std::uint16_t class_id = 0,
            std::uint16_t method_id = 0);
  // code(): the AMQP reply code (404 NOT_FOUND, 406, 530, ...); 0 if no close method
  // was exchanged: the transport failed or heartbeats were missed.
  std::uint16_t code() const { return code_; }
  const std::string& text() const { return text_; }
  // connection_error(): the whole connection is closed (else only the channel).
  bool connection_error() const { return connection_; }
  // The method that caused the close, if the peer named one.
  std::uint16_t class_id() const { return class_id_; }
  std::uint16_t method_id() const { return method_id_; }

 private:
  std::uint16_t code_;
  std::string text_;
  bool connection_;
  std::uint16_t class_id_, method_id_;
};

enum class Mechanism { plain, amqplain };

struct ConnectionOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  // Tuning: what the client asks for; tune-ok sends the smaller of each with the
  // server's, where zero (no limit / no heartbeats) loses to any non-zero value.
  std::chrono::seconds heartbeat{60};
  std::uint32_t frame_max = kDefaultFrameMax;
  std::uint16_t channel_max = 2047;
  Mechanism mechanism = Mechanism::plain;
  // Bound on TCP connect plus handshake, and on waiting for close-ok.
  std::chrono::milliseconds connect_timeout{30000};
  std::chrono::milliseconds close_timeout{10000};
  std::string connection_name;  // client property "connection_name", if not empty

  // parse_uri() reads amqp://user:password@host:port/vhost?heartbeat=10&frame_max=
  // 131072&channel_max=100&auth_mechanism=amqplain&connection_timeout=5000 (RabbitMQ's
  // URI spec; user, password and vhost percent-decoded; an empty path or "/" is the
  // vhost "/"). Throws std::invalid_argument.
  static ConnectionOptions parse_uri(std::string_view uri);
};

// Delivery: a message from basic.deliver (consume) or basic.get-ok.
struct Delivery {
  std::string consumer_tag;  // empty for basic_get
  std::uint64_t delivery_tag = 0;
  bool redelivered = false;
  std::string exchange;
  std::string routing_key;
  std::uint32_t message_count = 0;  // basic_get only: messages left in the queue
  BasicProperties properties;
  std::string body;

  // Acknowledgements on the channel the message came from (Channel::basic_ack & co).
  // Throw AmqpError if that channel is closed.
  void ack(bool multiple = false) const;
  void nack(bool multiple = false, bool requeue = true) const;
  void reject(bool requeue = true) const;

  std::weak_ptr<detail::ChannelState> channel;  // the channel it came from, for the above
};

// Returned: a mandatory message the server could not route (basic.return).
struct Returned {
  std::uint16_t reply_code = 0;  // 312 NO_ROUTE
  std::string reply_text;
  std::string exchange;
  std::string routing_key;
  BasicProperties properties;
  std::string body;
};

// Consumer: what basic_consume() returns. `deliveries` is closed once the consumer is
// cancelled (by basic_cancel or by the server, after the deliveries that preceded the
// cancel) or its channel closes (deliveries not yet received are then dropped: the
// server requeues them).
struct Consumer {
  std::string tag;
  weft::Chan<Delivery> deliveries;
};

struct ExchangeOptions {
  bool passive = false, durable = false, auto_delete = false, internal = false;
  FieldTable arguments{};
};
struct QueueOptions {
  bool passive = false, durable = false, exclusive = false, auto_delete = false;
  FieldTable arguments{};
};
struct QueueInfo {
  std::string name;  // the server's name for "" (a generated one)
  std::uint32_t message_count = 0;
  std::uint32_t consumer_count = 0;
};
struct ConsumeOptions {
  std::string consumer_tag{};  // empty: the client picks a unique one
  bool no_local = false, no_ack = false, exclusive = false;
  FieldTable arguments{};
};

class Connection;

// Channel: an AMQP channel. Synchronous methods wait for their -ok reply and throw
// AmqpError if the channel or connection closes instead.
class Channel {
 public:
  Channel() = default;
  Channel(Channel&&) noexcept;
  Channel& operator=(Channel&&) noexcept;
  ~Channel();  // close()

  std::uint16_t id() const;
  bool is_open() const;
  // error(): why the channel closed, if it closed for a reason (nullopt if it is open
  // or the client closed it).
  std::optional<AmqpError> error() const;
  // close() runs the channel.close handshake. Never throws; idempotent.
  void close();

  void exchange_declare(std::string_view name, std::string_view type,
                        const ExchangeOptions& opts = {});
  void exchange_delete(std::string_view name, bool if_unused = false);
  void exchange_bind(std::string_view destination, std::string_view source,
                     std::string_view routing_key, const FieldTable& arguments = {});
  void exchange_unbind(std::string_view destination, std::string_view source,
                       std::string_view routing_key, const FieldTable& arguments = {});

  QueueInfo queue_declare(std::string_view name, const QueueOptions& opts = {});
  void queue_bind(std::string_view queue, std::string_view exchange, std::string_view routing_key,
                  const FieldTable& arguments = {});
  void queue_unbind(std::string_view queue, std::string_view exchange, std::string_view routing_key,
                    const FieldTable& arguments = {});
  std::uint32_t queue_purge(std::string_view queue);  // messages purged
  std::uint32_t queue_delete(std::string_view queue, bool if_unused = false,
                             bool if_empty = false);  // messages deleted

  void basic_qos(std::uint16_t prefetch_count, bool global = false,
                 std::uint32_t prefetch_size = 0);
  Consumer basic_consume(std::string_view queue, const ConsumeOptions& opts = {});
  void basic_cancel(std::string_view consumer_tag);
  // basic_get() fetches one message; nullopt if the queue is empty.
  std::optional<Delivery> basic_get(std::string_view queue, bool no_ack = false);
  // basic_publish() queues the message for the writer and returns without waiting for
  // the server (use confirm mode for that). In confirm mode it returns the message's
  // publish sequence number, else 0. An unroutable mandatory message comes back on
  // returns().
  std::uint64_t basic_publish(std::string_view exchange, std::string_view routing_key,
                              std::string body, const BasicProperties& properties = {},
                              bool mandatory = false);
  void basic_ack(std::uint64_t delivery_tag, bool multiple = false);
  void basic_nack(std::uint64_t delivery_tag, bool multiple = false, bool requeue = true);
  void basic_reject(std::uint64_t delivery_tag, bool requeue = true);
  void basic_recover(bool requeue = true);
  // returns() is the channel's basic.return messages from the first call on (earlier
  // ones are dropped); closed when the channel closes. Every call gives the same channel.
  weft::Chan<Returned> returns();

  // Publisher confirms: after confirm_select(), every publish is numbered from 1 and
  // wait_for_confirms() parks until the server has acked or nacked every publish so
  // far; true if none was nacked since the previous wait.
  void confirm_select();
  bool wait_for_confirms();
  std::uint64_t next_publish_seq_no() const;

  void tx_select();
  void tx_commit();
  void tx_rollback();

 private:
  friend class Connection;
  explicit Channel(std::shared_ptr<detail::ChannelState> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::ChannelState> s_;
};

// Connection: an open AMQP connection.
class Connection {
 public:
  // open() connects, authenticates and opens the vhost. Throws AmqpError (code 403 for
  // refused credentials, 530 for a vhost not allowed, 0 for network failures).
  static Connection open(const ConnectionOptions& opts);
  static Connection open(std::string_view uri);

  Connection() = default;
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();  // close()

  // channel() opens a new channel.
  Channel channel();
  // close() runs the connection.close handshake (waiting at most close_timeout for
  // close-ok) and waits for the connection's fibers to finish. Never throws; idempotent.
  void close();

  bool is_open() const;
  // error(): why the connection closed, if not by close().
  std::optional<AmqpError> error() const;
  // done() is closed when the connection has shut down, for select().
  weft::Chan<bool> done() const;

  // Negotiated at tune time.
  std::uint16_t channel_max() const;
  std::uint32_t frame_max() const;
  std::chrono::seconds heartbeat() const;
  const FieldTable& server_properties() const;
  // blocked(): the server sent connection.blocked (a resource alarm) and not yet
  // connection.unblocked; publishes are held by the server meanwhile.
  bool blocked() const;

 private:
  std::shared_ptr<detail::ConnState> s_;
};

}  // namespace weft::amqp
