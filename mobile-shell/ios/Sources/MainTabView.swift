import SwiftUI

/// The signed-in app: one tab per screen, each with its own navigation stack.
struct MainTabView: View {
    let model: AppModel

    var body: some View {
        TabView {
            NavigationStack { AccountListView(model: model) }
                .tabItem { Label("Accounts", systemImage: "building.2") }
            NavigationStack { TasksView(model: model) }
                .tabItem { Label("Tasks", systemImage: "checklist") }
            NavigationStack { CalendarView(model: model) }
                .tabItem { Label("Calendar", systemImage: "calendar") }
            NavigationStack { SyncStatusView(model: model) }
                .tabItem { Label("Sync", systemImage: "arrow.triangle.2.circlepath") }
            NavigationStack { QuarantineView(model: model) }
                .tabItem { Label("Refused", systemImage: "exclamationmark.triangle") }
        }
    }
}
