#!/usr/bin/env bash
# run.sh: build the AMQP codec's libFuzzer targets and run each for a while.
#
#   amqp/fuzz/run.sh [SECONDS] [TARGET...]   run each target SECONDS (default 20) from a
#                                           copy of its corpus/<target>; exit 1 on any crash
#   amqp/fuzz/run.sh --make-corpus          rewrite corpus/ with make_corpus.cpp
#
# Targets: fuzz_frames fuzz_method fuzz_table (README.md says what each checks). The
# codec (amqp/src/types.cpp, frame.cpp and spec.cpp from amqp_gen) is compiled with
# clang++ -fsanitize=fuzzer,address,undefined into $WEFT_FUZZ_BUILD (default
# build/fuzz), only what changed. Crashing inputs are saved there as
# artifacts/<target>-crash-*; replay one with `$WEFT_FUZZ_BUILD/<target> FILE`.
#
# Environment: CXX_FUZZ (clang++), WEFT_FUZZ_BUILD, WEFT_AMQP_SPEC (the spec XML),
# FUZZ_JOBS (parallel compiles, default 2), FUZZ_ARGS (more libFuzzer flags).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
amqp=$root/amqp
cxx=${CXX_FUZZ:-clang++}
out=${WEFT_FUZZ_BUILD:-$root/build/fuzz}
spec=${WEFT_AMQP_SPEC:-/usr/share/amqp/specs/0-9-1-rabbit/amqp0-9-1.stripped.extended.xml}
jobs=${FUZZ_JOBS:-2}
all_targets=(fuzz_frames fuzz_method fuzz_table)

make_corpus=0
if [ "${1:-}" = "--make-corpus" ]; then make_corpus=1; shift; fi
seconds=${1:-20}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

command -v "$cxx" >/dev/null || { echo "run.sh: $cxx not found (Debian: clang libclang-rt-14-dev)" >&2; exit 2; }
[ -f "$spec" ] || { echo "run.sh: spec $spec not found (Debian: amqp-specs)" >&2; exit 2; }
mkdir -p "$out/obj" "$out/generated/weft/amqp" "$out/artifacts"

# newer OUT INPUT...: true if OUT is missing or older than an input.
newer() {
  local target=$1; shift
  [ -e "$target" ] || return 0
  local f
  for f in "$@"; do [ "$f" -nt "$target" ] && return 0; done
  return 1
}

# 1. The generator (a host tool: no sanitizers) and the generated codec.
if newer "$out/amqp_gen" "$amqp/gen/amqp_gen.cpp"; then
  echo "run.sh: building amqp_gen" >&2
  "$cxx" -std=c++20 -O1 -o "$out/amqp_gen" "$amqp/gen/amqp_gen.cpp" -lexpat
fi
gen_h=$out/generated/weft/amqp/spec.h gen_cpp=$out/generated/spec.cpp
if newer "$gen_cpp" "$out/amqp_gen" "$spec" "$amqp/spec/rabbitmq-overlay.xml"; then
  "$out/amqp_gen" "$spec" "$amqp/spec/rabbitmq-overlay.xml" "$gen_h" "$gen_cpp"
fi

# 2. The codec and the targets, instrumented.
flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -fno-sanitize-recover=undefined
       -I"$amqp/include" -I"$out/generated" -I"$here")
headers=("$amqp/include/weft/amqp/types.h" "$amqp/include/weft/amqp/frame.h" "$gen_h"
         "$here/fuzz_check.h")
objects=()
pids=()
compile() {  # source object
  if newer "$2" "$1" "${headers[@]}"; then
    echo "run.sh: compiling $(basename "$1")" >&2
    "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$1" -o "$2.tmp" &&
      mv "$2.tmp" "$2"
  fi
}
for src in "$amqp/src/types.cpp" "$amqp/src/frame.cpp" "$gen_cpp"; do
  obj=$out/obj/codec_$(basename "$src" .cpp).o
  objects+=("$obj")
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || { echo "run.sh: compile failed" >&2; exit 2; }; done
  compile "$src" "$obj" & pids+=($!)
done
for t in "${targets[@]}"; do
  [ -f "$here/$t.cpp" ] || { echo "run.sh: no target $t" >&2; exit 2; }
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || { echo "run.sh: compile failed" >&2; exit 2; }; done
  compile "$here/$t.cpp" "$out/obj/$t.o" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || { echo "run.sh: compile failed" >&2; exit 2; }; done
for t in "${targets[@]}"; do
  if newer "$out/$t" "$out/obj/$t.o" "${objects[@]}"; then
    "$cxx" -fsanitize=fuzzer,address,undefined -o "$out/$t" "$out/obj/$t.o" "${objects[@]}"
  fi
done

if [ $make_corpus = 1 ]; then
  "$cxx" -std=c++20 -O1 -I"$amqp/include" -I"$out/generated" -o "$out/make_corpus" \
    "$here/make_corpus.cpp" "$amqp/src/types.cpp" "$amqp/src/frame.cpp" "$gen_cpp"
  rm -rf "$here/corpus"
  "$out/make_corpus" "$here/corpus"
  echo "run.sh: wrote $here/corpus" >&2
  exit 0
fi

# 3. Run each from a copy of its corpus (new inputs go to the copy, not to git).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
  work=$out/corpus/$t
  rm -rf "$work" && mkdir -p "$work"
  cp "$here/corpus/$t"/* "$work"/ 2>/dev/null || true
  echo "run.sh: $t for ${seconds}s" >&2
  # shellcheck disable=SC2086
  if ! "$out/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
      -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" ${FUZZ_ARGS:-} \
      "$work" >"$out/$t.log" 2>&1; then
    failed+=("$t")
    tail -n 60 "$out/$t.log" >&2
  else
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "$out/$t.log" \
      | sed "s/^/run.sh: $t: /" >&2 || true
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "run.sh: FAILED: ${failed[*]} (inputs in $out/artifacts, logs $out/<target>.log)" >&2
  exit 1
fi
echo "run.sh: ok: ${targets[*]}, ${seconds}s each" >&2
