// weft/amqp/frame.h: AMQP 0-9-1 framing over any byte stream.
//
//   frame = type:u8 channel:u16 size:u32 payload[size] 0xCE
//
// FrameDecoder is incremental: append bytes as they arrive (or read straight into
// prepare()), then take whole frames with next() until it says it needs more. It checks
// the frame end octet, the negotiated frame_max and the frame type, and reports
// malformed input as a ProtocolError carrying the reply code the spec prescribes (501
// FRAME_ERROR here); it never throws, crashes or waits for bytes that cannot come.
//
// ContentAssembler turns a channel's frames into commands: a method, and for methods
// that carry content (basic.publish, basic.deliver, ...) its header frame (properties
// and body size) and body frames, checked against each other (505 UNEXPECTED_FRAME for
// frames out of order, 501 for a body that overruns its header's size, 502 for
// arguments that do not decode, 503 for a method the protocol does not have).
//
// FrameEncoder appends frames to one buffer, so that a writer can coalesce everything
// that is ready into a single write system call -- one syscall per batch, not per frame.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "weft/amqp/spec.h"
#include "weft/amqp/types.h"

namespace weft::amqp {

enum class FrameType : std::uint8_t { method = 1, header = 2, body = 3, heartbeat = 8 };

inline constexpr std::string_view kProtocolHeader{"AMQP\x00\x00\x09\x01", 8};
inline constexpr std::uint32_t kFrameOverhead = 8;  // header (7) + frame end (1)
inline constexpr std::uint32_t kDefaultFrameMax = 131072;

struct Frame {
  FrameType type = FrameType::heartbeat;
  std::uint16_t channel = 0;
  std::string_view payload;  // valid until the decoder's next prepare()
};

// ProtocolError: why a peer's input was refused, as the close method will say it.
struct ProtocolError {
  ReplyCode code = ReplyCode::reply_success;
  std::string text;
  std::uint16_t channel = 0;
  std::uint16_t class_id = 0, method_id = 0;  // the offending method, if known
  bool hard() const { return is_hard_error(code); }
};

class FrameDecoder {
 public:
  explicit FrameDecoder(std::uint32_t frame_max = kDefaultFrameMax) { set_frame_max(frame_max); }

  // frame_max: the largest frame accepted, overhead included (0: the spec's 2^32-1).
  void set_frame_max(std::uint32_t frame_max) {
    frame_max_ = frame_max;
    max_payload_ =
        frame_max == 0 ? std::int64_t{0xffffffff} : std::int64_t{frame_max} - kFrameOverhead;
  }
  std::uint32_t frame_max() const { return frame_max_; }

  // prepare() returns writable space of at least `min` bytes; commit() says how many
  // of them were filled. append() is both at once.
  std::span<char> prepare(std::size_t min = 16384);
  void commit(std::size_t n) { end_ += n; }
  void append(std::string_view data);

  enum class Status { frame, need_more, error };
  // next() takes the next whole frame. After an error every call returns it again.
  // Inline: it runs for every frame, and its fast path is a few compares.
  Status next(Frame* frame, ProtocolError* error) {
    const std::size_t have = end_ - start_;
    if (have < 7 || failed_) [[unlikely]]
      return failed_ ? refuse(error) : Status::need_more;
    const auto* p = reinterpret_cast<const std::uint8_t*>(buf_.get() + start_);
    const std::uint8_t type = p[0];
    const std::uint16_t channel = static_cast<std::uint16_t>(p[1] << 8 | p[2]);
    const std::uint32_t size =
        std::uint32_t(p[3]) << 24 | std::uint32_t(p[4]) << 16 | std::uint32_t(p[5]) << 8 | p[6];
    // Types 1, 2, 3 and 8 (method, header, body, heartbeat) are the only ones.
    if (type > 8 || !((0x10Eu >> type) & 1) || std::int64_t{size} > max_payload_) [[unlikely]]
      return refuse(error);
    if (have < std::size_t(size) + kFrameOverhead) return Status::need_more;
    if (p[7 + size] != 0xCE || (type == 8 && channel != 0)) [[unlikely]]
      return refuse(error);
    frame->type = static_cast<FrameType>(type);
    frame->channel = channel;
    frame->payload = std::string_view(reinterpret_cast<const char*>(p) + 7, size);
    start_ += size + kFrameOverhead;
    if (start_ == end_) start_ = end_ = 0;  // the bytes stay put until the next prepare()
    return Status::frame;
  }

  std::size_t buffered() const { return end_ - start_; }
  // release() frees the buffer if nothing is buffered, for a connection about to sit
  // idle; the next prepare() allocates a new one.
  void release() {
    if (start_ != end_) return;
    buf_.reset();
    cap_ = start_ = end_ = 0;
  }

 private:
  // Not a std::string: growing one zero-fills it, and those zeros are resident memory
  // that every idle connection would pay for (16 KiB each). Fresh heap pages the kernel
  // has not handed out cost nothing until bytes arrive.
  [[gnu::cold, gnu::noinline]] Status refuse(ProtocolError* error);
  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0;
  std::size_t start_ = 0, end_ = 0;
  std::uint32_t frame_max_;
  std::int64_t max_payload_;  // frame_max_ less the overhead (negative if below it)
  std::optional<ProtocolError> failed_;
};

// WireBytes: bytes of a frame kept as they came -- a content body, or a content
// header's properties when the assembler keeps them undecoded. A body that arrived in a
// single frame -- nearly every message -- is borrowed from the FrameDecoder's buffer,
// not copied, and stays valid only until the decoder's next prepare() (the reader's
// next read); one assembled from several frames is owned. Whoever keeps the bytes past
// that takes them (take()) or owns them (own()).
class WireBytes {
 public:
  WireBytes() = default;
  WireBytes(std::string s) : owned_(std::move(s)) {}  // NOLINT: bytes from a string
  std::string_view view() const { return borrowed_ ? std::string_view(ptr_, size_) : owned_; }
  operator std::string_view() const { return view(); }  // NOLINT
  const char* data() const { return view().data(); }
  std::size_t size() const { return borrowed_ ? size_ : owned_.size(); }
  bool empty() const { return size() == 0; }
  bool borrowed() const { return borrowed_; }
  // own() copies borrowed bytes into storage of their own.
  void own() {
    if (!borrowed_) return;
    owned_.assign(ptr_, size_);
    borrowed_ = false;
  }
  // take() hands the bytes over as a string (moved if owned, else copied), leaving this
  // empty.
  std::string take() {
    std::string s = borrowed_ ? std::string(ptr_, size_) : std::move(owned_);
    clear();
    return s;
  }
  void clear() {
    borrowed_ = false;
    owned_.clear();
  }
  bool operator==(std::string_view o) const { return view() == o; }

 private:
  friend class ContentAssembler;
  void borrow(std::string_view s) {
    owned_.clear();
    ptr_ = s.data(), size_ = s.size();
    borrowed_ = true;
  }
  std::string& storage() { return owned_; }  // owned bytes being assembled
  std::string owned_;
  const char* ptr_ = nullptr;
  std::size_t size_ = 0;
  bool borrowed_ = false;
};
using Body = WireBytes;

// Content: a content-carrying method's header and body.
// The properties are decoded into `properties`, or -- for an assembler told to keep
// them as they came -- checked and left in `properties_wire` (the property flags and
// the present properties, the content header's bytes after its body size), owned.
struct Content {
  BasicProperties properties;
  WireBytes properties_wire;  // empty unless the assembler keeps properties as wire bytes
  std::uint64_t body_size = 0;
  Body body;
};

// Command: a method, with its content if it carries one.
struct Command {
  Method method;
  Content content;  // empty unless the method carries content
};

// ContentAssembler: one per channel.
class ContentAssembler {
 public:
  enum class Status { complete, need_more, error };
  // feed() takes a method, header or body frame of this channel. `complete` means
  // command() holds a whole command until the next feed().
  Status feed(const Frame& frame, ProtocolError* error);
  Command& command() { return command_; }
  // set_max_body_size(): a content header announcing more is refused with 406
  // PRECONDITION_FAILED (a soft error: RabbitMQ closes the channel), before any of
  // the body is buffered. 0: no limit.
  void set_max_body_size(std::uint64_t max) { max_body_ = max; }
  // keep_properties_as_wire(true): a content header's properties are checked as
  // decoding would check them (flags, lengths, tables) but not decoded: the command's
  // properties stay empty and its properties_wire holds their bytes. For a broker that
  // passes them on as they came, as RabbitMQ does: it neither builds a BasicProperties
  // per message nor encodes one per delivery, and reads one only when it must.
  void keep_properties_as_wire(bool keep) {
    keep_wire_ = keep;
    command_.content.properties = {};
    command_.content.properties_wire.clear();
  }
  // in_content(): a method is waiting for its header or body frames.
  bool in_content() const { return state_ != State::idle; }

 private:
  enum class State { idle, want_header, want_body };
  enum class Fault {
    method_in_content,
    unknown_method,
    malformed_method,
    trailing_arguments,
    unexpected_header,
    malformed_header,
    header_class,
    body_too_large,
    unexpected_body,
    body_overrun,
    heartbeat
  };
  [[gnu::cold, gnu::noinline]] Status fail(ProtocolError* error, Fault fault,
                                           const char* detail = nullptr, std::uint64_t n = 0);
  State state_ = State::idle;
  Command command_;
  std::uint16_t channel_ = 0;
  std::uint64_t max_body_ = 0;
  bool keep_wire_ = false;
};

// FrameEncoder: frames appended to one buffer.
class FrameEncoder {
 public:
  explicit FrameEncoder(std::uint32_t frame_max = kDefaultFrameMax) : frame_max_(frame_max) {}
  void set_frame_max(std::uint32_t frame_max) { frame_max_ = frame_max; }

  void method(std::uint16_t channel, const Method& m);
  // content() appends the method, a header frame and as many body frames as frame_max
  // requires.
  void content(std::uint16_t channel, const Method& m, const BasicProperties& props,
               std::string_view body);
  // content_wire(): the same, with the properties given as wire bytes (flags first),
  // as ContentAssembler::keep_properties_as_wire() leaves them.
  void content_wire(std::uint16_t channel, const Method& m, std::string_view properties_wire,
                    std::string_view body);
  void heartbeat();

  // buffer(): the frames so far. The caller may write it out, swap it for an empty
  // string or clear it; the encoder only ever appends.
  std::string& buffer() { return buf_; }
  bool empty() const { return buf_.empty(); }
  void clear() { buf_.clear(); }

 private:
  template <typename PutProperties>
  void put_content(std::uint16_t channel, const Method& m, std::size_t props_size,
                   PutProperties put_props, std::string_view body);
  std::string buf_;
  std::uint32_t frame_max_;
};

}  // namespace weft::amqp
