package dev.fieldwork.shell

import dev.fieldwork.FieldEdit
import dev.fieldwork.FieldView
import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkDispatcher
import dev.fieldwork.FieldworkException
import dev.fieldwork.RecordView
import dev.fieldwork.recordFlow
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.catch
import kotlinx.coroutines.flow.flowOn

/** One field on the card: what is stored, what the user has typed, and whether they may type. */
data class CardFieldState(
    val name: String,
    val label: String,
    val stored: String?,
    val display: String?,
    val draft: String,
    val writable: Boolean,
    val required: Boolean,
    val conflicts: List<String>,
    val error: String? = null,
) {
    /** Whether the user changed this field since it was loaded. */
    val edited: Boolean get() = draft != (stored ?: "")
}

/**
 * The account card. [message] is a card-level error or confirmation; [gone]
 * says the record is not (or no longer) on this device: not synced yet, or
 * moved out of the user's sight. The drafts stay on screen either way.
 */
data class CardState(
    val title: String = "",
    val fields: List<CardFieldState> = emptyList(),
    val saving: Boolean = false,
    val message: String? = null,
    val gone: Boolean = false,
) {
    /** Whether any field has unsaved edits. */
    val dirty: Boolean get() = fields.any { it.edited }
}

/**
 * An account card: only the fields the policy lets the user read, editable
 * where it lets them write. A refused save keeps every draft: nothing the
 * user typed is lost, and the refused field says why. While [observe] runs
 * the card follows the record live (`recordFlow`): a change synced from
 * another user updates the stored values and keeps what the user is typing.
 */
class AccountCardViewModel(
    device: FieldworkDevice,
    private val id: String,
    io: CoroutineDispatcher = FieldworkDispatcher,
) : StoreViewModel(device, io) {
    private val mutableState = MutableStateFlow(CardState())

    /** The current state. */
    val state: StateFlow<CardState> = mutableState.asStateFlow()

    /** Loads the card once, keeping drafts of fields the user is editing. */
    suspend fun load() {
        try {
            show(store { card(id) })
        } catch (e: FieldworkException) {
            mutableState.value = mutableState.value.copy(message = e.userMessage())
        }
    }

    /**
     * Keeps the card live until the calling coroutine is cancelled (a
     * screen's `LaunchedEffect`) or the device closes.
     */
    suspend fun observe() {
        device.recordFlow(id)
            .flowOn(io)
            .catch { e -> if (e is FieldworkException) mutableState.value = mutableState.value.copy(message = e.userMessage()) else throw e }
            .collect { show(it) }
    }

    /** Shows [card] (null: not on this device), keeping the drafts and their refusals. */
    private fun show(card: RecordView?) {
        val s = mutableState.value
        mutableState.value = if (card == null) {
            s.copy(gone = true, message = "This account is not on this device.")
        } else {
            val kept = s.fields.filter { it.edited }.associateBy { it.name }
            CardState(
                card.title,
                card.fields.map { f -> f.toState(kept[f.name]?.draft).copy(error = kept[f.name]?.error) },
                saving = s.saving,
            )
        }
    }

    /** Records what the user typed into [field]. */
    fun edit(field: String, text: String) {
        val s = mutableState.value
        mutableState.value = s.copy(
            fields = s.fields.map { if (it.name == field && it.writable) it.copy(draft = text, error = null) else it },
            message = null,
        )
    }

    /** Saves the edited fields in one change; returns whether it was saved. */
    suspend fun save(): Boolean {
        val edits = mutableState.value.fields.filter { it.edited }
            .map { FieldEdit(it.name, it.draft.ifEmpty { null }) }
        if (edits.isEmpty()) return true
        mutableState.value = mutableState.value.copy(saving = true, message = null)
        return try {
            store { update(id, edits) }
            mutableState.value = mutableState.value.copy(saving = false, fields = emptyList())
            load()
            true
        } catch (e: FieldworkException) {
            val field = e.field()
            val s = mutableState.value
            mutableState.value = s.copy(
                saving = false,
                fields = s.fields.map { if (it.name == field) it.copy(error = e.userMessage()) else it },
                message = if (field == null || s.fields.none { it.name == field }) e.userMessage() else null,
            )
            false
        }
    }
}

private fun FieldView.toState(draft: String?) = CardFieldState(
    name = name,
    label = name.replace('_', ' ').replaceFirstChar { it.uppercase() },
    stored = value,
    display = display,
    draft = draft ?: value ?: "",
    writable = writable,
    required = required,
    conflicts = conflicts,
)
