// trace_json.cpp: a scheduler trace (weft/trace.h) as Chrome trace-event JSON.
//
// Layout in Perfetto: process 1 "processors" has a track per P, process 2 "threads" a
// track per M (sysmon and foreign threads on their own tracks). A fiber's run on an M
// is a complete ("X") slice from fiber_run to whatever ends it (stop, park, another run,
// the M parking), drawn on both its M's and its P's track and named after the fiber;
// how it ended is in the slice's args. An M's idle time (m_park..m_unpark) is a slice on
// its track. Everything else is an instant event on the track where it happened.
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "weft/debug/handlers.h"

namespace weft::debug {

namespace {

using nlohmann::json;

constexpr int kProcsPid = 1, kThreadsPid = 2;

double us(std::int64_t ns, std::int64_t origin) {
  return static_cast<double>(ns - origin) / 1000.0;
}

struct Open {
  std::int64_t ts = 0;
  FiberId fiber = 0;
  int p = -1;
  bool active = false;
};

}  // namespace

std::string trace_json(const trace::Trace& t) {
  std::map<FiberId, std::string> names(t.fiber_names.begin(), t.fiber_names.end());
  auto fiber_label = [&](FiberId id) {
    auto it = names.find(id);
    std::string n = "fiber " + std::to_string(id);
    if (it != names.end() && !it->second.empty()) n += " (" + it->second + ")";
    return n;
  };
  const std::int64_t origin = t.start_ns;
  json events = json::array();
  std::map<int, Open> running;             // per M: the fiber slice being drawn
  std::map<int, std::int64_t> idle_since;  // per M
  std::map<int, bool> ms, ps;

  auto close_slice = [&](int m, std::int64_t ts, const std::string& how) {
    Open& o = running[m];
    if (!o.active) return;
    json args = {{"fiber", o.fiber}, {"end", how}};
    json slice = {{"name", fiber_label(o.fiber)},
                  {"ph", "X"},
                  {"ts", us(o.ts, origin)},
                  {"dur", us(ts, o.ts)},
                  {"pid", kThreadsPid},
                  {"tid", m},
                  {"cat", "fiber"},
                  {"args", args}};
    events.push_back(slice);
    if (o.p >= 0) {
      slice["pid"] = kProcsPid;
      slice["tid"] = o.p;
      events.push_back(slice);
    }
    o.active = false;
  };
  auto instant = [&](const trace::Event& e, json args) {
    bool on_p = e.m < 0 && e.p >= 0;
    events.push_back({{"name", trace::to_string(e.kind)},
                      {"ph", "i"},
                      {"s", "t"},
                      {"ts", us(e.ts_ns, origin)},
                      {"pid", on_p ? kProcsPid : kThreadsPid},
                      {"tid", on_p ? e.p : e.m},
                      {"cat", "sched"},
                      {"args", std::move(args)}});
  };

  for (const trace::Event& e : t.events) {
    ms[e.m] = true;
    if (e.p >= 0) ps[e.p] = true;
    using K = trace::EventKind;
    switch (e.kind) {
      case K::fiber_run:
        close_slice(e.m, e.ts_ns, "switched");
        running[e.m] = Open{e.ts_ns, e.fiber, e.p, true};
        break;
      case K::fiber_stop:
        close_slice(e.m, e.ts_ns, e.arg == 0 ? "yield" : e.arg == 1 ? "preempted" : "exit");
        break;
      case K::fiber_park:
        close_slice(e.m, e.ts_ns, std::string("park: ") + to_string(e.reason));
        break;
      case K::m_park:
        close_slice(e.m, e.ts_ns, "M parked");
        idle_since[e.m] = e.ts_ns;
        break;
      case K::m_unpark: {
        auto it = idle_since.find(e.m);
        if (it != idle_since.end()) {
          events.push_back({{"name", "idle"},
                            {"ph", "X"},
                            {"ts", us(it->second, origin)},
                            {"dur", us(e.ts_ns, it->second)},
                            {"pid", kThreadsPid},
                            {"tid", e.m},
                            {"cat", "m"}});
          idle_since.erase(it);
        }
        break;
      }
      case K::fiber_create:
        instant(e, {{"fiber", e.fiber}, {"name", fiber_label(e.fiber)}, {"creator", e.arg}});
        break;
      case K::fiber_unpark:
        instant(e, {{"fiber", e.fiber}, {"name", fiber_label(e.fiber)}});
        break;
      case K::steal:
        instant(e, {{"fibers", e.arg}, {"victim_p", e.arg2}});
        break;
      case K::handoff:
        instant(e, {{"p", e.p}, {"from_m", e.arg}});
        break;
      case K::netpoll_wake:
        instant(e, {{"fibers", e.arg}});
        break;
      case K::stack_free:
        instant(e, {{"stacks", e.arg}});
        break;
      case K::blocking_enter:
      case K::blocking_exit:
        instant(e, {{"fiber", e.fiber}});
        break;
    }
  }
  for (auto& [m, o] : running) {
    if (o.active) close_slice(m, t.end_ns, "trace end");
  }

  auto meta = [&](int pid, int tid, const std::string& what, const std::string& name) {
    json args = {{"name", name}};
    events.push_back({{"name", what}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", args}});
  };
  meta(kProcsPid, 0, "process_name", "weft processors (P)");
  meta(kThreadsPid, 0, "process_name", "weft threads (M)");
  for (auto& [p, _] : ps) meta(kProcsPid, p, "thread_name", "P" + std::to_string(p));
  for (auto& [m, _] : ms) {
    meta(kThreadsPid, m, "thread_name",
         m >= 0    ? "M" + std::to_string(m)
         : m == -2 ? std::string("sysmon")
                   : std::string("other threads"));
  }
  json doc = {{"traceEvents", std::move(events)},
              {"displayTimeUnit", "ns"},
              {"otherData", {{"lost_events", t.lost}, {"duration_ns", t.end_ns - t.start_ns}}}};
  return doc.dump();
}

}  // namespace weft::debug
