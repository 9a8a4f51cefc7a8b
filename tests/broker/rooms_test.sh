#!/usr/bin/env bash
# rooms_test.sh: the broker's rooms hold (broker/CMakeLists.txt). Each forbidden probe is
# a one-line source that includes a header of a room its target may not use: building it
# must fail, and fail for that reason (the header is not found). The allowed probe
# includes a room its target does use, and must build: so a failure above is the rule,
# not a broken build. And no broker source reaches around the rule with "../".
#   rooms_test.sh SOURCE_DIR BUILD_DIR ALLOWED_TARGET FORBIDDEN_TARGET...
set -uo pipefail
src=$1 build=$2 allowed=$3
shift 3
fail() { echo "FAIL: $*"; exit 1; }

if grep -rnE '#include +"\.\./' "$src/broker"; then fail "a broker include climbs out of its room"; fi

out=$(cmake --build "$build" --target "$allowed" 2>&1) || { echo "$out"; fail "$allowed does not build"; }
n=0
for t in "$@"; do
  if out=$(cmake --build "$build" --target "$t" 2>&1); then
    fail "$t built: its room reached a header it may not use"
  fi
  grep -q "No such file or directory" <<<"$out" || { echo "$out"; fail "$t failed for another reason"; }
  n=$((n + 1))
done
echo "rooms: $n forbidden includes refused, the allowed one builds"
