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
. "$here/weftd_process.sh"
start_weftd "$weftd"
if ! "$out/goclient" "$url/"; then
  weftd_log
  exit 1
fi
stop_weftd
