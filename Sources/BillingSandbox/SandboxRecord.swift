import BillingGateway
import BillingValues
import CSQLite
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The sandbox gateway's durable record: a small SQLite database of its own,
/// `sandbox-gateway.sqlite3`, with the token and the idempotency key as primary keys.
///
/// Every write commits before it returns, in WAL mode with `synchronous=FULL`, so it is on disk
/// before the gateway answers; a crash in the middle of one leaves nothing of it (SQLite's
/// atomic commit), so there is no torn record to cut off. Opening reads nothing but SQLite's
/// header (and, after a crash, replays the WAL, which checkpoints keep short), and each look-up
/// is one primary-key search: neither grows with the number of charges recorded.
///
/// A data folder written before this record existed holds a JSON-lines journal
/// (`sandbox-gateway.jsonl`). The first open imports it in one transaction and then renames it
/// aside (``importedJournalSuffix``); see ``importJournalIfPresent()``.
///
/// Not thread-safe: the gateway actor owns it and calls it from its isolation only.
final class SandboxRecord {
    /// What the sandbox remembers about a tokenized card: never the number or CVC.
    struct TokenRecord: Codable, Equatable {
        var token: String
        var behaviour: SandboxGateway.CardBehaviour
        var brand: CardBrand
        var last4: String
        var expiryMonth: Int
        var expiryYear: Int
    }

    /// A charge and the parameters it was made with, keyed by idempotency key.
    struct ChargeRecord: Codable, Equatable {
        var idempotencyKey: String
        var token: String
        var description: String
        var charge: GatewayCharge
    }

    /// Suffix of the JSON-lines journal once it has been imported (`sandbox-gateway.jsonl.imported`).
    static let importedJournalSuffix = ".imported"

    static let schema = """
        CREATE TABLE IF NOT EXISTS tokens (
            token TEXT PRIMARY KEY NOT NULL,
            behaviour TEXT NOT NULL,
            brand TEXT NOT NULL,
            last4 TEXT NOT NULL,
            expiry_month INTEGER NOT NULL,
            expiry_year INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS charges (
            idempotency_key TEXT PRIMARY KEY NOT NULL,
            token TEXT NOT NULL,
            description TEXT NOT NULL,
            reference TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('succeeded', 'failed')),
            amount_minor INTEGER NOT NULL,
            currency TEXT NOT NULL,
            failure_code TEXT,
            failure_message TEXT
        );
        """

    let directory: URL
    let fileURL: URL
    var journalURL: URL { directory.appendingPathComponent(SandboxGateway.journalFileName) }
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]

    /// Rows read by this record's queries since it was opened (the import aside): what the tests
    /// use to show that opening reads no charge and a look-up reads only the one it wants.
    private(set) var rowsRead = 0
    /// Steps SQLite spent scanning a whole table instead of searching an index, summed over the
    /// record's queries (`SQLITE_STMTSTATUS_FULLSCAN_STEP`): zero when every look-up uses its key.
    private(set) var fullScanSteps = 0
    /// Entries imported from a JSON-lines journal by this open (0 when there was none).
    private(set) var importedEntries = 0

    /// Opens (or creates) the record in `directory`, importing a JSON-lines journal found there.
    /// - Throws: `internal` if the directory or database cannot be created or opened, or the
    ///   journal to import is damaged.
    init(directory: URL) throws {
        self.directory = directory
        fileURL = directory.appendingPathComponent(SandboxGateway.databaseFileName)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw BillingError.internalError(
                "sandbox gateway cannot create its directory \(directory.path): \(error.localizedDescription)")
        }
        let isNewFile = !FileManager.default.fileExists(atPath: fileURL.path)
        // Created 0600 before SQLite opens it: SQLite gives its WAL and shared-memory files the
        // database file's permission bits.
        let descriptor = open(fileURL.path, O_RDONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.systemError("create", path: fileURL.path) }
        let changedMode = fchmod(descriptor, 0o600) == 0
        close(descriptor)
        guard changedMode else { throw Self.systemError("restrict the permissions of", path: fileURL.path) }
        if isNewFile { Self.syncDirectory(directory) }

        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(fileURL.path, &handle, flags, nil) == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw BillingError.internalError("sandbox gateway cannot open \(fileURL.path): \(message)")
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
        // Another process (the crash test's checker) may read it; wait for its lock rather than fail.
        sqlite3_busy_timeout(handle, 5000)
        try retryingWhileLocked { try execute("PRAGMA journal_mode = WAL") }
        try execute("PRAGMA synchronous = FULL")
        // Memory stays bounded whatever the record's size: SQLite's page cache is capped (2 MiB).
        try execute("PRAGMA cache_size = -2048")
        // The write lock first: a deferred transaction that reads the schema and then writes can
        // deadlock with another process doing the same, and SQLite answers that with "locked" at once.
        try retryingWhileLocked { try execute("BEGIN IMMEDIATE; \(Self.schema); COMMIT") }
        try requirePragma("journal_mode", equals: "wal")
        try requirePragma("synchronous", equals: "2")
        try importJournalIfPresent()
        // The counters are for what the gateway asks; the settings' checks above do not count.
        rowsRead = 0
        fullScanSteps = 0
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close(handle)
    }

    // MARK: Reads and writes

    func token(_ token: String) throws -> TokenRecord? {
        try queryOne(
            "SELECT token, behaviour, brand, last4, expiry_month, expiry_year FROM tokens WHERE token = ?",
            [.text(token)]
        ) { statement in
            guard let behaviour = SandboxGateway.CardBehaviour(rawValue: Self.text(statement, 1)),
                  let brand = CardBrand(rawValue: Self.text(statement, 2))
            else { throw self.damaged("token \(token) has an unknown behaviour or brand") }
            return TokenRecord(
                token: Self.text(statement, 0), behaviour: behaviour, brand: brand, last4: Self.text(statement, 3),
                expiryMonth: Int(sqlite3_column_int64(statement, 4)), expiryYear: Int(sqlite3_column_int64(statement, 5)))
        }
    }

    func charge(forKey idempotencyKey: String) throws -> ChargeRecord? {
        try queryOne(
            """
            SELECT idempotency_key, token, description, reference, status, amount_minor, currency, failure_code,
                   failure_message
            FROM charges WHERE idempotency_key = ?
            """,
            [.text(idempotencyKey)]
        ) { statement in
            guard let status = GatewayChargeStatus(rawValue: Self.text(statement, 4)),
                  let currency = try? Currency(code: Self.text(statement, 6))
            else { throw self.damaged("the charge under key \(idempotencyKey) has an unknown status or currency") }
            return ChargeRecord(
                idempotencyKey: Self.text(statement, 0), token: Self.text(statement, 1),
                description: Self.text(statement, 2),
                charge: GatewayCharge(
                    reference: Self.text(statement, 3), status: status,
                    amount: Money(amountMinor: sqlite3_column_int64(statement, 5), currency: currency),
                    failureCode: Self.optionalText(statement, 7), failureMessage: Self.optionalText(statement, 8)))
        }
    }

    /// Records a token; committed and synced when it returns.
    func insert(_ record: TokenRecord, replacing: Bool = false) throws {
        _ = try run(
            (replacing ? "INSERT OR REPLACE" : "INSERT")
                + " INTO tokens (token, behaviour, brand, last4, expiry_month, expiry_year) VALUES (?, ?, ?, ?, ?, ?)",
            [.text(record.token), .text(record.behaviour.rawValue), .text(record.brand.rawValue), .text(record.last4),
             .integer(Int64(record.expiryMonth)), .integer(Int64(record.expiryYear))])
    }

    /// Records a charge; committed and synced when it returns. Returns false, recording nothing,
    /// when the key already has a charge (unless `replacing`): one key is never charged twice,
    /// even by a second gateway some other process opened on the same directory by mistake.
    @discardableResult
    func insert(_ record: ChargeRecord, replacing: Bool = false) throws -> Bool {
        try run(
            (replacing ? "INSERT OR REPLACE" : "INSERT")
                + """
                 INTO charges (idempotency_key, token, description, reference, status, amount_minor, currency,
                              failure_code, failure_message)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
                + (replacing ? "" : " ON CONFLICT (idempotency_key) DO NOTHING"),
            [.text(record.idempotencyKey), .text(record.token), .text(record.description),
             .text(record.charge.reference), .text(record.charge.status.rawValue),
             .integer(record.charge.amount.amountMinor), .text(record.charge.amount.currency.code),
             record.charge.failureCode.map(Value.text) ?? .null,
             record.charge.failureMessage.map(Value.text) ?? .null])
            > 0
    }

    // MARK: Importing a JSON-lines journal

    /// One line of the JSON-lines journal the sandbox kept before: exactly one of `token` and `charge`.
    struct JournalEntry: Codable {
        var token: TokenRecord?
        var charge: ChargeRecord?
    }

    /// Imports `sandbox-gateway.jsonl`, if the directory has one, then renames it aside.
    ///
    /// The whole journal goes in one transaction, a later line winning over an earlier one with the
    /// same key as it did when the journal was reloaded. A torn last line (a crash in the middle of
    /// an append: that call never answered) is left out; a bad line anywhere else means the file was
    /// damaged, and opening fails rather than guessing. Only after the commit is the journal renamed
    /// to `sandbox-gateway.jsonl.imported` (or `.imported.2`, … if that name is taken): a crash before
    /// the rename imports it again on the next start, replacing rows with the same values, and the
    /// gateway answers nothing until the rename is done, so nothing recorded since can be overwritten.
    private func importJournalIfPresent() throws {
        let journalURL = self.journalURL
        guard FileManager.default.fileExists(atPath: journalURL.path) else { return }
        let entries = try Self.readJournal(journalURL)
        try execute("BEGIN IMMEDIATE")
        do {
            for entry in entries {
                if let token = entry.token { try insert(token, replacing: true) }
                if let charge = entry.charge { try insert(charge, replacing: true) }
            }
            try execute("COMMIT")
        } catch {
            _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            throw error
        }
        var destination = journalURL.path + Self.importedJournalSuffix
        var attempt = 1
        while FileManager.default.fileExists(atPath: destination) {
            attempt += 1
            destination = journalURL.path + Self.importedJournalSuffix + ".\(attempt)"
        }
        guard rename(journalURL.path, destination) == 0 else {
            throw Self.systemError("rename the imported journal", path: journalURL.path)
        }
        Self.syncDirectory(directory)
        importedEntries = entries.count
    }

    /// Every complete entry of a JSON-lines journal, oldest first; a torn last line is left out.
    static func readJournal(_ url: URL) throws -> [JournalEntry] {
        let contents: Data
        do {
            contents = try Data(contentsOf: url)
        } catch {
            throw BillingError.internalError(
                "sandbox gateway cannot read \(url.path): \(error.localizedDescription)")
        }
        let newline = UInt8(ascii: "\n")
        let completeLength = (contents.lastIndex(of: newline).map { $0 + 1 }) ?? contents.startIndex
        let decoder = JSONDecoder()
        var entries: [JournalEntry] = []
        let lines = contents[contents.startIndex..<completeLength].split(separator: newline)
        for (index, line) in lines.enumerated() {
            do {
                entries.append(try decoder.decode(JournalEntry.self, from: Data(line)))
            } catch {
                throw BillingError.internalError(
                    "sandbox gateway journal \(url.path) is damaged at line \(index + 1); "
                        + "move it aside to start a fresh sandbox")
            }
        }
        return entries
    }

    // MARK: SQLite

    enum Value {
        case text(String)
        case integer(Int64)
        case null
    }

    private func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(handle, sql, nil, nil, &message) == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(message)
            throw failure(text)
        }
    }

    /// Runs a set-up step again while another process holds the database's lock, for up to ten
    /// seconds. Daemons that share a sandbox directory start together, and switching a new database
    /// to WAL takes the lock without waiting in SQLite's busy handler.
    private func retryingWhileLocked(_ step: () throws -> Void) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                return try step()
            } catch {
                let code = sqlite3_errcode(handle) & 0xff
                if sqlite3_get_autocommit(handle) == 0 { _ = sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) }
                guard code == SQLITE_BUSY || code == SQLITE_LOCKED, ContinuousClock.now < deadline else { throw error }
                usleep(10_000)
            }
        }
    }

    private func requirePragma(_ name: String, equals expected: String) throws {
        let value = try queryOne("PRAGMA \(name)", []) { Self.text($0, 0).lowercased() }
        guard value == expected else {
            throw BillingError.internalError(
                "sandbox gateway's database \(fileURL.path) has \(name) \(value ?? "unset"), not \(expected)")
        }
    }

    /// Runs a write and returns the rows it changed.
    private func run(_ sql: String, _ arguments: [Value]) throws -> Int {
        let statement = try prepared(sql, arguments)
        defer { sqlite3_reset(statement); sqlite3_clear_bindings(statement) }
        guard sqlite3_step(statement) == SQLITE_DONE else { throw failure(String(cString: sqlite3_errmsg(handle))) }
        return Int(sqlite3_changes(handle))
    }

    /// The only row of a query, or nil.
    private func queryOne<T>(_ sql: String, _ arguments: [Value], _ read: (OpaquePointer) throws -> T) throws -> T? {
        let statement = try prepared(sql, arguments)
        defer {
            fullScanSteps += Int(sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1))
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        switch sqlite3_step(statement) {
        case SQLITE_ROW:
            rowsRead += 1
            return try read(statement)
        case SQLITE_DONE:
            return nil
        default:
            throw failure(String(cString: sqlite3_errmsg(handle)))
        }
    }

    private func prepared(_ sql: String, _ arguments: [Value]) throws -> OpaquePointer {
        let statement: OpaquePointer
        if let cached = statements[sql] {
            statement = cached
        } else {
            var fresh: OpaquePointer?
            guard sqlite3_prepare_v2(handle, sql, -1, &fresh, nil) == SQLITE_OK, let fresh else {
                throw failure(String(cString: sqlite3_errmsg(handle)))
            }
            statements[sql] = fresh
            statement = fresh
        }
        for (index, argument) in arguments.enumerated() {
            let position = Int32(index + 1)
            let result: Int32
            switch argument {
            case .text(let text): result = sqlite3_bind_text(statement, position, text, -1, transient)
            case .integer(let integer): result = sqlite3_bind_int64(statement, position, integer)
            case .null: result = sqlite3_bind_null(statement, position)
            }
            guard result == SQLITE_OK else {
                sqlite3_clear_bindings(statement)
                throw failure(String(cString: sqlite3_errmsg(handle)))
            }
        }
        return statement
    }

    private static func text(_ statement: OpaquePointer, _ column: Int32) -> String {
        sqlite3_column_text(statement, column).map { String(cString: $0) } ?? ""
    }

    private static func optionalText(_ statement: OpaquePointer, _ column: Int32) -> String? {
        sqlite3_column_text(statement, column).map { String(cString: $0) }
    }

    private func failure(_ message: String) -> BillingError {
        BillingError.internalError("sandbox gateway's database \(fileURL.path): \(message)")
    }

    private func damaged(_ what: String) -> BillingError {
        BillingError.internalError("sandbox gateway's database \(fileURL.path) is damaged: \(what)")
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

/// SQLITE_TRANSIENT, which Swift does not import: SQLite copies the text before the bind call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
