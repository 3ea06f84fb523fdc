import Foundation
import Observation

/// The app's state: owns the one `FieldworkDevice` for the app's life and
/// republishes its listener callbacks on the main actor.
@MainActor @Observable
final class AppModel {
    /// The device store and its sync (thread-safe; see `store(_:)`).
    let device: FieldworkDevice
    /// Who the store belongs to; `signedIn` is false after logout.
    private(set) var user: UserInfo?
    /// The latest sync status, as the core reported it.
    private(set) var status: SyncStatus
    /// Bumped whenever records change (local edit or sync): screens reload on it.
    private(set) var revision = 0
    /// Whether live (background) sync was started from the Sync tab.
    private(set) var liveSync = false

    var signedIn: Bool { user?.signedIn == true }
    /// Changes with records or sync status: a reload key for sync-related screens.
    var syncKey: String { "\(revision)|\(status)" }

    private init(device: FieldworkDevice, user: UserInfo?) {
        self.device = device
        self.user = user
        self.status = device.syncStatus()
    }

    /// Opens (creating) `Application Support/fieldwork.db` and registers the listener.
    static func open() async throws -> AppModel {
        let dir = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                              appropriateFor: nil, create: true)
        let path = dir.appendingPathComponent("fieldwork.db").path
        let (device, user) = try await offMain { () throws -> (FieldworkDevice, UserInfo?) in
            // The store's key and the session token live in the Keychain, never in the file.
            let device = try FieldworkDevice.open(path: path, keystore: KeychainSecrets())
            return (device, try device.user())
        }
        let model = AppModel(device: device, user: user)
        let listener = Listener(model: model)
        // Kept for the app's life: the subscription is not needed to stop it.
        _ = try await model.store { try $0.addListener(listener: listener) }
        return model
    }

    /// Runs a synchronous store call off the main actor.
    func store<T: Sendable>(_ call: @escaping @Sendable (FieldworkDevice) throws -> T) async throws -> T {
        let device = self.device
        return try await device.run(call)
    }

    /// Signs in (async: runs on the core's own threads).
    func login(server: String, user name: String, password: String) async throws {
        user = try await device.login(server: server, user: name, password: password)
    }

    /// Signs out; the data stays on the device. Also stops live sync.
    func logout() async throws {
        liveSync = false
        try await device.logout()
        user = try await store { try $0.user() }
    }

    /// One full exchange with the server (async).
    func syncNow() async throws -> SyncReport {
        let report = try await device.syncNow(timeoutSeconds: 60)
        revision += 1 // refusals land in the quarantine, not in records
        return report
    }

    /// Starts or stops live sync (`stopSync` waits up to about a second).
    func setLiveSync(_ on: Bool) async throws {
        if on {
            try await store { try $0.startSync() }
        } else {
            try await store { $0.stopSync() }
        }
        liveSync = on
    }

    fileprivate func recordsChanged() { revision += 1 }
    fileprivate func statusChanged(_ status: SyncStatus) { self.status = status }

    /// The field an error is about, when it is about one.
    nonisolated static func field(of error: Error) -> String? {
        switch error as? FieldworkError {
        case let .Invalid(field, _)?: return field
        case let .Denied(_, field, _, _)?: return field
        default: return nil
        }
    }

    /// A sentence for the user, from an error of the core.
    nonisolated static func message(for error: Error) -> String {
        guard let error = error as? FieldworkError else { return error.localizedDescription }
        switch error {
        case let .Invalid(field, detail):
            return field.map { "\(label(for: $0)): \(detail)" } ?? detail
        case let .Denied(_, field, rule, detail):
            let what = field.map { "You may not change \(label(for: $0))" } ?? "Not allowed"
            return "\(what): \(detail) (rule \(rule))"
        case .NotFound: return "This record is no longer on the device."
        case .NotLoggedIn: return "Sign in to sync."
        case .InvalidCredentials: return "Wrong user name or password."
        case .SessionExpired: return "Your session has ended. Sign in again."
        case .RateLimited: return "Too many attempts. Try again in a few minutes."
        case let .Network(detail): return "No connection to the server (\(detail)). Your work is saved on the phone."
        case let .Server(code, detail): return "The server could not do this: \(detail) (\(code))."
        case let .Timeout(seconds): return "Sync took more than \(seconds) s; it continues next time."
        case let .Storage(detail): return "The phone's storage failed: \(detail)"
        case let .Internal(code, detail): return "Something went wrong in Fieldwork: \(detail) (\(code))"
        }
    }

    /// `first_name` → `First name`.
    nonisolated static func label(for field: String) -> String {
        let words = field.replacingOccurrences(of: "_", with: " ")
        return words.prefix(1).uppercased() + String(words.dropFirst())
    }
}

/// Receives the core's callbacks on a Fieldwork thread and hops to the main
/// actor. `DispatchQueue.main` keeps them in order (the last status wins).
/// `@unchecked`: its only state is a weak reference, set in `init` and never changed.
private final class Listener: DeviceListener, @unchecked Sendable {
    private weak var model: AppModel?

    init(model: AppModel) { self.model = model }

    func recordsChanged(ids: [String]) {
        let model = self.model
        DispatchQueue.main.async { MainActor.assumeIsolated { model?.recordsChanged() } }
    }

    func syncStatusChanged(status: SyncStatus) {
        let model = self.model
        DispatchQueue.main.async { MainActor.assumeIsolated { model?.statusChanged(status) } }
    }
}
