import BillingLocking

/// A few read-only connections, each on its own serial queue, that read committed data while the writer writes.
///
/// In WAL mode a reader reads the last committed snapshot and neither waits for the writer nor makes it wait.
/// Each read goes to the reader with the fewest reads in hand, so one slow read does not hold up the others.
final class ReaderPool: Sendable {
    private let readers: [SQLiteConnection]
    private let slots: ReadSlots

    init(readers: [SQLiteConnection], maxQueuedReads: Int) {
        precondition(!readers.isEmpty, "a store needs at least one reader")
        self.readers = readers
        self.slots = ReadSlots(readers: readers.count, maxQueuedReads: maxQueuedReads)
    }

    /// Runs `body` inside `BEGIN DEFERRED ... COMMIT` on a reader, so all its queries see one snapshot.
    func read<T: Sendable>(_ body: @escaping @Sendable (ReadTransaction) throws -> T) async throws -> T {
        let index = try slots.checkOut()
        defer { slots.checkIn(index) }
        return try await readers[index].perform { connection in
            try connection.execute("BEGIN DEFERRED", [], origin: .store)
            do {
                let result = try body(ReadTransaction(runner: connection))
                try connection.execute("COMMIT", [], origin: .store)
                return result
            } catch {
                connection.rollbackIfInTransaction()
                throw error
            }
        }
    }

    /// Refuses new reads, lets the ones already on a reader's queue finish, then closes every reader.
    func close() async {
        slots.close()
        for reader in readers { await reader.closeOnQueue() }
    }
}

/// Which reader takes the next read, for every engine: the one with the fewest reads in hand, so one
/// slow read does not hold up the others; `overloaded` past `maxQueuedReads`, `closed` after `close`.
package final class ReadSlots: Sendable {
    private let maxQueuedReads: Int
    private let state: Locked<(readsInHand: [Int], isClosed: Bool)>

    package init(readers: Int, maxQueuedReads: Int) {
        self.maxQueuedReads = maxQueuedReads
        self.state = Locked((Array(repeating: 0, count: readers), false))
    }

    /// The index of the reader to use; give it back with `checkIn` when the read ends.
    package func checkOut() throws -> Int {
        try state.withLock { state in
            guard !state.isClosed else { throw StoreError.closed("start a read") }
            let inHand = state.readsInHand.reduce(0, +)
            guard inHand < maxQueuedReads else {
                throw StoreError(.overloaded, operation: "start a read", message: "the store is overloaded: \(inHand) reads in progress")
            }
            let index = state.readsInHand.indices.min { state.readsInHand[$0] < state.readsInHand[$1] }!
            state.readsInHand[index] += 1
            return index
        }
    }

    package func checkIn(_ index: Int) {
        state.withLock { $0.readsInHand[index] -= 1 }
    }

    /// Refuses new reads from now on.
    package func close() {
        state.withLock { $0.isClosed = true }
    }
}
