package dev.fieldwork.app

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.material3.Button
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.rememberCoroutineScope
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.unit.dp
import dev.fieldwork.shell.SessionState
import dev.fieldwork.shell.SessionViewModel
import kotlinx.coroutines.launch

/** Server address, user name and password. */
@Composable
fun LoginScreen(session: SessionViewModel) {
    val state by session.state.collectAsState()
    val scope = rememberCoroutineScope()
    var server by remember { mutableStateOf("https://") }
    var user by remember { mutableStateOf("") }
    var password by remember { mutableStateOf("") }
    Column(Modifier.padding(24.dp), verticalArrangement = Arrangement.spacedBy(12.dp)) {
        Text("Fieldwork", style = MaterialTheme.typography.headlineMedium)
        OutlinedTextField(server, { server = it }, Modifier.fillMaxWidth(), label = { Text("Server") },
            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Uri))
        OutlinedTextField(user, { user = it }, Modifier.fillMaxWidth(), label = { Text("User name") })
        OutlinedTextField(password, { password = it }, Modifier.fillMaxWidth(), label = { Text("Password") },
            visualTransformation = PasswordVisualTransformation(),
            keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password))
        (state as? SessionState.Failed)?.let { Text(it.message, color = MaterialTheme.colorScheme.error) }
        Button(
            onClick = { scope.launch { session.login(server, user, password) } },
            enabled = state != SessionState.SigningIn,
        ) { Text(if (state == SessionState.SigningIn) "Signing in…" else "Sign in") }
    }
}
