package dev.fieldwork.app

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
import dev.fieldwork.Keystore
import dev.fieldwork.KeystoreException
import java.security.GeneralSecurityException
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec

/**
 * Fieldwork's secrets (the store key, the session token) sealed with an
 * AES-256-GCM key that never leaves the Android Keystore (hardware-backed
 * where the phone has it), kept sealed in private SharedPreferences. Each
 * value is bound to its name (GCM associated data), so values cannot be
 * swapped between names. Not compiled on CI (no Android SDK there).
 */
class AndroidKeystoreSecrets(context: Context, private val alias: String = "fieldwork-secrets") : Keystore {
    private val prefs = context.getSharedPreferences("fieldwork-secrets", Context.MODE_PRIVATE)

    override fun get(name: String): ByteArray? {
        val sealed = prefs.getString(name, null) ?: return null
        val bytes = Base64.decode(sealed, Base64.NO_WRAP)
        return guarded("read $name") {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.DECRYPT_MODE, masterKey(), GCMParameterSpec(128, bytes, 0, IV_BYTES))
            cipher.updateAAD(name.toByteArray())
            cipher.doFinal(bytes, IV_BYTES, bytes.size - IV_BYTES)
        }
    }

    override fun set(name: String, value: ByteArray) {
        val sealed = guarded("seal $name") {
            val cipher = Cipher.getInstance(TRANSFORMATION)
            cipher.init(Cipher.ENCRYPT_MODE, masterKey())
            cipher.updateAAD(name.toByteArray())
            cipher.iv + cipher.doFinal(value)
        }
        // commit(), not apply(): Fieldwork needs the value on disk when set returns.
        if (!prefs.edit().putString(name, Base64.encodeToString(sealed, Base64.NO_WRAP)).commit()) {
            throw KeystoreException.Failed("could not save $name")
        }
    }

    override fun delete(name: String) {
        if (!prefs.edit().remove(name).commit()) throw KeystoreException.Failed("could not delete $name")
    }

    private fun masterKey(): SecretKey {
        val keyStore = KeyStore.getInstance("AndroidKeyStore").apply { load(null) }
        (keyStore.getEntry(alias, null) as? KeyStore.SecretKeyEntry)?.let { return it.secretKey }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, "AndroidKeyStore")
        generator.init(
            KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return generator.generateKey()
    }

    private fun <T> guarded(what: String, block: () -> T): T =
        try {
            block()
        } catch (e: GeneralSecurityException) {
            throw KeystoreException.Failed("Android Keystore could not $what: ${e.message}")
        }

    private companion object {
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_BYTES = 12
    }
}
