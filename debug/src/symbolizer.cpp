// symbolizer.cpp: see symbolizer.h. libdw (elfutils) does the DWARF work: the module of
// an address (dwfl_addrmodule), its ELF symbol (dwfl_module_addrinfo), the line table
// (dwfl_module_getsrc) and the chain of scopes at the address (dwarf_getscopes), whose
// DW_TAG_inlined_subroutine entries are the inlined frames; each carries the call site
// (DW_AT_call_file/line) that becomes the next frame's position.
#include "symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <unistd.h>

#include <cstdlib>

namespace weft::debug {

std::string demangle(const char* name) {
  if (!name) return "??";
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || !d) return name;
  std::string out(d);
  std::free(d);
  return out;
}

namespace {

const Dwfl_Callbacks kCallbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = nullptr,
    .debuginfo_path = nullptr,
};

// die_name() is the linkage (mangled) name of a subprogram or inlined subroutine,
// following DW_AT_abstract_origin / DW_AT_specification, else its plain name.
const char* die_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  for (int at : {DW_AT_linkage_name, DW_AT_MIPS_linkage_name, DW_AT_name}) {
    if (dwarf_attr_integrate(die, at, &attr)) {
      if (const char* s = dwarf_formstring(&attr)) return s;
    }
  }
  return nullptr;
}

}  // namespace

struct Symbolizer::Impl {
  Dwfl* dwfl = nullptr;
  std::map<std::uintptr_t, std::vector<SymFrame>> cache;

  std::vector<SymFrame> lookup(std::uintptr_t pc);
};

Symbolizer::Symbolizer() : impl_(std::make_unique<Impl>()) {
  impl_->dwfl = dwfl_begin(&kCallbacks);
  if (!impl_->dwfl) return;
  dwfl_report_begin(impl_->dwfl);
  if (dwfl_linux_proc_report(impl_->dwfl, getpid()) != 0 ||
      dwfl_report_end(impl_->dwfl, nullptr, nullptr) != 0) {
    dwfl_end(impl_->dwfl);
    impl_->dwfl = nullptr;
  }
}

Symbolizer::~Symbolizer() {
  if (impl_->dwfl) dwfl_end(impl_->dwfl);
}

const std::vector<SymFrame>& Symbolizer::frames(std::uintptr_t pc) {
  auto it = impl_->cache.find(pc);
  if (it == impl_->cache.end()) it = impl_->cache.emplace(pc, impl_->lookup(pc)).first;
  return it->second;
}

std::vector<SymFrame> Symbolizer::Impl::lookup(std::uintptr_t pc) {
  SymFrame outer;
  outer.function = "??";
  Dwfl_Module* mod = dwfl ? dwfl_addrmodule(dwfl, pc) : nullptr;
  if (!mod) return {outer};

  GElf_Off offset = 0;
  GElf_Sym sym;
  if (const char* s = dwfl_module_addrinfo(mod, pc, &offset, &sym, nullptr, nullptr, nullptr)) {
    outer.system_name = s;
    outer.function = demangle(s);
    outer.start = pc - offset;
  }
  // Position of the instruction itself, from the line table.
  std::string file;
  int line = 0;
  if (Dwfl_Line* l = dwfl_module_getsrc(mod, pc)) {
    int lineno = 0;
    if (const char* f = dwfl_lineinfo(l, nullptr, &lineno, nullptr, nullptr, nullptr)) file = f;
    line = lineno;
  }

  std::vector<SymFrame> out;
  Dwarf_Addr bias = 0;
  Dwarf_Die* cu = dwfl_module_addrdie(mod, pc, &bias);
  Dwarf_Die* scopes = nullptr;
  int n = cu ? dwarf_getscopes(cu, pc - bias, &scopes) : 0;
  Dwarf_Files* files = nullptr;
  std::size_t nfiles = 0;
  if (cu) dwarf_getsrcfiles(cu, &files, &nfiles);
  for (int i = 0; i < n; i++) {
    int tag = dwarf_tag(&scopes[i]);
    if (tag != DW_TAG_inlined_subroutine) continue;
    // An inlined body: this frame is at (file, line); its caller is at the call site.
    SymFrame f;
    const char* name = die_name(&scopes[i]);
    f.system_name = name ? name : "??";
    f.function = demangle(name);
    f.file = file;
    f.line = line;
    f.start = outer.start;
    out.push_back(std::move(f));
    Dwarf_Attribute attr;
    Dwarf_Word w = 0;
    file.clear();
    line = 0;
    if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &attr), &w) == 0 && files) {
      if (const char* cf = dwarf_filesrc(files, w, nullptr, nullptr)) file = cf;
    }
    if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &attr), &w) == 0) {
      line = static_cast<int>(w);
    }
  }
  std::free(scopes);
  outer.file = file;
  outer.line = line;
  out.push_back(std::move(outer));
  return out;
}

}  // namespace weft::debug
