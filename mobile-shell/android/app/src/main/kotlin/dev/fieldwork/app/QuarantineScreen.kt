package dev.fieldwork.app

import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.ListItem
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import dev.fieldwork.shell.DeviceEvents
import dev.fieldwork.shell.QuarantineViewModel
import kotlinx.coroutines.launch

/** Edits the server refused, as typed, with the rule that refused them. */
@Composable
fun QuarantineScreen(model: QuarantineViewModel, events: DeviceEvents, modifier: Modifier) {
    val state by model.state.collectAsState()
    val scope = rememberCoroutineScope()
    LaunchedEffect(Unit) {
        model.refresh()
        events.status.collect { model.refresh() }
    }
    LazyColumn(modifier) {
        if (state.edits.isEmpty()) item { ListItem(headlineContent = { Text("No refused edits") }) }
        items(state.edits, key = { it.id }) { edit ->
            ListItem(
                overlineContent = { Text("${edit.field} on ${edit.record}") },
                headlineContent = { Text("You typed ${edit.valueJson}") },
                supportingContent = { Text("${edit.message} (${edit.rule})") },
                trailingContent = {
                    Row {
                        TextButton(onClick = { scope.launch { model.retry(edit.id) } }) { Text("Retry") }
                        TextButton(onClick = { scope.launch { model.dismiss(edit.id) } }) { Text("Dismiss") }
                    }
                },
            )
        }
    }
}
