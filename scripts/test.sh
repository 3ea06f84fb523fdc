#!/usr/bin/env bash
# Runs every Fieldwork test, from a fresh clone on a fresh machine:
#   1. the Rust workspace: unit tests, store and CLI tests, and the end-to-end
#      tests (real servers on 127.0.0.1:0, real device stores, real sockets);
#   2. the generated bindings in Kotlin on the JVM and in Python, against a
#      real server, and the mobile shell's view-model tests on the JVM.
# It installs what it needs (Debian's libjna-java, the npm kotlin-compiler,
# pytest) into the system or into .tools/.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== building the workspace (binaries are used by the end-to-end tests)"
cargo build --workspace --bins --locked

echo "== Rust tests"
cargo test --workspace --locked

echo "== bindings and mobile shell"
bindings/scripts/test-foreign.sh
