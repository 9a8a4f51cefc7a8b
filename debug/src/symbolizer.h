// symbolizer.h: addresses of this process to functions, files and lines, with libdw.
//
// A Symbolizer reads this process's modules (/proc/self/maps, through libdw) once and
// answers per address, inlined frames included: a return address inside an inlined call
// yields the inlined function first and then each caller it was inlined into, as pprof's
// Location.line list wants. Results are cached per address. Not thread safe: make one per
// profile; construction does file I/O (call it under weft::blocking).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace weft::debug {

struct SymFrame {
  std::string function;     // demangled; "??" if unknown
  std::string system_name;  // as in the symbol table (mangled)
  std::string file;         // "" if unknown
  int line = 0;
  std::uintptr_t start = 0;  // the function's first address (0 if unknown)
};

class Symbolizer {
 public:
  Symbolizer();
  ~Symbolizer();
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // frames() describes the instruction at `pc`, innermost (inlined) frame first; never
  // empty. Pass a return address minus one to describe a call site.
  const std::vector<SymFrame>& frames(std::uintptr_t pc);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// demangle() is the demangled C++ name, or `name` itself when it is not mangled.
std::string demangle(const char* name);

}  // namespace weft::debug
