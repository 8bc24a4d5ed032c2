import BillingStore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The database holds billing addresses and gateway tokens: nobody but its owner may read it, whatever
/// the umask of the process that created it.
@Suite("Database file permissions", .serialized)
struct FileModeTests {
    private func mode(_ path: String) -> mode_t {
        var status = stat()
        guard stat(path, &status) == 0 else { return 0o7777 }
        return status.st_mode & 0o777
    }

    @Test func theDatabaseAndItsWALAreOwnerOnlyUnderAPermissiveUmask() async throws {
        let previous = umask(0o000)
        defer { umask(previous) }
        try await withDatabasePath { path in
            let store = try await openTestStore(path)
            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('x')") }
            #expect(mode(path) == 0o600)
            #expect(mode(path + "-wal") == 0o600)
            #expect(mode(path + "-shm") == 0o600)
            await store.close()
        }
    }

    @Test func aWiderFileLeftByAnOlderBuildIsNarrowed() async throws {
        try await withDatabasePath { path in
            #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o644]))
            #expect(mode(path) == 0o644)
            let store = try await openTestStore(path)
            #expect(mode(path) == 0o600)
            await store.close()
        }
    }

    @Test func aModeOpenToOthersIsRefused() async throws {
        try await withDatabasePath { path in
            let error = await #expect(throws: StoreError.self) { _ = try await openTestStore(path) { $0.fileMode = 0o604 } }
            #expect(error?.message.contains("never others") == true)
        }
    }
}
