package dev.fieldwork.shell

import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkDispatcher
import dev.fieldwork.FieldworkException
import dev.fieldwork.QuarantinedEdit
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/** The quarantine screen: edits the server refused, kept as typed. */
data class QuarantineState(val edits: List<QuarantinedEdit> = emptyList(), val error: String? = null)

/**
 * Lists refused edits and lets the user retry one (made again under
 * today's policy: refused again, it stays with the reason in [QuarantineState.error])
 * or dismiss it once dealt with.
 */
class QuarantineViewModel(device: FieldworkDevice, io: CoroutineDispatcher = FieldworkDispatcher) :
    StoreViewModel(device, io) {
    private val mutableState = MutableStateFlow(QuarantineState())

    /** The current state. */
    val state: StateFlow<QuarantineState> = mutableState.asStateFlow()

    /** Reloads the list. */
    suspend fun refresh() {
        mutableState.value = try {
            QuarantineState(store { quarantine() })
        } catch (e: FieldworkException) {
            mutableState.value.copy(error = e.userMessage())
        }
    }

    /** Makes one refused edit again; the next sync pushes it. */
    suspend fun retry(id: Long) {
        val failed = try {
            store { retryQuarantined(id) }
            null
        } catch (e: FieldworkException) {
            e.userMessage()
        }
        refresh()
        mutableState.value = mutableState.value.copy(error = failed)
    }

    /** Forgets one refused edit. */
    suspend fun dismiss(id: Long) {
        store { dismissQuarantined(id) }
        refresh()
    }
}
