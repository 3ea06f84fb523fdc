import SwiftUI

/// Accounts sorted by name; typing in the search field switches to the
/// core's full-text search (prefixes, any accents and case). Both are live
/// queries (`querySnapshots` / `searchSnapshots`): a local edit, a sync or a
/// revocation shows without a reload.
struct AccountListView: View {
    let model: AppModel
    @State private var query = ""
    @State private var rows: [AccountRow] = []
    @State private var error: String?

    var body: some View {
        List {
            if let error {
                Text(error).foregroundStyle(.red)
            }
            ForEach(rows) { row in
                NavigationLink(row.title) { AccountCardView(model: model, id: row.id) }
            }
            if rows.isEmpty && error == nil {
                Text(query.isEmpty ? "No accounts on this device yet." : "No matching accounts.")
                    .foregroundStyle(.secondary)
            }
        }
        .navigationTitle("Accounts")
        .searchable(text: $query, prompt: "Search accounts")
        // A new query cancels this task, which ends the old subscription.
        .task(id: query) { await follow() }
    }

    /// Shows the live rows for the current query until the task is cancelled
    /// or the device closes (the stream finishes).
    private func follow() async {
        let text = query.trimmingCharacters(in: .whitespaces)
        if !text.isEmpty {
            try? await Task.sleep(for: .milliseconds(250)) // wait for a pause in typing
            if Task.isCancelled { return }
        }
        do {
            if text.isEmpty {
                let options = ListOptions(sort: .name, limit: 500)
                for try await found in model.device.querySnapshots(kind: .account, options: options) {
                    rows = found.map { AccountRow(id: $0.id, title: $0.title) }
                    error = nil
                }
            } else {
                for try await hits in model.device.searchSnapshots(text: text, kind: .account, limit: 50) {
                    rows = hits.map { AccountRow(id: $0.id, title: $0.title) }
                    error = nil
                }
            }
        } catch {
            self.error = AppModel.message(for: error)
        }
    }
}

/// One row: a list entry or a search hit.
private struct AccountRow: Identifiable, Sendable {
    let id: String
    let title: String
}
