// types.cpp: field tables, arrays and values on the wire (weft/amqp/types.h).
#include "weft/amqp/types.h"

#include <bit>

namespace weft::amqp {

namespace {
// Tables nest (F inside A inside F...): hostile input could nest deeply enough to
// exhaust a fiber's stack, so decoding stops at this depth with an error.
constexpr int kMaxDepth = 64;

// count_entries() counts the entries (a name and a value each, if `named`, else values)
// in a table's or an array's bytes by skipping over them, so that decoding allocates the
// vector once, at its exact size, instead of regrowing it (a third of the time of a
// 10-entry table). It stops at anything malformed, which the decoding then reports.
std::size_t count_entries(const std::uint8_t* p, std::size_t len, bool named) {
  std::size_t n = 0, at = 0;
  while (at < len) {
    if (named) {
      at += 1 + std::size_t(p[at]);
      if (at >= len) break;
    }
    std::size_t size;
    switch (p[at++]) {
      case 'V':
        size = 0;
        break;
      case 't':
      case 'b':
      case 'B':
        size = 1;
        break;
      case 's':
      case 'u':
        size = 2;
        break;
      case 'I':
      case 'i':
      case 'f':
        size = 4;
        break;
      case 'D':
        size = 5;
        break;
      case 'l':
      case 'd':
      case 'T':
        size = 8;
        break;
      case 'S':
      case 'A':
      case 'F':
      case 'x':  // a u32 length, then that many bytes
        if (len - at < 4) return n;
        size = 4 + (std::size_t(p[at]) << 24 | std::size_t(p[at + 1]) << 16 |
                    std::size_t(p[at + 2]) << 8 | p[at + 3]);
        break;
      default:
        return n;
    }
    if (len - at < size) return n;
    at += size;
    n++;
  }
  return n;
}
}  // namespace

FieldTable::FieldTable(std::initializer_list<Entry> entries) : entries_(entries) {}

const FieldValue* FieldTable::find(std::string_view key) const {
  for (const Entry& e : entries_)
    if (e.first == key) return &e.second;
  return nullptr;
}

void FieldTable::set(std::string key, FieldValue value) {
  for (Entry& e : entries_)
    if (e.first == key) {
      e.second = std::move(value);
      return;
    }
  entries_.emplace_back(std::move(key), std::move(value));
}

void FieldTable::push_back(std::string key, FieldValue value) {
  entries_.emplace_back(std::move(key), std::move(value));
}

bool FieldTable::operator==(const FieldTable& o) const { return entries_ == o.entries_; }

bool FieldValue::operator==(const FieldValue& o) const { return v == o.v; }

char FieldValue::type_letter() const {
  static constexpr char kLetters[] = {'V', 't', 'b', 'B', 's', 'u', 'I', 'i', 'l',
                                      'f', 'd', 'D', 'S', 'A', 'T', 'F', 'x'};
  static_assert(sizeof kLetters == std::variant_size_v<Variant>);
  return kLetters[v.index()];
}

bool FieldValue::as_int(std::int64_t* out) const {
  return std::visit(
      [out](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          *out = static_cast<std::int64_t>(x);
          return true;
        }
        return false;
      },
      v);
}

// nested(): a table's or an array's bytes -- a u32 length, then entries read by a reader
// bounded to that length, so that a value cannot claim bytes beyond its table -- with
// the nesting depth checked. read_entry(sub, &c) reads one entry into c.
template <class C, class ReadEntry>
C Reader::nested(bool named, const char* too_deep, ReadEntry read_entry) {
  C c;
  const std::uint32_t len = u32();
  if (!need(len)) return c;
  if (++depth_ > kMaxDepth) {
    fail(too_deep);
    return c;
  }
  c.reserve(count_entries(p_, len, named));
  Reader sub(p_, len);
  sub.depth_ = depth_;
  p_ += len;
  while (sub.ok() && !sub.at_end()) read_entry(sub, &c);
  depth_--;
  if (!sub.ok()) fail(sub.error());
  return c;
}

FieldTable Reader::table() {
  return nested<FieldTable>(true, "field tables nested too deeply", [](Reader& sub, FieldTable* t) {
    std::string key = sub.shortstr();
    FieldValue v = sub.value();
    if (sub.ok()) t->push_back(std::move(key), std::move(v));
  });
}

FieldArray Reader::array() {
  return nested<FieldArray>(false, "field arrays nested too deeply",
                            [](Reader& sub, FieldArray* a) {
                              FieldValue v = sub.value();
                              if (sub.ok()) a->push_back(std::move(v));
                            });
}

FieldValue Reader::value() {
  switch (u8()) {
    case 't':
      return FieldValue(u8() != 0);
    case 'b':
      return FieldValue(static_cast<std::int8_t>(u8()));
    case 'B':
      return FieldValue(u8());
    case 's':
      return FieldValue(static_cast<std::int16_t>(u16()));
    case 'u':
      return FieldValue(u16());
    case 'I':
      return FieldValue(static_cast<std::int32_t>(u32()));
    case 'i':
      return FieldValue(u32());
    case 'l':
      return FieldValue(static_cast<std::int64_t>(u64()));
    case 'f':
      return FieldValue(std::bit_cast<float>(u32()));
    case 'd':
      return FieldValue(std::bit_cast<double>(u64()));
    case 'D': {
      Decimal d;
      d.scale = u8();
      d.value = static_cast<std::int32_t>(u32());
      return FieldValue(d);
    }
    case 'S':
      return FieldValue(longstr());
    case 'A':
      return FieldValue(array());
    case 'T':
      return FieldValue(Timestamp{u64()});
    case 'F':
      return FieldValue(table());
    case 'V':
      return FieldValue(Void{});
    case 'x':
      return FieldValue(ByteArray{longstr()});
    default:
      fail("unknown field value type");
      return FieldValue();
  }
}

// ---- sized encoding ------------------------------------------------------------------

namespace wire {

std::size_t table_size(const FieldTable& t) {
  std::size_t n = 4;
  for (const auto& [key, v] : t) n += shortstr_size(key) + value_size(v);
  if (n - 4 > 0xffffffffu) throw CodecError("field table longer than 4 GiB");
  return n;
}

std::size_t array_size(const FieldArray& a) {
  std::size_t n = 4;
  for (const FieldValue& v : a) n += value_size(v);
  if (n - 4 > 0xffffffffu) throw CodecError("field array longer than 4 GiB");
  return n;
}

std::size_t value_size(const FieldValue& fv) {
  return 1 + std::visit(
                 [](const auto& x) -> std::size_t {
                   using T = std::decay_t<decltype(x)>;
                   if constexpr (std::is_same_v<T, Void>)
                     return 0;
                   else if constexpr (std::is_same_v<T, bool>)
                     return 1;
                   else if constexpr (std::is_same_v<T, Decimal>)
                     return 5;
                   else if constexpr (std::is_same_v<T, Timestamp>)
                     return 8;
                   else if constexpr (std::is_same_v<T, std::string>)
                     return longstr_size(x);
                   else if constexpr (std::is_same_v<T, ByteArray>)
                     return longstr_size(x.bytes);
                   else if constexpr (std::is_same_v<T, FieldArray>)
                     return array_size(x);
                   else if constexpr (std::is_same_v<T, FieldTable>)
                     return table_size(x);
                   else
                     return sizeof(T);  // the integers, float and double
                 },
                 fv.v);
}

char* put_table(char* p, const FieldTable& t) {
  char* len = p;
  p += 4;
  for (const auto& [key, v] : t) p = put_value(put_shortstr(p, key), v);
  put_u32(len, static_cast<std::uint32_t>(p - len - 4));
  return p;
}

char* put_array(char* p, const FieldArray& a) {
  char* len = p;
  p += 4;
  for (const FieldValue& v : a) p = put_value(p, v);
  put_u32(len, static_cast<std::uint32_t>(p - len - 4));
  return p;
}

char* put_value(char* p, const FieldValue& fv) {
  p = put_u8(p, static_cast<std::uint8_t>(fv.type_letter()));
  return std::visit(
      [p](const auto& x) -> char* {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, Void>) {
          return p;
        } else if constexpr (std::is_same_v<T, bool>) {
          return put_u8(p, x ? 1 : 0);
        } else if constexpr (std::is_same_v<T, std::int8_t> || std::is_same_v<T, std::uint8_t>) {
          return put_u8(p, static_cast<std::uint8_t>(x));
        } else if constexpr (std::is_same_v<T, std::int16_t> || std::is_same_v<T, std::uint16_t>) {
          return put_u16(p, static_cast<std::uint16_t>(x));
        } else if constexpr (std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::uint32_t>) {
          return put_u32(p, static_cast<std::uint32_t>(x));
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return put_u64(p, static_cast<std::uint64_t>(x));
        } else if constexpr (std::is_same_v<T, float>) {
          return put_u32(p, std::bit_cast<std::uint32_t>(x));
        } else if constexpr (std::is_same_v<T, double>) {
          return put_u64(p, std::bit_cast<std::uint64_t>(x));
        } else if constexpr (std::is_same_v<T, Decimal>) {
          return put_u32(put_u8(p, x.scale), static_cast<std::uint32_t>(x.value));
        } else if constexpr (std::is_same_v<T, std::string>) {
          return put_longstr(p, x);
        } else if constexpr (std::is_same_v<T, FieldArray>) {
          return put_array(p, x);
        } else if constexpr (std::is_same_v<T, Timestamp>) {
          return put_u64(p, x.seconds);
        } else if constexpr (std::is_same_v<T, FieldTable>) {
          return put_table(p, x);
        } else if constexpr (std::is_same_v<T, ByteArray>) {
          return put_longstr(p, x.bytes);
        }
      },
      fv.v);
}

}  // namespace wire

}  // namespace weft::amqp
