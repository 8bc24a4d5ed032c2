import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// Why the store refused or failed an operation: a kind to branch on, SQLite's result code when SQLite
/// is the one that failed, and a message that names the operation and the SQL text.
///
/// Messages never carry bound argument values: the store does not put them there, and SQLite's own
/// messages (for example `UNIQUE constraint failed: cards.number`) name columns, not values. Callers
/// map kinds to status codes: `overloaded` to RESOURCE_EXHAUSTED, `closed` to UNAVAILABLE, and a
/// `storageFault` (a full disk, an I/O error) to what it asks of the caller.
///
/// ```swift
/// do { try tx.execute("INSERT INTO idempotency_keys(key) VALUES (?)", .text(key)) }
/// catch let error as StoreError where error.isConstraintViolation { /* a replay */ }
/// ```
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A struct rather than an enum so that adding a kind does not break callers' exhaustive switches.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        public let name: String

        /// SQLite returned an error; `resultCode` says which.
        public static let sqlite = Kind(name: "sqlite")
        /// PostgreSQL refused a statement; `sqlState` says why (for example 23505, a unique violation).
        public static let postgresql = Kind(name: "postgresql")
        /// The database server cannot be reached, or the connection broke during the work: nothing is known
        /// to be stored (a COMMIT that lost its connection may have happened; an idempotency key tells).
        /// Retrying later is safe (UNAVAILABLE).
        public static let unavailable = Kind(name: "unavailable")
        /// Concurrent transactions on other connections or daemons conflicted with this one (PostgreSQL's
        /// serialization failure or deadlock) more times than the store retries; nothing was stored.
        public static let conflict = Kind(name: "conflict")
        /// The write queue is full; the caller should shed load (RESOURCE_EXHAUSTED).
        public static let overloaded = Kind(name: "overloaded")
        /// The store was closed; nothing more is accepted.
        public static let closed = Kind(name: "closed")
        /// SQLite rolled back a whole batch by itself (a trigger's RAISE(ROLLBACK), a full disk, an I/O error):
        /// nothing of it was stored, and every write in it gets this error. Retrying is safe. `resultCode`
        /// is the code of the failure that made SQLite roll back, when one was seen (0 otherwise).
        public static let transactionRolledBack = Kind(name: "transaction rolled back")
        /// The calling code used the store wrongly: wrong argument count, several statements in one string,
        /// an unknown column, a column of another type, transaction control inside a body, bad migrations.
        public static let misuse = Kind(name: "misuse")
        /// The database file was migrated by a newer build than this one; running on it could corrupt it.
        public static let schemaTooNew = Kind(name: "schema too new")

        public var description: String { name }
    }

    public var kind: Kind
    /// SQLite's extended result code (for example 2067, SQLITE_CONSTRAINT_UNIQUE); 0 when SQLite did not fail.
    public var resultCode: Int32
    /// PostgreSQL's SQLSTATE (for example "23505", a unique violation); empty when PostgreSQL did not fail.
    public var sqlState: String
    /// What the store was doing, with the SQL text (placeholders, never values) when there is one.
    public var operation: String
    /// What went wrong, from SQLite or from the store.
    public var message: String
    /// The operating system's `errno` behind an I/O failure (`sqlite3_system_errno`), 0 when none: it tells
    /// a full disk (ENOSPC) from other I/O errors when SQLite reports both as SQLITE_IOERR.
    public var systemErrorNumber: Int32

    public init(
        _ kind: Kind, resultCode: Int32 = 0, sqlState: String = "", operation: String, message: String, systemErrorNumber: Int32 = 0
    ) {
        self.kind = kind
        self.resultCode = resultCode
        self.sqlState = sqlState
        self.operation = operation
        self.message = message
        self.systemErrorNumber = systemErrorNumber
    }

    /// SQLite's primary result code, the low byte of `resultCode` (for example 19, SQLITE_CONSTRAINT).
    public var primaryResultCode: Int32 { resultCode & 0xFF }

    /// A UNIQUE, CHECK, NOT NULL, FOREIGN KEY or PRIMARY KEY constraint refused the statement.
    public var isConstraintViolation: Bool {
        (kind == .sqlite && primaryResultCode == SQLITE_CONSTRAINT) || (kind == .postgresql && sqlState.hasPrefix("23"))
    }

    /// A UNIQUE or PRIMARY KEY constraint refused the statement: the row already exists.
    public var isUniqueViolation: Bool {
        // SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY, macros Swift does not import.
        (kind == .sqlite && (resultCode == SQLITE_CONSTRAINT | (8 << 8) || resultCode == SQLITE_CONSTRAINT | (6 << 8)))
            || (kind == .postgresql && sqlState == "23505")
    }

    /// How the disk failed, when the disk is why the store failed; nil for every other failure.
    public enum StorageFault: Sendable, Hashable, CustomStringConvertible {
        /// No space left (SQLITE_FULL, or an I/O error whose errno is ENOSPC or EDQUOT): writes fail until
        /// space is freed; reads still work. Retrying later is safe: nothing of the write was stored.
        case full
        /// Any other I/O error (SQLITE_IOERR_*): the write was not stored; the disk or the file needs a look.
        case ioError

        public var description: String {
            switch self {
            case .full: "disk full"
            case .ioError: "I/O error"
            }
        }
    }

    /// Set when the disk refused the work: SQLite's SQLITE_FULL or SQLITE_IOERR (not its out-of-memory
    /// variant), whether a statement failed or SQLite rolled the whole batch back because of it.
    public var storageFault: StorageFault? {
        if kind == .postgresql {
            // Class 53 "insufficient resources": 53100 disk_full; class 58: 58030 io_error.
            return switch sqlState {
            case "53100": .full
            case "58030": .ioError
            default: nil
            }
        }
        guard kind == .sqlite || kind == .transactionRolledBack else { return nil }
        // SQLITE_IOERR_NOMEM (3082) is memory, not the disk.
        switch primaryResultCode {
        case SQLITE_FULL:
            return .full
        case SQLITE_IOERR where resultCode != SQLITE_IOERR | (12 << 8):
            return systemErrorNumber == ENOSPC || systemErrorNumber == EDQUOT ? .full : .ioError
        default:
            return nil
        }
    }

    public var description: String {
        let code =
            if resultCode != 0 { " \(resultCode) (\(String(cString: sqlite3_errstr(resultCode))))" }
            else if !sqlState.isEmpty { " SQLSTATE \(sqlState)" }
            else { "" }
        return "store error [\(kind)\(code)] \(operation): \(message)"
    }
}

extension StoreError {
    package static func overloaded(queued: Int) -> StoreError {
        StoreError(.overloaded, operation: "queue a write", message: "the store is overloaded: \(queued) writes already queued")
    }

    package static func closed(_ operation: String) -> StoreError {
        StoreError(.closed, operation: operation, message: "the store is closed")
    }

    /// A body left a deferred foreign key unresolved; reported as SQLITE_CONSTRAINT_FOREIGNKEY (787).
    static let unresolvedForeignKeys = StoreError(
        .sqlite, resultCode: SQLITE_CONSTRAINT | (3 << 8), operation: "finish a write",
        message: "FOREIGN KEY constraint failed: the write left a deferred foreign key unresolved")

    package static func misuse(_ operation: String, _ message: String) -> StoreError {
        StoreError(.misuse, operation: operation, message: message)
    }
}
