// weft/amqp/types.h: AMQP 0-9-1 wire types -- integers in network order, short and long
// strings, field tables and arrays -- and the Reader/Writer the generated codec uses.
//
// Field values carry every type RabbitMQ reads and writes (its errata to the 0-9-1
// spec, which differ from the spec's own table):
//   t bool   b int8    B uint8   s int16   u uint16   I int32   i uint32   l int64
//   f float  d double  D decimal S longstr A array    T timestamp F table  V void
//   x byte array
// A FieldTable keeps its entries in wire order (duplicates too, as read), so encoding a
// decoded table gives back the same bytes -- except a boolean ('t') octet other than 0
// or 1, which reads as true (as RabbitMQ reads it) and is written back as 1.
//
// Decoding never throws: a Reader that runs out of bytes or meets a type it does not
// know sets a sticky error and returns zeros; the caller checks ok() once at the end and
// answers 502 SYNTAX_ERROR. Encoding a value that cannot be represented (a shortstr over
// 255 bytes) throws CodecError: that is the caller's bug, not the peer's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace weft::amqp {

struct FieldValue;
using FieldArray = std::vector<FieldValue>;

// FieldTable: an ordered list of (name, value) entries.
class FieldTable {
 public:
  using Entry = std::pair<std::string, FieldValue>;
  FieldTable() = default;
  FieldTable(std::initializer_list<Entry> entries);

  // find() returns the first entry named `key`, or nullptr.
  const FieldValue* find(std::string_view key) const;
  // set() replaces the first entry named `key` or appends one.
  void set(std::string key, FieldValue value);
  void push_back(std::string key, FieldValue value);
  void reserve(std::size_t n);
  bool empty() const;        // defined below FieldValue: clang instantiates constexpr
  std::size_t size() const;  // vector members at once and needs it complete
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }
  bool operator==(const FieldTable& o) const;

 private:
  std::vector<Entry> entries_;
};

struct Decimal {
  std::uint8_t scale = 0;  // digits after the point
  std::int32_t value = 0;  // unscaled
  bool operator==(const Decimal&) const = default;
};
struct Timestamp {
  std::uint64_t seconds = 0;  // POSIX time
  bool operator==(const Timestamp&) const = default;
};
struct ByteArray {  // 'x'
  std::string bytes;
  bool operator==(const ByteArray&) const = default;
};
struct Void {  // 'V'
  bool operator==(const Void&) const = default;
};

// FieldValue: one typed value; the alternative is the wire type.
struct FieldValue {
  using Variant = std::variant<Void, bool, std::int8_t, std::uint8_t, std::int16_t, std::uint16_t,
                               std::int32_t, std::uint32_t, std::int64_t, float, double, Decimal,
                               std::string, FieldArray, Timestamp, FieldTable, ByteArray>;
  Variant v;

  FieldValue() = default;
  template <class T>
  requires std::is_constructible_v<Variant, T&&> FieldValue(T&& x)
      : v(std::forward<T>(x)) {}                    // NOLINT: implicit, like the variant
  FieldValue(const char* s) : v(std::string(s)) {}  // NOLINT

  template <class T>
  const T* get() const {
    return std::get_if<T>(&v);
  }
  // type_letter() is the value's wire type ('t', 'I', 'S', ...).
  char type_letter() const;
  // as_int() reads any integer type (RabbitMQ's arguments arrive as b/s/I/l/...).
  bool as_int(std::int64_t* out) const;
  bool operator==(const FieldValue& o) const;
};

inline bool FieldTable::empty() const { return entries_.empty(); }
inline std::size_t FieldTable::size() const { return entries_.size(); }
inline void FieldTable::reserve(std::size_t n) { entries_.reserve(n); }

class CodecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// assign_bytes(): s = v for a decoder reusing s. A channel's publishes name the same
// exchange and routing key, content type and (UUID) message-id length again and again,
// so the bytes usually have the length s has already: they are copied over it, not
// passed through std::string::assign (which, out of line, checks for overlap and
// capacity first -- twice the instructions of the copy for a short string).
inline void assign_bytes(std::string& s, std::string_view v) {
  const std::size_t n = v.size();
  if (n != s.size()) [[unlikely]] {
    s.assign(v.data(), n);
    return;
  }
  char* d = s.data();
  const char* p = v.data();
  // Names are mostly shorter than 16 bytes: two overlapping 8- or 4-byte moves, inline,
  // instead of a call to memcpy.
  if (n >= 16) {
    std::memcpy(d, p, n);
  } else if (n >= 8) {
    std::uint64_t a, b;
    std::memcpy(&a, p, 8), std::memcpy(&b, p + n - 8, 8);
    std::memcpy(d, &a, 8), std::memcpy(d + n - 8, &b, 8);
  } else if (n >= 4) {
    std::uint32_t a, b;
    std::memcpy(&a, p, 4), std::memcpy(&b, p + n - 4, 4);
    std::memcpy(d, &a, 4), std::memcpy(d + n - 4, &b, 4);
  } else {
    for (std::size_t i = 0; i < n; i++) d[i] = p[i];
  }
}

// Reader: decodes big-endian wire data from a byte range. See the header comment for
// its error model.
class Reader {
 public:
  Reader(const void* data, std::size_t size)
      : p_(static_cast<const std::uint8_t*>(data)), end_(p_ + size) {}
  explicit Reader(std::string_view s) : Reader(s.data(), s.size()) {}

  bool ok() const { return ok_; }
  bool at_end() const { return p_ == end_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  const char* error() const { return error_; }
  void fail(const char* why) {
    if (ok_) error_ = why;
    ok_ = false;
    p_ = end_;
  }

  // The field readers are forced inline: GCC otherwise calls them out of line from the
  // generated decoders, at more instructions per call than the read itself.
  [[gnu::always_inline]] std::uint8_t u8() { return need(1) ? *p_++ : 0; }
  [[gnu::always_inline]] std::uint16_t u16() {
    if (!need(2)) return 0;
    std::uint16_t v = static_cast<std::uint16_t>(p_[0] << 8 | p_[1]);
    p_ += 2;
    return v;
  }
  [[gnu::always_inline]] std::uint32_t u32() {
    if (!need(4)) return 0;
    std::uint32_t v =
        std::uint32_t(p_[0]) << 24 | std::uint32_t(p_[1]) << 16 | std::uint32_t(p_[2]) << 8 | p_[3];
    p_ += 4;
    return v;
  }
  [[gnu::always_inline]] std::uint64_t u64() {
    std::uint64_t hi = u32();
    return hi << 32 | u32();
  }
  [[gnu::always_inline]] std::string_view bytes(std::size_t n) {
    if (!need(n)) return {};
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  std::string shortstr() { return std::string(bytes(u8())); }
  std::string longstr() { return std::string(bytes(u32())); }
  // The _into forms decode into an existing string, reusing its capacity: the generated
  // decode_into() leaves a reused method or property set without a malloc per field.
  [[gnu::always_inline]] void shortstr_into(std::string& s) { assign(s, bytes(u8())); }
  void longstr_into(std::string& s) { assign(s, bytes(u32())); }
  void shortstr_into(std::optional<std::string>& s) { assign(s, bytes(u8())); }
  void longstr_into(std::optional<std::string>& s) { assign(s, bytes(u32())); }
  FieldTable table();
  FieldArray array();
  FieldValue value();  // one type letter and its value

  // Bits: consecutive bit fields share octets, low bit first.
  [[gnu::always_inline]] bool bit() {
    if (bit_mask_ == 0 || bit_mask_ == 0x100) {
      bits_ = u8();
      bit_mask_ = 1;
    }
    bool b = bits_ & bit_mask_;
    bit_mask_ <<= 1;
    return b;
  }
  void end_bits() { bit_mask_ = 0; }

 private:
  static void assign(std::string& s, std::string_view v) { assign_bytes(s, v); }
  static void assign(std::optional<std::string>& s, std::string_view v) {
    if (s)
      assign(*s, v);
    else
      s.emplace(v);
  }
  [[gnu::always_inline]] bool need(std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) >= n) [[likely]]
      return true;
    truncated();
    return false;
  }
  // Out of line and cold, so that the field readers above stay small enough to inline.
  [[gnu::cold, gnu::noinline]] void truncated() { fail("truncated"); }
  template <class C, class ReadEntry>
  C nested(bool named, const char* too_deep, ReadEntry read_entry);
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  bool ok_ = true;
  const char* error_ = "";
  std::uint8_t bits_ = 0;
  unsigned bit_mask_ = 0;
  int depth_ = 0;  // table nesting, bounded so hostile input cannot exhaust the stack
};

// Sized encoding. The generated codec and FrameEncoder encode in two passes: first the
// exact size (the *_size() functions, which also throw CodecError for what cannot be
// encoded, before a byte is written), then the bytes, through a pointer into space
// reserved once (the put_*() functions, which return the end of what they wrote). That
// is one bounds check and one buffer resize per frame instead of one per field.
namespace wire {
inline char* put_u8(char* p, std::uint8_t v) {
  *p = static_cast<char>(v);
  return p + 1;
}
inline char* put_u16(char* p, std::uint16_t v) {
  p[0] = char(v >> 8), p[1] = char(v);
  return p + 2;
}
inline char* put_u32(char* p, std::uint32_t v) {
  p[0] = char(v >> 24), p[1] = char(v >> 16), p[2] = char(v >> 8), p[3] = char(v);
  return p + 4;
}
inline char* put_u64(char* p, std::uint64_t v) {
  return put_u32(put_u32(p, static_cast<std::uint32_t>(v >> 32)), static_cast<std::uint32_t>(v));
}
inline char* put_bytes(char* p, std::string_view s) {
  if (!s.empty()) std::memcpy(p, s.data(), s.size());  // an empty view's data() may be null
  return p + s.size();
}
inline char* put_shortstr(char* p, std::string_view s) {  // size checked by shortstr_size()
  return put_bytes(put_u8(p, static_cast<std::uint8_t>(s.size())), s);
}
inline char* put_longstr(char* p, std::string_view s) {
  return put_bytes(put_u32(p, static_cast<std::uint32_t>(s.size())), s);
}
inline std::size_t shortstr_size(std::string_view s) {
  if (s.size() > 255) throw CodecError("shortstr longer than 255 bytes");
  return 1 + s.size();
}
inline std::size_t longstr_size(std::string_view s) {
  if (s.size() > 0xffffffffu) throw CodecError("longstr longer than 4 GiB");
  return 4 + s.size();
}
// Tables, arrays and values (a type letter and its value), length prefixes included.
std::size_t table_size(const FieldTable& t);
std::size_t array_size(const FieldArray& a);
std::size_t value_size(const FieldValue& v);
char* put_table(char* p, const FieldTable& t);
char* put_array(char* p, const FieldArray& a);
char* put_value(char* p, const FieldValue& v);
}  // namespace wire

// Writer: appends big-endian wire data to a string, a field at a time. The generated
// encoders reserve a method's whole size with extend() and write through a pointer.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void u8(std::uint8_t v) {
    flush_bits();
    out_.push_back(static_cast<char>(v));
  }
  void u16(std::uint16_t v) {
    flush_bits();
    char b[2];
    out_.append(b, wire::put_u16(b, v) - b);
  }
  void u32(std::uint32_t v) {
    flush_bits();
    char b[4];
    out_.append(b, wire::put_u32(b, v) - b);
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  void raw(std::string_view s) {
    flush_bits();
    out_.append(s);
  }
  void shortstr(std::string_view s) {
    wire::shortstr_size(s);
    u8(static_cast<std::uint8_t>(s.size()));
    out_.append(s);
  }
  void longstr(std::string_view s) {
    wire::longstr_size(s);
    u32(static_cast<std::uint32_t>(s.size()));
    out_.append(s);
  }
  void table(const FieldTable& t) { wire::put_table(extend(wire::table_size(t)), t); }
  void array(const FieldArray& a) { wire::put_array(extend(wire::array_size(a)), a); }
  void value(const FieldValue& v) { wire::put_value(extend(wire::value_size(v)), v); }

  void bit(bool b) {
    if (bit_mask_ == 0 || bit_mask_ == 0x100) {
      flush_bits();
      bit_pos_ = out_.size();
      out_.push_back(0);
      bit_mask_ = 1;
    }
    if (b) out_[bit_pos_] = static_cast<char>(out_[bit_pos_] | bit_mask_);
    bit_mask_ <<= 1;
  }
  void flush_bits() { bit_mask_ = 0; }

  // extend() appends n bytes for the caller to fill (with wire::put_*) and returns them.
  char* extend(std::size_t n) {
    flush_bits();
    const std::size_t at = out_.size();
    out_.resize(at + n);
    return out_.data() + at;
  }

  std::string& out() { return out_; }

 private:
  std::string& out_;
  std::size_t bit_pos_ = 0;
  unsigned bit_mask_ = 0;
};

}  // namespace weft::amqp
