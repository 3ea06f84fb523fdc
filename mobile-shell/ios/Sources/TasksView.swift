import SwiftUI

/// Overdue, today, upcoming and undated tasks, then this week's calendar.
struct TasksView: View {
    let model: AppModel
    @State private var tasks: TaskList?
    @State private var week: [TaskItem] = []

    var body: some View {
        List {
            section("Overdue", tasks?.overdue)
            section("Today", tasks?.today)
            section("Upcoming", tasks?.upcoming)
            section("No date", tasks?.undated)
            Section("This week (\(tasks?.timeZone ?? ""))") {
                ForEach(week, id: \.id) { LabeledContent($0.subject, value: $0.local ?? "") }
            }
        }
        .navigationTitle("Tasks")
        .task(id: model.revision) { await reload() }
    }

    @ViewBuilder private func section(_ title: String, _ items: [TaskItem]?) -> some View {
        if let items, !items.isEmpty {
            Section(title) {
                ForEach(items, id: \.id) { task in
                    LabeledContent(task.subject, value: task.local ?? task.typeName)
                        .swipeActions { Button("Done") { Task { await complete(task.id) } } }
                }
            }
        }
    }

    private func reload() async {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd"
        let from = f.string(from: .now), to = f.string(from: .now.addingTimeInterval(6 * 86_400))
        tasks = try? await model.store { try $0.tasks(timeZone: nil) }
        week = (try? await model.store { try $0.calendar(from: from, to: to, timeZone: nil) }) ?? []
    }

    private func complete(_ id: String) async {
        _ = try? await model.store { try $0.completeTask(activityId: id) }
        await reload()
    }
}
