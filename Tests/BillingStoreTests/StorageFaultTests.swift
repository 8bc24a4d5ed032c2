import BillingStore
import Foundation
import Testing

/// The disk fails under the group-commit writer (a fault-injecting VFS, `FaultyDisk`): no write that
/// failed is stored, no write that was acknowledged is lost, reads go on, and writes succeed again once
/// the disk does, without reopening the store.
@Suite("Storage faults")
struct StorageFaultTests {
    @Test("a full disk fails whole batches: nothing of them is stored, reads go on, writes succeed again once space returns")
    func fullDiskFailsBatchesAndTheStoreRecoversWithoutReopening() async throws {
        try await withDatabasePath { path in
            let disk = FaultyDisk()
            defer { disk.unregister() }
            let events = EventLog()
            let store = try await openTestStore(path) {
                disk.configure(&$0)
                events.configure(&$0)
            }
            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('before')") }

            // A batch of one (held), then a batch of three behind it; the disk is full for both COMMITs.
            let held = try await HeldWriter(store, alsoInsert: "held")
            let queued = try await queueInserts(store, count: 3, labelPrefix: "queued")
            disk.fail(.write, with: FaultyDisk.Code.full, persistent: true)
            let heldError = await #expect(throws: StoreError.self) { try await held.release() }
            #expect(heldError?.storageFault == .full)
            for write in queued {
                let error = await #expect(throws: StoreError.self) { try await write.value }
                #expect(error?.storageFault == .full)
                #expect(error?.resultCode == FaultyDisk.Code.full)
            }

            // Reads are served while the disk is full, and see only what was committed.
            #expect(try await itemLabels(store) == ["before"])
            var expected = StoreStatistics()
            expected.transactionsCommitted = 1
            expected.writesCommitted = 1
            expected.largestBatch = 1  // committed batches only: the batch of three failed
            expected.transactionsFailed = 2
            expected.writesFailed = 4
            expected.storageFailures = 4
            #expect(store.statistics == expected)
            #expect(events.summary == ["failed: disk full"])

            // Space returns: the same store, not reopened, takes writes again.
            disk.clear()
            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('after')") }
            #expect(events.summary == ["failed: disk full", "recovered after 4"])
            expected.transactionsCommitted = 2
            expected.writesCommitted = 2
            #expect(store.statistics == expected)
            await store.close()

            let reopened = try await openTestStore(path)
            #expect(try await itemLabels(reopened) == ["before", "after"])
            await reopened.close()
        }
    }

    /// A fault: which file operation fails, with which code, and how the store should name it.
    struct Fault: Sendable, CustomTestStringConvertible {
        let operation: FaultyDisk.Operation
        let code: Int32
        let expected: StoreError.StorageFault
        var testDescription: String { "\(operation) fails with \(code)" }
    }

    static let faults = [
        Fault(operation: .write, code: FaultyDisk.Code.full, expected: .full),
        Fault(operation: .write, code: FaultyDisk.Code.ioErrorWrite, expected: .ioError),
        Fault(operation: .sync, code: FaultyDisk.Code.ioErrorFsync, expected: .ioError),
    ]

    /// Which call of the operation fails first: the first, an early one, or one several batches in.
    static let failingCalls = [0, 1, 2, 4, 7]

    @Test(
        "no failed write is stored and no acknowledged write is lost, whichever write or fsync fails",
        arguments: faults, failingCalls)
    func noFailedWriteIsAcknowledged(fault: Fault, failingCall: Int) async throws {
        for persistent in [false, true] {
            try await withDatabasePath { path in
                let disk = FaultyDisk()
                defer { disk.unregister() }
                let events = EventLog()
                let store = try await openTestStore(path) {
                    disk.configure(&$0)
                    events.configure(&$0)
                }
                disk.fail(fault.operation, after: failingCall, with: fault.code, persistent: persistent)

                // Waves of concurrent writes: batches of varied sizes, at least one COMMIT (one fsync) a wave.
                var acknowledged: Set<String> = []
                var refused: Set<String> = []
                for wave in 0..<10 {
                    let results = await withTaskGroup(of: (String, (any Error)?).self) { group in
                        for index in 0..<6 {
                            let label = "w\(wave)-\(index)"
                            group.addTask {
                                do {
                                    try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES (?)", .text(label)) }
                                    return (label, nil)
                                } catch {
                                    return (label, error)
                                }
                            }
                        }
                        return await group.reduce(into: []) { $0.append($1) }
                    }
                    for (label, error) in results {
                        if let error {
                            #expect((error as? StoreError)?.storageFault == fault.expected, "\(label): \(error)")
                            refused.insert(label)
                        } else {
                            acknowledged.insert(label)
                        }
                    }
                }
                #expect(disk.injected > 0, "the fault never fired: the test proved nothing")
                #expect(!refused.isEmpty)
                if persistent {
                    // Reads are served while the disk fails.
                    #expect(Set(try await itemLabels(store)) == acknowledged)
                }

                disk.clear()
                try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('after')") }
                let statistics = store.statistics
                #expect(statistics.writesCommitted == acknowledged.count + 1)
                #expect(statistics.writesFailed + statistics.writesRolledBack == refused.count)
                #expect(statistics.storageFailures == refused.count)
                if !persistent {
                    // One failed call fails exactly one batch.
                    #expect(disk.injected == 1)
                    #expect(statistics.transactionsFailed == 1)
                }
                // One episode, however many writes it refused: one line to log when it starts, one when it ends.
                #expect(events.summary == ["failed: \(fault.expected)", "recovered after \(refused.count)"])
                await store.close()

                // What a restart finds: every acknowledged write, no refused one.
                let reopened = try await openTestStore(path)
                let stored = Set(try await itemLabels(reopened))
                #expect(stored == acknowledged.union(["after"]), "lost: \(acknowledged.subtracting(stored)); stored though refused: \(stored.intersection(refused))")
                await reopened.close()
            }
        }
    }

    @Test(
        "a crash after a failed fsync does not bring back the refused batch",
        arguments: [FaultyDisk.Operation.sync, .write], [false, true])
    func crashAfterAFailedCommitDoesNotReplayIt(operation: FaultyDisk.Operation, persistent: Bool) async throws {
        try await withDatabasePath { path in
            let disk = FaultyDisk()
            defer { disk.unregister() }
            let store = try await openTestStore(path) { disk.configure(&$0) }
            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('before')") }
            // A failed fsync leaves the batch's frames, complete, in the WAL file; SQLite never indexed them.
            let code = operation == .sync ? FaultyDisk.Code.ioErrorFsync : FaultyDisk.Code.full
            disk.fail(operation, with: code, persistent: persistent)
            await #expect(throws: StoreError.self) {
                try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('refused')") }
            }
            #expect(try await itemLabels(store) == ["before"])

            // The crash: the files as they are now, without the shared-memory index, so that opening them
            // recovers from the WAL as SQLite does after a process dies.
            let crashed = path + "-crashed"
            try FileManager.default.createDirectory(atPath: crashed, withIntermediateDirectories: false)
            for suffix in ["", "-wal"] {
                try FileManager.default.copyItem(atPath: path + suffix, toPath: crashed + "/billing.sqlite" + suffix)
            }
            let recovered = try await openTestStore(crashed + "/billing.sqlite")
            #expect(try await itemLabels(recovered) == ["before"])
            await recovered.close()

            disk.clear()
            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('after')") }
            #expect(try await itemLabels(store) == ["before", "after"])
            await store.close()
        }
    }

    @Test("a body whose own statement hits the full disk fails with the cause named, and nothing of it is stored")
    func bodyThatHitsAFullDiskFailsWithTheCause() async throws {
        try await withDatabasePath { path in
            let disk = FaultyDisk()
            defer { disk.unregister() }
            let events = EventLog()
            let store = try await openTestStore(path) {
                disk.configure(&$0)
                events.configure(&$0)
            }
            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('before')") }
            disk.fail(.write, with: FaultyDisk.Code.full, persistent: true)
            let writesBefore = disk.calls(.write)
            // A page cache of two pages spills to the WAL while the body runs, long before COMMIT.
            let error = await #expect(throws: StoreError.self) {
                try await store.write { tx in
                    try tx.execute("PRAGMA cache_size = 2")
                    for _ in 0..<50 { try tx.execute("INSERT INTO items(label) VALUES (hex(zeroblob(4000)))") }
                }
            }
            #expect(disk.calls(.write) > writesBefore)
            #expect(error?.storageFault == .full)
            #expect(error?.resultCode == FaultyDisk.Code.full)
            #expect(store.statistics.storageFailures == 1)
            #expect(events.summary == ["failed: disk full"])

            disk.clear()
            try await store.write { tx in
                try tx.execute("PRAGMA cache_size = 2000")
                try tx.execute("INSERT INTO items(label) VALUES ('after')")
            }
            #expect(try await itemLabels(store) == ["before", "after"])
            #expect(events.summary == ["failed: disk full", "recovered after 1"])
            await store.close()
        }
    }

    @Test("the store's errors tell a full disk from an I/O error, by code and by errno")
    func storageFaultsAreClassified() {
        func fault(_ code: Int32, errno: Int32 = 0, kind: StoreError.Kind = .sqlite) -> StoreError.StorageFault? {
            StoreError(kind, resultCode: code, operation: "COMMIT", message: "", systemErrorNumber: errno).storageFault
        }
        #expect(fault(FaultyDisk.Code.full) == .full)
        #expect(fault(FaultyDisk.Code.ioErrorWrite) == .ioError)
        #expect(fault(FaultyDisk.Code.ioErrorFsync, errno: ENOSPC) == .full)  // fsync on a full NFS or thin volume
        #expect(fault(FaultyDisk.Code.ioErrorTruncate, errno: EIO) == .ioError)
        #expect(fault(FaultyDisk.Code.full, kind: .transactionRolledBack) == .full)
        #expect(fault(10 | (12 << 8)) == nil)  // SQLITE_IOERR_NOMEM: memory, not the disk
        #expect(fault(19) == nil)  // SQLITE_CONSTRAINT
        #expect(fault(0, kind: .overloaded) == nil)
    }
}
