import SwiftUI

/// Accounts sorted by name; typing in the search field switches to the
/// core's full-text search (prefixes, any accents and case).
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
        .task(id: ReloadKey(query: query, revision: model.revision)) { await reload() }
    }

    private func reload() async {
        let text = query.trimmingCharacters(in: .whitespaces)
        if !text.isEmpty {
            try? await Task.sleep(for: .milliseconds(250)) // wait for a pause in typing
            if Task.isCancelled { return }
        }
        do {
            let found = try await model.store { (device: FieldworkDevice) throws -> [AccountRow] in
                if text.isEmpty {
                    let options = ListOptions(sort: .name, limit: 500)
                    return try device.list(kind: .account, options: options)
                        .map { AccountRow(id: $0.id, title: $0.title) }
                }
                return try device.search(text: text, kind: .account, limit: 50)
                    .map { AccountRow(id: $0.id, title: $0.title) }
            }
            guard !Task.isCancelled else { return } // a newer query or revision took over
            rows = found
            error = nil
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

/// Reload when the query or the records change.
private struct ReloadKey: Equatable {
    let query: String
    let revision: Int
}
