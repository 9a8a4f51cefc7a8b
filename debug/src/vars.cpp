// vars.cpp: /debug/vars (Go's expvar): the runtime's counters as one JSON document,
// plus the variables the program publish()ed.
#include <malloc.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "weft/debug/handlers.h"
#include "weft/introspect.h"
#include "weft/net.h"

namespace weft::debug {

namespace {

using nlohmann::json;

struct Published {
  std::mutex mu;  // held only to copy the map: callbacks run unlocked
  std::map<std::string, std::function<std::string()>> vars;
};
Published& published() {
  static Published* p = new Published;
  return *p;
}

json cmdline() {
  json args = json::array();
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

json memory() {
  json m;
  long page = sysconf(_SC_PAGESIZE);
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0, shared = 0;
  if (statm >> size >> resident >> shared) {
    m["vm_bytes"] = size * page;
    m["rss_bytes"] = resident * page;
    m["rss_shared_bytes"] = shared * page;
  }
  struct mallinfo2 mi = mallinfo2();
  m["heap_in_use_bytes"] = mi.uordblks + mi.hblkhd;
  m["heap_free_bytes"] = mi.fordblks;
  m["heap_mmapped_bytes"] = mi.hblkhd;
  return m;
}

json scheduler(const SchedStats& s) {
  json per_p = json::array();
  json runq = json::array();
  for (const ProcStats& p : s.per_proc) {
    runq.push_back(p.runq_len);
    per_p.push_back({{"id", p.id},
                     {"runq", p.runq_len},
                     {"spawned", p.spawned},
                     {"switches", p.switches},
                     {"steals", p.steals},
                     {"global_takes", p.global_takes}});
  }
  return {{"procs", s.procs},
          {"idle_procs", s.idle_procs},
          {"threads", s.threads},
          {"spinning", s.spinning},
          {"global_runq", s.global_runq},
          {"runq", runq},
          {"live_fibers", s.live_fibers},
          {"spawned", s.spawned},
          {"switches", s.switches},
          {"steals", s.steals},
          {"stolen", s.stolen},
          {"global_takes", s.global_takes},
          {"parks", s.parks},
          {"wakeups", s.wakeups},
          {"handoffs", s.handoffs},
          {"preempt_requests", s.preempt_requests},
          {"preemptions", s.preemptions},
          {"sysmon_ticks", s.sysmon_ticks},
          {"timer_fires", s.timer_fires},
          {"stack_trims", s.stack_trims},
          {"stack_trimmed_bytes", s.stack_trimmed_bytes},
          {"poll_spin_hits", s.poll_spin_hits},
          {"per_proc", per_p}};
}

}  // namespace

void publish(std::string name, std::function<std::string()> fn) {
  std::lock_guard lock(published().mu);
  published().vars[std::move(name)] = std::move(fn);
}

std::string vars_json() {
  SchedStats s = weft::stats();
  json fibers_by_state = json::object(), waiting_by_reason = json::object();
  for (const FiberInfo& f : weft::fibers()) {
    fibers_by_state[to_string(f.state)] = fibers_by_state.value(to_string(f.state), 0) + 1;
    if (f.state == FiberState::waiting) {
      const char* r = to_string(f.wait_reason);
      waiting_by_reason[r] = waiting_by_reason.value(r, 0) + 1;
    }
  }
  net::PollerStats ps = net::poller_stats();
  json doc = {
      {"cmdline", cmdline()},
      {"scheduler", scheduler(s)},
      {"fibers", {{"by_state", fibers_by_state}, {"waiting_by_reason", waiting_by_reason}}},
      {"netpoller",
       {{"registered_fds", ps.registered_fds},
        {"waiting_fibers", ps.waiting_fibers},
        {"polls", ps.polls},
        {"blocking_polls", ps.blocking_polls},
        {"fibers_woken", ps.fibers_woken},
        {"wakes", ps.wakes},
        {"empty_reads", ps.empty_reads}}},
      {"stacks", {{"kind", s.stack_kind}, {"allocated", s.stacks_allocated}}},
      {"memory", memory()},
  };
  std::map<std::string, std::function<std::string()>> vars;
  {
    std::lock_guard lock(published().mu);
    vars = published().vars;
  }
  for (auto& [name, fn] : vars) {
    json v = json::parse(fn(), nullptr, /*allow_exceptions=*/false);
    doc[name] = v.is_discarded() ? json("invalid JSON from publish()ed variable") : v;
  }
  return doc.dump(1);
}

}  // namespace weft::debug
