// metrics/metrics.h: weftd's counters, owned by the broker and read as snapshots.
//
// Every queue, channel and connection owns a stats block (QueueStats, ChannelStats,
// ConnectionStats) made by the Registry, which keeps only a weak reference to it: the
// block lives as long as its owner, and a snapshot taken after the owner has gone
// simply no longer lists it. A reader -- the HTTP fiber serving /debug/vars, later the
// management API and Prometheus -- calls Registry::snapshot() and gets plain values; it
// never touches a connection's channel table or a queue's lock, so it cannot race the
// fibers that own them.
//
// Writers: a Counter or Gauge has one writer at a time -- the fiber or lock that owns
// the object it counts (a queue's counters change under its lock; a channel's publish
// counters on its connection's reader fiber, its delivery counters under its lock) --
// so add() is a relaxed load and store, not a locked read-modify-write on the hot path.
// The few values that many writers share (the memory gauge, the paging totals) are
// SharedGauges, which use fetch_add. Readers may see a value one update stale; never a
// torn one.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weft/mutex.h"

namespace weftd::metrics {

// Counter: a monotonic count with one writer at a time (see the header comment).
class Counter {
 public:
  void add(std::uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t load() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// Gauge: a level with one writer at a time.
class Gauge {
 public:
  void set(std::int64_t v) { v_.store(v, std::memory_order_relaxed); }
  void add(std::int64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::int64_t load() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

// SharedGauge: a level that any fiber may change at any time (fetch_add).
class SharedGauge {
 public:
  void add(std::int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
  std::int64_t load() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> v_{0};
};

struct QueueStats {
  std::string vhost, name;
  Counter published, delivered, acked, redelivered;  // under the queue's lock
  Gauge ready, consumers;                            // under the queue's lock
};

struct ChannelStats {
  std::uint64_t connection = 0;
  std::uint16_t channel = 0;
  Counter published, confirmed;  // the connection's reader fiber
  Counter delivered, got;        // under the channel's lock
  Counter acked;                 // the reader fiber
  Gauge unacked;                 // under the channel's lock
  Gauge consumers;               // the reader fiber
};

struct ConnectionStats {
  std::uint64_t id = 0;
  std::string peer;
  Gauge channels;                 // the reader fiber
  SharedGauge recv_bytes;         // the reader
  SharedGauge send_bytes;         // whichever writer fiber runs
  std::atomic<bool> open{false};  // the handshake is done (user, vhost set)
  std::string user, vhost;        // set once, before `open` (release)
};

// Plain copies, as a snapshot gives them.
struct QueueSample {
  std::string vhost, name;
  std::uint64_t published, delivered, acked, redelivered;
  std::int64_t ready, consumers;
};
struct ChannelSample {
  std::uint64_t connection;
  std::uint16_t channel;
  std::uint64_t published, confirmed, delivered, got, acked;
  std::int64_t unacked, consumers;
};
struct ConnectionSample {
  std::uint64_t id;
  std::string peer, user, vhost;
  bool open;
  std::int64_t channels, recv_bytes, send_bytes;
};
// over_watermark(): message bytes above the memory high watermark -- the memory alarm's
// one test, for the broker (core/memory_monitor.h) and for a snapshot's reader alike.
inline bool over_watermark(std::int64_t message_bytes, std::uint64_t watermark) {
  return message_bytes > 0 && static_cast<std::uint64_t>(message_bytes) > watermark;
}

struct Snapshot {
  std::vector<QueueSample> queues;
  std::vector<ChannelSample> channels;
  std::vector<ConnectionSample> connections;
  std::int64_t message_bytes = 0;
  std::uint64_t memory_high_watermark = 0;
  std::int64_t paged_messages = 0, paged_bytes = 0, paged_total = 0;
};

// Registry: the broker's metrics. Thread-safe.
class Registry {
 public:
  std::shared_ptr<QueueStats> add_queue(std::string vhost, std::string name);
  std::shared_ptr<ChannelStats> add_channel(std::uint64_t connection, std::uint16_t channel);
  std::shared_ptr<ConnectionStats> add_connection(std::uint64_t id, std::string peer);

  // snapshot() copies every live block's values (and drops the dead blocks' entries).
  Snapshot snapshot();

  // Broker-wide values. message_bytes: bytes held by live messages (core/message.h's
  // accounting, the memory alarm's input); memory_high_watermark: set once at start.
  SharedGauge message_bytes;
  std::atomic<std::uint64_t> memory_high_watermark{0};
  // The paging store: messages and bytes on disk now, and messages ever paged.
  SharedGauge paged_messages, paged_bytes, paged_total;

 private:
  weft::Mutex mu_;  // guards the lists; never held while a stats block is written
  std::vector<std::weak_ptr<QueueStats>> queues_;
  std::vector<std::weak_ptr<ChannelStats>> channels_;
  std::vector<std::weak_ptr<ConnectionStats>> connections_;
};

}  // namespace weftd::metrics
