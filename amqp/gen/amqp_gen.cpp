// amqp_gen: generates weft's AMQP 0-9-1 codec from the protocol's XML spec.
//
//   amqp_gen SPEC.xml OVERLAY.xml OUT.h OUT.cpp
//
// SPEC is RabbitMQ's extended 0-9-1 spec (Debian's amqp-specs package); OVERLAY adds
// what it lacks (amqp/spec/rabbitmq-overlay.xml): constants are added or replaced by
// name, classes matched by name, methods added or replaced by name within their class.
// The output (namespace weft::amqp) has, for every method, a struct with typed fields,
// its ids, whether it is synchronous and carries content, encode/decode; a Method
// variant over all of them with decode_method()/encode_method(); the reply-code
// constants with their soft/hard class; BasicProperties with its flag bits; and the
// spec's domain checks (length, not-null, the name character rule).
//
// The XML is read with expat; nothing here is hand-written per method.
#include <expat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Assert {
  std::string check, value;
};
struct Field {
  std::string name, domain, type;  // type resolved from the domain
  bool reserved = false;
  std::vector<Assert> asserts;  // the field's own and its domain's
};
struct Method {
  std::string name;
  int index = 0;
  bool synchronous = false, content = false;
  std::vector<std::string> responses;
  std::vector<Field> fields;
};
struct Class {
  std::string name;
  int index = 0;
  std::vector<Field> properties;  // content header properties (basic)
  std::vector<Method> methods;
};
struct Constant {
  std::string name, value, cls;
};
struct Domain {
  std::string type;
  std::vector<Assert> asserts;
};

struct Spec {
  std::vector<Constant> constants;
  std::map<std::string, Domain> domains;
  std::vector<Class> classes;
};

// ---- parsing ------------------------------------------------------------------------

struct ParseState {
  Spec* spec;
  std::vector<std::string> stack;  // element names
  Class* cls = nullptr;
  Method* method = nullptr;
  Field* field = nullptr;
  std::string domain;  // current <domain> name
};

std::string attr(const XML_Char** atts, const char* name) {
  for (int i = 0; atts[i]; i += 2)
    if (std::string(atts[i]) == name) return atts[i + 1];
  return "";
}

void on_start(void* ud, const XML_Char* el, const XML_Char** atts) {
  auto* st = static_cast<ParseState*>(ud);
  std::string e = el;
  Spec& spec = *st->spec;
  if (e == "constant") {
    Constant c{attr(atts, "name"), attr(atts, "value"), attr(atts, "class")};
    bool replaced = false;
    for (Constant& old : spec.constants)
      if (old.name == c.name) old = c, replaced = true;
    if (!replaced) spec.constants.push_back(c);
  } else if (e == "domain") {
    st->domain = attr(atts, "name");
    spec.domains[st->domain] = Domain{attr(atts, "type"), {}};
  } else if (e == "class") {
    std::string name = attr(atts, "name");
    st->cls = nullptr;
    for (Class& c : spec.classes)
      if (c.name == name) st->cls = &c;
    if (!st->cls) {
      spec.classes.push_back(Class{name, std::atoi(attr(atts, "index").c_str()), {}, {}});
      st->cls = &spec.classes.back();
    }
  } else if (e == "method" && st->cls) {
    Method m;
    m.name = attr(atts, "name");
    m.index = std::atoi(attr(atts, "index").c_str());
    m.synchronous = attr(atts, "synchronous") == "1";
    m.content = attr(atts, "content") == "1";
    st->method = nullptr;
    for (Method& old : st->cls->methods)
      if (old.name == m.name) old = m, st->method = &old;
    if (!st->method) {
      st->cls->methods.push_back(m);
      st->method = &st->cls->methods.back();
    }
  } else if (e == "response" && st->method) {
    st->method->responses.push_back(attr(atts, "name"));
  } else if (e == "field" && st->cls) {
    Field f;
    f.name = attr(atts, "name");
    f.domain = attr(atts, "domain");
    f.type = attr(atts, "type");
    f.reserved = attr(atts, "reserved") == "1";
    auto& list = st->method ? st->method->fields : st->cls->properties;
    list.push_back(f);
    st->field = &list.back();
  } else if (e == "assert") {
    Assert a{attr(atts, "check"), attr(atts, "value")};
    if (st->field)
      st->field->asserts.push_back(a);
    else if (!st->domain.empty())
      spec.domains[st->domain].asserts.push_back(a);
  }
  st->stack.push_back(e);
}

void on_end(void* ud, const XML_Char* el) {
  auto* st = static_cast<ParseState*>(ud);
  std::string e = el;
  if (e == "field") st->field = nullptr;
  if (e == "method") st->method = nullptr;
  if (e == "class") st->cls = nullptr;
  if (e == "domain") st->domain.clear();
  st->stack.pop_back();
}

void parse(const char* path, Spec* spec) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "amqp_gen: cannot read %s\n", path);
    std::exit(1);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string xml = ss.str();
  XML_Parser p = XML_ParserCreate(nullptr);
  ParseState st{spec, {}, nullptr, nullptr, nullptr, {}};
  XML_SetUserData(p, &st);
  XML_SetElementHandler(p, on_start, on_end);
  if (XML_Parse(p, xml.data(), static_cast<int>(xml.size()), 1) == XML_STATUS_ERROR) {
    std::fprintf(stderr, "amqp_gen: %s:%lu: %s\n", path, XML_GetCurrentLineNumber(p),
                 XML_ErrorString(XML_GetErrorCode(p)));
    std::exit(1);
  }
  XML_ParserFree(p);
}

// Vectors of classes/methods may reallocate while parsing; pointers into them are only
// held within one element, and push_back happens at element start. Resolve types after.
void resolve(Spec* spec) {
  auto fix = [&](Field& f) {
    if (f.type.empty()) {
      auto it = spec->domains.find(f.domain);
      if (it == spec->domains.end()) {
        std::fprintf(stderr, "amqp_gen: unknown domain %s\n", f.domain.c_str());
        std::exit(1);
      }
      f.type = it->second.type;
      f.asserts.insert(f.asserts.begin(), it->second.asserts.begin(), it->second.asserts.end());
    }
  };
  for (Class& c : spec->classes) {
    for (Field& f : c.properties) fix(f);
    for (Method& m : c.methods)
      for (Field& f : m.fields) fix(f);
  }
}

// ---- emitting -----------------------------------------------------------------------

std::string camel(const std::string& s) {
  std::string out;
  bool up = true;
  for (char ch : s) {
    if (ch == '-' || ch == '_' || ch == '.') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : ch;
    up = false;
  }
  return out;
}

std::string snake(const std::string& s) {
  std::string out;
  for (char ch : s) out += ch == '-' ? '_' : ch;
  return out;
}

std::string upper_snake(const std::string& s) {
  std::string out;
  for (char ch : s) out += ch == '-' ? '_' : static_cast<char>(std::toupper(ch));
  return out;
}

std::string cpp_type(const std::string& t) {
  if (t == "bit") return "bool";
  if (t == "octet") return "std::uint8_t";
  if (t == "short") return "std::uint16_t";
  if (t == "long") return "std::uint32_t";
  if (t == "longlong") return "std::uint64_t";
  if (t == "timestamp") return "std::uint64_t";
  if (t == "shortstr" || t == "longstr") return "std::string";
  if (t == "table") return "FieldTable";
  std::fprintf(stderr, "amqp_gen: unknown type %s\n", t.c_str());
  std::exit(1);
}

// read_stmt(): decode a field of type t into the lvalue v, reusing a string's capacity.
std::string read_stmt(const std::string& t, const std::string& v) {
  if (t == "bit") return v + " = r.bit();";
  if (t == "octet") return v + " = r.u8();";
  if (t == "short") return v + " = r.u16();";
  if (t == "long") return v + " = r.u32();";
  if (t == "longlong" || t == "timestamp") return v + " = r.u64();";
  if (t == "shortstr") return "r.shortstr_into(" + v + ");";
  if (t == "longstr") return "r.longstr_into(" + v + ");";
  return v + " = r.table();";
}

// skip_stmt(): read past a field of type t, checking it as read_stmt() would (a table
// is decoded and dropped: its entries are checked only by decoding them).
std::string skip_stmt(const std::string& t) {
  if (t == "bit") return "r.bit();";
  if (t == "octet") return "r.u8();";
  if (t == "short") return "r.u16();";
  if (t == "long") return "r.u32();";
  if (t == "longlong" || t == "timestamp") return "r.u64();";
  if (t == "shortstr") return "r.bytes(r.u8());";
  if (t == "longstr") return "r.bytes(r.u32());";
  return "r.table();";
}

// fixed_size(): a field's size on the wire if it does not depend on the value, else 0.
std::size_t fixed_size(const std::string& t) {
  if (t == "octet") return 1;
  if (t == "short") return 2;
  if (t == "long") return 4;
  if (t == "longlong" || t == "timestamp") return 8;
  return 0;
}

// size_expr(): the size of a variable-size field's value v (these throw CodecError for
// a value the wire cannot carry).
std::string size_expr(const std::string& t, const std::string& v) {
  if (t == "shortstr") return "wire::shortstr_size(" + v + ")";
  if (t == "longstr") return "wire::longstr_size(" + v + ")";
  return "wire::table_size(" + v + ")";
}

// put_stmt(): write a non-bit field's value v at p.
std::string put_stmt(const std::string& t, const std::string& v) {
  if (t == "octet") return "p = wire::put_u8(p, " + v + ");";
  if (t == "short") return "p = wire::put_u16(p, " + v + ");";
  if (t == "long") return "p = wire::put_u32(p, " + v + ");";
  if (t == "longlong" || t == "timestamp") return "p = wire::put_u64(p, " + v + ");";
  if (t == "shortstr") return "p = wire::put_shortstr(p, " + v + ");";
  if (t == "longstr") return "p = wire::put_longstr(p, " + v + ");";
  return "p = wire::put_table(p, " + v + ");";
}

// A method's arguments as runs: consecutive bits share octets, low bit first, up to 8.
struct Run {
  std::vector<const Field*> fields;  // one field, or up to 8 bits
  bool bits = false;
};
std::vector<Run> runs(const std::vector<Field>& fields) {
  std::vector<Run> out;
  for (const Field& f : fields) {
    const bool bit = f.type == "bit";
    if (bit && !out.empty() && out.back().bits && out.back().fields.size() < 8) {
      out.back().fields.push_back(&f);
      continue;
    }
    out.push_back(Run{{&f}, bit});
  }
  return out;
}

void emit(const Spec& spec, std::ostream& h, std::ostream& c) {
  h << "// Generated by amqp/gen/amqp_gen.cpp from the AMQP 0-9-1 spec XML. Do not edit.\n"
       "#pragma once\n\n#include <cstdint>\n#include <optional>\n#include <string>\n"
       "#include <string_view>\n#include <variant>\n\n#include \"weft/amqp/types.h\"\n\n"
       "namespace weft::amqp {\n\n";

  // Constants: frame types and sizes, and reply codes with their class.
  h << "// ---- constants ----\n";
  for (const Constant& k : spec.constants)
    h << "inline constexpr int k" << camel(k.name) << " = " << k.value << ";\n";
  h << "\nenum class ReplyCode : std::uint16_t {\n";
  for (const Constant& k : spec.constants)
    if (!k.cls.empty() || k.name == "reply-success")
      h << "  " << snake(k.name) << " = " << k.value << ",\n";
  h << "};\n"
       "// is_hard_error(): the code closes the connection (else the channel).\n"
       "bool is_hard_error(ReplyCode code);\n"
       "// reply_code_name(): the spec's name in RabbitMQ's style, e.g. \"NOT_FOUND\".\n"
       "const char* reply_code_name(ReplyCode code);\n\n";
  c << "// Generated by amqp/gen/amqp_gen.cpp from the AMQP 0-9-1 spec XML. Do not edit.\n"
       "#include \"weft/amqp/spec.h\"\n\n#include <algorithm>\n\nnamespace weft::amqp {\n\n"
       "bool is_hard_error(ReplyCode code) {\n  switch (code) {\n";
  for (const Constant& k : spec.constants)
    if (k.cls == "hard-error") c << "    case ReplyCode::" << snake(k.name) << ":\n";
  c << "      return true;\n    default:\n      return false;\n  }\n}\n\n"
       "const char* reply_code_name(ReplyCode code) {\n  switch (code) {\n";
  for (const Constant& k : spec.constants)
    if (!k.cls.empty() || k.name == "reply-success")
      c << "    case ReplyCode::" << snake(k.name) << ":\n      return \"" << upper_snake(k.name)
        << "\";\n";
  c << "  }\n  return \"UNKNOWN\";\n}\n\n";

  // Domain checks shared by every method.
  c << "namespace {\n"
       "// The spec's name rule: ^[a-zA-Z0-9-_.:]*$\n"
       "bool name_chars_ok(std::string_view s) {\n"
       "  return std::all_of(s.begin(), s.end(), [](char ch) {\n"
       "    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= "
       "'9') ||\n"
       "           ch == '-' || ch == '_' || ch == '.' || ch == ':';\n  });\n}\n"
       "}  // namespace\n\n";

  // Method structs.
  h << "// ---- methods ----\n";
  h << "// A domain check that failed: which field, and why (for a 406 or 502 reply text).\n"
       "struct DomainError {\n  const char* field;\n  const char* rule;\n};\n\n";
  std::vector<std::pair<const Class*, const Method*>> all;
  for (const Class& cl : spec.classes)
    for (const Method& m : cl.methods) all.emplace_back(&cl, &m);
  for (auto [cl, m] : all) {
    const std::string name = camel(cl->name) + camel(m->name);
    h << "struct " << name << " {\n"
      << "  static constexpr std::uint16_t kClassId = " << cl->index << ";\n"
      << "  static constexpr std::uint16_t kMethodId = " << m->index << ";\n"
      << "  static constexpr bool kSynchronous = " << (m->synchronous ? "true" : "false") << ";\n"
      << "  static constexpr bool kHasContent = " << (m->content ? "true" : "false") << ";\n"
      << "  static constexpr const char* kName = \"" << cl->name << "." << m->name << "\";\n";
    for (const Field& f : m->fields) {
      std::string init = f.type == "bit"
                             ? "false"
                             : (cpp_type(f.type).find("int") != std::string::npos ? "0" : "");
      h << "  " << cpp_type(f.type) << " " << snake(f.name)
        << (init.empty() ? "{}" : "{" + init + "}") << ";" << (f.reserved ? "  // reserved" : "")
        << "\n";
    }
    h << "\n  void encode(Writer& w) const;\n"
         "  // encoded_size(): the arguments' size on the wire (CodecError if they cannot be\n"
         "  // encoded); encode_to() writes exactly that many bytes at p and returns the end.\n"
         "  std::size_t encoded_size() const;\n"
         "  char* encode_to(char* p) const;\n"
         "  static "
      << name
      << " decode(Reader& r);\n"
         "  // decode_into() decodes over this method's fields, reusing their strings.\n"
         "  void decode_into(Reader& r);\n"
         "  // check() applies the spec's domain rules; nullopt if they all hold.\n"
         "  std::optional<DomainError> check() const;\n"
         "  bool operator==(const "
      << name << "&) const = default;\n};\n\n";

    const std::vector<Run> rs = runs(m->fields);
    std::size_t fixed = 0;
    std::string dynamic;
    for (const Run& run : rs) {
      const std::string& t = run.fields[0]->type;
      if (run.bits)
        fixed += 1;
      else if (fixed_size(t))
        fixed += fixed_size(t);
      else
        dynamic += " + " + size_expr(t, snake(run.fields[0]->name));
    }
    c << "std::size_t " << name << "::encoded_size() const { return " << fixed << dynamic
      << "; }\n\n";
    c << "char* " << name << "::encode_to(char* p) const {\n";
    for (const Run& run : rs) {
      if (!run.bits) {
        c << "  " << put_stmt(run.fields[0]->type, snake(run.fields[0]->name)) << "\n";
        continue;
      }
      c << "  p = wire::put_u8(p, std::uint8_t(";
      for (std::size_t i = 0; i < run.fields.size(); i++)
        c << (i ? " | " : "") << "(" << snake(run.fields[i]->name) << " ? " << (1u << i)
          << "u : 0u)";
      c << "));\n";
    }
    c << "  return p;\n}\n\n";
    c << "void " << name
      << "::encode(Writer& w) const { encode_to(w.extend(encoded_size())); }\n\n";
    c << name << " " << name << "::decode(Reader& r) {\n  " << name
      << " m;\n  m.decode_into(r);\n  return m;\n}\n\n";
    c << "void " << name << "::decode_into([[maybe_unused]] Reader& r) {\n";
    bool in_bits = false;
    for (const Field& f : m->fields) {
      if (in_bits && f.type != "bit") c << "  r.end_bits();\n";
      in_bits = f.type == "bit";
      c << "  " << read_stmt(f.type, snake(f.name)) << "\n";
    }
    c << "  r.end_bits();\n}\n\n";
    c << "std::optional<DomainError> " << name << "::check() const {\n";
    for (const Field& f : m->fields) {
      for (const Assert& a : f.asserts) {
        const std::string v = snake(f.name);
        if (a.check == "length")
          c << "  if (" << v << ".size() > " << a.value << ") return DomainError{\"" << f.name
            << "\", \"longer than " << a.value << "\"};\n";
        else if (a.check == "notnull" && cpp_type(f.type) == "std::string")
          c << "  if (" << v << ".empty()) return DomainError{\"" << f.name
            << "\", \"must not be empty\"};\n";
        else if (a.check == "notnull" && cpp_type(f.type).find("int") != std::string::npos)
          c << "  if (" << v << " == 0) return DomainError{\"" << f.name
            << "\", \"must not be zero\"};\n";
        else if (a.check == "regexp")
          c << "  if (!name_chars_ok(" << v << ")) return DomainError{\"" << f.name
            << "\", \"may hold only letters, digits, '-', '_', '.' and ':'\"};\n";
        // "le", "syntax", "enum" relate fields of different methods: the broker checks them.
      }
    }
    c << "  return std::nullopt;\n}\n\n";
  }

  // The variant and dispatch.
  h << "// Method: any method of the protocol.\nusing Method = std::variant<";
  for (std::size_t i = 0; i < all.size(); i++)
    h << (i ? ", " : "") << camel(all[i].first->name) << camel(all[i].second->name);
  h << ">;\n\n"
       "struct MethodInfo {\n  std::uint16_t class_id, method_id;\n  const char* name;\n"
       "  bool synchronous, has_content;\n};\n"
       "// method_info() describes a method by its ids; nullptr if the protocol has none.\n"
       "const MethodInfo* method_info(std::uint16_t class_id, std::uint16_t method_id);\n"
       "const MethodInfo& method_info(const Method& m);\n"
       "// decode_method() decodes a method frame's payload (class id, method id, arguments).\n"
       "// Unknown ids: nullopt with *unknown set; malformed arguments: nullopt with r's error.\n"
       "std::optional<Method> decode_method(Reader& r, bool* unknown);\n"
       "// decode_method_into() decodes over m, reusing its alternative (and that one's\n"
       "// strings) when the frame holds the same method; false as decode_method's nullopt.\n"
       "bool decode_method_into(Reader& r, Method& m, bool* unknown);\n"
       "// encode_method() appends class id, method id and arguments; encoded_size() is\n"
       "// their size and encode_method_to() writes them at p, returning the end.\n"
       "void encode_method(const Method& m, Writer& w);\n"
       "std::size_t encoded_size(const Method& m);\n"
       "char* encode_method_to(char* p, const Method& m);\n"
       "std::optional<DomainError> check_method(const Method& m);\n\n";

  c << "namespace {\nconst MethodInfo kMethods[] = {\n";
  for (auto [cl, m] : all)
    c << "    {" << cl->index << ", " << m->index << ", \"" << cl->name << "." << m->name << "\", "
      << (m->synchronous ? "true" : "false") << ", " << (m->content ? "true" : "false") << "},\n";
  c << "};\n}  // namespace\n\n";
  c << "const MethodInfo* method_info(std::uint16_t class_id, std::uint16_t method_id) {\n"
       "  for (const MethodInfo& i : kMethods)\n"
       "    if (i.class_id == class_id && i.method_id == method_id) return &i;\n"
       "  return nullptr;\n}\n\n"
       "const MethodInfo& method_info(const Method& m) { return kMethods[m.index()]; }\n\n";
  c << "bool decode_method_into(Reader& r, Method& m, bool* unknown) {\n"
       "  *unknown = false;\n  const std::uint32_t id = std::uint32_t(r.u16()) << 16;\n"
       "  const std::uint32_t key = id | r.u16();\n  if (!r.ok()) return false;\n"
       "  switch (key) {\n";
  for (auto [cl, m] : all) {
    const std::string name = camel(cl->name) + camel(m->name);
    c << "    case " << ((cl->index << 16) | m->index) << ": {  // " << cl->name << "." << m->name
      << "\n      auto* x = std::get_if<" << name << ">(&m);\n"
      << "      (x ? *x : m.emplace<" << name << ">()).decode_into(r);\n"
      << "      return r.ok();\n    }\n";
  }
  c << "    default:\n      *unknown = true;\n      return false;\n  }\n}\n\n";
  c << "std::optional<Method> decode_method(Reader& r, bool* unknown) {\n"
       "  std::optional<Method> m(std::in_place);\n"
       "  if (!decode_method_into(r, *m, unknown)) return std::nullopt;\n  return m;\n}\n\n";
  c << "std::size_t encoded_size(const Method& m) {\n"
       "  return 4 + std::visit([](const auto& x) { return x.encoded_size(); }, m);\n}\n\n"
       "char* encode_method_to(char* p, const Method& m) {\n"
       "  return std::visit([p](const auto& x) {\n"
       "    return x.encode_to(wire::put_u16(wire::put_u16(p, x.kClassId), x.kMethodId));\n"
       "  }, m);\n}\n\n"
       "void encode_method(const Method& m, Writer& w) {\n"
       "  encode_method_to(w.extend(encoded_size(m)), m);\n}\n\n"
       "std::optional<DomainError> check_method(const Method& m) {\n"
       "  return std::visit([](const auto& x) { return x.check(); }, m);\n}\n\n";

  // Content header properties (basic is the only class with content in 0-9-1).
  for (const Class& cl : spec.classes) {
    if (cl.properties.empty()) continue;
    const std::string name = camel(cl.name) + "Properties";
    h << "// " << name << ": the " << cl.name
      << " content header's properties; each is present or not (its flag bit).\n"
      << "struct " << name << " {\n  static constexpr std::uint16_t kClassId = " << cl.index
      << ";\n";
    int bit = 15;
    for (const Field& f : cl.properties) {
      h << "  static constexpr std::uint16_t kFlag" << camel(f.name) << " = 1u << " << bit--
        << ";\n";
    }
    for (const Field& f : cl.properties)
      h << "  std::optional<" << cpp_type(f.type) << "> " << snake(f.name) << ";\n";
    h << "\n  std::uint16_t flags() const;\n  void encode(Writer& w) const;  // flags, then the "
         "present properties\n"
         "  std::size_t encoded_size() const;  // as a method's\n"
         "  char* encode_to(char* p) const;\n"
         "  static "
      << name
      << " decode(Reader& r);\n"
         "  void decode_into(Reader& r);  // reuses the present strings' capacity\n"
         "  // skip(): reads past a property list, checking it as decode_into() does.\n"
         "  static void skip(Reader& r);\n"
         "  bool operator==(const "
      << name << "&) const = default;\n};\n\n";
    c << "std::uint16_t " << name << "::flags() const {\n  std::uint16_t f = 0;\n";
    for (const Field& f : cl.properties)
      c << "  if (" << snake(f.name) << ") f |= kFlag" << camel(f.name) << ";\n";
    c << "  return f;\n}\n\n";
    c << "std::size_t " << name << "::encoded_size() const {\n  std::size_t n = 2;\n";
    for (const Field& f : cl.properties) {
      const std::string v = snake(f.name);
      c << "  if (" << v << ") n += "
        << (fixed_size(f.type) ? std::to_string(fixed_size(f.type)) : size_expr(f.type, "*" + v))
        << ";\n";
    }
    c << "  return n;\n}\n\n";
    c << "char* " << name << "::encode_to(char* p) const {\n  p = wire::put_u16(p, flags());\n";
    for (const Field& f : cl.properties)
      c << "  if (" << snake(f.name) << ") " << put_stmt(f.type, "*" + snake(f.name)) << "\n";
    c << "  return p;\n}\n\n";
    c << "void " << name
      << "::encode(Writer& w) const { encode_to(w.extend(encoded_size())); }\n\n";
    c << name << " " << name << "::decode(Reader& r) {\n  " << name
      << " p;\n  p.decode_into(r);\n  return p;\n}\n\n";
    c << "void " << name
      << "::decode_into(Reader& r) {\n  const std::uint16_t f = r.u16();\n"
         "  if (f & 1) r.fail(\"property flag continuation is not supported\");\n";
    for (const Field& f : cl.properties) {
      const std::string v = snake(f.name);
      c << "  if (f & kFlag" << camel(f.name) << ")\n    " << read_stmt(f.type, v)
        << "\n  else\n    " << v << ".reset();\n";
    }
    c << "}\n\n";
    c << "void " << name
      << "::skip(Reader& r) {\n  const std::uint16_t f = r.u16();\n"
         "  if (f & 1) r.fail(\"property flag continuation is not supported\");\n";
    for (const Field& f : cl.properties)
      c << "  if (f & kFlag" << camel(f.name) << ") " << skip_stmt(f.type) << "\n";
    c << "}\n\n";
  }

  h << "}  // namespace weft::amqp\n";
  c << "}  // namespace weft::amqp\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: amqp_gen SPEC.xml OVERLAY.xml OUT.h OUT.cpp\n");
    return 2;
  }
  Spec spec;
  parse(argv[1], &spec);
  parse(argv[2], &spec);
  resolve(&spec);
  std::ostringstream h, c;
  emit(spec, h, c);
  std::ofstream(argv[3]) << h.str();
  std::ofstream(argv[4]) << c.str();
  return 0;
}
