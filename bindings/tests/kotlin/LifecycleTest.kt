package dev.fieldwork.tests

import dev.fieldwork.FieldEdit
import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkException
import dev.fieldwork.Kind
import dev.fieldwork.SyncStatus
import kotlinx.coroutines.runBlocking
import org.junit.AfterClass
import org.junit.BeforeClass
import java.nio.file.Files
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/**
 * A device's life from Kotlin: one handle per store file (`StoreInUse`),
 * `closeDevice()` (idempotent, bounded, `Closed` afterwards, no callback
 * after it), `close()`/`use {}` releasing the store, `storeSize()`, and
 * `wipe()` leaving no file behind.
 */
class LifecycleTest {
    private val dir = Files.createTempDirectory("fieldwork-kt-lifecycle-").toFile()

    @AfterTest
    fun cleanUp() {
        dir.deleteRecursively()
    }

    @Test
    fun aStoreOpensOnceUntilItsDeviceIsClosed() {
        val keystore = MemoryKeystore()
        val path = dir.resolve("device.db").path
        val device = FieldworkDevice.open(path, keystore)
        device.create(Kind.ACCOUNT, listOf(FieldEdit("name", "Un Solo Dueño SA")))

        val inUse = assertFailsWith<FieldworkException.StoreInUse> { FieldworkDevice.open(path, keystore) }
        assertEquals(path, inUse.path)

        device.closeDevice()
        device.closeDevice() // idempotent
        assertFailsWith<FieldworkException.Closed> { device.count(Kind.ACCOUNT) }
        assertFailsWith<FieldworkException.Closed> { device.storeSize() }
        assertFailsWith<FieldworkException.Closed> { device.startSync() }
        device.close()

        // `use {}` (AutoCloseable) releases the store as well.
        FieldworkDevice.open(path, keystore).use { again ->
            assertEquals(1L, again.count(Kind.ACCOUNT))
            assertTrue(again.storeSize() > 0L, "the store's files take room")
            assertFailsWith<FieldworkException.StoreInUse> { FieldworkDevice.open(path, keystore) }
        }
        FieldworkDevice.open(path, keystore).use { assertEquals(1L, it.count(Kind.ACCOUNT)) }
    }

    @Test
    fun closingALiveDeviceIsQuickAndNothingIsCalledAfterIt() {
        val device = FieldworkDevice.open(dir.resolve("live.db").path, MemoryKeystore())
        val listener = Recorder()
        device.addListener(listener)
        runBlocking { device.login(server.url, "ana", TestServer.PASSWORDS.getValue("ana")) }
        device.startSync()
        listener.waitFor("up to date") { listener.statuses.any { it is SyncStatus.UpToDate } }

        val started = System.nanoTime()
        device.closeDevice()
        val tookMs = (System.nanoTime() - started) / 1_000_000
        assertTrue(tookMs < 5_000, "closing took $tookMs ms")
        val heard = listener.statuses.size + listener.changed.size
        assertFailsWith<FieldworkException.Closed> { runBlocking { device.syncNow(5) } }
        assertFailsWith<FieldworkException.Closed> { device.addListener(Recorder()) }
        Thread.sleep(500)
        assertEquals(heard, listener.statuses.size + listener.changed.size, "a listener was called after close")
        device.close()
    }

    @Test
    fun wipeLeavesNoFileBehind() {
        val phone = dir.resolve("phone").apply { mkdirs() }
        val keystore = MemoryKeystore()
        val path = phone.resolve("fieldwork.db").path
        val device = FieldworkDevice.open(path, keystore)
        runBlocking { device.login(server.url, "ana", TestServer.PASSWORDS.getValue("ana")) }
        device.create(Kind.ACCOUNT, listOf(FieldEdit("name", "Borrado Total SL"), FieldEdit("territory", "north")))
        device.startSync()
        assertTrue(phone.list()!!.toSet().containsAll(setOf("fieldwork.db", "fieldwork.db.lock")))

        device.wipe()
        assertEquals(emptyList(), phone.list()!!.sorted(), "store, WAL, SHM and lock file are gone")
        assertEquals(emptySet(), keystore.values.keys, "store key and session token are gone")
        assertFailsWith<FieldworkException.Wiped> { device.count(Kind.ACCOUNT) }
        device.close()

        FieldworkDevice.open(path, keystore).use { assertEquals(0L, it.count(Kind.ACCOUNT)) }
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
