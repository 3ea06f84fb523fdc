package dev.fieldwork.app

import androidx.compose.foundation.clickable
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.ListItem
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import dev.fieldwork.shell.AccountListViewModel

/** Accounts by name, narrowed by a search box; a live query, so changes show as they happen. */
@Composable
fun AccountListScreen(model: AccountListViewModel, modifier: Modifier, open: (String) -> Unit) {
    val state by model.state.collectAsState()
    LaunchedEffect(Unit) { model.observe() }
    Column(modifier) {
        OutlinedTextField(state.query, { q -> model.search(q) },
            Modifier.fillMaxWidth().padding(8.dp), label = { Text("Search accounts") }, singleLine = true)
        state.error?.let { Text(it, Modifier.padding(8.dp)) }
        LazyColumn {
            items(state.rows, key = { it.id }) { row ->
                ListItem(
                    headlineContent = { Text(row.name) },
                    supportingContent = { if (row.subtitle.isNotEmpty()) Text(row.subtitle) },
                    modifier = Modifier.clickable { open(row.id) },
                )
            }
        }
    }
}
