// segment_log_test.cpp: store/crc32c.h, store/log_format.h and store/segment_log.h on a
// real file system: CRC-32C vectors and the two implementations against each other;
// the log's round trip across rotations and reopens, syncs and group commit, every kind
// of damage recovery must survive (a torn tail at several cut points, a flipped byte in
// the middle and at the end, a truncated earlier segment, garbage and short files named
// as segments), an unwritable directory, segment removal, and injected write and sync
// failures. Each case runs in its own temporary directory, removed after.
#include "store/segment_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>
#include <weft/runtime.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "store/crc32c.h"
#include "store/log_format.h"

namespace weftd {
namespace {

namespace fs = std::filesystem;
using wlog::RecordType;

// ---- CRC-32C ----

std::uint32_t crc_both(const std::string& s) {
  const std::uint32_t portable = crc32c::extend_portable(0, s.data(), s.size());
  if (crc32c::hardware_available()) {
    EXPECT_EQ(crc32c::extend_hardware(0, s.data(), s.size()), portable);
  }
  EXPECT_EQ(crc32c::value(s), portable);
  return portable;
}

TEST(Crc32c, Rfc3720Vectors) {
  EXPECT_EQ(crc_both(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(crc_both(std::string(32, '\xff')), 0x62a8ab43u);
  std::string up, down;
  for (int i = 0; i < 32; i++) {
    up.push_back(static_cast<char>(i));
    down.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(crc_both(up), 0x46dd794eu);
  EXPECT_EQ(crc_both(down), 0x113fdb5cu);
  EXPECT_EQ(crc_both("123456789"), 0xe3069283u);
  EXPECT_EQ(crc_both(""), 0u);
}

TEST(Crc32c, HardwareMatchesPortableAtEveryLengthAndAlignment) {
  if (!crc32c::hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::mt19937 rng(21);
  std::vector<unsigned char> buf(300 + 16);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  for (std::size_t start = 0; start < 16; start++)
    for (std::size_t n = 0; n <= 300; n++) {
      const std::uint32_t seed = rng();
      ASSERT_EQ(crc32c::extend_hardware(seed, buf.data() + start, n),
                crc32c::extend_portable(seed, buf.data() + start, n))
          << "start " << start << " length " << n;
    }
}

TEST(Crc32c, ExtendContinuesACrc) {
  const std::string s = "the quick brown fox jumps over the lazy dog, twice over";
  for (std::size_t cut = 0; cut <= s.size(); cut++) {
    const std::string_view a = std::string_view(s).substr(0, cut),
                           b = std::string_view(s).substr(cut);
    EXPECT_EQ(crc32c::extend(crc32c::value(a), b), crc32c::value(s));
    EXPECT_EQ(
        crc32c::extend_portable(crc32c::extend_portable(0, a.data(), a.size()), b.data(), b.size()),
        crc32c::value(s));
  }
}

TEST(Crc32c, MaskIsReversibleAndMovesTheValue) {
  for (std::uint32_t c : {0u, 1u, 0xe3069283u, 0xffffffffu}) {
    EXPECT_NE(crc32c::mask(c), c);
    EXPECT_EQ(crc32c::unmask(crc32c::mask(c)), c);
  }
}

// ---- the format ----

TEST(LogFormat, SegmentNames) {
  EXPECT_EQ(wlog::segment_name(1), "00000001.wlog");
  EXPECT_EQ(wlog::segment_name(12345678), "12345678.wlog");
  std::uint32_t n = 0;
  EXPECT_TRUE(wlog::parse_segment_name("00000042.wlog", &n));
  EXPECT_EQ(n, 42u);
  for (const char* bad : {"00000000.wlog", "0000042.wlog", "000000042.wlog", "0000004x.wlog",
                          "00000042.wlo", "00000042.wlog~", "notes.txt", ""})
    EXPECT_FALSE(wlog::parse_segment_name(bad, &n)) << bad;
}

// ---- the log ----

struct Rec {
  RecordPos pos;
  RecordType type;
  std::string payload;
};

// payload() is record i's content, `size` bytes that differ from record to record.
std::string payload(int i, std::size_t size) {
  std::string s(size, '\0');
  std::uint32_t x = 2654435761u * static_cast<std::uint32_t>(i + 1);
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

class SegmentLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/segment_log_test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    dir_ = root_ + "/log";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // open() opens the log in dir_, collecting the records recovery visits into got_.
  std::unique_ptr<SegmentLog> open(SegmentLog::Options opts = {}) {
    got_.clear();
    std::unique_ptr<SegmentLog> log;
    const std::error_code ec = SegmentLog::open(
        dir_, opts,
        [&](RecordPos pos, RecordType type, std::string_view p) {
          got_.push_back(Rec{pos, type, std::string(p)});
        },
        &log);
    EXPECT_FALSE(ec) << ec.message();
    return log;
  }

  Rec add(SegmentLog& log, int i, std::size_t size, RecordType type = RecordType::kMessage) {
    Rec r{{}, type, payload(i, size)};
    const std::error_code ec = log.append(type, {r.payload}, &r.pos);
    EXPECT_FALSE(ec) << ec.message();
    return r;
  }

  std::string file(std::uint32_t n) const { return dir_ + "/" + wlog::segment_name(n); }
  std::uint64_t size_of(std::uint32_t n) const { return fs::file_size(file(n)); }
  void truncate(std::uint32_t n, std::uint64_t size) const {
    ASSERT_EQ(::truncate(file(n).c_str(), static_cast<off_t>(size)), 0);
  }
  void flip(std::uint32_t n, std::uint64_t off) const {
    std::fstream f(file(n), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(off));
    char c;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(off));
    f.put(static_cast<char>(c ^ 0x5a));
  }

  // expect_got() checks that recovery visited exactly `want`, in order.
  void expect_got(const std::vector<Rec>& want) const {
    ASSERT_EQ(got_.size(), want.size());
    for (std::size_t i = 0; i < want.size(); i++) {
      EXPECT_EQ(got_[i].pos, want[i].pos) << i;
      EXPECT_EQ(got_[i].type, want[i].type) << i;
      EXPECT_TRUE(got_[i].payload == want[i].payload) << i;
    }
  }
  void expect_reads(SegmentLog& log, const std::vector<Rec>& want) const {
    for (std::size_t i = 0; i < want.size(); i++) {
      RecordType type;
      std::string p;
      const std::error_code ec = log.read(want[i].pos, &type, &p);
      ASSERT_FALSE(ec) << i << ": " << ec.message();
      EXPECT_EQ(type, want[i].type) << i;
      EXPECT_TRUE(p == want[i].payload) << i;
    }
  }

  std::string root_, dir_;
  std::vector<Rec> got_;
};

TEST_F(SegmentLogTest, EmptyDirectory) {
  auto log = open();  // dir_ does not exist yet: made
  EXPECT_TRUE(got_.empty());
  EXPECT_EQ(log->current_segment(), 1u);
  EXPECT_EQ(log->recovery().segments, 0u);
  log.reset();
  log = open();  // the segment made holds no record
  EXPECT_TRUE(got_.empty());
  std::vector<Rec> want{add(*log, 0, 10)};
  log.reset();
  log = open();
  expect_got(want);
  log.reset();
  fs::remove_all(dir_);
  fs::create_directory(dir_);
  log = open();  // an existing, empty directory
  EXPECT_TRUE(got_.empty());
}

TEST_F(SegmentLogTest, RoundTripOfMixedSizesAcrossRotationsAndReopen) {
  SegmentLog::Options opts;
  opts.segment_bytes = 512 << 10;
  auto log = open(opts);
  const std::size_t sizes[] = {0, 1, 8, 9, 100, 4000, 65535, 70000, 3, (1 << 20) + 17, 200, 0};
  std::vector<Rec> want;
  for (int i = 0; i < 120; i++) {
    want.push_back(add(*log, i, sizes[i % std::size(sizes)],
                       i % 3 == 0 ? RecordType::kEnqueue : RecordType::kMessage));
    if (i % 17 == 0) expect_reads(*log, want);  // from the buffer and the files
  }
  EXPECT_GT(log->segments().size(), 4u);
  for (std::size_t i = 1; i < want.size(); i++) ASSERT_LT(want[i - 1].pos, want[i].pos);
  expect_reads(*log, want);
  const auto segments = log->segments();
  log.reset();
  log = open(opts);
  expect_got(want);
  EXPECT_EQ(log->segments(), segments);
  EXPECT_EQ(log->recovery().records, want.size());
  EXPECT_EQ(log->recovery().cut_bytes + log->recovery().lost_bytes, 0u);
  expect_reads(*log, want);
  // Appends go on in the last segment.
  want.push_back(add(*log, 1000, 50));
  log.reset();
  log = open(opts);
  expect_got(want);
}

TEST_F(SegmentLogTest, PaddingIsNotVisited) {
  auto log = open();
  std::vector<Rec> want{add(*log, 0, 10)};
  add(*log, 1, 30, RecordType::kPadding);
  want.push_back(add(*log, 2, 10, RecordType::kAck));
  log.reset();
  log = open();
  expect_got(want);
}

TEST_F(SegmentLogTest, SyncCoversEverythingAppendedAndSurvivesReopen) {
  SegmentLog::Options opts;
  opts.segment_bytes = 64 << 10;
  auto log = open(opts);
  std::vector<Rec> want;
  for (int i = 0; i < 40; i++) want.push_back(add(*log, i, 5000));
  RecordPos end;
  ASSERT_FALSE(log->sync(&end));
  EXPECT_EQ(end, log->durable());
  EXPECT_EQ(end, log->end());
  for (const Rec& r : want) EXPECT_LT(r.pos, log->durable());
  const Rec more = add(*log, 99, 10);
  EXPECT_GE(more.pos, log->durable());
  want.push_back(more);
  ASSERT_FALSE(log->sync());
  EXPECT_LT(more.pos, log->durable());
  log.reset();
  log = open(opts);
  expect_got(want);
}

// A crash loses what was not synced, never what was: truncate the files to what sync()
// covered, as a power loss may.
TEST_F(SegmentLogTest, CrashKeepsEverythingSyncedAndMayLoseTheRest) {
  SegmentLog::Options opts;
  opts.segment_bytes = 32 << 10;
  for (std::uint64_t extra : {0, 5, 9, 300}) {  // bytes of the unsynced records that made it
    fs::remove_all(dir_);
    auto log = open(opts);
    std::vector<Rec> synced;
    for (int i = 0; i < 30; i++) synced.push_back(add(*log, i, 3000));
    ASSERT_FALSE(log->sync());
    const RecordPos d = log->durable();
    for (int i = 30; i < 50; i++) add(*log, i, 3000);  // appended, flushed, not synced
    ASSERT_FALSE(log->flush());
    log.reset();
    // Segments made since: their names made it to disk, their bytes did not.
    for (std::uint32_t n = d.segment + 1; fs::exists(file(n)); n++) truncate(n, 0);
    truncate(d.segment, d.offset + extra);
    log = open(opts);
    expect_got(synced);
    EXPECT_EQ(log->recovery().cut_bytes, extra);
    EXPECT_EQ(size_of(d.segment), d.offset);
    EXPECT_FALSE(fs::exists(file(d.segment + 1)));  // removed: it held no record
    EXPECT_EQ(log->recovery().skipped_segments, 0u);
  }
}

TEST_F(SegmentLogTest, TornTailIsCutAtEveryCutPoint) {
  struct Cut {
    const char* where;
    std::uint64_t from_start;  // bytes of the last record left
  };
  const Cut cuts[] = {{"one byte of header", 1},
                      {"mid header", 4},
                      {"header only", wlog::kRecordHeaderSize},
                      {"mid payload", wlog::kRecordHeaderSize + 500},
                      {"one byte short", wlog::kRecordHeaderSize + 999}};
  for (const Cut& cut : cuts) {
    SCOPED_TRACE(cut.where);
    fs::remove_all(dir_);
    auto log = open();
    std::vector<Rec> want;
    for (int i = 0; i < 20; i++) want.push_back(add(*log, i, 100));
    const Rec last = add(*log, 20, 1000);
    log.reset();
    truncate(last.pos.segment, last.pos.offset + cut.from_start);
    log = open();
    expect_got(want);
    EXPECT_EQ(log->recovery().cut_bytes, cut.from_start);
    EXPECT_EQ(log->recovery().cut_records, 1u);
    EXPECT_EQ(size_of(last.pos.segment), last.pos.offset);  // the file was cut
    // Appends after the cut work, and survive another reopen.
    want.push_back(add(*log, 21, 700));
    EXPECT_EQ(want.back().pos, last.pos);
    want.push_back(add(*log, 22, 0));
    ASSERT_FALSE(log->sync());
    log.reset();
    log = open();
    expect_got(want);
    EXPECT_EQ(log->recovery().cut_bytes, 0u);
  }
}

TEST_F(SegmentLogTest, ZeroedTailIsCut) {
  auto log = open();
  std::vector<Rec> want;
  for (int i = 0; i < 5; i++) want.push_back(add(*log, i, 100));
  log.reset();
  const std::uint64_t size = size_of(1);
  truncate(1, size + 4096);  // a file system that grew the file but kept no data
  log = open();
  expect_got(want);
  EXPECT_EQ(log->recovery().cut_bytes, 4096u);
  EXPECT_EQ(size_of(1), size);
}

TEST_F(SegmentLogTest, FlippedPayloadByteMidSegmentLosesThatRecordOnly) {
  auto log = open();
  std::vector<Rec> all;
  for (int i = 0; i < 10; i++) all.push_back(add(*log, i, 200));
  log.reset();
  const std::uint64_t size = size_of(1);
  flip(1, all[4].pos.offset + wlog::kRecordHeaderSize + 77);
  log = open();
  std::vector<Rec> want = all;
  want.erase(want.begin() + 4);
  expect_got(want);
  EXPECT_EQ(log->recovery().lost_records, 1u);
  EXPECT_EQ(log->recovery().cut_bytes, 0u);
  EXPECT_EQ(size_of(1), size);  // nothing cut
  RecordType type;
  std::string p;
  EXPECT_EQ(log->read(all[4].pos, &type, &p), std::errc::bad_message);
  // Appends go on after the last record, and the damaged one stays lost alone.
  want.push_back(add(*log, 10, 200));
  log.reset();
  log = open();
  expect_got(want);
}

TEST_F(SegmentLogTest, FlippedLengthByteMidSegmentLosesThatRecordOnly) {
  auto log = open();
  std::vector<Rec> all;
  for (int i = 0; i < 10; i++) all.push_back(add(*log, i, 200));
  log.reset();
  flip(1, all[4].pos.offset + 1);  // the length: it no longer leads to the next record
  log = open();
  std::vector<Rec> want = all;
  want.erase(want.begin() + 4);
  expect_got(want);
  EXPECT_EQ(log->recovery().lost_bytes, all[5].pos.offset - all[4].pos.offset);
  EXPECT_EQ(log->recovery().cut_bytes, 0u);
}

TEST_F(SegmentLogTest, FlippedByteInTheLastRecordIsCutThere) {
  auto log = open();
  std::vector<Rec> want;
  for (int i = 0; i < 10; i++) want.push_back(add(*log, i, 200));
  const Rec last = add(*log, 10, 200);
  log.reset();
  flip(1, last.pos.offset + wlog::kRecordHeaderSize + 100);
  log = open();
  expect_got(want);
  EXPECT_EQ(log->recovery().cut_records, 1u);
  EXPECT_EQ(size_of(1), last.pos.offset);
}

TEST_F(SegmentLogTest, TruncatedEarlierSegmentKeepsWhatPrecedesTheCutAndLaterSegments) {
  SegmentLog::Options opts;
  opts.segment_bytes = 16 << 10;
  auto log = open(opts);
  std::vector<Rec> all;
  for (int i = 0; i < 40; i++) all.push_back(add(*log, i, 1000));
  log.reset();
  ASSERT_GE(all.back().pos.segment, 3u);
  // Cut segment 1 in the middle of its fifth record.
  truncate(1, all[4].pos.offset + 300);
  log = open(opts);
  std::vector<Rec> want;
  for (const Rec& r : all)
    if (r.pos.segment != 1 || r.pos.offset < all[4].pos.offset) want.push_back(r);
  expect_got(want);
  EXPECT_EQ(log->recovery().lost_bytes, 300u);
  EXPECT_EQ(log->recovery().cut_bytes, 0u);
  EXPECT_EQ(size_of(1), all[4].pos.offset + 300);  // an earlier segment is left as it is
}

TEST_F(SegmentLogTest, GarbageAndStrayFilesAreSkippedNotFatal) {
  SegmentLog::Options opts;
  opts.segment_bytes = 100;  // a record per segment: 1..5
  auto log = open(opts);
  std::vector<Rec> want;
  for (int i = 0; i < 5; i++) want.push_back(add(*log, i, 100));
  log.reset();
  std::mt19937 rng(7);
  std::string garbage(1000, '\0');
  for (auto& c : garbage) c = static_cast<char>(rng());
  std::ofstream(file(9), std::ios::binary) << garbage;      // named as a segment, last
  std::ofstream(file(7), std::ios::binary) << "WEFTLOG\n";  // no record: removed
  std::ofstream(dir_ + "/00000000.wlog") << "x";            // not a segment name
  std::ofstream(dir_ + "/notes.txt") << "x";
  fs::create_directory(file(8));  // a directory named as a segment
  log = open(opts);
  expect_got(want);
  EXPECT_EQ(log->recovery().skipped_segments, 2u);
  EXPECT_EQ(log->current_segment(), want.back().pos.segment);  // this log's last
  EXPECT_TRUE(fs::exists(file(9)));                            // left in place
  EXPECT_FALSE(fs::exists(file(7)));
  want.push_back(add(*log, 5, 100));  // segment 1 is full: a new one, past every name on disk
  EXPECT_EQ(want.back().pos.segment, 10u);
  log.reset();
  log = open(opts);
  expect_got(want);
}

TEST_F(SegmentLogTest, ShortLastSegmentIsRemoved) {
  auto log = open();
  std::vector<Rec> want{add(*log, 0, 100)};
  log.reset();
  std::ofstream(file(2), std::ios::binary) << "WEFT";  // made as the process stopped
  log = open();
  expect_got(want);
  EXPECT_FALSE(fs::exists(file(2)));
  EXPECT_EQ(log->recovery().skipped_segments, 0u);
  want.push_back(add(*log, 1, 100));
  log.reset();
  log = open();
  expect_got(want);
}

TEST_F(SegmentLogTest, UnwritableDirectoryIsAnErrorNotACrash) {
  std::unique_ptr<SegmentLog> log;
  auto ignore = [](RecordPos, RecordType, std::string_view) {};
  std::error_code ec = SegmentLog::open("/dev/null/log", {}, ignore, &log);
  EXPECT_TRUE(ec);
  EXPECT_EQ(log, nullptr);
  std::ofstream(root_ + "/plain") << "x";  // a regular file where the directory should be
  ec = SegmentLog::open(root_ + "/plain", {}, ignore, &log);
  EXPECT_TRUE(ec);
  EXPECT_EQ(log, nullptr);
  if (::geteuid() != 0) {  // root ignores the mode
    fs::create_directory(dir_);
    ::chmod(dir_.c_str(), 0500);
    ec = SegmentLog::open(dir_, {}, ignore, &log);
    EXPECT_EQ(ec, std::errc::permission_denied);
    EXPECT_EQ(log, nullptr);
    ::chmod(dir_.c_str(), 0700);
  }
}

TEST_F(SegmentLogTest, RemoveSegment) {
  SegmentLog::Options opts;
  opts.segment_bytes = 8 << 10;
  auto log = open(opts);
  std::vector<Rec> all;
  for (int i = 0; i < 30; i++) all.push_back(add(*log, i, 1000));
  ASSERT_GE(log->current_segment(), 3u);
  EXPECT_EQ(log->remove_segment(log->current_segment()), std::errc::device_or_resource_busy);
  EXPECT_EQ(log->remove_segment(999), std::errc::no_such_file_or_directory);
  ASSERT_FALSE(log->remove_segment(1));  // before a sync: its fd stays until one
  EXPECT_FALSE(fs::exists(file(1)));
  EXPECT_EQ(log->segments().count(1), 0u);
  EXPECT_EQ(log->remove_segment(1), std::errc::no_such_file_or_directory);
  RecordType type;
  std::string p;
  EXPECT_EQ(log->read(all[0].pos, &type, &p), std::errc::no_such_file_or_directory);
  ASSERT_FALSE(log->sync());
  ASSERT_FALSE(log->remove_segment(2));
  std::vector<Rec> want;
  for (const Rec& r : all)
    if (r.pos.segment > 2) want.push_back(r);
  expect_reads(*log, want);
  const std::uint32_t current = log->current_segment();
  log.reset();
  log = open(opts);
  expect_got(want);
  EXPECT_EQ(log->current_segment(), current);
}

TEST_F(SegmentLogTest, FailedWriteDropsWhatWasNotDurableAndTheLogGoesOn) {
  auto log = open();
  std::vector<Rec> want;
  for (int i = 0; i < 5; i++) want.push_back(add(*log, i, 100));
  ASSERT_FALSE(log->sync());
  const RecordPos durable = log->durable();
  const Rec lost = add(*log, 5, 100);
  log->TEST_fail_next_write(std::make_error_code(std::errc::no_space_on_device));
  EXPECT_EQ(log->flush(), std::errc::no_space_on_device);
  EXPECT_EQ(log->durable(), durable);
  expect_reads(*log, want);  // the durable records stay readable
  RecordType type;
  std::string p;
  EXPECT_TRUE(log->read(lost.pos, &type, &p));
  EXPECT_EQ(log->current_segment(), 0u);
  EXPECT_EQ(log->end(), (RecordPos{2, wlog::kSegmentHeaderSize}));
  // The next append goes to a new segment. A failure there (here the flush before a
  // large record) drops it too: it was never synced.
  want.push_back(add(*log, 6, 100));
  EXPECT_EQ(want.back().pos.segment, 2u);
  log->TEST_fail_next_write(std::make_error_code(std::errc::io_error));
  RecordPos pos;
  const std::string big = payload(7, 100000);
  EXPECT_EQ(log->append(RecordType::kMessage, {big}, &pos), std::errc::io_error);
  want.pop_back();
  want.push_back(add(*log, 8, 100));
  EXPECT_EQ(want.back().pos.segment, 3u);
  ASSERT_FALSE(log->sync());
  log.reset();
  log = open();
  expect_got(want);
}

TEST_F(SegmentLogTest, FailedSyncDropsWhatWasNotDurable) {
  SegmentLog::Options opts;
  opts.segment_bytes = 4 << 10;
  auto log = open(opts);
  std::vector<Rec> want;
  for (int i = 0; i < 10; i++) want.push_back(add(*log, i, 1000));
  ASSERT_FALSE(log->sync());
  const RecordPos durable = log->durable();
  for (int i = 10; i < 20; i++) add(*log, i, 1000);  // across rotations: all dropped
  log->TEST_fail_next_sync(std::make_error_code(std::errc::io_error));
  RecordPos end;
  EXPECT_EQ(log->sync(&end), std::errc::io_error);
  EXPECT_EQ(end, durable);
  expect_reads(*log, want);
  want.push_back(add(*log, 20, 1000));
  ASSERT_FALSE(log->sync());
  log.reset();
  log = open(opts);
  expect_got(want);
}

TEST_F(SegmentLogTest, PayloadOverTheMaximumIsRefused) {
  auto log = open();
  const std::size_t n = std::size_t{wlog::kMaxPayload} + 1;
  void* m = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  RecordPos pos;
  EXPECT_EQ(log->append(RecordType::kMessage, {std::string_view(static_cast<char*>(m), n)}, &pos),
            std::errc::message_size);
  ::munmap(m, n);
  const Rec r = add(*log, 0, 10);  // the log is untouched
  log.reset();
  log = open();
  expect_got({r});
}

// Group commit as a durable store would run it from fibers: the batch's syncs run in
// weft::blocking while appends go on; they are covered by the next batch.
TEST_F(SegmentLogTest, GroupCommitFromFibersOverlapsAppendsWithTheSync) {
  SegmentLog::Options opts;
  opts.segment_bytes = 16 << 10;
  auto log = open(opts);
  std::vector<Rec> want;
  weft::run([&] {
    for (int round = 0; round < 5; round++) {
      for (int i = 0; i < 10; i++) want.push_back(add(*log, round * 100 + i, 700));
      SegmentLog::SyncBatch b;
      ASSERT_FALSE(log->begin_sync(&b));
      const RecordPos covered = log->end();
      std::vector<Rec> during;  // appended while the batch runs (here: before it is ended)
      for (int i = 10; i < 20; i++) during.push_back(add(*log, round * 100 + i, 700));
      const std::error_code ran = weft::blocking([&] { return b.run(); });
      ASSERT_FALSE(log->end_sync(b, ran));
      EXPECT_EQ(log->durable(), covered);
      for (const Rec& r : want) EXPECT_LT(r.pos, log->durable());
      for (const Rec& r : during) EXPECT_GE(r.pos, log->durable());
      want.insert(want.end(), during.begin(), during.end());
    }
    ASSERT_FALSE(log->sync());
  });
  expect_reads(*log, want);
  log.reset();
  log = open(opts);
  expect_got(want);
}

}  // namespace
}  // namespace weftd
