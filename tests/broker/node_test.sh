#!/usr/bin/env bash
# node_test: installs node's amqplib from npm into BUILD_DIR and runs node_test.js
# against a real weftd on a free loopback port.
#   tests/broker/node_test.sh PATH/TO/weftd BUILD_DIR
set -euo pipefail
weftd=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
if [ ! -d "$out/node_modules/amqplib" ]; then
  npm install --no-audit --no-fund --silent --prefix "$out" amqplib@0.10
fi
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
"$weftd" --amqp-listen "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 300); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.05
done
if ! NODE_PATH="$out/node_modules" node "$here/node_test.js" "amqp://guest:guest@127.0.0.1:$port"; then
  cat "$log"
  exit 1
fi
kill -TERM $pid
wait $pid
trap - EXIT
rm -f "$log"
