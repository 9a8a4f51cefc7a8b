// store/log_format.h: the on-disk format of the durable log, written down once; the
// writer and the reader (store/segment_log.cpp) both use these definitions.
//
// A log is a directory of segment files, each named by its sequence number, zero-padded
// to eight digits: 00000001.wlog, 00000002.wlog, ... Numbers start at 1, only grow, and
// are never reused (a removed segment's number stays taken). Other files in the
// directory are ignored. A log's records, in order, are the records of its segments in
// number order, each segment's in offset order. All integers are little-endian.
//
// Segment: a header, then records, back to back (no alignment, no blocks):
//
//   offset  size  field
//   0       8     magic "WEFTLOG\n"
//   8       4     format version (kFormatVersion)
//   12      4     segment number (must match the file name)
//   16      4     masked CRC-32C of bytes 0..15
//   20            first record
//
// Record (kRecordHeaderSize bytes of header, then the payload):
//
//   0       4     payload length n (at most kMaxPayload)
//   4       4     masked CRC-32C (store/crc32c.h's mask()) of the type byte and the payload
//   8       1     type (RecordType)
//   9       n     payload
//
// A record is good when its header lies in the file, n <= kMaxPayload, the payload lies
// in the file, its type is not kInvalid and its CRC matches. The log treats payloads as
// opaque; what a payload of each type holds is the durable store's format (documented
// with it). Zeroed bytes never form a good record (type kInvalid), so a tail of zeros
// left by a crash reads as a torn tail.
//
// Recovery's rules (SegmentLog::open; docs/design.md, "The durable log"): a record with
// a bad CRC whose length is plausible and whose successor is good is lost alone; a
// damaged span is skipped when a good record follows it in the same segment; a damaged
// tail of the last segment is cut (the file truncated at the end of the last good
// record); a file with the segment naming but a bad header is skipped, left in place.
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace weftd::wlog {

inline constexpr char kMagic[8] = {'W', 'E', 'F', 'T', 'L', 'O', 'G', '\n'};
inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr std::size_t kSegmentHeaderSize = 20;
inline constexpr std::size_t kRecordHeaderSize = 9;
// The largest payload: a message of 128 MiB (--max-message-size's ceiling) and its metadata.
inline constexpr std::uint32_t kMaxPayload = std::uint32_t{1} << 28;

// RecordType: what a payload holds. The durable store adds its types here; a reader
// hands every good record of a type other than kPadding to its visitor.
enum class RecordType : std::uint8_t {
  kInvalid = 0,  // never written: zeroed bytes are not a record
  kPadding = 1,  // no content: skipped by readers
  kMessage = 2,  // a message's content, written once however many queues hold it
  kEnqueue = 3,  // a queue holds a message
  kAck = 4,      // a queue is done with a message
};

// Segment file names: segment_name(1) == "00000001.wlog".
inline constexpr std::string_view kSegmentSuffix = ".wlog";
inline constexpr std::size_t kSegmentDigits = 8;

inline std::string segment_name(std::uint32_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08u.wlog", static_cast<unsigned>(n));
  return buf;
}

// parse_segment_name() sets *n from a segment's file name; false for any other name
// (exactly eight digits, then the suffix; 0 is no segment number).
inline bool parse_segment_name(std::string_view name, std::uint32_t* n) {
  if (name.size() != kSegmentDigits + kSegmentSuffix.size()) return false;
  if (name.substr(kSegmentDigits) != kSegmentSuffix) return false;
  for (std::size_t i = 0; i < kSegmentDigits; i++)
    if (name[i] < '0' || name[i] > '9') return false;
  std::uint32_t v = 0;
  auto r = std::from_chars(name.data(), name.data() + kSegmentDigits, v);
  if (r.ec != std::errc() || v == 0) return false;
  *n = v;
  return true;
}

// Little-endian fixed-width encoding (LevelDB's coding.h habit).
inline void put_u32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<char>(v >> (8 * i));
}
inline std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= std::uint32_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}

}  // namespace weftd::wlog
