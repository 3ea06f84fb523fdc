#!/usr/bin/env bash
# Runs every coverage-guided fuzz target in fuzz/ for a bounded time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGETs default to all of them. Installs
# cargo-fuzz if it is missing, builds the targets once (stable Rust, no
# sanitizer: `cargo fuzz build -s none`, into fuzz/target), then runs each
# with libFuzzer on its corpus (fuzz/corpus/TARGET, kept between runs,
# git-ignored) seeded with our own inputs (fuzz/seeds/TARGET). Exits non-zero
# if any target crashed, printing where the crashing input is
# (fuzz/artifacts/TARGET/crash-*). Not part of scripts/test.sh.
#
# A crash input becomes a regression test: copy it to
# core/tests/fuzz_regressions/TARGET/ (see docs/FUZZING.md).
set -euo pipefail

cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-60}"
shift || true
ALL=(frame_codec change_validate bpmn_import condition policy_file)
TARGETS=("${@:-${ALL[@]}}")
# Larger inputs for the text targets, so nesting and long chains are reachable.
declare -A MAX_LEN=([bpmn_import]=65536 [condition]=16384 [policy_file]=16384)

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

echo "== building fuzz targets (fuzz/target; the first build takes ~12 min on 2 cores)"
# -s none: no sanitizer, so stable Rust builds it (ASan needs nightly).
if ! cargo fuzz build -s none --target-dir fuzz/target >fuzz/build.log 2>&1; then
    tail -n 30 fuzz/build.log >&2
    echo "fuzz build failed (full log: fuzz/build.log)" >&2
    exit 2
fi
BIN="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"

if [ ! -d fuzz/seeds/change_validate ] || [ ! -d fuzz/seeds/frame_codec ]; then
    echo "== writing binary seeds (fuzz/examples/make_seeds.rs)"
    (cd fuzz && cargo run --quiet --example make_seeds --target-dir target/seeds)
fi

failed=()
for t in "${TARGETS[@]}"; do
    corpus="fuzz/corpus/$t"
    artifacts="fuzz/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    log="$artifacts/last-run.log"
    echo "== $t: ${SECONDS_PER_TARGET}s"
    marker="$artifacts/.started"
    touch "$marker"
    set +e
    "$BIN/$t" \
        -max_total_time="$SECONDS_PER_TARGET" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        ${MAX_LEN[$t]:+-max_len=${MAX_LEN[$t]}} \
        -artifact_prefix="$artifacts/" \
        -print_final_stats=1 \
        "$corpus" "fuzz/seeds/$t" >"$log" 2>&1
    rc=$?
    set -e
    grep -E '^(stat::number_of_executed_units|stat::new_units_added|Done )' "$log" || true
    found=$(find "$artifacts" -newer "$marker" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'slow-unit-*' \) -print)
    if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
        echo "!! $t found a problem (exit $rc); input and log:"
        echo "$found" | sed 's/^/   /'
        echo "   $log"
        grep -m1 -E 'panicked at|ERROR: libFuzzer' "$log" | sed 's/^/   /' || true
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]}"
    echo "Reproduce: $BIN/TARGET fuzz/artifacts/TARGET/crash-..."
    exit 1
fi
echo "all ${#TARGETS[@]} targets ran ${SECONDS_PER_TARGET}s without a crash"
