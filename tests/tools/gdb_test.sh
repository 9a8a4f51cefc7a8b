#!/usr/bin/env bash
# gdb_test.sh PPROF_TARGET SOURCE_DIR
#
# tools/gdb/weft.py in a real gdb: pprof_target (tests/debug) stops itself with SIGTRAP
# once its fiber "parked-receiver" is parked on a channel receive; `weft fibers` must
# list that fiber with its wait reason, and `weft bt` must walk its stack from the saved
# context down to weft_test_wait_forever().
set -euo pipefail
target=$1
src=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
WEFT_TEST_GDB_TRAP=1 timeout 120 gdb -nx -batch \
  -ex "set debuginfod enabled off" \
  -ex "set pagination off" \
  -ex "source $src/tools/gdb/weft.py" \
  -ex run \
  -ex "weft fibers" \
  -ex 'python [gdb.execute("weft bt %d" % f[0]) for f in fibers() if f[3] == "parked-receiver"]' \
  -ex "kill" \
  --args "$target" >"$out" 2>&1 || true
fail() { echo "FAIL: $*"; cat "$out"; exit 1; }
grep -q "received signal SIGTRAP" "$out" || fail "the target did not stop"
grep -Eq "waiting \(chan receive\) +parked-receiver +created at .*pprof_target.cpp" "$out" ||
  fail "weft fibers does not list parked-receiver waiting on a chan receive"
grep -Eq '^[0-9]+ +fibers$' "$out" || fail "weft fibers printed no count"
grep -q '^fiber [0-9]* "parked-receiver" \[chan receive\]:' "$out" || fail "weft bt header"
grep -Eq '^#[0-9]+ .*weft_test_wait_forever' "$out" || fail "weft bt misses weft_test_wait_forever"
echo "gdb: weft fibers and weft bt work"
