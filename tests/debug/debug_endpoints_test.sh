#!/usr/bin/env bash
# debug_endpoints_test.sh PPROF_TARGET WEFTD
#
# Fetches every /debug endpoint of a live weft program (tests/debug/pprof_target.cpp,
# whose fibers behave in known ways) with curl, and reads the profiles with a real pprof
# (Debian golang-go's `go tool pprof`); then checks weftd serves them on its admin port.
set -euo pipefail
target=$1
weftd=$2
work=$(mktemp -d)
export HOME=$work PPROF_TMPDIR=$work/pprof GOCACHE=$work/gocache GOFLAGS=-mod=mod
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pprof() { go tool pprof "$@" 2>"$work/pprof.err" || { cat "$work/pprof.err" >&2; return 1; }; }
# get URL: the body on stdout, fetched whole before anyone reads it (a `curl | grep -q`
# under pipefail fails when grep stops reading early).
get() { curl -sf "$@" >"$work/body" || fail "curl $*"; cat "$work/body"; }

# ---- a program with known behaviour ----------------------------------------------------
"$target" >"$work/target.out" 2>"$work/target.err" &
target_pid=$!
pids+=("$target_pid")
for _ in $(seq 1 200); do
  grep -q "^listening on " "$work/target.out" && break
  sleep 0.05
done
addr=$(sed -n 's/^listening on //p' "$work/target.out")
[ -n "$addr" ] || { cat "$work/target.err"; fail "pprof_target did not start"; }
base="http://$addr/debug"
echo "target serving $base"

# index, cmdline, 404
get "$base/pprof/" | grep -q 'href="goroutine?debug=1"' || fail "index page"
get "$base/pprof/cmdline" | tr '\0' ' ' | grep -q pprof_target || fail "cmdline"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/pprof/no-such-profile")
[ "$code" = 404 ] || fail "unknown profile gave $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/pprof/profile?seconds=x")
[ "$code" = 400 ] || fail "bad seconds gave $code"

# CPU: pprof fetches the profile itself, as a user would; the burner's function is named
# and its samples carry the fiber's labels.
pprof -top "$base/pprof/profile?seconds=2" >"$work/cpu.top"
grep -q weft_test_burn_cpu "$work/cpu.top" || { cat "$work/cpu.top"; fail "CPU profile misses weft_test_burn_cpu"; }
cpu_file=$(ls "$work"/pprof/pprof.*.pb.gz | head -1)
pprof -top -tagfocus role=burner "$cpu_file" >"$work/cpu.tag"
grep -q weft_test_burn_cpu "$work/cpu.tag" || { cat "$work/cpu.tag"; fail "label role=burner"; }
pprof -tags "$cpu_file" >"$work/tags.txt"
grep -q burner "$work/tags.txt" || fail "pprof -tags does not list role=burner"

# Block: the receive site of a fiber made to wait.
curl -sf -o "$work/block.pb.gz" "$base/pprof/block"
pprof -traces "$work/block.pb.gz" >"$work/block.txt"
grep -q weft_test_receive_after_delay "$work/block.txt" || { cat "$work/block.txt"; fail "block profile"; }
pprof -raw "$work/block.pb.gz" >"$work/block.raw"
grep -q "delay" "$work/block.raw" || fail "block profile sample types"

# Mutex: the contended lock's site.
curl -sf -o "$work/mutex.pb.gz" "$base/pprof/mutex"
pprof -traces "$work/mutex.pb.gz" >"$work/mutex.txt"
grep -q weft_test_contend "$work/mutex.txt" || { cat "$work/mutex.txt"; fail "mutex profile"; }

# Fibers: proto, grouped text, and every fiber panic-style.
curl -sf -o "$work/goroutine.pb.gz" "$base/pprof/goroutine"
pprof -traces "$work/goroutine.pb.gz" >"$work/g0.txt"
grep -q weft_test_wait_forever "$work/g0.txt" || fail "goroutine proto"
curl -sf "$base/pprof/goroutine?debug=1" >"$work/g1.txt"
grep -q "^goroutine profile: total [0-9]" "$work/g1.txt" || fail "goroutine debug=1 header"
grep -q "weft_test_wait_forever" "$work/g1.txt" || { cat "$work/g1.txt"; fail "goroutine debug=1 stacks"; }
curl -sf "$base/pprof/goroutine?debug=2" >"$work/g2.txt"
grep -q '^goroutine [0-9]* "parked-receiver" \[chan receive' "$work/g2.txt" ||
  { cat "$work/g2.txt"; fail "goroutine debug=2: parked-receiver"; }
grep -A24 '"parked-receiver"' "$work/g2.txt" | grep -q weft_test_wait_forever ||
  { cat "$work/g2.txt"; fail "goroutine debug=2: parked-receiver's stack"; }

# Symbols: pprof's protocol.
get "$base/pprof/symbol" | grep -q "^num_symbols: 1" || fail "symbol GET"
pc=$(grep -m1 -o '^#	0x[0-9a-f]*	[^	]*weft_test_wait_forever' "$work/g1.txt" | cut -f2)
[ -n "$pc" ] || fail "no address for weft_test_wait_forever in debug=1"
get --data "$pc" "$base/pprof/symbol" | grep -q "^$pc .*weft_test_wait_forever" || fail "symbol POST"

# Scheduler trace: Chrome trace-event JSON with fiber slices, named tracks, instants.
curl -sf "$base/pprof/trace?seconds=1" >"$work/trace.json"
/usr/bin/python3 - "$work/trace.json" <<'PY' || fail "trace JSON"
import json, sys
doc = json.load(open(sys.argv[1]))
ev = doc["traceEvents"]
slices = [e for e in ev if e["ph"] == "X" and e.get("cat") == "fiber"]
assert any("blocked-receiver" in e["name"] for e in slices), "no slice of blocked-receiver"
assert any(e["ph"] == "M" and e["name"] == "thread_name" and e["args"]["name"].startswith("P") for e in ev)
kinds = {e["name"] for e in ev if e["ph"] == "i"}
assert "fiber_unpark" in kinds, kinds
parks = [e for e in slices if e["args"]["end"] == "park: chan receive"]
assert parks, "no slice ended by a chan receive park"
for e in ev:
    assert e["ph"] == "M" or e["ts"] >= 0
PY

# /debug/vars: the runtime's counters and a published variable.
curl -sf "$base/vars" >"$work/vars.json"
/usr/bin/python3 - "$work/vars.json" <<'PY' || { cat "$work/vars.json"; fail "/debug/vars"; }
import json, sys
v = json.load(open(sys.argv[1]))
assert v["scheduler"]["procs"] >= 1 and len(v["scheduler"]["runq"]) == v["scheduler"]["procs"]
assert v["fibers"]["by_state"]["waiting"] >= 1
assert v["fibers"]["waiting_by_reason"]["chan receive"] >= 1
assert v["netpoller"]["registered_fds"] >= 1
assert v["memory"]["rss_bytes"] > 0
assert v["stacks"]["kind"] in ("guarded", "segmented")
assert v["target"] == {"answer": 42}
assert any("pprof_target" in a for a in v["cmdline"])
PY

kill -TERM "$target_pid"
status=0
wait "$target_pid" || status=$?
[ "$status" -eq 0 ] || { cat "$work/target.err"; fail "pprof_target exited $status"; }

# ---- weftd serves the same endpoints on its admin port -----------------------------------
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
amqp_port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$weftd" --amqp-listen "127.0.0.1:$amqp_port" --http-listen "127.0.0.1:$port" >"$work/weftd.log" 2>&1 &
weftd_pid=$!
pids+=("$weftd_pid")
for _ in $(seq 1 200); do
  curl -sf -o /dev/null "http://127.0.0.1:$port/debug/vars" && break
  sleep 0.05
done
get "http://127.0.0.1:$port/debug/vars" | /usr/bin/python3 -c '
import json, sys
v = json.load(sys.stdin)
assert v["weftd"]["connections"] == 0 and "memory_high_watermark" in v["weftd"], v["weftd"]' ||
  { cat "$work/weftd.log"; fail "weftd /debug/vars"; }
get "http://127.0.0.1:$port/debug/pprof/goroutine?debug=2" >"$work/wg2.txt"
grep -q '"weftd-http"' "$work/wg2.txt" ||
  fail "weftd fiber dump"
# A client's connection: its fibers carry the connection's labels in the fiber dump.
/usr/bin/python3 - "$amqp_port" "http://127.0.0.1:$port/debug/pprof/goroutine?debug=1" \
  >"$work/wlabels.txt" <<'PY' || fail "pika client against weftd"
import sys, urllib.request
import pika
c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", int(sys.argv[1])))
c.channel().queue_declare("labelled")
print(urllib.request.urlopen(sys.argv[2]).read().decode())
c.close()
PY
grep -q '^# labels: {"connection":"1","peer":"127.0.0.1:' "$work/wlabels.txt" ||
  { cat "$work/wlabels.txt"; fail "weftd's connection fibers are not labelled"; }
kill -TERM "$weftd_pid"
status=0
wait "$weftd_pid" || status=$?
[ "$status" -eq 0 ] || { cat "$work/weftd.log"; fail "weftd exited $status"; }
echo "debug endpoints: all checks passed"
