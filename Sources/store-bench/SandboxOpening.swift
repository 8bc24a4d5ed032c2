// store-bench --sandbox-open N[,N...]: how long creating a SandboxGateway (billingd's start) takes with N
// charges and N tokens already recorded. The record is laid down as a JSON-lines journal in the format the
// sandbox has always written (one token and one charge per line), which is also how an existing data folder
// looks before its first start on a sandbox that keeps its record elsewhere; the first open is timed apart
// from the later ones, which are what every start after that pays.

import BillingGateway
import BillingSandbox
import BillingValues
import Foundation

/// One journal line as SandboxGateway has written it: exactly one of `token` and `charge`.
private struct JournalLine: Encodable {
    struct Token: Encodable {
        var token: String
        var behaviour: String
        var brand: CardBrand
        var last4: String
        var expiryMonth: Int
        var expiryYear: Int
    }
    struct Charge: Encodable {
        var idempotencyKey: String
        var token: String
        var description: String
        var charge: GatewayCharge
    }
    var token: Token?
    var charge: Charge?
}

struct SandboxOpening: Codable {
    let charges: Int
    let tokens: Int
    /// The first gateway created on the folder (an import, where the sandbox does one).
    let firstOpenSeconds: Double
    /// The median of the later openings: what each start pays.
    let openSeconds: Double
    let openRuns: Int
}

/// Writes `count` tokens and `count` charges as journal lines into `directory`.
private func writeJournal(count: Int, in directory: URL) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent("sandbox-gateway.jsonl")
    guard FileManager.default.createFile(atPath: url.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
        throw BenchFailure(description: "cannot create \(url.path)")
    }
    let handle = try FileHandle(forWritingTo: url)
    defer { try? handle.close() }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var buffer = Data()
    for index in 0..<count {
        let token = "tok_sandbox_bench_\(index)"
        let lines = [
            JournalLine(token: .init(token: token, behaviour: "succeeds", brand: .visa, last4: "4242", expiryMonth: 12, expiryYear: 2099)),
            JournalLine(charge: .init(
                idempotencyKey: "bench-\(index)", token: token, description: "Invoice INV-\(index)",
                charge: GatewayCharge(reference: "ch_sandbox_bench_\(index)", status: .succeeded,
                                      amount: Money(amountMinor: 1000 + Int64(index % 100), currency: .usd)))),
        ]
        for line in lines {
            buffer.append(try encoder.encode(line))
            buffer.append(UInt8(ascii: "\n"))
        }
        if buffer.count > 1 << 20 {
            try handle.write(contentsOf: buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }
    try handle.write(contentsOf: buffer)
}

/// Creates a gateway on `directory` and proves it loaded: the last charge and token are known.
private func openGateway(_ directory: URL, count: Int) async throws -> Double {
    let clock = ContinuousClock()
    var gateway: SandboxGateway?
    let elapsed = try clock.measure { gateway = try SandboxGateway(directory: directory) }
    guard let gateway, try await gateway.lookUpCharge(idempotencyKey: "bench-\(count - 1)") != nil,
          try await gateway.knowsToken("tok_sandbox_bench_\(count - 1)")
    else { throw BenchFailure(description: "the reopened sandbox does not know its last charge") }
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func measureSandboxOpening(counts: [Int], runs: Int) async throws -> [SandboxOpening] {
    var results: [SandboxOpening] = []
    for count in counts {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("store-bench-sandbox-\(ProcessInfo.processInfo.processIdentifier)-\(count)")
        try? FileManager.default.removeItem(at: directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        try writeJournal(count: count, in: directory)
        let first = try await openGateway(directory, count: count)
        var later: [Double] = []
        for _ in 0..<runs { later.append(try await openGateway(directory, count: count)) }
        later.sort()
        results.append(SandboxOpening(charges: count, tokens: count, firstOpenSeconds: first,
                                      openSeconds: later[later.count / 2], openRuns: runs))
    }
    return results
}

func printSandboxTable(_ results: [SandboxOpening]) {
    print("store-bench: SandboxGateway opening time (billingd's start) by charges and tokens recorded")
    print("charges".padding(toLength: 10, withPad: " ", startingAt: 0) + "tokens".padding(toLength: 10, withPad: " ", startingAt: 0)
        + "first open (s)".padding(toLength: 16, withPad: " ", startingAt: 0) + "open, median of later (s)")
    for result in results {
        print("\(result.charges)".padding(toLength: 10, withPad: " ", startingAt: 0)
            + "\(result.tokens)".padding(toLength: 10, withPad: " ", startingAt: 0)
            + String(format: "%.4f", result.firstOpenSeconds).padding(toLength: 16, withPad: " ", startingAt: 0)
            + String(format: "%.4f (%d runs)", result.openSeconds, result.openRuns))
    }
}
