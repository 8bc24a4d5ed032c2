/// One step of the schema's history, applied once and never edited after it has shipped.
///
/// The domain owns its migrations and passes them all to `Store.open`; the store applies, in version
/// order and inside one transaction, those above the database's `PRAGMA user_version`, then sets
/// `user_version` to the last one. Either all of them apply or none does.
///
/// ```swift
/// let migrations = [
///     Migration(version: 1, name: "create accounts", sql: "CREATE TABLE accounts (...);"),
///     Migration(version: 2, name: "create ledger", sql: "CREATE TABLE ledger (...); CREATE INDEX ...;"),
/// ]
/// ```
///
/// A schema that runs on both engines gives each step in both dialects, under one version number, so the
/// two histories cannot drift apart: `Migration(version: 1, name: …, sql: sqliteText, postgresql: text)`.
public struct Migration: Sendable, Hashable {
    /// Positive and unique; versions may have gaps but are applied in ascending order.
    public let version: Int
    /// A few words for errors and logs.
    public let name: String
    /// One or more statements in SQLite's dialect. No BEGIN/COMMIT: the store runs every pending migration
    /// in one transaction.
    public let sql: String
    /// The same step in PostgreSQL's dialect; nil for a schema that runs on SQLite only (the PostgreSQL
    /// engine refuses to open with it).
    public let postgresql: String?

    public init(version: Int, name: String, sql: String, postgresql: String? = nil) {
        self.version = version
        self.name = name
        self.sql = sql
        self.postgresql = postgresql
    }
}

extension Migration {
    /// The migrations sorted by version, after checking that versions are positive and unique.
    package static func ordered(_ migrations: [Migration]) throws -> [Migration] {
        let ordered = migrations.sorted { $0.version < $1.version }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where previous.version == next.version {
            throw StoreError.misuse("check migrations", "two migrations have version \(next.version)")
        }
        if let first = ordered.first, first.version <= 0 {
            throw StoreError.misuse("check migrations", "migration versions start at 1, found \(first.version)")
        }
        return ordered
    }
}

extension SQLiteConnection {
    /// Applies the migrations above `user_version` in one transaction, checks foreign keys, then sets
    /// `user_version`. On any failure nothing changes, `user_version` included.
    func migrate(_ migrations: [Migration]) throws {
        let ordered = try Migration.ordered(migrations)
        let latestVersion = ordered.last?.version ?? 0
        let currentVersion = try queryOne("PRAGMA user_version", [], origin: .store)?.int64(0) ?? 0
        guard currentVersion <= latestVersion else {
            throw StoreError(
                .schemaTooNew, operation: "check the schema version",
                message: "the database is at version \(currentVersion), this build knows versions up to \(latestVersion)")
        }
        let pending = ordered.filter { $0.version > currentVersion }
        guard !pending.isEmpty else { return }

        try execute("BEGIN IMMEDIATE", [], origin: .store)
        do {
            for migration in pending {
                try runScript(migration.sql, operation: "apply migration \(migration.version) '\(migration.name)'")
            }
            if try !query("PRAGMA foreign_key_check", [], origin: .store).isEmpty {
                throw StoreError.misuse("check foreign keys after migrating", "some rows point at rows that do not exist")
            }
            // PRAGMA takes no placeholders; the version is an Int from code, not input.
            try execute("PRAGMA user_version = \(latestVersion)", [], origin: .store)
            try execute("COMMIT", [], origin: .store)
        } catch {
            rollbackIfInTransaction()
            throw error
        }
    }
}
