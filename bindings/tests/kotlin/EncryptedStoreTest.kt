package dev.fieldwork.tests

import dev.fieldwork.FieldEdit
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
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * The encrypted store from Kotlin: the test's [MemoryKeystore] stands in for
 * the Android Keystore; the store key and the session token live there, the
 * files on disk hold no plaintext of what was typed.
 */
class EncryptedStoreTest {
    private val dir = Files.createTempDirectory("fieldwork-kt-encrypted-").toFile()

    @AfterTest
    fun cleanUp() {
        dir.deleteRecursively()
    }

    private fun storeFiles(path: File) = dir.listFiles()!!.filter { it.name.startsWith(path.name) }

    private fun ByteArray.contains(needle: ByteArray): Boolean =
        (0..size - needle.size).any { i -> needle.indices.all { this[i + it] == needle[it] } }

    @Test
    fun theStoreHoldsNoPlaintextAndOpensOnlyWithItsKey() {
        val keystore = MemoryKeystore()
        val path = dir.resolve("device.db")
        val planted = listOf("Zurbarán Logística", "pedidos@zurbaran-logistica.example")
        FieldworkDevice.open(path.path, keystore).use { device ->
            device.create(Kind.ACCOUNT, listOf(FieldEdit("name", planted[0]), FieldEdit("email", planted[1])))
            assertEquals(1, device.search("zurbaran", null, 10).size)
            val files = storeFiles(path)
            assertTrue(files.any { it.name.endsWith("-wal") }, "the scan must cover the write-ahead log")
            for (file in files) {
                val bytes = file.readBytes()
                for (value in planted) {
                    assertFalse(bytes.contains(value.toByteArray()), "${file.name} holds $value in clear")
                }
            }
        }
        val key = assertNotNull(keystore.values["store-key"], "the key is made in the keystore")
        assertEquals(32, key.size)

        val before = path.readBytes()
        val stranger = MemoryKeystore().apply { values["store-key"] = ByteArray(32) { it.toByte() } }
        assertFailsWith<FieldworkException.WrongKey> { FieldworkDevice.open(path.path, stranger) }
        assertFailsWith<FieldworkException.KeyRequired> { FieldworkDevice.open(path.path, MemoryKeystore()) }
        assertContentEquals(before, path.readBytes(), "a failed open changes nothing")

        FieldworkDevice.open(path.path, keystore).use { device ->
            assertEquals(1L, device.count(Kind.ACCOUNT))
        }
    }

    @Test
    fun theSessionTokenLivesInTheKeystoreAndLogoutWipesIt() {
        val keystore = MemoryKeystore()
        val path = dir.resolve("session.db")
        FieldworkDevice.open(path.path, keystore).use { device ->
            runBlocking { device.login(server.url, "ana", TestServer.PASSWORDS.getValue("ana")) }
            val token = assertNotNull(keystore.values["session-token"], "login keeps the token in the keystore")
            for (file in storeFiles(path)) {
                assertFalse(file.readBytes().contains(token), "${file.name} holds the session token")
            }
            assertTrue(device.user()!!.signedIn)
            runBlocking { device.logout() }
            assertNull(keystore.values["session-token"])
            assertFalse(device.user()!!.signedIn)
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
