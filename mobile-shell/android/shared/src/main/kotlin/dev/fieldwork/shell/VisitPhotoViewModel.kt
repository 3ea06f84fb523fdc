package dev.fieldwork.shell

import dev.fieldwork.AttachmentInfo
import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkDispatcher
import dev.fieldwork.FieldworkException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow

/**
 * The photo of a visit: what is attached, its bytes once they are here, and
 * whether it still waits for upload ([AttachmentInfo.uploaded] false: taken
 * offline, goes with the next sync).
 */
data class VisitPhotoState(
    val photo: AttachmentInfo? = null,
    val bytes: ByteArray? = null,
    val busy: Boolean = false,
    val message: String? = null,
) {
    /** Whether the photo was taken here and is not on the server yet. */
    val waitingForUpload: Boolean get() = photo != null && !photo.uploaded

    override fun equals(other: Any?): Boolean = other is VisitPhotoState && photo == other.photo &&
        (bytes contentEquals other.bytes) && busy == other.busy && message == other.message

    override fun hashCode(): Int = listOf(photo, bytes?.contentHashCode(), busy, message).hashCode()
}

/**
 * Takes and shows the photo on a visit (the activity's `photo` field).
 * [take] works offline: the JPEG is kept in the encrypted store at once and
 * uploaded by the next sync. [show] reads the bytes from the store, or
 * downloads them (a colleague's photo larger than the sync's 2 MiB prefetch).
 */
class VisitPhotoViewModel(
    device: FieldworkDevice,
    private val visitId: String,
    io: CoroutineDispatcher = FieldworkDispatcher,
) : StoreViewModel(device, io) {
    private val mutableState = MutableStateFlow(VisitPhotoState())

    /** The current state. */
    val state: StateFlow<VisitPhotoState> = mutableState.asStateFlow()

    /** Reads what is attached (no network). */
    suspend fun load() = guarded {
        val photo = store { attachment(visitId, FIELD) }
        mutableState.value = mutableState.value.copy(photo = photo, bytes = mutableState.value.bytes.takeIf { photo != null })
    }

    /** Attaches [jpeg] (from the camera) as the visit's photo, named [name]. */
    suspend fun take(jpeg: ByteArray, name: String) = guarded {
        val photo = store { attach(visitId, FIELD, jpeg, "image/jpeg", name) }
        mutableState.value = mutableState.value.copy(photo = photo, bytes = jpeg)
    }

    /** Loads the photo's bytes for display, downloading them if needed. */
    suspend fun show() = guarded {
        val bytes = device.fetchAttachment(visitId, FIELD)
        val photo = store { attachment(visitId, FIELD) }
        mutableState.value = mutableState.value.copy(photo = photo, bytes = bytes)
    }

    private suspend fun guarded(block: suspend () -> Unit) {
        mutableState.value = mutableState.value.copy(busy = true, message = null)
        try {
            block()
            mutableState.value = mutableState.value.copy(busy = false)
        } catch (e: FieldworkException) {
            mutableState.value = mutableState.value.copy(busy = false, message = e.userMessage())
        }
    }

    private companion object {
        const val FIELD = "photo"
    }
}
