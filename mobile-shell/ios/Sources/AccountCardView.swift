import SwiftUI

/// The fields the user may read; text fields where they may write. A refused
/// save keeps what was typed and names the field.
struct AccountCardView: View {
    let model: AppModel
    let id: String
    @State private var card: RecordView?
    @State private var drafts: [String: String] = [:]
    @State private var error: String?

    var body: some View {
        Form {
            if let error { Text(error).foregroundStyle(.red) }
            ForEach(card?.fields ?? [], id: \.name) { field in
                if field.writable {
                    TextField(field.name, text: binding(for: field))
                } else {
                    LabeledContent(field.name, value: field.display ?? "—")
                }
            }
        }
        .navigationTitle(card?.title ?? "")
        .toolbar { Button("Save") { Task { await save() } }.disabled(edits.isEmpty) }
        .task(id: model.revision) { await load() }
    }

    private var edits: [FieldEdit] {
        (card?.fields ?? []).compactMap { field in
            guard let draft = drafts[field.name], draft != (field.value ?? "") else { return nil }
            return FieldEdit(field: field.name, value: draft.isEmpty ? nil : draft)
        }
    }

    private func binding(for field: FieldView) -> Binding<String> {
        Binding(get: { drafts[field.name] ?? field.value ?? "" }, set: { drafts[field.name] = $0 })
    }

    private func load() async {
        let id = self.id
        card = try? await model.store { try $0.card(id: id) }
    }

    private func save() async {
        let id = self.id, edits = self.edits
        do {
            try await model.store { try $0.update(id: id, fields: edits) }
            drafts = [:]
            error = nil
            await load()
        } catch {
            self.error = AppModel.message(for: error)   // drafts are kept
        }
    }
}
