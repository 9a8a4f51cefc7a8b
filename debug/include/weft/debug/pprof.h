// weft/debug/pprof.h: the runtime's raw profiles (weft/profile.h) in the formats pprof
// and Go's users read.
//
// Binary profiles are pprof's profile.proto (compiled from Debian's copy of
// google/pprof's schema), gzip-compressed, with the sample types and periods Go's
// runtime/pprof writes, mappings from /proc/self/maps, and locations symbolized here
// with libdw (functions demangled, files and lines, inlined frames), so `go tool pprof`
// needs neither the binary nor its debug info. Each call symbolizes afresh, doing file
// I/O: call from a fiber (the work runs under weft::blocking) or a plain thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weft/profile.h"

namespace weft::debug {

// cpu_proto(): sample types samples/count and cpu/nanoseconds; period cpu/nanoseconds.
std::string cpu_proto(const profile::CpuProfile& p);
// contention_proto(): block and mutex profiles: contentions/count and delay/nanoseconds;
// `period` is the rate (block, ns) or fraction (mutex) in force.
std::string contention_proto(const std::vector<profile::Sample>& samples, std::int64_t period);
// fibers_proto(): the goroutine profile: goroutine/count, one sample per distinct
// (stack, labels) with the number of fibers there.
std::string fibers_proto(const std::vector<profile::FiberStack>& fibers);

// fibers_text(): debug=1: fibers grouped by stack, with counts, as Go's
// /debug/pprof/goroutine?debug=1; debug=2: every fiber in Go's panic style, with its
// wait reason and the minutes it has waited, its name and labels.
std::string fibers_text(const std::vector<profile::FiberStack>& fibers, int debug);

// symbolize_text() answers pprof's symbol protocol (POST /debug/pprof/symbol): `query`
// holds addresses ("0x4005d0+0x400600" or one per line); returns "0x4005d0 name\n" lines.
std::string symbolize_text(const std::string& query);

// gzip() compresses with zlib in gzip framing.
std::string gzip(const std::string& data);

}  // namespace weft::debug
