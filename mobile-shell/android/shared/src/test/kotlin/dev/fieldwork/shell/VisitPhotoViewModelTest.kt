package dev.fieldwork.shell

import dev.fieldwork.Kind
import dev.fieldwork.tests.TestServer
import kotlinx.coroutines.runBlocking
import org.junit.AfterClass
import org.junit.BeforeClass
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** The photo on a visit: taken offline by the rep, seen by her manager after both sync. */
class VisitPhotoViewModelTest {
    private val devices = Devices()

    @AfterTest
    fun close() = devices.close()

    private suspend fun signedIn(user: String) = devices.open().also {
        SessionViewModel(it).login(server.url, user, TestServer.PASSWORDS.getValue(user))
    }

    @Test
    fun aPhotoTakenOfflineReachesTheManager() = runBlocking {
        val ana = signedIn("ana")
        val account = ana.create(Kind.ACCOUNT, edits("name" to "Foto Tienda", "territory" to "north"))
        val visit = ana.create(Kind.ACTIVITY, edits("type" to "visit", "subject" to "Shelf", "account" to account))
        val jpeg = ByteArray(120_000) { (it * 31 % 251).toByte() }

        val taking = VisitPhotoViewModel(ana, visit)
        taking.take(jpeg, "shelf.jpg")
        assertNull(taking.state.value.message)
        assertTrue(taking.state.value.waitingForUpload, "offline: waits for the sync")
        assertEquals("shelf.jpg (120.0 KB)", ana.card(visit).fields.single { it.name == "photo" }.display)

        assertEquals(1L, ana.syncNow(30).filesUploaded)
        taking.load()
        assertFalse(taking.state.value.waitingForUpload)

        val mia = signedIn("mia")
        mia.syncNow(30)
        val seeing = VisitPhotoViewModel(mia, visit)
        seeing.show()
        val photo = assertNotNull(seeing.state.value.photo)
        assertEquals("shelf.jpg", photo.name)
        assertContentEquals(jpeg, seeing.state.value.bytes)
    }

    @Test
    fun anOversizedPhotoIsRefusedWithASentenceAndNothingIsKept() = runBlocking {
        val ana = signedIn("ana")
        val account = ana.create(Kind.ACCOUNT, edits("name" to "Foto Grande", "territory" to "north"))
        val visit = ana.create(Kind.ACTIVITY, edits("type" to "visit", "subject" to "Big", "account" to account))
        val taking = VisitPhotoViewModel(ana, visit)
        taking.take(ByteArray(25 * 1024 * 1024 + 1), "huge.jpg")
        assertTrue(taking.state.value.message!!.contains("25 MiB"), taking.state.value.message)
        taking.load()
        assertNull(taking.state.value.photo)
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
