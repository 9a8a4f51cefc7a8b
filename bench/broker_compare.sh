#!/usr/bin/env bash
# broker_compare.sh: run the same weft-perf scenarios against weftd, RabbitMQ (Debian's
# rabbitmq-server) and garagemq (Debian's garagemq), in one run on one machine, and print
# a table of weftd's ratios. Every broker is started privately for every scenario (a
# fresh process on a free loopback port, its state in a temporary directory) and stopped
# after it, so that no scenario inherits another's heap. Nothing is installed here:
# `apt-get install rabbitmq-server garagemq` (scripts/deps.sh bench does).
#
# Scenarios (issue 6's targets, weftd against RabbitMQ):
#   a  transient, 1 producer / 1 consumer / 1 queue, auto-ack, 1000-byte messages:
#        weft-perf -x1 -y1 -a -s 1000 -u perf-a -z DURATION       receive rate  >= 5x
#   b  4 producers / 4 consumers / 4 queues, prefetch 200, multi-ack every 100:
#        weft-perf -x4 -y4 --queues 4 -u perf-b -q 200 -A 100 -z DURATION
#                                                                  receive rate  >= 5x
#   c  consumer latency at a fixed 10k msg/s:
#        weft-perf -x1 -y1 -a -r 10000 -u perf-c -z DURATION        p99 latency  <= 0.2x
#      Each round of c also runs latency-floor -r 10000 -z DURATION: the same traffic
#      through a relay process that does nothing but forward (bench/latency_floor.cpp),
#      the wake-ups and system calls any broker that sleeps when idle pays here.
#   d  broker RSS with MSGS_D (1M) 1 KiB messages queued (published with confirms, window
#      1000, no consumer; RSS read SETTLE s after the last confirm):
#        weft-perf -x1 -y0 -u perf-d --auto-delete false -C 1000000 -s 1024 -c 1000
#                                                                  broker RSS    <= 0.5x
#   e  broker RSS per idle connection: RSS before, then IDLE_CONNS (1000) connections
#      opened and held (weft-perf --idle-connections N), RSS after SETTLE s; (after -
#      before) / N                                                  bytes/conn    <= 0.1x
# RSS is VmRSS from /proc/PID/status: weftd's process, garagemq's, RabbitMQ's beam.smp
# (its epmd and erl_child_setup are left out: a few MiB).
#
# Output, all key=value lines:
#   machine nproc= cpu= kernel= rabbitmq= erlang= garagemq= weftd_commit= date= ...
#   broker=B skipped=1 reason=...                   broker not installed / won't start
#   scenario=S broker=B run=R ... (the scenario's numbers; weft-perf's own keys prefixed
#                                  perf_)          one line per run
#   scenario=S broker=B run=R failed=1 reason=...  weft-perf failed, broker died, timeout
#   scenario=c floor=1 run=R latency-floor's keys    c's floor, once per round
#   summary scenario=S metric=M weftd= rabbitmq= garagemq= ratio_vs_rabbitmq=
#           ratio_vs_garagemq= target= met=0|1    best run of each broker (highest
#                                                  rate, lowest latency / RSS); for c
#           also floor_p99_us= floor_ratio_vs_rabbitmq=   the floor's best p99, and the
#                                                  ratio a broker at the floor would get
# then a Markdown table of the summaries.
#
# Usage: bench/broker_compare.sh [scenario...]     (default: a b c d e)
# Env: BUILD_DIR   build tree with bench/weft-perf and broker/weftd (default build/release)
#      WEFTD       the weftd binary (default $BUILD_DIR/broker/weftd); another build's
#                  weftd makes an A/B run (BROKERS=weftd, alternating WEFTD per round)
#      BROKERS     which brokers, in order (default "weftd rabbitmq garagemq")
#      DURATION    seconds per timed scenario (default 10)
#      REPEAT      runs per scenario and broker, interleaved (default 1); best is kept
#      MSGS_D      messages queued in d (default 1000000)
#      IDLE_CONNS  connections in e (default 1000)
#      SETTLE      seconds to wait before reading RSS in d and e (default 3)
#      KEEP_TMP=1  keep the temporary directory (brokers' logs, weft-perf's output)
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(a b c d e)
for s in "${scenarios[@]}"; do
  case "$s" in a|b|c|d|e) ;; *) echo "broker_compare.sh: unknown scenario '$s' (a b c d e)" >&2; exit 2 ;; esac
done

build=${BUILD_DIR:-build/release}
build=$(cd "$build" && pwd)
perf="$build/bench/weft-perf"
weftd="${WEFTD:-$build/broker/weftd}"
floor="$build/bench/latency-floor"
read -r -a brokers <<< "${BROKERS:-weftd rabbitmq garagemq}"
duration=${DURATION:-10}
repeat=${REPEAT:-1}
msgs_d=${MSGS_D:-1000000}
idle_conns=${IDLE_CONNS:-1000}
settle=${SETTLE:-3}
rabbit_server=/usr/lib/rabbitmq/bin/rabbitmq-server

for f in "$perf" "$weftd" "$floor"; do
  [ -x "$f" ] || { echo "broker_compare.sh: $f not built (cmake --build $build --target weft-perf weftd latency-floor)" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/weftbench-XXXXXX)
broker_pid=""     # what we started (RabbitMQ: its session and process group leader)
broker_rss_pid="" # whose RSS we read
broker_dir=""
epmd_port=""

# alive PID: the process exists and is not a zombie.
alive() { [ -r "/proc/$1/stat" ] && [ "$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)" != Z ]; }
stop_broker() {
  if [ -n "$broker_pid" ]; then
    # RabbitMQ runs in its own session and process group (script, erl, beam.smp): signal
    # the group. weftd and garagemq are single processes of ours.
    local group=0
    [ "$(ps -o pgid= -p "$broker_pid" 2>/dev/null | tr -d ' ')" = "$broker_pid" ] && group=1
    if [ $group = 1 ]; then kill -TERM -- "-$broker_pid" 2>/dev/null || true
    else kill -TERM "$broker_pid" 2>/dev/null || true; fi
    for _ in $(seq 1 600); do
      if ! alive "$broker_pid" && { [ $group = 0 ] || ! pgrep -g "$broker_pid" >/dev/null; }; then break; fi
      sleep 0.1
    done
    if [ $group = 1 ]; then kill -KILL -- "-$broker_pid" 2>/dev/null || true
    else kill -KILL "$broker_pid" 2>/dev/null || true; fi
    wait "$broker_pid" 2>/dev/null || true
  fi
  if [ -n "$epmd_port" ]; then epmd -port "$epmd_port" -kill >/dev/null 2>&1 || true; fi
  broker_pid="" broker_rss_pid="" epmd_port=""
}
cleanup() {
  stop_broker
  if [ "${KEEP_TMP:-0}" = 1 ]; then echo "broker_compare.sh: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
rss_of() { awk '/^VmRSS:/ {printf "%.0f\n", $2 * 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
cpu_s_of() {  # utime + stime, seconds
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' \
    "/proc/$1/stat" 2>/dev/null || echo 0
}
tail_log() { [ -f "$1" ] && tail -n "${2:-20}" "$1" | sed 's/^/    | /' >&2 || true; }

# start_broker NAME RUNTAG: sets port, broker_pid, broker_rss_pid, broker_dir; on
# failure sets start_error and returns 1.
start_broker() {
  local name=$1 tag=$2
  broker_dir="$tmp/$name-$tag"
  mkdir -p "$broker_dir"
  port=$(free_port)
  start_error=""
  local limit=30
  case "$name" in
    weftd)
      "$weftd" --amqp-listen "127.0.0.1:$port" --http-listen 127.0.0.1:0 --log-level warn >"$broker_dir/broker.log" 2>&1 &
      broker_pid=$!
      broker_rss_pid=$broker_pid
      ;;
    rabbitmq)
      [ -x "$rabbit_server" ] || { start_error="rabbitmq-server not installed (apt-get install rabbitmq-server)"; return 1; }
      mkdir -p "$broker_dir/mnesia" "$broker_dir/log" "$broker_dir/home"
      echo "[]." >"$broker_dir/enabled_plugins"
      epmd_port=$(free_port)
      # setsid: its own session and process group, which stop_broker signals whole.
      HOME="$broker_dir/home" \
      RABBITMQ_NODENAME="weftbench-$$-$tag@localhost" \
      RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$port" \
      RABBITMQ_DIST_PORT="$(free_port)" ERL_EPMD_PORT="$epmd_port" \
      RABBITMQ_MNESIA_BASE="$broker_dir/mnesia" RABBITMQ_LOG_BASE="$broker_dir/log" \
      RABBITMQ_ENABLED_PLUGINS_FILE="$broker_dir/enabled_plugins" \
      RABBITMQ_CONF_ENV_FILE="$broker_dir/rabbitmq-env.conf" \
      RABBITMQ_CONFIG_FILE="$broker_dir/rabbitmq" \
      RABBITMQ_ADVANCED_CONFIG_FILE="$broker_dir/advanced.config" \
        setsid "$rabbit_server" >"$broker_dir/broker.log" 2>&1 </dev/null &
      broker_pid=$!
      limit=180
      ;;
    garagemq)
      command -v garagemq >/dev/null || { start_error="garagemq not installed (apt-get install garagemq)"; return 1; }
      # Debian's /etc/garagemq/config.yaml with our ports and a private database.
      cat >"$broker_dir/config.yaml" <<EOF
proto: amqp-rabbit
users:
  - username: guest
    password: 084e0343a0486ff05530df6c705c8bb4 # guest md5
tcp:
  ip: 127.0.0.1
  port: $port
  nodelay: false
  readBufSize: 196608
  writeBufSize: 196608
admin:
  ip: 127.0.0.1
  port: $(free_port)
queue:
  shardSize: 8192
  maxMessagesInRam: 131072
db:
  defaultPath: $broker_dir/db
  engine: badger
vhost:
  defaultPath: /
security:
  passwordCheck: md5
connection:
  channelsMax: 4096
  frameMaxSize: 65536
EOF
      (cd "$broker_dir" && exec garagemq --config "$broker_dir/config.yaml" \
         --log-file "$broker_dir/garagemq.log" --log-level error) >"$broker_dir/broker.log" 2>&1 &
      broker_pid=$!
      broker_rss_pid=$broker_pid
      ;;
  esac
  local t0=$SECONDS
  until port_open "$port"; do
    if ! alive "$broker_pid"; then
      start_error="$name exited during start"; tail_log "$broker_dir/broker.log"; broker_pid=""; stop_broker; return 1
    fi
    if [ $((SECONDS - t0)) -ge $limit ]; then
      start_error="$name did not listen within ${limit}s"; tail_log "$broker_dir/broker.log"; stop_broker; return 1
    fi
    sleep 0.1
  done
  if [ "$name" = rabbitmq ]; then
    broker_rss_pid=$(pgrep -s "$broker_pid" -x beam.smp | head -1 || true)
    [ -n "$broker_rss_pid" ] || { start_error="no beam.smp in session $broker_pid"; stop_broker; return 1; }
  fi
  uri="amqp://guest:guest@127.0.0.1:$port/%2F"
  sleep 1  # let it finish booting (RabbitMQ listens before its last boot steps)
}

# perf_line LOG: weft-perf's final key=value line, keys prefixed perf_.
perf_line() {
  grep '^weft-perf ' "$1" | tail -1 | sed 's/^weft-perf //; s/\([a-z_0-9]*\)=/perf_\1=/g'
}
kv() {  # kv KEY LINE
  sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"
}

declare -A best
# record SCENARIO BROKER VALUE higher|lower
record() {
  local k="$1.$2" v=$3
  if [ -z "${best[$k]:-}" ] || awk -v a="$v" -v b="${best[$k]}" -v d="$4" \
       'BEGIN { exit !((d == "higher" && a > b) || (d == "lower" && a < b)) }'; then
    best[$k]=$v
  fi
}

run_scenario() {
  local sc=$1 br=$2 r=$3
  local log="$tmp/$sc-$br-$r.perf.log" pfx="scenario=$sc broker=$br run=$r"
  if ! start_broker "$br" "$sc$r"; then
    echo "$pfx failed=1 reason=\"$start_error\""
    return
  fi
  local args rc=0 t_out=$((duration + 120))
  local cpu0; cpu0=$(cpu_s_of "$broker_rss_pid")
  case $sc in
    a) args=(-x1 -y1 -a -s 1000 -u perf-a -z "$duration") ;;
    b) args=(-x4 -y4 --queues 4 -u perf-b -q 200 -A 100 -z "$duration") ;;
    c) args=(-x1 -y1 -a -r 10000 -u perf-c -z "$duration") ;;
    d) args=(-x1 -y0 -u perf-d --auto-delete false -C "$msgs_d" -s 1024 -c 1000); t_out=1200 ;;
  esac
  if [ "$sc" != e ]; then
    local rss0; rss0=$(rss_of "$broker_rss_pid")
    timeout "$t_out" "$perf" -h "$uri" --id "$sc-$br-$r" "${args[@]}" >"$log" 2>&1 || rc=$?
    local line; line=$(perf_line "$log")
    local extra=""
    if [ "$sc" = d ]; then
      sleep "$settle"
      local rss1; rss1=$(rss_of "$broker_rss_pid")
      extra="rss_before_bytes=$rss0 rss_bytes=$rss1 rss_delta_bytes=$((rss1 - rss0))"
    fi
    local up=1; alive "$broker_rss_pid" || up=0
    extra="$extra broker_cpu_s=$(awk -v a="$(cpu_s_of "$broker_rss_pid")" -v b="$cpu0" 'BEGIN{printf "%.2f", a-b}')"
    if [ $up = 0 ]; then
      echo "$pfx failed=1 reason=\"broker died\" rc=$rc $line"; tail_log "$broker_dir/broker.log"
    elif [ -z "$line" ] || [ "$rc" -ne 0 ]; then
      echo "$pfx failed=1 reason=\"weft-perf exit $rc\" $extra $line"; tail_log "$log" 8
      # Numbers are still kept when weft-perf reported them (rc 1: errors or missing
      # messages, which the line shows); a timeout (124) has none.
    else
      echo "$pfx $extra $line"
    fi
    if [ -n "$line" ] && [ $up = 1 ]; then
      case $sc in
        a|b) record "$sc" "$br" "$(kv perf_received_rate "$line")" higher ;;
        c) if [ "$(kv perf_latency_samples "$line")" != 0 ]; then
             record "$sc" "$br" "$(kv perf_latency_p99_us "$line")" lower
           fi ;;
        d) if [ "$(kv perf_queued "$line")" = "$msgs_d" ]; then  # all of them really queued
             record "$sc" "$br" "$(kv rss_bytes "$extra")" lower
           fi ;;
      esac
    fi
  else
    sleep 1
    local rss0; rss0=$(rss_of "$broker_rss_pid")
    "$perf" -h "$uri" --idle-connections "$idle_conns" --hold 0 >"$log" 2>&1 &
    local ppid=$! t0=$SECONDS
    until grep -q 'ready=1' "$log" 2>/dev/null; do
      if ! alive "$ppid" || [ $((SECONDS - t0)) -ge 600 ]; then break; fi
      sleep 0.2
    done
    local line; line=$(grep 'ready=1' "$log" | tail -1 || true)
    sleep "$settle"
    local rss1; rss1=$(rss_of "$broker_rss_pid")
    kill -TERM "$ppid" 2>/dev/null || true
    wait "$ppid" || rc=$?
    local opened; opened=$(kv idle_connections "$line")
    local closing; closing=$(grep 'idle_closed' "$log" | tail -1 || true)
    if [ -z "$line" ] || [ "${opened:-0}" -le 0 ]; then
      echo "$pfx failed=1 reason=\"no idle connections opened (exit $rc)\""; tail_log "$log" 8
    else
      local per=$(( (rss1 - rss0) / opened ))
      local status=""; [ "$rc" -ne 0 ] && status="failed=1 reason=\"weft-perf exit $rc\" "
      echo "$pfx ${status}rss_before_bytes=$rss0 rss_bytes=$rss1 rss_per_conn_bytes=$per $line $closing"
      if [ "$opened" = "$idle_conns" ]; then record e "$br" "$per" lower; fi
    fi
  fi
  stop_broker
}

# The machine.
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
ver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo none; }
echo "machine nproc=$(nproc) cpu=\"${cpu:-unknown}\" kernel=$(uname -r)" \
     "rabbitmq=$(ver rabbitmq-server) erlang=$(ver erlang-base) garagemq=$(ver garagemq)" \
     "weftd_commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- broker amqp runtime netpoller 2>/dev/null || echo +dirty)" \
     "weftd_binary=$weftd duration=$duration repeat=$repeat msgs_d=$msgs_d idle_conns=$idle_conns settle=$settle" \
     "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# Brokers that cannot run at all are skipped once, up front.
active=()
for br in "${brokers[@]}"; do
  case $br in
    weftd) active+=(weftd) ;;
    rabbitmq) if [ -x "$rabbit_server" ]; then active+=(rabbitmq); else echo "broker=rabbitmq skipped=1 reason=\"rabbitmq-server not installed (apt-get install rabbitmq-server)\""; fi ;;
    garagemq) if command -v garagemq >/dev/null; then active+=(garagemq); else echo "broker=garagemq skipped=1 reason=\"garagemq not installed (apt-get install garagemq)\""; fi ;;
    *) echo "broker_compare.sh: unknown broker '$br'" >&2; exit 2 ;;
  esac
done

# run_floor R: scenario c's floor (see the top), recorded as best[c.floor].
run_floor() {
  local line rc=0
  line=$("$floor" -r 10000 -z "$duration" 2>&1) || rc=$?
  if [ $rc -ne 0 ]; then
    echo "scenario=c floor=1 run=$1 failed=1 reason=\"latency-floor exit $rc\""
    return
  fi
  echo "scenario=c floor=1 run=$1 ${line#latency-floor }"
  record c floor "$(kv latency_p99_us "$line")" lower
}

for r in $(seq 1 "$repeat"); do
  for sc in "${scenarios[@]}"; do
    [ "$sc" = c ] && run_floor "$r"
    for br in "${active[@]}"; do
      run_scenario "$sc" "$br" "$r"
    done
  done
done

# Summary: weftd's ratio to each peer, and issue 6's target (against RabbitMQ).
declare -A metric=([a]=received_rate [b]=received_rate [c]=latency_p99_us [d]=rss_bytes [e]=rss_per_conn_bytes)
declare -A unit=([a]="msg/s" [b]="msg/s" [c]="µs" [d]="MiB" [e]="KiB")
declare -A target=([a]=">=5" [b]=">=5" [c]="<=0.2" [d]="<=0.5" [e]="<=0.1")
declare -A what=([a]="a: 1p/1c/1q auto-ack 1000 B, receive rate" [b]="b: 4p/4c/4q qos 200 multi-ack 100, receive rate"
                 [c]="c: p99 consumer latency at 10k msg/s" [d]="d: RSS with ${msgs_d} x 1 KiB queued"
                 [e]="e: RSS per idle connection (${idle_conns})")
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }' || echo n/a; }
show() {  # show SCENARIO VALUE: in the table's unit
  [ -n "$2" ] || { echo "—"; return; }
  case $1 in
    d) awk -v v="$2" 'BEGIN { printf "%.1f", v / 1048576 }' ;;
    e) awk -v v="$2" 'BEGIN { printf "%.1f", v / 1024 }' ;;
    *) awk -v v="$2" 'BEGIN { printf "%.0f", v }' ;;
  esac
}
rows=()
for sc in "${scenarios[@]}"; do
  w=${best[$sc.weftd]:-} rb=${best[$sc.rabbitmq]:-} gm=${best[$sc.garagemq]:-}
  vr=$(ratio "$w" "$rb") vg=$(ratio "$w" "$gm")
  met=n/a
  if [ "$vr" != n/a ]; then
    t=${target[$sc]}
    met=$(awk -v x="$vr" -v op="${t:0:2}" -v y="${t:2}" 'BEGIN { print ((op == ">=" && x >= y) || (op == "<=" && x <= y)) ? 1 : 0 }')
  fi
  extra=""
  if [ "$sc" = c ]; then
    extra=" floor_p99_us=${best[c.floor]:-n/a} floor_ratio_vs_rabbitmq=$(ratio "${best[c.floor]:-}" "$rb")"
  fi
  echo "summary scenario=$sc metric=${metric[$sc]} weftd=${w:-n/a} rabbitmq=${rb:-n/a} garagemq=${gm:-n/a}" \
       "ratio_vs_rabbitmq=$vr ratio_vs_garagemq=$vg target=\"${target[$sc]}\" met=$met$extra"
  case $met in 1) m=met ;; 0) m="**missed**" ;; *) m="n/a" ;; esac
  rows+=("| ${what[$sc]} (${unit[$sc]}) | $(show "$sc" "$w") | $(show "$sc" "$rb") | $(show "$sc" "$gm") | $vr | $vg | ${target[$sc]} — $m |")
done
echo
echo "| scenario | weftd | RabbitMQ | garagemq | weftd/RabbitMQ | weftd/garagemq | target (vs RabbitMQ) |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
if [ -n "${best[c.floor]:-}" ]; then
  echo
  echo "c's floor (latency-floor: the same traffic through a relay that only forwards): p99" \
       "${best[c.floor]} µs, $(ratio "${best[c.floor]}" "${best[c.rabbitmq]:-}") of RabbitMQ's."
fi
