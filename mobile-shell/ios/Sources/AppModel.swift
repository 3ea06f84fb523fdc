import Foundation
import Observation

/// Owns the device for the app's life. Store calls are synchronous and take
/// milliseconds, so views call them through `store { }`, off the main actor;
/// network calls are async. Listener callbacks arrive on a Fieldwork thread
/// and are hopped to the main actor.
@MainActor @Observable
final class AppModel {
    let device: FieldworkDevice
    private(set) var user: UserInfo?
    private(set) var status: SyncStatus
    /// Bumped whenever records change; views reload when it moves.
    private(set) var revision = 0
    var lastError: String?

    init(device: FieldworkDevice) {
        self.device = device
        self.user = try? device.user()
        self.status = device.syncStatus()
        try? device.addListener(listener: Listener(model: self))
    }

    /// Opens `Application Support/fieldwork.db`, or `nil` if it cannot be opened.
    static func openOrFail() -> AppModel? {
        guard let dir = try? FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                                     appropriateFor: nil, create: true),
              let device = try? FieldworkDevice.open(path: dir.appendingPathComponent("fieldwork.db").path)
        else { return nil }
        return AppModel(device: device)
    }

    /// Runs a store call off the main actor.
    nonisolated func store<T: Sendable>(_ call: @escaping @Sendable (FieldworkDevice) throws -> T) async throws -> T {
        let device = self.device
        return try await Task.detached { try call(device) }.value
    }

    func login(server: String, user: String, password: String) async {
        do {
            self.user = try await device.login(server: server, user: user, password: password)
            lastError = nil
        } catch {
            lastError = Self.message(for: error)
        }
    }

    func logout() async {
        try? await device.logout()
        user = try? device.user()
    }

    func syncNow() async {
        do {
            _ = try await device.syncNow(timeoutSeconds: 60)
            lastError = nil
        } catch {
            lastError = Self.message(for: error)
        }
    }

    fileprivate func changed() { revision += 1 }
    fileprivate func statusChanged(_ s: SyncStatus) { status = s }

    /// A sentence for the user, from an error of the core.
    nonisolated static func message(for error: Error) -> String {
        guard let error = error as? FieldworkError else { return error.localizedDescription }
        switch error {
        case .Invalid(_, let detail): return detail
        case .Denied(_, _, _, let detail): return "Not allowed: \(detail)"
        case .InvalidCredentials: return "Wrong user name or password."
        case .NotLoggedIn, .SessionExpired: return "Sign in again to sync."
        case .Network: return "No connection to the server. Your work is saved on the phone."
        default: return String(describing: error)
        }
    }
}

/// Forwards the core's callbacks to the main actor.
private final class Listener: DeviceListener, @unchecked Sendable {
    weak var model: AppModel?
    init(model: AppModel) { self.model = model }

    func recordsChanged(ids: [String]) {
        Task { @MainActor [weak model] in model?.changed() }
    }

    func syncStatusChanged(status: SyncStatus) {
        Task { @MainActor [weak model] in model?.statusChanged(status) }
    }
}
