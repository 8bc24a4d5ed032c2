import BillingStore
import Testing

@Suite("Values")
struct ValueTests {
    static let schema = [
        Migration(
            version: 1, name: "create samples",
            sql: "CREATE TABLE samples (id INTEGER PRIMARY KEY, big INTEGER, small INTEGER, flag INTEGER, text TEXT, bytes BLOB);")
    ]

    @Test("every bindable type reads back as itself; empty text and blobs are not NULL")
    func valuesRoundTrip() async throws {
        try await withDatabasePath { path in
            let store = try await Store.open(path: path, migrations: Self.schema)
            let insert = "INSERT INTO samples(big, small, flag, text, bytes) VALUES (?, ?, ?, ?, ?)"
            try await store.write { tx in
                try tx.execute(insert, .integer(.max), .int(.min), .bool(true), .text("héllo 💳 \u{0}x"), .blob([0, 1, 255]))
                try tx.execute(insert, SQLValue(Int64(-1)), SQLValue(Int(7)), false, "", .blob([]))
                try tx.execute(insert, SQLValue(Int64?.none), SQLValue(Int?.none), SQLValue(Bool?.none), SQLValue(String?.none), nil)
            }
            let rows = try await store.read { tx in try tx.query("SELECT big, small, flag, text, bytes FROM samples ORDER BY id") }
            #expect(rows.count == 3)

            #expect(try rows[0].int64("big") == .max)
            #expect(try rows[0].int(1) == .min)
            #expect(try rows[0].bool("flag"))
            #expect(try rows[0].string("text") == "héllo 💳 \u{0}x")
            #expect(try rows[0].blob(4) == [0, 1, 255])

            #expect(try rows[1].int64(0) == -1)
            #expect(try rows[1].int("small") == 7)
            #expect(try rows[1].bool(2) == false)
            #expect(try rows[1].string("text") == "")
            #expect(try rows[1].optionalBlob("bytes") == [])
            #expect(try rows[1].value("bytes") == .blob([]))

            #expect(try rows[2].optionalInt64("big") == nil)
            #expect(try rows[2].optionalInt("small") == nil)
            #expect(try rows[2].optionalBool("flag") == nil)
            #expect(try rows[2].optionalString("text") == nil)
            #expect(try rows[2].isNull("bytes"))
            #expect(rows[2].columnNames == ["big", "small", "flag", "text", "bytes"])
            await store.close()
        }
    }

    @Test("a boolean column holding 2 is an error, not true")
    func strictBooleans() async throws {
        try await withDatabasePath { path in
            let store = try await Store.open(path: path, migrations: Self.schema)
            let error = await #expect(throws: StoreError.self) {
                try await store.read { tx in try tx.queryOne("SELECT 2 AS flag")?.bool("flag") }
            }
            #expect(error?.kind == .misuse)
            await store.close()
        }
    }

    @Test("a transaction used off its connection's queue stops the process")
    func offQueueUseTraps() async throws {
        // The directory is made and removed out here: the child process traps, so its own cleanup never runs.
        let result = try await withDatabasePath { path in
            await #expect(processExitsWith: .failure) { [path = path as String] in
                let store = try await Store.open(path: path, migrations: ValueTests.schema)
                // Smuggled out of its body on purpose: the compiler forbids this without `nonisolated(unsafe)`.
                nonisolated(unsafe) var escaped: ReadTransaction?
                try await store.read { tx in escaped = tx }
                _ = try escaped?.query("SELECT 1")
            }
        }
        // A trap (the queue check) ends the process with a signal; a thrown error on the way would exit with a code.
        let status = try #require(result).exitStatus
        guard case .signal = status else {
            Issue.record("expected the process to trap, it ended with \(status)")
            return
        }
    }
}
