import BillingStore
import Testing

@Suite("Migrations")
struct MigrationTests {
    /// Each migration appends its name to `applied`, so the table records which ran and in what order.
    static func step(_ version: Int) -> Migration {
        Migration(version: version, name: "step \(version)", sql: "INSERT INTO applied(name) VALUES ('step \(version)');")
    }

    static let create = Migration(
        version: 1, name: "create applied",
        sql: "CREATE TABLE applied (id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO applied(name) VALUES ('create');")

    static func applied(_ store: Store) async throws -> [String] {
        try await store.read { tx in try tx.query("SELECT name FROM applied ORDER BY id").map { try $0.string("name") } }
    }

    static func userVersion(_ store: Store) async throws -> Int64 {
        try await store.read { tx in try #require(try tx.queryOne("PRAGMA user_version")).int64(0) }
    }

    @Test("migrations apply once, in version order, and re-opening applies only new ones")
    func applyOnceInOrder() async throws {
        try await withDatabasePath { path in
            // Given out of order and with a gap: the store sorts by version.
            let first = try await Store.open(path: path, migrations: [Self.step(5), Self.create, Self.step(2)])
            #expect(try await Self.applied(first) == ["create", "step 2", "step 5"])
            #expect(try await Self.userVersion(first) == 5)
            await first.close()

            let again = try await Store.open(path: path, migrations: [Self.create, Self.step(2), Self.step(5)])
            #expect(try await Self.applied(again) == ["create", "step 2", "step 5"])
            await again.close()

            let newer = try await Store.open(path: path, migrations: [Self.create, Self.step(2), Self.step(5), Self.step(6)])
            #expect(try await Self.applied(newer) == ["create", "step 2", "step 5", "step 6"])
            #expect(try await Self.userVersion(newer) == 6)
            await newer.close()
        }
    }

    @Test("a failing migration leaves the schema and user_version as they were")
    func failingMigrationChangesNothing() async throws {
        try await withDatabasePath { path in
            let first = try await Store.open(path: path, migrations: [Self.create])
            await first.close()

            let good = Migration(version: 2, name: "add table", sql: "CREATE TABLE extra (id INTEGER PRIMARY KEY);")
            let bad = Migration(version: 3, name: "broken", sql: "INSERT INTO no_such_table VALUES (1);")
            let error = await #expect(throws: StoreError.self) {
                try await Store.open(path: path, migrations: [Self.create, good, bad])
            }
            #expect(error?.kind == .sqlite)
            #expect(error?.operation == "apply migration 3 'broken'")

            let after = try await Store.open(path: path, migrations: [Self.create])
            #expect(try await Self.userVersion(after) == 1)
            #expect(try await Self.applied(after) == ["create"])
            let extraTables = try await after.read { tx in
                try tx.query("SELECT name FROM sqlite_master WHERE name = 'extra'").count
            }
            #expect(extraTables == 0)
            await after.close()
        }
    }

    @Test("a migration cannot end the migration transaction early")
    func migrationCannotCommit() async throws {
        try await withDatabasePath { path in
            let sneaky = Migration(version: 2, name: "commits", sql: "INSERT INTO applied(name) VALUES ('x'); COMMIT;")
            let error = await #expect(throws: StoreError.self) {
                try await Store.open(path: path, migrations: [Self.create, sneaky])
            }
            #expect(error?.kind == .misuse)
            // Not even migration 1 stayed: all pending migrations share one transaction.
            let empty = try await Store.open(path: path, migrations: [])
            #expect(try await Self.userVersion(empty) == 0)
            await empty.close()
        }
    }

    @Test("a database migrated by a newer build is refused")
    func newerDatabaseIsRefused() async throws {
        try await withDatabasePath { path in
            let newer = try await Store.open(path: path, migrations: [Self.create, Self.step(2)])
            await newer.close()
            let error = await #expect(throws: StoreError.self) {
                try await Store.open(path: path, migrations: [Self.create])
            }
            #expect(error?.kind == .schemaTooNew)
        }
    }

    @Test("duplicate or non-positive versions are refused before anything runs")
    func invalidVersionsAreRefused() async throws {
        try await withDatabasePath { path in
            for migrations in [[Self.create, Self.create], [Self.step(0)]] {
                let error = await #expect(throws: StoreError.self) {
                    try await Store.open(path: path, migrations: migrations)
                }
                #expect(error?.kind == .misuse)
            }
        }
    }
}
