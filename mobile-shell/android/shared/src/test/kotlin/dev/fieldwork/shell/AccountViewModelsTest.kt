package dev.fieldwork.shell

import dev.fieldwork.Kind
import kotlinx.coroutines.runBlocking
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
    fun theListIsSortedByNameAndSearchNarrowsIt() = runBlocking {
        val device = devices.open()
        for (name in listOf("Zumos Norte", "Acme Iberia", "Mármoles Sur")) {
            device.create(Kind.ACCOUNT, edits("name" to name))
        }
        val list = AccountListViewModel(device)
        list.refresh()
        assertEquals(listOf("Acme Iberia", "Mármoles Sur", "Zumos Norte"), list.state.value.rows.map { it.name })

        list.search("marmol")
        assertEquals(listOf("Mármoles Sur"), list.state.value.rows.map { it.name })
        list.search("")
        assertEquals(3, list.state.value.rows.size)
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
