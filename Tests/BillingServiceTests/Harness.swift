import BillingClient
import BillingDomain
import BillingLocking
import BillingSandbox
import BillingServer
import BillingService
import BillingStore
import BillingStorePostgres
import Foundation
import InvoiceRendering
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The billing service as `billingd` runs it (store, sandbox gateway, handlers, server), on a real
/// socket and a real SQLite file in a temporary directory. `restart()` keeps the directory.
///
/// With `BILLING_TEST_POSTGRES` set to a database URL (`make test-postgres`), the store is that
/// PostgreSQL database instead, in a schema of the harness's own that `finish()` drops: the same tests,
/// the other engine.
final class BillingHarness: Sendable {
    let directory: String
    var socketPath: String { directory + "/billingd.sock" }
    var databasePath: String { directory + "/billing.sqlite3" }
    /// The PostgreSQL database the suite runs on, if one was named; nil runs it on SQLite.
    static let postgresURL = ProcessInfo.processInfo.environment["BILLING_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    /// The folder of that database's cluster (scripts/postgres-cluster.sh), for the test that stops and
    /// starts it; set only by the one-test-at-a-time run of scripts/test-postgres.sh.
    static let postgresCluster = ProcessInfo.processInfo.environment["BILLING_TEST_POSTGRES_CLUSTER"].flatMap { $0.isEmpty ? nil : $0 }
    /// This harness's schema in it (shared with the first daemon's harness when `sharingStoreWith` one).
    let postgresSchema: String
    /// Whether `finish()` drops the schema: the harness that made it does.
    private let ownsSchema: Bool
    /// The sandbox gateway's records: the directory's own, or the first daemon's when sharing its store.
    let gatewayDirectory: URL

    private struct Running: Sendable {
        var server: RPCServer
        var store: Store
        var gateway: FlakyGateway
        var provider: SandboxProvider
        var billing: Billing
    }

    private let running = Locked<Running?>(nil)
    let clock: TestClock
    private let gatewayLookUpLag: Duration
    private let walletPolicy: WalletPolicy
    private let limits: MoneyLimits
    private let subscriptionPolicy: SubscriptionPolicy
    private let allowsTestClocks: Bool
    /// Every line the server logs, at every level, when given: for tests that read the logs.
    let logLines: LogCapture?
    /// Who may call the server.
    private let access: AccessPolicy

    /// - Parameter gatewayLookUpLag: how long the gateway says its look-ups may miss a charge (the
    ///   sandbox's is zero; a real processor's is longer).
    init(
        clock: TestClock = TestClock(), gatewayLookUpLag: Duration = .zero, walletPolicy: WalletPolicy = WalletPolicy(),
        limits: MoneyLimits = MoneyLimits(), logLines: LogCapture? = nil, access: AccessPolicy = AccessPolicy(),
        subscriptionPolicy: SubscriptionPolicy = SubscriptionPolicy(), allowsTestClocks: Bool = true,
        sharingStoreWith firstDaemon: BillingHarness? = nil
    ) async throws {
        var template = Array("/tmp/billing-svc-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        // A second daemon on the first one's PostgreSQL schema and sandbox gateway records: what two
        // billingd on one database share. Its socket, server and domain objects are its own.
        postgresSchema = firstDaemon?.postgresSchema ?? "test_" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
        ownsSchema = firstDaemon == nil
        gatewayDirectory = firstDaemon?.gatewayDirectory ?? URL(fileURLWithPath: directory + "/sandbox-gateway")
        self.clock = clock
        self.gatewayLookUpLag = gatewayLookUpLag
        self.walletPolicy = walletPolicy
        self.limits = limits
        self.subscriptionPolicy = subscriptionPolicy
        self.allowsTestClocks = allowsTestClocks
        self.logLines = logLines
        self.access = access
        try await start()
    }

    var gateway: FlakyGateway { running.withLock { $0!.gateway } }
    var provider: SandboxProvider { running.withLock { $0!.provider } }

    /// The domain the server runs, for setting up what a test's callers may not do themselves.
    var billing: Billing { running.withLock { $0!.billing } }

    /// Starts the service on the directory's database, as `billingd` does: open, reconcile, serve.
    @discardableResult
    func start() async throws -> Billing.Upkeep {
        let store = try await openStore()
        let clock = clock
        let sandbox = try SandboxGateway(directory: gatewayDirectory, now: { clock.now })
        let gateway = FlakyGateway(wrapping: sandbox, lookUpLag: gatewayLookUpLag)
        let context = BillingContext(
            store: store, gateway: gateway, now: { clock.now }, invoicing: try Self.invoicing(), limits: limits, catalog: try Self.catalog(),
            subscriptionPolicy: subscriptionPolicy, allowsTestClocks: allowsTestClocks, instanceName: socketPath)
        let provider = try SandboxProvider(directory: URL(fileURLWithPath: directory + "/sandbox-provider"))
        let billing = Billing(context: context, walletPolicy: walletPolicy, fulfilment: provider)
        let prepared = try await billing.prepare()
        var logger = logLines.map { capture in Logger(label: "billing-test") { _ in capture.handler() } } ?? Logger(label: "billing-test")
        logger.logLevel = logLines == nil ? .critical : .trace
        var configuration = ServerConfiguration(socketPath: socketPath)
        configuration.access = access
        let server = RPCServer(configuration: configuration, services: [BillingHandlers(billing: billing)], logger: logger)
        try server.start()
        running.withLock { $0 = Running(server: server, store: store, gateway: gateway, provider: provider, billing: billing) }
        return prepared
    }

    /// The harness's database, opened afresh: the SQLite file, or its schema of the PostgreSQL database.
    func openStore() async throws -> Store {
        guard let url = Self.postgresURL else { return try await Store.open(path: databasePath, migrations: BillingSchema.migrations) }
        var location = try PostgresLocation(url: url)
        location.schema = postgresSchema
        return try await Store.open(postgres: location, migrations: BillingSchema.migrations)
    }

    /// The seller identity billingd would get from its flags (`--seller-name`, …).
    static func invoicing() throws -> InvoiceSettings {
        try InvoiceSettings(
            seller: .init(legalName: "Acme Cloud Ltd", addressLines: ["1 Dock Road", "London E1 1AA", "United Kingdom"],
                          taxID: "GB123456789"),
            numberPrefix: "INV", renderer: try InvoiceRenderer(fonts: .dejaVuSans))
    }

    /// The repository's plan catalog, as `make run` loads it.
    static func catalog() throws -> PlanCatalog {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try PlanCatalog.load(contentsOf: repository.appendingPathComponent("catalog/plans.json"))
    }

    /// What billingd does every minute while it runs.
    func maintain() async throws -> Billing.Upkeep {
        try await running.withLock { $0!.billing }.maintain()
    }

    /// Stops the server and closes the store, as SIGTERM does.
    func stop() async {
        guard let current = running.withLock({ state -> Running? in defer { state = nil }; return state }) else { return }
        await current.server.shutdown()
        await current.store.close()
    }

    func restart() async throws -> Billing.Upkeep {
        await stop()
        return try await start()
    }

    /// Runs `body` in a write transaction on a store of its own (closed after), for rows a test plants
    /// as a stopped daemon would have left them. On SQLite the harness must be stopped first.
    func writeThroughOwnStore(_ body: @escaping @Sendable (WriteTransaction) throws -> Void) async throws {
        let store = try await openStore()
        do {
            try await store.write(body)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    /// Writes what a top-up's first transaction writes (`ChargeLifecycle.recordPending`) and nothing
    /// after it: a pending 25.00 USD charge on `card` that the daemon named `recordedBy` never sent, as a
    /// stop between recording and sending leaves it.
    func insertUnsentTopUp(id: String, accountID: String, card: BillingV1.PaymentMethod, recordedBy: String) async throws {
        let now = Int64(clock.now.timeIntervalSince1970 * 1000)
        try await writeThroughOwnStore { tx in
            try tx.execute("""
                INSERT INTO charges(id, account_id, amount_minor, currency, status, payment_method_id, card_brand, card_last4,
                                    description, purpose, created_at_ms, recorded_at_ms, recorded_by)
                VALUES (?, ?, 2500, 'USD', 'pending', ?, 'visa', ?, 'Wallet funds', 'wallet_top_up', ?, ?, ?)
                """, .text(id), .text(accountID), .text(card.id), .text(card.last4), .integer(now), .integer(now), .text(recordedBy))
        }
    }

    func client() -> BillingServiceClient {
        BillingServiceClient(rawClient())
    }

    /// A client of raw payloads, for what the typed client would never send. The default deadline is
    /// generous, and covers watches too: under ThreadSanitizer, with the whole suite running beside it on
    /// two cores, a call can take seconds. Tests about deadlines give their own.
    func rawClient() -> RPCClient {
        var configuration = ClientConfiguration(socketPath: socketPath)
        configuration.defaultTimeout = .seconds(60)
        return RPCClient(configuration: configuration)
    }

    func finish() async {
        await stop()
        if Self.postgresURL != nil, ownsSchema, let store = try? await openStore() {
            _ = try? await store.write { [postgresSchema] tx in try tx.execute("DROP SCHEMA \(postgresSchema) CASCADE") }
            await store.close()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A wall clock tests can set: card expiry and due dates depend on it.
final class TestClock: Sendable {
    private let current = Locked(Date(timeIntervalSince1970: 1_795_000_000))  // 2026-11-19
    var now: Date { current.withLock { $0 } }
    func advance(by seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

/// The sandbox gateway, with the failures a real processor has: a reply lost after the charge was made,
/// a look-up that lags behind the charges, and a gateway that cannot be reached at all (not even to
/// look a charge up).
actor FlakyGateway: PaymentGateway {
    enum Mode: Sendable, Equatable {
        case healthy
        /// Charges are made but the reply never arrives, and lookups fail: the caller cannot know.
        case chargesThenGoesDark
        /// Charges are made but the reply is lost, and look-ups do not find them yet (a processor
        /// whose search lags): a caller that took "not found" for "not charged" would charge twice.
        case losesAnswersLooksUpLate
        /// Nothing reaches the gateway: no charge is made, and lookups fail too.
        case down
        /// Every charge is declined with this code, whatever the card (a card that starts declining);
        /// the declines are remembered under their keys, as a processor does.
        case declines(code: String)
    }

    private let sandbox: SandboxGateway
    private var mode = Mode.healthy
    private(set) var chargeCalls = 0
    private var declined: [String: GatewayCharge] = [:]
    nonisolated let lookUpLag: Duration

    init(wrapping sandbox: SandboxGateway, lookUpLag: Duration = .zero) {
        self.sandbox = sandbox
        self.lookUpLag = lookUpLag
    }

    func setMode(_ mode: Mode) { self.mode = mode }

    /// Delays every call to the sandbox by `latency`.
    func setLatency(_ latency: Duration) async { await sandbox.setLatency(latency) }

    /// Charges the sandbox actually made (replays of a gateway key are not counted).
    var executedCharges: Int { get async { await sandbox.executedChargeCount } }

    func tokenize(_ card: CardDetails) async throws -> GatewayCard {
        try await sandbox.tokenize(card)
    }

    func charge(token: String, amount: Money, idempotencyKey: String, description: String) async throws -> GatewayCharge {
        if mode == .down { throw BillingError.unavailable("the payment gateway cannot be reached") }
        chargeCalls += 1
        if let earlier = declined[idempotencyKey] { return earlier }
        if case .declines(let code) = mode {
            let charge = GatewayCharge(
                reference: "ch_flaky_\(chargeCalls)", status: .failed, amount: amount, failureCode: code, failureMessage: "Declined by the test gateway.")
            declined[idempotencyKey] = charge
            return charge
        }
        let result = try await sandbox.charge(token: token, amount: amount, idempotencyKey: idempotencyKey, description: description)
        if mode == .chargesThenGoesDark || mode == .losesAnswersLooksUpLate { throw BillingError.unavailable("the payment gateway timed out") }
        return result
    }

    func lookUpCharge(idempotencyKey: String) async throws -> GatewayCharge? {
        if let earlier = declined[idempotencyKey] { return earlier }
        switch mode {
        case .healthy, .declines: return try await sandbox.lookUpCharge(idempotencyKey: idempotencyKey)
        case .losesAnswersLooksUpLate: return nil
        case .chargesThenGoesDark, .down: throw BillingError.unavailable("the payment gateway cannot be reached")
        }
    }
}

/// Test cards (Stripe's numbers).
enum TestCard {
    static let succeeds = "4242 4242 4242 4242"
    /// Declined when attached (the sandbox verifies cards, as Stripe does).
    static let declinedOnAttach = "4000 0000 0000 0002"
    /// Attaches, then every charge is declined.
    static let declined = "4000 0000 0000 0341"
    static let insufficientFunds = "4000 0000 0000 9995"

    static func input(_ number: String, expiryYear: UInt32 = 2030, cvc: String = "123") -> BillingV1.CardInput {
        BillingV1.CardInput(number: number, expiryMonth: 12, expiryYear: expiryYear, cvc: cvc, holderName: "Ada Lovelace")
    }
}

func key() -> String { UUID().uuidString }

extension BillingServiceClient {
    /// An account with complete US billing information.
    func readyAccount(currency: String = "USD", card: String? = TestCard.succeeds) async throws -> String {
        let account = try await createAccount(BillingV1.CreateAccountRequest(idempotencyKey: key(), displayName: "Acme Inc", currency: currency)).account!
        _ = try await updateBillingInformation(BillingV1.UpdateBillingInformationRequest(
            idempotencyKey: key(), accountID: account.id, fullName: "Ada Lovelace", countryCode: "US",
            address: BillingV1.BillingAddress(lines: ["1 Main St"], city: "Springfield", region: "IL", postalCode: "62701")))
        if let card {
            _ = try await addPaymentMethod(BillingV1.AddPaymentMethodRequest(idempotencyKey: key(), accountID: account.id, card: TestCard.input(card)))
        }
        return account.id
    }

    /// An open invoice of `amountMinor` USD.
    func openInvoice(_ accountID: String, amountMinor: Int64 = 12_345, currency: String = "USD") async throws -> BillingV1.Invoice {
        let draft = try await createInvoice(BillingV1.CreateInvoiceRequest(
            idempotencyKey: key(), accountID: accountID,
            lines: [BillingV1.InvoiceLineInput(description: "Pro plan", quantity: 1, unitAmount: BillingV1.Money(amountMinor: amountMinor, currency: currency))],
            daysUntilDue: 14)).invoice!
        return try await finalizeInvoice(BillingV1.InvoiceActionRequest(idempotencyKey: key(), accountID: accountID, invoiceID: draft.id)).invoice!
    }
}

/// Runs `body` and returns the RPCError it threw; records an issue when it did not throw.
func rpcError(_ body: () async throws -> Void) async -> RPCError? {
    do {
        try await body()
        return nil
    } catch let error as RPCError {
        return error
    } catch {
        return RPCError(.unknown, "\(error)")
    }
}

/// The lines a logger wrote, message and metadata, kept for a test to read.
final class LogCapture: Sendable {
    private let lines = Locked<[String]>([])
    var all: [String] { lines.withLock { $0 } }

    func handler() -> some LogHandler { Handler(capture: self) }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            capture.lines.withLock { $0.append("\(event.level) \(event.message) \(all) \(event.error.map { "\($0)" } ?? "")") }
        }
    }
}
