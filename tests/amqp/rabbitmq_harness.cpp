// rabbitmq_harness.cpp: boots and stops the private rabbitmq-server of
// rabbitmq_harness.h.
#include "rabbitmq_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace std::chrono_literals;

namespace weft_test {

std::string RabbitmqHarness::default_server() {
  const char* custom = std::getenv("WEFT_RABBITMQ_SERVER");
  return custom ? custom : "/usr/lib/rabbitmq/bin/rabbitmq-server";
}

bool RabbitmqHarness::start() {
  if (::access(server_.c_str(), X_OK) != 0) {
    why_ = server_ +
           " is not installed (scripts/deps.sh test installs rabbitmq-server; "
           "WEFT_SKIP_RABBITMQ=1 skips these tests)";
    return false;
  }
  char tmpl[] = "/tmp/weft-rabbit-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    why_ = "mkdtemp failed";
    return false;
  }
  dir_ = tmpl;
  for (auto sub : {"mnesia", "log", "home"}) std::filesystem::create_directory(dir_ + "/" + sub);
  std::ofstream(dir_ + "/enabled_plugins") << "[].\n";  // management and friends off
  const int port = free_port(), dist = free_port(), epmd = free_port();
  if (port <= 0 || dist <= 0 || epmd <= 0) {
    why_ = "no free port";
    return false;
  }
  epmd_port_ = epmd;
  const std::string node = "weft-test-" + std::to_string(::getpid()) + "@localhost";
  log_ = dir_ + "/server.out";

  const auto t0 = std::chrono::steady_clock::now();
  pid_ = ::fork();
  if (pid_ < 0) {
    why_ = "fork failed";
    return false;
  }
  if (pid_ == 0) {
    ::setpgid(0, 0);  // its own process group: stop() signals the whole tree
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    if (::chdir(dir_.c_str()) != 0) _exit(127);
    auto set = [](const char* k, const std::string& v) { ::setenv(k, v.c_str(), 1); };
    set("HOME", dir_ + "/home");  // the Erlang cookie goes there
    set("RABBITMQ_MNESIA_BASE", dir_ + "/mnesia");
    set("RABBITMQ_LOG_BASE", dir_ + "/log");
    set("RABBITMQ_NODENAME", node);
    set("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1");
    set("RABBITMQ_NODE_PORT", std::to_string(port));
    set("RABBITMQ_DIST_PORT", std::to_string(dist));
    set("ERL_EPMD_PORT", std::to_string(epmd));  // a private epmd, killed at the end
    set("RABBITMQ_ENABLED_PLUGINS_FILE", dir_ + "/enabled_plugins");
    set("RABBITMQ_CONF_ENV_FILE", dir_ + "/rabbitmq-env.conf");       // none: ignore /etc's
    set("RABBITMQ_CONFIG_FILE", dir_ + "/rabbitmq");                  // none
    set("RABBITMQ_ADVANCED_CONFIG_FILE", dir_ + "/advanced.config");  // none
    ::execl(server_.c_str(), server_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::setpgid(pid_, pid_);  // also from here, whichever runs first
  const auto limit = t0 + 180s;
  while (!port_accepts(port)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      why_ = "rabbitmq-server exited during boot:\n" + tail_of(log_);
      return false;
    }
    if (std::chrono::steady_clock::now() > limit) {
      why_ = "rabbitmq-server did not listen within 180 s:\n" + tail_of(log_);
      return false;
    }
    std::this_thread::sleep_for(50ms);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ rabbitmq ] %s listening on 127.0.0.1:%d after %.1f s (%s)\n", node.c_str(), port,
              secs, dir_.c_str());
  std::fflush(stdout);
  port_ = port;
  why_.clear();
  return true;
}

bool RabbitmqHarness::stop() {
  if (pid_ > 0) {
    // SIGTERM to the group: the script asks the node to stop, the VM shuts down.
    ::kill(-pid_, SIGTERM);
    const auto limit = std::chrono::steady_clock::now() + 60s;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0 && std::chrono::steady_clock::now() < limit)
      std::this_thread::sleep_for(50ms);
    // Then whatever is left of the group (beam, if the script went first).
    while (::kill(-pid_, 0) == 0 && std::chrono::steady_clock::now() < limit)
      std::this_thread::sleep_for(50ms);
    if (::kill(-pid_, 0) == 0) ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, &status, WNOHANG);
    pid_ = -1;
  }
  if (epmd_port_ > 0) {
    const std::string cmd = "epmd -port " + std::to_string(epmd_port_) + " -kill >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      // Already gone (it exits with no node registered on some versions).
    }
    epmd_port_ = 0;
  }
  if (!dir_.empty() && !std::getenv("WEFT_KEEP_RABBITMQ_DIR")) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  dir_.clear();
  return true;
}

}  // namespace weft_test
