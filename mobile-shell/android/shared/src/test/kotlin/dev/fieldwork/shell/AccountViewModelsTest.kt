package dev.fieldwork.shell

import dev.fieldwork.Kind
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** The account list and card view models over a real device store (no server needed). */
class AccountViewModelsTest {
    private val devices = Devices()

    @AfterTest
    fun close() = devices.close()

    @Test
    fun theListIsLiveSortedByNameAndSearchNarrowsIt() = runBlocking {
        val device = devices.open()
        for (name in listOf("Zumos Norte", "Acme Iberia", "Mármoles Sur")) {
            device.create(Kind.ACCOUNT, edits("name" to name))
        }
        val list = AccountListViewModel(device)
        val live = launch { list.observe() }
        list.state.awaitNames("Acme Iberia", "Mármoles Sur", "Zumos Norte")

        // No refresh call: the live query sees the write.
        device.create(Kind.ACCOUNT, edits("name" to "Bodegas Este"))
        list.state.awaitNames("Acme Iberia", "Bodegas Este", "Mármoles Sur", "Zumos Norte")

        list.search("marmol")
        list.state.awaitNames("Mármoles Sur")
        device.create(Kind.ACCOUNT, edits("name" to "Mármoles Norte"))
        list.state.awaitNames("Mármoles Norte", "Mármoles Sur", sorted = true)
        list.search("")
        withTimeout(10_000) { list.state.first { it.query == "" && it.rows.size == 5 } }

        live.cancel()
    }

    @Test
    fun theLiveCardFollowsChangesAndKeepsWhatTheUserTypes() = runBlocking {
        val device = devices.open()
        val id = device.create(Kind.ACCOUNT, edits("name" to "Acme Iberia"))
        val card = AccountCardViewModel(device, id)
        val live = launch { card.observe() }
        withTimeout(10_000) { card.state.first { it.title == "Acme Iberia" } }

        card.edit("city", "Bilbao")
        // Written elsewhere (another screen, or synced from a colleague).
        device.update(id, edits("email" to "compras@acme.example", "name" to "Acme Iberia SL"))
        val after = withTimeout(10_000) { card.state.first { it.title == "Acme Iberia SL" } }
        assertEquals("compras@acme.example", after.fields.single { it.name == "email" }.stored)
        assertEquals("Bilbao", after.fields.single { it.name == "city" }.draft, "the draft survives the update")
        assertTrue(after.dirty)
        assertTrue(card.save())
        withTimeout(10_000) { card.state.first { s -> s.fields.any { it.name == "city" && it.stored == "Bilbao" } && !s.dirty } }
        live.cancel()
    }

    @Test
    fun anInvalidValueIsRefusedOnItsFieldAndTheDraftIsKept() = runBlocking {
        val device = devices.open()
        val id = device.create(Kind.ACCOUNT, edits("name" to "Acme Iberia"))
        val card = AccountCardViewModel(device, id)
        card.load()
        assertEquals("Acme Iberia", card.state.value.title)

        card.edit("email", "not an e-mail")
        card.edit("city", "Bilbao")
        assertTrue(card.state.value.dirty)
        assertFalse(card.save())
        val email = card.state.value.fields.single { it.name == "email" }
        assertNotNull(email.error, "the refused field says why")
        assertEquals("not an e-mail", email.draft, "what the user typed is kept")
        assertEquals("Bilbao", card.state.value.fields.single { it.name == "city" }.draft)
        assertNull(device.card(id).fields.single { it.name == "city" }.value, "nothing was written")

        card.edit("email", "compras@acme.example")
        assertTrue(card.save())
        val saved = card.state.value
        assertFalse(saved.dirty)
        assertEquals("compras@acme.example", saved.fields.single { it.name == "email" }.stored)
        assertEquals("Bilbao", saved.fields.single { it.name == "city" }.stored)
    }

    @Test
    fun systemFieldsAreShownButNotEditable() = runBlocking {
        val device = devices.open()
        val id = device.create(Kind.ACCOUNT, edits("name" to "Acme Iberia"))
        val card = AccountCardViewModel(device, id)
        card.load()
        val history = card.state.value.fields.single { it.name == "stage_history" }
        assertFalse(history.writable)
        card.edit("stage_history", "forged")
        assertFalse(card.state.value.dirty, "a read-only field ignores typing")
    }
}

/** Waits (at most ten seconds) until the rows are [names], in that order or, with [sorted], once sorted. */
private suspend fun StateFlow<AccountListState>.awaitNames(vararg names: String, sorted: Boolean = false) {
    val want = names.toList()
    withTimeout(10_000) {
        first { s -> s.rows.map { it.name }.let { if (sorted) it.sorted() else it } == want }
    }
}
