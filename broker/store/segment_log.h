// store/segment_log.h: the durable log -- a directory of append-only segment files of
// checksummed records (store/log_format.h has the format), recovered at open. The
// durable queue store (issue 21) sits on it; nothing in the broker uses it yet.
//
// What it does:
//   open()     creates the directory if missing, reads every segment in number order
//              and hands each good record to a visitor, repairs what a crash can leave
//              (below), and opens the last segment for appending (or makes one).
//   append()   adds a record of a type and an opaque payload; returns its RecordPos.
//              Records go out through a write buffer (one pwrite per kBuffer bytes, as
//              PageFile); a record bigger than the buffer goes straight to the file.
//   sync()     makes everything appended so far durable (fdatasync, and an fsync of the
//              directory after a segment was made), in three steps for group commit.
//   rotation   the next append after the current segment has passed
//              Options::segment_bytes starts a new segment (a segment holds at least
//              one record, so one record can make it longer).
//   remove_segment()  deletes a segment that is not the current one (its records all
//              acked: the store's compaction); the next sync makes the removal durable.
//   read()     reads a record back by its position, its CRC checked.
//
// Recovery (each case logged, with what was lost; counted in recovery()):
//   - a record with a bad CRC (or type kInvalid) whose length is plausible and whose
//     successor is good: that record only is lost;
//   - any other damage followed, in the same segment, by two good records in a row (or
//     one ending the segment): the damaged span is lost, reading resumes there;
//   - damage with no good record after it in the LAST segment is a torn tail: the file
//     is truncated at the end of the last good record and appends continue from there;
//     in an earlier segment the rest of that segment is lost and the file left as it is;
//   - a file with the segment naming that cannot be read or has a bad header (magic,
//     version, number, CRC) is skipped and left in place; its number stays taken;
//   - a segment file shorter than a header (made just before a crash) holds no record
//     and is removed.
//
// Errors are returned as std::error_code, never thrown. A failed write or sync loses
// exactly the records not yet durable: everything at or after durable() is dropped (the
// files are cut back to what was synced), later appends go to a new segment, and every
// durable record stays readable. A caller that gets an error from append(), flush() or
// a sync therefore nacks everything it appended after the last durable() it saw.
//
// Group commit from fibers. The fdatasync must not run on a scheduler thread with the
// store's lock held: begin_sync() (under the lock) flushes the buffer and captures what
// to sync; the batch's run() (without the lock, inside weft::blocking, so the fiber's
// processor goes to another thread meanwhile) does the system calls; end_sync() (under
// the lock again) records the result. Appends may go on while a batch runs; they are in
// the next one. One syncer fiber (or whichever committer finds none running) loops:
//
//   lock; while (log.durable() < wanted) {
//     SegmentLog::SyncBatch b;
//     if (log.begin_sync(&b)) { nack what lies after log.durable(); break; }
//     unlock; std::error_code ran = weft::blocking([&] { return b.run(); }); lock;
//     if (log.end_sync(b, ran)) nack what lies after log.durable();
//     else confirm what lies before log.durable();
//   }
//
// so every append that arrived while one sync ran is covered by the next single sync.
// sync() is the three steps in one call, for callers with nothing to overlap.
//
// Thread safety: none. The durable store owns the log under its own lock (or in one
// fiber). Only SyncBatch::run() may run concurrently with the log's other calls.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "store/log_format.h"

namespace weftd {

// RecordPos: where a record starts -- its segment's number and its header's offset in
// that file. Positions order as the log does.
struct RecordPos {
  std::uint32_t segment = 0;
  std::uint64_t offset = 0;
  auto operator<=>(const RecordPos&) const = default;
};

class SegmentLog {
 public:
  struct Options {
    std::uint64_t segment_bytes = 8 << 20;  // rotate once a segment passes this size
  };

  // What open() found (all zero for a new log).
  struct Recovery {
    std::uint64_t segments = 0;          // segments read
    std::uint64_t skipped_segments = 0;  // files named as segments that could not be read
    std::uint64_t records = 0;           // records handed to the visitor
    std::uint64_t lost_records = 0;      // bad records skipped in the middle of a segment
    std::uint64_t lost_bytes = 0;        // bytes of damaged spans skipped or left behind
    std::uint64_t cut_bytes = 0;         // bytes cut off the last segment's torn tail
    std::uint64_t cut_records = 0;       // records in that tail (as its lengths tell)
  };

  // A Visitor gets each good record; `payload` is valid only during the call.
  using Visitor = std::function<void(RecordPos, wlog::RecordType, std::string_view payload)>;

  // open() recovers the log in `dir` (made if missing), calling `visit` for each good
  // record in log order, and sets *out to a log ready to append. An error if the
  // directory cannot be made or opened, or the log cannot be written to (it is logged
  // with the path; `visit` may have been called already); damaged files are not errors.
  static std::error_code open(const std::string& dir, const Options& opts, const Visitor& visit,
                              std::unique_ptr<SegmentLog>* out);

  // ~SegmentLog() flushes the buffer (best effort; it does not sync).
  // REQUIRES: no batch between begin_sync() and end_sync().
  ~SegmentLog();
  SegmentLog(const SegmentLog&) = delete;
  SegmentLog& operator=(const SegmentLog&) = delete;

  // append() adds a record of `type` whose payload is `parts`, in order (copied once,
  // not first joined) and sets *pos to its position. EMSGSIZE (nothing changed) if the
  // payload exceeds wlog::kMaxPayload; an I/O error as the class comment says.
  // REQUIRES: type != kInvalid.
  std::error_code append(wlog::RecordType type, std::initializer_list<std::string_view> parts,
                         RecordPos* pos);

  // flush() writes the buffer to the file (not durable until a sync).
  std::error_code flush();

  // SyncBatch: one group commit's system calls, captured by begin_sync().
  struct SyncBatch {
    std::vector<int> fds;          // files to fdatasync (open until end_sync())
    int dir_fd = -1;               // the directory, to fsync after a segment was made; -1: no
    RecordPos end;                 // everything before this is durable once run() succeeds
    std::uint64_t generation = 0;  // the log's then: a failure since fails the batch
    std::error_code injected;      // TEST_fail_next_sync()'s error
    // run() does the syncs. Touches nothing of the log: may run on any thread (in
    // weft::blocking) while the log is used.
    std::error_code run() const;
  };
  // begin_sync() flushes the buffer and fills *b with what to sync.
  // REQUIRES: no batch begun and not yet ended.
  std::error_code begin_sync(SyncBatch* b);
  // end_sync() takes run()'s result: on success everything before b.end is durable (and
  // durable() says so); on an error (ran, or a failure since begin_sync()) the records
  // not durable are dropped. Returns the batch's outcome.
  // REQUIRES: b is the batch begin_sync() gave.
  std::error_code end_sync(const SyncBatch& b, std::error_code ran);
  // sync() = begin_sync(), run() and end_sync() on this thread; *end (if non-null) gets
  // the position everything before which is durable.
  std::error_code sync(RecordPos* end = nullptr);

  // read() reads the record at `pos` (any position append() or the visitor gave, not
  // since dropped), checking its CRC: EBADMSG if it does not match, ENOENT for a segment
  // the log does not hold.
  std::error_code read(RecordPos pos, wlog::RecordType* type, std::string* payload);

  // remove_segment() deletes segment n and its file. EBUSY for the current segment,
  // ENOENT for one the log does not hold.
  std::error_code remove_segment(std::uint32_t n);

  // end(): the position the next record will have (after a failure: in the new segment
  // the next append makes).
  RecordPos end() const {
    return cur_.fd >= 0 ? RecordPos{cur_.n, tail_}
                        : RecordPos{last_number_ + 1, wlog::kSegmentHeaderSize};
  }
  // durable(): every record before this position is on stable storage.
  RecordPos durable() const { return durable_; }
  // segments(): the numbers of the segments the log holds (read or made), ascending.
  const std::set<std::uint32_t>& segments() const { return segments_; }
  // current_segment(): the segment appended to; 0 after a failure, until the next append.
  std::uint32_t current_segment() const { return cur_.n; }
  const Recovery& recovery() const { return recovery_; }
  const std::string& dir() const { return dir_; }

  // Fault injection for tests: the next write (pwrite) or the next sync batch fails
  // with `ec` as if the system call had.
  void TEST_fail_next_write(std::error_code ec) { fail_write_ = ec; }
  void TEST_fail_next_sync(std::error_code ec) { fail_sync_ = ec; }

  static constexpr std::size_t kBuffer = 64 << 10;

 private:
  // An open segment file with bytes perhaps not yet durable.
  struct Segment {
    std::uint32_t n = 0;
    int fd = -1;
    std::uint64_t synced = 0;  // bytes of the file known durable
  };

  SegmentLog(std::string dir, const Options& opts) : dir_(std::move(dir)), opts_(opts) {}
  std::string path(std::uint32_t n) const;
  // probe() tells whether file n is a segment of this log (readable, with a valid
  // header); logs why not, and removes it if it is shorter than a header.
  bool probe(std::uint32_t n);
  // recover() reads segment n; sets cur_ if it is the last and good.
  void recover(std::uint32_t n, bool last, const Visitor& visit);
  std::error_code new_segment();
  std::error_code write_at(int fd, const char* p, std::size_t len, std::uint64_t off);
  // drop_unsynced() cuts every open segment back to its durable bytes after a failed
  // write or sync and leaves no current segment (the next append makes one).
  void drop_unsynced(std::error_code why);
  void close_later(int fd);
  // fetch() reads [off, off + len) of segment n from the buffer or the file.
  std::error_code fetch(std::uint32_t n, std::uint64_t off, std::size_t len, char* out);

  // Invariants: flushed_ + buf_.size() == tail_; buf_ is empty unless cur_.fd >= 0;
  // durable_ <= end(); rotated_ holds segments below cur_.n, in order; in_sync_ while
  // a batch's fds may be in use (no fd of it is closed until end_sync()).
  const std::string dir_;
  const Options opts_;
  int dir_fd_ = -1;
  std::set<std::uint32_t> segments_;
  std::uint32_t last_number_ = 0;  // the highest segment number seen or made
  Segment cur_;                    // fd -1: none yet (made by the next append)
  std::uint64_t tail_ = 0;         // cur_'s size including the buffer
  std::uint64_t flushed_ = 0;      // cur_'s bytes written; buf_ holds [flushed_, tail_)
  std::string buf_;
  std::vector<Segment> rotated_;  // earlier segments not yet synced (their fds open)
  std::vector<int> closing_;      // fds to close once no batch runs
  bool dir_dirty_ = false;        // a segment was made or removed since the last sync
  bool in_sync_ = false;          // between begin_sync() and end_sync()
  std::uint64_t generation_ = 0;  // bumped by drop_unsynced(): a batch begun before fails
  RecordPos durable_;
  int read_fd_ = -1;  // one earlier segment kept open for read()
  std::uint32_t read_n_ = 0;
  Recovery recovery_;
  std::error_code fail_write_, fail_sync_;
};

}  // namespace weftd
