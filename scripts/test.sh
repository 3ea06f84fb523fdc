#!/usr/bin/env bash
# Runs every Fieldwork test, from a fresh clone on a fresh machine:
#   the Rust workspace: unit tests, store and CLI tests, and the end-to-end
#   tests (real servers on 127.0.0.1:0, real device stores, real sockets).
# The bindings and mobile shell are not built yet (README, "Status"); when
# they are, their foreign-language tests join here.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== building the workspace (binaries are used by the end-to-end tests)"
cargo build --workspace --bins --locked

echo "== Rust tests"
cargo test --workspace --locked
