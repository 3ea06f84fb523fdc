package dev.fieldwork.shell

import dev.fieldwork.FieldEdit
import dev.fieldwork.FieldworkDevice
import dev.fieldwork.tests.MemoryKeystore
import java.io.File
import java.nio.file.Files

/** Fresh device stores in a temporary directory, closed by [close]. */
class Devices : AutoCloseable {
    private val dir: File = Files.createTempDirectory("fieldwork-shell-").toFile()
    private val opened = mutableListOf<FieldworkDevice>()

    /** Opens a new, empty device store. */
    fun open(): FieldworkDevice = FieldworkDevice.open(dir.resolve("d${opened.size}.db").path, MemoryKeystore()).also { opened += it }

    override fun close() {
        opened.forEach { it.close() }
        dir.deleteRecursively()
    }
}

/** Field edits from pairs. */
fun edits(vararg fields: Pair<String, String?>) = fields.map { (name, value) -> FieldEdit(name, value) }
