import Foundation

/// Store calls are synchronous and block for milliseconds (one SQLite
/// transaction; longer while a sync applies a big batch), so they run on this
/// queue, never on the main thread.
private let storeQueue = DispatchQueue(label: "dev.fieldwork.store", qos: .userInitiated, attributes: .concurrent)

/// Runs a blocking Fieldwork call on `storeQueue` and resumes with its result.
func offMain<T: Sendable>(_ call: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        storeQueue.async { continuation.resume(with: Result { try call() }) }
    }
}
