package dev.fieldwork.shell

import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkException

/** What a background scheduler should do after one background sync. */
enum class BackgroundOutcome {
    /** Synced: run again at the next period. */
    SUCCESS,

    /** Not now (offline, timed out, the server busy): retry with the scheduler's backoff. */
    RETRY,

    /** Retrying cannot help until the user acts (sign in again, the device was wiped): stop. */
    STOP,
}

/**
 * One sync for a background scheduler (Android WorkManager's periodic work,
 * iOS BGAppRefreshTask): pushes what was done offline, receives what is new,
 * moves photos and files, and ends within [deadlineSeconds] (WorkManager gives
 * a worker about ten minutes, iOS a refresh task about thirty seconds: keep
 * under it). Never throws: the outcome says whether to retry.
 */
suspend fun backgroundSync(device: FieldworkDevice, deadlineSeconds: Int = 25): BackgroundOutcome = try {
    device.syncNow(deadlineSeconds)
    BackgroundOutcome.SUCCESS
} catch (e: FieldworkException) {
    when (e) {
        is FieldworkException.NotLoggedIn,
        is FieldworkException.SessionExpired,
        is FieldworkException.InvalidCredentials,
        is FieldworkException.Wiped,
        is FieldworkException.Closed,
        is FieldworkException.WrongKey,
        is FieldworkException.KeyRequired,
        is FieldworkException.Tls,
        -> BackgroundOutcome.STOP
        else -> BackgroundOutcome.RETRY
    }
}
