#!/usr/bin/env bash
# deps.sh: install what weft needs from Debian, only what is missing. Idempotent.
# Usage: scripts/deps.sh [build|test|bench]  (test and bench include build)
set -euo pipefail
want=(build-essential cmake g++ binutils libboost-context-dev libconcurrentqueue-dev
      libexpat1-dev amqp-specs libcli11-dev
      # debug/: pprof's profile.proto (Debian's copy of google/pprof) compiled with
      # protoc, DWARF symbolization with libdw, gzip with zlib, JSON with nlohmann.
      golang-github-google-pprof-dev protobuf-compiler libprotobuf-dev libdw-dev zlib1g-dev
      nlohmann-json3-dev pkg-config)
# Tests run real third-party clients against weftd (python3-pika, amqp-tools, the Go
# client built offline in GOPATH mode) and our client against rabbitmq-server.
test_pkgs=(googletest libgtest-dev clang clang-format libclang-rt-14-dev python3-pika amqp-tools
           rabbitmq-server golang-go golang-github-rabbitmq-amqp091-go-dev gdb curl)
# bench/broker_compare.sh starts private rabbitmq-server and garagemq instances on free
# ports; under systemd their packaged services would also take 5672 (stop them).
bench_pkgs=(libboost-fiber-dev libbenchmark-dev golang-go rabbitmq-server garagemq)
case "${1:-build}" in
  test) want+=("${test_pkgs[@]}") ;;
  bench) want+=("${bench_pkgs[@]}") ;;
  all) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
