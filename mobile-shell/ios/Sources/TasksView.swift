import SwiftUI

/// The user's open activities: overdue, today, upcoming and undated, in the
/// user's time zone. Swipe a task to mark it done.
struct TasksView: View {
    let model: AppModel
    @State private var tasks: TaskList?
    @State private var error: String?

    var body: some View {
        List {
            if let error {
                Text(error).foregroundStyle(.red)
            }
            if let tasks {
                section("Overdue", tasks.overdue)
                section("Today", tasks.today)
                section("Upcoming", tasks.upcoming)
                section("No date", tasks.undated)
                if tasks.overdue.isEmpty && tasks.today.isEmpty && tasks.upcoming.isEmpty && tasks.undated.isEmpty {
                    Text("Nothing to do.").foregroundStyle(.secondary)
                }
                Text("Times in \(tasks.timeZone)").font(.footnote).foregroundStyle(.secondary)
            }
        }
        .navigationTitle("Tasks")
        .task(id: model.revision) { await reload() }
        .refreshable { await reload() }
    }

    @ViewBuilder private func section(_ title: String, _ items: [TaskItem]) -> some View {
        if !items.isEmpty {
            Section(title) {
                ForEach(items, id: \.id) { item in
                    row(item)
                        .swipeActions(edge: .trailing) {
                            Button("Done") { Task { await complete(item.id) } }
                                .tint(.green)
                        }
                }
            }
        }
    }

    /// A visit opens its photo; other tasks are plain rows.
    @ViewBuilder private func row(_ item: TaskItem) -> some View {
        if item.typeName == "visit" {
            NavigationLink { VisitPhotoView(model: model, visitId: item.id) } label: { TaskRow(item: item) }
        } else {
            TaskRow(item: item)
        }
    }

    private func reload() async {
        do {
            tasks = try await model.store { try $0.tasks(timeZone: nil) } // nil: the user's own zone
            error = nil
        } catch {
            self.error = AppModel.message(for: error)
        }
    }

    private func complete(_ activityId: String) async {
        do {
            _ = try await model.store { try $0.completeTask(activityId: activityId) }
            await reload()
        } catch {
            self.error = AppModel.message(for: error)
        }
    }
}

/// One task or calendar entry: subject, then type and local time.
struct TaskRow: View {
    let item: TaskItem

    var body: some View {
        VStack(alignment: .leading, spacing: 2) {
            Text(item.subject)
            Text([item.typeName, item.local].compactMap { $0 }.joined(separator: " · "))
                .font(.caption)
                .foregroundStyle(.secondary)
        }
    }
}
