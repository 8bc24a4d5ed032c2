import BillingClient
import BillingDomain
import BillingSandbox
import BillingServer
import BillingService
import BillingStore
import BillingWire
import CSQLiteFaults
import Foundation
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What a caller is told when the store's disk fails: a status and a reason it can act on, never
/// INTERNAL (the store's own fault tests, in BillingStoreTests, make the disk fail for real).
@Suite("Storage faults, as callers see them")
struct StorageFaultStatusTests {
    private func status(_ resultCode: Int32, errno: Int32 = 0, kind: StoreError.Kind = .sqlite) -> RPCError {
        StoreError(kind, resultCode: resultCode, operation: "COMMIT", message: "database or disk is full", systemErrorNumber: errno).rpcError
    }

    @Test func aFullDiskIsResourceExhaustedWithStorageFull() {
        for error in [status(13), status(13, kind: .transactionRolledBack), status(10 | (4 << 8), errno: ENOSPC)] {
            #expect(error.code == .resourceExhausted)
            #expect(error.reason == "storage_full")
            #expect(error.message.contains("disk is full"))
        }
    }

    @Test func anIOErrorIsUnavailableWithStorageError() {
        for error in [status(10 | (3 << 8)), status(10 | (4 << 8), errno: EIO), status(10 | (3 << 8), kind: .transactionRolledBack)] {
            #expect(error.code == .unavailable)
            #expect(error.reason == "storage_error")
        }
    }

    @Test func otherStoreFailuresStayInternalAndOverloadStaysResourceExhausted() {
        #expect(status(19).code == .internalError)  // SQLITE_CONSTRAINT: ours
        #expect(status(19).reason == "store_failed")
        #expect(status(0, kind: .overloaded).reason == "store_overloaded")
    }
}

/// The service on a store whose disk fails on cue (the `CSQLiteFaults` VFS): what a caller sees,
/// end to end, over the real socket.
@Suite("Storage faults, end to end")
struct StorageFaultEndToEndTests {
    private func usd(_ minor: Int64) -> BillingV1.Money { BillingV1.Money(amountMinor: minor, currency: "USD") }

    @Test func aFullDiskRefusesTopUpsWithStorageFullServesReadsAndTheSameKeySucceedsOnceSpaceReturns() async throws {
        try await withFaultyService { service, disk in
            let client = service.client
            let accountID = try await client.readyAccount()
            _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(1_000)))
            let chargesBefore = await service.gateway.chargeCalls

            disk.failEveryWrite(with: 13)  // SQLITE_FULL
            let topUpKey = key()
            let refused = await rpcError { _ = try await client.addBalance(.init(idempotencyKey: topUpKey, accountID: accountID, amount: usd(500))) }
            #expect(refused?.code == .resourceExhausted)
            #expect(refused?.reason == "storage_full")
            // Nothing was charged: the pending charge could not be recorded, so the gateway was never called.
            #expect(await service.gateway.chargeCalls == chargesBefore)
            // Reads are served while the disk is full.
            #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(1_000))

            disk.clear()
            _ = try await client.addBalance(.init(idempotencyKey: topUpKey, accountID: accountID, amount: usd(500)))
            #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(1_500))
            #expect(await service.gateway.chargeCalls == chargesBefore + 1)
        }
    }

    @Test func aFullDiskRefusesUsageWithStorageFullAndTheSameUsageIDSucceedsOnceSpaceReturns() async throws {
        try await withFaultyService { service, disk in
            let client = service.client
            let accountID = try await client.readyAccount()
            _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(1_000)))
            disk.failEveryWrite(with: 13)  // SQLITE_FULL
            let usage = BillingV1.RecordUsageRequest(accountID: accountID, usageID: key(), category: "sms", amount: usd(300), description: "usage")
            let refused = await rpcError { _ = try await client.recordUsage(usage) }
            #expect(refused?.code == .resourceExhausted, "\(String(describing: refused))")
            #expect(refused?.reason == "storage_full")
            #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(1_000))
            disk.clear()
            #expect(try await client.recordUsage(usage).replayed == false)
            #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(700))
        }
    }

    @Test func anIOErrorRefusesWritesWithStorageErrorAndTheServiceRecovers() async throws {
        try await withFaultyService { service, disk in
            let client = service.client
            let accountID = try await client.readyAccount()
            disk.failEveryWrite(with: 10 | (3 << 8))  // SQLITE_IOERR_WRITE
            let refused = await rpcError { _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(500))) }
            #expect(refused?.code == .unavailable)
            #expect(refused?.reason == "storage_error")
            disk.clear()
            _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: usd(500)))
            #expect(try await client.getWallet(.init(accountID: accountID)).wallet?.balance == usd(500))
        }
    }
}

/// A fault-injecting VFS registered under its own name (see Tests/BillingStoreTests/FaultyDisk.swift).
/// `@unchecked Sendable`: the C side keeps its state in atomics.
private final class FaultyDisk: @unchecked Sendable {
    let vfsName = "billing-service-faults-\(UUID().uuidString)"
    private let faults: OpaquePointer

    init() { faults = sqlite_faults_register(vfsName)! }
    func failEveryWrite(with code: Int32) { sqlite_faults_arm(faults, SQLITE_FAULTS_WRITE, 0, code, 1) }
    func clear() { sqlite_faults_clear(faults) }
    func unregister() { sqlite_faults_unregister(faults) }
}

/// The parts of a running service a fault test needs.
private struct FaultyService {
    let client: BillingServiceClient
    let gateway: FlakyGateway
}

/// Runs the service as `BillingHarness` does, but on a store opened through a `FaultyDisk`.
private func withFaultyService(_ body: (FaultyService, FaultyDisk) async throws -> Void) async throws {
    var template = Array("/tmp/billing-faults-XXXXXX".utf8CString)
    let directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let disk = FaultyDisk()
    defer { disk.unregister() }
    var configuration = Store.Configuration()
    configuration.vfsName = disk.vfsName
    configuration.checkpointInterval = nil  // its calls would shift the faults armed for the Nth call
    let store = try await Store.open(path: directory + "/billing.sqlite3", migrations: BillingSchema.migrations, configuration: configuration)
    let clock = TestClock()
    let gateway = FlakyGateway(wrapping: try SandboxGateway(directory: URL(fileURLWithPath: directory + "/gateway"), now: { clock.now }))
    let billing = Billing(context: BillingContext(
        store: store, gateway: gateway, now: { clock.now }, invoicing: try BillingHarness.invoicing(), limits: MoneyLimits()))
    _ = try await billing.prepare()
    var logger = Logger(label: "billing-test")
    logger.logLevel = .critical
    let socketPath = directory + "/billingd.sock"
    let server = RPCServer(configuration: ServerConfiguration(socketPath: socketPath), services: [BillingHandlers(billing: billing)], logger: logger)
    try server.start()
    var clientConfiguration = ClientConfiguration(socketPath: socketPath)
    clientConfiguration.defaultTimeout = .seconds(60)
    let service = FaultyService(client: BillingServiceClient(RPCClient(configuration: clientConfiguration)), gateway: gateway)
    do {
        try await body(service, disk)
    } catch {
        disk.clear()
        await server.shutdown()
        await store.close()
        throw error
    }
    await server.shutdown()
    await store.close()
}
