#!/usr/bin/env bash
# compare.sh: run weft-bench, the Go peer (bench/peers/go) and the Boost.Fiber peer
# (bench/peers/boostfiber) side by side, in one run on one machine. Every binary prints
# one line of key=value pairs per run (bench= impl= ... elapsed_ms=). Each benchmark is
# run REPEAT times per implementation (rounds interleaved: weft, go, boostfiber, weft,
# ...) and the best run is kept: the smallest elapsed_ms, except idle (smallest
# rss_per_fiber_bytes) and idlecpu (smallest cpu_percent). Output, all key=value lines:
#   machine nproc= cpu= kernel= ...                      once, first
#   bench=X impl=Y ...                                   every raw line
#   bench=X impl=Y skipped=1 reason=...                  binary missing / lacks X (exit 2)
#   bench=X impl=Y failed=1 reason=...                   crash, timeout, bad output
#   bench=X weft_ms= go_ms= boostfiber_ms= ratio_vs_go= ratio_vs_boostfiber=
#                                                        summary (ratio = weft / peer:
#                                                        below 1, weft is faster)
#   bench=echo   ... weft_msgs_per_s= go_msgs_per_s= throughput_vs_go=
#   bench=stream ... weft_bytes_per_s= go_bytes_per_s= throughput_vs_go=
#                                                        the summary above plus the best
#                                                        runs' throughput (weft / go:
#                                                        above 1, weft is faster)
#   bench=idle    weft_rss_per_fiber= go_... boostfiber_... ratio_vs_go= ratio_vs_boostfiber=
#   bench=idlecpu weft_cpu_percent= go_cpu_percent= boostfiber_cpu_percent=
#
# Usage: bench/compare.sh [--quick] [bench...]
#   bench: spawn yield switch idle idlecpu mutex skynet skynet-chan pingpong ring select
#          echo stream (default: all). --quick divides every default size by 10.
#          echo C N: C loopback TCP connections ping-pong a 64-byte message, N round
#          trips in all; stream C S: C connections each send S bytes one way. Both
#          are skipped for Boost.Fiber, which has no network poller. switch N is
#          weft-bench alone: two bare Boost.Context contexts jump to each other N
#          round trips, the floor under yield (the peers print it as unsupported).
# Env: BUILD_DIR      build tree (default build/release): weft-bench at
#                     $BUILD_DIR/bench/weft-bench, the Boost.Fiber peer at
#                     $BUILD_DIR/bench/peers/boostfiber/weft-bench-boostfiber; the Go
#                     peer is built (offline, GOPROXY=off) to
#                     $BUILD_DIR/bench/peers/go/weft-bench-go
#      REPEAT         runs per implementation and benchmark (default 3)
#      BENCH_TIMEOUT  seconds before a single run is killed (default 600)
#      WEFT_PROCS     processors for weft and Boost.Fiber; also GOMAXPROCS unless set
set -euo pipefail
cd "$(dirname "$0")/.."

all=(spawn yield switch idle idlecpu mutex skynet skynet-chan pingpong ring select echo stream)
declare -A size=([spawn]=1000000 [yield]=1000000 [switch]=10000000 [idle]=100000 [idlecpu]=1000
                 [mutex]=1000000 [skynet]=1000000 [skynet-chan]=1000000
                 [pingpong]=1000000 [ring]="1000 1000000" [select]=1000000
                 [echo]="1000 500000" [stream]="4 1073741824")

quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi
case "${1:-}" in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=("${all[@]}")
for b in "${benches[@]}"; do
  [ -n "${size[$b]+x}" ] || { echo "compare.sh: unknown benchmark '$b' (known: ${all[*]})" >&2; exit 2; }
done

repeat=${REPEAT:-3}
timeout_s=${BENCH_TIMEOUT:-600}
build=${BUILD_DIR:-build/release}
mkdir -p "$build/bench/peers/go"
build=$(cd "$build" && pwd)
weft="$build/bench/weft-bench"
boost="$build/bench/peers/boostfiber/weft-bench-boostfiber"
gobin="$build/bench/peers/go/weft-bench-go"
if [ -n "${WEFT_PROCS:-}" ] && [ -z "${GOMAXPROCS:-}" ]; then export GOMAXPROCS=$WEFT_PROCS; fi

# The Go peer: standard library only, so it builds with no network.
goversion=none
if command -v go >/dev/null; then
  goversion=$(go version | awk '{print $3}')
  if ! (cd bench/peers/go && GOPROXY=off GOFLAGS=-mod=mod GOCACHE="$build/gocache" \
        GOPATH="${GOPATH:-$build/gopath}" go build -o "$gobin" .); then
    echo "compare.sh: building the Go peer failed" >&2
    rm -f "$gobin"
  fi
else
  echo "compare.sh: no go toolchain; Go runs will be skipped" >&2
fi

boostversion=$(sed -n 's/^#define BOOST_LIB_VERSION "\(.*\)"/\1/p' /usr/include/boost/version.hpp 2>/dev/null | tr _ .)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
stacks=$(sed -n 's/^WEFT_STACK:STRING=//p' "$build/CMakeCache.txt" 2>/dev/null)
echo "machine nproc=$(nproc) cpu=\"${cpu:-unknown}\" kernel=$(uname -r) go=$goversion" \
     "weft_stacks=${stacks:-unknown}" \
     "boost=${boostversion:-unknown} weft_procs=${WEFT_PROCS:-default} gomaxprocs=${GOMAXPROCS:-default}" \
     "repeat=$repeat quick=$quick date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"

field() { sed -n "s/^\(.* \)\{0,1\}$1=\([^ ]*\).*/\2/p" <<<"$2"; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
ratio() {
  if [ -n "$1" ] && [ -n "$2" ]; then
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.3f", a / b; else print "inf" }'
  else
    echo n/a
  fi
}

errf=$(mktemp)
trap 'rm -f "$errf"' EXIT
impls=(weft go boostfiber)
declare -A bin=([weft]=$weft [go]=$gobin [boostfiber]=$boost)

for b in "${benches[@]}"; do
  read -ra args <<<"${size[$b]}"
  if [ "$quick" = 1 ]; then
    for i in "${!args[@]}"; do args[i]=$(( args[i] / 10 > 0 ? args[i] / 10 : 1 )); done
  fi
  case $b in
    idle) key=rss_per_fiber_bytes ;;
    idlecpu) key=cpu_percent ;;
    *) key=elapsed_ms ;;
  esac
  declare -A best=() bestline=() dead=() badsum=()
  for ((r = 0; r < repeat; r++)); do
    for impl in "${impls[@]}"; do
      [ -z "${dead[$impl]:-}" ] || continue
      exe=${bin[$impl]}
      if [ ! -x "$exe" ]; then
        echo "bench=$b impl=$impl skipped=1 reason=no_binary"; dead[$impl]=1; continue
      fi
      rc=0
      line=$(timeout "$timeout_s" "$exe" "$b" "${args[@]}" 2>"$errf") || rc=$?
      if [ "$rc" = 2 ]; then
        echo "bench=$b impl=$impl skipped=1 reason=unsupported"; dead[$impl]=1; continue
      fi
      if [ "$rc" != 0 ] || [ "$(wc -l <<<"$line")" != 1 ] ||
         [[ $line != "bench=$b impl=$impl "* ]] || [ -z "$(field "$key" "$line")" ]; then
        reason=bad_output
        [ "$rc" = 0 ] || reason=exit_$rc
        [ "$rc" != 124 ] || reason=timeout_${timeout_s}s
        echo "bench=$b impl=$impl failed=1 reason=$reason"
        { [ -z "$line" ] || printf '%s\n' "$line"; tail -n 5 "$errf"; } | sed "s/^/  [$impl $b] /" >&2
        dead[$impl]=1; continue
      fi
      echo "$line"
      if [[ $b == skynet* ]]; then
        n=${args[0]}
        [ "$(field sum "$line")" = "$(( n * (n - 1) / 2 ))" ] || badsum[$impl]=1
      fi
      v=$(field "$key" "$line")
      if [ -z "${best[$impl]:-}" ] || lt "$v" "${best[$impl]}"; then
        best[$impl]=$v; bestline[$impl]=$line
      fi
    done
  done
  w=${best[weft]:-}; g=${best[go]:-}; f=${best[boostfiber]:-}
  case $b in
    idle) summary="bench=idle weft_rss_per_fiber=${w:-n/a} go_rss_per_fiber=${g:-n/a} boostfiber_rss_per_fiber=${f:-n/a} ratio_vs_go=$(ratio "$w" "$g") ratio_vs_boostfiber=$(ratio "$w" "$f")" ;;
    idlecpu) summary="bench=idlecpu weft_cpu_percent=${w:-n/a} go_cpu_percent=${g:-n/a} boostfiber_cpu_percent=${f:-n/a}" ;;
    *) summary="bench=$b weft_ms=${w:-n/a} go_ms=${g:-n/a} boostfiber_ms=${f:-n/a} ratio_vs_go=$(ratio "$w" "$g") ratio_vs_boostfiber=$(ratio "$w" "$f")" ;;
  esac
  case $b in
    echo) tkey=msgs_per_s ;;
    stream) tkey=bytes_per_s ;;
    *) tkey= ;;
  esac
  if [ -n "$tkey" ]; then  # fixed work per run: the fastest run has the best throughput
    wt=$(field "$tkey" "${bestline[weft]:-}"); gt=$(field "$tkey" "${bestline[go]:-}")
    summary+=" weft_$tkey=${wt:-n/a} go_$tkey=${gt:-n/a} throughput_vs_go=$(ratio "$wt" "$gt")"
  fi
  for impl in "${impls[@]}"; do
    note=$(field note "${bestline[$impl]:-}")
    [ -z "$note" ] || summary+=" ${impl}_note=$note"
    [ -z "${badsum[$impl]:-}" ] || summary+=" ${impl}_wrong_sum=1"
  done
  echo "$summary"
  unset best bestline dead badsum
done
