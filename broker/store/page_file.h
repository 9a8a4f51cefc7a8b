// store/page_file.h: where a long queue keeps the messages past its memory window.
//
// RabbitMQ's classic queues move messages to disk once a queue is long (its queue index
// embeds small ones; since 3.12 they keep only a small window in memory by default), so
// a backlog costs a broker disk rather than RAM. weftd's MemoryStore does the same with
// a PageFile (store/memory_store.h): records appended at the tail, read back in the
// same order as the queue's head reaches them. The messages are transient -- the file
// is unlinked the moment it is created (O_TMPFILE), so it goes with the process -- and
// it is not a log: a durable store is another QueueStore (core/queue_store.h).
//
// Records go out through a write buffer (one pwrite per kBuffer bytes, not one per
// message) and are read back in order; the span already read is given back to the file
// system (a hole punched per kPunch bytes), and the file is truncated whenever the queue
// holds no paged message. Not thread-safe: its queue's lock guards it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace weftd {

class PageFile {
 public:
  // A record's place in the file, in one word: a queue holds one per paged message.
  struct Ref {
    std::uint64_t offset : 36 = 0;  // a file holds up to 64 GiB
    std::uint64_t length : 28 = 0;  // a record up to 256 MiB (messages: 128 MiB at most)
  };
  static constexpr std::uint64_t kMaxFile = std::uint64_t{1} << 36;
  static constexpr std::uint64_t kMaxRecord = std::uint64_t{1} << 28;

  // dir: where the (unlinked) file is created. Nothing is created until the first append.
  explicit PageFile(std::string dir) : dir_(std::move(dir)) {}
  ~PageFile();
  PageFile(const PageFile&) = delete;
  PageFile& operator=(const PageFile&) = delete;

  // append() adds a record made of `parts`, in order (copied once, into the write buffer,
  // not first joined); false if the file cannot be created or written, or is full (the
  // caller keeps that message in memory instead: a full disk loses nothing).
  bool append(std::initializer_list<std::string_view> parts, Ref* ref);
  // read() fetches a record that append() returned, in append order, and gives back
  // what lies before it. False on an I/O error.
  bool read(const Ref& ref, std::string* out);
  // reset() drops every record (the queue was purged or holds no paged message).
  void reset();

  // Bytes appended and not yet read or reset.
  std::uint64_t live_bytes() const { return tail_ - read_to_; }

 private:
  bool open();
  bool flush();
  // disk_low(): the file system has less than kDiskFreeMin left (RabbitMQ's default
  // disk_free_limit): new records stay in memory, where the memory watermark holds
  // publishers back, rather than fill the disk.
  bool disk_low();

  static constexpr std::size_t kBuffer = 64 << 10;
  static constexpr std::uint64_t kPunch = 1 << 20;
  static constexpr std::uint64_t kDiskFreeMin = 50'000'000;

  std::string dir_;
  int fd_ = -1;
  bool failed_ = false;  // the file could not be created or written: no more
  bool warned_low_ = false;
  std::uint64_t tail_ = 0;        // offset of the next record
  std::uint64_t flushed_ = 0;     // bytes of the file written; buf_ holds [flushed_, tail_)
  std::uint64_t read_to_ = 0;     // end of the last record read
  std::uint64_t punched_to_ = 0;  // the file's bytes below this are a hole
  std::string buf_;
};

}  // namespace weftd
