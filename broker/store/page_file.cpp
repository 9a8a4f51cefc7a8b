// store/page_file.cpp: see store/page_file.h.
#include "store/page_file.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "base/log.h"

namespace weftd {

namespace {

// io_all() runs pread or pwrite until all n bytes are done; false on an error or EOF.
template <class Op, class Ptr>
bool io_all(Op op, int fd, Ptr p, std::size_t n, std::uint64_t off) {
  while (n > 0) {
    const ssize_t r = op(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
    off += static_cast<std::uint64_t>(r);
  }
  return true;
}

bool pwrite_all(int fd, const char* p, std::size_t n, std::uint64_t off) {
  return io_all(::pwrite, fd, p, n, off);
}

bool pread_all(int fd, char* p, std::size_t n, std::uint64_t off) {
  return io_all(::pread, fd, p, n, off);
}

}  // namespace

PageFile::~PageFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool PageFile::open() {
  if (fd_ >= 0) return true;
  if (failed_) return false;
  fd_ = ::open(dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0) {  // a file system without O_TMPFILE: create, then unlink at once
    std::string path = dir_ + "/weftd-page-XXXXXX";
    fd_ = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd_ >= 0) ::unlink(path.c_str());
  }
  if (fd_ < 0) {
    failed_ = true;
    log_warn("queue paging: cannot create a file in %s (errno %d): long queues stay in memory",
             dir_.c_str(), errno);
    return false;
  }
  return true;
}

bool PageFile::disk_low() {
  struct statvfs st;
  if (::fstatvfs(fd_, &st) != 0) return false;
  const std::uint64_t avail = std::uint64_t{st.f_bavail} * st.f_frsize;
  if (avail >= kDiskFreeMin) return false;
  if (!warned_low_) {
    log_warn(
        "queue paging: %llu bytes left in %s: long queues stay in memory until there "
        "is more",
        static_cast<unsigned long long>(avail), dir_.c_str());
    warned_low_ = true;
  }
  return true;
}

bool PageFile::flush() {
  if (buf_.empty()) return true;
  if (!pwrite_all(fd_, buf_.data(), buf_.size(), flushed_)) {
    // The buffered records stay here, readable: nothing appended is lost. No more.
    log_warn("queue paging: write failed (errno %d): long queues stay in memory", errno);
    failed_ = true;
    return false;
  }
  flushed_ += buf_.size();
  buf_.clear();
  return true;
}

bool PageFile::append(std::initializer_list<std::string_view> parts, Ref* ref) {
  std::uint64_t size = 0;
  for (std::string_view part : parts) size += part.size();
  if (size >= kMaxRecord || tail_ + size >= kMaxFile) return false;
  if (failed_ || !open()) return false;
  if (buf_.size() + size > kBuffer && (disk_low() || !flush())) return false;
  ref->offset = tail_;
  ref->length = size;
  if (size > kBuffer) {  // a large message: straight to the file (the buffer is empty)
    for (std::string_view part : parts) {
      if (!pwrite_all(fd_, part.data(), part.size(), flushed_)) {
        log_warn("queue paging: write failed (errno %d): long queues stay in memory", errno);
        failed_ = true;
        return false;
      }
      flushed_ += part.size();
    }
  } else {
    if (buf_.empty()) buf_.reserve(kBuffer);
    for (std::string_view part : parts) buf_.append(part);
  }
  tail_ += size;
  return true;
}

bool PageFile::read(const Ref& ref, std::string* out) {
  bool ok = true;
  if (ref.offset >= flushed_) {  // still in the write buffer
    out->assign(buf_, static_cast<std::size_t>(ref.offset - flushed_), ref.length);
  } else {
    out->resize(ref.length);
    ok = pread_all(fd_, out->data(), ref.length, ref.offset);
  }
  read_to_ = ref.offset + ref.length;
  // Give back what has been read, a megabyte at a time (whole pages only).
  const std::uint64_t upto = std::min(read_to_, flushed_) & ~std::uint64_t{4095};
  if (upto >= punched_to_ + kPunch) {
    ::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(punched_to_),
                static_cast<off_t>(upto - punched_to_));
    punched_to_ = upto;
  }
  return ok;
}

void PageFile::reset() {
  if (fd_ >= 0 && flushed_ > 0 && ::ftruncate(fd_, 0) != 0)
    log_warn("queue paging: truncate failed (errno %d)", errno);
  tail_ = flushed_ = read_to_ = punched_to_ = 0;
  buf_.clear();
  buf_.shrink_to_fit();
}

}  // namespace weftd
