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

    @Test("writes that never pause leave the WAL bounded: the writer helps the checkpointer start it over")
    func theWALStaysBoundedUnderWritesThatNeverPause() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path) {
                $0.checkpointInterval = .milliseconds(5)
                $0.walRestartPages = 256
            }
            // 32 writers that each queue their next write as soon as the last is durable, so the writer
            // always has a batch waiting: about 40 MiB of rows, over 10,000 pages of frames.
            let label = String(repeating: "w", count: 2000)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<32 {
                    group.addTask {
                        for _ in 0..<40 {
                            try await store.write { tx in
                                for _ in 0..<16 { try tx.execute("INSERT INTO items(label) VALUES (?)", .text(label)) }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await itemLabels(store).count == 32 * 40 * 16)
            // The WAL file never shrinks, so its size is its high-water mark. Without the writer's help it
            // held every frame written (43 MB); with it, 4-9 MB (the checkpointer's passes to catch up
            // let it grow past the 1 MiB threshold while the writer keeps appending).
            let walBytes = try fileSize(path + "-wal")
            #expect(walBytes < 16 * 1_048_576, "the WAL grew to \(walBytes) bytes")
            await store.close()
        }
    }
}
