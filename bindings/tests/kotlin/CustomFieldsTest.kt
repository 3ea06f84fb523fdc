package dev.fieldwork.tests

import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkException
import dev.fieldwork.Kind
import dev.fieldwork.ListOptions
import kotlinx.coroutines.runBlocking
import org.junit.AfterClass
import org.junit.BeforeClass
import java.nio.file.Files
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull

/**
 * Custom fields through the Kotlin bindings: accounts listed filtered and
 * sorted by a custom choice field `x_segment`, its card label, and a bad
 * custom name refused as `Invalid` naming it.
 */
class CustomFieldsTest {
    private val opened = mutableListOf<FieldworkDevice>()
    private val dir = Files.createTempDirectory("fieldwork-kt-custom-").toFile()

    private fun signedIn(): FieldworkDevice {
        val device = FieldworkDevice.open(dir.resolve("device-${opened.size}.db").path, MemoryKeystore())
        opened += device
        runBlocking { device.login(server.url, "ana", TestServer.PASSWORDS.getValue("ana")) }
        return device
    }

    private fun FieldworkDevice.titles(options: ListOptions) = list(Kind.ACCOUNT, options).map { it.title }

    @AfterTest
    fun closeDevices() {
        opened.forEach { it.close() }
        dir.deleteRecursively()
    }

    @Test
    fun accountsAreFilteredAndSortedByACustomField() {
        val ana = signedIn()
        val acme = ana.create(Kind.ACCOUNT, edits("name" to "Acme", "territory" to "north", "x_segment" to "smb"))
        ana.create(Kind.ACCOUNT, edits("name" to "Beta", "territory" to "north", "x_segment" to "mid"))
        ana.create(Kind.ACCOUNT, edits("name" to "Cora", "territory" to "north", "x_segment" to "enterprise"))
        ana.create(Kind.ACCOUNT, edits("name" to "Dune", "territory" to "north"))

        assertEquals(listOf("Acme"), ana.titles(ListOptions(custom = mapOf("x_segment" to "smb"))))
        assertEquals(listOf("Cora", "Beta", "Acme", "Dune"), ana.titles(ListOptions(sortCustom = "x_segment")))
        assertEquals(
            listOf("Acme", "Beta", "Cora", "Dune"),
            ana.titles(ListOptions(sortCustom = "x_segment", descending = true)),
        )
        assertEquals(
            listOf("Beta"),
            ana.titles(ListOptions(custom = mapOf("x_segment" to "mid"), sortCustom = "x_segment")),
        )

        val fields = ana.card(acme).fields.associateBy { it.name }
        assertEquals("smb", fields.getValue("x_segment").value)
        assertEquals("Segment", fields.getValue("x_segment").label)
        assertNull(fields.getValue("name").label)
    }

    @Test
    fun aBadCustomNameIsInvalidNamingIt() {
        val ana = signedIn()
        val cases = listOf(
            ListOptions(custom = mapOf("x_nope" to "smb")) to "x_nope",
            ListOptions(sortCustom = "x_margin") to "x_margin",
            ListOptions(sortCustom = "name") to "name",
        )
        for ((options, field) in cases) {
            val invalid = assertFailsWith<FieldworkException.Invalid> { ana.list(Kind.ACCOUNT, options) }
            assertEquals(field, invalid.field)
        }
    }

    companion object {
        lateinit var server: TestServer

        /**
         * The default policy plus `x_segment` (choice, labelled "Segment", in
         * `general`) and `x_margin` (number, in `financial`, which reps do not
         * read) on accounts.
         */
        private fun withCustomFields(policy: String): String {
            val general = "\"website\", \"description\"]"
            val financial = "financial = [\"credit_limit\", \"credit_currency\", \"contract\"]"
            check(general in policy && financial in policy) { "the default policy's account classes changed" }
            return policy
                .replaceFirst(general, "\"website\", \"description\", \"x_segment\"]")
                .replaceFirst(financial, financial.dropLast(1) + ", \"x_margin\"]") +
                "\n[custom.account.segment]\nlabel = \"Segment\"\ntype = \"choice\"\n" +
                "choices = [\"smb\", \"mid\", \"enterprise\"]\n" +
                "[custom.account.margin]\ntype = \"number\"\nmin = 0\nmax = 100\n"
        }

        @JvmStatic
        @BeforeClass
        fun startServer() {
            server = TestServer.withTeam(policy = ::withCustomFields)
        }

        @JvmStatic
        @AfterClass
        fun stopServer() {
            server.close()
        }
    }
}
