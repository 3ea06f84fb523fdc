package dev.fieldwork.shell

import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkDispatcher
import dev.fieldwork.FieldworkException
import dev.fieldwork.UserInfo
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/** Where the login screen stands. */
sealed interface SessionState {
    /** Never signed in, or signed out: show the login form. */
    data object SignedOut : SessionState
    /** A login is under way. */
    data object SigningIn : SessionState
    /** Signed in as [user]. */
    data class SignedIn(val user: UserInfo) : SessionState
    /** The last attempt failed; [message] is for the user. */
    data class Failed(val message: String) : SessionState
}

/** Login and logout. Opening the app on a signed-in store skips the form. */
class SessionViewModel(device: FieldworkDevice, io: CoroutineDispatcher = FieldworkDispatcher) :
    StoreViewModel(device, io) {
    private val mutableState = MutableStateFlow<SessionState>(
        device.user()?.takeIf { it.signedIn }?.let { SessionState.SignedIn(it) } ?: SessionState.SignedOut,
    )

    /** The current state. */
    val state: StateFlow<SessionState> = mutableState.asStateFlow()

    /** Signs in; the outcome lands in [state]. */
    suspend fun login(server: String, user: String, password: String) {
        if (server.isBlank() || user.isBlank() || password.isEmpty()) {
            mutableState.value = SessionState.Failed("Enter the server address, your user name and your password.")
            return
        }
        mutableState.value = SessionState.SigningIn
        mutableState.value = try {
            SessionState.SignedIn(device.login(server.trim(), user.trim(), password))
        } catch (e: FieldworkException) {
            SessionState.Failed(e.userMessage())
        }
    }

    /** Signs out (the data stays on the device). */
    suspend fun logout() {
        device.logout()
        mutableState.value = SessionState.SignedOut
    }
}
