import BillingSandbox
import BillingStore
import Dispatch
import Foundation
import Testing

@testable import BillingDomain

/// Midnight UTC on the given day, plus optional seconds.
func utcDate(_ year: Int, _ month: Int, _ day: Int, secondsIntoDay: Int = 0) -> Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    let midnight = calendar.date(from: DateComponents(year: year, month: month, day: day))!
    return midnight.addingTimeInterval(TimeInterval(secondsIntoDay))
}

/// A fresh, empty directory under the system's temporary directory.
func makeTemporaryDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("billing-domain-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// Runs `executable` (looked up on PATH) and returns its standard output, standard
/// error and exit status.
func run(_ executable: String, _ arguments: [String]) async throws -> (output: String, errors: String, status: Int32) {
    try await offPool { try runBlocking(executable, arguments) }
}

private func runBlocking(_ executable: String, _ arguments: [String]) throws -> (output: String, errors: String, status: Int32) {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let errorsFile = directory.appendingPathComponent("stderr.txt")
    _ = FileManager.default.createFile(atPath: errorsFile.path, contents: nil)

    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let outputPipe = Pipe()
    process.standardOutput = outputPipe
    process.standardError = try FileHandle(forWritingTo: errorsFile)
    try process.run()
    let output = outputPipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let errors = try Data(contentsOf: errorsFile)
    return (String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self),
            process.terminationStatus)
}

/// Writes `pdf` to a temporary file and returns it; the caller removes the directory.
func writeTemporaryPDF(_ pdf: [UInt8]) throws -> URL {
    let file = try makeTemporaryDirectory().appendingPathComponent("invoice.pdf")
    try Data(pdf).write(to: file)
    return file
}

/// `pdftotext -layout file -` of `pdf`, failing the test if poppler complains.
func extractedText(of pdf: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
    let file = try writeTemporaryPDF(pdf)
    defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
    let result = try await run("pdftotext", ["-layout", file.path, "-"])
    #expect(result.status == 0, "pdftotext failed: \(result.errors)", sourceLocation: sourceLocation)
    #expect(result.errors.isEmpty, "pdftotext reported problems: \(result.errors)", sourceLocation: sourceLocation)
    return result.output
}

/// Expects `body` to throw a `BillingError` of `kind` naming `field`; returns it.
@discardableResult
func expectBillingError(
    _ kind: BillingError.Kind, field: String?,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> BillingError? {
    do {
        try body()
        Issue.record("expected \(kind) on \(field ?? "no field"), but nothing was thrown",
                     sourceLocation: sourceLocation)
        return nil
    } catch let error as BillingError {
        #expect(error.kind == kind, "wrong kind: \(error)", sourceLocation: sourceLocation)
        #expect(error.field == field, "wrong field: \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a BillingError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The async twin of `expectBillingError`.
@discardableResult
func expectBillingErrorAsync(
    _ kind: BillingError.Kind, field: String?,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async -> BillingError? {
    do {
        try await body()
        Issue.record("expected \(kind) on \(field ?? "no field"), but nothing was thrown",
                     sourceLocation: sourceLocation)
        return nil
    } catch let error as BillingError {
        #expect(error.kind == kind, "wrong kind: \(error)", sourceLocation: sourceLocation)
        #expect(error.field == field, "wrong field: \(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected a BillingError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Runs blocking work (a child process) on a Dispatch thread, never on Swift's cooperative pool: on two
/// cores, two tests waiting for poppler would otherwise stall every other test's tasks.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        // A queue of its own: the global queue is as wide as the cores, and blocking it stalls the server's queues too.
        DispatchQueue(label: "off-pool").async { continuation.resume(with: Result { try body() }) }
    }
}

/// A billing context as billingd builds one: a SQLite store and the sandbox gateway, both in `directory`.
func makeContext(in directory: URL, invoicePrefix: String = "INV", now: @escaping @Sendable () -> Date) async throws -> BillingContext {
    let store = try await Store.open(path: directory.appendingPathComponent("billing.sqlite3").path, migrations: BillingSchema.migrations)
    let gateway = try SandboxGateway(directory: directory.appendingPathComponent("gateway"))
    return BillingContext(store: store, gateway: gateway, now: now, invoicing: try testInvoicing(prefix: invoicePrefix))
}

/// A USD account with complete US billing information and a primary card that charges.
func readyAccount(in context: BillingContext) async throws -> Account {
    let account = try await AccountService(context: context).createAccount(displayName: "Acme", currencyCode: "USD", idempotencyKey: "a")
    _ = try await AccountService(context: context).updateBillingInformation(
        accountID: account.id,
        information: BillingInformation(fullName: "Ada", countryCode: "US", address: BillingAddress(lines: ["1 Main St"], city: "Springfield", region: "IL", postalCode: "62701")),
        idempotencyKey: "b")
    _ = try await PaymentMethodService(context: context).add(
        accountID: account.id, card: CardDetails(number: "4242424242424242", expiryMonth: 12, expiryYear: 2030, cvc: "123"), makePrimary: true, idempotencyKey: "c")
    return account
}
