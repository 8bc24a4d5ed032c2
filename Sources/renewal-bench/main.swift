// renewal-bench: a renewal run with many subscriptions due at once, as billingd runs it (the domain's
// `scheduler.runDue()`, page by page, on a SQLite store with synchronous=FULL and the sandbox gateway,
// which commits each charge to its own record with an fsync). Reports renewals per second — each one durable, with its
// invoice and its charge through the sandbox — and this process's resident memory during the run.
// Everything lives in a temporary directory that is deleted afterwards.
//
//     swift run -c release renewal-bench [--subscriptions 100000] [--time-limit 600] [--json]

import BillingDomain
import BillingSandbox
import BillingStore
import CMalloc
import Foundation
import InvoiceRendering
import Synchronization

/// The wall clock the domain and the sandbox read: still during the setup, moved past the period end
/// for the run.
final class WallClock: Sendable {
    private let current: Mutex<Date>
    init(_ start: Date) { current = Mutex(start) }
    var now: Date { current.withLock { $0 } }
    func set(_ date: Date) { current.withLock { $0 = date } }
}

struct Report: Codable {
    var directory: String
    var gateway: String
    var subscriptions: Int
    var throughAPI: Int
    var setupSeconds: Double
    var renewals: Int
    var runSeconds: Double
    var renewalsPerSecond: Double
    /// CPU time (user and system) of this process during the run: steadier than the rate when other
    /// processes share the machine.
    var cpuSeconds: Double
    /// The machine's one-minute load average when the run ended.
    var loadAverage: Double
    var storeWrites: Int
    var storeCommits: Int
    var rssStartMebibytes: Double
    var rssBeforeMebibytes: Double
    var rssPeakMebibytes: Double
    var rssAfterMebibytes: Double
    var rssSamples: Int
    var sandboxProbeCharges: Int
    var sandboxProbeChargesPerSecond: Double?
    var stoppedAtTimeLimit: Bool
    var failures: [String]
}

/// How the run ended.
enum RunEnd: Sendable {
    case finished(ran: Int)
    case stopped
}

/// Calls `runDue` until it finds nothing due (it runs at most 100,000 actions per call), or stops it
/// after `limit`. A stopped run finishes the actions it had started: a claimed renewal's charge is
/// sent and settled whatever happens to its caller.
func runDue(_ billing: Billing, limit: Duration) async throws -> RunEnd {
    try await withThrowingTaskGroup(of: RunEnd?.self) { group in
        group.addTask {
            var total = 0
            while true {
                let ran = try await billing.scheduler.runDue()
                if ran == 0 { return .finished(ran: total) }
                total += ran
            }
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return Task.isCancelled ? nil : .stopped
        }
        var end: RunEnd?
        while end == nil, let next = try await group.next() { end = next }
        group.cancelAll()
        // The timer answers nil once cancelled. A stopped run ends with an error: its writes refused
        // once cancelled (CancellationError), which runDue reports as actions that failed and stay due.
        while true {
            do {
                guard try await group.next() != nil else { break }
            } catch {
                continue
            }
        }
        return end ?? .stopped
    }
}

/// What the store holds after the run, for the checks.
struct Outcome: Sendable {
    var cycleInvoices = 0
    var cycleInvoicesPaid = 0
    var cycleChargesSucceeded = 0
    var pendingCharges = 0
    var failedCharges = 0
    var renewalsDueNext = 0
    var scheduled = 0
    var activeOnCycleInvoice = 0
}

func outcome(in store: Store, nextPeriodEnd: Int64) async throws -> Outcome {
    try await store.read { tx in
        func count(_ sql: String, _ arguments: SQLValue...) throws -> Int {
            try tx.queryOne(sql, arguments: arguments)?.optionalInt("n") ?? 0
        }
        var outcome = Outcome()
        outcome.cycleInvoices = try count("SELECT count(*) AS n FROM invoices WHERE billing_reason = 'subscription_cycle'")
        outcome.cycleInvoicesPaid = try count("""
            SELECT count(*) AS n FROM invoices
            WHERE billing_reason = 'subscription_cycle' AND status = 'paid' AND amount_paid_minor = total_minor AND total_minor > 0
            """)
        outcome.cycleChargesSucceeded = try count("""
            SELECT count(*) AS n FROM charges c JOIN invoices i ON i.id = c.invoice_id
            WHERE i.billing_reason = 'subscription_cycle' AND c.status = 'succeeded' AND c.amount_minor = i.total_minor
            """)
        outcome.pendingCharges = try count("SELECT count(*) AS n FROM charges WHERE status = 'pending'")
        outcome.failedCharges = try count("SELECT count(*) AS n FROM charges WHERE status = 'failed'")
        outcome.renewalsDueNext = try count(
            "SELECT count(*) AS n FROM subscription_schedule WHERE action = 'renew' AND due_at_ms = ? AND test_clock_id IS NULL", .integer(nextPeriodEnd))
        outcome.scheduled = try count("SELECT count(*) AS n FROM subscription_schedule")
        outcome.activeOnCycleInvoice = try count("""
            SELECT count(*) AS n FROM subscriptions s JOIN invoices i ON i.id = s.latest_invoice_id
            WHERE s.status = 'active' AND s.period_index = 1 AND s.period_end_ms = ? AND i.billing_reason = 'subscription_cycle' AND i.status = 'paid'
            """, .integer(nextPeriodEnd))
        return outcome
    }
}

/// Charges made one after another on a fresh sandbox: the pace of the gateway alone, which commits
/// each charge with an fsync and whose actor takes one call at a time.
func probeSandbox(directory: URL, charges: Int, clock: WallClock) async throws -> Double {
    let sandbox = try SandboxGateway(directory: directory, now: { clock.now })
    let card = try await sandbox.tokenize(Setup.card)
    let amount = Money(amountMinor: 1000, currency: .usd)
    let start = ContinuousClock.now
    for index in 0..<charges {
        let charge = try await sandbox.charge(token: card.token, amount: amount, idempotencyKey: "probe-\(index)", description: "Probe \(index)")
        guard charge.succeeded else { throw BenchFailure("a sandbox probe charge failed") }
    }
    return Double(charges) / seconds(start.duration(to: .now))
}

/// `--trace`: every tick, the store writes committed since the run started (two per renewal: the one
/// that invoices and records the charge, the one that settles it), their rate since the last tick, and
/// resident memory.
func timeline(store: Store, writesBefore: Int) -> @Sendable (Double, Int) -> Void {
    let last = Mutex((seconds: 0.0, writes: 0))
    return { elapsed, kib in
        let writes = store.statistics.writesCommitted - writesBefore
        let (previousSeconds, previousWrites) = last.withLock { last in
            defer { last = (elapsed, writes) }
            return last
        }
        let rate = Double(writes - previousWrites) / max(elapsed - previousSeconds, 0.001)
        FileHandle.standardError.write(Data(String(
            format: "%7.1f s  %8d writes  %6.0f writes/s  %7.1f MiB\n", elapsed, writes, rate, mebibytes(kib)).utf8))
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func mebibytes(_ kib: Int) -> Double { Double(kib) / 1024 }

func makeTemporaryDirectory(in parent: String) throws -> URL {
    var template = Array((parent + "/renewal-bench-XXXXXX").utf8CString)
    guard let path = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw BenchFailure("cannot create a temporary directory in \(parent)")
    }
    return URL(fileURLWithPath: String(cString: path), isDirectory: true)
}

/// The repository's catalog/plans.json, found from this file's path.
func repositoryCatalog() -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("catalog/plans.json")
}

func run(_ options: Options, in directory: URL) async throws -> Report {
    let rssStart = residentKiB()
    // 2027-01-15 00:00 UTC: the subscriptions start then, and renew a month later.
    let clock = WallClock(Date(timeIntervalSince1970: 1_799_971_200))
    let store = try await Store.open(path: directory.appendingPathComponent("billing.sqlite3").path, migrations: BillingSchema.migrations)
    // As billingd builds them: the sandbox gateway and provider in folders beside the database.
    let sandbox = options.instantGateway ? nil : try SandboxGateway(directory: directory.appendingPathComponent("sandbox-gateway"), now: { clock.now })
    let instant = InstantGateway()
    let gateway: any PaymentGateway = sandbox ?? instant
    let provider = try SandboxProvider(directory: directory.appendingPathComponent("sandbox-provider"))
    let invoicing = try InvoiceSettings(
        seller: .init(legalName: "Benchmark Ltd (not a real seller)", addressLines: ["1 Benchmark Road"], taxID: "NONE"),
        numberPrefix: "BENCH", renderer: try InvoiceRenderer(fonts: .dejaVuSans))
    let catalog = try PlanCatalog.load(contentsOf: options.catalogPath.map { URL(fileURLWithPath: $0) } ?? repositoryCatalog())
    let billing = Billing(
        context: BillingContext(store: store, gateway: gateway, now: { clock.now }, invoicing: invoicing, catalog: catalog, allowsTestClocks: true),
        fulfilment: provider)
    _ = try await billing.prepare()
    var failures: [String] = []

    // Setup: a few subscriptions through the API, the rest as rows like theirs.
    let setupStart = ContinuousClock.now
    let setup = Setup(billing: billing, store: store, invoicePrefix: invoicing.numberPrefix)
    let throughAPI = min(3, options.subscriptions)
    var apiMade: [Setup.Made] = []
    for index in 0..<throughAPI { apiMade.append(try await setup.subscribeThroughAPI(index)) }
    let template = try await setup.template(from: apiMade[0])
    let token = try await gateway.tokenize(Setup.card)
    let bulk = try await setup.writeRows(count: options.subscriptions - throughAPI, firstNumber: throughAPI, token: token, template: template)
    let setupSeconds = seconds(setupStart.duration(to: .now))
    if let bulk {
        for made in apiMade + [bulk.last] { try await compareWithAPI(made, bulk.first, in: store, when: "before the run") }
    }

    // The gateway alone, on the same disk, just before the run.
    var probeRate: Double?
    if options.sandboxProbeCharges > 0 {
        probeRate = try await probeSandbox(
            directory: directory.appendingPathComponent("sandbox-probe"), charges: options.sandboxProbeCharges, clock: clock)
    }

    // The run: the clock moves one second past the period end, and everything is due at once.
    let periodEnd = template.periodEnd
    let nextPeriodEnd = BillingCycle.boundary(anchor: template.anchor, months: 1, index: 2)
    clock.set(Date(unixMilliseconds: periodEnd + 1_000))
    let statisticsBefore = store.statistics
    let rssBefore = residentKiB()
    let sampler = ResidentMemorySampler(tick: options.trace ? timeline(store: store, writesBefore: statisticsBefore.writesCommitted) : nil)
    let cpuBefore = processCPUSeconds()
    let start = ContinuousClock.now
    let end = try await runDue(billing, limit: .seconds(options.timeLimitSeconds))
    let runSeconds = seconds(start.duration(to: .now))
    let cpuSeconds = processCPUSeconds() - cpuBefore
    let load = loadAverage()
    let (rssPeak, samples) = sampler.stop()
    let rssAfter = residentKiB()
    let statisticsAfter = store.statistics

    let expected = options.subscriptions
    let found = try await outcome(in: store, nextPeriodEnd: nextPeriodEnd)
    var stopped = false
    switch end {
    case .stopped:
        stopped = true
        failures.append("stopped at the \(Int(options.timeLimitSeconds)) s time limit after \(found.cycleInvoices) of \(expected) renewals")
        // What ran is whole: every renewal invoiced has its charge settled.
        if found.pendingCharges != 0 || found.cycleChargesSucceeded != found.cycleInvoices || found.cycleInvoicesPaid != found.cycleInvoices {
            failures.append(
                "after the stop: \(found.cycleInvoices) renewal invoices, \(found.cycleInvoicesPaid) paid, \(found.cycleChargesSucceeded) charges succeeded, "
                    + "\(found.pendingCharges) pending")
        }
    case .finished(let ran):
        if ran != expected { failures.append("runDue ran \(ran) actions, expected \(expected)") }
        func check(_ what: String, _ value: Int, _ wanted: Int) {
            if value != wanted { failures.append("\(what): \(value), expected \(wanted)") }
        }
        check("subscription_cycle invoices", found.cycleInvoices, expected)
        check("of them paid in full", found.cycleInvoicesPaid, expected)
        check("succeeded charges of them", found.cycleChargesSucceeded, expected)
        check("pending charges", found.pendingCharges, 0)
        check("failed charges", found.failedCharges, 0)
        check("renewals due at the next period end", found.renewalsDueNext, expected)
        check("scheduled actions in all", found.scheduled, expected)
        check("subscriptions active on their paid cycle invoice", found.activeOnCycleInvoice, expected)
        check("charges the gateway made", await sandbox?.executedChargeCount ?? instant.chargeCount, throughAPI + expected)
        if let bulk, failures.isEmpty {
            do {
                for made in [apiMade[0], bulk.last] { try await compareWithAPI(made, bulk.first, in: store, when: "after the run") }
            } catch let failure as BenchFailure {
                failures.append(failure.description)
            }
        }
    }
    await store.close()

    return Report(
        directory: options.parentDirectory, gateway: options.instantGateway ? "instant" : "sandbox", subscriptions: expected, throughAPI: throughAPI, setupSeconds: setupSeconds, renewals: found.cycleInvoices, runSeconds: runSeconds,
        renewalsPerSecond: Double(found.cycleInvoices) / max(runSeconds, .leastNonzeroMagnitude), cpuSeconds: cpuSeconds, loadAverage: load,
        storeWrites: statisticsAfter.writesCommitted - statisticsBefore.writesCommitted,
        storeCommits: statisticsAfter.transactionsCommitted - statisticsBefore.transactionsCommitted,
        rssStartMebibytes: mebibytes(rssStart), rssBeforeMebibytes: mebibytes(rssBefore), rssPeakMebibytes: mebibytes(max(rssPeak, rssBefore)),
        rssAfterMebibytes: mebibytes(rssAfter), rssSamples: samples, sandboxProbeCharges: options.sandboxProbeCharges,
        sandboxProbeChargesPerSecond: probeRate, stoppedAtTimeLimit: stopped, failures: failures)
}

func printLines(_ report: Report) {
    func fixed(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }
    print("renewal-bench: \(report.subscriptions) subscriptions (\(Setup.planID)) due at once; SQLite synchronous=FULL, \(report.gateway) gateway;"
        + " in \(report.directory)")
    print("setup: \(fixed(report.setupSeconds, 1)) s (\(report.throughAPI) through the API, \(report.subscriptions - report.throughAPI) as rows)")
    print("run: \(report.renewals) renewals in \(fixed(report.runSeconds, 1)) s: \(fixed(report.renewalsPerSecond, 0)) renewals/s"
        + " (each: invoice, charge through the \(report.gateway) gateway, settlement)")
    print("cpu: \(fixed(report.cpuSeconds, 1)) s user+system, \(fixed(report.cpuSeconds * 1000 / Double(max(report.renewals, 1)), 2)) ms per renewal;"
        + " load average \(fixed(report.loadAverage, 1)) at the end (\(ProcessInfo.processInfo.activeProcessorCount) CPUs)")
    print("store: \(report.storeWrites) writes in \(report.storeCommits) commits (\(fixed(Double(report.storeWrites) / Double(max(report.storeCommits, 1)), 1)) per commit)")
    print("resident: \(fixed(report.rssBeforeMebibytes, 1)) MiB before, \(fixed(report.rssPeakMebibytes, 1)) MiB peak, \(fixed(report.rssAfterMebibytes, 1)) MiB after"
        + " (\(fixed(report.rssStartMebibytes, 1)) MiB at start; sampled every 100 ms)")
    if let rate = report.sandboxProbeChargesPerSecond {
        print("sandbox alone, before the run: \(report.sandboxProbeCharges) charges one after another: \(fixed(rate, 0)) charges/s")
    }
    print(report.failures.isEmpty ? "checks: ok" : report.failures.map { "FAIL: \($0)" }.joined(separator: "\n"))
}

let options: Options
do {
    options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("renewal-bench: \(error.message)\n\(Options.usage)\n".utf8))
    exit(2)
}

// As billingd: large allocations come from mmap and go back to the system when freed.
_ = billing_mmap_allocations_from(256 * 1024)

let directory: URL
do {
    directory = try makeTemporaryDirectory(in: options.parentDirectory)
} catch {
    FileHandle.standardError.write(Data("renewal-bench: \(error)\n".utf8))
    exit(1)
}
do {
    let report = try await run(options, in: directory)
    try? FileManager.default.removeItem(at: directory)
    if options.json {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    } else {
        printLines(report)
    }
    exit(report.failures.isEmpty ? 0 : 1)
} catch {
    try? FileManager.default.removeItem(at: directory)
    FileHandle.standardError.write(Data("renewal-bench: FAIL: \(error)\n".utf8))
    exit(1)
}
