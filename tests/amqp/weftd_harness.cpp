// weftd_harness.cpp: starts and stops the weftd process of weftd_harness.h.
#include "weftd_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

using namespace std::chrono_literals;

namespace weft_test {

namespace {

std::string describe(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace

bool WeftdHarness::start() {
  if (::access(binary_.c_str(), X_OK) != 0) {
    why_ = binary_ + " is not an executable";
    return false;
  }
  const int port = free_port();
  if (port <= 0) {
    why_ = "no free port";
    return false;
  }
  char tmpl[] = "/tmp/weftd-test-XXXXXX";
  int log_fd = ::mkstemp(tmpl);
  if (log_fd < 0) {
    why_ = "mkstemp failed";
    return false;
  }
  log_ = tmpl;
  std::vector<std::string> args = {binary_, "--amqp-listen", "127.0.0.1:" + std::to_string(port),
                                   "--http-listen", ""};
  args.insert(args.end(), extra_.begin(), extra_.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  const auto t0 = std::chrono::steady_clock::now();
  const pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(log_fd);
    why_ = "fork failed";
    return false;
  }
  if (pid_ == 0) {
    // Gone with the test binary, should it die without stopping us (a crash, a timeout).
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) _exit(127);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::execv(binary_.c_str(), argv.data());
    _exit(127);
  }
  ::close(log_fd);
  const auto limit = t0 + 30s;
  while (!port_accepts(port)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      why_ = "weftd " + describe(status) + " during start-up:\n" + tail_of(log_);
      return false;
    }
    if (std::chrono::steady_clock::now() > limit) {
      why_ = "weftd did not listen within 30 s:\n" + tail_of(log_);
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ weftd    ] pid %d listening on 127.0.0.1:%d after %.2f s (log %s)\n",
              static_cast<int>(pid_), port, secs, log_.c_str());
  std::fflush(stdout);
  port_ = port;
  why_.clear();
  return true;
}

bool WeftdHarness::stop() {
  bool ok = true;
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    const auto limit = std::chrono::steady_clock::now() + 30s;
    int status = 0;
    pid_t r = 0;
    while ((r = ::waitpid(pid_, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < limit)
      std::this_thread::sleep_for(20ms);
    if (r == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      why_ = "weftd did not exit within 30 s of SIGTERM:\n" + tail_of(log_);
      ok = false;
    } else if (r != pid_ || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      why_ = "weftd was to exit 0 on SIGTERM, but it " + describe(status) + ":\n" + tail_of(log_);
      ok = false;
    }
    pid_ = -1;
  }
  if (!log_.empty()) {
    ::unlink(log_.c_str());
    log_.clear();
  }
  return ok;
}

}  // namespace weft_test
