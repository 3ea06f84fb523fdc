package dev.fieldwork.app

import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import dev.fieldwork.shell.DeviceEvents
import dev.fieldwork.shell.TasksViewModel
import kotlinx.coroutines.launch

/**
 * Overdue, today, upcoming and undated tasks, then the week's calendar. A
 * visit has a Photo button ([onPhoto]: the visit's photo screen).
 */
@Composable
fun TasksScreen(model: TasksViewModel, events: DeviceEvents, modifier: Modifier, onPhoto: (String) -> Unit) {
    val state by model.state.collectAsState()
    val scope = rememberCoroutineScope()
    LaunchedEffect(Unit) {
        model.refresh()
        events.changed.collect { model.refresh() }
    }
    LazyColumn(modifier) {
        state.error?.let { item { Text(it, color = MaterialTheme.colorScheme.error) } }
        for (section in state.sections) {
            item { Text(section.title, style = MaterialTheme.typography.titleMedium) }
            items(section.items, key = { "task-" + it.id }) { task ->
                ListItem(
                    headlineContent = { Text(task.subject) },
                    supportingContent = { Text(listOfNotNull(task.typeName, task.local).joinToString(" · ")) },
                    trailingContent = {
                        Row {
                            if (task.typeName == "visit") TextButton(onClick = { onPhoto(task.id) }) { Text("Photo") }
                            TextButton(onClick = { scope.launch { model.complete(task.id) } }) { Text("Done") }
                        }
                    },
                )
            }
        }
        item { Text("This week (${state.timeZone})", style = MaterialTheme.typography.titleMedium) }
        items(state.calendar, key = { "cal-" + it.id }) { entry ->
            ListItem(headlineContent = { Text(entry.subject) }, overlineContent = { Text(entry.local ?: "") })
        }
    }
}
