import BillingStore
import Dispatch
import Foundation
import Synchronization
import Testing

/// Runs `body` with the path of a database file in a fresh temporary directory, deleted afterwards.
func withDatabasePath<T>(_ body: (String) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("billing-store-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory.appendingPathComponent("billing.sqlite").path)
}

/// A small schema most tests share: an `items` table and a `cards` table with constraints to break.
let testMigrations = [
    Migration(
        version: 1, name: "create items",
        sql: "CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL, owner TEXT);"),
    Migration(
        version: 2, name: "create cards",
        sql: """
            CREATE TABLE customers (id INTEGER PRIMARY KEY);
            CREATE TABLE cards (
                id INTEGER PRIMARY KEY,
                number TEXT NOT NULL UNIQUE CHECK (length(number) <= 40),
                customer_id INTEGER REFERENCES customers(id)
            );
            INSERT INTO customers(id) VALUES (1);
            """),
]

func openTestStore(_ path: String, configure: (inout Store.Configuration) -> Void = { _ in }) async throws -> Store {
    var configuration = Store.Configuration()
    configure(&configuration)
    return try await Store.open(path: path, migrations: testMigrations, configuration: configuration)
}

func itemLabels(_ store: Store) async throws -> [String] {
    try await store.read { tx in try tx.query("SELECT label FROM items ORDER BY id").map { try $0.string("label") } }
}

struct TimedOut: Error {}

/// Polls `condition` every few milliseconds for up to 10 seconds; throws if it never holds.
func waitUntil(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TimedOut() }
        try await Task.sleep(for: .milliseconds(2))
    }
}

/// A write that holds the writer inside its body until released, so that writes queued behind it gather
/// into the next batch deterministically instead of depending on timing.
struct HeldWriter {
    private final class Gate: Sendable {
        let entered = Atomic<Bool>(false)
        let released = DispatchSemaphore(value: 0)
    }

    private let gate: Gate
    private let write: Task<Void, any Error>

    /// Starts the holding write and returns once the writer is inside its body.
    /// `alsoInsert` is a label the holding body inserts before it waits (uncommitted while held).
    init(_ store: Store, alsoInsert label: String? = nil) async throws {
        let gate = Gate()
        self.gate = gate
        write = Task {
            try await store.write { tx in
                if let label { try tx.execute("INSERT INTO items(label) VALUES (?)", .text(label)) }
                gate.entered.store(true, ordering: .releasing)
                // Bounded, so a failing test cannot hang the run.
                _ = gate.released.wait(timeout: .now() + 30)
            }
        }
        try await waitUntil { gate.entered.load(ordering: .acquiring) }
    }

    /// Lets the writer go and waits until the holding write's batch has committed.
    func release() async throws {
        gate.released.signal()
        try await write.value
    }
}

/// Starts `count` writes that each insert one item, and returns once all of them wait in the queue.
/// Each is its own task, so they enter the queue in no particular order.
func queueInserts(_ store: Store, count: Int, labelPrefix: String) async throws -> [Task<Int64, any Error>] {
    let alreadyQueued = store.statistics.queuedWrites
    let writes = (0..<count).map { index in
        Task {
            try await store.write { tx in
                try tx.queryOne("INSERT INTO items(label) VALUES (?) RETURNING id", .text("\(labelPrefix)\(index)"))!.int64("id")
            }
        }
    }
    try await waitUntil { store.statistics.queuedWrites == alreadyQueued + count }
    return writes
}
