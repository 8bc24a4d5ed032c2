import BillingLocking
import BillingStore
import CSQLiteFaults
import Foundation

/// A disk that fails on cue: a fault-injecting SQLite VFS (`CSQLiteFaults`) registered under a name of
/// its own, so that tests running in parallel never share faults. Open the store with `configure` and
/// close it before `unregister()`.
///
/// `@unchecked Sendable`: the C side keeps its fault state in atomics, and the pointer never changes.
final class FaultyDisk: @unchecked Sendable {
    /// The file operations a fault can be armed on.
    enum Operation {
        case write, sync, truncate

        fileprivate var c: sqlite_faults_operation {
            switch self {
            case .write: SQLITE_FAULTS_WRITE
            case .sync: SQLITE_FAULTS_SYNC
            case .truncate: SQLITE_FAULTS_TRUNCATE
            }
        }
    }

    /// SQLite's result codes a disk gives; the extended ones are macros Swift does not import.
    enum Code {
        static let full: Int32 = 13  // SQLITE_FULL: the unix VFS's answer to ENOSPC
        static let ioErrorWrite: Int32 = 10 | (3 << 8)  // SQLITE_IOERR_WRITE
        static let ioErrorFsync: Int32 = 10 | (4 << 8)  // SQLITE_IOERR_FSYNC
        static let ioErrorTruncate: Int32 = 10 | (6 << 8)  // SQLITE_IOERR_TRUNCATE
    }

    let vfsName: String
    private let faults: OpaquePointer

    init() {
        vfsName = "billing-faults-\(UUID().uuidString)"
        guard let faults = sqlite_faults_register(vfsName) else { fatalError("cannot register the fault-injecting VFS") }
        self.faults = faults
    }

    /// Makes the store open its files through this disk.
    func configure(_ configuration: inout Store.Configuration) {
        configuration.vfsName = vfsName
        // Faults land on the Nth call: a background checkpointer's calls would shift them at random.
        configuration.checkpointInterval = nil
    }

    /// Lets `succeedingCalls` calls of `operation` through, fails the next one with `code`, and, if
    /// `persistent`, every later one until `clear()`.
    func fail(_ operation: Operation, after succeedingCalls: Int = 0, with code: Int32, persistent: Bool) {
        sqlite_faults_arm(faults, operation.c, succeedingCalls, code, persistent ? 1 : 0)
    }

    /// The disk works again.
    func clear() { sqlite_faults_clear(faults) }

    func calls(_ operation: Operation) -> Int { sqlite_faults_calls(faults, operation.c) }

    /// How many calls this disk has failed on purpose.
    var injected: Int { sqlite_faults_injected(faults) }

    /// Call once every store opened through this disk is closed.
    func unregister() { sqlite_faults_unregister(faults) }
}

/// Collects what the store reports through `Configuration.onEvent`.
final class EventLog: Sendable {
    private let events = Locked<[StoreEvent]>([])

    func configure(_ configuration: inout Store.Configuration) {
        configuration.onEvent = { event in self.events.withLock { $0.append(event) } }
    }

    var all: [StoreEvent] { events.withLock { $0 } }

    /// The events with their errors reduced to the fault, for comparing whole sequences.
    var summary: [String] {
        all.map { event in
            switch event {
            case .storageFailed(let error): "failed: \(error.storageFault.map(String.init(describing:)) ?? "not storage")"
            case .storageRecovered(let failedWrites): "recovered after \(failedWrites)"
            }
        }
    }
}
