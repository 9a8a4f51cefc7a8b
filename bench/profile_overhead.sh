#!/usr/bin/env bash
# profile_overhead.sh: what a running 100 Hz CPU profile costs weftd (issue 7's target:
# weft-perf throughput within 2% of a run without one).
#
# One weftd, started privately on free loopback ports. Each round runs the same weft-perf
# scenario twice -- once plain, once while `curl .../debug/pprof/profile?seconds=D+2`
# profiles weftd for the whole run -- in alternating order (off/on, on/off, ...) so that
# drift on a shared machine hits both alike. The profile covers weftd only: weft-perf is
# another process.
#   scenario: weft-perf -x1 -y1 -a -s 1000 -z DURATION   (transient, auto-ack)
#
# Output, key=value lines:
#   round=R mode=off|on received_rate=... sent_rate=... [profile_bytes=...]
#   summary rounds=N median_off= median_on= ratio_on_off= overhead_pct= target_pct=2 met=0|1
#
# Usage: bench/profile_overhead.sh
# Env: BUILD_DIR (default build/release), DURATION seconds per run (default 10),
#      ROUNDS (default 5), HZ profile rate (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build/release}
perf="$build/bench/weft-perf"
weftd="$build/broker/weftd"
duration=${DURATION:-10}
rounds=${ROUNDS:-5}
hz=${HZ:-100}
for f in "$perf" "$weftd"; do
  [ -x "$f" ] || { echo "profile_overhead.sh: $f not built" >&2; exit 2; }
done
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
tmp=$(mktemp -d)
amqp_port=$(free_port)
http_port=$(free_port)
"$weftd" --amqp-listen "127.0.0.1:$amqp_port" --http-listen "127.0.0.1:$http_port" \
  --log-level warn >"$tmp/weftd.log" 2>&1 &
weftd_pid=$!
trap 'kill $weftd_pid 2>/dev/null || true; wait $weftd_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 1 200); do
  curl -sf -o /dev/null "http://127.0.0.1:$http_port/debug/vars" && break
  sleep 0.05
done
echo "machine nproc=$(nproc) kernel=$(uname -r) weftd_commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown) date=$(date -u +%Y-%m-%dT%H:%M:%SZ) duration_s=$duration hz=$hz"

run_perf() {  # mode round
  local out="$tmp/perf-$1-$2.txt" extra=""
  if [ "$1" = on ]; then
    curl -sf -o "$tmp/cpu-$2.pb.gz" \
      "http://127.0.0.1:$http_port/debug/pprof/profile?seconds=$((duration + 2))&hz=$hz" &
    local curl_pid=$!
    sleep 0.5  # let the profile start before the load does
  fi
  "$perf" -h "amqp://guest:guest@127.0.0.1:$amqp_port" -x1 -y1 -a -s 1000 -u "po-$1-$2" \
    -z "$duration" -i 1000 >"$out" 2>&1 || { echo "round=$2 mode=$1 failed=1"; tail -5 "$out"; exit 1; }
  if [ "$1" = on ]; then
    wait "$curl_pid" || { echo "round=$2 mode=$1 failed=1 reason=profile"; exit 1; }
    extra=" profile_bytes=$(stat -c %s "$tmp/cpu-$2.pb.gz")"
  fi
  local line
  line=$(grep '^weft-perf ' "$out")
  local recv sent
  recv=$(sed -n 's/.* received_rate=\([0-9.]*\).*/\1/p' <<<"$line")
  sent=$(sed -n 's/.* sent_rate=\([0-9.]*\).*/\1/p' <<<"$line")
  echo "round=$2 mode=$1 received_rate=$recv sent_rate=$sent$extra"
  echo "$recv" >>"$tmp/rates-$1"
}

for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then run_perf off "$r"; run_perf on "$r"; else run_perf on "$r"; run_perf off "$r"; fi
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
off=$(median "$tmp/rates-off")
on=$(median "$tmp/rates-on")
awk -v off="$off" -v on="$on" -v n="$rounds" 'BEGIN {
  ratio = on / off; pct = (1 - ratio) * 100
  printf "summary rounds=%d median_off=%.0f median_on=%.0f ratio_on_off=%.4f overhead_pct=%.2f target_pct=2 met=%d\n",
         n, off, on, ratio, pct, (pct <= 2) ? 1 : 0 }'
