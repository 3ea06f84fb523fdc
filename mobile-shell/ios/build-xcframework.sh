#!/usr/bin/env bash
# Builds FieldworkFFI.xcframework (device + simulator static libraries and the
# C header) and copies the generated Swift bindings into Sources/Generated/.
# Runs on macOS with Xcode; see README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$here/build"
targets=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios)

if [ "$(uname -s)" != Darwin ] || ! command -v xcodebuild >/dev/null; then
  echo "build-xcframework.sh needs macOS with Xcode (xcodebuild)" >&2
  exit 1
fi

rustup target add "${targets[@]}"
for target in "${targets[@]}"; do
  cargo rustc --manifest-path "$root/Cargo.toml" --locked -p fieldwork-ffi --lib --release \
    --target "$target" --crate-type staticlib
done

# Swift bindings, generated from a host build of the same crate.
cargo build --manifest-path "$root/Cargo.toml" --locked --release -p fieldwork-ffi -p uniffi-bindgen
rm -rf "$build" && mkdir -p "$build/swift" "$build/headers" "$build/sim"
"$root/target/release/uniffi-bindgen" generate --library "$root/target/release/libfieldwork_ffi.dylib" \
  --language swift --out-dir "$build/swift" --no-format
cp "$build/swift/FieldworkFFI.h" "$build/headers/"
cp "$build/swift/FieldworkFFI.modulemap" "$build/headers/module.modulemap"

lipo -create \
  "$root/target/aarch64-apple-ios-sim/release/libfieldwork_ffi.a" \
  "$root/target/x86_64-apple-ios/release/libfieldwork_ffi.a" \
  -output "$build/sim/libfieldwork_ffi.a"
xcodebuild -create-xcframework \
  -library "$root/target/aarch64-apple-ios/release/libfieldwork_ffi.a" -headers "$build/headers" \
  -library "$build/sim/libfieldwork_ffi.a" -headers "$build/headers" \
  -output "$build/FieldworkFFI.xcframework"

mkdir -p "$here/Sources/Generated"
cp "$build/swift/Fieldwork.swift" "$here/Sources/Generated/"
echo "built $build/FieldworkFFI.xcframework and Sources/Generated/Fieldwork.swift"
