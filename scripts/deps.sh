#!/usr/bin/env bash
# deps.sh: install what weft needs from Debian, only what is missing. Idempotent.
# Usage: scripts/deps.sh [build|test|bench]  (test and bench include build)
set -euo pipefail
want=(build-essential cmake g++ binutils libboost-context-dev libconcurrentqueue-dev
      libexpat1-dev amqp-specs libcli11-dev)
case "${1:-build}" in
  test) want+=(googletest libgtest-dev clang libclang-rt-14-dev) ;;
  bench) want+=(libboost-fiber-dev libbenchmark-dev golang-go) ;;
  all) want+=(googletest libgtest-dev clang libclang-rt-14-dev libboost-fiber-dev libbenchmark-dev
       golang-go) ;;
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
