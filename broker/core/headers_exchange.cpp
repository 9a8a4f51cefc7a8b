// core/headers_exchange.cpp: see core/headers_exchange.h.
#include "core/headers_exchange.h"

namespace weftd {

using weft::amqp::FieldTable;
using weft::amqp::FieldValue;

bool HeadersExchange::matches(const FieldTable& args, const FieldTable* headers) {
  std::string mode = "all";
  if (const FieldValue* m = args.find("x-match"))
    if (const auto* s = m->get<std::string>()) mode = *s;
  const bool any = mode == "any" || mode == "any-with-x";
  const bool with_x = mode == "all-with-x" || mode == "any-with-x";
  for (const auto& [k, v] : args) {
    if (k == "x-match" || (!with_x && k.rfind("x-", 0) == 0)) continue;
    const FieldValue* h = headers ? headers->find(k) : nullptr;
    // A void binding value matches on presence alone.
    bool ok = h && (v.get<weft::amqp::Void>() ? true : *h == v);
    if (any && ok) return true;
    if (!any && !ok) return false;
  }
  return !any;  // all: every one matched (none to match: all do); any: none matched
}

void HeadersExchange::route_locked(RoutingInput& in, std::vector<Destination>* out) {
  const FieldTable* headers = in.headers();
  for (const auto& [id, bd] : bound_)
    for (const Binding& b : bd.bindings)
      if (matches(b.args, headers)) {
        out->push_back(bd.dest);
        break;  // once per destination
      }
}

}  // namespace weftd
