package dev.fieldwork.app

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import dev.fieldwork.shell.DeviceEvents
import dev.fieldwork.shell.SessionViewModel
import dev.fieldwork.shell.SyncViewModel
import kotlinx.coroutines.launch

/** Status, unsent changes, sync now, live sync, sign out. */
@Composable
fun SyncScreen(model: SyncViewModel, session: SessionViewModel, events: DeviceEvents, modifier: Modifier) {
    val state by model.state.collectAsState()
    val scope = rememberCoroutineScope()
    LaunchedEffect(Unit) { events.status.collect { model.refresh() } }
    Column(modifier.padding(16.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text(state.headline, style = MaterialTheme.typography.headlineSmall)
        Text("${state.pending} changes waiting to be sent")
        state.lastError?.let { Text(it, color = MaterialTheme.colorScheme.error) }
        // Only for a cause retrying can fix (no network, a timeout); the
        // others need the user (sign in again) or an update.
        if (state.canRetry) {
            OutlinedButton(onClick = { scope.launch { model.syncNow() } }) { Text("Retry") }
        }
        Button(onClick = { scope.launch { model.syncNow() } }) { Text("Sync now") }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Switch(state.live, { on -> scope.launch { model.setLive(on) } })
            Text("Stay in sync while the app is open")
        }
        OutlinedButton(onClick = { scope.launch { session.logout() } }) { Text("Sign out") }
    }
}
