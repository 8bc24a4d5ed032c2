import BillingClient
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One mutating request the load sends, with everything needed to send it again under the same key.
/// Card numbers are not kept: a card is named by how the sandbox treats it.
struct Operation: Sendable, Hashable, Codable {
    enum Kind: String, Sendable, Codable {
        /// RecordUsage; the key is the usage id.
        case debit
        /// AddBalance: charges the primary card, credits the wallet, issues a paid invoice.
        case topUp = "top_up"
        /// SetPrimaryPaymentMethod to a card added at set-up.
        case setPrimaryCard = "set_primary_card"
        /// AddPaymentMethod, made primary.
        case addCard = "add_card"
        /// RemovePaymentMethod of a card the load added (perhaps the primary one).
        case removeCard = "remove_card"
        /// CreateSubscription without a trial: invoices and charges the first period at once.
        case subscribe
        /// AdvanceTestClock to `targetMs`: runs every renewal due on the way before it answers.
        case advanceClock = "advance_clock"
    }

    /// The sandbox's test cards the load uses.
    enum TestCard: String, Sendable, Codable {
        case succeeds
        case declinesEveryCharge = "declines_every_charge"

        /// The number, only ever put into a request, never into a log.
        var number: String { self == .succeeds ? "4242424242424242" : "4000000000000341" }

        /// Every card the test adds expires at the end of this year: the latest billingd accepts (this
        /// year on the wall clock plus 30, its `CardDetails.maxYearsUntilExpiry`). Subscribers' cards
        /// are judged on their test clock's date, so this ends the renewals (`SubscriptionFixture`).
        static let expiryYear: Int = {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            return calendar.component(.year, from: Date()) + 30
        }()
    }

    var kind: Kind
    var key: String
    var account: String
    var amountMinor: Int64 = 0
    /// setPrimaryCard, removeCard: the card.
    var paymentMethodID: String = ""
    /// addCard: which test card.
    var card: TestCard = .succeeds
    /// subscribe: the plan and quantity (no trial).
    var plan: String?
    var quantity: Int?
    /// advanceClock: the test clock and where it is moved to (Unix ms).
    var clock: String?
    var targetMs: Int64?
}

/// What a request got back, as far as the checker cares.
struct Outcome: Sendable, Hashable, Codable {
    /// "ok", or the refusal's reason (`card_declined`, `insufficient_funds`, ...).
    var result: String
    var transactionID: String = ""
    var chargeID: String = ""
    var invoiceID: String = ""
    var invoiceNumber: String = ""
    var paymentMethodID: String = ""
    /// RecordUsage's `replayed`.
    var replayed: Bool = false
    /// subscribe: the subscription made (its first invoice and charge are `invoiceID` and `chargeID`).
    var subscriptionID: String?
    /// advanceClock: where the reply says the clock stands, and how many scheduled actions it ran.
    var clockMs: Int64?
    var actionsRun: Int?

    var isOK: Bool { result == "ok" }
}

/// An acknowledged operation: a reply came back, so its outcome is durable (billingd answers only
/// after COMMIT) and must be found, exactly once, in every later state.
struct AcknowledgedOperation: Sendable, Codable {
    var sequence: Int
    var round: Int
    var operation: Operation
    var outcome: Outcome
    /// Whether this reply came from resending an operation whose first reply a kill cut off.
    var resent: Bool
}

/// What sending an operation told us.
enum Sent: Sendable {
    case acknowledged(Outcome)
    /// No definite answer: the kill cut the reply off, or the outcome is pending at the gateway. It may
    /// have happened or not, never twice; it is resent after the restart.
    case unknown(RPCError)
}

extension BillingServiceClient {
    /// Sends `operation` once (the client's own retries are off) and classifies the reply.
    func send(_ operation: Operation) async -> Sent {
        let money = BillingV1.Money(amountMinor: operation.amountMinor, currency: "USD")
        do throws(RPCError) {
            switch operation.kind {
            case .debit:
                let reply = try await recordUsage(.init(
                    accountID: operation.account, usageID: operation.key, category: "sms", amount: money, description: "crash test"))
                return .acknowledged(Outcome(result: "ok", transactionID: reply.transaction?.id ?? "", replayed: reply.replayed))
            case .topUp:
                let reply = try await addBalance(.init(idempotencyKey: operation.key, accountID: operation.account, amount: money))
                return .acknowledged(Outcome(
                    result: "ok", transactionID: reply.transaction?.id ?? "", chargeID: reply.charge?.id ?? "",
                    invoiceID: reply.invoice?.id ?? "", invoiceNumber: reply.invoice?.number ?? ""))
            case .setPrimaryCard:
                let reply = try await setPrimaryPaymentMethod(.init(
                    idempotencyKey: operation.key, accountID: operation.account, paymentMethodID: operation.paymentMethodID))
                return .acknowledged(Outcome(result: "ok", paymentMethodID: reply.paymentMethod?.id ?? ""))
            case .addCard:
                let reply = try await addPaymentMethod(.init(
                    idempotencyKey: operation.key, accountID: operation.account,
                    card: .init(number: operation.card.number, expiryMonth: 12, expiryYear: UInt32(Operation.TestCard.expiryYear), cvc: "123", holderName: "Crash Test"),
                    makePrimary: true))
                return .acknowledged(Outcome(result: "ok", paymentMethodID: reply.paymentMethod?.id ?? ""))
            case .removeCard:
                let reply = try await removePaymentMethod(.init(
                    idempotencyKey: operation.key, accountID: operation.account, paymentMethodID: operation.paymentMethodID))
                return .acknowledged(Outcome(result: "ok", paymentMethodID: reply.removedPaymentMethodID))
            case .subscribe:
                let reply = try await createSubscription(.init(
                    idempotencyKey: operation.key, accountID: operation.account, planID: operation.plan ?? "",
                    quantity: UInt32(operation.quantity ?? 0), trialDays: 0))
                // A declined first charge is an answer too (the subscription is incomplete): the charge says which.
                return .acknowledged(Outcome(
                    result: "ok", chargeID: reply.latestCharge?.id ?? "", invoiceID: reply.latestInvoice?.id ?? "",
                    invoiceNumber: reply.latestInvoice?.number ?? "", subscriptionID: reply.subscription?.id ?? ""))
            case .advanceClock:
                // Its deadline is the client's default (10 s): forty renewals under load take well under one.
                let reply = try await advanceTestClock(.init(
                    idempotencyKey: operation.key, testClockID: operation.clock ?? "", frozenTimeUnixMs: operation.targetMs ?? 0))
                return .acknowledged(Outcome(result: "ok", clockMs: reply.testClock?.frozenTimeUnixMs ?? 0, actionsRun: Int(reply.actionsRun)))
            }
        } catch {
            return Self.isDefiniteRefusal(error) ? .acknowledged(Outcome(result: error.reason)) : .unknown(error)
        }
    }

    /// A refusal the server decided and answered: the request was checked and turned down (or, for
    /// RESOURCE_EXHAUSTED, refused before it was queued), and its key records that or nothing.
    /// Anything else (a cut connection, a deadline, UNAVAILABLE such as `charge_pending`, an internal
    /// error) leaves the outcome unknown, and the operation is resent.
    static func isDefiniteRefusal(_ error: RPCError) -> Bool {
        [StatusCode.invalidArgument, .notFound, .failedPrecondition, .alreadyExists, .resourceExhausted].contains(error.code)
    }
}

/// The acknowledged-operations log: one JSON line per acknowledged operation, written and fsync'd
/// before the worker that got the reply starts its next operation, so the file says exactly what the
/// server had acknowledged whenever the kill landed. The checker reads the same records from memory.
final class OperationLog: Sendable {
    private let descriptor: Int32
    /// Held while a record is written, so lines never interleave and sequence numbers follow the file.
    private let records = Mutex<[AcknowledgedOperation]>([])
    let path: String

    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw CrashTestError("cannot create \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(descriptor) }

    /// Appends and fsyncs one record; returns it with its sequence number.
    @discardableResult
    func append(round: Int, operation: Operation, outcome: Outcome, resent: Bool) throws -> AcknowledgedOperation {
        try records.withLock { records in
            let record = AcknowledgedOperation(sequence: records.count + 1, round: round, operation: operation, outcome: outcome, resent: resent)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var line = Array(try encoder.encode(record))
            line.append(UInt8(ascii: "\n"))
            var written = 0
            while written < line.count {
                let result = line.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else { throw CrashTestError("cannot write \(path): \(String(cString: strerror(errno)))") }
                written += result
            }
            guard fsync(descriptor) == 0 else { throw CrashTestError("cannot fsync \(path): \(String(cString: strerror(errno)))") }
            records.append(record)
            return record
        }
    }

    var all: [AcknowledgedOperation] { records.withLock { $0 } }
}
