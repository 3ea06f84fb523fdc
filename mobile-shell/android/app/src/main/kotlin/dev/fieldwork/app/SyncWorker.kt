package dev.fieldwork.app

import android.content.Context
import androidx.work.CoroutineWorker
import androidx.work.WorkerParameters
import dev.fieldwork.shell.BackgroundOutcome
import dev.fieldwork.shell.backgroundSync

/** WorkManager's periodic sync: one `syncNow` within a deadline, its outcome as the worker's result. */
class SyncWorker(context: Context, params: WorkerParameters) : CoroutineWorker(context, params) {
    override suspend fun doWork(): Result {
        val device = (applicationContext as FieldworkApplication).device
        return when (backgroundSync(device, deadlineSeconds = 120)) {
            BackgroundOutcome.SUCCESS -> Result.success()
            BackgroundOutcome.RETRY -> Result.retry()
            BackgroundOutcome.STOP -> Result.failure()
        }
    }
}
