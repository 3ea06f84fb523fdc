#!/usr/bin/env bash
# Import benchmark (not a test): generates a CSV of N accounts (default
# 100000; UTF-8, semicolons, decimal-comma amounts, one quoted multi-line
# description in ten) and imports it with the release `fieldwork-server
# import account` into a fresh data directory, printing wall time and
# maximum resident memory (GNU time) with the machine it ran on. Figures go
# to docs/benchmarks.md, "Import". Set CARGO_TARGET_DIR to build the
# release binary outside the shared target directory.
#
#   bench/import.sh [ROWS]
set -euo pipefail
rows="${1:-100000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo build --release --locked --bin fieldwork-server
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
csv="$work/accounts.csv"
{
  printf 'external_id;name;territory;city;email;credit_limit;description\n'
  awk -v n="$rows" 'BEGIN {
    split("madrid sevilla bilbao valencia", t, " ");
    for (i = 1; i <= n; i++) {
      desc = (i % 10 == 0) ? "\"first line\nsecond line; with a semicolon\"" : "";
      printf "ext-%d;Cuenta %d SL;%s;Ciudad %d;cuenta%d@example.com;%d,%02d;%s\n",
        i, i, t[(i % 4) + 1], i % 97, i, i % 100000, i % 100, desc;
    }
  }'
} > "$csv"
printf '{"currency": "EUR"}\n' > "$work/mapping.json"
bin="${CARGO_TARGET_DIR:-$root/target}/release/fieldwork-server"
echo "machine: $(nproc) cores, $(uname -sm), $(awk '/MemTotal/ {printf "%.1f GB RAM", $2/1048576}' /proc/meminfo)"
echo "file: $rows rows, $(du -h "$csv" | cut -f1)"
"$bin" --data "$work/data" user list > /dev/null # creates and migrates the database
/usr/bin/time -v "$bin" --data "$work/data" import account "$csv" --mapping "$work/mapping.json" \
  2> "$work/time.txt" | tail -n 3
grep -E "imported [0-9]+ / " "$work/time.txt" | tail -n 1 || true
grep -E "Elapsed \(wall clock\)|Maximum resident set size" "$work/time.txt"
