// latency-floor: the machine's floor under broker scenario c (bench/broker_compare.sh).
//
// Scenario c times a message from a producer, through a broker, to a consumer, at a
// fixed rate low enough that every process sleeps between messages: each message
// wakes the broker, and then the consumer. latency-floor does the same with no broker
// work at all -- a relay process that reads 12 bytes from one loopback TCP connection
// and writes them to another, with plain blocking threads on both sides -- so its
// percentiles are what any broker that sleeps when idle pays in kernel wake-ups and
// system calls alone on this machine. A broker's p99 cannot go below the floor's by
// much; a target below it is out of reach on the machine, whatever the broker does.
//
//   latency-floor [-r RATE] [-z SECONDS]
//
// Messages are 12 bytes, like weft-perf -s 12: a sequence number and the send time
// (CLOCK_MONOTONIC ns); the producer sleeps until each message is due (absolute
// deadlines, as weft-perf's producer) and stamps it just before its write.
// Output: one line, `latency-floor rate= samples= latency_min_us= latency_p50_us=
// latency_p99_us= latency_p999_us= latency_max_us=`. Exit status 1 if a connection or
// the relay failed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t kMsg = 12;

std::int64_t mono_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// listen_loopback() listens on a free loopback port; *port says which.
int listen_loopback(int* port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (s < 0 || bind(s, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(s, 1) != 0 ||
      getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return -1;
  *port = ntohs(a.sin_port);
  return s;
}

int dial_loopback(int port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (s < 0 || connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  nodelay(s);
  return s;
}

// io_full() runs read or write until all n bytes are done; false on an error or EOF.
template <class Op, class Ptr>
bool io_full(Op op, int fd, Ptr p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = op(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}
bool read_full(int fd, char* p, std::size_t n) { return io_full(::read, fd, p, n); }
bool write_full(int fd, const char* p, std::size_t n) { return io_full(::write, fd, p, n); }

// relay() is the broker stand-in: a process that forwards each message as it comes.
[[noreturn]] void relay(int l_in, int l_out) {
  const int in = accept(l_in, nullptr, nullptr), out = accept(l_out, nullptr, nullptr);
  if (in < 0 || out < 0) _exit(1);
  nodelay(in);
  nodelay(out);
  char m[kMsg];
  while (read_full(in, m, kMsg))
    if (!write_full(out, m, kMsg)) _exit(1);
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  double rate = 10000;
  double seconds = 5;
  CLI::App app{"latency-floor: scenario c's latency with no broker work (a relay process)"};
  app.add_option("-r,--rate", rate, "Messages per second")->check(CLI::PositiveNumber);
  app.add_option("-z,--time", seconds, "Seconds to run")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  int p_in = 0, p_out = 0;
  const int l_in = listen_loopback(&p_in), l_out = listen_loopback(&p_out);
  if (l_in < 0 || l_out < 0) {
    std::perror("latency-floor: listen");
    return 1;
  }
  const pid_t child = fork();
  if (child == 0) relay(l_in, l_out);
  const int producer = dial_loopback(p_in), consumer = dial_loopback(p_out);
  if (child < 0 || producer < 0 || consumer < 0) {
    std::perror("latency-floor: relay");
    return 1;
  }

  const auto n = static_cast<std::int64_t>(rate * seconds);
  std::vector<std::int64_t> lat;
  lat.reserve(static_cast<std::size_t>(n));
  std::thread receiver([&] {
    char m[kMsg];
    while (read_full(consumer, m, kMsg)) {
      std::int64_t sent;
      std::memcpy(&sent, m + 4, 8);
      lat.push_back(mono_ns() - sent);
    }
  });
  const std::int64_t start = mono_ns();
  bool ok = true;
  for (std::int64_t i = 0; i < n && ok; i++) {
    const std::int64_t due = start + static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / rate);
    const timespec t{static_cast<time_t>(due / 1'000'000'000),
                     static_cast<long>(due % 1'000'000'000)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, nullptr);
    char m[kMsg];
    const auto seq = static_cast<std::uint32_t>(i);
    const std::int64_t now = mono_ns();
    std::memcpy(m, &seq, 4);
    std::memcpy(m + 4, &now, 8);
    ok = write_full(producer, m, kMsg);
  }
  shutdown(producer, SHUT_WR);  // the relay ends, closing the consumer's side
  receiver.join();
  int status = 0;
  waitpid(child, &status, 0);
  ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 && !lat.empty();
  if (!ok) {
    std::fprintf(stderr, "latency-floor: the relay failed (%zu of %lld messages back)\n",
                 lat.size(), static_cast<long long>(n));
    return 1;
  }
  std::sort(lat.begin(), lat.end());
  auto at = [&](double q) {
    return static_cast<double>(
               lat[static_cast<std::size_t>(q * static_cast<double>(lat.size() - 1))]) /
           1e3;
  };
  std::printf(
      "latency-floor rate=%.0f samples=%zu latency_min_us=%.1f latency_p50_us=%.1f "
      "latency_p99_us=%.1f latency_p999_us=%.1f latency_max_us=%.1f\n",
      rate, lat.size(), at(0), at(0.5), at(0.99), at(0.999), at(1));
  return 0;
}
