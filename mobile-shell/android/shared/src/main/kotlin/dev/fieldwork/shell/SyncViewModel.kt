package dev.fieldwork.shell

import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkDispatcher
import dev.fieldwork.FieldworkException
import dev.fieldwork.SyncErrorCause
import dev.fieldwork.SyncStatus
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/** The sync screen: a line about the status, unsent changes, the last error. */
data class SyncState(
    val headline: String = "Offline",
    val pending: Long = 0L,
    val live: Boolean = false,
    val lastError: String? = null,
    /** Whether to offer "Retry": the last sync failed for a cause retrying can fix ([canRetry]). */
    val canRetry: Boolean = false,
)

/** Sync now, live sync on and off, and the status line. */
class SyncViewModel(
    device: FieldworkDevice,
    private val events: DeviceEvents,
    io: CoroutineDispatcher = FieldworkDispatcher,
) : StoreViewModel(device, io) {
    private val mutableState = MutableStateFlow(SyncState())

    /** The current state. */
    val state: StateFlow<SyncState> = mutableState.asStateFlow()

    /** Recomputes the state from the latest status and the outbox. */
    suspend fun refresh() {
        val pending = store { pendingChanges() }
        val status = events.status.value
        mutableState.value = mutableState.value.copy(
            headline = headline(status),
            canRetry = canRetry(status),
            pending = pending,
        )
    }

    /** Syncs once; errors are shown, never thrown (local work is kept either way). */
    suspend fun syncNow() {
        val error = try {
            device.syncNow(60)
            null
        } catch (e: FieldworkException) {
            e.userMessage()
        }
        mutableState.value = mutableState.value.copy(lastError = error)
        refresh()
    }

    /** Turns live sync on or off. */
    suspend fun setLive(on: Boolean) {
        store { if (on) startSync() else stopSync() }
        mutableState.value = mutableState.value.copy(live = on)
        refresh()
    }
}

/** A status line for people; a failure is the SDK's sentence, in the device's locale (`setLocale`). */
fun headline(status: SyncStatus): String = when (status) {
    is SyncStatus.Offline -> "Offline"
    is SyncStatus.Connecting -> "Connecting…"
    is SyncStatus.Syncing -> status.total?.let { "Syncing ${status.done} of $it" } ?: "Syncing…"
    is SyncStatus.UpToDate -> "Up to date"
    is SyncStatus.Error -> status.message
    is SyncStatus.NeedsLogin -> "Signed out: please sign in again"
    is SyncStatus.Wiped -> "Removed from this phone by your administrator"
}

/**
 * Whether retrying can fix what the status reports: only a failure to reach
 * the server or a timeout. The other causes need the user or an update
 * (sign-in settings, a newer app, free storage), so the screen shows the
 * sentence without a retry button.
 */
fun canRetry(status: SyncStatus): Boolean = status is SyncStatus.Error && when (status.cause) {
    SyncErrorCause.NETWORK, SyncErrorCause.TIMEOUT -> true
    SyncErrorCause.TLS, SyncErrorCause.SERVER_REFUSED, SyncErrorCause.PROTOCOL, SyncErrorCause.STORAGE,
    SyncErrorCause.BAD_SERVER_URL, SyncErrorCause.SIGNED_OUT, SyncErrorCause.OTHER,
    -> false
}
