import BillingGateway
import BillingValues
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
/// expiry; never the number or CVC) and charges by idempotency key — is appended as one
/// JSON line to `sandbox-gateway.jsonl` in the directory given at init, and `fsync`ed
/// before the call returns. A new gateway on the same directory (a restart) reloads it,
/// so tokens still resolve and a retried charge is still answered from the record
/// instead of charging twice. Use one gateway per directory at a time.
///
/// ## Bounded memory
/// At most `maxCachedTokens` tokens and `maxCachedCharges` charges are kept in memory,
/// oldest evicted first. Once anything has been evicted, every lookup that misses the
/// cache (including the first use of a new idempotency key) reads the journal, so
/// eviction never changes an answer; it only makes such lookups slower. The journal
/// itself is not compacted: the sandbox is for development and tests.
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

    /// The journal's file name inside the directory given at init.
    public static let journalFileName = "sandbox-gateway.jsonl"

    /// The error ``failNextCalls(_:with:)`` and ``failNextResponses(_:)`` use by default.
    public static let simulatedOutage = BillingError.unavailable(
        "the sandbox payment gateway is unavailable (simulated outage); retry later with the same idempotency_key")

    private let journal: SandboxJournal
    private let now: @Sendable () -> Date
    private var tokens: BoundedCache<SandboxJournal.TokenRecord>
    private var charges: BoundedCache<SandboxJournal.ChargeRecord>

    private var latency: Duration = .zero
    private var callsToFailBeforeProcessing = 0
    private var errorForFailedCalls = SandboxGateway.simulatedOutage
    private var responsesToLose = 0

    /// Charges this instance actually carried out (replays of an idempotency key and
    /// rejected calls are not counted). For tests that must prove "charged once".
    public private(set) var executedChargeCount = 0

    /// Opens (or creates) the sandbox's journal in `directory` and reloads it.
    /// - Parameters:
    ///   - now: the clock used to check card expiry; injected so tests can pin it.
    /// - Throws: `internal` if the directory or journal cannot be created, read or is corrupt.
    public init(
        directory: URL,
        maxCachedTokens: Int = 100_000,
        maxCachedCharges: Int = 100_000,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        let journal = try SandboxJournal(directory: directory)
        var tokens = BoundedCache<SandboxJournal.TokenRecord>(capacity: maxCachedTokens)
        var charges = BoundedCache<SandboxJournal.ChargeRecord>(capacity: maxCachedCharges)
        for entry in try journal.readAllEntries() {
            if let token = entry.token {
                tokens.insert(token, forKey: token.token)
            }
            if let charge = entry.charge {
                charges.insert(charge, forKey: charge.idempotencyKey)
            }
        }
        self.journal = journal
        self.tokens = tokens
        self.charges = charges
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

        let record = SandboxJournal.TokenRecord(
            token: "tok_sandbox_" + SandboxGateway.randomHex(),
            behaviour: CardBehaviour.forCardNumber(card.digits),
            brand: card.brand,
            last4: card.last4,
            expiryMonth: card.expiryMonth,
            expiryYear: card.expiryYear)
        try journal.append(SandboxJournal.Entry(token: record))
        tokens.insert(record, forKey: record.token)

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

        if let previous = try chargeRecord(forKey: idempotencyKey) {
            guard previous.token == token, previous.charge.amount == amount else {
                throw BillingError.invalidArgument(
                    "idempotency_key was already used for a charge of \(previous.charge.amount.formatted) "
                        + "with different parameters; use a new idempotency_key for a new charge",
                    field: "idempotency_key")
            }
            try loseResponseIfAsked()
            return previous.charge
        }

        guard let card = try tokenRecord(forToken: token) else {
            throw BillingError.notFound(
                "the payment method's gateway token is not known to the sandbox gateway; add the card again",
                field: "token")
        }

        let record = SandboxJournal.ChargeRecord(
            idempotencyKey: idempotencyKey,
            token: token,
            description: String(description.prefix(PaymentGatewayLimits.maxChargeDescriptionLength)),
            charge: outcomeOfCharging(card, amount: amount))
        try journal.append(SandboxJournal.Entry(charge: record))
        charges.insert(record, forKey: idempotencyKey)
        executedChargeCount += 1

        try loseResponseIfAsked()
        return record.charge
    }

    /// The journal is synced before a charge call answers, so a look-up never lags behind it.
    public nonisolated var lookUpLag: Duration { .zero }

    public func lookUpCharge(idempotencyKey: String) async throws -> GatewayCharge? {
        try await simulateNetwork()
        try IdempotencyKey.validate(idempotencyKey)
        let charge = try chargeRecord(forKey: idempotencyKey)?.charge
        try loseResponseIfAsked()
        return charge
    }

    /// Whether the sandbox knows `token` (for tests and diagnosis; does not count as a call).
    public func knowsToken(_ token: String) throws -> Bool {
        try tokenRecord(forToken: token) != nil
    }

    // MARK: Helpers

    /// What charging this card does, per its behaviour and expiry.
    private func outcomeOfCharging(_ card: SandboxJournal.TokenRecord, amount: Money) -> GatewayCharge {
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

    private func tokenRecord(forToken token: String) throws -> SandboxJournal.TokenRecord? {
        if let cached = tokens.value(forKey: token) { return cached }
        guard tokens.hasEvicted else { return nil }  // the cache holds everything ever recorded
        let found = try journal.readAllEntries().last { $0.token?.token == token }?.token
        if let found { tokens.insert(found, forKey: token) }
        return found
    }

    private func chargeRecord(forKey idempotencyKey: String) throws -> SandboxJournal.ChargeRecord? {
        if let cached = charges.value(forKey: idempotencyKey) { return cached }
        guard charges.hasEvicted else { return nil }  // the cache holds everything ever recorded
        let found = try journal.readAllEntries().last { $0.charge?.idempotencyKey == idempotencyKey }?.charge
        if let found { charges.insert(found, forKey: idempotencyKey) }
        return found
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

/// A dictionary that keeps at most `capacity` entries, forgetting the oldest first.
struct BoundedCache<Value> {
    let capacity: Int
    private var values: [String: Value] = [:]
    /// Keys in insertion order; entries before `oldestIndex` are already evicted.
    private var insertionOrder: [String] = []
    private var oldestIndex = 0
    /// Whether any entry was ever evicted, i.e. whether a miss can be trusted.
    private(set) var hasEvicted = false

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { values.count }

    func value(forKey key: String) -> Value? {
        values[key]
    }

    mutating func insert(_ value: Value, forKey key: String) {
        if values.updateValue(value, forKey: key) != nil {
            return  // already present: keeps its place in the eviction order
        }
        insertionOrder.append(key)
        if values.count > capacity {
            values[insertionOrder[oldestIndex]] = nil
            oldestIndex += 1
            hasEvicted = true
        }
        // Drop evicted keys from the front once they are as many as the live ones.
        if oldestIndex >= capacity {
            insertionOrder.removeFirst(oldestIndex)
            oldestIndex = 0
        }
    }
}

/// The sandbox's append-only record: one JSON object per line, fsync'd per append.
///
/// A crash can leave a half-written last line; it is cut off on open (that call never
/// returned, so nobody relied on it). A bad line anywhere else means the file was damaged,
/// and opening fails rather than guessing.
final class SandboxJournal {
    /// One line of the journal: exactly one of `token` and `charge` is set.
    struct Entry: Codable {
        var token: TokenRecord?
        var charge: ChargeRecord?

        init(token: TokenRecord) {
            self.token = token
        }

        init(charge: ChargeRecord) {
            self.charge = charge
        }
    }

    /// What the sandbox remembers about a tokenized card: never the number or CVC.
    struct TokenRecord: Codable {
        var token: String
        var behaviour: SandboxGateway.CardBehaviour
        var brand: CardBrand
        var last4: String
        var expiryMonth: Int
        var expiryYear: Int
    }

    /// A charge and the parameters it was made with, keyed by idempotency key.
    struct ChargeRecord: Codable {
        var idempotencyKey: String
        var token: String
        var description: String
        var charge: GatewayCharge
    }

    let fileURL: URL
    private let fileDescriptor: Int32

    init(directory: URL) throws {
        fileURL = directory.appendingPathComponent(SandboxGateway.journalFileName)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw BillingError.internalError(
                "sandbox gateway cannot create its directory \(directory.path): \(error.localizedDescription)")
        }
        let isNewFile = !FileManager.default.fileExists(atPath: fileURL.path)
        fileDescriptor = open(fileURL.path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        if fileDescriptor < 0 {
            throw SandboxJournal.systemError("open", path: fileURL.path)
        }
        if isNewFile {
            // Make the new file's directory entry durable too, not only its contents.
            SandboxJournal.syncDirectory(directory)
        }
    }

    deinit {
        close(fileDescriptor)
    }

    /// Every entry, oldest first. Cuts off a torn last line left by a crash.
    func readAllEntries() throws -> [Entry] {
        let contents: Data
        do {
            contents = try Data(contentsOf: fileURL)
        } catch {
            throw BillingError.internalError(
                "sandbox gateway cannot read \(fileURL.path): \(error.localizedDescription)")
        }
        let newline = UInt8(ascii: "\n")
        let completeLength = (contents.lastIndex(of: newline).map { $0 + 1 }) ?? contents.startIndex
        if completeLength < contents.endIndex {
            if ftruncate(fileDescriptor, off_t(completeLength - contents.startIndex)) != 0 {
                throw SandboxJournal.systemError("truncate", path: fileURL.path)
            }
        }

        let decoder = JSONDecoder()
        var entries: [Entry] = []
        let lines = contents[contents.startIndex..<completeLength].split(separator: newline)
        for (index, line) in lines.enumerated() {
            do {
                entries.append(try decoder.decode(Entry.self, from: Data(line)))
            } catch {
                throw BillingError.internalError(
                    "sandbox gateway journal \(fileURL.path) is damaged at line \(index + 1); "
                        + "move it aside to start a fresh sandbox")
            }
        }
        return entries
    }

    /// Appends `entry` as one line and waits until it is on disk.
    func append(_ entry: Entry) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line: [UInt8]
        do {
            line = Array(try encoder.encode(entry))
        } catch {
            throw BillingError.internalError("sandbox gateway cannot encode a journal entry")
        }
        line.append(UInt8(ascii: "\n"))

        let sizeBefore = lseek(fileDescriptor, 0, SEEK_END)
        var bytesWritten = 0
        while bytesWritten < line.count {
            let result = line.withUnsafeBytes { buffer in
                write(fileDescriptor, buffer.baseAddress! + bytesWritten, buffer.count - bytesWritten)
            }
            if result < 0 {
                if errno == EINTR { continue }
                let error = SandboxJournal.systemError("write", path: fileURL.path)
                if sizeBefore >= 0 { _ = ftruncate(fileDescriptor, sizeBefore) }  // no torn line left behind
                throw error
            }
            bytesWritten += result
        }
        if fsync(fileDescriptor) != 0 {
            throw SandboxJournal.systemError("fsync", path: fileURL.path)
        }
    }

    private static func syncDirectory(_ directory: URL) {
        let directoryDescriptor = open(directory.path, O_RDONLY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    private static func systemError(_ operation: String, path: String) -> BillingError {
        let reason = String(cString: strerror(errno))
        return BillingError.internalError("sandbox gateway cannot \(operation) \(path): \(reason)")
    }
}
