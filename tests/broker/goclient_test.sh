#!/usr/bin/env bash
# goclient_test: builds tests/broker/goclient against Debian's Go AMQP client (GOPATH
# mode, offline) and runs it against a real weftd on a free loopback port.
#   tests/broker/goclient_test.sh PATH/TO/weftd BUILD_DIR
set -euo pipefail
weftd=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$out/gocache" GOFLAGS= \
  go build -o "$out/goclient" "$here/goclient/main.go"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
"$weftd" --amqp-listen "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 300); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.05
done
if ! "$out/goclient" "amqp://guest:guest@127.0.0.1:$port/"; then
  cat "$log"
  exit 1
fi
kill -TERM $pid
wait $pid
trap - EXIT
rm -f "$log"
