package dev.fieldwork.tests

import dev.fieldwork.DeviceListener
import dev.fieldwork.FieldEdit
import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkException
import dev.fieldwork.Kind
import dev.fieldwork.ListOptions
import dev.fieldwork.SyncErrorCause
import dev.fieldwork.SyncStatus
import dev.fieldwork.io
import kotlinx.coroutines.runBlocking
import org.junit.AfterClass
import org.junit.BeforeClass
import java.nio.file.Files
import java.util.concurrent.CopyOnWriteArrayList
import java.util.concurrent.TimeUnit
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertTrue

/** Collects callbacks; [waitFor] polls until a condition holds. */
class Recorder : DeviceListener {
    val changed = CopyOnWriteArrayList<String>()
    val statuses = CopyOnWriteArrayList<SyncStatus>()

    override fun recordsChanged(ids: List<String>) {
        changed.addAll(ids)
    }

    override fun syncStatusChanged(status: SyncStatus) {
        statuses.add(status)
    }

    fun waitFor(what: String, condition: () -> Boolean) {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
        while (!condition()) {
            check(System.nanoTime() < deadline) { "no callback: $what" }
            Thread.sleep(10)
        }
    }
}

fun edits(vararg fields: Pair<String, String?>) = fields.map { (name, value) -> FieldEdit(name, value) }

class DeviceTest {
    private val opened = mutableListOf<FieldworkDevice>()
    private val dir = Files.createTempDirectory("fieldwork-kt-devices-").toFile()

    private fun device(): FieldworkDevice =
        FieldworkDevice.open(dir.resolve("device-${opened.size}.db").path, MemoryKeystore()).also { opened += it }

    private fun FieldworkDevice.signIn(user: String) =
        runBlocking { login(server.url, user, TestServer.PASSWORDS.getValue(user)) }

    private fun FieldworkDevice.sync() = runBlocking { syncNow(30) }

    @AfterTest
    fun closeDevices() {
        opened.forEach { it.close() }
        dir.deleteRecursively()
    }

    @Test
    fun anAccountMadeOfflineReachesASecondUserAfterSync() {
        val ana = device()
        val listener = Recorder()
        ana.addListener(listener)
        val user = ana.signIn("ana")
        assertEquals("rep", user.role)

        val account = ana.create(Kind.ACCOUNT, edits("name" to "Kotlin Foods", "territory" to "north"))
        listener.waitFor("the new account") { account in listener.changed }
        assertTrue(ana.pendingChanges() > 0L, "the edit waits in the outbox")

        val report = ana.sync()
        assertTrue(report.pushed >= 1L)
        assertEquals(0L, report.refused)
        assertEquals(0L, ana.pendingChanges())
        listener.waitFor("sync status") { listener.statuses.any { it is SyncStatus.Offline } }
        assertTrue(listener.statuses.any { it is SyncStatus.Connecting })

        val mia = device()
        mia.signIn("mia")
        mia.sync()
        // The server is shared by the tests of this class: look for this account.
        val rows = mia.list(Kind.ACCOUNT, ListOptions(territory = "north"))
        assertEquals("Kotlin Foods", rows.single { it.id == account }.title)
        assertEquals(listOf(account), mia.search("kotl foo", Kind.ACCOUNT, 10).map { it.id })
    }

    @Test
    fun theCardShowsOnlyWhatTheRepMayReadAndMarksWhatSheMayWrite() {
        val mia = device()
        mia.signIn("mia")
        val account = mia.create(
            Kind.ACCOUNT,
            edits("name" to "Credit Check GmbH", "territory" to "north", "credit_limit" to "250000", "credit_currency" to "EUR"),
        )
        mia.sync()
        assertEquals("2500.00 EUR", mia.card(account).fields.single { it.name == "credit_limit" }.display)

        val ana = device()
        ana.signIn("ana")
        ana.sync()
        val fields = ana.card(account).fields.associateBy { it.name }
        assertFalse("credit_limit" in fields, "a rep never receives financial fields")
        assertTrue(fields.getValue("name").writable)
        assertEquals("Credit Check GmbH", fields.getValue("name").value)
    }

    @Test
    fun coreErrorsArriveAsTypedExceptions() {
        val ana = device()
        ana.signIn("ana")
        val account = ana.create(Kind.ACCOUNT, edits("name" to "Exceptions SA", "territory" to "north"))

        val denied = assertFailsWith<FieldworkException.Denied> {
            ana.update(account, edits("tax_id" to "ESX1234567"))
        }
        assertEquals("class_not_writable", denied.code)
        assertEquals("roles.rep.write", denied.rule)

        val invalid = assertFailsWith<FieldworkException.Invalid> {
            ana.update(account, edits("email" to "no at sign"))
        }
        assertEquals("email", invalid.field)
        assertFailsWith<FieldworkException.NotFound> { ana.card("account:missing") }

        val stranger = device()
        assertFailsWith<FieldworkException.InvalidCredentials> {
            runBlocking { stranger.login(server.url, "ana", "not her password") }
        }
        assertFailsWith<FieldworkException.NotLoggedIn> { runBlocking { stranger.syncNow(5) } }

        // Numbers are signed Int/Long; a negative limit, offset or timeout is
        // Invalid naming the argument, never a wrapped huge value.
        val limit = assertFailsWith<FieldworkException.Invalid> { ana.list(Kind.ACCOUNT, ListOptions(limit = -1)) }
        assertEquals("limit", limit.field)
        assertEquals("limit must not be negative", limit.detail)
        val searchLimit = assertFailsWith<FieldworkException.Invalid> { ana.search("exceptions", null, -1) }
        assertEquals("limit", searchLimit.field)
        val offset = assertFailsWith<FieldworkException.Invalid> { ana.list(Kind.ACCOUNT, ListOptions(offset = -3)) }
        assertEquals("offset", offset.field)
        val timeout = assertFailsWith<FieldworkException.Invalid> { runBlocking { ana.syncNow(-1) } }
        assertEquals("timeout_seconds", timeout.field)
        assertTrue(ana.count(Kind.ACCOUNT) >= 1L, "counts are Long")
    }

    @Test
    fun liveSyncCallsTheListenerWhenAnotherUserChangesARecord() {
        val ana = device()
        val mia = device()
        ana.signIn("ana")
        mia.signIn("mia")
        val listener = Recorder()
        mia.addListener(listener)
        mia.startSync()
        listener.waitFor("up to date") { listener.statuses.any { it is SyncStatus.UpToDate } }

        val account = ana.create(Kind.ACCOUNT, edits("name" to "Live From Kotlin", "territory" to "north"))
        ana.sync()
        listener.waitFor("the live change") { account in listener.changed }
        assertEquals("Live From Kotlin", mia.card(account).title)
        mia.stopSync()
        assertTrue(mia.syncStatus() is SyncStatus.Offline)
    }

    @Test
    fun moneyIsTypedWithItsCurrencyAndARepIsDeniedWhateverSheTyped() {
        val mia = device()
        mia.signIn("mia")
        val account = mia.create(
            Kind.ACCOUNT,
            listOf(
                FieldEdit("name", "Typed Money AG"),
                FieldEdit("territory", "north"),
                FieldEdit("credit_limit", "1234.50", currency = "EUR"),
            ),
        )
        val limit = mia.card(account).fields.single { it.name == "credit_limit" }
        assertEquals("1234.50", limit.amount)
        assertEquals("EUR", limit.currency)
        assertEquals("123450", limit.value, "minor units are still there")

        val ana = device()
        ana.signIn("ana")
        val mine = ana.create(Kind.ACCOUNT, edits("name" to "No Credit SA", "territory" to "north"))
        for (typed in listOf("100", "lots")) {
            val denied = assertFailsWith<FieldworkException.Denied> {
                ana.update(mine, edits("credit_limit" to typed))
            }
            assertEquals("credit_limit", denied.field)
        }
        val other = assertFailsWith<FieldworkException.Denied> { ana.signIn("mia") }
        assertEquals("store_of_another_user", other.code)
    }

    @Test
    fun namesSortInTheLocaleTheAppSetsAndWorkBeforeLoginBecomesTheUsers() {
        val ana = device()
        val ids = listOf("Oso", "Ñandú", "Nube").map { name ->
            ana.create(Kind.ACCOUNT, edits("name" to name, "territory" to "north"))
        }
        ana.setLocale("es-ES")
        assertEquals("es-ES", ana.locale())
        assertEquals(listOf("Nube", "Ñandú", "Oso"), ana.list(Kind.ACCOUNT, ListOptions()).map { it.title })

        ana.signIn("ana")
        val report = ana.sync()
        assertEquals(0L, report.refused, "what she typed before login is hers")
        assertTrue(ana.quarantine().isEmpty())
        val owners = ids.map { id -> ana.card(id).fields.single { it.name == "owner" }.value }
        assertEquals(listOf("ana", "ana", "ana"), owners)
    }

    @Test
    fun anUnreachableServerIsANetworkErrorWithASentenceInTheDeviceLocale() {
        val ana = device()
        val listener = Recorder()
        ana.addListener(listener)
        // Signed in on a server of its own, which then stops: nothing
        // listens on that port any more.
        TestServer.withTeam().use { gone ->
            runBlocking { ana.login(gone.url, "ana", TestServer.PASSWORDS.getValue("ana")) }
        }

        assertFailsWith<FieldworkException.Network> { runBlocking { ana.syncNow(10) } }
        val english = assertIs<SyncStatus.Error>(ana.syncStatus())
        assertEquals(SyncErrorCause.NETWORK, english.cause)
        assertTrue(english.message.startsWith("Could not reach the server"), english.message)
        listener.waitFor("the error status") {
            listener.statuses.any { it is SyncStatus.Error && it.cause == SyncErrorCause.NETWORK }
        }

        ana.setLocale("es")
        assertFailsWith<FieldworkException.Network> { runBlocking { ana.syncNow(10) } }
        val spanish = assertIs<SyncStatus.Error>(ana.syncStatus())
        assertEquals(SyncErrorCause.NETWORK, spanish.cause)
        assertEquals("No se pudo conectar con el servidor; comprueba la conexión.", spanish.message)
    }

    @Test
    fun storeCallsSuspendOnTheSdksDispatcherWithTypedErrors() = runBlocking {
        val ana = device()
        ana.signIn("ana")
        val caller = Thread.currentThread()
        val (id, ranOn) = ana.io { create(Kind.ACCOUNT, edits("name" to "Suspendida SA", "territory" to "north")) to Thread.currentThread() }
        assertTrue(ranOn != caller, "the store call ran off the caller's thread")
        assertEquals("Suspendida SA", ana.io { card(id) }.title)
        val denied = assertFailsWith<FieldworkException.Denied> { ana.io { update(id, edits("tax_id" to "ES1")) } }
        assertEquals("tax_id", denied.field)
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
        fun stopServer() {
            server.close()
        }
    }
}
