package dev.fieldwork.shell

import dev.fieldwork.DeviceListener
import dev.fieldwork.FieldworkDevice
import dev.fieldwork.SyncStatus
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.asStateFlow

/**
 * The device's callbacks as flows: [changed] emits the ids of records that
 * changed (locally or by sync), [status] holds the latest sync status.
 * Register one per device; screens collect the flows to refresh.
 */
class DeviceEvents(device: FieldworkDevice) : DeviceListener {
    private val changedFlow = MutableSharedFlow<List<String>>(extraBufferCapacity = 64)
    private val statusFlow = MutableStateFlow(device.syncStatus())

    /** Ids of records that changed, as they change. */
    val changed: SharedFlow<List<String>> = changedFlow.asSharedFlow()

    /** The current sync status. */
    val status: StateFlow<SyncStatus> = statusFlow.asStateFlow()

    init {
        device.addListener(this)
    }

    override fun recordsChanged(ids: List<String>) {
        changedFlow.tryEmit(ids)
    }

    override fun syncStatusChanged(status: SyncStatus) {
        statusFlow.value = status
    }
}
