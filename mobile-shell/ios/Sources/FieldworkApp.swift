import SwiftUI

/// The app: opens the device store once and shows login or the main tabs.
@main
struct FieldworkApp: App {
    @State private var model = AppModel.openOrFail()

    var body: some Scene {
        WindowGroup {
            if let model {
                RootView(model: model)
            } else {
                Text("The Fieldwork store could not be opened.").padding()
            }
        }
    }
}

/// Login until signed in, then the tabs.
struct RootView: View {
    @Bindable var model: AppModel

    var body: some View {
        if model.user?.signedIn == true {
            TabView {
                NavigationStack { AccountListView(model: model) }
                    .tabItem { Label("Accounts", systemImage: "building.2") }
                NavigationStack { TasksView(model: model) }
                    .tabItem { Label("Tasks", systemImage: "checklist") }
                NavigationStack { SyncStatusView(model: model) }
                    .tabItem { Label("Sync", systemImage: "arrow.triangle.2.circlepath") }
                NavigationStack { QuarantineView(model: model) }
                    .tabItem { Label("Refused", systemImage: "exclamationmark.triangle") }
            }
        } else {
            LoginView(model: model)
        }
    }
}
