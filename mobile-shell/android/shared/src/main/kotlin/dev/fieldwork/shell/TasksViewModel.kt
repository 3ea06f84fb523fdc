package dev.fieldwork.shell

import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkDispatcher
import dev.fieldwork.FieldworkException
import dev.fieldwork.TaskItem
import java.time.LocalDate
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/** A titled group of tasks ("Overdue", "Today"...); empty groups are left out. */
data class TaskSection(val title: String, val items: List<TaskItem>)

/** The task list and the calendar. */
data class TasksState(
    val timeZone: String = "",
    val sections: List<TaskSection> = emptyList(),
    val calendar: List<TaskItem> = emptyList(),
    val error: String? = null,
)

/** The user's tasks (bucketed in their time zone) and a calendar of [days] days from [today]. */
class TasksViewModel(
    device: FieldworkDevice,
    private val today: () -> LocalDate = LocalDate::now,
    private val days: Long = 7,
    io: CoroutineDispatcher = FieldworkDispatcher,
) : StoreViewModel(device, io) {
    private val mutableState = MutableStateFlow(TasksState())

    /** The current state. */
    val state: StateFlow<TasksState> = mutableState.asStateFlow()

    /** Reloads tasks and calendar. */
    suspend fun refresh() {
        mutableState.value = try {
            val from = today()
            val (list, calendar) = store {
                tasks(null) to calendar(from.toString(), from.plusDays(days - 1).toString(), null)
            }
            TasksState(
                timeZone = list.timeZone,
                sections = listOf(
                    TaskSection("Overdue", list.overdue),
                    TaskSection("Today", list.today),
                    TaskSection("Upcoming", list.upcoming),
                    TaskSection("No date", list.undated),
                ).filter { it.items.isNotEmpty() },
                calendar = calendar,
            )
        } catch (e: FieldworkException) {
            mutableState.value.copy(error = e.userMessage())
        }
    }

    /** Marks a task done (a process it belongs to moves on) and reloads. */
    suspend fun complete(id: String) {
        try {
            store { completeTask(id) }
            refresh()
        } catch (e: FieldworkException) {
            mutableState.value = mutableState.value.copy(error = e.userMessage())
        }
    }
}
