import ArgumentParser
import BillingDomain
import BillingSandbox
import BillingServer
import BillingService
import BillingStore
import BillingStorePostgres
import CMalloc
import Dispatch
import Foundation
import InvoiceRendering
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// `billingd`: the billing service daemon. Parses its flags, sets up logging and metrics, wires the
/// services to the RPC server, and shuts down gracefully on SIGTERM or SIGINT.
@main
struct Billingd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "billingd",
        abstract: "The billing service: accounts, payments, wallets and subscriptions over a Unix-socket RPC protocol."
    )

    @Option(help: "Unix socket to listen on.")
    var socket = "data/billingd.sock"

    @Option(help: ArgumentHelp(
        "SQLite database file, created on first start; or a PostgreSQL database, several billingd sharing it: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or postgres://USER@/DATABASE?host=/socket/folder (docs/OPERATIONS.md).",
        valueName: "path-or-url"))
    var database = "data/billing.sqlite3"

    @Option(help: "Folder of the built-in sandbox payment gateway's records (default: sandbox-gateway beside the SQLite database, or beside the socket with PostgreSQL; daemons sharing a PostgreSQL database share it too).")
    var gatewayDirectory: String?

    @Option(help: "Unix socket serving Prometheus metrics over HTTP (GET /metrics); \"\" turns it off.")
    var metricsSocket = "data/metrics.sock"

    @Option(help: "Permission bits of the socket files, in octal.")
    var socketMode = "660"

    @Option(name: .customLong("allow-uid"), help: "A user id allowed to call (repeatable). With no --allow-uid or --allow-gid, everyone who can open the socket may call.")
    var allowedUserIDs: [UInt32] = []

    @Option(name: .customLong("read-only-uid"), help: "A user id allowed to call the methods that only read (repeatable); it may never move money or change an account.")
    var readOnlyUserIDs: [UInt32] = []

    @Option(name: .customLong("read-only-gid"), help: "A group id allowed to call the methods that only read (repeatable).")
    var readOnlyGroupIDs: [UInt32] = []

    @Option(name: .customLong("allow-gid"), help: "A group id allowed to call (repeatable).")
    var allowedGroupIDs: [UInt32] = []

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Largest frame payload accepted, in bytes; a larger frame is answered and ends its connection.")
    var maxFrameBytes = ServerLimits().maxFramePayloadBytes

    @Option(help: "Bytes held for frames not yet arrived whole (each at its declared size), across all connections; past it, the connection that would pass it is closed.")
    var maxPartialFrameBytes = ServerLimits().maxBufferedInboundBytes

    @Option(help: "Largest call metadata accepted, in bytes.")
    var maxMetadataBytes = ServerLimits().maxMetadataBytes

    @Option(help: "Calls in flight per connection.")
    var maxCallsPerConnection = ServerLimits().maxCallsInFlightPerConnection

    @Option(help: "Open connections.")
    var maxConnections = ServerLimits().maxConnections

    @Option(help: "New connections accepted per second; more wait in the listen backlog (0: no limit).")
    var maxNewConnectionsPerSecond = ServerLimits().maxNewConnectionsPerSecond

    @Option(help: "Unsent reply bytes per connection before the server stops reading from it.")
    var maxBufferedBytesPerConnection = ServerLimits().maxBufferedOutboundBytesPerConnection

    @Option(help: "Unsent reply bytes across all connections; past it, the server stops reading every connection holding more than 64 KiB of them.")
    var maxBufferedBytes = ServerLimits().maxBufferedOutboundBytes

    @Option(help: "Seconds a connection with no calls may stay idle.")
    var idleTimeoutSeconds = 300

    @Option(help: "Seconds calls in flight may take to finish after SIGTERM.")
    var shutdownGraceSeconds = 10

    @Option(help: "The largest single amount (charge, top-up, usage debit, invoice line or total, recharge amount or threshold), in minor units.")
    var maxAmountMinor = MoneyLimits.defaultMaxAmountMinor

    @Option(help: "Wallets kept in memory; past it, idle ones are dropped (least recently used first) and reloaded on next use.")
    var maxLoadedWallets = WalletPolicy().maxLoadedWallets

    @Option(help: "With PostgreSQL: connections that commit batches of writes at once (1–32). More overlap their round trips; as serializable transactions they may conflict and retry.")
    var postgresWriters = PostgresStoreConfiguration().writerCount

    @Option(help: ArgumentHelp("With PostgreSQL: this daemon's name among those sharing the database, kept across its restarts and never used by two at once; charges record it, and start-up settles as abandoned only this daemon's own (default: host name and socket path).", valueName: "name"))
    var instanceName: String?

    // Invoices are legal documents: who issues them is configuration, with no default in code.
    // `make run` passes development values that say so on every page.

    @Option(help: ArgumentHelp("The seller's registered legal name, printed on every invoice (required).", valueName: "name"))
    var sellerName: String?

    @Option(name: .customLong("seller-address"), help: ArgumentHelp("One line of the seller's postal address, country last (required; repeat for each line, at most \(InvoiceSettings.maxAddressLines)).", valueName: "line"))
    var sellerAddressLines: [String] = []

    @Option(help: ArgumentHelp("The seller's tax or VAT number, printed as \"Tax ID\" (required).", valueName: "number"))
    var sellerTaxId: String?

    @Option(help: ArgumentHelp("Invoice numbers are this prefix, a dash and a six-digit sequence (required; ASCII letters and digits). Each prefix has its own sequence: a new prefix starts again at 1.", valueName: "prefix"))
    var invoiceNumberPrefix: String?

    @Option(help: ArgumentHelp("The plan catalog (JSON). Default: catalog/plans.json if it exists; without one no plan is on offer.", valueName: "file"))
    var catalog: String?

    @Option(help: ArgumentHelp("Folder of the built-in sandbox fulfilment provider's records (default: sandbox-provider beside the database).", valueName: "folder"))
    var providerDirectory: String?

    @Option(help: ArgumentHelp("Days after a failed subscription payment at which it is retried, comma-separated.", valueName: "days"))
    var dunningRetryDays = "1,3,5,7"

    @Option(help: ArgumentHelp("What a subscription becomes when its payment retries run out: unpaid (kept, fulfilment suspended, renewals go on) or canceled.", valueName: "status"))
    var dunningFinalStatus = "unpaid"

    @Option(help: "Seconds between two runs of the subscription schedule (renewals, retries, trial ends, expiries).")
    var renewalIntervalSeconds = 1

    @Option(help: "TrueType font for invoice text; it must have every script your customers write in.")
    var invoiceFont = InvoiceFonts.dejaVuSans.regularPath

    @Option(help: "TrueType font for invoice titles and totals.")
    var invoiceBoldFont = InvoiceFonts.dejaVuSans.boldPath

    func validate() throws {
        guard mode_t(socketMode, radix: 8) != nil else { throw ValidationError("--socket-mode must be octal, for example 660") }
        guard maxFrameBytes >= 1024, maxFrameBytes <= 64 * 1024 * 1024 else { throw ValidationError("--max-frame-bytes must be between 1 KiB and 64 MiB") }
        guard maxPartialFrameBytes >= maxFrameBytes else { throw ValidationError("--max-partial-frame-bytes must be at least --max-frame-bytes") }
        guard maxConnections > 0, maxNewConnectionsPerSecond >= 0, maxCallsPerConnection > 0, maxBufferedBytes > 0, idleTimeoutSeconds > 0,
            shutdownGraceSeconds >= 0, maxLoadedWallets > 0
        else {
            throw ValidationError("limits must be positive")
        }
        guard (1...32).contains(postgresWriters) else { throw ValidationError("--postgres-writers must be between 1 and 32") }
        if let instanceName, instanceName.isEmpty || instanceName.utf8.count > 256 || instanceName.contains("\0") {
            throw ValidationError("--instance-name must be 1 to 256 bytes without NUL")
        }
        guard (1...MoneyLimits.ceilingMaxAmountMinor).contains(maxAmountMinor) else {
            throw ValidationError("--max-amount-minor must be between 1 and \(MoneyLimits.ceilingMaxAmountMinor)")
        }
        _ = try invoiceSettings()
        _ = try subscriptionPolicy()
        guard renewalIntervalSeconds > 0 else { throw ValidationError("--renewal-interval-seconds must be positive") }
    }

    /// The kernel's host name (`gethostname`): unlike Foundation's `hostName`, it asks no name server,
    /// so start-up never waits on DNS.
    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    private func subscriptionPolicy() throws -> SubscriptionPolicy {
        var policy = SubscriptionPolicy()
        let days = dunningRetryDays.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !days.isEmpty, days.count <= 10, days.allSatisfy({ ($0 ?? 0) > 0 && ($0 ?? 0) <= 60 }),
            zip(days, days.dropFirst()).allSatisfy({ $0! < $1! })
        else { throw ValidationError("--dunning-retry-days must be 1 to 10 increasing whole days between 1 and 60, like 1,3,5,7") }
        policy.retryDelays = days.map { .seconds(Int64($0!) * 86_400) }
        guard let final = SubscriptionPolicy.FinalStatus(rawValue: dunningFinalStatus) else {
            throw ValidationError("--dunning-final-status must be unpaid or canceled")
        }
        policy.finalStatus = final
        return policy
    }

    /// The catalog named by --catalog, or catalog/plans.json in the working folder, or none.
    private func planCatalog(limits: MoneyLimits, logger: Logger) throws -> PlanCatalog {
        let path = catalog ?? "catalog/plans.json"
        guard catalog != nil || FileManager.default.fileExists(atPath: path) else {
            logger.notice("no plan catalog (catalog/plans.json, or --catalog): no plan is on offer")
            return try PlanCatalog(plans: [], limits: limits)
        }
        do {
            return try PlanCatalog.load(contentsOf: URL(fileURLWithPath: path), limits: limits)
        } catch {
            throw ValidationError("--catalog: \(error)")
        }
    }

    /// The seller identity and invoice fonts from the flags, checked: a missing flag, a bad prefix or
    /// an unreadable font stops billingd at start-up with a message naming the flag or file.
    private func invoiceSettings() throws -> InvoiceSettings {
        guard let sellerName, let sellerTaxId, let invoiceNumberPrefix, !sellerAddressLines.isEmpty else {
            throw ValidationError("""
                invoices need the seller's identity: give --seller-name, --seller-address (once per line), \
                --seller-tax-id and --invoice-number-prefix (see docs/OPERATIONS.md; `make run` passes development values)
                """)
        }
        let renderer: InvoiceRenderer
        do {
            renderer = try InvoiceRenderer(fonts: InvoiceFonts(regularPath: invoiceFont, boldPath: invoiceBoldFont))
        } catch {
            throw ValidationError("--invoice-font/--invoice-bold-font: \(error.message) (Debian: apt-get install fonts-dejavu-core)")
        }
        do {
            return try InvoiceSettings(
                seller: .init(legalName: sellerName, addressLines: sellerAddressLines, taxID: sellerTaxId),
                numberPrefix: invoiceNumberPrefix, renderer: renderer)
        } catch {
            let flag = ["seller.legal_name": "--seller-name", "seller.address": "--seller-address", "seller.tax_id": "--seller-tax-id",
                        "invoice_number_prefix": "--invoice-number-prefix"][error.field ?? ""] ?? "the seller flags"
            throw ValidationError("\(flag): \(error.message)")
        }
    }

    func run() async throws {
        // Frames up to the frame limit are buffered while they arrive. Allocations that large come from
        // mmap and go back to the system when freed; glibc would otherwise raise its mmap threshold after
        // the first free and keep later ones in the heap, and resident memory ratcheted after a burst.
        _ = billing_mmap_allocations_from(256 * 1024)
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "billingd")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let postgres = PostgresLocation.isURL(database) ? try PostgresLocation(url: database) : nil
        for path in [socket, postgres == nil ? database : "", metricsSocket] where !path.isEmpty { try makeParentDirectory(of: path) }

        var configuration = ServerConfiguration(socketPath: socket)
        configuration.socketMode = mode_t(socketMode, radix: 8)!
        configuration.access = AccessPolicy(
            allowedUserIDs: Set(allowedUserIDs), allowedGroupIDs: Set(allowedGroupIDs),
            readOnlyUserIDs: Set(readOnlyUserIDs), readOnlyGroupIDs: Set(readOnlyGroupIDs))
        configuration.limits.maxFramePayloadBytes = maxFrameBytes
        configuration.limits.maxBufferedInboundBytes = maxPartialFrameBytes
        configuration.limits.maxMetadataBytes = maxMetadataBytes
        configuration.limits.maxCallsInFlightPerConnection = maxCallsPerConnection
        configuration.limits.maxConnections = maxConnections
        configuration.limits.maxNewConnectionsPerSecond = maxNewConnectionsPerSecond
        configuration.limits.maxBufferedOutboundBytesPerConnection = maxBufferedBytesPerConnection
        configuration.limits.maxBufferedOutboundBytes = maxBufferedBytes
        configuration.limits.idleTimeout = .seconds(idleTimeoutSeconds)
        configuration.shutdownGracePeriod = .seconds(shutdownGraceSeconds)

        // The store first: migrations run inside a transaction before anything is served.
        let onStoreEvent: @Sendable (StoreEvent) -> Void = { [logger] event in logStorageEvent(event, to: logger) }
        let store: Store
        if let postgres {
            var storeConfiguration = PostgresStoreConfiguration()
            storeConfiguration.onEvent = onStoreEvent
            storeConfiguration.writerCount = postgresWriters
            store = try await Store.open(postgres: postgres, migrations: BillingSchema.migrations, configuration: storeConfiguration)
        } else {
            var storeConfiguration = Store.Configuration()
            storeConfiguration.onEvent = onStoreEvent
            store = try await Store.open(path: database, migrations: BillingSchema.migrations, configuration: storeConfiguration)
        }
        let dataFolder = URL(fileURLWithPath: postgres == nil ? database : socket).deletingLastPathComponent()
        let gatewayFolder = gatewayDirectory ?? dataFolder.appendingPathComponent("sandbox-gateway").path
        let gateway = try SandboxGateway(directory: URL(fileURLWithPath: gatewayFolder))
        let providerFolder = providerDirectory ?? dataFolder.appendingPathComponent("sandbox-provider").path
        let provider = try SandboxProvider(directory: URL(fileURLWithPath: providerFolder))
        var walletPolicy = WalletPolicy()
        walletPolicy.maxLoadedWallets = maxLoadedWallets
        let limits = MoneyLimits(maxAmountMinor: maxAmountMinor)
        // Test clocks only beside the sandbox gateway: with a real processor they would bill real cards
        // on a made-up time.
        let billing = Billing(
            context: BillingContext(
                store: store, gateway: gateway, invoicing: try invoiceSettings(), limits: limits, catalog: try planCatalog(limits: limits, logger: logger),
                subscriptionPolicy: try subscriptionPolicy(), allowsTestClocks: true,
                instanceName: instanceName ?? Self.hostName() + ":" + URL(fileURLWithPath: socket).standardizedFileURL.path),
            walletPolicy: walletPolicy, fulfilment: provider)
        // Charges a crash left pending are settled before the first call, so wallets load settled balances.
        let prepared = try await prepareRetryingConflicts(billing, logger: logger)
        logger.info("store ready", metadata: ["reconciled_charges": "\(prepared.reconciledCharges)", "purged_idempotency_keys": "\(prepared.purgedKeys)"])

        // One service group: SIGTERM or SIGINT shuts every service down gracefully (the server drains
        // its calls), then the store closes.
        let server = RPCServer(configuration: configuration, services: [BillingHandlers(billing: billing)], logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: UpkeepService(billing: billing, interval: .seconds(60), logger: logger), successTerminationBehavior: .ignore),
            .init(service: RenewalService(billing: billing, interval: .seconds(renewalIntervalSeconds), logger: logger), successTerminationBehavior: .ignore),
            .init(service: RPCServerService(server: server), successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        if !metricsSocket.isEmpty {
            let endpoint = MetricsEndpoint(registry: registry, path: metricsSocket, mode: configuration.socketMode, logger: logger)
            services.insert(.init(service: MetricsService(endpoint: endpoint), successTerminationBehavior: .ignore), at: 0)
        }
        var group = ServiceGroupConfiguration(services: services, logger: logger)
        group.gracefulShutdownSignals = [.sigterm, .sigint]
        print("billingd listening on \(socket) (database \(postgres?.description ?? database)\(metricsSocket.isEmpty ? "" : ", metrics on \(metricsSocket)"))")
        fflush(nil)
        try await ServiceGroup(configuration: group).run()
        await store.close()
        let writes = store.statistics
        logger.notice("store closed", metadata: [
            "transactions_committed": "\(writes.transactionsCommitted)", "writes_committed": "\(writes.writesCommitted)",
            "writes_rolled_back": "\(writes.writesRolledBack)", "largest_batch": "\(writes.largestBatch)",
            "transactions_failed": "\(writes.transactionsFailed)", "writes_failed": "\(writes.writesFailed)",
            "storage_failures": "\(writes.storageFailures)", "transactions_retried": "\(writes.transactionsRetried)",
        ])
    }

    private func makeParentDirectory(of path: String) throws {
        guard let slash = path.lastIndex(of: "/") else { return }
        let directory = String(path[..<slash])
        guard !directory.isEmpty else { return }
        var current = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            current += "/\(component)"
            if mkdir(current, 0o750) != 0 && errno != EEXIST {
                throw ValidationError("cannot create the folder \(current) for \(path)")
            }
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `billing.prepare()`, again after a conflict with other daemons' writes (PostgreSQL): start-up
/// reconciliation settles charges through wallet rows a busy daemon beside it updates all the time, and a
/// conflict stored nothing, so trying again is safe. A daemon exited at start-up on it (docs/RELIABILITY.md).
private func prepareRetryingConflicts(_ billing: Billing, logger: Logger) async throws -> Billing.Upkeep {
    for attempt in 1... {
        do {
            return try await billing.prepare()
        } catch let error as StoreError where error.kind == .conflict && attempt < 10 {
            logger.warning("start-up conflicted with other daemons' writes; trying again", metadata: ["attempt": "\(attempt)"])
            try await Task.sleep(for: .milliseconds(100 * attempt))
        }
    }
    preconditionFailure("unreachable: the loop returns or throws")
}

/// One error line when the disk starts refusing writes (naming the cause), one notice when writes succeed
/// again: an episode of hundreds of failed writes is two lines, not hundreds (docs/OPERATIONS.md).
/// The store's errors carry SQL texts with placeholders and never argument values.
private func logStorageEvent(_ event: StoreEvent, to logger: Logger) {
    switch event {
    case .storageFailed(let error):
        let cause = switch error.storageFault {
        case .full: "disk full"
        default: "I/O error (\(error.resultCode))"
        }
        var metadata: Logger.Metadata = [
            "cause": "\(cause)", "result_code": "\(error.resultCode)", "operation": "\(error.operation)",
            "store_message": "\(error.message)",
        ]
        if error.systemErrorNumber != 0 { metadata["errno"] = "\(error.systemErrorNumber)" }
        logger.error("store writes are failing: \(cause); writes are refused until it is fixed, reads are still served", metadata: metadata)
    case .storageRecovered(let failedWrites):
        logger.notice("store writes succeed again", metadata: ["writes_refused_meanwhile": "\(failedWrites)"])
    }
}
