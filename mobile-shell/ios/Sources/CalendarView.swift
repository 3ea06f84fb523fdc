import SwiftUI

/// The user's activities for a week from today, grouped by local day.
struct CalendarView: View {
    let model: AppModel
    @State private var items: [TaskItem] = []
    @State private var range = CalendarView.week()
    @State private var error: String?

    var body: some View {
        List {
            if let error {
                Text(error).foregroundStyle(.red)
            }
            if items.isEmpty && error == nil {
                Text("Nothing planned from \(range.from) to \(range.to).").foregroundStyle(.secondary)
            }
            ForEach(days, id: \.self) { day in
                Section(day) {
                    ForEach(items.filter { Self.day(of: $0) == day }, id: \.id) { TaskRow(item: $0) }
                }
            }
        }
        .navigationTitle("This week")
        .task(id: model.revision) { await reload() }
        .refreshable { await reload() }
    }

    /// The days that have entries, in order (`YYYY-MM-DD` sorts as text).
    private var days: [String] {
        Array(Set(items.map(Self.day(of:)))).sorted()
    }

    /// An entry's local day: the date part of `local` (`2026-12-01 09:00`).
    private static func day(of item: TaskItem) -> String {
        String((item.local ?? item.at ?? "").prefix(10))
    }

    /// Today and six days on, as `YYYY-MM-DD` (Gregorian, whatever the
    /// phone's calendar). The core reads them in the user's own time zone.
    static func week(from now: Date = .now) -> (from: String, to: String) {
        let formatter = DateFormatter()
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd"
        let end = Calendar.current.date(byAdding: .day, value: 6, to: now) ?? now
        return (formatter.string(from: now), formatter.string(from: end))
    }

    private func reload() async {
        let week = Self.week()
        range = week
        do {
            items = try await model.store { try $0.calendar(from: week.from, to: week.to, timeZone: nil) }
            error = nil
        } catch {
            self.error = AppModel.message(for: error)
        }
    }
}
