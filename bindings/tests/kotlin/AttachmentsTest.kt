package dev.fieldwork.tests

import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkException
import dev.fieldwork.Kind
import kotlinx.coroutines.runBlocking
import org.junit.AfterClass
import org.junit.BeforeClass
import java.io.File
import java.nio.file.Files
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * Photos and files from Kotlin against a real server (issue 16): a photo attached offline syncs to the
 * manager; a contract in a class the rep may not read never reaches her device; wipe leaves no file.
 */
class AttachmentsTest {
    private val opened = mutableListOf<FieldworkDevice>()
    private val root = Files.createTempDirectory("fieldwork-kt-files-").toFile()

    private fun phone(name: String): Pair<FieldworkDevice, File> {
        val dir = root.resolve(name).also { it.mkdirs() }
        return FieldworkDevice.open(dir.resolve("fieldwork.db").path, MemoryKeystore()).also { opened += it } to dir
    }

    private fun FieldworkDevice.signIn(user: String) =
        runBlocking { login(server.url, user, TestServer.PASSWORDS.getValue(user)) }

    private fun FieldworkDevice.sync() = runBlocking { syncNow(60) }

    /**
     * How often [needle] occurs in the files under [dir]. The store is encrypted, so this finds plaintext
     * copies only (a blob directory, a cache); the decrypted scan is the Rust test's (tests/tests/attachments.rs).
     */
    private fun occurrences(dir: File, needle: ByteArray): Int =
        dir.walkTopDown().filter { it.isFile }.sumOf { file ->
            val bytes = file.readBytes()
            (0..bytes.size - needle.size).count { i -> needle.indices.all { bytes[i + it] == needle[it] } }
        }

    private fun photo(marker: String, size: Int): ByteArray {
        val chunk = byteArrayOf(0xFF.toByte(), 0xD8.toByte(), 0xFF.toByte()) + marker.toByteArray()
        return ByteArray(size) { chunk[it % chunk.size] }
    }

    @AfterTest
    fun closeDevices() {
        opened.forEach { it.close() }
        root.deleteRecursively()
    }

    @Test
    fun aPhotoAttachedOfflineReachesTheManager() {
        val (ana, _) = phone("ana")
        ana.signIn("ana")
        val account = ana.create(Kind.ACCOUNT, edits("name" to "Kiosko Kt", "territory" to "north"))
        val visit = ana.create(
            Kind.ACTIVITY,
            edits("type" to "visit", "subject" to "Shelf", "account" to account),
        )
        val bytes = photo("KTSHELFPHOTO", 200_000)
        val attached = ana.attach(visit, "photo", bytes, "image/jpeg", "shelf.jpg")
        assertEquals(200_000L, attached.size)
        assertTrue(attached.present)
        assertFalse(attached.uploaded, "offline: not uploaded yet")

        assertEquals(1L, ana.sync().filesUploaded)
        assertTrue(ana.attachment(visit, "photo")!!.uploaded)

        val (mia, _) = phone("mia")
        mia.signIn("mia")
        assertEquals(1L, mia.sync().filesDownloaded)
        assertEquals("shelf.jpg", mia.attachment(visit, "photo")!!.name)
        assertContentEquals(bytes, runBlocking { mia.fetchAttachment(visit, "photo") })
    }

    @Test
    fun aContractTheRepMayNotReadNeverReachesHer() {
        val (mia, _) = phone("mia")
        mia.signIn("mia")
        val account = mia.create(Kind.ACCOUNT, edits("name" to "Contratos Kt", "territory" to "north"))
        mia.attach(account, "contract", photo("KTCONTRACT", 30_000), "application/pdf", "contrato.pdf")
        assertEquals(1L, mia.sync().filesUploaded)

        val (ana, anaDir) = phone("ana")
        ana.signIn("ana")
        ana.sync() // (it may bring photos of the other tests: her own visits)
        assertEquals("Contratos Kt", ana.card(account).title)
        assertNull(ana.attachment(account, "contract"))
        assertNull(runBlocking { ana.fetchAttachment(account, "contract") })
        assertEquals(0, occurrences(anaDir, "KTCONTRACT".toByteArray()))
        val denied = assertFailsWith<FieldworkException.Denied> {
            ana.attach(account, "contract", byteArrayOf(1, 2, 3), "application/pdf", "x.pdf")
        }
        assertEquals("contract", denied.field)
    }

    @Test
    fun aCameraPhotoGetsAThumbnailOnThePhone() {
        val (ana, _) = phone("ana")
        ana.signIn("ana")
        val account = ana.create(Kind.ACCOUNT, edits("name" to "Miniatura Kt", "territory" to "north"))
        val visit = ana.create(Kind.ACTIVITY, edits("type" to "visit", "subject" to "Shelf", "account" to account))
        val image = java.awt.image.BufferedImage(1000, 500, java.awt.image.BufferedImage.TYPE_INT_RGB)
        for (x in 0 until 1000) for (y in 0 until 500) image.setRGB(x, y, (x * 7 + y) and 0xFFFFFF)
        val jpeg = java.io.ByteArrayOutputStream().also { javax.imageio.ImageIO.write(image, "jpg", it) }.toByteArray()

        assertTrue(ana.attach(visit, "photo", jpeg, "image/jpeg", "shelf.jpg").hasThumbnail)
        val small = javax.imageio.ImageIO.read(java.io.ByteArrayInputStream(ana.thumbnail(visit, "photo")!!))
        assertEquals(320 to 160, small.width to small.height)
    }

    @Test
    fun wipeLeavesNoFileBehind() {
        val (ana, dir) = phone("ana")
        ana.signIn("ana")
        val account = ana.create(Kind.ACCOUNT, edits("name" to "Borrado Kt", "territory" to "north"))
        val visit = ana.create(Kind.ACTIVITY, edits("type" to "visit", "subject" to "x", "account" to account))
        ana.attach(visit, "photo", photo("KTWIPE", 10_000), "image/png", "p.png")
        ana.wipe()
        assertEquals(emptyList(), dir.walkTopDown().filter { it.isFile }.map { it.name }.toList())
    }

    companion object {
        lateinit var server: TestServer

        @BeforeClass
        @JvmStatic
        fun startServer() {
            server = TestServer.withTeam()
        }

        @AfterClass
        @JvmStatic
        fun stopServer() {
            server.close()
        }
    }
}
