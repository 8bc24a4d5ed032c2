import BillingGateway
import BillingValues
import Foundation

/// The built-in payment gateway: behaves like a card processor in test mode, with
/// Stripe's test card numbers, and keeps its own durable record so it survives restarts.
///
/// | card number           | tokenize | every charge                                       |
/// |-----------------------|----------|----------------------------------------------------|
/// | 4242 4242 4242 4242   | succeeds | succeeds                                           |
/// | 4000 0000 0000 0002   | declined (`card_declined`): cards are verified on attach, as Stripe does |
/// | 4000 0000 0000 9995   | succeeds | fails, `insufficient_funds`                        |
/// | 4000 0000 0000 0341   | succeeds | fails, `card_declined` ("declined by its issuer")  |
/// | 4000 0000 0000 9979   | succeeds | fails, `stolen_card` (a hard decline: retrying cannot help) |
/// | any other valid card  | succeeds | succeeds                                           |
///
/// A charge to a card that has expired by the time of the charge fails with `expired_card`.
///
/// ## Durability
/// Everything the sandbox must remember — tokens (behaviour, brand, last four digits,
/// expiry; never the number or CVC) and charges by idempotency key — is kept in a small
/// SQLite database of its own, `sandbox-gateway.sqlite3` in the directory given at init
/// (mode 0600), one row per token and per charge with the token and the idempotency key
/// as primary keys. Each one is committed with `synchronous=FULL` before the call returns,
/// so a new gateway on the same directory (a restart) still resolves the tokens and
/// answers a retried charge from the record instead of charging twice, and a look-up
/// never lags behind a charge. A crash in the middle of a write leaves nothing of it
/// (that call never answered). Use one gateway per directory at a time; should a second
/// process open the same directory anyway, the primary key still refuses a second charge
/// under one key, and the call answers the charge recorded first.
///
/// ## Start-up time and memory
/// Opening reads no token or charge, and each look-up is one search of a primary key, so
/// neither grows with the number of charges recorded (`store-bench --sandbox-open`
/// measures it). Nothing is cached in Swift: memory is SQLite's page cache, capped at
/// 2 MiB, whatever the size of the record.
///
/// ## Data folders from before the database
/// The sandbox used to keep a JSON-lines journal, `sandbox-gateway.jsonl`. If the
/// directory has one, the first open imports it in one transaction and renames it to
/// `sandbox-gateway.jsonl.imported`; a torn last line is left out, damage anywhere else
/// fails the open (see `SandboxRecord.importJournalIfPresent()`).
///
/// ## Fault injection for tests
/// ``setLatency(_:)`` delays every call; ``failNextCalls(_:with:)`` makes the next calls
/// fail before doing anything; ``failNextResponses(_:)`` makes the next calls do their
/// work and then fail, like a response lost on the network.
///
/// ```swift
/// let gateway = try SandboxGateway(directory: dataDirectory.appendingPathComponent("sandbox"))
/// let card = try await gateway.tokenize(details)
/// let charge = try await gateway.charge(token: card.token, amount: total,
///                                       idempotencyKey: "invoice-42-attempt-1",
///                                       description: "Invoice INV-000042")
/// ```
public actor SandboxGateway: PaymentGateway {
    /// How a tokenized test card behaves when charged.
    public enum CardBehaviour: String, Sendable, Codable {
        case succeeds
        /// Refused when tokenized; tokens journaled before that rule decline every charge.
        case declined
        case insufficientFunds
        case declinedByIssuerOnEveryCharge
        case stolen

        /// The behaviour of a card number (digits only), from Stripe's test numbers.
        public static func forCardNumber(_ digits: String) -> CardBehaviour {
            switch digits {
            case "4000000000000002": return .declined
            case "4000000000009995": return .insufficientFunds
            case "4000000000000341": return .declinedByIssuerOnEveryCharge
            case "4000000000009979": return .stolen
            default: return .succeeds
            }
        }
    }

    /// The database's file name inside the directory given at init.
    public static let databaseFileName = "sandbox-gateway.sqlite3"

    /// The JSON-lines journal the sandbox kept before its database; imported on the first open
    /// and renamed aside (`sandbox-gateway.jsonl.imported`).
    public static let journalFileName = "sandbox-gateway.jsonl"

    /// The error ``failNextCalls(_:with:)`` and ``failNextResponses(_:)`` use by default.
    public static let simulatedOutage = BillingError.unavailable(
        "the sandbox payment gateway is unavailable (simulated outage); retry later with the same idempotency_key")

    private let record: SandboxRecord
    private let now: @Sendable () -> Date

    private var latency: Duration = .zero
    private var callsToFailBeforeProcessing = 0
    private var errorForFailedCalls = SandboxGateway.simulatedOutage
    private var responsesToLose = 0

    /// Charges this instance actually carried out (replays of an idempotency key and
    /// rejected calls are not counted). For tests that must prove "charged once".
    public private(set) var executedChargeCount = 0

    /// Opens (or creates) the sandbox's database in `directory`, importing a JSON-lines journal
    /// left there by an older sandbox. Reads no token or charge: look-ups search the database.
    /// - Parameters:
    ///   - now: the clock used to check card expiry; injected so tests can pin it.
    /// - Throws: `internal` if the directory or database cannot be created or opened, or the
    ///   journal to import is damaged.
    public init(
        directory: URL,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        self.record = try SandboxRecord(directory: directory)
        self.now = now
    }

    // MARK: Fault injection

    /// Delays every following call by `latency` (zero turns it off).
    public func setLatency(_ latency: Duration) {
        self.latency = latency
    }

    /// Makes the next `count` calls (of any method) throw `error` without doing anything,
    /// like a processor that cannot be reached.
    public func failNextCalls(_ count: Int, with error: BillingError = SandboxGateway.simulatedOutage) {
        callsToFailBeforeProcessing = max(0, count)
        errorForFailedCalls = error
    }

    /// Makes the next `count` calls do their work (a charge is made and recorded) and then
    /// throw ``simulatedOutage``, like a response lost after the processor acted.
    public func failNextResponses(_ count: Int) {
        responsesToLose = max(0, count)
    }

    // MARK: PaymentGateway

    public func tokenize(_ card: CardDetails) async throws -> GatewayCard {
        try await simulateNetwork()
        // No `await` from here on: the call runs to completion without interleaving.
        try card.validate(now: now())
        // Stripe verifies a card when it is attached; this test number fails that check.
        if CardBehaviour.forCardNumber(card.digits) == .declined {
            throw BillingError(
                kind: .failedPrecondition, message: "the card ending \(card.last4) was declined when it was verified; use another card or contact the card issuer",
                field: "card.number", reason: .cardDeclined, declineCode: "card_declined")
        }

        let record = SandboxRecord.TokenRecord(
            token: "tok_sandbox_" + SandboxGateway.randomHex(),
            behaviour: CardBehaviour.forCardNumber(card.digits),
            brand: card.brand,
            last4: card.last4,
            expiryMonth: card.expiryMonth,
            expiryYear: card.expiryYear)
        try self.record.insert(record)

        try loseResponseIfAsked()
        return GatewayCard(
            token: record.token, brand: record.brand, last4: record.last4,
            expiryMonth: record.expiryMonth, expiryYear: record.expiryYear)
    }

    public func charge(token: String, amount: Money, idempotencyKey: String, description: String) async throws
        -> GatewayCharge
    {
        try await simulateNetwork()
        // No `await` from here on: checking the idempotency key and recording the charge
        // happen in one actor turn, so two concurrent calls with one key cannot both charge.
        try IdempotencyKey.validate(idempotencyKey)
        try PaymentGatewayLimits.validateChargeAmount(amount)

        if let previous = try record.charge(forKey: idempotencyKey) {
            return try replay(previous, token: token, amount: amount)
        }

        guard let card = try record.token(token) else {
            throw BillingError.notFound(
                "the payment method's gateway token is not known to the sandbox gateway; add the card again",
                field: "token")
        }

        let charge = SandboxRecord.ChargeRecord(
            idempotencyKey: idempotencyKey,
            token: token,
            description: String(description.prefix(PaymentGatewayLimits.maxChargeDescriptionLength)),
            charge: outcomeOfCharging(card, amount: amount))
        guard try record.insert(charge) else {
            // Another process recorded a charge under this key since the check above (two
            // gateways on one directory): its charge stands, and this call answers it.
            guard let previous = try record.charge(forKey: idempotencyKey) else {
                throw BillingError.internalError("the sandbox gateway lost the charge under idempotency_key \(idempotencyKey)")
            }
            return try replay(previous, token: token, amount: amount)
        }
        executedChargeCount += 1

        try loseResponseIfAsked()
        return charge.charge
    }

    /// The answer to a repeated idempotency key: the first charge, if the parameters match.
    private func replay(_ previous: SandboxRecord.ChargeRecord, token: String, amount: Money) throws -> GatewayCharge {
        guard previous.token == token, previous.charge.amount == amount else {
            throw BillingError.invalidArgument(
                "idempotency_key was already used for a charge of \(previous.charge.amount.formatted) "
                    + "with different parameters; use a new idempotency_key for a new charge",
                field: "idempotency_key")
        }
        try loseResponseIfAsked()
        return previous.charge
    }

    /// A charge is committed and synced before the call answers, so a look-up never lags behind it.
    public nonisolated var lookUpLag: Duration { .zero }

    public func lookUpCharge(idempotencyKey: String) async throws -> GatewayCharge? {
        try await simulateNetwork()
        try IdempotencyKey.validate(idempotencyKey)
        let charge = try record.charge(forKey: idempotencyKey)?.charge
        try loseResponseIfAsked()
        return charge
    }

    /// Whether the sandbox knows `token` (for tests and diagnosis; does not count as a call).
    public func knowsToken(_ token: String) throws -> Bool {
        try record.token(token) != nil
    }

    /// What the record has read since it was opened, for tests: opening and look-ups must not
    /// scan the charges.
    var recordStatistics: (rowsRead: Int, fullScanSteps: Int, importedEntries: Int) {
        (record.rowsRead, record.fullScanSteps, record.importedEntries)
    }

    // MARK: Helpers

    /// What charging this card does, per its behaviour and expiry.
    private func outcomeOfCharging(_ card: SandboxRecord.TokenRecord, amount: Money) -> GatewayCharge {
        let reference = "ch_sandbox_" + SandboxGateway.randomHex()
        func failure(_ code: String, _ message: String) -> GatewayCharge {
            GatewayCharge(reference: reference, status: .failed, amount: amount, failureCode: code,
                          failureMessage: message)
        }
        if CardExpiry.isExpired(month: card.expiryMonth, year: card.expiryYear, now: now()) {
            return failure("expired_card", "The card has expired; ask the customer for a new card.")
        }
        switch card.behaviour {
        case .succeeds:
            return GatewayCharge(reference: reference, status: .succeeded, amount: amount)
        case .declined:
            return failure("card_declined", "The card was declined.")
        case .insufficientFunds:
            return failure("insufficient_funds", "The card has insufficient funds to complete the charge.")
        case .declinedByIssuerOnEveryCharge:
            return failure("card_declined",
                           "The card was declined by its issuer; ask the customer to contact their bank "
                               + "or use another card.")
        case .stolen:
            return failure("stolen_card", "The card was reported stolen; the customer must use another card.")
        }
    }

    /// Sleeps for the configured latency, then fails if a failure was asked for.
    private func simulateNetwork() async throws {
        if latency > .zero {
            try await Task.sleep(for: latency)
        }
        // Re-read after the sleep: another call may have used up the injected failures.
        if callsToFailBeforeProcessing > 0 {
            callsToFailBeforeProcessing -= 1
            throw errorForFailedCalls
        }
    }

    private func loseResponseIfAsked() throws {
        if responsesToLose > 0 {
            responsesToLose -= 1
            throw SandboxGateway.simulatedOutage
        }
    }

    /// 128 random bits as 32 hex digits: unguessable, like a real processor's ids.
    private static func randomHex() -> String {
        var generator = SystemRandomNumberGenerator()
        return [generator.next() as UInt64, generator.next() as UInt64]
            .map { value in
                let hex = String(value, radix: 16)
                return String(repeating: "0", count: 16 - hex.count) + hex
            }
            .joined()
    }
}
