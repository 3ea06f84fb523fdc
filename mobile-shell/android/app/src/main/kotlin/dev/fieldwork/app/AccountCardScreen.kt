package dev.fieldwork.app

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Button
import androidx.compose.material3.ListItem
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import dev.fieldwork.FieldworkDevice
import dev.fieldwork.shell.AccountCardViewModel
import kotlinx.coroutines.launch

/** The fields the user may read, live; text fields where they may write. */
@Composable
fun AccountCardScreen(device: FieldworkDevice, id: String, modifier: Modifier, back: () -> Unit) {
    val model = remember(id) { AccountCardViewModel(device, id) }
    val state by model.state.collectAsState()
    val scope = rememberCoroutineScope()
    LaunchedEffect(id) { model.observe() }
    LazyColumn(modifier.padding(8.dp)) {
        item {
            Row(Modifier.fillMaxWidth(), horizontalArrangement = Arrangement.SpaceBetween) {
                TextButton(onClick = back) { Text("Back") }
                Button(onClick = { scope.launch { model.save() } }, enabled = state.dirty && !state.saving && !state.gone) { Text("Save") }
            }
            Text(state.title, style = MaterialTheme.typography.headlineSmall)
            state.message?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        }
        items(state.fields, key = { it.name }) { field ->
            if (field.writable) {
                OutlinedTextField(
                    field.draft, { model.edit(field.name, it) }, Modifier.fillMaxWidth(),
                    label = { Text(field.label + if (field.required) " *" else "") },
                    isError = field.error != null,
                    supportingText = (field.error ?: field.conflicts.takeIf { it.isNotEmpty() }
                        ?.let { "Also written: ${it.joinToString()}" })?.let { { Text(it) } },
                )
            } else {
                ListItem(headlineContent = { Text(field.display ?: "—") }, overlineContent = { Text(field.label) })
            }
        }
    }
}
