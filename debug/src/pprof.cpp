// pprof.cpp: see weft/debug/pprof.h.
//
// A Builder owns one profile.proto message and interns what it references: strings
// (index 0 is ""), functions (by name and file), locations (by address) and mappings
// (the executable mappings of /proc/self/maps, the main binary first, as pprof expects).
// Stacks come innermost first. A return address names the instruction after the call,
// so every frame but a CPU sample's interrupted PC is symbolized at pc - 1 (Go does the
// same), while the location keeps the real address.
#include "weft/debug/pprof.h"

#include <zlib.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "profile.pb.h"
#include "symbolizer.h"
#include "weft/runtime.h"
#include "weft/time.h"

namespace weft::debug {

namespace pb = perftools::profiles;

std::string gzip(const std::string& data) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip: deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&z, data.size()) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip: deflate failed");
  return out;
}

namespace {

struct MapEntry {
  std::uint64_t start, limit, offset;
  std::string path;
};

// exec_mappings() lists the executable, file-backed mappings of this process, the main
// binary's first.
std::vector<MapEntry> exec_mappings() {
  std::vector<MapEntry> maps;
  std::ifstream in("/proc/self/maps");
  std::string line;
  while (std::getline(in, line)) {
    std::uint64_t start = 0, limit = 0, offset = 0;
    char perms[8] = {};
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %n", &start,
                    &limit, perms, &offset, &path_at) < 4)
      continue;
    if (perms[2] != 'x' || path_at <= 0 || static_cast<std::size_t>(path_at) >= line.size())
      continue;
    std::string path = line.substr(path_at);
    if (path.empty() || path[0] != '/') continue;  // [vdso], anonymous JIT, ...
    maps.push_back({start, limit, offset, path});
  }
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::string self(exe, static_cast<std::size_t>(n));
    std::stable_partition(maps.begin(), maps.end(),
                          [&](const MapEntry& m) { return m.path == self; });
  }
  return maps;
}

class Builder {
 public:
  Builder() {
    str("");
    auto maps = exec_mappings();
    for (std::size_t i = 0; i < maps.size(); i++) {
      pb::Mapping* m = p_.add_mapping();
      m->set_id(i + 1);
      m->set_memory_start(maps[i].start);
      m->set_memory_limit(maps[i].limit);
      m->set_file_offset(maps[i].offset);
      m->set_filename(str(maps[i].path));
      m->set_has_functions(true);
      m->set_has_filenames(true);
      m->set_has_line_numbers(true);
      m->set_has_inline_frames(true);
      maps_.push_back(maps[i]);
    }
  }

  pb::Profile& profile() { return p_; }

  std::int64_t str(const std::string& s) {
    auto [it, fresh] = strings_.emplace(s, static_cast<std::int64_t>(strings_.size()));
    if (fresh) p_.add_string_table(s);
    return it->second;
  }

  void value_type(pb::ValueType* vt, const char* type, const char* unit) {
    vt->set_type(str(type));
    vt->set_unit(str(unit));
  }

  // sample() adds a sample; `leaf_is_pc` says pcs[0] is an interrupted PC rather than a
  // return address.
  void sample(const std::vector<std::uintptr_t>& pcs, const Labels& labels,
              std::initializer_list<std::int64_t> values, bool leaf_is_pc) {
    pb::Sample* s = p_.add_sample();
    for (std::size_t i = 0; i < pcs.size(); i++)
      s->add_location_id(location(pcs[i], i == 0 && leaf_is_pc));
    for (std::int64_t v : values) s->add_value(v);
    for (auto& [k, v] : labels) {
      pb::Label* l = s->add_label();
      l->set_key(str(k));
      l->set_str(str(v));
    }
  }

  std::string finish() { return gzip(p_.SerializeAsString()); }

  Symbolizer& symbolizer() { return sym_; }

 private:
  std::uint64_t location(std::uintptr_t pc, bool is_pc) {
    auto [it, fresh] = locations_.emplace(pc, p_.location_size() + 1);
    if (!fresh) return it->second;
    pb::Location* loc = p_.add_location();
    loc->set_id(it->second);
    loc->set_address(pc);
    for (std::size_t i = 0; i < maps_.size(); i++) {
      if (pc >= maps_[i].start && pc < maps_[i].limit) {
        loc->set_mapping_id(i + 1);
        break;
      }
    }
    for (const SymFrame& f : sym_.frames(is_pc ? pc : pc - 1)) {
      pb::Line* line = loc->add_line();
      line->set_function_id(function(f));
      line->set_line(f.line);
    }
    return it->second;
  }

  std::uint64_t function(const SymFrame& f) {
    auto key = f.system_name + '\0' + f.file;
    auto [it, fresh] = functions_.emplace(key, p_.function_size() + 1);
    if (fresh) {
      pb::Function* fn = p_.add_function();
      fn->set_id(it->second);
      fn->set_name(str(f.function));
      fn->set_system_name(str(f.system_name.empty() ? f.function : f.system_name));
      fn->set_filename(str(f.file));
    }
    return it->second;
  }

  pb::Profile p_;
  Symbolizer sym_;
  std::vector<MapEntry> maps_;
  std::unordered_map<std::string, std::int64_t> strings_;
  std::unordered_map<std::uintptr_t, std::uint64_t> locations_;
  std::unordered_map<std::string, std::uint64_t> functions_;
};

std::int64_t unix_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// offline() runs the symbolizing work off the scheduler when called from a fiber.
template <class F>
auto offline(F&& f) -> decltype(f()) {
  if (weft::in_fiber()) return weft::blocking(std::forward<F>(f));
  return f();
}

const char* state_text(const FiberInfo& f) {
  return f.state == FiberState::waiting ? to_string(f.wait_reason) : to_string(f.state);
}

// Group fibers by (stack, labels), keeping first-seen order.
struct Group {
  const profile::FiberStack* first;
  std::int64_t count;
};
std::vector<Group> group_fibers(const std::vector<profile::FiberStack>& fibers) {
  std::vector<Group> groups;
  std::map<std::pair<std::vector<std::uintptr_t>, Labels>, std::size_t> index;
  for (auto& f : fibers) {
    auto [it, fresh] = index.emplace(std::make_pair(f.pcs, f.labels), groups.size());
    if (fresh) groups.push_back({&f, 0});
    groups[it->second].count++;
  }
  std::stable_sort(groups.begin(), groups.end(),
                   [](const Group& a, const Group& b) { return a.count > b.count; });
  return groups;
}

std::string labels_json(const Labels& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (auto& [k, v] : labels) j[k] = v;
  return j.dump();
}

}  // namespace

std::string cpu_proto(const profile::CpuProfile& prof) {
  return offline([&] {
    Builder b;
    auto& p = b.profile();
    b.value_type(p.add_sample_type(), "samples", "count");
    b.value_type(p.add_sample_type(), "cpu", "nanoseconds");
    b.value_type(p.mutable_period_type(), "cpu", "nanoseconds");
    p.set_period(prof.period_ns);
    p.set_time_nanos(prof.start_ns ? prof.start_ns : unix_now_ns());
    p.set_duration_nanos(prof.duration_ns);
    for (auto& s : prof.samples) b.sample(s.pcs, s.labels, {s.count, s.value}, true);
    return b.finish();
  });
}

std::string contention_proto(const std::vector<profile::Sample>& samples, std::int64_t period) {
  return offline([&] {
    Builder b;
    auto& p = b.profile();
    b.value_type(p.add_sample_type(), "contentions", "count");
    b.value_type(p.add_sample_type(), "delay", "nanoseconds");
    b.value_type(p.mutable_period_type(), "contentions", "count");
    p.set_period(period > 0 ? period : 1);
    p.set_time_nanos(unix_now_ns());
    for (auto& s : samples) b.sample(s.pcs, s.labels, {s.count, s.value}, false);
    return b.finish();
  });
}

std::string fibers_proto(const std::vector<profile::FiberStack>& fibers) {
  return offline([&] {
    Builder b;
    auto& p = b.profile();
    b.value_type(p.add_sample_type(), "goroutine", "count");
    b.value_type(p.mutable_period_type(), "goroutine", "count");
    p.set_period(1);
    p.set_time_nanos(unix_now_ns());
    for (auto& g : group_fibers(fibers)) b.sample(g.first->pcs, g.first->labels, {g.count}, false);
    return b.finish();
  });
}

std::string fibers_text(const std::vector<profile::FiberStack>& fibers, int debug) {
  return offline([&] {
    Symbolizer sym;
    std::ostringstream os;
    char buf[64];
    if (debug <= 1) {
      os << "goroutine profile: total " << fibers.size() << "\n";
      for (auto& g : group_fibers(fibers)) {
        os << g.count << " @";
        for (auto pc : g.first->pcs) {
          std::snprintf(buf, sizeof buf, " 0x%" PRIxPTR, pc);
          os << buf;
        }
        os << "\n";
        if (!g.first->labels.empty()) os << "# labels: " << labels_json(g.first->labels) << "\n";
        for (auto pc : g.first->pcs) {
          for (const SymFrame& f : sym.frames(pc - 1)) {
            std::snprintf(buf, sizeof buf, "#\t0x%" PRIxPTR "\t", pc);
            os << buf << f.function;
            if (f.start) {
              std::snprintf(buf, sizeof buf, "+0x%" PRIxPTR, pc - f.start);
              os << buf;
            }
            os << "\t" << f.file << ":" << f.line << "\n";
          }
        }
        os << "\n";
      }
      return os.str();
    }
    std::int64_t now = weft::now_ns();
    for (auto& f : fibers) {
      const FiberInfo& info = f.info;
      os << "goroutine " << info.id;
      if (!info.name.empty()) os << " \"" << info.name << "\"";
      os << " [" << state_text(info);
      if (info.state_since_ns > 0 && info.state != FiberState::running) {
        std::int64_t minutes = (now - info.state_since_ns) / (60 * std::int64_t{1000000000});
        if (minutes >= 1) os << ", " << minutes << " minutes";
      }
      os << "]:\n";
      if (!f.labels.empty()) os << "labels: " << labels_json(f.labels) << "\n";
      for (auto pc : f.pcs) {
        for (const SymFrame& fr : sym.frames(pc - 1)) {
          os << fr.function << "\n\t" << (fr.file.empty() ? "?" : fr.file) << ":" << fr.line;
          if (fr.start) {
            std::snprintf(buf, sizeof buf, " +0x%" PRIxPTR, pc - fr.start);
            os << buf;
          }
          os << "\n";
        }
      }
      if (f.pcs.empty() && info.state == FiberState::running)
        os << "\t(running on another thread)\n";
      os << "created by " << info.created_function << "\n\t" << info.created_file << ":"
         << info.created_line << "\n\n";
    }
    return os.str();
  });
}

std::string symbolize_text(const std::string& query) {
  return offline([&] {
    Symbolizer sym;
    std::string out;
    std::size_t i = 0;
    char buf[64];
    while (i < query.size()) {
      std::size_t j = query.find_first_of("+ \t\r\n", i);
      if (j == std::string::npos) j = query.size();
      std::string tok = query.substr(i, j - i);
      i = j + 1;
      if (tok.empty()) continue;
      char* end = nullptr;
      std::uintptr_t pc = std::strtoull(tok.c_str(), &end, 16);
      if (end == tok.c_str() || pc == 0) continue;
      const SymFrame& f = sym.frames(pc).back();
      if (f.function == "??") continue;
      std::snprintf(buf, sizeof buf, "0x%" PRIxPTR " ", pc);
      out += buf + f.function + "\n";
    }
    return out;
  });
}

}  // namespace weft::debug
