import SwiftUI

/// An account's card: only the fields the user may read; a text field where
/// the policy lets them write, plain text elsewhere. Save sends only the
/// changed fields; a refused save keeps every draft and names the field.
/// The card is live (`recordSnapshots`): a colleague's change synced while
/// the user types updates the stored values and keeps the drafts.
struct AccountCardView: View {
    let model: AppModel
    let id: String
    @State private var card: RecordView?
    @State private var drafts: [String: String] = [:]
    @State private var error: String?
    @State private var errorField: String?
    @State private var saving = false

    var body: some View {
        Form {
            if let cardError {
                Text(cardError).foregroundStyle(.red)
            }
            ForEach(card?.fields ?? [], id: \.name) { field in
                row(for: field)
            }
        }
        .navigationTitle(card?.title ?? "")
        .navigationBarTitleDisplayMode(.inline)
        .toolbar {
            ToolbarItem(placement: .confirmationAction) {
                Button("Save") { Task { await save() } }
                    .disabled(saving || edits.isEmpty)
            }
        }
        .task(id: id) { await follow() }
    }

    @ViewBuilder private func row(for field: FieldView) -> some View {
        let label = AppModel.label(for: field.name) + (field.required ? " *" : "")
        if field.writable {
            VStack(alignment: .leading, spacing: 4) {
                Text(label).font(.caption).foregroundStyle(.secondary)
                TextField(field.typeName, text: draft(for: field))
                if errorField == field.name, let error {
                    Text(error).font(.footnote).foregroundStyle(.red)
                }
                if !field.conflicts.isEmpty {
                    Text("Also written meanwhile: \(field.conflicts.joined(separator: ", "))")
                        .font(.footnote).foregroundStyle(.orange)
                }
            }
        } else {
            LabeledContent(label) { Text(field.display ?? field.value ?? "—") }
        }
    }

    /// An error that is not shown under one of the card's fields.
    private var cardError: String? {
        guard let error else { return nil }
        let atField = card?.fields.contains(where: { $0.name == errorField }) ?? false
        return atField ? nil : error
    }

    /// What the user typed, or the stored value until they type.
    private func draft(for field: FieldView) -> Binding<String> {
        Binding(get: { drafts[field.name] ?? field.value ?? "" },
                set: { drafts[field.name] = $0 })
    }

    /// One edit per writable field whose draft differs from the stored text;
    /// an emptied field is cleared (`nil`).
    private var edits: [FieldEdit] {
        (card?.fields ?? []).compactMap { (field: FieldView) -> FieldEdit? in
            guard field.writable, let draft = drafts[field.name], draft != (field.value ?? "") else { return nil }
            return FieldEdit(field: field.name, value: draft.isEmpty ? nil : draft)
        }
    }

    /// Shows the record as it changes until the view goes away or the
    /// device closes. `nil`: not on this device (not synced yet, revoked).
    private func follow() async {
        do {
            for try await view in model.device.recordSnapshots(id: id) {
                card = view
                if view == nil {
                    error = "This account is not on this device."
                    errorField = nil
                }
            }
        } catch {
            self.error = AppModel.message(for: error)
            errorField = nil
        }
    }

    private func save() async {
        let id = self.id, edits = self.edits
        guard !edits.isEmpty else { return }
        saving = true
        defer { saving = false }
        do {
            try await model.store { try $0.update(id: id, fields: edits) }
            drafts = [:] // the live card shows what was saved
            error = nil
            errorField = nil
        } catch {
            self.error = AppModel.message(for: error) // the drafts stay as typed
            errorField = AppModel.field(of: error)
        }
    }
}
