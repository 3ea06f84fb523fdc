import SwiftUI

/// Edits the server refused, as typed, with the rule that refused them.
struct QuarantineView: View {
    let model: AppModel
    @State private var edits: [QuarantinedEdit] = []

    var body: some View {
        List {
            if edits.isEmpty { Text("No refused edits") }
            ForEach(edits, id: \.id) { edit in
                VStack(alignment: .leading) {
                    Text("\(edit.field) on \(edit.record)").font(.caption)
                    Text("You typed \(edit.valueJson)")
                    Text("\(edit.message) (\(edit.rule))").font(.footnote).foregroundStyle(.secondary)
                }
                .swipeActions { Button("Dismiss") { Task { await dismiss(edit.id) } } }
            }
        }
        .navigationTitle("Refused edits")
        .task(id: "\(model.revision)|\(SyncStatusView.headline(model.status))") { await reload() }
    }

    private func reload() async {
        edits = (try? await model.store { try $0.quarantine() }) ?? []
    }

    private func dismiss(_ id: Int64) async {
        _ = try? await model.store { try $0.dismissQuarantined(id: id) }
        await reload()
    }
}
