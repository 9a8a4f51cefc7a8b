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
. "$here/weftd_process.sh"
start_weftd "$weftd"
if ! NODE_PATH="$out/node_modules" node "$here/node_test.js" "$url"; then
  weftd_log
  exit 1
fi
stop_weftd
