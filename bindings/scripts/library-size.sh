#!/usr/bin/env bash
# Measures the mobile library (libfieldwork_ffi) built with the `mobile`
# profile at several opt-levels, and with the plain release profile, and
# prints a Markdown table for docs/benchmarks.md: file size, gzip size (what
# an app store download roughly adds) and the time of a fixed workload run
# through the generated Python bindings (bindings/scripts/size-probe.py).
#
#   bindings/scripts/library-size.sh            # opt-levels 3 s z
#   LEVELS="s" bindings/scripts/library-size.sh
#
# Not part of the test command: each build is a full optimised build of the
# library (several minutes each on a 2-core machine). Android targets are
# measured only when their Rust targets and an NDK linker are installed
# (ANDROID_TARGETS="aarch64-linux-android x86_64-linux-android"); this
# machine has neither, so the table is for the host (x86_64 Linux).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
levels=${LEVELS:-"3 s z"}
target_dir=${SIZE_TARGET_DIR:-$root/target/library-size}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Bindings are generated once (from the debug library: the interface is the
# same whatever the profile); each measured library is swapped in beside them.
OUT="$work/bindings" "$root/bindings/scripts/generate.sh" >/dev/null

probe() { # library -> seconds, median of three runs
  cp "$1" "$work/bindings/python/libfieldwork_ffi.so"
  for _ in 1 2 3; do
    FIELDWORK_BINDINGS_PY="$work/bindings/python" python3 "$root/bindings/scripts/size-probe.py"
  done | sort -n | sed -n 2p
}

row() { # label, library
  local bytes gz secs
  bytes=$(stat -c %s "$2")
  gz=$(gzip -9 -c "$2" | wc -c)
  secs=$(probe "$2")
  printf '| %s | %s | %.1f MiB | %.1f MiB | %s s |\n' "$1" "$(uname -m)-linux" \
    "$(echo "$bytes / 1048576" | bc -l)" "$(echo "$gz / 1048576" | bc -l)" "$secs"
}

echo "| build | target | .so | gzip -9 | probe (median of 3) |"
echo "|---|---|---|---|---|"
cargo build --manifest-path "$root/Cargo.toml" --locked -q -p fieldwork-ffi --lib \
  --release --target-dir "$target_dir"
row "release (as before)" "$target_dir/release/libfieldwork_ffi.so"
for level in $levels; do
  # A TOML value: numbers bare, "s" and "z" quoted.
  case $level in [0-9]) value=$level ;; *) value="\"$level\"" ;; esac
  cargo build --manifest-path "$root/Cargo.toml" --locked -q -p fieldwork-ffi --lib \
    --profile mobile --config "profile.mobile.opt-level=$value" --target-dir "$target_dir"
  row "mobile, opt-level $level" "$target_dir/mobile/libfieldwork_ffi.so"
done
