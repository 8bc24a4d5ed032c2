import Dispatch
import Foundation
import Testing

@testable import InvoiceRendering

/// Midnight UTC on the given day.
func utcDate(_ year: Int, _ month: Int, _ day: Int) -> Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC")!
    return calendar.date(from: DateComponents(year: year, month: month, day: day))!
}

/// Runs `executable` (looked up on PATH) and returns its standard output, standard error and exit status.
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
    return (String(decoding: output, as: UTF8.self), String(decoding: errors, as: UTF8.self), process.terminationStatus)
}

func makeTemporaryDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("invoice-rendering-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// Writes `pdf` to a temporary file and returns it; the caller removes the directory.
func writeTemporaryPDF(_ pdf: [UInt8]) throws -> URL {
    let file = try makeTemporaryDirectory().appendingPathComponent("invoice.pdf")
    try Data(pdf).write(to: file)
    return file
}

/// Runs a poppler tool on `pdf`, failing the test if it exits badly or complains on stderr.
func poppler(_ tool: String, _ arguments: [String], on pdf: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
    let file = try writeTemporaryPDF(pdf)
    defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
    let result = try await run(tool, arguments + [file.path] + (tool == "pdftotext" ? ["-"] : []))
    #expect(result.status == 0, "\(tool) failed: \(result.errors)", sourceLocation: sourceLocation)
    #expect(result.errors.isEmpty, "\(tool) reported problems: \(result.errors)", sourceLocation: sourceLocation)
    return result.output
}

/// `pdftotext -layout` of `pdf`.
func extractedText(of pdf: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
    try await poppler("pdftotext", ["-layout"], on: pdf, sourceLocation: sourceLocation)
}

/// Runs blocking work (a child process) on a Dispatch thread, never on Swift's cooperative pool: on two
/// cores, two tests waiting for poppler would otherwise stall every other test's tasks.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        // A queue of its own: the global queue is as wide as the cores, and blocking it stalls the server's queues too.
        DispatchQueue(label: "off-pool").async { continuation.resume(with: Result { try body() }) }
    }
}
