package dev.fieldwork.app

import android.app.Application
import androidx.work.Constraints
import androidx.work.ExistingPeriodicWorkPolicy
import androidx.work.NetworkType
import androidx.work.PeriodicWorkRequestBuilder
import androidx.work.WorkManager
import dev.fieldwork.FieldworkDevice
import java.util.concurrent.TimeUnit

/**
 * The app's one [FieldworkDevice] (one per store file: a second open would
 * fail with StoreInUse), shared by the activity and the background worker,
 * and the periodic background sync.
 */
class FieldworkApplication : Application() {
    /** Opened on first use; its key and the session token live in the Android Keystore. */
    val device: FieldworkDevice by lazy {
        FieldworkDevice.open(filesDir.resolve("fieldwork.db").path, AndroidKeystoreSecrets(this))
    }

    override fun onCreate() {
        super.onCreate()
        // Every 30 minutes when a network is there; WorkManager backs off on RETRY.
        val request = PeriodicWorkRequestBuilder<SyncWorker>(30, TimeUnit.MINUTES)
            .setConstraints(Constraints.Builder().setRequiredNetworkType(NetworkType.CONNECTED).build())
            .build()
        WorkManager.getInstance(this)
            .enqueueUniquePeriodicWork("fieldwork-sync", ExistingPeriodicWorkPolicy.KEEP, request)
    }
}
