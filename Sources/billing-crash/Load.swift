import BillingClient
import Foundation
import Synchronization

/// SplitMix64: a small seeded generator, so that `--seed` repeats a run's choices (kill moments,
/// operations, amounts). Thread timing still varies between runs; the seed fixes what is asked, not
/// when the kill lands relative to each reply.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The accounts the load runs on: complete US billing information, a card that succeeds and one that
/// declines every charge, auto-recharge on (so debits crossing the threshold charge the card), funds.
struct Fixture: Sendable {
    struct Account: Sendable {
        var id: String
        var succeedingCardID: String
        var decliningCardID: String
    }
    var accounts: [Account]

    /// Auto-recharge: at or below 5.00, charge 10.00 (or the multiple that lifts the balance above 5.00).
    static let rechargeAmountMinor: Int64 = 1000
    static let rechargeThresholdMinor: Int64 = 500

    /// Creates `count` accounts through the same logged path as the load (the top-up and card additions
    /// are acknowledged operations, checked like any other). Runs before the first kill.
    static func create(_ count: Int, client: BillingServiceClient, log: OperationLog) async throws -> Fixture {
        var accounts: [Account] = []
        for index in 0..<count {
            let prefix = "setup-\(index)"
            do {
                let account = try await client.createAccount(.init(idempotencyKey: "\(prefix)-account", displayName: "Crash test \(index)", currency: "USD")).account!
                _ = try await client.updateBillingInformation(.init(
                    idempotencyKey: "\(prefix)-billing", accountID: account.id, fullName: "Crash Test", countryCode: "US",
                    address: .init(lines: ["1 Main St"], city: "Springfield", region: "IL", postalCode: "62701")))
                _ = try await client.configureAutoRecharge(.init(
                    idempotencyKey: "\(prefix)-recharge", accountID: account.id, enabled: true,
                    rechargeAmount: .init(amountMinor: rechargeAmountMinor, currency: "USD"),
                    threshold: .init(amountMinor: rechargeThresholdMinor, currency: "USD")))
                // The declining card first: the succeeding one, added last, is primary.
                let declining = try await acknowledged(
                    Operation(kind: .addCard, key: "\(prefix)-card-declining", account: account.id, card: .declinesEveryCharge), client, log)
                let succeeding = try await acknowledged(
                    Operation(kind: .addCard, key: "\(prefix)-card-succeeding", account: account.id, card: .succeeds), client, log)
                _ = try await acknowledged(Operation(kind: .topUp, key: "\(prefix)-funds", account: account.id, amountMinor: 5000), client, log)
                accounts.append(Account(id: account.id, succeedingCardID: succeeding.paymentMethodID, decliningCardID: declining.paymentMethodID))
            } catch let error as RPCError {
                throw CrashTestError("setting up account \(index) failed: \(error)")
            }
        }
        return Fixture(accounts: accounts)
    }

    private static func acknowledged(_ operation: Operation, _ client: BillingServiceClient, _ log: OperationLog) async throws -> Outcome {
        guard case .acknowledged(let outcome) = await client.send(operation), outcome.isOK else {
            throw CrashTestError("set-up operation \(operation.kind.rawValue) \(operation.key) was not acknowledged")
        }
        try log.append(round: 0, operation: operation, outcome: outcome, resent: false)
        return outcome
    }
}

/// Concurrent workers sending a mix of operations until told to stop. Each logs its acknowledged
/// operation before starting the next; what was in flight when the server died comes back as unknown.
///
/// With several daemons, worker `w` sends to daemon `w % daemons` and stops when that daemon's flag is
/// set, and every worker picks among all accounts, so that wallets and recharges are contended across
/// daemons. `sameKeyPercent` of the operations are sent to two daemons at once under one key (a client
/// retrying on another daemon before the first answered): both answers must be the one outcome.
struct Load: Sendable {
    /// One client per daemon.
    let clients: [BillingServiceClient]
    let fixture: Fixture
    let log: OperationLog
    let addedCards: AddedCards
    let round: Int
    var sameKeyPercent = 0
    /// Where answers of one key sent to two daemons disagreed.
    let sameKeyReport = SameKeyReport()

    /// The mix, in percent: mostly debits (which start auto-recharges when they cross the
    /// threshold), top-ups, and card changes (a declining card makes recharges and top-ups fail).
    static let weights: [(Operation.Kind, Int)] = [(.debit, 74), (.topUp, 9), (.setPrimaryCard, 9), (.addCard, 4), (.removeCard, 4)]

    /// Runs `workers` loops, each until its daemon's flag in `stops` is set; returns the operations
    /// whose outcome is unknown.
    func run(workers: Int, seed: UInt64, stops: [StopFlag]) async throws -> [Operation] {
        try await withThrowingTaskGroup(of: [Operation].self) { group in
            for worker in 0..<workers {
                group.addTask {
                    try await self.work(worker, daemon: worker % clients.count, generator: SeededGenerator(seed: seed &+ UInt64(worker) &* 0x1000_0001),
                                        stop: stops[worker % clients.count])
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    private func work(_ worker: Int, daemon: Int, generator: SeededGenerator, stop: StopFlag) async throws -> [Operation] {
        var generator = generator
        var unknown: [Operation] = []
        var count = 0
        while !stop.isSet {
            count += 1
            let operation = next(key: "r\(round)-w\(worker)-\(count)", using: &generator)
            let twice = clients.count > 1 && Int.random(in: 0..<100, using: &generator) < sameKeyPercent
            let sent = twice ? await sendToTwo(operation, first: daemon, second: (daemon + 1) % clients.count) : await clients[daemon].send(operation)
            switch sent {
            case .acknowledged(let outcome):
                try log.append(round: round, operation: operation, outcome: outcome, resent: false)
                addedCards.note(operation, outcome)
            case .unknown:
                unknown.append(operation)
                // The server is gone (or going): stop here rather than pile up calls that never ran.
                if stop.isSet { return unknown }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        return unknown
    }

    /// Sends `operation` to two daemons at once. Outcomes that the key records (every success, and a
    /// declined top-up) must be the same on both; a refusal that recorded nothing (insufficient funds,
    /// no primary card) may meet a success, as a later retry could. Returns the recorded outcome if
    /// there is one, else either answer; unknown only when neither daemon answered.
    private func sendToTwo(_ operation: Operation, first: Int, second: Int) async -> Sent {
        async let one = clients[first].send(operation)
        async let other = clients[second].send(operation)
        let sent = [await one, await other]
        let answers = sent.compactMap { sent -> Outcome? in
            if case .acknowledged(let outcome) = sent { return outcome }
            return nil
        }
        sameKeyReport.noteSent(answered: answers.count)
        guard let answer = answers.first else { return sent[0] }
        let recorded = answers.filter { Self.isRecorded($0, of: operation) }
        if recorded.count == 2, !Self.same(recorded[0], recorded[1], of: operation) {
            sameKeyReport.note("\(operation.kind.rawValue) \(operation.key) sent to two daemons at once: \(recorded[0]) on one, \(recorded[1]) on the other")
        }
        return .acknowledged(recorded.first ?? answer)
    }

    /// Whether the key keeps this outcome, so that a retry must get it back.
    static func isRecorded(_ outcome: Outcome, of operation: Operation) -> Bool {
        outcome.isOK || (operation.kind == .topUp && outcome.result == "card_declined")
    }

    /// One outcome told twice: the same result and ids (a replayed debit says so; the other does not).
    static func same(_ one: Outcome, _ other: Outcome, of operation: Operation) -> Bool {
        var one = one
        var other = other
        one.replayed = false
        other.replayed = false
        return one == other
    }

    private func next(key: String, using generator: inout SeededGenerator) -> Operation {
        let account = fixture.accounts[Int.random(in: 0..<fixture.accounts.count, using: &generator)]
        var pick = Int.random(in: 0..<100, using: &generator)
        let kind = Self.weights.first { pick -= $0.1; return pick < 0 }?.0 ?? .debit
        switch kind {
        case .debit:
            return Operation(kind: .debit, key: key, account: account.id, amountMinor: Int64.random(in: 1...400, using: &generator))
        case .topUp:
            // Smaller than the debits drain: most funds come from auto-recharges, which race the kill.
            return Operation(kind: .topUp, key: key, account: account.id, amountMinor: Int64.random(in: 100...1000, using: &generator))
        case .setPrimaryCard:
            // One change in four makes the declining card primary; the next change most likely undoes it.
            let card = Int.random(in: 0..<4, using: &generator) == 0 ? account.decliningCardID : account.succeedingCardID
            return Operation(kind: .setPrimaryCard, key: key, account: account.id, paymentMethodID: card)
        case .removeCard:
            // Removing keeps the account under its card limit; with nothing to remove, add instead.
            if let card = addedCards.take(from: account.id, using: &generator) {
                return Operation(kind: .removeCard, key: key, account: account.id, paymentMethodID: card)
            }
            fallthrough
        case .addCard:
            return Operation(kind: .addCard, key: key, account: account.id, card: Int.random(in: 0..<5, using: &generator) == 0 ? .declinesEveryCharge : .succeeds)

        case .subscribe, .advanceClock:
            preconditionFailure("\(kind) is not in the load's mix: the set-up subscribes, and the round's renewal run advances the clock")
        }
    }
}

/// What the load's sends of one key to two daemons found: how many, how many got two answers, and
/// every disagreement.
final class SameKeyReport: Sendable {
    private let state = Mutex<(sent: Int, answeredTwice: Int, disagreements: [String])>((0, 0, []))

    func noteSent(answered: Int) { state.withLock { $0.sent += 1; if answered == 2 { $0.answeredTwice += 1 } } }
    func note(_ disagreement: String) { state.withLock { $0.disagreements.append(disagreement) } }
    var figures: (sent: Int, answeredTwice: Int, disagreements: [String]) { state.withLock { $0 } }
}

/// Set once, when the kill is about to land: workers start no new operation after it.
final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}

/// The cards the load added and has not removed, by account: what a remove may pick. A card is taken
/// out before its removal is sent, so two workers never remove the same one.
final class AddedCards: Sendable {
    private let cards = Mutex<[String: [String]]>([:])

    /// Notes an acknowledged card addition.
    func note(_ operation: Operation, _ outcome: Outcome) {
        guard operation.kind == .addCard, outcome.isOK else { return }
        cards.withLock { $0[operation.account, default: []].append(outcome.paymentMethodID) }
    }

    func take(from account: String, using generator: inout SeededGenerator) -> String? {
        let pick = Int.random(in: 0..<1000, using: &generator)
        return cards.withLock { cards in
            guard let list = cards[account], !list.isEmpty else { return nil }
            return cards[account]!.remove(at: pick % list.count)
        }
    }
}
