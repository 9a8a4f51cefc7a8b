// store/segment_log.cpp: see store/segment_log.h; the format is store/log_format.h's.
#include "store/segment_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "base/log.h"
#include "store/crc32c.h"

namespace weftd {

namespace {

using wlog::kRecordHeaderSize;
using wlog::kSegmentHeaderSize;
using wlog::RecordType;

std::error_code errno_code(int e) { return {e, std::generic_category()}; }

std::error_code pread_all(int fd, char* p, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno_code(errno);
    if (r == 0) return errno_code(ENODATA);  // past the end of the file
    p += r;
    n -= static_cast<std::size_t>(r);
    off += static_cast<std::uint64_t>(r);
  }
  return {};
}

std::uint32_t record_crc(RecordType type, std::initializer_list<std::string_view> parts) {
  const auto t = static_cast<char>(type);
  std::uint32_t crc = crc32c::value(&t, 1);
  for (std::string_view part : parts) crc = crc32c::extend(crc, part);
  return crc32c::mask(crc);
}

std::string segment_header(std::uint32_t n) {
  std::string h(kSegmentHeaderSize, '\0');
  std::memcpy(h.data(), wlog::kMagic, sizeof wlog::kMagic);
  wlog::put_u32(h.data() + 8, wlog::kFormatVersion);
  wlog::put_u32(h.data() + 12, n);
  wlog::put_u32(h.data() + 16, crc32c::mask(crc32c::value(h.data(), 16)));
  return h;
}

// Scan: the records of one segment's bytes, in memory.
struct Scan {
  std::string_view data;

  std::uint32_t length(std::uint64_t off) const { return wlog::get_u32(data.data() + off); }
  // next() is where the record at off would end, if its header lies in the data and its
  // length is plausible; 0 otherwise.
  std::uint64_t next(std::uint64_t off) const {
    if (off + kRecordHeaderSize > data.size()) return 0;
    const std::uint32_t n = length(off);
    if (n > wlog::kMaxPayload || off + kRecordHeaderSize + n > data.size()) return 0;
    return off + kRecordHeaderSize + n;
  }
  // good() tells whether a good record starts at off.
  bool good(std::uint64_t off) const {
    const std::uint64_t end = next(off);
    if (end == 0) return false;
    const char* h = data.data() + off;
    if (static_cast<RecordType>(h[8]) == RecordType::kInvalid) return false;
    const std::uint32_t crc = crc32c::extend(crc32c::value(h + 8, 1), h + kRecordHeaderSize,
                                             end - off - kRecordHeaderSize);
    return crc32c::mask(crc) == wlog::get_u32(h + 4);
  }
  // resync() finds the first offset after off where reading can go on: two good records
  // in a row, or one that ends the data. 0 if there is none.
  std::uint64_t resync(std::uint64_t off) const {
    for (std::uint64_t p = off + 1; p + kRecordHeaderSize <= data.size(); p++) {
      if (!good(p)) continue;
      const std::uint64_t q = next(p);
      if (q == data.size() || good(q)) return p;
    }
    return 0;
  }
  // count() is how many records the bytes from off claim to hold, by their lengths.
  std::uint64_t count(std::uint64_t off) const {
    std::uint64_t k = 0;
    while (off < data.size()) {
      k++;
      if (off + kRecordHeaderSize > data.size()) break;
      const std::uint32_t n = length(off);
      if (n > wlog::kMaxPayload) break;
      off += kRecordHeaderSize + n;
    }
    return k;
  }
};

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

}  // namespace

std::string SegmentLog::path(std::uint32_t n) const { return dir_ + "/" + wlog::segment_name(n); }

std::error_code SegmentLog::open(const std::string& dir, const Options& opts, const Visitor& visit,
                                 std::unique_ptr<SegmentLog>* out) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    log_error("durable log: cannot make directory %s: %s", dir.c_str(), ec.message().c_str());
    return ec;
  }
  std::unique_ptr<SegmentLog> log(new SegmentLog(dir, opts));
  log->dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (log->dir_fd_ < 0) {
    ec = errno_code(errno);
    log_error("durable log: cannot open directory %s: %s", dir.c_str(), ec.message().c_str());
    return ec;
  }
  std::vector<std::uint32_t> numbers;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::uint32_t n;
    if (wlog::parse_segment_name(it->path().filename().string(), &n)) numbers.push_back(n);
  }
  if (ec) {
    log_error("durable log: cannot list directory %s: %s", dir.c_str(), ec.message().c_str());
    return ec;
  }
  std::sort(numbers.begin(), numbers.end());
  if (!numbers.empty()) log->last_number_ = numbers.back();
  // The last segment -- the one a torn tail can be cut from and appended to -- is the
  // last with a valid header: files that fail probe() are no segments of this log.
  std::erase_if(numbers, [&](std::uint32_t n) { return !log->probe(n); });
  for (std::size_t i = 0; i < numbers.size(); i++)
    log->recover(numbers[i], i + 1 == numbers.size(), visit);
  if (log->cur_.fd < 0 && (ec = log->new_segment())) return ec;
  if (::fsync(log->dir_fd_) != 0)
    log_warn("durable log: fsync of %s failed (errno %d)", dir.c_str(), errno);
  log->durable_ = RecordPos{log->cur_.n, log->cur_.synced};
  const Recovery& r = log->recovery_;
  if (r.segments > 0 || r.skipped_segments > 0)
    log_info("durable log %s: %llu records in %llu segments recovered", dir.c_str(), ull(r.records),
             ull(r.segments));
  *out = std::move(log);
  return {};
}

bool SegmentLog::probe(std::uint32_t n) {
  const std::string file = path(n);
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st;
  std::error_code ec;
  char h[kSegmentHeaderSize];
  if (fd < 0) {
    ec = errno_code(errno);
  } else if (::fstat(fd, &st) != 0) {
    ec = errno_code(errno);
  } else if (static_cast<std::uint64_t>(st.st_size) >= kSegmentHeaderSize) {
    ec = pread_all(fd, h, sizeof h, 0);
  }
  if (fd >= 0) ::close(fd);
  if (ec) {
    log_warn("durable log: cannot read %s (%s): skipped", file.c_str(), ec.message().c_str());
    recovery_.skipped_segments++;
    return false;
  }
  if (static_cast<std::uint64_t>(st.st_size) < kSegmentHeaderSize) {  // no record: harmless
    log_warn(
        "durable log: %s is shorter than a segment header (%llu bytes; made as the "
        "process stopped): removed",
        file.c_str(), ull(static_cast<std::uint64_t>(st.st_size)));
    ::unlink(file.c_str());
    return false;
  }
  if (segment_header(n).compare(0, kSegmentHeaderSize, h, sizeof h) != 0) {
    log_warn(
        "durable log: %s has no valid segment header (not this log's, or damaged): "
        "skipped, left in place",
        file.c_str());
    recovery_.skipped_segments++;
    return false;
  }
  return true;
}

void SegmentLog::recover(std::uint32_t n, bool last, const Visitor& visit) {
  // last: the log's last segment, to be cut if torn and appended to.
  const std::string file = path(n);
  int fd = ::open(file.c_str(), (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0 && last && errno != ENOENT) {  // read it all the same; appends go elsewhere
    log_warn("durable log: cannot open %s for writing (errno %d): read only, not appended to",
             file.c_str(), errno);
    fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    last = false;
  }
  struct stat st;
  std::string data;
  std::error_code ec;
  if (fd < 0) {
    ec = errno_code(errno);
  } else if (::fstat(fd, &st) != 0) {
    ec = errno_code(errno);
  } else {
    data.resize(static_cast<std::size_t>(st.st_size));
    ec = pread_all(fd, data.data(), data.size(), 0);
  }
  if (ec) {
    log_warn("durable log: cannot read %s (%s): skipped", file.c_str(), ec.message().c_str());
    recovery_.skipped_segments++;
    if (fd >= 0) ::close(fd);
    return;
  }
  if (data.size() < kSegmentHeaderSize ||
      data.compare(0, kSegmentHeaderSize, segment_header(n)) != 0) {  // changed since probe()
    log_warn("durable log: %s changed while being read: skipped", file.c_str());
    recovery_.skipped_segments++;
    ::close(fd);
    return;
  }
  recovery_.segments++;
  segments_.insert(n);
  const Scan scan{data};
  std::uint64_t off = kSegmentHeaderSize;
  std::uint64_t size = data.size();
  while (off < size) {
    if (scan.good(off)) {
      const auto type = static_cast<RecordType>(data[off + 8]);
      const std::uint64_t end = scan.next(off);
      if (type != RecordType::kPadding) {
        visit(
            RecordPos{n, off}, type,
            std::string_view(data).substr(off + kRecordHeaderSize, end - off - kRecordHeaderSize));
        recovery_.records++;
      }
      off = end;
      continue;
    }
    // A bad record: lost alone if its length leads to a good one (or, in an earlier
    // segment, to the segment's end).
    const std::uint64_t end = scan.next(off);
    if (end != 0 && ((end < size && scan.good(end)) || (end == size && !last))) {
      log_warn(
          "durable log: %s: record at offset %llu (%llu bytes) has a bad checksum: that "
          "record is lost",
          file.c_str(), ull(off), ull(end - off));
      recovery_.lost_records++;
      recovery_.lost_bytes += end - off;
      off = end;
      continue;
    }
    // Damage: skipped if good records follow it in this segment.
    if (const std::uint64_t p = scan.resync(off)) {
      log_warn(
          "durable log: %s: bytes %llu..%llu are damaged (%llu record(s) by their lengths): lost, "
          "reading resumes after them",
          file.c_str(), ull(off), ull(p),
          ull(Scan{std::string_view(data).substr(0, p)}.count(off)));
      recovery_.lost_records++;
      recovery_.lost_bytes += p - off;
      off = p;
      continue;
    }
    const std::uint64_t k = scan.count(off);
    if (!last) {
      log_warn(
          "durable log: %s: the last %llu bytes (%llu record(s) by their lengths) from offset %llu "
          "are "
          "damaged: lost (an earlier segment: left as it is)",
          file.c_str(), ull(size - off), ull(k), ull(off));
      recovery_.lost_records += k;
      recovery_.lost_bytes += size - off;
      break;
    }
    // The torn tail of the last segment: cut it.
    if (::ftruncate(fd, static_cast<off_t>(off)) != 0 || ::fdatasync(fd) != 0) {
      ec = errno_code(errno);
      log_warn(
          "durable log: %s: cannot cut its torn tail at offset %llu (%s): the segment is "
          "closed, appends go to a new one",
          file.c_str(), ull(off), ec.message().c_str());
      ::close(fd);
      return;
    }
    log_warn(
        "durable log: %s: torn tail cut at offset %llu: %llu bytes (%llu record(s)) "
        "dropped",
        file.c_str(), ull(off), ull(size - off), ull(k));
    recovery_.cut_bytes += size - off;
    recovery_.cut_records += k;
    size = off;
    break;
  }
  // What was read counts as durable from now on: make it so (it may be in the page
  // cache only, if the process that wrote it was killed before its sync).
  if (::fdatasync(fd) != 0)
    log_warn("durable log: %s: fdatasync failed (errno %d)", file.c_str(), errno);
  if (!last) {
    ::close(fd);
    return;
  }
  cur_ = Segment{n, fd, size};
  tail_ = flushed_ = size;
}

SegmentLog::~SegmentLog() {
  assert(!in_sync_);
  if (cur_.fd >= 0) flush();
  if (cur_.fd >= 0) ::close(cur_.fd);
  for (const Segment& s : rotated_) ::close(s.fd);
  for (int fd : closing_) ::close(fd);
  if (read_fd_ >= 0) ::close(read_fd_);
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

std::error_code SegmentLog::new_segment() {
  assert(cur_.fd < 0);
  const std::uint32_t n = last_number_ + 1;
  const std::string file = path(n);
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const std::error_code ec = errno_code(errno);
    log_error("durable log: cannot create %s: %s", file.c_str(), ec.message().c_str());
    return ec;
  }
  last_number_ = n;
  segments_.insert(n);
  cur_ = Segment{n, fd, 0};
  buf_ = segment_header(n);
  flushed_ = 0;
  tail_ = buf_.size();
  dir_dirty_ = true;
  return {};
}

std::error_code SegmentLog::write_at(int fd, const char* p, std::size_t n, std::uint64_t off) {
  if (fail_write_) return std::exchange(fail_write_, {});
  while (n > 0) {
    const ssize_t r = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno_code(errno);
    p += r;
    n -= static_cast<std::size_t>(r);
    off += static_cast<std::uint64_t>(r);
  }
  return {};
}

void SegmentLog::close_later(int fd) {
  if (in_sync_)
    closing_.push_back(fd);  // a running batch may be syncing it
  else
    ::close(fd);
}

void SegmentLog::drop_unsynced(std::error_code why) {
  generation_++;
  std::vector<Segment> open = std::move(rotated_);
  rotated_.clear();
  if (cur_.fd >= 0) open.push_back(cur_);
  for (const Segment& s : open) {
    if (s.synced == 0) {  // made since the last sync: nothing in it is durable
      ::unlink(path(s.n).c_str());
      segments_.erase(s.n);
      dir_dirty_ = true;
    } else if (::ftruncate(s.fd, static_cast<off_t>(s.synced)) != 0) {
      log_warn("durable log: cannot cut %s back to its %llu synced bytes (errno %d)",
               path(s.n).c_str(), ull(s.synced), errno);
    }
    close_later(s.fd);
  }
  if (read_fd_ >= 0) ::close(read_fd_);
  read_fd_ = -1;
  read_n_ = 0;
  cur_ = Segment{};
  tail_ = flushed_ = 0;
  buf_.clear();
  log_error(
      "durable log %s: write or sync failed (%s): the records after segment %u offset %llu "
      "were not durable and are dropped; appends go on in a new segment",
      dir_.c_str(), why.message().c_str(), durable_.segment, ull(durable_.offset));
}

std::error_code SegmentLog::flush() {
  assert(flushed_ + buf_.size() == tail_);
  if (buf_.empty()) return {};
  if (cur_.fd < 0) return errno_code(EBADF);
  if (std::error_code ec = write_at(cur_.fd, buf_.data(), buf_.size(), flushed_)) {
    drop_unsynced(ec);
    return ec;
  }
  flushed_ += buf_.size();
  buf_.clear();
  return {};
}

std::error_code SegmentLog::append(RecordType type, std::initializer_list<std::string_view> parts,
                                   RecordPos* pos) {
  assert(type != RecordType::kInvalid);
  std::uint64_t len = 0;
  for (std::string_view part : parts) len += part.size();
  if (len > wlog::kMaxPayload) return errno_code(EMSGSIZE);
  if (cur_.fd >= 0 && tail_ >= opts_.segment_bytes && tail_ > kSegmentHeaderSize) {
    if (std::error_code ec = flush()) return ec;
    rotated_.push_back(cur_);
    cur_ = Segment{};
  }
  if (cur_.fd < 0) {
    if (std::error_code ec = new_segment()) return ec;
  }
  char h[kRecordHeaderSize];
  wlog::put_u32(h, static_cast<std::uint32_t>(len));
  wlog::put_u32(h + 4, record_crc(type, parts));
  h[8] = static_cast<char>(type);
  const std::uint64_t size = kRecordHeaderSize + len;
  if (buf_.size() + size > kBuffer) {
    if (std::error_code ec = flush()) return ec;
  }
  *pos = RecordPos{cur_.n, tail_};
  if (size > kBuffer) {  // straight to the file (the buffer is empty)
    std::error_code ec = write_at(cur_.fd, h, sizeof h, flushed_);
    std::uint64_t at = flushed_ + sizeof h;
    for (std::string_view part : parts) {
      if (ec) break;
      ec = write_at(cur_.fd, part.data(), part.size(), at);
      at += part.size();
    }
    if (ec) {
      drop_unsynced(ec);
      return ec;
    }
    flushed_ += size;
  } else {
    if (buf_.capacity() < kBuffer) buf_.reserve(kBuffer);
    buf_.append(h, sizeof h);
    for (std::string_view part : parts) buf_.append(part);
  }
  tail_ += size;
  assert(flushed_ + buf_.size() == tail_);
  return {};
}

std::error_code SegmentLog::SyncBatch::run() const {
  if (injected) return injected;
  for (int fd : fds)
    if (::fdatasync(fd) != 0) return errno_code(errno);
  if (dir_fd >= 0 && ::fsync(dir_fd) != 0) return errno_code(errno);
  return {};
}

std::error_code SegmentLog::begin_sync(SyncBatch* b) {
  assert(!in_sync_);
  if (std::error_code ec = flush()) return ec;
  b->fds.clear();
  for (const Segment& s : rotated_) b->fds.push_back(s.fd);
  if (cur_.fd >= 0) b->fds.push_back(cur_.fd);
  b->dir_fd = dir_dirty_ ? dir_fd_ : -1;
  dir_dirty_ = false;
  b->end = end();
  b->generation = generation_;
  b->injected = std::exchange(fail_sync_, {});
  in_sync_ = true;
  return {};
}

std::error_code SegmentLog::end_sync(const SyncBatch& b, std::error_code ran) {
  assert(in_sync_);
  if (!ran && b.generation != generation_) ran = errno_code(ECANCELED);  // dropped meanwhile
  if (ran) {
    if (b.dir_fd >= 0) dir_dirty_ = true;
    if (b.generation == generation_) drop_unsynced(ran);
  } else {
    std::vector<Segment> keep;
    for (const Segment& s : rotated_) {
      if (s.n < b.end.segment) {
        closing_.push_back(s.fd);  // wholly synced
      } else {
        keep.push_back(s);
        if (s.n == b.end.segment) keep.back().synced = b.end.offset;
      }
    }
    rotated_ = std::move(keep);
    if (cur_.fd >= 0 && cur_.n == b.end.segment) cur_.synced = b.end.offset;
    durable_ = std::max(durable_, b.end);
  }
  in_sync_ = false;
  for (int fd : closing_) ::close(fd);
  closing_.clear();
  return ran;
}

std::error_code SegmentLog::sync(RecordPos* end) {
  SyncBatch b;
  std::error_code ec = begin_sync(&b);
  if (!ec) ec = end_sync(b, b.run());
  if (end) *end = durable_;
  return ec;
}

std::error_code SegmentLog::fetch(std::uint32_t n, std::uint64_t off, std::size_t len, char* out) {
  if (segments_.count(n) == 0) return errno_code(ENOENT);  // never held, removed or dropped
  if (cur_.fd >= 0 && n == cur_.n) {
    if (off + len > tail_) return errno_code(ENODATA);
    if (off >= flushed_) {
      std::memcpy(out, buf_.data() + (off - flushed_), len);
      return {};
    }
    return pread_all(cur_.fd, out, len, off);
  }
  for (const Segment& s : rotated_)
    if (s.n == n) return pread_all(s.fd, out, len, off);
  if (read_n_ != n) {
    if (read_fd_ >= 0) ::close(read_fd_);
    read_n_ = 0;
    read_fd_ = ::open(path(n).c_str(), O_RDONLY | O_CLOEXEC);
    if (read_fd_ < 0) return errno_code(errno);
    read_n_ = n;
  }
  return pread_all(read_fd_, out, len, off);
}

std::error_code SegmentLog::read(RecordPos pos, RecordType* type, std::string* payload) {
  if (pos.offset < kSegmentHeaderSize) return errno_code(EINVAL);
  char h[kRecordHeaderSize];
  if (std::error_code ec = fetch(pos.segment, pos.offset, sizeof h, h)) return ec;
  const std::uint32_t len = wlog::get_u32(h);
  if (len > wlog::kMaxPayload) return errno_code(EBADMSG);
  payload->resize(len);
  if (std::error_code ec = fetch(pos.segment, pos.offset + sizeof h, len, payload->data()))
    return ec;
  const std::uint32_t crc = crc32c::extend(crc32c::value(h + 8, 1), *payload);
  if (crc32c::mask(crc) != wlog::get_u32(h + 4)) return errno_code(EBADMSG);
  *type = static_cast<RecordType>(h[8]);
  return {};
}

std::error_code SegmentLog::remove_segment(std::uint32_t n) {
  if (cur_.fd >= 0 && n == cur_.n) return errno_code(EBUSY);
  if (segments_.count(n) == 0) return errno_code(ENOENT);
  if (::unlink(path(n).c_str()) != 0) return errno_code(errno);
  segments_.erase(n);
  dir_dirty_ = true;
  if (read_n_ == n) {
    ::close(read_fd_);
    read_fd_ = -1;
    read_n_ = 0;
  }
  // A rotated segment not yet synced keeps its fd until a sync: syncing an unlinked
  // file is harmless, and a running batch may hold it.
  return {};
}

}  // namespace weftd
