import BillingStore
import Testing

@Suite("Group commit")
struct WriteTests {
    struct BodyFailed: Error, Equatable {
        let who: String
    }

    @Test("a body that throws rolls back only its own rows; the rest of its batch commits")
    func throwingBodyRollsBackOnlyItself() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path)
            let held = try await HeldWriter(store)
            // Three writes gather behind the held one and so share the next transaction.
            let first = Task { try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('first')") } }
            try await waitUntil { store.statistics.queuedWrites == 1 }
            let failing = Task {
                try await store.write { tx in
                    try tx.execute("INSERT INTO items(label) VALUES ('failing')")
                    try tx.execute("UPDATE items SET owner = 'failing'")
                    throw BodyFailed(who: "failing")
                }
            }
            try await waitUntil { store.statistics.queuedWrites == 2 }
            let last = Task { try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('last')") } }
            try await waitUntil { store.statistics.queuedWrites == 3 }
            try await held.release()

            #expect(try await first.value == 1)
            await #expect(throws: BodyFailed(who: "failing")) { try await failing.value }
            #expect(try await last.value == 1)

            #expect(try await itemLabels(store) == ["first", "last"])
            let owners = try await store.read { tx in try tx.query("SELECT owner FROM items").map { try $0.optionalString("owner") } }
            #expect(owners == [nil, nil])
            let statistics = store.statistics
            #expect(statistics.transactionsCommitted == 2)  // the holding write, then one for all three
            #expect(statistics.largestBatch == 3)
            #expect(statistics.writesCommitted == 3)  // the holding write, first, last
            #expect(statistics.writesRolledBack == 1)
            await store.close()
        }
    }

    @Test("a body that leaves a deferred foreign key unresolved fails alone, not its whole batch")
    func deferredForeignKeyFailsOnlyItsBody() async throws {
        try await withDatabasePath { path in
            // A deferred foreign key is checked at COMMIT, not by the statement that breaks it.
            let notes = Migration(
                version: 3, name: "create notes",
                sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, item_id INTEGER REFERENCES items(id) DEFERRABLE INITIALLY DEFERRED);")
            let store = try await Store.open(path: path, migrations: testMigrations + [notes])
            let held = try await HeldWriter(store)
            let innocent = Task { try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('innocent')") } }
            try await waitUntil { store.statistics.queuedWrites == 1 }
            let dangling = Task { try await store.write { tx in try tx.execute("INSERT INTO notes(item_id) VALUES (404)") } }
            try await waitUntil { store.statistics.queuedWrites == 2 }
            try await held.release()

            #expect(try await innocent.value == 1)
            let error = await #expect(throws: StoreError.self) { try await dangling.value }
            #expect(error?.isConstraintViolation == true)
            #expect(error?.resultCode == 787)  // SQLITE_CONSTRAINT_FOREIGNKEY
            #expect(try await itemLabels(store) == ["innocent"])
            #expect(try await store.read { tx in try tx.query("SELECT * FROM notes").count } == 0)
            #expect(store.statistics.transactionsCommitted == 2)
            #expect(store.statistics.writesRolledBack == 1)
            await store.close()
        }
    }

    @Test("when SQLite rolls the batch back, every write of it gets the error and no later body commits on its own")
    func rolledBackBatchFailsEveryWrite() async throws {
        try await withDatabasePath { path in
            // RAISE(ROLLBACK) ends the whole transaction, not just the statement or the body's savepoint.
            let guarded = Migration(
                version: 3, name: "create guarded",
                sql: """
                    CREATE TABLE guarded (id INTEGER PRIMARY KEY, amount_minor INTEGER NOT NULL);
                    CREATE TRIGGER guarded_no_negative BEFORE INSERT ON guarded WHEN NEW.amount_minor < 0
                    BEGIN SELECT RAISE(ROLLBACK, 'negative amounts roll back the transaction'); END;
                    """)
            let store = try await Store.open(path: path, migrations: testMigrations + [guarded])
            let held = try await HeldWriter(store)
            let before = Task { try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('before')") } }
            try await waitUntil { store.statistics.queuedWrites == 1 }
            let culprit = Task { try await store.write { tx in try tx.execute("INSERT INTO guarded(amount_minor) VALUES (-1)") } }
            try await waitUntil { store.statistics.queuedWrites == 2 }
            let after = Task { try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('after')") } }
            try await waitUntil { store.statistics.queuedWrites == 3 }
            try await held.release()

            for write in [before, culprit, after] {
                let error = await #expect(throws: StoreError.self) { try await write.value }
                #expect(error?.kind == .transactionRolledBack)
            }
            #expect(try await itemLabels(store) == [])
            #expect(store.statistics.transactionsFailed == 1)
            #expect(store.statistics.transactionsCommitted == 1)  // the holding write only

            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('later')") }
            #expect(try await itemLabels(store) == ["later"])
            await store.close()
        }
    }

    @Test("500 concurrent writers: every row is durable and they share far fewer than 500 commits")
    func manyConcurrentWriters() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<500 {
                    group.addTask {
                        _ = try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES (?)", .text("w\(index)")) }
                    }
                }
                try await group.waitForAll()
            }
            let statistics = store.statistics
            #expect(statistics.writesCommitted == 500)
            #expect(statistics.transactionsCommitted < 100, "got \(statistics.transactionsCommitted) commits")
            await store.close()

            let reopened = try await openTestStore(path)
            let labels = try await itemLabels(reopened)
            #expect(labels.count == 500)
            #expect(Set(labels) == Set((0..<500).map { "w\($0)" }))
            await reopened.close()
        }
    }

    @Test("a batch carries at most maxWritesPerTransaction bodies")
    func batchSizeIsBounded() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path) { $0.maxWritesPerTransaction = 100 }
            let held = try await HeldWriter(store)
            let writes = try await queueInserts(store, count: 250, labelPrefix: "b")
            try await held.release()
            for write in writes { _ = try await write.value }

            let statistics = store.statistics
            #expect(statistics.transactionsCommitted == 1 + 3)  // 100 + 100 + 50
            #expect(statistics.largestBatch == 100)
            #expect(try await itemLabels(store).count == 250)
            await store.close()
        }
    }

    @Test("one transaction per write when maxWritesPerTransaction is 1")
    func unbatchedCommitsEachWrite() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path) { $0.maxWritesPerTransaction = 1 }
            let held = try await HeldWriter(store)
            let writes = try await queueInserts(store, count: 20, labelPrefix: "u")
            try await held.release()
            for write in writes { _ = try await write.value }
            #expect(store.statistics.transactionsCommitted == 21)
            await store.close()
        }
    }

    @Test("a full write queue answers overloaded, and the store recovers once it drains")
    func fullQueueIsOverloaded() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path) { $0.maxQueuedWrites = 3 }
            let held = try await HeldWriter(store)
            let writes = try await queueInserts(store, count: 3, labelPrefix: "q")

            let error = await #expect(throws: StoreError.self) {
                try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('too many')") }
            }
            #expect(error?.kind == .overloaded)
            #expect(error?.message.contains("overloaded") == true)

            try await held.release()
            for write in writes { _ = try await write.value }
            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('after')") }
            // The queued writes entered the queue in whatever order their tasks ran; "after" came last.
            let labels = try await itemLabels(store)
            #expect(Set(labels.dropLast()) == ["q0", "q1", "q2"])
            #expect(labels.count == 4 && labels.last == "after")
            await store.close()
        }
    }

    @Test("close lets queued writes commit, then refuses new ones")
    func closeDrainsQueuedWrites() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path)
            let held = try await HeldWriter(store)
            let writes = try await queueInserts(store, count: 10, labelPrefix: "c")
            let closing = Task { await store.close() }
            try await held.release()
            for write in writes { _ = try await write.value }
            await closing.value

            let error = await #expect(throws: StoreError.self) { try await store.write { _ in } }
            #expect(error?.kind == .closed)
            await #expect(throws: StoreError.self) { try await store.read { _ in } }

            let reopened = try await openTestStore(path)
            #expect(try await itemLabels(reopened).count == 10)
            await reopened.close()
        }
    }

    @Test("bodies cannot control transactions or change the store's settings")
    func bodiesCannotControlTransactions() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path)
            let forbidden = [
                "COMMIT", "ROLLBACK", "BEGIN", "SAVEPOINT mine", "RELEASE batched_write", "END",
                "PRAGMA synchronous = OFF", "PRAGMA query_only = ON", "PRAGMA main.foreign_keys = OFF", "PRAGMA user_version = 9",
            ]
            for statement in forbidden {
                let error = await #expect(throws: StoreError.self, "\(statement)") {
                    try await store.write { tx in
                        try tx.execute("INSERT INTO items(label) VALUES ('before')")
                        try tx.execute(statement)
                    }
                }
                #expect(error?.kind == .misuse, "\(statement)")
            }
            #expect(try await itemLabels(store) == [])
            // Reading a setting is fine.
            let synchronous = try await store.write { tx in try #require(try tx.queryOne("PRAGMA synchronous")).int(0) }
            #expect(synchronous == 2)  // FULL
            let stillWorks = try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('ok')") }
            #expect(stillWorks == 1)
            await store.close()
        }
    }

    @Test("a body sees its own changes and the id its INSERT returned")
    func bodySeesItsOwnChanges() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path)
            let (id, count) = try await store.write { tx in
                let id = try #require(try tx.queryOne("INSERT INTO items(label) VALUES ('mine') RETURNING id")).int64("id")
                let count = try #require(try tx.queryOne("SELECT count(*) AS n FROM items")).int("n")
                return (id, count)
            }
            #expect(id == 1)
            #expect(count == 1)
            let updated = try await store.write { tx in try tx.execute("UPDATE items SET owner = ? WHERE id > 0", "me") }
            #expect(updated == 1)
            let created = try await store.write { tx in try tx.execute("CREATE TABLE more (id INTEGER PRIMARY KEY)") }
            #expect(created == 0)  // not the previous UPDATE's count
            await store.close()
        }
    }
}
