// stack_trim.h: sysmon's hook for giving back unused pages of long-parked fibers'
// stacks (stack_trim.cpp explains the protocol with ready()).
#pragma once

#include <cstdint>

namespace weft::detail {

// stack_trim_pass() trims every fiber that has been waiting for at least
// Sched::stack_trim_after ns at coarse time `now` (coarse_now()). Called by sysmon only.
void stack_trim_pass(std::int64_t now);

}  // namespace weft::detail
