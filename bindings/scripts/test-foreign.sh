#!/usr/bin/env bash
# Runs the binding tests in the foreign languages, against a real
# fieldwork-server on a free port:
#   - Python (pytest) over the generated fieldwork.py;
#   - Kotlin on the JVM (kotlinc from the npm package kotlin-compiler, JNA and
#     JUnit 4 from Debian) over the generated fieldwork.kt;
#   - the Android shell's plain-Kotlin module (view models) and its tests.
# Installs what it needs when missing. Swift is generated but not compiled:
# this Linux machine has no swiftc (see bindings/README.md).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
tools="$root/.tools"
kotlin_version=2.4.20
mkdir -p "$tools"

log() { printf '\n== %s\n' "$*"; }

# --- tools --------------------------------------------------------------
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need_debs=()
command -v java >/dev/null || need_debs+=(default-jdk-headless)
[ -f /usr/share/java/jna.jar ] || need_debs+=(libjna-java)
[ -f /usr/share/java/junit4.jar ] || need_debs+=(junit4)
if [ ${#need_debs[@]} -gt 0 ]; then
  log "installing ${need_debs[*]} (Debian)"
  as_root apt-get install -y --no-install-recommends "${need_debs[@]}" >/dev/null 2>&1 ||
    { as_root apt-get update >/dev/null && as_root apt-get install -y --no-install-recommends "${need_debs[@]}" >/dev/null; }
fi
kotlin_home="$tools/kotlin-compiler-$kotlin_version"
if [ ! -x "$kotlin_home/bin/kotlinc-jvm" ]; then
  log "installing kotlin-compiler $kotlin_version (npm)"
  rm -rf "$kotlin_home" && mkdir -p "$kotlin_home"
  (cd "$tools" && npm pack --silent "kotlin-compiler@$kotlin_version" >/dev/null)
  tar xzf "$tools/kotlin-compiler-$kotlin_version.tgz" -C "$kotlin_home" --strip-components=1
  rm -f "$tools/kotlin-compiler-$kotlin_version.tgz"
  chmod +x "$kotlin_home"/bin/*
fi
if ! python3 -c 'import pytest' 2>/dev/null; then
  log "installing pytest (PyPI)"
  python3 -m pip install --quiet --disable-pip-version-check pytest
fi

# --- build and generate -------------------------------------------------
log "generating the bindings (the build is a no-op after scripts/test.sh's)"
"$root/bindings/scripts/generate.sh"
# The same places generate.sh uses (OUT, CARGO_TARGET_DIR), so that a
# build in another target directory is tested as it is.
out=${OUT:-$root/bindings/out}
target_dir=${CARGO_TARGET_DIR:-$root/target}
export FIELDWORK_SERVER_BIN="$target_dir/debug/fieldwork-server"

# --- Python -------------------------------------------------------------
log "Python binding tests"
FIELDWORK_BINDINGS_PY="$out/python" python3 -m pytest -q -p no:cacheprovider "$root/bindings/tests/python"

# --- Kotlin -------------------------------------------------------------
kotlinc="$kotlin_home/bin/kotlinc-jvm"
klib="$kotlin_home/lib"
jars=/usr/share/java
compile_cp="$jars/jna.jar:$jars/junit4.jar:$klib/kotlin-test.jar:$klib/kotlin-test-junit.jar:$klib/kotlinx-coroutines-core-jvm.jar"
run_cp="$compile_cp:$jars/hamcrest-core.jar:$klib/kotlin-stdlib.jar"
build="$target_dir/kotlin"
mkdir -p "$build"

log "compiling the generated Kotlin bindings and the Kotlin tests"
"$kotlinc" -nowarn -cp "$compile_cp" -d "$build/bindings-tests.jar" \
  "$out/kotlin/dev/fieldwork/"*.kt "$root"/bindings/tests/kotlin/*.kt \
  "$root"/bindings/tests/kotlin-support/*.kt
log "Kotlin binding tests (JVM)"
java -Djna.library.path="$out/lib" -cp "$build/bindings-tests.jar:$run_cp" \
  org.junit.runner.JUnitCore dev.fieldwork.tests.DeviceTest dev.fieldwork.tests.EncryptedStoreTest dev.fieldwork.tests.ReportsTest \
  dev.fieldwork.tests.LifecycleTest dev.fieldwork.tests.ObserveTest dev.fieldwork.tests.AttachmentsTest \
  dev.fieldwork.tests.CustomFieldsTest

shared="$root/mobile-shell/android/shared/src"
if [ -d "$shared" ]; then
  log "compiling the Android shell's shared module and its tests"
  "$kotlinc" -nowarn -cp "$compile_cp" -d "$build/shared-tests.jar" \
    "$out/kotlin/dev/fieldwork/"*.kt "$shared/main/kotlin" "$shared/test/kotlin" "$root"/bindings/tests/kotlin-support/*.kt
  log "Android shell shared-module tests (JVM)"
  classes=$(cd "$shared/test/kotlin" && grep -rl '@Test' . | sed 's|^\./||; s|\.kt$||; s|/|.|g')
  # shellcheck disable=SC2086
  java -Djna.library.path="$out/lib" -cp "$build/shared-tests.jar:$run_cp" \
    org.junit.runner.JUnitCore $classes
fi
