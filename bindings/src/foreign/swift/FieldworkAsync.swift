// Hand-written, copied beside the generated fieldwork.swift by
// bindings/scripts/generate.sh: store calls as async calls.
//
// Not compiled on the Linux machine that generates the bindings (no swiftc
// there); Xcode compiles it with the generated file (mobile-shell/ios).
//
// The network calls are `async` in the generated code itself (login, logout,
// syncNow, fetchAttachment, transferFiles) and run on the device's own Rust
// runtime. Store calls (create, update, card, list, search, tasks, attach,
// reports...) block for one SQLite transaction; `run` moves any of them off
// the caller's thread (the main actor) onto one concurrent queue and resumes
// with the result or the typed FieldworkError:
//
//     let id = try await device.run { try $0.create(kind: .account, fields: fields) }

import Foundation

/// The queue store calls run on.
private let fieldworkStoreQueue = DispatchQueue(
    label: "dev.fieldwork.store", qos: .userInitiated, attributes: .concurrent)

extension FieldworkDevice {
    /// Runs `call` (blocking store calls on this device) on Fieldwork's store
    /// queue and resumes with its result; never blocks the caller's thread.
    public func run<T: Sendable>(
        _ call: @escaping @Sendable (FieldworkDevice) throws -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            fieldworkStoreQueue.async { continuation.resume(with: Result { try call(self) }) }
        }
    }
}
