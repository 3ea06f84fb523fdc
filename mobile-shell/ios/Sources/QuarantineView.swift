import SwiftUI

/// Edits the server refused (the user's rights changed while they worked
/// offline, say), kept as typed with the code and rule that refused them.
/// Swipe to retry one (made again under today's policy) or to dismiss it
/// once it has been dealt with.
struct QuarantineView: View {
    let model: AppModel
    @State private var edits: [QuarantinedEdit] = []
    @State private var error: String?

    var body: some View {
        List {
            if let error {
                Text(error).foregroundStyle(.red)
            }
            if edits.isEmpty && error == nil {
                Text("No refused edits.").foregroundStyle(.secondary)
            }
            ForEach(edits, id: \.id) { edit in
                VStack(alignment: .leading, spacing: 4) {
                    Text("\(AppModel.label(for: edit.field)) on record \(edit.record)").font(.headline)
                    Text("Typed \(edit.valueJson) at \(edit.typedAt)")
                    Text(edit.message)
                    Text("\(edit.code) · rule \(edit.rule) · refused \(edit.refusedAt)")
                        .font(.caption)
                        .foregroundStyle(.secondary)
                }
                .swipeActions(edge: .trailing) {
                    Button("Dismiss", role: .destructive) { Task { await dismiss(edit.id) } }
                    Button("Retry") { Task { await retry(edit.id) } }.tint(.blue)
                }
            }
        }
        .navigationTitle("Refused edits")
        .task(id: model.syncKey) { await reload() }
        .refreshable { await reload() }
    }

    private func reload() async {
        do {
            edits = try await model.store { try $0.quarantine() }
            error = nil
        } catch {
            self.error = AppModel.message(for: error)
        }
    }

    /// Makes the edit again under today's policy; refused again, it stays
    /// and the reason is shown.
    private func retry(_ id: Int64) async {
        do {
            _ = try await model.store { try $0.retryQuarantined(id: id) }
            error = nil
        } catch {
            self.error = AppModel.message(for: error)
        }
        let message = error
        await reload()
        error = message
    }

    private func dismiss(_ id: Int64) async {
        do {
            try await model.store { try $0.dismissQuarantined(id: id) }
        } catch {
            self.error = AppModel.message(for: error)
        }
        await reload()
    }
}
