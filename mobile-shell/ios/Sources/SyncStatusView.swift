import SwiftUI

/// Status, unsent changes, sync now, live sync, sign out.
struct SyncStatusView: View {
    let model: AppModel
    @State private var pending: UInt64 = 0
    @State private var live = false

    var body: some View {
        Form {
            LabeledContent("Status", value: Self.headline(model.status))
            LabeledContent("Waiting to be sent", value: "\(pending)")
            if let error = model.lastError { Text(error).foregroundStyle(.red) }
            Button("Sync now") { Task { await model.syncNow() } }
            Toggle("Stay in sync while open", isOn: $live)
                .onChange(of: live) { _, on in
                    Task { _ = try? await model.store { on ? try $0.startSync() : $0.stopSync() } }
                }
            Button("Sign out", role: .destructive) { Task { await model.logout() } }
        }
        .navigationTitle("Sync")
        .task(id: "\(model.revision)|\(Self.headline(model.status))") {
            pending = (try? await model.store { try $0.pendingChanges() }) ?? 0
        }
    }

    static func headline(_ status: SyncStatus) -> String {
        switch status {
        case .offline: return "Offline"
        case .connecting: return "Connecting…"
        case .syncing(let done, let total, _): return total.map { "Syncing \(done) of \($0)" } ?? "Syncing…"
        case .upToDate: return "Up to date"
        case .error(let message): return "Sync failed: \(message)"
        }
    }
}
