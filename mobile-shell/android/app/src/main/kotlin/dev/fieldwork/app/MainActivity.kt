package dev.fieldwork.app

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.material3.MaterialTheme
import androidx.compose.runtime.collectAsState
import androidx.compose.runtime.getValue
import dev.fieldwork.FieldworkDevice
import dev.fieldwork.shell.DeviceEvents
import dev.fieldwork.shell.SessionState
import dev.fieldwork.shell.SessionViewModel

/** Opens the device store once for the app's life and shows login or the main tabs. */
class MainActivity : ComponentActivity() {
    private val device by lazy {
        // The store's key and the session token live in the Android Keystore, never in the file.
        FieldworkDevice.open(filesDir.resolve("fieldwork.db").path, AndroidKeystoreSecrets(applicationContext))
    }
    private val events by lazy { DeviceEvents(device) }
    private val session by lazy { SessionViewModel(device) }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent {
            MaterialTheme {
                val state by session.state.collectAsState()
                when (state) {
                    is SessionState.SignedIn -> MainTabs(device, events, session)
                    else -> LoginScreen(session)
                }
            }
        }
    }
}
