package dev.fieldwork.app

import androidx.compose.foundation.layout.padding
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import dev.fieldwork.FieldworkDevice
import dev.fieldwork.shell.AccountListViewModel
import dev.fieldwork.shell.DeviceEvents
import dev.fieldwork.shell.QuarantineViewModel
import dev.fieldwork.shell.SessionViewModel
import dev.fieldwork.shell.SyncViewModel
import dev.fieldwork.shell.TasksViewModel

private val tabs = listOf("Accounts", "Tasks", "Sync", "Refused")

/** The signed-in app: accounts, tasks and calendar, sync, refused edits. */
@Composable
fun MainTabs(device: FieldworkDevice, events: DeviceEvents, session: SessionViewModel) {
    var tab by rememberSaveable { mutableStateOf(0) }
    var openAccount by rememberSaveable { mutableStateOf<String?>(null) }
    var openVisit by rememberSaveable { mutableStateOf<String?>(null) }
    val accounts = remember { AccountListViewModel(device) }
    val tasks = remember { TasksViewModel(device) }
    val sync = remember { SyncViewModel(device, events) }
    val quarantine = remember { QuarantineViewModel(device) }
    Scaffold(bottomBar = {
        NavigationBar {
            tabs.forEachIndexed { i, title ->
                NavigationBarItem(selected = tab == i, onClick = { tab = i; openAccount = null; openVisit = null },
                    icon = {}, label = { Text(title) })
            }
        }
    }) { padding ->
        val modifier = Modifier.padding(padding)
        val account = openAccount
        val visit = openVisit
        when {
            tab == 0 && account != null -> AccountCardScreen(device, account, modifier) { openAccount = null }
            tab == 0 -> AccountListScreen(accounts, modifier) { openAccount = it }
            tab == 1 && visit != null -> VisitPhotoScreen(device, visit, modifier) { openVisit = null }
            tab == 1 -> TasksScreen(tasks, events, modifier) { openVisit = it }
            tab == 2 -> SyncScreen(sync, session, events, modifier)
            else -> QuarantineScreen(quarantine, events, modifier)
        }
    }
}
