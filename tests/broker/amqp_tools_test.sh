#!/usr/bin/env bash
# amqp_tools_test: weftd against Debian's amqp-tools (the rabbitmq-c command-line
# clients), through a real weftd process on a free loopback port.
#   tests/broker/amqp_tools_test.sh PATH/TO/weftd
set -euo pipefail
weftd=$1
. "$(cd "$(dirname "$0")" && pwd)/weftd_process.sh"
start_weftd "$weftd"
fail() { echo "FAIL: $*"; weftd_log; exit 1; }

q=$(amqp-declare-queue --url="$url" -q tools-q)
[ "$q" = tools-q ] || fail "declare printed '$q'"
amqp-publish --url="$url" -r tools-q -b "hello from amqp-tools" -C text/plain
amqp-publish --url="$url" -r tools-q -b "second" -H "x-k: v"
got=$(amqp-get --url="$url" -q tools-q)
[ "$got" = "hello from amqp-tools" ] || fail "amqp-get printed '$got'"
got=$(amqp-consume --url="$url" -q tools-q -c 1 cat)
[ "$got" = "second" ] || fail "amqp-consume printed '$got'"
amqp-get --url="$url" -q tools-q >/dev/null 2>&1 && fail "queue should be empty"
# A fanout exchange reaching a bound queue.
amqp-declare-queue --url="$url" -q tools-fan-q >/dev/null
amqp-publish --url="$url" -e amq.fanout -r any -b "not yet bound"
amqp-get --url="$url" -q tools-fan-q >/dev/null 2>&1 && fail "an unbound queue got a message"
amqp-delete-queue --url="$url" -q tools-q >/dev/null
amqp-delete-queue --url="$url" -q tools-fan-q >/dev/null
# Wrong credentials: refused (403), not a hang.
if amqp-get --url="amqp://guest:wrong@127.0.0.1:$port" -q x >/dev/null 2>&1; then
  fail "a wrong password was accepted"
fi
stop_weftd
echo "amqp-tools: ok"
