package dev.fieldwork.shell

import dev.fieldwork.FieldworkException

/** A sentence for the user, from an error of the core. */
fun FieldworkException.userMessage(): String = when (this) {
    is FieldworkException.Invalid -> detail
    is FieldworkException.Denied -> "Not allowed: $detail"
    is FieldworkException.NotFound -> "This record is no longer on the device."
    is FieldworkException.NotLoggedIn -> "Sign in to sync."
    is FieldworkException.InvalidCredentials -> "Wrong user name or password."
    is FieldworkException.SessionExpired -> "Your session has ended. Sign in again."
    is FieldworkException.RateLimited -> "Too many attempts. Try again in a few minutes."
    is FieldworkException.Network -> "No connection to the server. Your work is saved on the phone."
    is FieldworkException.Server -> "The server could not do this ($code)."
    is FieldworkException.Timeout -> "Sync took too long. It will continue next time."
    is FieldworkException.Storage -> "The phone's storage failed: $detail"
    is FieldworkException.Tls -> "The server's identity could not be verified: $detail"
    is FieldworkException.WrongKey -> "The data on this phone cannot be unlocked. Sign in again to download it."
    is FieldworkException.KeyRequired -> "The data on this phone cannot be unlocked. Sign in again to download it."
    is FieldworkException.Keystore -> "The phone's keystore is not available: $detail"
    is FieldworkException.Wiped -> "Your administrator removed Fieldwork's data from this phone. Sign in again."
    is FieldworkException.StoreInUse -> "Fieldwork's data is open elsewhere on this phone. Close it there and try again."
    is FieldworkException.Closed -> "Fieldwork was closed. Open it again."
    is FieldworkException.Internal -> "Something went wrong in Fieldwork: $detail"
}

/** The field an error is about, when it is about one. */
fun FieldworkException.field(): String? = when (this) {
    is FieldworkException.Invalid -> field
    is FieldworkException.Denied -> field
    else -> null
}
