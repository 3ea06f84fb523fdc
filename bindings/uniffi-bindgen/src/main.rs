//! `uniffi-bindgen`, built from the same uniffi version as `fieldwork-ffi`,
//! so that generated bindings always match the scaffolding in the library.
//! Run `bindings/scripts/generate.sh` rather than calling it by hand.

fn main() {
    uniffi::uniffi_bindgen_main()
}
