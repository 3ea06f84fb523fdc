import PhotosUI
import SwiftUI

/// A visit's photo: pick or take one (kept in the encrypted store at once,
/// uploaded by the next sync, so it works offline) or see the one attached,
/// downloaded if it is not on the phone yet.
struct VisitPhotoView: View {
    let model: AppModel
    let visitId: String
    @State private var picked: PhotosPickerItem?
    @State private var photo: AttachmentInfo?
    @State private var image: UIImage?
    @State private var error: String?

    var body: some View {
        Form {
            if let error {
                Text(error).foregroundStyle(.red)
            }
            if let image {
                Image(uiImage: image).resizable().scaledToFit()
            }
            if let photo {
                Text(photo.uploaded ? photo.name : "\(photo.name): uploads with the next sync")
                    .font(.footnote)
            }
            PhotosPicker(photo == nil ? "Add photo" : "Replace photo", selection: $picked, matching: .images)
        }
        .navigationTitle("Visit photo")
        .task(id: visitId) { await show() }
        .onChange(of: picked) { _, item in
            guard let item else { return }
            Task { await attach(item) }
        }
    }

    private func show() async {
        do {
            // Downloads it if it is not here (suspends on the core's threads).
            if let bytes = try await model.device.fetchAttachment(recordId: visitId, field: "photo") {
                image = UIImage(data: bytes)
            }
            let id = visitId
            photo = try await model.store { try $0.attachment(recordId: id, field: "photo") }
            error = nil
        } catch {
            self.error = AppModel.message(for: error)
        }
    }

    private func attach(_ item: PhotosPickerItem) async {
        do {
            guard let data = try await item.loadTransferable(type: Data.self),
                  let jpeg = UIImage(data: data)?.jpegData(compressionQuality: 0.85)
            else { return }
            let id = visitId
            let name = "visit-\(Int(Date().timeIntervalSince1970)).jpg"
            photo = try await model.store {
                try $0.attach(recordId: id, field: "photo", bytes: jpeg, mediaType: "image/jpeg", name: name)
            }
            image = UIImage(data: jpeg)
            error = nil
        } catch {
            self.error = AppModel.message(for: error)
        }
    }
}
