package dev.fieldwork.tests

import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkException
import dev.fieldwork.Kind
import dev.fieldwork.ListOptions
import dev.fieldwork.QueryObserver
import dev.fieldwork.RecordObserver
import dev.fieldwork.RecordSummary
import dev.fieldwork.RecordView
import dev.fieldwork.queryFlow
import dev.fieldwork.recordFlow
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
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
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** The callback form: what a record subscription delivered, and on which thread. */
class Cards : RecordObserver {
    val seen = CopyOnWriteArrayList<RecordView?>()
    val threads = CopyOnWriteArrayList<String>()
    val errors = CopyOnWriteArrayList<FieldworkException>()
    val endings = java.util.concurrent.atomic.AtomicInteger()

    override fun changed(record: RecordView?) {
        threads.add(Thread.currentThread().name)
        seen.add(record)
    }

    override fun failed(error: FieldworkException) {
        errors.add(error)
    }

    override fun ended() {
        endings.incrementAndGet()
    }

    fun waitFor(n: Int) {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
        while (seen.size < n) {
            check(System.nanoTime() < deadline) { "only ${seen.size} of $n snapshots: $seen" }
            Thread.sleep(10)
        }
    }
}

class ObserveTest {
    private val opened = mutableListOf<FieldworkDevice>()
    private val dir = Files.createTempDirectory("fieldwork-kt-observe-").toFile()

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
    fun aQueryFlowGetsTheInitialSnapshotThenAnotherDevicesChangeAndStopsAfterCancel() = runBlocking {
        val mia = device()
        val ana = device()
        mia.signIn("mia")
        ana.signIn("ana")
        ana.sync()
        val north = ListOptions(territory = "north", limit = 1000)

        val received = Channel<List<RecordSummary>>(Channel.UNLIMITED)
        val collector = launch(Dispatchers.IO) { ana.queryFlow(Kind.ACCOUNT, north).collect { received.send(it) } }
        val first = withTimeout(10_000) { received.receive() }
        assertEquals(ana.list(Kind.ACCOUNT, north), first, "the initial snapshot is the list")

        // Another user, on another device, adds an account in Ana's territory.
        val account = mia.create(Kind.ACCOUNT, edits("name" to "Flujo Norte SL", "territory" to "north"))
        mia.syncNow(30)
        ana.syncNow(30)
        val rows = withTimeout(10_000) {
            var rows = received.receive()
            while (rows.none { it.id == account }) rows = received.receive()
            rows
        }
        assertEquals("Flujo Norte SL", rows.single { it.id == account }.title)

        collector.cancelAndJoin()
        val later = mia.create(Kind.ACCOUNT, edits("name" to "Tras el Flujo SL", "territory" to "north"))
        mia.syncNow(30)
        ana.syncNow(30)
        assertTrue(ana.list(Kind.ACCOUNT, north).any { it.id == later })
        Thread.sleep(300)
        assertTrue(received.isEmpty, "nothing after the collector was cancelled")
    }

    @Test
    fun aSubscriptionHearsNothingAfterCancel() {
        val mia = device()
        val ana = device()
        mia.signIn("mia")
        ana.signIn("ana")
        val subscription = ana.observeQuery(
            Kind.ACCOUNT, ListOptions(territory = "north", limit = 1000),
            object : QueryObserver {
                override fun snapshot(rows: List<RecordSummary>) {
                    rowsSeen(rows)
                }

                override fun failed(error: FieldworkException) {}

                override fun ended() {}
            },
        )
        waitUntil { rows.size == 1 }
        val account = mia.create(Kind.ACCOUNT, edits("name" to "Cancelada SL", "territory" to "north"))
        mia.sync()
        ana.sync()
        waitUntil { rows.last().any { it.id == account } }

        subscription.cancel()
        assertFalse(subscription.isActive())
        val seen = rows.size
        mia.update(account, edits("name" to "Cancelada Dos SL"))
        mia.sync()
        ana.sync()
        Thread.sleep(300)
        assertEquals(seen, rows.size, "nothing after cancel")
        subscription.close()
    }

    @Test
    fun aRecordFlowAndSubscriptionSeeTheChangeAndTheRevocation() {
        val mia = device()
        val ana = device()
        mia.signIn("mia")
        ana.signIn("ana")
        val account = mia.create(Kind.ACCOUNT, edits("name" to "Registro Visto SL", "territory" to "north"))
        mia.sync()
        ana.sync()

        val cards = Cards()
        val subscription = ana.observeRecord(account, cards)
        cards.waitFor(1)
        assertEquals("Registro Visto SL", cards.seen[0]?.title)
        assertFalse(Thread.currentThread().name in cards.threads, "observers run on the dispatcher thread")

        runBlocking {
            val titles = Channel<String?>(Channel.UNLIMITED)
            val collector = launch(Dispatchers.IO) { ana.recordFlow(account).collect { titles.send(it?.title) } }
            assertEquals("Registro Visto SL", withTimeout(10_000) { titles.receive() })

            mia.update(account, edits("name" to "Registro Nuevo SL"))
            mia.syncNow(30)
            ana.syncNow(30)
            assertEquals("Registro Nuevo SL", withTimeout(10_000) { titles.receive() })
            cards.waitFor(2)
            assertEquals("Registro Nuevo SL", cards.seen[1]?.title)

            // The manager moves it out of Ana's territory: revoked on her device.
            mia.update(account, edits("territory" to "south"))
            mia.syncNow(30)
            ana.syncNow(30)
            assertNull(withTimeout(10_000) { titles.receive() })
            collector.cancelAndJoin()
        }
        cards.waitFor(3)
        assertNull(cards.seen[2])

        subscription.cancel()
        mia.update(account, edits("territory" to "north"))
        mia.sync()
        ana.sync()
        Thread.sleep(300)
        assertEquals(3, cards.seen.size, "nothing after cancel")
        assertTrue(cards.errors.isEmpty())
        assertEquals(0, cards.endings.get(), "cancel calls no ended()")
    }

    @Test
    fun closingTheDeviceEndsSubscriptionsAndCancelAfterCloseIsHarmless() {
        val ana = device()
        val account = ana.create(Kind.ACCOUNT, edits("name" to "Cierre SL", "territory" to "north"))
        val cards = Cards()
        val subscription = ana.observeRecord(account, cards)
        cards.waitFor(1)
        ana.closeDevice()
        assertFalse(subscription.isActive())
        assertEquals(1, cards.endings.get(), "closeDevice returns once ended() was called")
        subscription.cancel()
        subscription.close()
        assertFailsWith<FieldworkException.Closed> { ana.observeRecord(account, Cards()) }
        assertFailsWith<FieldworkException.Closed> { runBlocking { ana.recordFlow(account).first() } }
        Thread.sleep(200)
        assertEquals(1, cards.seen.size, "nothing after close")
        assertEquals(1, cards.endings.get(), "ended() once")
    }

    @Test
    fun aCollectedFlowCompletesWhenTheDeviceIsClosed() = runBlocking {
        val ana = device()
        val received = Channel<List<RecordSummary>>(Channel.UNLIMITED)
        val collector = launch(Dispatchers.IO) { ana.queryFlow(Kind.ACCOUNT).collect { received.send(it) } }
        assertEquals(emptyList(), withTimeout(10_000) { received.receive() })
        ana.close()
        withTimeout(10_000) { collector.join() }
        assertFalse(collector.isCancelled, "the Flow completed normally")
        assertTrue(received.isEmpty, "no snapshot after close")
    }

    private val rows = CopyOnWriteArrayList<List<RecordSummary>>()

    private fun rowsSeen(snapshot: List<RecordSummary>) {
        rows.add(snapshot)
    }

    private fun waitUntil(condition: () -> Boolean) {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
        while (!condition()) {
            check(System.nanoTime() < deadline) { "not delivered in time" }
            Thread.sleep(10)
        }
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
