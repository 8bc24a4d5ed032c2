import ArgumentParser
import BillingClient
import Foundation
import Histogram
import Synchronization

/// `billing-load`: drives a running billingd over its socket with a mix of calls, for a bounded time,
/// and prints calls per second, latency percentiles (HdrHistogram) and errors by status code.
@main
struct BillingLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "billing-load",
        abstract: "Load generator for billingd: connections × calls in flight, a weighted mix of RPCs, bounded in time and count.")

    @Option(help: "billingd's socket.")
    var socket = "data/billingd.sock"

    @Option(help: "Connections to open.")
    var connections = 1

    @Option(help: "Calls in flight per connection.")
    var inFlight = 1

    @Option(help: "Weighted mix, for example health=1,get-wallet=2,record-usage=5 (also: add-balance, list-transactions).")
    var mix = "health=1"

    @Option(help: "Accounts to create first and spread calls over.")
    var accounts = 1

    @Option(help: "Seconds to measure (after the warm-up).")
    var seconds = 5.0

    @Option(help: "Seconds of warm-up whose calls are not counted.")
    var warmup = 1.0

    @Option(help: "Stop after this many measured calls (0: no limit).")
    var count = 0

    @Option(help: "Instead of a load: open this many connections, make one health check on each, and hold them idle for --seconds (for measuring the server's memory).")
    var holdIdle = 0

    @Option(help: "The server's process id: its CPU time per call is reported beside billing-load's own (from /proc/PID/stat).")
    var serverPID: Int32?

    @Flag(help: "Print one JSON object instead of a table.")
    var json = false

    @Flag(help: "No live progress line.")
    var quiet = false

    func validate() throws {
        guard (1...1024).contains(connections) else { throw ValidationError("--connections must be 1...1024") }
        guard (1...256).contains(inFlight) else { throw ValidationError("--in-flight must be 1...256 (the server's per-connection limit)") }
        guard (0...10_000).contains(holdIdle) else { throw ValidationError("--hold-idle must be 0...10000") }
        guard (1...100_000).contains(accounts) else { throw ValidationError("--accounts must be 1...100000") }
        guard seconds > 0, seconds <= 600, warmup >= 0, warmup <= 60 else { throw ValidationError("--seconds must be in (0, 600], --warmup in [0, 60]") }
        if let serverPID, ProcessCPU.seconds(of: serverPID) == nil { throw ValidationError("--server-pid: cannot read /proc/\(serverPID)/stat") }
        _ = try Mix(mix)
    }

    func run() async throws {
        if holdIdle > 0 { return try await holdIdleConnections() }
        let mix = try Mix(mix)
        let clients = (0..<connections).map { _ in
            var configuration = ClientConfiguration(socketPath: socket)
            configuration.retry = .never
            return BillingServiceClient(RPCClient(configuration: configuration))
        }
        let accountIDs = mix.needsAccounts ? try await Setup.accounts(accounts, using: clients, funded: mix.debits) : []
        let run = LoadRun(mix: mix, clients: clients, accountIDs: accountIDs, inFlight: inFlight, countLimit: count, serverPID: serverPID)
        let progress = quiet || json ? nil : Task { await run.reportProgress(every: .seconds(1)) }
        let result = await run.measure(warmup: .milliseconds(Int(warmup * 1000)), duration: .milliseconds(Int(seconds * 1000)))
        progress?.cancel()
        if !quiet && !json { FileHandle.standardError.write(Data("\n".utf8)) }
        print(json ? result.json(connections: connections, inFlight: inFlight, accounts: accounts, mix: mix.description) : result.table(connections: connections, inFlight: inFlight, accounts: accounts, mix: mix.description))
    }
}

extension BillingLoad {
    func holdIdleConnections() async throws {
        var clients: [RPCClient] = []
        for _ in 0..<holdIdle {
            let client = RPCClient(configuration: ClientConfiguration(socketPath: socket))
            _ = try await HealthClient(client).check()
            clients.append(client)
        }
        print("holding \(clients.count) idle connections for \(seconds) s")
        try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
        clients.forEach { $0.close() }
    }
}

/// The weighted operations.
struct Mix: CustomStringConvertible {
    enum Operation: String, CaseIterable {
        case health
        case getWallet = "get-wallet"
        case recordUsage = "record-usage"
        case addBalance = "add-balance"
        case listTransactions = "list-transactions"
    }

    let weights: [(Operation, Int)]
    private let table: [Operation]

    init(_ text: String) throws {
        var weights: [(Operation, Int)] = []
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: "=")
            guard let operation = Operation(rawValue: String(pieces[0])) else {
                throw ValidationError("unknown operation \(pieces[0]) in --mix; known: \(Operation.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let weight = pieces.count > 1 ? Int(pieces[1]) ?? -1 : 1
            guard (1...100).contains(weight) else { throw ValidationError("weights in --mix are 1...100") }
            weights.append((operation, weight))
        }
        guard !weights.isEmpty else { throw ValidationError("--mix names no operation") }
        self.weights = weights
        table = weights.flatMap { Array(repeating: $0.0, count: $0.1) }
    }

    func pick(_ index: Int) -> Operation { table[index % table.count] }
    var needsAccounts: Bool { weights.contains { $0.0 != .health } }
    var debits: Bool { weights.contains { $0.0 == .recordUsage } }
    var description: String { weights.map { "\($0.0.rawValue)=\($0.1)" }.joined(separator: ",") }
}

/// Creates the accounts the load spreads over: complete billing information, a card, and funds.
enum Setup {
    static func accounts(_ count: Int, using clients: [BillingServiceClient], funded: Bool) async throws -> [String] {
        try await withThrowingTaskGroup(of: String.self) { group in
            var ids: [String] = []
            for index in 0..<count {
                let client = clients[index % clients.count]
                group.addTask {
                    let key = "billing-load-\(UUID().uuidString)"
                    let account = try await client.createAccount(.init(idempotencyKey: key + "-a", displayName: "Load \(index)", currency: "USD")).account!
                    _ = try await client.updateBillingInformation(.init(
                        idempotencyKey: key + "-b", accountID: account.id, fullName: "Load Test", countryCode: "US",
                        address: .init(lines: ["1 Main St"], city: "Springfield", region: "IL", postalCode: "62701")))
                    _ = try await client.addPaymentMethod(.init(
                        idempotencyKey: key + "-c", accountID: account.id,
                        card: .init(number: "4242424242424242", expiryMonth: 12, expiryYear: 2040, cvc: "123", holderName: "Load Test")))
                    if funded {
                        // The largest single amount billingd takes by default (MoneyLimits): a hundred million one-cent debits.
                        _ = try await client.addBalance(.init(idempotencyKey: key + "-d", accountID: account.id, amount: .init(amountMinor: 99_999_999, currency: "USD")))
                    }
                    return account.id
                }
                // At most 64 set-ups at once.
                if index >= 63, let id = try await group.next() { ids.append(id) }
            }
            return try await group.reduce(into: ids) { $0.append($1) }
        }
    }
}
