import BillingStore
import Foundation
import Testing

/// The WAL goes back into the database file in the background (`Checkpointer`), never in a commit.
@Suite("WAL checkpoints")
struct CheckpointTests {
    private func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    /// Writes about 2 MiB: below the 1000 pages (4 MiB) at which a commit would checkpoint by itself.
    private func writeTwoMebibytes(_ store: Store) async throws {
        let label = String(repeating: "x", count: 1000)
        for _ in 0..<40 {
            try await store.write { tx in
                for _ in 0..<50 { try tx.execute("INSERT INTO items(label) VALUES (?)", .text(label)) }
            }
        }
    }

    @Test("the database file takes the WAL's pages while the store is open, though no commit checkpointed")
    func theCheckpointerCopiesTheWALBack() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path)
            let before = try fileSize(path)
            try await writeTwoMebibytes(store)
            try await waitUntil { ((try? fileSize(path)) ?? 0) > before + 1_500_000 }
            #expect(try await itemLabels(store).count == 2000)
            await store.close()
        }
    }

    @Test("with the checkpointer off and SQLite's own threshold not reached, the pages stay in the WAL")
    func withoutItTheWALKeepsThem() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path) { $0.checkpointInterval = nil }
            let before = try fileSize(path)
            try await writeTwoMebibytes(store)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try fileSize(path) < before + 100_000)
            #expect(try fileSize(path + "-wal") > 1_500_000)
            await store.close()
        }
    }
}
