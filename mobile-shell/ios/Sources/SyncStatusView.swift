import SwiftUI

/// Sync status, changes waiting to be sent, *Sync now*, the live-sync switch
/// and sign-out.
struct SyncStatusView: View {
    let model: AppModel
    @State private var pending: Int64 = 0
    @State private var message: String?
    @State private var busy = false

    var body: some View {
        Form {
            Section {
                LabeledContent("Status", value: model.status.headline)
                LabeledContent("Waiting to be sent", value: "\(pending)")
                if let user = model.user {
                    LabeledContent("Signed in as", value: "\(user.name) (\(user.role))")
                    LabeledContent("Server", value: user.server)
                }
            }
            Section {
                Button(busy ? "Syncing…" : "Sync now") { Task { await syncNow() } }
                    .disabled(busy)
                Toggle("Live sync", isOn: Binding(get: { model.liveSync },
                                                  set: { on in Task { await setLive(on) } }))
            } footer: {
                Text("Live sync stays connected while the app runs and sends edits as they are made.")
            }
            if let message {
                Section { Text(message) }
            }
            if case let .error(cause, _) = model.status, cause.canRetry {
                Section {
                    Button("Retry") { Task { await syncNow() } }.disabled(busy)
                }
            }
            Section {
                Button("Sign out", role: .destructive) { Task { await signOut() } }
            }
        }
        .navigationTitle("Sync")
        .task(id: model.syncKey) { await refresh() }
    }

    private func refresh() async {
        pending = (try? await model.store { try $0.pendingChanges() }) ?? pending
    }

    private func syncNow() async {
        busy = true
        defer { busy = false }
        do {
            let report = try await model.syncNow()
            message = "Sent \(report.pushed), received \(report.changed), refused \(report.refused)."
        } catch {
            message = AppModel.message(for: error)
        }
        await refresh()
    }

    private func setLive(_ on: Bool) async {
        do {
            try await model.setLiveSync(on)
            message = nil
        } catch {
            message = AppModel.message(for: error)
        }
    }

    private func signOut() async {
        do {
            try await model.logout()
        } catch {
            message = AppModel.message(for: error)
        }
    }
}

extension SyncStatus {
    /// One line for people; a failure is the SDK's sentence, in the
    /// device's locale (`setLocale`).
    var headline: String {
        switch self {
        case .offline: return "Offline"
        case .connecting: return "Connecting…"
        case let .syncing(done, total, _):
            if let total { return "Syncing \(done) of \(total)" }
            return "Syncing (\(done) received)"
        case .upToDate: return "Up to date"
        case let .error(_, message): return message
        case .needsLogin: return "Signed out: please sign in again"
        case .wiped: return "Removed from this phone by your administrator"
        }
    }
}

extension SyncErrorCause {
    /// Whether retrying can fix the failure: only a failure to reach the
    /// server or a timeout. The other causes need the user or an update
    /// (sign-in settings, a newer app, free storage).
    var canRetry: Bool {
        switch self {
        case .network, .timeout: return true
        case .tls, .serverRefused, .protocol, .storage, .badServerUrl, .signedOut, .other: return false
        }
    }
}
