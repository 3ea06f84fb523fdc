import SwiftUI

/// The app entry: opens the device store at `Application Support/fieldwork.db`
/// (off the main thread), then shows the login form or the tabs.
@main
struct FieldworkApp: App {
    @State private var model: AppModel?
    @State private var failure: String?

    var body: some Scene {
        WindowGroup {
            Group {
                if let model {
                    RootView(model: model)
                } else if let failure {
                    ContentUnavailableView("Cannot open the store", systemImage: "exclamationmark.triangle",
                                           description: Text(failure))
                } else {
                    ProgressView("Opening…")
                }
            }
            .task {
                guard model == nil else { return }
                do {
                    model = try await AppModel.open()
                } catch {
                    failure = AppModel.message(for: error)
                }
            }
        }
    }
}

/// The login form until the store has a live session, then the tabs.
struct RootView: View {
    let model: AppModel

    var body: some View {
        if model.signedIn {
            MainTabView(model: model)
        } else {
            LoginView(model: model)
        }
    }
}
