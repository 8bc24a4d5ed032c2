import BillingClient
import Foundation

/// The rounds of one crash test: load, kill, restart, resend what was unknown, replay a sample of
/// what was acknowledged, check. Owns the server processes (one on SQLite; two sharing PostgreSQL, of
/// which each round kills one); runs on one task.
final class CrashRun {
    let servers: [ServerProcess]
    let database: CrashDatabase
    let directory: URL
    let log: OperationLog
    let workers: Int
    let accounts: Int
    let killWindowMilliseconds: ClosedRange<Int>
    let replaysPerRound: Int
    let startTimeout: Duration
    /// Subscribed accounts on the test clock (0: none), and whether each round advances the clock.
    let subscriptions: Int
    let renewals: Bool
    /// Operations sent to two daemons at once under one key, in percent (several daemons only).
    let sameKeyPercent: Int
    /// Whether the daemon that was not killed keeps serving load until the killed one answers again.
    let loadThroughRestart: Bool
    private var generator: SeededGenerator
    private var renewalTiming = RenewalTiming()
    /// Operations whose outcome no reply has told yet.
    private var unknown: [Operation] = []
    private let addedCards = AddedCards()
    private var summary = Summary()

    init(
        servers: [ServerProcess], database: CrashDatabase, directory: URL, seed: UInt64, workers: Int, accounts: Int,
        killWindowMilliseconds: ClosedRange<Int>, replaysPerRound: Int, startTimeout: Duration, subscriptions: Int, renewals: Bool,
        sameKeyPercent: Int, loadThroughRestart: Bool
    ) throws {
        self.servers = servers
        self.database = database
        self.directory = directory
        self.log = try OperationLog(path: directory.appendingPathComponent("operations.jsonl").path)
        self.workers = workers
        self.accounts = accounts
        self.killWindowMilliseconds = killWindowMilliseconds
        self.replaysPerRound = replaysPerRound
        self.startTimeout = startTimeout
        self.subscriptions = subscriptions
        self.renewals = renewals && subscriptions > 0
        self.sameKeyPercent = servers.count > 1 ? sameKeyPercent : 0
        self.loadThroughRestart = loadThroughRestart
        self.generator = SeededGenerator(seed: seed)
        summary.kills = servers.map { ($0.name, 0) }
    }

    /// The sandbox gateway's record, shared by every daemon of the run.
    private var gatewayRecordPath: String { servers[0].gatewayRecordPath }

    func run(rounds: Int, deadline: ContinuousClock.Instant) async throws -> Summary {
        let began = ContinuousClock.now
        let fixture: Fixture
        let subscribed: SubscriptionFixture?
        do {
            // Together: daemons that start at once on one database must migrate it once.
            for server in servers { try server.launch() }
            for server in servers { try await server.waitUntilServing(within: startTimeout) }
            fixture = try await withClient(0) { try await Fixture.create(accounts, client: $0, log: log) }
            let subscriptions = subscriptions
            subscribed = subscriptions == 0 ? nil : try await withClient(0) { try await SubscriptionFixture.create(subscriptions, client: $0, log: log) }
            if let subscribed { print("set-up: \(subscribed.members.count) subscriptions to \(SubscriptionFixture.plan) on test clock \(subscribed.clockID) at \(SubscriptionFixture.day(SubscriptionFixture.periodStart(0)))") }
        } catch {
            for server in servers { await server.stop() }
            summary.setupFailure = "\(error)"
            print("set-up failed: \(error)")
            return summary
        }
        if let check = try? database.reader().storageCheck() {
            print("storage check after each round: \(check.name)")
        } else {
            print("note: no storage check after the rounds: \(database.name)'s counterpart of PRAGMA integrity_check (amcheck) is not installed")
        }
        for round in 1...rounds {
            guard ContinuousClock.now < deadline else {
                print("stopping: --max-seconds reached after \(round - 1) rounds")
                break
            }
            let renewing = renewals && round <= SubscriptionFixture.lastRenewingRound
            if renewals && round == SubscriptionFixture.lastRenewingRound + 1 {
                print("renewals end: the subscribers' cards expire at the end of \(Operation.TestCard.expiryYear), and the clock has reached it")
            }
            let failures = await self.round(round, of: rounds, fixture: fixture, renewing: renewing ? subscribed : nil)
            summary.rounds += 1
            if failures.isEmpty { summary.passedRounds += 1 } else { summary.failedRounds += 1 }
        }
        for server in servers { await server.stop() }
        summary.elapsed = ContinuousClock.now - began
        summary.acknowledged = log.all
        finalCheck()
        do {
            let selfTest = try CheckerSelfTest(
                database: database, gatewayRecordPath: gatewayRecordPath, directory: directory, acknowledged: summary.acknowledged
            ).run()
            summary.selfTest = "\(selfTest.detected) of \(selfTest.detected + selfTest.missed.count) corruptions reported"
            summary.selfTestMissed = selfTest.missed
        } catch {
            summary.selfTest = "could not run: \(error)"
            summary.selfTestMissed = ["(did not run)"]
        }
        if let reader = try? database.reader() {
            summary.renewalInvoices = (try? reader.value("SELECT count(*) FROM invoices WHERE billing_reason = 'subscription_cycle'")) ?? "?"
            summary.charges = (try? reader.rows("SELECT purpose || ' ' || status, count(*) FROM charges GROUP BY 1 ORDER BY 1")
                .map { "\($0[0] ?? "") \($0[1] ?? "")" }) ?? []
        }
        return summary
    }

    /// What the database held right after a kill, before the restart.
    private struct AtKill {
        /// Charges pending: called at the gateway, or about to be, and not settled (with two daemons,
        /// also the other daemon's charges in flight).
        var pendingCharges = 0
        /// Subscriptions whose period from the round's target is invoiced.
        var renewed = 0
        /// Pending payments of period invoices: this run's renewals, or retries of an earlier period it
        /// ran first (none is pending when the round starts: the previous round's checks saw to that).
        var pendingSubscriptionCharges = 0
    }

    /// One round; returns what failed (empty when it passed) after printing its line.
    private func round(_ round: Int, of rounds: Int, fixture: Fixture, renewing subscribed: SubscriptionFixture?) async -> [String] {
        let killAfter = Int.random(in: killWindowMilliseconds, using: &generator)
        let loadSeed = generator.next()
        // The renewal run: the clock moves to the end of the period it stands in, renewing every subscription.
        let target = SubscriptionFixture.periodStart(round)
        let advanceDelay = renewalTiming.startDelay(killAfter: killAfter, using: &generator)
        let victim = pickDaemon()
        let advancedBy = pickDaemon()
        let before = log.all.count
        var failures: [String] = []
        let several = servers.count > 1
        var line = "round \(round)/\(rounds): kill \(several ? servers[victim].name + " " : "")after \(killAfter) ms"
        do {
            failures += try await restartDaemonsThatEnded(round: round)
            // Load until the kill (on the other daemon, until the killed one serves again).
            let stops = servers.map { _ in StopFlag() }
            let (cut, renewal, atKill, restartedAt, restart, sameKey) = try await withClients { clients in
                let load = Load(
                    clients: clients, fixture: fixture, log: log, addedCards: addedCards, round: round, sameKeyPercent: sameKeyPercent)
                let run = subscribed.map { RenewalRun(client: clients[advancedBy], log: log, round: round, clockID: $0.clockID, target: target) }
                let workers = workers  // a copy: the load task must not touch this non-Sendable run
                async let unknown = load.run(workers: workers, seed: loadSeed, stops: stops)
                async let renewal = Self.renew(run, after: advanceDelay)
                let killed: Result<(AtKill, Int64, Duration), any Error>
                var restartFailures: [String] = []
                do {
                    try await Task.sleep(for: .milliseconds(killAfter))
                    stops[victim].set()
                    if !loadThroughRestart { stops.forEach { $0.set() } }
                    await servers[victim].kill()
                    summary.kills[victim].count += 1
                    let atKill = try readAtKill(target: target)
                    // Restart: start-up reconciliation has run once billingd answers.
                    let restartedAt = Int64(Date().timeIntervalSince1970 * 1000)
                    let restarting = ContinuousClock.now
                    // A start that fails fails the round; the daemon is started again, so that the
                    // round's checks and the next rounds still have every daemon.
                    for attempt in 1...3 {
                        do {
                            try await servers[victim].start(within: startTimeout)
                            break
                        } catch {
                            restartFailures.append("round \(round), restarting after the kill, attempt \(attempt): \(error)")
                            if attempt == 3 { throw error }
                        }
                    }
                    killed = .success((atKill, restartedAt, ContinuousClock.now - restarting))
                } catch {
                    killed = .failure(error)
                }
                // Whatever happened: a daemon still serving would keep its workers going.
                stops.forEach { $0.set() }
                let cut = try await unknown
                let renewalResult = try await renewal
                failures += restartFailures
                let (atKill, restartedAt, restart) = try killed.get()
                return (cut, renewalResult, atKill, restartedAt, restart, load.sameKeyReport.figures)
            }
            unknown += cut
            let acknowledgedUnderLoad = log.all.count - before
            summary.unknownThenResent += cut.count
            summary.chargesLeftPending += atKill.pendingCharges
            summary.sameKeySent += sameKey.sent
            summary.sameKeyAnsweredTwice += sameKey.answeredTwice
            failures += sameKey.disagreements
            var renewalNote = ""
            if let subscribed, let renewal {
                renewalNote = noteRenewal(renewal, target: target, of: subscribed, atKill: atKill, by: several ? servers[advancedBy].name : nil,
                                          failures: &failures)
            }

            let resent = try await withClients { try await resendUnknown($0, round: round) }
            failures += resent.failures
            let replayed = try await withClients { try await replaySample($0) }
            failures += replayed.failures
            summary.replays += replayed.count
            failures += try await restartDaemonsThatEnded(round: round)

            let database = try self.database.reader()
            try await waitUntilNoChargeIsPending(database)
            let report = try Checker(database: database, gatewayRecordPath: gatewayRecordPath, restartedAtMilliseconds: restartedAt)
                .check(log.all)
            failures += report.failures
            summary.checks += report.checks + replayed.count
            line += " · \(acknowledgedUnderLoad) acknowledged, \(cut.count) unknown (\(resent.answered) resent and answered)"
            if sameKey.sent > 0 { line += " · \(sameKey.sent) sent to both daemons" }
            if atKill.pendingCharges > 0 { line += " · \(atKill.pendingCharges) charge\(atKill.pendingCharges == 1 ? "" : "s") pending at the kill" }
            line += " · restarted in \(restart.components.seconds * 1000 + restart.components.attoseconds / 1_000_000_000_000_000) ms"
            line += renewalNote
            line += " · \(replayed.count) replayed · \(report.checks) checks"
        } catch {
            failures.append("the round could not run: \(error)")
        }
        // What a round found stays in the data, so later rounds find it again: each prints what is new.
        // (Events, such as a failed restart, name their round, so that each is new.)
        let new = failures.filter { !summary.distinctFailures.contains($0) }
        print(line + (failures.isEmpty ? " · ok" : new.isEmpty ? " · FAILED (as before)" : " · FAILED"))
        for failure in new.prefix(20) { print("  - \(failure)") }
        if new.count > 20 { print("  - … and \(new.count - 20) more") }
        if !new.isEmpty && new.count < failures.count { print("  - and \(failures.count - new.count) found in an earlier round") }
        summary.distinctFailures.formUnion(new)
        if !new.isEmpty { summary.roundsWithNewFailures += 1 }
        summary.failures += failures.map { "round \(round): \($0)" }
        fflush(nil)  // every stream: a line per round reaches a pipe (CI) as the round ends
        return failures
    }

    /// Each daemon that ended without being killed (a crash) is a failure; it is started again, so that
    /// the rounds after it still have every daemon.
    private func restartDaemonsThatEnded(round: Int) async throws -> [String] {
        var failures: [String] = []
        for server in servers {
            guard let ended = server.endedByItself() else { continue }
            failures.append("round \(round): \(ended)")
            try await server.start(within: startTimeout)
        }
        return failures
    }

    /// A daemon picked at random; with one daemon, 0 without drawing, so that a seed of a SQLite run
    /// makes the same choices as before there were two.
    private func pickDaemon() -> Int {
        servers.count == 1 ? 0 : Int.random(in: 0..<servers.count, using: &generator)
    }

    private func readAtKill(target: Int64) throws -> AtKill {
        let database = try database.reader()
        var atKill = AtKill()
        atKill.pendingCharges = Int(try database.value("SELECT count(*) FROM charges WHERE status = 'pending'") ?? "") ?? 0
        guard renewals else { return atKill }
        atKill.renewed = Int(try database.value(
            "SELECT count(*) FROM invoices WHERE billing_reason = 'subscription_cycle' AND period_start_ms = ?", "\(target)") ?? "") ?? 0
        atKill.pendingSubscriptionCharges = Int(try database.value("""
            SELECT count(*) FROM charges c JOIN invoices i ON i.id = c.invoice_id
            WHERE c.status = 'pending' AND i.billing_reason IN ('subscription_create', 'subscription_cycle')
            """) ?? "") ?? 0
        return atKill
    }

    /// Sends the round's advance after `delay`, if the round has one.
    private static func renew(_ run: RenewalRun?, after delay: Duration) async throws -> RenewalRun.Result? {
        guard let run else { return nil }
        return try await run.run(after: delay)
    }

    /// What the kill did to the round's renewal run, from the database as it was right after the kill:
    /// how many subscriptions had their period from `target` invoiced, and how many of their charges
    /// were pending. An unanswered advance joins the operations resent after the restart. `daemon`
    /// names the daemon the advance went to, when there are several.
    private func noteRenewal(
        _ renewal: RenewalRun.Result, target: Int64, of subscribed: SubscriptionFixture, atKill: AtKill, by daemon: String?, failures: inout [String]
    ) -> String {
        summary.advances += 1
        let to = SubscriptionFixture.day(target) + (daemon.map { " on \($0)" } ?? "")
        switch renewal {
        case .answered(let duration):
            renewalTiming.note(duration)
            let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
            return " · advance to \(to) answered in \(milliseconds) ms\(daemon == nil ? ", before the kill" : "")"
        case .refused(let reason):
            failures.append("the advance to \(to) was refused: \(reason)")
            return " · advance to \(to) REFUSED"
        case .unknown(let operation):
            unknown.append(operation)
            summary.advancesCut += 1
            let renewed = atKill.renewed
            let pending = atKill.pendingSubscriptionCharges
            summary.renewalChargesLeftPending += pending
            let of = subscribed.members.count
            if pending > 0 || (renewed > 0 && renewed < of) {
                summary.advancesCutMidRun += 1
            } else if renewed == 0 {
                summary.advancesCutBeforeRenewing += 1
            } else {
                summary.advancesCutAfterRenewing += 1
            }
            return " · advance to \(to) cut by the kill after \(renewed)/\(of) renewals\(pending > 0 ? " (\(pending) subscription charges pending)" : "")"
        }
    }

    /// Checks once more after every billingd shut down: nothing can be in flight, so every charge, including
    /// those the last round's resends started, is compared with the gateway's record.
    private func finalCheck() {
        var failures: [String]
        do {
            let report = try Checker(
                database: try database.reader(), gatewayRecordPath: gatewayRecordPath, restartedAtMilliseconds: Int64(Date().timeIntervalSince1970 * 1000)
            ).check(summary.acknowledged)
            summary.checks += report.checks
            failures = report.failures
            print("after shutdown: \(report.checks) checks · \(failures.isEmpty ? "ok" : "FAILED")")
        } catch {
            failures = ["the check after shutdown could not run: \(error)"]
        }
        for failure in failures.prefix(20) { print("  - \(failure)") }
        summary.failures += failures.map { "after shutdown: \($0)" }
        summary.finalCheckFailed = !failures.isEmpty
    }

    /// Resends every operation whose outcome was unknown, under its own key, and logs the answer as
    /// acknowledged. A second unknown answer after a restart is a failure: reconciliation has settled
    /// every charge by then, so nothing should still be pending.
    private func resendUnknown(_ clients: [BillingServiceClient], round: Int) async throws -> (answered: Int, failures: [String]) {
        var failures: [String] = []
        var answered = 0
        for operation in unknown {
            switch await clients[pickDaemon()].send(operation) {
            case .acknowledged(let outcome):
                try log.append(round: round, operation: operation, outcome: outcome, resent: true)
                addedCards.note(operation, outcome)
                answered += 1
            case .unknown(let error):
                failures.append("\(operation.kind.rawValue) \(operation.key): still no answer after the restart: \(error)")
            }
        }
        unknown = []
        return (answered, failures)
    }

    /// Resends a random sample of acknowledged operations, each to a daemon picked at random: each must
    /// replay its first outcome (the same ledger line, charge, invoice or card) and change nothing.
    private func replaySample(_ clients: [BillingServiceClient]) async throws -> (count: Int, failures: [String]) {
        // A refused debit stored nothing, so its retry may rightly succeed now; everything else replays.
        let candidates = log.all.filter { $0.outcome.isOK || ($0.operation.kind == .topUp && $0.outcome.result == "card_declined") }
        guard !candidates.isEmpty else { return (0, []) }
        var failures: [String] = []
        var sample = (0..<min(replaysPerRound, candidates.count)).map { _ in candidates[Int.random(in: 0..<candidates.count, using: &generator)] }
        // A random sample seldom holds the few subscriptions and advances: one of each joins it, the
        // advance an earlier one than the latest when there is one (the clock has moved past its target since).
        for kind in [Operation.Kind.subscribe, .advanceClock] where replaysPerRound > 0 {
            let ofKind = candidates.filter { $0.operation.kind == kind }
            let pool = kind == .advanceClock && ofKind.count > 1 ? ofKind.dropLast() : ofKind[...]
            if !pool.isEmpty { sample.append(pool[Int.random(in: pool.startIndex..<pool.endIndex, using: &generator)]) }
        }
        let count = sample.count
        for record in sample {
            let first = record.outcome
            let label = "replay of #\(record.sequence) \(record.operation.kind.rawValue) \(record.operation.key)"
            guard case .acknowledged(let again) = await clients[pickDaemon()].send(record.operation) else {
                failures.append("\(label): no answer")
                continue
            }
            let same: Bool
            switch record.operation.kind {
            case .debit:
                same = again.isOK && again.transactionID == first.transactionID && again.replayed
            case .topUp:
                same = again.result == first.result && again.transactionID == first.transactionID && again.chargeID == first.chargeID
                    && again.invoiceID == first.invoiceID
            case .setPrimaryCard, .addCard, .removeCard:
                same = again.isOK && again.paymentMethodID == first.paymentMethodID
            case .subscribe:
                same = again.isOK && again.subscriptionID == first.subscriptionID && again.invoiceID == first.invoiceID
                    && again.invoiceNumber == first.invoiceNumber && again.chargeID == first.chargeID
            case .advanceClock:
                // The clock where the first answer left it (it may have moved on since; the answer does not).
                same = again.isOK && again.clockMs == first.clockMs
            }
            if !same { failures.append("\(label): first answer \(first), now \(again)") }
        }
        return (count, failures)
    }

    /// Resent debits may have started auto-recharges; the checks want a still database. Waits at most
    /// five seconds; a charge still pending then is reported by the checks if it predates the restart.
    /// A recharge can still begin after this (before its charge row exists, the count says zero), which
    /// is why the checker compares with the gateway only the charges made before the restart.
    private func waitUntilNoChargeIsPending(_ database: any DatabaseReader) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline, try database.value("SELECT count(*) FROM charges WHERE status = 'pending'") != "0" {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// A client of each daemon for one phase, closed after it: each round's load talks to a server that then dies.
    private func withClients<T>(_ body: ([BillingServiceClient]) async throws -> T) async throws -> T {
        let clients = servers.map { server in
            var configuration = ClientConfiguration(socketPath: server.socketPath)
            // The crash test decides what to resend; the client's own retries would blur what was acknowledged.
            configuration.retry = .never
            return RPCClient(configuration: configuration)
        }
        defer { clients.forEach { $0.close() } }
        return try await body(clients.map { BillingServiceClient($0) })
    }

    /// A client of daemon `index` alone.
    private func withClient<T>(_ index: Int, _ body: (BillingServiceClient) async throws -> T) async throws -> T {
        try await withClients { try await body($0[index]) }
    }
}

/// The figures of a run.
struct Summary {
    var rounds = 0
    /// SIGKILLs by daemon.
    var kills: [(name: String, count: Int)] = []
    /// Operations the load sent to two daemons at once under one key, and those both daemons answered.
    var sameKeySent = 0
    var sameKeyAnsweredTwice = 0
    var passedRounds = 0
    var failedRounds = 0
    var unknownThenResent = 0
    /// Charges pending right after a kill (called at the gateway, or about to be, and not settled; with
    /// two daemons, the other daemon's charges in flight too).
    var chargesLeftPending = 0
    /// Renewal runs (one AdvanceTestClock a round), and those the kill cut off (unanswered at the kill):
    /// before the first renewal, between renewals (or with a renewal charge pending), after the last.
    var advances = 0
    var advancesCut = 0
    var advancesCutBeforeRenewing = 0
    var advancesCutMidRun = 0
    var advancesCutAfterRenewing = 0
    /// Subscription charges a kill left pending.
    var renewalChargesLeftPending = 0
    /// subscription_cycle invoices in the database at the end.
    var renewalInvoices = "0"
    var replays = 0
    var checks = 0
    var failures: [String] = []
    /// Failures by their text, each counted once however many rounds found it again, and the rounds
    /// that found one not seen before.
    var distinctFailures: Set<String> = []
    var roundsWithNewFailures = 0
    var setupFailure: String?
    /// Whether the check after the final shutdown found something.
    var finalCheckFailed = false
    var elapsed: Duration = .zero
    var acknowledged: [AcknowledgedOperation] = []
    /// "wallet_auto_recharge succeeded 812", ... from the database at the end.
    var charges: [String] = []
    /// The checker's self-test on the final data: what it reported, and the corruptions it missed.
    var selfTest = "not run"
    var selfTestMissed: [String] = []

    func text(seed: UInt64) -> String {
        func count(_ kind: Operation.Kind, ok: Bool) -> Int { acknowledged.filter { $0.operation.kind == kind && $0.outcome.isOK == ok }.count }
        let refusals = Dictionary(grouping: acknowledged.filter { !$0.outcome.isOK }, by: \.outcome.result).mapValues(\.count)
            .sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return """
            summary (seed \(seed), \(String(format: "%.1f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)) s)
              rounds                  \(rounds)\(kills.count > 1 ? " (SIGKILLs: " + kills.map { "\($0.name) \($0.count)" }.joined(separator: ", ") + ")" : "")
              operations acknowledged \(acknowledged.count): debits \(count(.debit, ok: true)), top-ups \(count(.topUp, ok: true)), \
            primary-card changes \(count(.setPrimaryCard, ok: true)), cards added \(count(.addCard, ok: true)), removed \(count(.removeCard, ok: true)); refused \(acknowledged.count - acknowledged.filter(\.outcome.isOK).count)\(refusals.isEmpty ? "" : " (\(refusals))")
              subscriptions           \(count(.subscribe, ok: true)) subscribed; clock advances answered \(count(.advanceClock, ok: true)) (\(acknowledged.filter { $0.operation.kind == .advanceClock && $0.resent }.count) of them resent), \
            renewal invoices \(renewalInvoices)
              kills in a renewal run  \(advancesCut) of \(advances) rounds (the advance unanswered at the kill): \(advancesCutBeforeRenewing) before its first renewal, \
            \(advancesCutMidRun) between renewals or with a renewal charge pending, \(advancesCutAfterRenewing) after its last; renewal charges left pending \(renewalChargesLeftPending)
              charges                 \(charges.joined(separator: ", "))
              left pending by kills   \(chargesLeftPending) charges, each settled by start-up reconciliation or found by the checks\(kills.count > 1 ? " (counted right after each kill, with the other daemon's charges in flight)" : "")
              unknown, then resent    \(unknownThenResent) (debits the kill had cut off after their commit, replayed on resend: \(acknowledged.filter { $0.resent && $0.outcome.replayed }.count))
              replays checked         \(replays)\(kills.count > 1 ? "\n  one key, two daemons    \(sameKeySent) operations sent to both at once, \(sameKeyAnsweredTwice) answered by both (the same outcome, or a refusal that recorded nothing)" : "")
              checks run              \(checks)
              checker self-test       \(selfTest)\(selfTestMissed.isEmpty ? "" : "; MISSED: " + selfTestMissed.joined(separator: "; "))
              failures                \(failures.count)\(failures.isEmpty ? "" : " (\(distinctFailures.count) distinct, first found in \(roundsWithNewFailures) rounds)")\(setupFailure.map { " (set-up: \($0))" } ?? "")\(failureKinds)
            """
    }

    /// The failures grouped by what they say once ids and numbers are blanked out, most frequent first:
    /// a round prints only its first twenty, and a long run's summary should still say what failed.
    private var failureKinds: String {
        guard !failures.isEmpty else { return "" }
        let patterns = [#"^(round \d+|after shutdown): "#, #"\b[a-z]+_[0-9a-f]{20}\b"#, #"\d+"#]
        let kinds = Dictionary(grouping: failures) { failure in
            var text = failure
            for (index, pattern) in patterns.enumerated() {
                text = text.replacingOccurrences(of: pattern, with: index == 0 ? "" : index == 1 ? "…" : "N", options: .regularExpression)
            }
            return String(text.prefix(110))
        }
        return kinds.sorted { $0.value.count > $1.value.count }.prefix(8).map { "\n    \($0.value.count) × \($0.key)" }.joined()
    }
}
