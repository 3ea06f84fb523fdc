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

/** Shows login or the main tabs over the app's one device ([FieldworkApplication]). */
class MainActivity : ComponentActivity() {
    // One device for the process, shared with the background SyncWorker.
    private val device: FieldworkDevice get() = (application as FieldworkApplication).device
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
