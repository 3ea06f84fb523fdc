package dev.fieldwork.shell

import dev.fieldwork.FieldworkDevice
import dev.fieldwork.Kind
import dev.fieldwork.tests.TestServer
import kotlinx.coroutines.runBlocking
import org.junit.AfterClass
import org.junit.BeforeClass
import java.time.LocalDate
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** Login, sync, tasks, the policy on the card and the quarantine, against a real server. */
class SignedInViewModelsTest {
    private val devices = Devices()

    @AfterTest
    fun close() = devices.close()

    private suspend fun signedIn(user: String) = devices.open().also {
        val session = SessionViewModel(it)
        session.login(server.url, user, TestServer.PASSWORDS.getValue(user))
        assertIs<SessionState.SignedIn>(session.state.value)
    }

    @Test
    fun aWrongPasswordIsExplainedAndARightOneSignsIn() = runBlocking {
        val device = devices.open()
        val session = SessionViewModel(device)
        assertEquals(SessionState.SignedOut, session.state.value)
        session.login(server.url, "ana", "wrong")
        assertEquals(SessionState.Failed("Wrong user name or password."), session.state.value)
        session.login(server.url, "ana", TestServer.PASSWORDS.getValue("ana"))
        assertEquals("ana", (session.state.value as SessionState.SignedIn).user.name)
        assertIs<SessionState.SignedIn>(SessionViewModel(device).state.value, "reopening skips the form")
        session.logout()
        assertEquals(SessionState.SignedOut, session.state.value)
    }

    @Test
    fun aRepSeesNoFinancialFieldsAndTheManagersTaskInHerList() = runBlocking {
        val mia = signedIn("mia")
        val account = mia.create(
            Kind.ACCOUNT,
            edits("name" to "Shell Foods", "territory" to "north", "credit_limit" to "100000", "credit_currency" to "EUR"),
        )
        val call = mia.create(
            Kind.ACTIVITY,
            edits("type" to "call", "subject" to "Call Shell Foods", "account" to account, "assignee" to "ana",
                "due_at" to "2031-03-03T08:00:00Z"),
        )
        SyncViewModel(mia, DeviceEvents(mia)).syncNow()

        val ana = signedIn("ana")
        val sync = SyncViewModel(ana, DeviceEvents(ana))
        sync.syncNow()
        assertNull(sync.state.value.lastError)
        assertEquals(0L, sync.state.value.pending)

        val card = AccountCardViewModel(ana, account)
        card.load()
        val names = card.state.value.fields.map { it.name }
        assertFalse("credit_limit" in names)
        assertTrue(card.state.value.fields.single { it.name == "name" }.writable)

        val tasks = TasksViewModel(ana, today = { LocalDate.of(2031, 3, 1) })
        tasks.refresh()
        assertEquals(listOf("Upcoming"), tasks.state.value.sections.map { it.title })
        assertEquals(listOf(call), tasks.state.value.sections.single().items.map { it.id })
        assertEquals(listOf("2031-03-03 09:00 CET"), tasks.state.value.calendar.map { it.local })
        tasks.complete(call)
        assertTrue(tasks.state.value.sections.isEmpty())
    }

    /** A rep named [user] whose edit of an account's city the server refused (he became an auditor offline). */
    private class Refused(val device: FieldworkDevice, val account: String, val sync: SyncViewModel, val quarantine: QuarantineViewModel)

    private suspend fun refusedEdit(user: String, accountName: String): Refused {
        server.addUser(user, "rep", "$user-secret-1", "--territory", "north")
        val device = devices.open()
        SessionViewModel(device).login(server.url, user, "$user-secret-1")
        val account = device.create(Kind.ACCOUNT, edits("name" to accountName, "territory" to "north"))
        val sync = SyncViewModel(device, DeviceEvents(device))
        sync.syncNow()
        // While offline, an administrator makes him a read-only auditor.
        server.admin("user", "set", user, "--role", "auditor")
        device.update(account, edits("city" to "Vigo"))
        sync.syncNow()
        val quarantine = QuarantineViewModel(device)
        quarantine.refresh()
        return Refused(device, account, sync, quarantine)
    }

    @Test
    fun anEditRefusedByTheServerLandsInTheQuarantineAsTypedAndIsRetried() = runBlocking {
        val leo = refusedEdit("leo", "Quarantine SL")
        val quarantine = leo.quarantine
        val refused = quarantine.state.value.edits.single()
        assertEquals("city", refused.field)
        assertEquals("\"Vigo\"", refused.valueJson)
        assertEquals("class_not_writable", refused.code)
        // Still an auditor: the retry is refused with a sentence and the edit stays.
        quarantine.retry(refused.id)
        assertTrue(quarantine.state.value.error!!.startsWith("Not allowed"), quarantine.state.value.error)
        assertEquals(listOf(refused.id), quarantine.state.value.edits.map { it.id })
        // A rep again: the retry writes it and the next sync pushes it.
        server.admin("user", "set", "leo", "--role", "rep")
        leo.sync.syncNow()
        quarantine.retry(refused.id)
        assertNull(quarantine.state.value.error)
        assertTrue(quarantine.state.value.edits.isEmpty())
        leo.sync.syncNow()
        assertEquals("Vigo", leo.device.card(leo.account).fields.single { it.name == "city" }.value)
    }

    @Test
    fun aRefusedEditCanBeDismissed() = runBlocking {
        val quarantine = refusedEdit("eva", "Dismiss SL").quarantine
        quarantine.dismiss(quarantine.state.value.edits.single().id)
        assertTrue(quarantine.state.value.edits.isEmpty())
    }

    companion object {
        lateinit var server: TestServer

        @JvmStatic
        @BeforeClass
        fun startServer() {
            server = TestServer.withTeam()
        }

        @JvmStatic
        @AfterClass
        fun stopServer() = server.close()
    }
}
