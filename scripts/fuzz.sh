#!/usr/bin/env bash
# Coverage-guided fuzzing of the readers of untrusted input (`make fuzz`).
#
#   scripts/fuzz.sh [TARGET...]            fuzz each target for FUZZ_SECONDS (60) seconds
#   scripts/fuzz.sh --replay [TARGET...]   run the seeds and fuzz/regressions/<target> once each
#
# Targets: recipe, qa-json, image, cache-records (all by default). Each is built once with libFuzzer
# and AddressSanitizer into .build-fuzz, then runs on its seed corpus (fuzz/corpus/<target>, copied
# into .build-fuzz/corpus/<target>, where what the fuzzer finds accumulates across runs) with its
# dictionary (fuzz/dict/<target>.dict). A crash, an input that runs longer than 10 s, more than
# 2 GiB of memory or a leak fails the run; the input is left in .build-fuzz/findings/<target>/ and
# the log in .build-fuzz/logs/<target>.log. FUZZ_FLAGS adds libFuzzer options, e.g.
# FUZZ_FLAGS="-fork=1 -ignore_crashes=1" to fuzz past a known crash.
set -euo pipefail
cd "$(dirname "$0")/.."

replay=0
if [ "${1:-}" = "--replay" ]; then replay=1; shift; fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(recipe qa-json image cache-records)
seconds=${FUZZ_SECONDS:-60}
scratch=.build-fuzz
swift=${SWIFT:-swift}
# `--sanitize fuzzer` makes SwiftPM leave `main` to libFuzzer; the one `-sanitize=` after it adds
# AddressSanitizer (swiftc keeps only the last of several, as two `--sanitize` would pass).
build=("$swift" build -c release --scratch-path "$scratch" --sanitize fuzzer -Xswiftc -sanitize=fuzzer,address
       -Xcc -fsanitize=address -Xswiftc -DFUZZING)

for target in "${targets[@]}"; do
    [ -d "fuzz/corpus/$target" ] || { echo "fuzz: no target \`$target\` (fuzz/corpus/$target is missing)" >&2; exit 2; }
done

start=$(date +%s)
for target in "${targets[@]}"; do
    "${build[@]}" --product "fuzz-$target"
done
echo "fuzz: built ${targets[*]} in $(( $(date +%s) - start )) s"
bin=$("${build[@]}" --show-bin-path)

if [ $replay = 1 ]; then
    for target in "${targets[@]}"; do
        inputs=("fuzz/corpus/$target")
        [ -d "fuzz/regressions/$target" ] && inputs+=("fuzz/regressions/$target")
        "$bin/fuzz-$target" -runs=0 -rss_limit_mb=2048 -timeout=10 "${inputs[@]}"
    done
    exit 0
fi

failed=()
mkdir -p "$scratch/logs"
for target in "${targets[@]}"; do
    corpus="$scratch/corpus/$target" findings="$scratch/findings/$target" log="$scratch/logs/$target.log"
    mkdir -p "$corpus" "$findings"
    # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of options
    if "$bin/fuzz-$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=8192 \
            -dict="fuzz/dict/$target.dict" -artifact_prefix="$findings/" -print_final_stats=1 ${FUZZ_FLAGS:-} \
            "$corpus" "fuzz/corpus/$target" > "$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
        echo "fuzz: $target: no finding in ${seconds} s (${runs:-?} inputs, ${speed:-?} exec/s; corpus $corpus)"
    else
        failed+=("$target")
        echo "fuzz: $target: FAILED; the log's end ($log):"
        grep -v '^#[0-9]' "$log" | tail -40
        echo "fuzz: $target: the input is in $findings/"
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: findings in: ${failed[*]} (rerun one with .build-fuzz/release/fuzz-TARGET FILE)" >&2
    exit 1
fi
