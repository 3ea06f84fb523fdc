package dev.fieldwork.shell

import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkDispatcher
import dev.fieldwork.FieldworkException
import dev.fieldwork.Kind
import dev.fieldwork.ListOptions
import dev.fieldwork.SortBy
import dev.fieldwork.queryFlow
import dev.fieldwork.searchFlow
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.catch
import kotlinx.coroutines.flow.flatMapLatest
import kotlinx.coroutines.flow.flowOn
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.flow.update

/** One row of the account list. */
data class AccountRow(val id: String, val name: String, val subtitle: String)

/** The account list: [rows] for [query] (all accounts by name when blank). */
data class AccountListState(
    val query: String = "",
    val rows: List<AccountRow> = emptyList(),
    val error: String? = null,
)

/**
 * The account list with search, live: while [observe] runs, [state] follows
 * the store (a local write, sync, a revocation, the process engine) with no
 * refresh call, over a live query (`queryFlow` / `searchFlow`).
 */
class AccountListViewModel(device: FieldworkDevice, io: CoroutineDispatcher = FieldworkDispatcher) :
    StoreViewModel(device, io) {
    private val query = MutableStateFlow("")
    private val mutableState = MutableStateFlow(AccountListState())

    /** The current state. */
    val state: StateFlow<AccountListState> = mutableState.asStateFlow()

    /**
     * Shows accounts matching [text]: search when it has text, else the list
     * by name. [observe] swaps its live query for the new one (the old
     * subscription is cancelled).
     */
    fun search(text: String) {
        query.value = text
        mutableState.update { it.copy(query = text) }
    }

    /**
     * Keeps [state] live until the calling coroutine is cancelled (a
     * screen's `LaunchedEffect`) or the device closes. A failed query (the
     * device was wiped) shows its sentence as [AccountListState.error].
     */
    @OptIn(ExperimentalCoroutinesApi::class)
    suspend fun observe() {
        query.flatMapLatest { text -> rows(text).map { AccountListState(text, it) } }
            .flowOn(io)
            .catch { e -> if (e is FieldworkException) emit(mutableState.value.copy(error = e.userMessage())) else throw e }
            .collect { mutableState.value = it }
    }

    private fun rows(text: String): Flow<List<AccountRow>> = if (text.isBlank()) {
        device.queryFlow(Kind.ACCOUNT, ListOptions(sort = SortBy.NAME, limit = 500)).map { rows ->
            rows.map { AccountRow(it.id, it.title, listOfNotNull(it.stage, it.territory).joinToString(" · ")) }
        }
    } else {
        device.searchFlow(text, Kind.ACCOUNT, 50).map { hits -> hits.map { AccountRow(it.id, it.title, "") } }
    }
}
