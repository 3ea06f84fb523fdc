#!/usr/bin/env bash
# Runs every Fieldwork test, from a fresh clone on a fresh machine:
#   the Rust workspace: unit tests, store and CLI tests, and the end-to-end
#   tests (real servers on 127.0.0.1:0, real device stores, real sockets);
# then the foreign-language tests: the generated Python and Kotlin bindings
# and the Android shell's view models, against a real fieldwork-server
# (bindings/scripts/test-foreign.sh installs kotlinc, JNA, JUnit and pytest
# when they are missing).
set -euo pipefail
cd "$(dirname "$0")/.."

# SQLCipher (the encrypted device store) is compiled from source and links
# the system's libcrypto: its headers and pkg-config must be present.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if ! pkg-config --exists openssl 2>/dev/null; then
  echo "== installing libssl-dev and pkg-config (Debian), for SQLCipher"
  as_root apt-get install -y --no-install-recommends libssl-dev pkg-config >/dev/null 2>&1 ||
    { as_root apt-get update >/dev/null && as_root apt-get install -y --no-install-recommends libssl-dev pkg-config >/dev/null; }
fi

# The web app's browser tests (tests/tests/web.rs) drive Debian's headless
# Chromium through chromedriver (W3C WebDriver).
if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
  echo "== installing chromium and chromium-driver (Debian), for the browser tests"
  as_root apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null 2>&1 ||
    { as_root apt-get update >/dev/null && as_root apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null; }
fi

echo "== building everything the tests use, once (scripts/build-for-tests.sh)"
./scripts/build-for-tests.sh

echo "== Rust tests"
cargo test --workspace --locked

echo "== the OpenAPI document: validated, then checked against a live server (scripts/check-openapi.sh)"
./scripts/check-openapi.sh

echo "== Python and Kotlin (JVM) tests of the generated bindings"
./bindings/scripts/test-foreign.sh
