#!/usr/bin/env bash
# Builds libfieldwork_ffi and generates its Kotlin, Swift and Python bindings.
#
#   bindings/scripts/generate.sh            # debug build
#   PROFILE=release bindings/scripts/generate.sh
#
# Output (git-ignored), always regenerated from scratch:
#   bindings/out/kotlin/dev/fieldwork/{fieldwork.kt,FieldworkFlows.kt,FieldworkSuspend.kt}
#   bindings/out/swift/{fieldwork.swift,FieldworkStreams.swift,FieldworkAsync.swift,FieldworkFFI.h,FieldworkFFI.modulemap}
#   bindings/out/python/{fieldwork.py,libfieldwork_ffi.so}
# (FieldworkFlows.kt, FieldworkStreams.swift and the end of fieldwork.py are
# hand-written, from bindings/src/foreign/.)
#   bindings/out/lib/libfieldwork_ffi.{so,dylib}
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
profile=${PROFILE:-debug}
out=${OUT:-$root/bindings/out}

if [ "$profile" = release ]; then
  cargo build --manifest-path "$root/Cargo.toml" --locked --release -p fieldwork-ffi -p uniffi-bindgen
else
  # The same invocation as the test build, so its artifacts are reused
  # rather than rebuilt with another feature set.
  "$root/scripts/build-for-tests.sh"
fi

target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$(uname -s)" in
  Darwin) lib_file=libfieldwork_ffi.dylib ;;
  *) lib_file=libfieldwork_ffi.so ;;
esac
lib="$target_dir/$profile/$lib_file"
bindgen="$target_dir/$profile/uniffi-bindgen"

rm -rf "$out"
mkdir -p "$out/lib" "$out/python"
cp "$lib" "$out/lib/"
for language in kotlin swift python; do
  # --no-format: ktlint and swiftformat are not needed to use the output.
  "$bindgen" generate --library "$lib" --language "$language" \
    --out-dir "$out/$language" --no-format
done
cp "$lib" "$out/python/"
# Python: close every device the process opened before the interpreter
# finalises, so a listener thread never calls into a finalising
# interpreter (issue 16: SIGABRT at exit). uniffi offers no hook for
# hand-written Python in the generated module, so it is appended here.
cat >>"$out/python/fieldwork.py" <<'PY'


# Appended by bindings/scripts/generate.sh: devices still open at exit are
# closed before finalisation (close_all_devices is idempotent).
import atexit as _fieldwork_atexit

_fieldwork_atexit.register(close_all_devices)
PY
# The hand-written layer over the generated code (bindings/src/foreign/):
# live queries as Kotlin Flows, Swift AsyncSequences and Python iterators;
# store calls off the caller's thread (Kotlin `io {}`, Swift `run {}`).
foreign="$root/bindings/src/foreign"
cp "$foreign/kotlin/"*.kt "$out/kotlin/dev/fieldwork/"
cp "$foreign/swift/"*.swift "$out/swift/"
cat "$foreign/python/observe.py" >>"$out/python/fieldwork.py"
echo "bindings generated in $out"
