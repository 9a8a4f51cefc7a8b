// chan.cpp: channels (weft/chan.h), after Go's runtime/chan.go.
//
// One lock per channel (the spin word of recvq_) guards the buffer, both wait queues
// and `closed_`; it is held for a few dozen instructions. A send or receive that waits
// keeps it until its fiber is off its stack -- it is released after the switch, as Go's
// gopark(chanparkcommit) does -- so a waker that pops a plain waiter knows its fiber is
// asleep and is the only one that can have it: the waiter is won with no atomic claim
// and readied directly (claim_locked(), park_locked()). A select's waiters are another
// matter: one select waits on several channels, so its cases share a state word that
// the first waker wins atomically (waiter.h), and select releases its locks before it
// parks.
// Invariants:
//   - at most one of recvq_ and sendq_ is non-empty;
//   - recvq_ non-empty => the buffer is empty; sendq_ non-empty => the buffer is full
//     (an unbuffered channel is always "full").
// A waiter's Waiter::elem points at the sender's value or at the receiver's raw slot;
// whoever completes the operation moves the element there *under the lock*, sets
// Waiter::handoff (false means "woken by close"), releases the lock, and only then
// wakes the waiter (waiter.h): the woken receiver is made runnext on the waker's P.
#include "weft/chan.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <thread>

#include "blockprof.h"
#include "leaf.h"
#include "proc.h"
#include "switch.h"
#include "waiter.h"

namespace weft::detail {

namespace {

[[noreturn]] __attribute__((noinline, cold)) void throw_closed(const char* what) {
  throw ChanClosedError(what);
}

// park_locked() waits until w (queued under the channel lock `l`, still held) is woken.
// A fiber releases `l` after its switch (see the top of this file); a plain thread
// releases it and spins on w's state. Inline, as is park() here (switch.h): one frame
// less between the switch and the code that blocked.
__attribute__((always_inline)) inline void park_locked(Waiter* w, WaitList& l, WaitReason reason) {
  if (w->g) {
    park_releasing(reason, &l.lock);  // wl_unlock(l) after the switch
    return;
  }
  wl_unlock(l);
  while (w->state.load(std::memory_order_acquire) != Waiter::kWoken) leaf_sched_yield();
}

// claim_locked() wins waiter w for a waker that holds w's channel lock and has popped
// it; false if a select's waiter was already won through another channel. *to_ready
// is then the fiber to ready() once the lock is released (nullptr for a thread).
// Finish with waiter_claim_end() after writing w's results.
inline bool claim_locked(Waiter* w, G** to_ready) {
  if (w->sel) return waiter_claim_begin(w, to_ready);
  *to_ready = w->g;  // parked for sure: it held this lock until after its switch
  return true;
}

}  // namespace

ChanCore::ChanCore(const ChanOps* ops, std::size_t cap)
    : ops_(ops),
      size_(ops->size),
      trivial_(ops->trivial),
      cap_(cap),
      buf_(cap ? static_cast<unsigned char*>(::operator new(cap * ops->size)) : nullptr) {}

ChanCore::~ChanCore() {
  for (std::size_t i = 0; i < count_; i++) destroy_elem(slot((head_ + i) % cap_));
  ::operator delete(buf_);
}

// move_elem() and destroy_elem() are ChanOps' operations, inline for trivially copyable
// elements: a fixed-size copy for the common sizes, instead of an indirect call each.
inline void ChanCore::move_elem(void* dst, void* src) const {
  if (!trivial_) return ops_->move_construct(dst, src);
  switch (size_) {
    case 4:
      std::memcpy(dst, src, 4);
      break;
    case 8:
      std::memcpy(dst, src, 8);
      break;
    case 16:
      std::memcpy(dst, src, 16);
      break;
    default:
      std::memcpy(dst, src, size_);
  }
}

inline void ChanCore::destroy_elem(void* p) const {
  if (!trivial_) ops_->destroy(p);
}

// give_locked() completes a send without waiting, if it can: to a waiting receiver or
// into the buffer. A waiting receiver is claimed here, under the lock -- a select's
// waiter may already have been won through another channel, and is then skipped --
// and *to_ready is the fiber to ready() once the lock is released.
// REQUIRES: the channel lock is held and the channel is open.
__attribute__((always_inline)) inline bool ChanCore::give_locked(void* elem, G** to_ready) {
  *to_ready = nullptr;
  while (Waiter* r = wl_pop_front(recvq_)) {
    if (!claim_locked(r, to_ready)) continue;
    move_elem(r->elem, elem);
    r->handoff = true;
    r->fired = true;
    waiter_claim_end(r);
    return true;
  }
  if (count_ < cap_) {
    std::size_t tail = head_ + count_;  // a wrap by comparison: a division costs more
    if (tail >= cap_) tail -= cap_;
    move_elem(slot(tail), elem);
    set_count(count_ + 1);
    return true;
  }
  return false;
}

// take_locked() completes a receive without waiting, if it can: from a waiting sender
// (claimed as above) or from the buffer. REQUIRES: the channel lock is held.
__attribute__((always_inline)) inline bool ChanCore::take_locked(void* out, G** to_ready) {
  *to_ready = nullptr;
  while (Waiter* s = wl_pop_front(sendq_, &recvq_.lock)) {
    if (!claim_locked(s, to_ready)) continue;
    if (cap_ == 0) {
      move_elem(out, s->elem);  // straight from the sender's stack
    } else {
      // Full buffer: take its head; the sender's value goes to the tail.
      unsigned char* h = slot(head_);
      move_elem(out, h);
      destroy_elem(h);
      move_elem(h, s->elem);
      if (++head_ == cap_) head_ = 0;
    }
    s->handoff = true;
    s->fired = true;
    waiter_claim_end(s);
    return true;
  }
  if (count_ > 0) {
    unsigned char* h = slot(head_);
    move_elem(out, h);
    destroy_elem(h);
    if (++head_ == cap_) head_ = 0;
    set_count(count_ - 1);
    return true;
  }
  return false;
}

void ChanCore::send(void* elem, const std::source_location& site) {
  G* wake;
  wl_lock(recvq_);
  if (closed_) {
    wl_unlock(recvq_);
    throw_closed("send on closed channel");
  }
  if (give_locked(elem, &wake)) {
    wl_unlock(recvq_);
    if (wake) ready_inline(wake, true);
    return;
  }
  Waiter w;
  w.g = getg();
  w.elem = elem;
  wl_push_back(sendq_, &w, &recvq_.lock);
  const std::int64_t t0 = block_start();
  park_locked(&w, recvq_, WaitReason::chan_send);
  block_end(t0, WaitReason::chan_send, site);
  if (!w.handoff) throw_closed("send on closed channel");
}

bool ChanCore::recv(void* out, const std::source_location& site) {
  G* wake;
  wl_lock(recvq_);
  if (take_locked(out, &wake)) {
    wl_unlock(recvq_);
    if (wake) ready_inline(wake, true);
    return true;
  }
  if (closed_) {
    wl_unlock(recvq_);
    return false;
  }
  Waiter w;
  w.g = getg();
  w.elem = out;
  wl_push_back(recvq_, &w);
  const std::int64_t t0 = block_start();
  park_locked(&w, recvq_, WaitReason::chan_receive);
  block_end(t0, WaitReason::chan_receive, site);
  return w.handoff;
}

bool ChanCore::try_send(void* elem) {
  G* wake;
  wl_lock(recvq_);
  if (closed_) {
    wl_unlock(recvq_);
    throw_closed("send on closed channel");
  }
  const bool done = give_locked(elem, &wake);
  wl_unlock(recvq_);
  if (wake) ready(wake, true);
  return done;
}

int ChanCore::try_recv(void* out) {
  G* wake;
  wl_lock(recvq_);
  const bool done = take_locked(out, &wake);
  const bool closed = closed_;
  wl_unlock(recvq_);
  if (wake) ready(wake, true);
  return done ? 1 : closed ? -1 : 0;
}

void ChanCore::close() {
  wl_lock(recvq_);
  if (closed_) {
    wl_unlock(recvq_);
    throw_closed("close of closed channel");
  }
  set_closed();
  // Every waiter leaves with handoff == false: receivers see "closed", senders throw.
  G* batch[64];
  for (;;) {
    int n = 0;
    for (WaitList* q : {&recvq_, &sendq_})
      while (n < 64) {
        Waiter* w = wl_pop_front(*q, &recvq_.lock);
        if (!w) break;
        G* g = nullptr;
        if (!claim_locked(w, &g)) continue;  // a select won elsewhere
        w->fired = true;
        waiter_claim_end(w);
        if (g) batch[n++] = g;
      }
    const bool more = !wl_empty(recvq_) || !wl_empty(sendq_);
    wl_unlock(recvq_);
    for (int i = 0; i < n; i++) ready(batch[i]);
    if (!more) return;
    wl_lock(recvq_);
  }
}

std::size_t ChanCore::len() const {
  wl_lock(recvq_);
  std::size_t n = count_;
  wl_unlock(recvq_);
  return n;
}

bool ChanCore::closed() const {
  wl_lock(recvq_);
  bool c = closed_;
  wl_unlock(recvq_);
  return c;
}

void chan_block_forever(const std::source_location&) {
  // Go's nil channel: park with nobody to wake us (the fiber counts as leaked at exit).
  for (;;) {
    Waiter w;
    w.g = getg();
    if (w.g)
      waiter_park(&w, WaitReason::chan_receive);
    else
      std::this_thread::sleep_for(std::chrono::hours(1));
  }
}

}  // namespace weft::detail

namespace weft::detail {

namespace {

// A select polls its cases in a random order (fairness): a uniformly random permutation
// of 0..n-1. Fisher-Yates, with 16 random bits per step mapped onto [0, i] by a
// multiply-shift (a division costs more than the rest). Up to 16 cases the permutation
// is a 64-bit word of nibbles -- case j is (perm >> 4j) & 15 -- shuffled in a register
// and read in one, which spares an order array's stores and loads; up to four cases --
// the common select -- it is picked whole from a table of them all (at most 24): one
// multiply for the three steps. Past 16 cases, a byte array.
constexpr std::size_t factorial(int n) {
  return n <= 1 ? 1 : static_cast<std::size_t>(n) * factorial(n - 1);
}

template <int N>
constexpr std::array<std::uint16_t, factorial(N)> all_permutations() {
  std::array<std::uint16_t, factorial(N)> out{};
  std::array<int, N> p{};
  for (int i = 0; i < N; i++) p[static_cast<std::size_t>(i)] = i;
  for (std::uint16_t& packed : out) {
    for (int i = 0; i < N; i++)
      packed = static_cast<std::uint16_t>(packed | p[static_cast<std::size_t>(i)] << (4 * i));
    std::next_permutation(p.begin(), p.end());
  }
  return out;
}
constexpr auto kPerms2 = all_permutations<2>();
constexpr auto kPerms3 = all_permutations<3>();
constexpr auto kPerms4 = all_permutations<4>();
constexpr std::span<const std::uint16_t> kPerms[] = {{}, {}, kPerms2, kPerms3, kPerms4};
constexpr int kPackedCases = 16;  // a permutation of up to this many cases is packed

// PollRng hands out 16-bit draws mapped onto [0, count), from a per-thread xorshift.
class PollRng {
 public:
  PollRng() : r_(next()) {}
  int pick(std::uint64_t count) {  // uniform enough in [0, count)
    if (bits_ < 16) r_ = next(), bits_ = 64;
    const auto k = static_cast<int>(((r_ & 0xFFFF) * count) >> 16);
    r_ >>= 16;
    bits_ -= 16;
    return k;
  }

 private:
  static std::uint64_t next() {
    thread_local std::uint64_t rng = 0x9E3779B97F4A7C15ULL ^ reinterpret_cast<std::uintptr_t>(&rng);
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  }
  std::uint64_t r_;
  int bits_ = 64;
};

// poll_perm(): the packed poll order of n <= kPackedCases cases.
inline std::uint64_t poll_perm(int n) {
  if (n <= 1) return 0;
  PollRng rng;
  if (n <= 4) {
    const std::span<const std::uint16_t> table = kPerms[n];
    return table[static_cast<std::size_t>(rng.pick(table.size()))];
  }
  std::uint64_t perm = 0xFEDCBA9876543210ULL;
  for (int i = n - 1; i > 0; i--) {
    const int k = rng.pick(static_cast<std::uint64_t>(i + 1));
    const std::uint64_t x = ((perm >> (4 * i)) ^ (perm >> (4 * k))) & 0xF;
    perm ^= (x << (4 * i)) | (x << (4 * k));
  }
  return perm;
}

// unpack_perm() writes packed permutation perm of n cases out as bytes.
inline void unpack_perm(std::uint64_t perm, std::uint8_t* order, int n) {
  for (int i = 0; i < n; i++) order[i] = static_cast<std::uint8_t>((perm >> (4 * i)) & 0xF);
}

// poll_order_big(): the poll order of more than kPackedCases cases, as bytes.
void poll_order_big(std::uint8_t* order, int n) {
  PollRng rng;
  for (int i = 0; i < n; i++) order[i] = static_cast<std::uint8_t>(i);
  for (int i = n - 1; i > 0; i--)
    std::swap(order[i], order[rng.pick(static_cast<std::uint64_t>(i + 1))]);
}

}  // namespace

// SelectImpl holds select_impl()'s parts, which reach into ChanCore (a friend).
class SelectImpl {
 public:
  // try_case() completes case c if it is ready. REQUIRES: its channel is locked; on
  // success every held lock has been released through `unlock`.
  template <class Unlock>
  __attribute__((always_inline)) static bool try_case(SelCase& c, Unlock&& unlock) {
    G* wake = nullptr;
    if (c.send) {
      if (c.core->closed_) {
        unlock();
        throw_closed("send on closed channel");
      }
      if (!c.core->give_locked(c.elem, &wake)) return false;
      unlock();
    } else if (c.core->take_locked(c.elem, &wake)) {
      unlock();
      c.ok = true;
    } else if (c.core->closed_) {
      unlock();
      c.ok = false;
    } else {
      return false;
    }
    if (wake) ready(wake, true);
    return true;
  }

  // looks_blocked() glances at case c's buffered channel without its lock: an open
  // channel whose buffer looks empty (full, for a send) cannot complete it now -- most
  // likely; the glance may be stale, which only costs the first pass a case that the
  // locked pass then finds. A consumer draining several producers' channels finds some
  // of them empty on most selects; locking each to see it was as much as the receive.
  // (An unbuffered channel has only its queues to tell, which take the lock to read.)
  __attribute__((always_inline)) static bool looks_blocked(const SelCase& c) {
    const ChanCore* ch = c.core;
    if (ch->cap_ == 0) return false;
    const std::size_t n = __atomic_load_n(&ch->count_, __ATOMIC_RELAXED);
    return (c.send ? n == ch->cap_ : n == 0) && !__atomic_load_n(&ch->closed_, __ATOMIC_RELAXED);
  }

  // try_alone() is try_case() under case c's own lock only: select's first pass.
  __attribute__((always_inline)) static bool try_alone(SelCase& c) {
    if (c.is_default || !c.core || looks_blocked(c)) return false;
    WaitList& l = c.core->recvq_;
    wl_lock(l);
    if (try_case(c, [&] { wl_unlock(l); })) return true;
    wl_unlock(l);
    return false;
  }

  // wait() is select past its first pass: every channel locked (in address order) to
  // decide between a ready case, the default case and parking on them all. Out of line:
  // its frame (the waiters, the lock order) is what a select that finds a case ready
  // at once -- the common, busy one -- does not pay for.
  [[gnu::noinline]] static int wait(SelCase* cases, int n, const std::uint8_t* order,
                                    const std::source_location& site);
};

// select_impl(): Go's selectgo. Cases with a null core are nil channels (never ready);
// a case with `is_default` fires when nothing else is ready. Returns the index of the
// case that fired; for a receive, cases[i].ok says whether a value arrived (false:
// closed). Throws ChanClosedError for a send case on a closed channel.
//
// First pass: each channel alone, under its own lock, in poll order. When a select is
// busy (a consumer draining producers' channels) a case is usually ready, and one lock
// taken instead of all of them is what keeps it from bouncing every channel's cache line
// between the producers' cores and its own. Finding nothing this way proves nothing
// (the channels were looked at at different instants), so wait()'s locked pass decides
// the default case and parking.
int select_impl(SelCase* cases, int n, const std::source_location& site) {
  std::uint8_t order[64];
  if (n <= kPackedCases) {
    const std::uint64_t perm = poll_perm(n);
    for (int j = 0; j < n; j++) {
      const auto i = static_cast<int>((perm >> (4 * j)) & 0xF);
      if (SelectImpl::try_alone(cases[i])) return i;
    }
    unpack_perm(perm, order, n);
  } else {
    poll_order_big(order, n);
    for (int j = 0; j < n; j++)
      if (SelectImpl::try_alone(cases[order[j]])) return order[j];
  }
  return SelectImpl::wait(cases, n, order, site);
}

int SelectImpl::wait(SelCase* cases, int n, const std::uint8_t* order,
                     const std::source_location& site) {
  // The channels, once each, in address order: the order every select locks them in.
  ChanCore* chans[64];
  int nchans = 0;
  int default_case = -1;
  for (int i = 0; i < n; i++) {
    if (cases[i].is_default) {
      default_case = i;
      continue;
    }
    ChanCore* c = cases[i].core;
    if (!c) continue;
    bool seen = false;
    for (int k = 0; k < nchans; k++) seen |= chans[k] == c;
    if (!seen && nchans < 64) chans[nchans++] = c;
  }
  std::sort(chans, chans + nchans, std::less<ChanCore*>());
  auto lock_all = [&] {
    for (int k = 0; k < nchans; k++) wl_lock(chans[k]->recvq_);
  };
  auto unlock_all = [&] {
    for (int k = nchans - 1; k >= 0; k--) wl_unlock(chans[k]->recvq_);
  };

  lock_all();
  for (int j = 0; j < n; j++) {
    SelCase& c = cases[order[j]];
    if (c.is_default || !c.core) continue;
    if (try_case(c, unlock_all)) return order[j];
  }
  if (default_case >= 0) {
    unlock_all();
    return default_case;
  }
  if (nchans == 0) {
    unlock_all();
    chan_block_forever(site);  // only nil channels: Go's select {} blocks forever
  }

  // Nothing ready: wait on every channel with one shared state word. The waiters live in
  // this frame for the common few-case select and on the heap past that: a fiber parked
  // in select keeps this frame, and an idle connection's writer parks here (a fixed
  // 64-entry array made it ~6 KiB deep, two resident pages instead of one).
  SelectState ss;
  constexpr int kInlineWaiters = 8;
  Waiter inline_ws[kInlineWaiters];
  std::unique_ptr<Waiter[]> heap_ws;
  Waiter* ws = inline_ws;
  if (n > kInlineWaiters) {
    heap_ws.reset(new Waiter[static_cast<std::size_t>(n)]);
    ws = heap_ws.get();
  }
  G* self = getg();
  for (int i = 0; i < n; i++) {
    SelCase& c = cases[i];
    if (c.is_default || !c.core) continue;
    Waiter& w = ws[i];
    w.g = self;
    w.sel = &ss;
    w.elem = c.elem;
    w.chan = c.core;
    wl_push_back(c.send ? c.core->sendq_ : c.core->recvq_, &w, &c.core->recvq_.lock);
  }
  unlock_all();
  const std::int64_t t0 = block_start();
  Waiter* any = nullptr;
  for (int i = 0; i < n && !any; i++)
    if (!cases[i].is_default && cases[i].core) any = &ws[i];
  if (self) {
    waiter_park(any, WaitReason::select);
  } else {
    std::uint32_t s;
    while ((s = ss.state.load(std::memory_order_acquire)) == Waiter::kRunning ||
           s == Waiter::kClaiming)
      leaf_sched_yield();
  }
  block_end(t0, WaitReason::select, site);

  // Dequeue from every channel that did not fire; find the one that did.
  int fired = -1;
  lock_all();
  for (int i = 0; i < n; i++) {
    SelCase& c = cases[i];
    if (c.is_default || !c.core) continue;
    Waiter& w = ws[i];
    if (w.fired) fired = i;
    if (w.linked) wl_remove(c.send ? c.core->sendq_ : c.core->recvq_, &w, &c.core->recvq_.lock);
  }
  unlock_all();
  SelCase& c = cases[fired];
  if (c.send && !ws[fired].handoff) throw_closed("send on closed channel");
  c.ok = ws[fired].handoff;
  return fired;
}

}  // namespace weft::detail
