import BillingStore
import Testing

@Suite("Reads")
struct ReadTests {
    @Test("readers see committed data, never a batch that has not committed yet")
    func readersSeeOnlyCommittedData() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path) { $0.readerCount = 3 }
            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('committed')") }

            // The held body has inserted 'pending' inside the open batch transaction and is waiting.
            let held = try await HeldWriter(store, alsoInsert: "pending")
            let queued = try await queueInserts(store, count: 2, labelPrefix: "queued")
            // Several reads at once, so that more than one reader connection answers; the writer is not in their way.
            try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<6 { group.addTask { try await itemLabels(store) } }
                for try await labels in group { #expect(labels == ["committed"]) }
            }

            try await held.release()
            for write in queued { _ = try await write.value }
            // The two queued writes entered the queue in whatever order their tasks ran.
            let labels = try await itemLabels(store)
            #expect(Array(labels.prefix(2)) == ["committed", "pending"])
            #expect(Set(labels.dropFirst(2)) == ["queued0", "queued1"])
            #expect(labels.count == 4)
            await store.close()
        }
    }

    @Test("a read that throws gets its own error and leaves the reader usable")
    func throwingReadIsIsolated() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path) { $0.readerCount = 1 }
            struct ReadFailed: Error, Equatable {}
            await #expect(throws: ReadFailed()) {
                try await store.read { tx in
                    _ = try tx.query("SELECT * FROM items")
                    throw ReadFailed()
                }
            }
            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('visible')") }
            #expect(try await itemLabels(store) == ["visible"])
            await store.close()
        }
    }

    @Test("reader connections are read-only")
    func readersCannotWrite() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path)
            let error = await #expect(throws: StoreError.self) {
                try await store.read { tx in try tx.query("INSERT INTO items(label) VALUES ('sneaky') RETURNING id") }
            }
            #expect(error?.kind == .sqlite)
            #expect(try await itemLabels(store) == [])
            await store.close()
        }
    }
}
