package dev.fieldwork.shell

import dev.fieldwork.Kind
import dev.fieldwork.tests.TestServer
import kotlinx.coroutines.runBlocking
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals

/** One background sync, as WorkManager or BGTaskScheduler runs it, against a real server. */
class BackgroundSyncTest {
    private val devices = Devices()
    private val server = TestServer.withTeam()

    @AfterTest
    fun close() {
        devices.close()
        server.close()
    }

    @Test
    fun theOutcomeSaysWhetherToRetry() = runBlocking {
        val stranger = devices.open()
        assertEquals(BackgroundOutcome.STOP, backgroundSync(stranger), "never signed in: retrying cannot help")

        val ana = devices.open()
        SessionViewModel(ana).login(server.url, "ana", TestServer.PASSWORDS.getValue("ana"))
        ana.create(Kind.ACCOUNT, edits("name" to "Nocturna SL", "territory" to "north"))
        assertEquals(BackgroundOutcome.SUCCESS, backgroundSync(ana))
        assertEquals(0L, ana.pendingChanges(), "the offline edit went up")

        server.close()
        ana.create(Kind.ACCOUNT, edits("name" to "Sin Red SL", "territory" to "north"))
        assertEquals(BackgroundOutcome.RETRY, backgroundSync(ana, deadlineSeconds = 5), "offline: retry later")
        assertEquals(1L, ana.pendingChanges(), "the edit waits on the phone")
    }
}
