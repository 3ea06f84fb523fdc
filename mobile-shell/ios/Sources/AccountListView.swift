import SwiftUI

/// Accounts by name; the search field switches to full-text search.
struct AccountListView: View {
    let model: AppModel
    @State private var query = ""
    @State private var rows: [(id: String, title: String)] = []

    var body: some View {
        List(rows, id: \.id) { row in
            NavigationLink(row.title) { AccountCardView(model: model, id: row.id) }
        }
        .navigationTitle("Accounts")
        .searchable(text: $query)
        .task(id: "\(query)|\(model.revision)") { await reload() }
    }

    private func reload() async {
        let text = query
        rows = (try? await model.store { device in
            text.isEmpty
                ? try device.list(kind: .account, options: ListOptions(sort: .name, limit: 500)).map { ($0.id, $0.title) }
                : try device.search(text: text, kind: .account, limit: 50).map { ($0.id, $0.title) }
        }) ?? []
    }
}
