package dev.fieldwork.tests

import dev.fieldwork.ExchangeRate
import dev.fieldwork.FieldworkDevice
import dev.fieldwork.FieldworkException
import dev.fieldwork.Kind
import dev.fieldwork.Money
import dev.fieldwork.Report
import dev.fieldwork.ReportGrouping
import dev.fieldwork.ReportName
import dev.fieldwork.ReportOptions
import dev.fieldwork.TargetMetric
import dev.fieldwork.TargetScope
import dev.fieldwork.TimelineEventKind
import kotlinx.coroutines.runBlocking
import org.junit.AfterClass
import org.junit.BeforeClass
import java.nio.file.Files
import kotlin.test.AfterTest
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** Sums lists of [Money] per currency (the test's own arithmetic). */
fun perCurrency(lists: List<List<Money>>): Map<String, Long> =
    lists.flatten().groupBy { it.currency }.mapValues { (_, m) -> m.sumOf { it.minorUnits } }

/**
 * Reports from Kotlin: typed results checked against hand-computed numbers
 * on a device of the test's own (never signed in, so it holds exactly what
 * the test wrote), the CSV the CLI writes, and a rep's report against a real
 * server whose policy hides deal amounts from reps.
 */
class ReportsTest {
    private val opened = mutableListOf<FieldworkDevice>()
    private val dir = Files.createTempDirectory("fieldwork-kt-reports-").toFile()

    private fun device(): FieldworkDevice =
        FieldworkDevice.open(dir.resolve("device-${opened.size}.db").path, MemoryKeystore()).also { opened += it }

    private fun FieldworkDevice.signIn(user: String) =
        runBlocking { login(server.url, user, TestServer.PASSWORDS.getValue(user)) }

    @AfterTest
    fun closeDevices() {
        opened.forEach { it.close() }
        dir.deleteRecursively()
    }

    /** Two accounts, six deals in two currencies, five activities of ana's and one of bob's. */
    private class Book(val d: FieldworkDevice) {
        val north = d.create(Kind.ACCOUNT, edits("name" to "Norte Foods", "stage" to "prospect", "territory" to "north", "owner" to "ana"))
        val south = d.create(Kind.ACCOUNT, edits("name" to "Sur Metal", "stage" to "customer", "territory" to "south", "owner" to "bob"))

        private fun deal(name: String, account: String, stage: String, owner: String, amount: String?, currency: String?, vararg extra: Pair<String, String>) =
            d.create(
                Kind.DEAL,
                edits("name" to name, "account" to account, "stage" to stage, "owner" to owner, "amount" to amount, "currency" to currency, *extra),
            )

        val fleet = deal("Flota", north, "proposal", "ana", "125050", "EUR")
        val service = deal("Servicio", north, "proposal", "ana", "40000000", "HUF")
        val tablets = deal("Tablets", south, "negotiation", "bob", "200000", "EUR")
        val renewal = deal("Renovación", north, "won", "ana", "99000", "EUR")
        val lost = deal("Perdida", north, "lost", "ana", "5000", "EUR", "close_reason" to "price")
        val blank = deal("Sin importe", north, "qualification", "ana", null, null)

        private fun activity(type: String, subject: String, status: String, due: String, who: String = "ana", vararg extra: Pair<String, String>) =
            d.create(
                Kind.ACTIVITY,
                edits("type" to type, "subject" to subject, "status" to status, "due_at" to due, "assignee" to who, "owner" to who, *extra),
            )

        // Done now: on time against a 2030 due time, late against a 2020 one.
        val onTime = activity("call", "A tiempo", "done", "2030-01-15T09:00:00Z", "ana", "account" to north)
        val late = activity("call", "Tarde", "done", "2020-03-02T09:00:00Z")
        val overdue = activity("meeting", "Vencida", "planned", "2020-03-03T09:00:00Z", "ana", "account" to north)
        val future = activity("task", "Futura", "planned", "2030-01-16T09:00:00Z")
        val visit = activity(
            "visit", "Visita", "done", "2020-03-04T09:00:00Z", "ana", "account" to north,
            "check_in_at" to "2020-03-04T09:00:00Z", "check_out_at" to "2020-03-04T09:45:30Z",
        )
        val bobs = activity("call", "De Bob", "planned", "2030-01-17T09:00:00Z", "bob")
    }

    @Test
    fun thePipelineSumsPerCurrencyAndTheWinRateCountsClosedDeals() {
        val book = Book(device())
        val rows = book.d.pipelineReport(ReportOptions()).rows
        assertEquals(
            listOf(Triple("qualification", 1L, 1L), Triple("proposal", 2L, 0L), Triple("negotiation", 1L, 0L)),
            rows.map { Triple(it.stage, it.count, it.withoutAmount) },
        )
        // Open deals only, never one sum across currencies.
        assertEquals(mapOf("EUR" to 125_050L + 200_000L, "HUF" to 40_000_000L), perCurrency(rows.map { it.amount }))
        assertEquals(listOf("1250.50 EUR", "400000.00 HUF"), rows[1].amount.map { it.display })
        // proposal 30 %, negotiation 60 %.
        assertEquals(mapOf("EUR" to 37_515L + 120_000L, "HUF" to 12_000_000L), perCurrency(rows.map { it.weighted }))
        assertNull(rows[1].converted)

        val converted = book.d.pipelineReport(
            ReportOptions(convertTo = "EUR", rates = listOf(ExchangeRate("HUF", 0.0025))),
        ).rows[1].converted!!
        // 400000 HUF at 0.0025 = 1000 EUR, plus 1250.50 EUR.
        assertEquals(Triple("EUR", 225_050L, "2250.50 EUR"), Triple(converted.currency, converted.minorUnits, converted.display))
        assertEquals(emptyList(), converted.unconverted)

        val byOwner = book.d.pipelineReport(ReportOptions(groupBy = ReportGrouping.OWNER)).rows
        assertEquals(listOf("ana" to "qualification", "ana" to "proposal", "bob" to "negotiation"), byOwner.map { it.group to it.stage })

        val winRate = book.d.winRateReport(ReportOptions()).rows
        assertEquals(listOf("ana", "all"), winRate.map { it.owner })
        assertEquals(Triple(1L, 1L, 0.5), Triple(winRate[0].won, winRate[0].lost, winRate[0].winRate))
        assertEquals(mapOf("EUR" to 99_000L), perCurrency(listOf(winRate[0].wonAmount)))
    }

    @Test
    fun activitiesCountDoneOnTimeLateOverdueAndPlanned() {
        val book = Book(device())
        val report = book.d.activitiesReport(ReportOptions(timeZone = "Europe/Madrid"))
        assertEquals(
            listOf(
                "ana call 2020-W10 done=1 onTime=0 late=1 overdue=0 planned=0",
                "ana call 2030-W03 done=1 onTime=1 late=0 overdue=0 planned=0",
                "ana meeting 2020-W10 done=0 onTime=0 late=0 overdue=1 planned=0",
                "ana task 2030-W03 done=0 onTime=0 late=0 overdue=0 planned=1",
                "ana visit 2020-W10 done=1 onTime=0 late=1 overdue=0 planned=0",
                "bob call 2030-W03 done=0 onTime=0 late=0 overdue=0 planned=1",
            ),
            report.rows.map {
                "${it.who} ${it.activityType} ${it.week} done=${it.done} onTime=${it.onTime} late=${it.late} " +
                    "overdue=${it.overdue} planned=${it.planned}"
            },
        )
        val ana = report.totals.single { it.who == "ana" }
        assertEquals(listOf(3L, 1L, 2L, 1L, 1L), listOf(ana.done, ana.onTime, ana.late, ana.overdue, ana.planned))

        val days = book.d.activitiesReport(ReportOptions(timeZone = "Europe/Madrid", fromDay = "2020-03-03", toDay = "2020-03-04"))
        assertEquals(listOf("meeting", "visit"), days.rows.map { it.activityType })
        val visits = book.d.visitsReport(ReportOptions())
        assertEquals(listOf(book.visit to 45L), visits.visits.map { it.id to it.durationMinutes })
    }

    @Test
    fun theTimelineListsAnAccountsTouchpointsAndTheGenericCallAgrees() {
        val book = Book(device())
        val timeline = book.d.timeline(book.north, ReportOptions())
        val first = timeline.events.first()
        assertEquals(listOf(TimelineEventKind.ACTIVITY, book.overdue, "meeting planned", "2020-03-03T09:00:00Z"), listOf(first.kind, first.record, first.detail, first.at))
        assertEquals(
            setOf(
                Triple(TimelineEventKind.ACCOUNT_STAGE, book.north, "prospect"),
                Triple(TimelineEventKind.DEAL_CREATED, book.fleet, "proposal"),
                Triple(TimelineEventKind.DEAL_CREATED, book.service, "proposal"),
                Triple(TimelineEventKind.DEAL_CREATED, book.renewal, "won"),
                Triple(TimelineEventKind.DEAL_CREATED, book.lost, "lost"),
                Triple(TimelineEventKind.DEAL_CREATED, book.blank, "qualification"),
                Triple(TimelineEventKind.ACTIVITY, book.onTime, "call done"),
                Triple(TimelineEventKind.ACTIVITY, book.visit, "visit done"),
            ),
            timeline.events.drop(1).map { Triple(it.kind, it.record, it.detail) }.toSet(),
        )
        assertEquals(9, timeline.events.size)
        assertFalse(timeline.events.any { it.record == book.tablets }, "another account's deal")

        when (val any = book.d.report(ReportName.Timeline(book.north), ReportOptions())) {
            is Report.Timeline -> assertEquals(timeline, any.report)
            else -> error("asked for a timeline, got $any")
        }
        val csv = book.d.reportCsv(ReportName.Pipeline, ReportOptions())
        assertEquals(
            listOf(
                "group,stage,count,without_amount,amount,weight,weighted,converted",
                "all,qualification,1,1,,10%,,",
                "all,proposal,2,0,\"1250.50 EUR, 400000.00 HUF\",30%,\"375.15 EUR, 120000.00 HUF\",",
                "all,negotiation,1,0,2000.00 EUR,60%,1200.00 EUR,",
                "",
            ),
            csv.split("\r\n"),
        )
    }

    @Test
    fun theReadmeExampleReadsAsItShows() {
        val book = Book(device())
        val device = book.d
        val pipeline = device.pipelineReport(ReportOptions(convertTo = "EUR", rates = listOf(ExchangeRate("HUF", 0.0025))))
        val lines = pipeline.rows.map { row ->
            val amounts = row.amount.joinToString { it.display }
            val estimate = row.converted?.let { "≈ ${it.display} (converted)" } ?: ""
            "${row.stage}: ${row.count} deals, $amounts $estimate".trim()
        }
        assertEquals(
            listOf(
                "qualification: 1 deals,  ≈ 0.00 EUR (converted)",
                "proposal: 2 deals, 1250.50 EUR, 400000.00 HUF ≈ 2250.50 EUR (converted)",
                "negotiation: 1 deals, 2000.00 EUR ≈ 2000.00 EUR (converted)",
            ),
            lines,
        )
        val mine = device.activitiesReport(ReportOptions(owner = "ana")).totals.single()
        assertEquals(
            "3 done (1 on time, 2 late), 1 overdue",
            "${mine.done} done (${mine.onTime} on time, ${mine.late} late), ${mine.overdue} overdue",
        )
    }

    @Test
    fun targetsShowProgressInTheCurrentPeriod() {
        val book = Book(device())
        assertTrue(book.d.targetsReport(ReportOptions()).rows.isEmpty(), "no target yet")
        val wins = book.d.create(
            Kind.TARGET,
            edits("name" to "Five wins a month", "metric" to "deals_won", "period" to "month", "goal" to "5", "assignee" to "ana"),
        )
        val report = book.d.targetsReport(ReportOptions())
        val row = report.rows.single()
        val month = java.time.YearMonth.now(java.time.ZoneOffset.UTC).toString()
        // Ana won one deal this month (Renovación, closed when the book was written).
        assertEquals(
            listOf(wins, TargetScope.User("ana"), TargetMetric.DEALS_WON, month, 5L, 1L, 20L, 4L),
            listOf(row.target, row.scope, row.metric, row.period, row.goal, row.actual, row.percent, row.remaining),
        )
        assertEquals(row.actual >= row.expected!!, row.onTrack)
        assertFalse(report.truncated)
    }

    @Test
    fun refusedOptionsAreInvalidAndNameTheOption() {
        val d = device()
        val zone = assertFailsWith<FieldworkException.Invalid> { d.pipelineReport(ReportOptions(timeZone = "Mars/Olympus")) }
        assertEquals("time_zone", zone.field)
        val rate = assertFailsWith<FieldworkException.Invalid> {
            d.pipelineReport(ReportOptions(convertTo = "EUR", rates = listOf(ExchangeRate("HUF", -1.0))))
        }
        assertEquals("rates", rate.field)
        assertFailsWith<FieldworkException.NotFound> { d.timeline("not an id", ReportOptions()) }
    }

    @Test
    fun aRepsReportHoldsOnlyWhatSheMayRead() {
        val mia = device()
        mia.signIn("mia")
        val north = mia.create(Kind.ACCOUNT, edits("name" to "Norte Visible", "stage" to "lead", "territory" to "north", "owner" to "mia"))
        val visible = mia.create(
            Kind.DEAL,
            edits("name" to "Visible", "account" to north, "stage" to "proposal", "owner" to "mia", "amount" to "777700", "currency" to "EUR"),
        )
        val south = mia.create(Kind.ACCOUNT, edits("name" to "Sur Oculto", "stage" to "lead", "territory" to "south", "owner" to "mia"))
        val hidden = mia.create(
            Kind.DEAL,
            edits("name" to "Oculto", "account" to south, "stage" to "proposal", "owner" to "mia", "amount" to "999900", "currency" to "EUR"),
        )
        assertEquals(0L, runBlocking { mia.syncNow(30) }.refused)
        // The manager reads both deals and their amounts.
        val managers = mia.pipelineReport(ReportOptions()).rows
        assertEquals(listOf(Triple("proposal", 2L, 0L)), managers.map { Triple(it.stage, it.count, it.withoutAmount) })
        assertEquals(mapOf("EUR" to 777_700L + 999_900L), perCurrency(managers.map { it.amount }))

        val ana = device()
        ana.signIn("ana")
        runBlocking { ana.syncNow(30) }
        assertEquals("Visible", ana.card(visible).title)
        // The south deal is not hers to see; the amount is not hers to read.
        val rows = ana.pipelineReport(ReportOptions()).rows
        assertEquals(listOf(Triple("proposal", 1L, 1L)), rows.map { Triple(it.stage, it.count, it.withoutAmount) })
        assertEquals(emptyList(), rows.single().amount)
        assertEquals(emptyList(), rows.single().weighted)
        assertTrue(ana.timeline(south, ReportOptions()).events.isEmpty())
        assertEquals(setOf(north, visible), ana.timeline(north, ReportOptions()).events.map { it.record }.toSet())
        for (name in listOf(ReportName.Pipeline, ReportName.Cycle, ReportName.Timeline(north), ReportName.Timeline(south))) {
            val csv = ana.reportCsv(name, ReportOptions())
            for (secret in listOf("Oculto", hidden, south, "7777", "9999")) {
                assertFalse(secret in csv, "$secret in the rep's $name CSV")
            }
        }
        assertIs<FieldworkException.NotFound>(runCatching { ana.card(hidden) }.exceptionOrNull())
    }

    companion object {
        lateinit var server: TestServer

        /** The default policy with deal `amount` in `financial`, a class reps do not read. */
        private fun hidingDealAmounts(policy: String): String {
            val line = Regex("""\[fields\.deal]\n(general = \[.*])\n""").find(policy)?.groupValues?.get(1)
            check(line != null && "\"amount\", " in line) { "the default policy's deal fields changed" }
            return policy.replace(line, line.replace("\"amount\", ", "") + "\nfinancial = [\"amount\"]")
        }

        @JvmStatic
        @BeforeClass
        fun startServer() {
            server = TestServer.withTeam(policy = ::hidingDealAmounts)
        }

        @JvmStatic
        @AfterClass
        fun stopServer() {
            server.close()
        }
    }
}
