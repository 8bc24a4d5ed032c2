import BillingClient
import Foundation

/// The subscriptions the renewal runs bill: accounts on one test clock, each with complete billing
/// information, a card that succeeds and a monthly plan without a trial, so that each has its first
/// period invoiced and paid at set-up. They take no part in the load (no debits, no card changes): what
/// changes them is the clock alone.
struct SubscriptionFixture: Sendable {
    struct Member: Sendable {
        var account: String
        var subscription: String
    }
    var clockID: String
    var members: [Member]

    /// The plan every member subscribes to: per seat, monthly, with a trial in the catalog that the
    /// subscription waives (trial_days 0 explicitly).
    static let plan = "team-monthly-usd-v1"
    /// Where the clock starts: 2027-01-01T00:00:00Z, so that every period starts on the 1st of a month.
    static let start = (year: 2027, month: 1)
    /// Set-up calls in flight at once.
    static let setupConcurrency = 8

    /// The last round with a renewal run: the one whose period starts in the last month of the cards'
    /// life. A later period would find every card expired on the clock's date, and every renewal would
    /// stay unpaid by design (a 500-round run reached 2041 with cards that ended in 2040).
    static var lastRenewingRound: Int {
        (Operation.TestCard.expiryYear - start.year) * 12 + 11 - (start.month - 1)
    }

    /// Period `index` of the subscriptions starts here (0: the first, at the clock's start).
    static func periodStart(_ index: Int) -> Int64 {
        let months = start.year * 12 + (start.month - 1) + index
        return civilDayStart(year: months / 12, month: months % 12 + 1)
    }

    /// Midnight UTC of the 1st of `month` (1...12) of `year`, in Unix ms (days from civil, proleptic Gregorian).
    private static func civilDayStart(year: Int, month: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return Int64(era * 146_097 + dayOfEra - 719_468) * 86_400_000
    }

    /// "2027-03-01", for the round lines.
    static func day(_ milliseconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }

    /// Creates the clock and `count` subscribed accounts on it. The card additions and subscriptions are
    /// acknowledged operations, logged and checked like any other (the checks see that each subscription's
    /// first charge succeeded and paid its first period).
    static func create(_ count: Int, client: BillingServiceClient, log: OperationLog) async throws -> SubscriptionFixture {
        let clock: String
        do {
            clock = try await client.createTestClock(.init(idempotencyKey: "setup-clock", name: "crash test", frozenTimeUnixMs: periodStart(0))).testClock?.id ?? ""
        } catch {
            throw CrashTestError("creating the test clock failed: \(error)")
        }
        let members = try await withThrowingTaskGroup(of: (Int, Member).self) { group in
            var next = 0
            var members: [(Int, Member)] = []
            func addNext() {
                guard next < count else { return }
                let index = next
                next += 1
                group.addTask { (index, try await member(index, clock: clock, client: client, log: log)) }
            }
            for _ in 0..<setupConcurrency { addNext() }
            while let member = try await group.next() {
                members.append(member)
                addNext()
            }
            return members.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return SubscriptionFixture(clockID: clock, members: members)
    }

    private static func member(_ index: Int, clock: String, client: BillingServiceClient, log: OperationLog) async throws -> Member {
        let prefix = "setup-sub-\(index)"
        let account: String
        do {
            account = try await client.createAccount(.init(
                idempotencyKey: "\(prefix)-account", displayName: "Crash test subscriber \(index)", currency: "USD", testClockID: clock)).account?.id ?? ""
            _ = try await client.updateBillingInformation(.init(
                idempotencyKey: "\(prefix)-billing", accountID: account, fullName: "Crash Test", countryCode: "US",
                address: .init(lines: ["\(index + 1) Main St"], city: "Springfield", region: "IL", postalCode: "62701")))
        } catch {
            throw CrashTestError("setting up subscriber \(index) failed: \(error)")
        }
        _ = try await acknowledged(Operation(kind: .addCard, key: "\(prefix)-card", account: account, card: .succeeds), client, log)
        let subscribed = try await acknowledged(
            Operation(kind: .subscribe, key: "\(prefix)-subscription", account: account, plan: plan, quantity: 1 + index % 3), client, log)
        return Member(account: account, subscription: subscribed.subscriptionID ?? "")
    }

    private static func acknowledged(_ operation: Operation, _ client: BillingServiceClient, _ log: OperationLog) async throws -> Outcome {
        guard case .acknowledged(let outcome) = await client.send(operation), outcome.isOK else {
            throw CrashTestError("set-up operation \(operation.kind.rawValue) \(operation.key) was not acknowledged")
        }
        try log.append(round: 0, operation: operation, outcome: outcome, resent: false)
        return outcome
    }
}

/// One round's renewal run: a single AdvanceTestClock, to the end of the current period, beside the
/// load. It starts at a moment chosen so that the kill lands inside the run in most rounds (see
/// `RenewalTiming`); what the kill cut off comes back as unknown and is resent after the restart.
struct RenewalRun: Sendable {
    let client: BillingServiceClient
    let log: OperationLog
    let round: Int
    let clockID: String
    let target: Int64

    /// What became of the round's advance.
    enum Result: Sendable {
        case answered(Duration)
        case unknown(Operation)
        /// Refused (a definite error): a failure of the round.
        case refused(String)
    }

    var operation: Operation {
        Operation(kind: .advanceClock, key: "r\(round)-advance", account: "", clock: clockID, targetMs: target)
    }

    func run(after delay: Duration) async throws -> Result {
        try await Task.sleep(for: delay)
        let began = ContinuousClock.now
        switch await client.send(operation) {
        case .acknowledged(let outcome):
            try log.append(round: round, operation: operation, outcome: outcome, resent: false)
            return outcome.isOK ? .answered(ContinuousClock.now - began) : .refused(outcome.result)
        case .unknown:
            return .unknown(operation)
        }
    }
}

/// How long an answered renewal run took (a moving average), so that the advance starts early enough
/// before the kill to be in flight when it lands: the start is the kill moment minus a random share of
/// 1.5 runs, so about two thirds of the kills land inside a run and the rest just after one.
struct RenewalTiming {
    private(set) var averageMilliseconds = 300.0

    mutating func note(_ duration: Duration) {
        let milliseconds = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        averageMilliseconds = 0.7 * averageMilliseconds + 0.3 * milliseconds
    }

    /// The delay after the round's start at which the advance is sent, for a kill `killAfter` ms after it.
    func startDelay(killAfter: Int, using generator: inout SeededGenerator) -> Duration {
        let lead = Double.random(in: 0...1.5, using: &generator) * averageMilliseconds
        return .milliseconds(max(0, killAfter - Int(lead)))
    }
}
