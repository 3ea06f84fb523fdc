#!/usr/bin/env bash
# Builds everything the tests use in ONE cargo invocation: every library
# (including libfieldwork_ffi.so for the generated bindings), every binary
# (fieldwork-server, fieldwork, uniffi-bindgen) and every test target.
#
# One invocation means one feature resolution: `cargo test --workspace`
# afterwards, and the foreign-language tests, reuse these artifacts instead
# of compiling the workspace again with another feature set (which is what
# `-p` builds or a `--bins`-only build would do). Running it again when
# nothing changed takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo build --workspace --lib --bins --tests --locked "$@"
