import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A read-only PostgreSQL session for the checker: one `psql` process kept open for the reader's life,
/// so that `snapshot` can hold one `REPEATABLE READ READ ONLY` transaction across every query of a check.
///
/// Each query is written to psql's standard input followed by `\echo` of an end marker, and its rows
/// are read back up to that marker. psql prints unaligned tuples with the bytes as stored (client
/// encoding SQL_ASCII over a UTF-8 database), each row ended by a zero byte, fields separated by 0xFF,
/// NULL as 0xFE and the marker starting with 0xFD: a zero byte cannot occur in PostgreSQL text and the
/// other three never occur in UTF-8, so no value can be mistaken for any of them. The session is
/// read-only (`default_transaction_read_only`), and psql stops at the first error (`ON_ERROR_STOP`):
/// the reader then throws psql's message on this and every later query. Used from one task only.
final class PostgresReader: DatabaseReader {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private static let rowEnd: UInt8 = 0x00
    private static let fieldSeparator: UInt8 = 0xFF
    private static let null: UInt8 = 0xFE
    private static let markerStart: UInt8 = 0xFD

    private let cluster: PostgresCluster
    /// The database this reader reads (the run's, or a self-test copy).
    let database: String
    private let process: Process
    private let input: Int32
    private let output: Int32
    private let errorPath: String
    private var pending: [UInt8] = []
    private var queries = 0
    /// Set once psql has gone (an error, or `close()`): every later query throws it.
    private var failure: Failure?
    private var closed = false

    init(cluster: PostgresCluster, database: String = PostgresCluster.database) throws {
        // A write to a psql that stopped must fail with EPIPE, not kill this program.
        signal(SIGPIPE, SIG_IGN)
        self.cluster = cluster
        self.database = database
        errorPath = FileManager.default.temporaryDirectory.appendingPathComponent("billing-crash-psql-\(getpid())-\(UUID().uuidString).err").path
        guard FileManager.default.createFile(atPath: errorPath, contents: nil, attributes: [.posixPermissions: 0o600]),
              let errorFile = FileHandle(forWritingAtPath: errorPath)
        else { throw Failure(description: "cannot create \(errorPath)") }
        defer { try? errorFile.close() }
        let (executable, arguments) = cluster.psqlCommand(database: database)
        let inputPipe = Pipe()
        let outputPipe = Pipe()
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = inputPipe
        process.standardOutput = outputPipe
        process.standardError = errorFile
        try process.run()
        input = dup(inputPipe.fileHandleForWriting.fileDescriptor)
        output = dup(outputPipe.fileHandleForReading.fileDescriptor)
        try? inputPipe.fileHandleForWriting.close()
        try? outputPipe.fileHandleForReading.close()
        // The separators and NULL as single bytes; settings, so they print nothing.
        try send([UInt8(ascii: "\\")] + Array("pset fieldsep '".utf8) + [Self.fieldSeparator] + Array("'\n".utf8)
                 + [UInt8(ascii: "\\")] + Array("pset null '".utf8) + [Self.null] + Array("'\n".utf8))
    }

    deinit { close() }

    /// Ends the session (psql exits when its input closes) and waits for it, so that the database has
    /// no session of this reader left (CREATE DATABASE … TEMPLATE needs none).
    func close() {
        guard !closed else { return }
        closed = true
        if failure == nil { failure = Failure(description: "the PostgreSQL reader was closed") }
        Glibc.close(input)
        Glibc.close(output)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: errorPath)
    }

    func query(_ sql: String, _ arguments: [String]) throws -> [[String?]] {
        if let failure { throw failure }
        queries += 1
        let marker = [Self.markerStart] + Array("END\(queries)\n".utf8)
        try send(Array(try Self.bind(sql, arguments).utf8) + Array("\n;\n".utf8) + Array("\\echo ".utf8) + marker)
        let result = try readUntil(marker, sql: sql)
        return Self.rows(of: result)
    }

    func snapshot<T>(_ body: () throws -> T) throws -> T {
        _ = try rows("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        defer { _ = try? rows("COMMIT") }
        // The transaction's snapshot is taken at its first query.
        _ = try rows("SELECT 1")
        return try body()
    }

    /// amcheck, in a session of its own (an error there must not end this one): `verify_heapam` on
    /// every table of billingd's schema (page headers, tuple headers, TOAST, transaction ids), and
    /// `bt_index_check(heapallindexed)` on every B-tree index (ordering, and every row of the table in
    /// it). Nil when amcheck could not be installed.
    func storageCheck() throws -> (name: String, problems: [String])? {
        guard cluster.hasAmcheck else { return nil }
        let amcheck = PostgresCluster.amcheckSchema
        let checked = try cluster.execute("""
            SELECT c.relname || ' block ' || coalesce(v.blkno::text, '-') || ': ' || v.msg
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace CROSS JOIN LATERAL \(amcheck).verify_heapam(c.oid) v
            WHERE n.nspname = current_schema() AND c.relkind = 'r';
            SELECT count(*) FROM (
                SELECT \(amcheck).bt_index_check(c.oid, true) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am a ON a.oid = c.relam
                WHERE n.nspname = current_schema() AND c.relkind = 'i' AND a.amname = 'btree') AS checked;
            """, database: database)
        // The heap's findings, one a line, then the count of indexes checked (when nothing failed).
        let lines = checked.output.split(separator: "\n").map(String.init)
        var problems = checked.status == 0 ? Array(lines.dropLast()) : lines
        if checked.status != 0 { problems.append("amcheck failed: \(checked.error)") }
        return ("amcheck (verify_heapam, bt_index_check)", problems)
    }

    // MARK: The protocol with psql

    /// `?` placeholders outside string literals become quoted literals (PostgreSQL casts an untyped
    /// literal to the column's type, as SQLite compares text with integers).
    static func bind(_ sql: String, _ arguments: [String]) throws -> String {
        var bound = ""
        var remaining = arguments[...]
        var inLiteral = false
        for character in sql {
            if character == "'" { inLiteral.toggle() }
            guard character == "?", !inLiteral else {
                bound.append(character)
                continue
            }
            guard let argument = remaining.popFirst() else { throw Failure(description: "more placeholders than arguments in: \(sql.prefix(80))") }
            guard !argument.utf8.contains(0) else { throw Failure(description: "an argument with a zero byte in: \(sql.prefix(80))") }
            bound += "'" + argument.replacingOccurrences(of: "'", with: "''") + "'"
        }
        guard remaining.isEmpty else { throw Failure(description: "more arguments than placeholders in: \(sql.prefix(80))") }
        return bound
    }

    private func send(_ bytes: [UInt8]) throws {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(input, $0.baseAddress! + written, $0.count - written) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw stopped(sql: nil) }
            written += result
        }
    }

    /// Reads psql's output up to `marker` and returns what came before it.
    private func readUntil(_ marker: [UInt8], sql: String) throws -> ArraySlice<UInt8> {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            // The marker's first byte never occurs in a value, so its first occurrence is the marker.
            if let start = pending.firstIndex(of: Self.markerStart), pending.count >= start + marker.count {
                guard Array(pending[start..<start + marker.count]) == marker else {
                    throw Failure(description: "psql printed an unexpected end marker after: \(sql.prefix(80))")
                }
                let result = pending[..<start]
                pending = Array(pending[(start + marker.count)...])
                return result
            }
            let count = read(output, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw stopped(sql: sql) }
            pending += buffer[..<count]
        }
    }

    /// psql has gone: its message (ON_ERROR_STOP ends it at the first error) becomes this reader's failure.
    private func stopped(sql: String?) -> Failure {
        process.waitUntilExit()
        let message = ((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let failure = Failure(description: "psql stopped (status \(process.terminationStatus)): \(message.isEmpty ? "no message" : message)"
                              + (sql.map { " in: \($0.prefix(80))" } ?? ""))
        self.failure = failure
        return failure
    }

    /// Zero-terminated rows of 0xFF-separated fields, 0xFE alone being NULL.
    private static func rows(of bytes: ArraySlice<UInt8>) -> [[String?]] {
        bytes.split(separator: rowEnd, omittingEmptySubsequences: false).dropLast().map { row in
            row.split(separator: fieldSeparator, omittingEmptySubsequences: false).map { field in
                field.count == 1 && field.first == null ? nil : String(decoding: field, as: UTF8.self)
            }
        }
    }
}
