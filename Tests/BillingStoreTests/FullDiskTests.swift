import BillingStore
import Dispatch
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A real full disk: a small tmpfs, filled to the last byte. Needs root and a kernel that lets this
/// process mount (CI's Debian VM does; many containers do not): otherwise the test is skipped, not failed.
@Suite("A real full disk", .serialized)
struct FullDiskTests {
    @Test(
        "on a full tmpfs writes fail as a full disk, reads go on, and writes succeed again once space is freed",
        .enabled(if: Tmpfs.canMount, "needs root and a kernel that lets this process mount a tmpfs"))
    func writesFailOnAFullFilesystemAndRecoverWhenSpaceIsFreed() async throws {
        try await Tmpfs.withMounted(sizeKiB: 8 * 1024) { directory in
            let events = EventLog()
            let store = try await openTestStore(directory + "/billing.sqlite") { events.configure(&$0) }
            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('before')") }

            let filler = directory + "/filler"
            let filled = await offPool { Tmpfs.fill(filler) }
            #expect(filled > 0)

            // Each write needs more WAL space than the file has: 1 MiB of text.
            let bigInsert = "INSERT INTO items(label) VALUES (hex(zeroblob(524288)))"
            for _ in 0..<3 {
                let error = await #expect(throws: StoreError.self) {
                    try await store.write { tx in try tx.execute(bigInsert) }
                }
                #expect(error?.storageFault == .full, "\(String(describing: error))")
            }
            #expect(try await itemLabels(store) == ["before"])
            #expect(store.statistics.storageFailures == 3)
            #expect(store.statistics.writesFailed + store.statistics.writesRolledBack == 3)
            #expect(events.summary == ["failed: disk full"])

            // The operator frees space; the running store takes writes again.
            #expect(unlink(filler) == 0)
            try await store.write { tx in try tx.execute(bigInsert) }
            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('after')") }
            #expect(events.summary == ["failed: disk full", "recovered after 3"])
            await store.close()

            let reopened = try await openTestStore(directory + "/billing.sqlite")
            let labels = try await itemLabels(reopened)
            #expect(labels.count == 3)
            #expect(labels.first == "before" && labels.last == "after")
            await reopened.close()
        }
    }
}

/// Mounting a tmpfs of a chosen size, for tests that need a disk that really fills.
enum Tmpfs {
    /// Whether a tmpfs can be mounted here: tried once, with a 1 MiB mount that is unmounted at once.
    static let canMount: Bool = {
        guard getuid() == 0, let directory = try? mount(sizeKiB: 1024) else { return false }
        unmount(directory)
        return true
    }()

    /// Mounts a tmpfs of `sizeKiB` on a fresh directory, runs `body`, and unmounts whatever happened.
    static func withMounted<T>(sizeKiB: Int, _ body: (String) async throws -> T) async throws -> T {
        let directory = try mount(sizeKiB: sizeKiB)
        defer { unmount(directory) }
        return try await body(directory)
    }

    struct MountFailed: Error, CustomStringConvertible {
        let description: String
    }

    private static func mount(sizeKiB: Int) throws -> String {
        var template = Array("/tmp/billing-tmpfs-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw MountFailed(description: "mkdtemp: \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: made)
        guard Glibc.mount("tmpfs", directory, "tmpfs", 0, "size=\(sizeKiB)k,mode=0700") == 0 else {
            let reason = String(cString: strerror(errno))
            rmdir(directory)
            throw MountFailed(description: "mount tmpfs on \(directory): \(reason)")
        }
        return directory
    }

    /// Detaches the mount even if a file on it is still open, then removes the directory.
    private static func unmount(_ directory: String) {
        _ = umount2(directory, Int32(MNT_DETACH))
        rmdir(directory)
    }

    /// Writes zeros to `path` until the filesystem refuses more (ENOSPC); returns the bytes written.
    static func fill(_ path: String) -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 4096)
        var total = 0
        while true {
            let written = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written > 0 else { break }
            total += written
        }
        return total
    }
}

/// Runs blocking work on a Dispatch thread, off Swift's cooperative pool (two cores: a blocked pool
/// thread stalls every other test).
func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(returning: body()) }
    }
}
