package dev.fieldwork.tests

import dev.fieldwork.Keystore
import java.util.concurrent.ConcurrentHashMap

/**
 * The app's keystore stand-in for tests (on a phone: the Android Keystore or
 * the iOS Keychain, see docs/mobile.md): secrets in a map.
 */
class MemoryKeystore : Keystore {
    val values = ConcurrentHashMap<String, ByteArray>()

    override fun get(name: String): ByteArray? = values[name]

    override fun set(name: String, value: ByteArray) {
        values[name] = value.copyOf()
    }

    override fun delete(name: String) {
        values.remove(name)
    }
}
