package dev.fieldwork.shell

import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkException
import dev.fieldwork.Kind
import dev.fieldwork.ListOptions
import dev.fieldwork.SortBy
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/** One row of the account list. */
data class AccountRow(val id: String, val name: String, val subtitle: String)

/** The account list: [rows] for [query] (all accounts by name when blank). */
data class AccountListState(
    val query: String = "",
    val rows: List<AccountRow> = emptyList(),
    val error: String? = null,
)

/** The account list with search. */
class AccountListViewModel(device: FieldworkDevice, io: CoroutineDispatcher = Dispatchers.IO) :
    StoreViewModel(device, io) {
    private val mutableState = MutableStateFlow(AccountListState())

    /** The current state. */
    val state: StateFlow<AccountListState> = mutableState.asStateFlow()

    /** Shows accounts matching [query]: search when it has text, else the sorted list. */
    suspend fun search(query: String) {
        mutableState.value = mutableState.value.copy(query = query)
        refresh()
    }

    /** Reloads the rows for the current query (after a change or a sync). */
    suspend fun refresh() {
        val query = mutableState.value.query
        mutableState.value = try {
            val rows = store {
                if (query.isBlank()) {
                    list(Kind.ACCOUNT, ListOptions(sort = SortBy.NAME, limit = 500u)).map {
                        AccountRow(it.id, it.title, listOfNotNull(it.stage, it.territory).joinToString(" · "))
                    }
                } else {
                    search(query, Kind.ACCOUNT, 50u).map { AccountRow(it.id, it.title, "") }
                }
            }
            AccountListState(query, rows)
        } catch (e: FieldworkException) {
            mutableState.value.copy(error = e.userMessage())
        }
    }
}
