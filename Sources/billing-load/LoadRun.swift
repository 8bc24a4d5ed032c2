import BillingClient
import Foundation
import Histogram
import Synchronization

/// One measured run: `inFlight` loops per connection, each calling, timing and counting, until the
/// duration or the count runs out.
final class LoadRun: Sendable {
    let mix: Mix
    let clients: [BillingServiceClient]
    let accountIDs: [String]
    let inFlight: Int
    let countLimit: Int
    let serverPID: Int32?

    private let measuring = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let completed = Atomic<Int>(0)
    private let started = Mutex<ContinuousClock.Instant>(.now)

    init(mix: Mix, clients: [BillingServiceClient], accountIDs: [String], inFlight: Int, countLimit: Int, serverPID: Int32?) {
        self.mix = mix
        self.clients = clients
        self.accountIDs = accountIDs
        self.inFlight = inFlight
        self.countLimit = countLimit
        self.serverPID = serverPID
    }

    /// CPU seconds so far of billing-load and of the server, read at the edges of the measured window.
    private func readCPU() -> (client: Double?, server: Double?) {
        (ProcessCPU.seconds(), serverPID.flatMap { ProcessCPU.seconds(of: $0) })
    }

    /// What one loop saw while measuring.
    struct Tally: Sendable {
        var latency = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var errors: [String: Int] = [:]

        mutating func merge(_ other: Tally) {
            latency.add(other.latency)
            errors.merge(other.errors, uniquingKeysWith: +)
        }
    }

    func measure(warmup: Duration, duration: Duration) async -> LoadResult {
        let loops = clients.count * inFlight
        let (total, cpu) = await withTaskGroup(of: Tally.self) { group in
            for loop in 0..<loops {
                group.addTask { await self.callLoop(loop) }
            }
            try? await Task.sleep(for: warmup)
            let cpuAtStart = readCPU()
            started.withLock { $0 = .now }
            measuring.store(true, ordering: .relaxed)
            let deadline = ContinuousClock.now + duration
            while ContinuousClock.now < deadline, countLimit == 0 || completed.load(ordering: .relaxed) < countLimit {
                try? await Task.sleep(for: .milliseconds(10))
            }
            measuring.store(false, ordering: .relaxed)
            let cpu = CPUUse(from: cpuAtStart, to: readCPU())
            stopping.store(true, ordering: .relaxed)
            return (await group.reduce(into: Tally()) { $0.merge($1) }, cpu)
        }
        let elapsed = ContinuousClock.now - started.withLock { $0 }
        return LoadResult(tally: total, elapsed: elapsed, cpu: cpu)
    }

    func reportProgress(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let seconds = Double((ContinuousClock.now - started.withLock { $0 }).components.seconds)
            let calls = completed.load(ordering: .relaxed)
            let line = measuring.load(ordering: .relaxed)
                ? String(format: "\r%6.0f s  %10d calls  %10.0f calls/s", seconds, calls, seconds > 0 ? Double(calls) / seconds : 0)
                : "\rwarming up…"
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    private func callLoop(_ loop: Int) async -> Tally {
        var tally = Tally()
        let client = clients[loop % clients.count]
        var step = loop
        var usage = 0
        while !stopping.load(ordering: .relaxed) {
            step &+= 1
            let operation = mix.pick(step)
            let account = accountIDs.isEmpty ? "" : accountIDs[(loop &+ step) % accountIDs.count]
            let begin = ContinuousClock.now
            var failure: RPCError?
            do {
                switch operation {
                case .health:
                    _ = try await HealthClient(client.client).check()
                case .getWallet:
                    _ = try await client.getWallet(.init(accountID: account))
                case .recordUsage:
                    usage += 1
                    _ = try await client.recordUsage(.init(
                        accountID: account, usageID: "load-\(loop)-\(usage)-\(begin)", category: "sms",
                        amount: .init(amountMinor: 1, currency: "USD"), description: "load"))
                case .addBalance:
                    _ = try await client.addBalance(.init(idempotencyKey: UUID().uuidString, accountID: account, amount: .init(amountMinor: 100, currency: "USD")))
                case .listTransactions:
                    _ = try await client.listWalletTransactions(.init(accountID: account, pageSize: 20))
                }
            } catch {
                failure = error
            }
            guard measuring.load(ordering: .relaxed) else { continue }
            let nanoseconds = (ContinuousClock.now - begin).components
            _ = tally.latency.record(UInt64(nanoseconds.seconds * 1_000_000 + nanoseconds.attoseconds / 1_000_000_000_000))
            if let failure { tally.errors[failure.code.description, default: 0] += 1 }
            completed.add(1, ordering: .relaxed)
        }
        return tally
    }
}

/// The figures of a run, as a table or as JSON.
struct LoadResult {
    let tally: LoadRun.Tally
    let elapsed: Duration
    let cpu: CPUUse?

    var calls: UInt64 { tally.latency.totalCount }
    var callsPerSecond: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return seconds > 0 ? Double(calls) / seconds : 0
    }

    /// CPU microseconds per measured call, of billing-load and of the server.
    var clientCPUPerCall: Double? { cpu.map { calls > 0 ? $0.client * 1e6 / Double(calls) : 0 } }
    var serverCPUPerCall: Double? { cpu?.server.map { calls > 0 ? $0 * 1e6 / Double(calls) : 0 } }

    /// Microseconds at a percentile.
    func percentile(_ p: Double) -> UInt64 { tally.latency.valueAtPercentile(p) }

    func table(connections: Int, inFlight: Int, accounts: Int, mix: String) -> String {
        let errors = tally.errors.isEmpty ? "none" : tally.errors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        return """
            mix \(mix) · \(connections) connection(s) × \(inFlight) in flight · \(accounts) account(s)
            calls        \(calls)
            calls/s      \(String(format: "%.0f", callsPerSecond))
            latency µs   p50 \(percentile(50))  p90 \(percentile(90))  p99 \(percentile(99))  p99.9 \(percentile(99.9))  max \(tally.latency.max)
            CPU µs/call  billing-load \(clientCPUPerCall.map { String(format: "%.1f", $0) } ?? "?")\(serverCPUPerCall.map { String(format: ", server %.1f", $0) } ?? "")
            errors       \(errors)
            """
    }

    func json(connections: Int, inFlight: Int, accounts: Int, mix: String) -> String {
        let errors = tally.errors.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        var cpuFields = ""
        if let cpu, let perCall = clientCPUPerCall {
            cpuFields += String(format: "\"client_cpu_s\":%.2f,\"client_cpu_us_per_call\":%.1f,", cpu.client, perCall)
        }
        if let server = cpu?.server, let perCall = serverCPUPerCall {
            cpuFields += String(format: "\"server_cpu_s\":%.2f,\"server_cpu_us_per_call\":%.1f,", server, perCall)
        }
        return """
            {"name":"billingd","mix":"\(mix)","connections":\(connections),"in_flight":\(inFlight),"accounts":\(accounts),\
            "calls":\(calls),"calls_per_second":\(String(format: "%.1f", callsPerSecond)),\
            "p50_us":\(percentile(50)),"p90_us":\(percentile(90)),"p99_us":\(percentile(99)),"p999_us":\(percentile(99.9)),\
            "max_us":\(tally.latency.max),\(cpuFields)"errors":{\(errors)}}
            """
    }
}
