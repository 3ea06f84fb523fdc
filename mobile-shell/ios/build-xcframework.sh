#!/usr/bin/env bash
# Builds build/FieldworkFFI.xcframework (fieldwork-ffi as a static library for
# iOS devices and the simulator, with the C header and module map) and copies
# the generated Swift bindings to Sources/Generated/Fieldwork.swift.
#
#   mobile-shell/ios/build-xcframework.sh     # on a Mac with Xcode and rustup
#
# Needs macOS: xcodebuild, lipo and the iOS SDKs. See README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build="$here/build"
target_dir=${CARGO_TARGET_DIR:-$root/target}
device_target=aarch64-apple-ios
sim_targets=(aarch64-apple-ios-sim x86_64-apple-ios)
lib=libfieldwork_ffi.a

if [ "$(uname -s)" != Darwin ] || ! command -v xcodebuild >/dev/null 2>&1; then
  echo "build-xcframework.sh needs macOS with Xcode (xcodebuild was not found)" >&2
  exit 1
fi
for tool in rustup cargo lipo; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing: $tool" >&2; exit 1; }
done

# Match the app's deployment target (project.yml), for rustc and the C code
# (bundled SQLite) alike, so the linker does not warn about newer objects.
export IPHONEOS_DEPLOYMENT_TARGET=${IPHONEOS_DEPLOYMENT_TARGET:-17.0}

cd "$root"

echo "== Rust targets"
rustup target add "$device_target" "${sim_targets[@]}"

echo "== static libraries"
for target in "$device_target" "${sim_targets[@]}"; do
  cargo rustc --manifest-path "$root/Cargo.toml" --locked -p fieldwork-ffi --lib --release \
    --target "$target" --crate-type staticlib
done

echo "== Swift bindings (from a host build of the same crate)"
cargo build --manifest-path "$root/Cargo.toml" --locked -p fieldwork-ffi --release
# Only what this script makes: build/Info.plist is xcodegen's.
rm -rf "$build/swift" "$build/headers" "$build/sim" "$build/FieldworkFFI.xcframework"
mkdir -p "$build/swift" "$build/headers" "$build/sim"
cargo run --manifest-path "$root/Cargo.toml" --locked --release -p uniffi-bindgen -- \
  generate --library "$target_dir/release/libfieldwork_ffi.dylib" \
  --language swift --out-dir "$build/swift" --no-format

# The XCFramework's headers: the C header plus a module map that Xcode finds
# by its conventional name, so `import FieldworkFFI` resolves.
cp "$build/swift/FieldworkFFI.h" "$build/headers/"
cp "$build/swift/FieldworkFFI.modulemap" "$build/headers/module.modulemap"

echo "== simulator slices (arm64 + x86_64)"
sim_libs=()
for target in "${sim_targets[@]}"; do
  sim_libs+=("$target_dir/$target/release/$lib")
done
lipo -create "${sim_libs[@]}" -output "$build/sim/$lib"

echo "== XCFramework"
xcodebuild -create-xcframework \
  -library "$target_dir/$device_target/release/$lib" -headers "$build/headers" \
  -library "$build/sim/$lib" -headers "$build/headers" \
  -output "$build/FieldworkFFI.xcframework"

mkdir -p "$here/Sources/Generated"
cp "$build/swift/Fieldwork.swift" "$here/Sources/Generated/Fieldwork.swift"

echo "built $build/FieldworkFFI.xcframework"
echo "copied $here/Sources/Generated/Fieldwork.swift"
echo "next: cd mobile-shell/ios && xcodegen && open Fieldwork.xcodeproj"
