# weftd_process.sh: sourced by the shell tests. start_weftd PATH/TO/weftd starts weftd on
# a free loopback port and sets $port, $url and $weftd_pid; stop_weftd sends SIGTERM and
# fails unless weftd exits 0. On failure the test calls weftd_log to show what it said.
start_weftd() {
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  weftd_logfile=$(mktemp)
  # --http-listen on port 0: the admin port must not collide with another weftd.
  "$1" --amqp-listen "127.0.0.1:$port" --http-listen 127.0.0.1:0 >"$weftd_logfile" 2>&1 &
  weftd_pid=$!
  trap 'kill $weftd_pid 2>/dev/null || true; rm -f "$weftd_logfile"' EXIT
  for _ in $(seq 1 300); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
    sleep 0.05
  done
  url="amqp://guest:guest@127.0.0.1:$port"
}

weftd_log() { cat "$weftd_logfile"; }

stop_weftd() {
  kill -TERM "$weftd_pid"
  local status=0
  wait "$weftd_pid" || status=$?
  trap - EXIT
  [ "$status" -eq 0 ] || { echo "weftd exited with $status"; weftd_log; rm -f "$weftd_logfile"; return 1; }
  rm -f "$weftd_logfile"
}
