import BillingClient
import BillingDomain
import BillingProtos
import BillingServer
import BillingService
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A read-only caller may read but never move money or change an account; refusals are logged with the
/// caller's uid, pid and method, never what it sent.
@Suite("Roles")
struct RolesTests {
    @Test func aReadOnlyCallerMayReadButNeverChangeAnything() async throws {
        let logs = LogCapture()
        // This test's own uid is read-only; full access belongs to a uid nobody here has.
        let service = try await BillingHarness(logLines: logs, access: AccessPolicy(allowedUserIDs: [4_000_000_000], readOnlyUserIDs: [getuid()]))
        let account = try await service.billing.accounts.createAccount(displayName: "Acme", currencyCode: "USD", idempotencyKey: "setup-1")
        let client = service.client()
        let usd = BillingV1.Money(amountMinor: 500, currency: "USD")

        #expect(try await client.getAccount(.init(accountID: account.id)).account?.id == account.id)
        #expect(try await client.getWallet(.init(accountID: account.id)).wallet?.balance?.amountMinor == 0)
        #expect(try await client.listCharges(.init(accountID: account.id)).charges.isEmpty)
        #expect(try await client.listInvoices(.init(accountID: account.id)).invoices.isEmpty)
        var events = client.watchWallet(.init(accountID: account.id)).makeAsyncIterator()
        #expect(try await events.next()?.kind == .snapshot)

        let secretKey = "idempotency-\(UUID().uuidString)"
        let writes: [(String, () async throws -> Void)] = [
            ("CreateAccount", { _ = try await client.createAccount(.init(idempotencyKey: secretKey, displayName: "Evil", currency: "USD")) }),
            ("AddBalance", { _ = try await client.addBalance(.init(idempotencyKey: secretKey, accountID: account.id, amount: usd)) }),
            ("RecordUsage", { _ = try await client.recordUsage(.init(accountID: account.id, usageID: secretKey, category: "sms", amount: usd)) }),
            ("ConfigureAutoRecharge", {
                _ = try await client.configureAutoRecharge(.init(idempotencyKey: secretKey, accountID: account.id, enabled: true, rechargeAmount: usd, threshold: usd))
            }),
            ("AddPaymentMethod", { _ = try await client.addPaymentMethod(.init(idempotencyKey: secretKey, accountID: account.id, card: TestCard.input(TestCard.succeeds))) }),
            ("CreateInvoice", {
                _ = try await client.createInvoice(.init(idempotencyKey: secretKey, accountID: account.id, lines: [.init(description: "x", quantity: 1, unitAmount: usd)]))
            }),
        ]
        for (method, write) in writes {
            let error = await rpcError(write)
            #expect(error?.code == .permissionDenied, "\(method)")
            #expect(error?.billingReason == .readOnlyCaller, "\(method)")
        }
        #expect(try await client.getWallet(.init(accountID: account.id)).wallet?.balance?.amountMinor == 0)
        #expect(try await client.listPaymentMethods(.init(accountID: account.id)).paymentMethods.isEmpty)
        await service.stop()

        let refusals = logs.all.filter { $0.contains("refused a read-only caller") }
        #expect(refusals.count == writes.count)
        for line in refusals {
            #expect(line.contains("\"uid\": \(getuid())"), "\(line)")
            #expect(line.contains("\"pid\": \(getpid())"), "\(line)")
            #expect(line.contains("billing.v1.BillingService/"))
            #expect(!line.contains(secretKey), "a payload reached the log: \(line)")
        }
        await service.finish()
    }

    @Test func aCallerOnNoListIsRefusedEverything() async throws {
        let service = try await BillingHarness(access: AccessPolicy(allowedUserIDs: [4_000_000_000], readOnlyUserIDs: [4_000_000_001]))
        let error = await rpcError { _ = try await service.client().getAccount(.init(accountID: "acct_0123")) }
        #expect(error?.code == .permissionDenied)
        await service.finish()
    }

    /// The read-only methods are exactly those whose request carries no idempotency key (RecordUsage
    /// carries a usage id instead): a new method that changes something cannot be left open to readers.
    @Test func theReadOnlyMethodsAreExactlyThoseThatTakeNoIdempotencyKey() {
        let service = billing__v1__billing_service__descriptor
        for index in 0..<Int(service.n_methods) {
            let method = String(cString: service.methods[index].name)
            let takesKey = protobuf_c_message_descriptor_get_field_by_name(service.methods[index].input, "idempotency_key") != nil
                || protobuf_c_message_descriptor_get_field_by_name(service.methods[index].input, "usage_id") != nil
            let handlers = BillingHandlers.readOnlyMethods.map(\.rawValue)
            #expect(handlers.contains(method) == !takesKey, "\(method)")
        }
    }
}

/// Callers under other uids, through `setpriv`: the kernel's SO_PEERCRED, not this process's own uid,
/// decides their role. Needs root (CI runs as root); skipped with a note otherwise.
@Suite("Roles of other uids")
struct OtherUidRolesTests {
    /// A minimal caller written from PROTOCOL.md: one REQUEST, and the RESPONSE's status code printed.
    static let caller = #"""
        import socket, struct, sys
        def field(number, data): return bytes([number << 3 | 2, len(data)]) + data
        path, service, method, payload = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode(), bytes.fromhex(sys.argv[4])
        envelope = field(1, service) + field(2, method) + field(3, payload)
        s = socket.socket(socket.AF_UNIX); s.connect(path)
        s.sendall(b"BRPC\x00\x01\x00\x00" + struct.pack(">IIBB", len(envelope), 1, 1, 0) + envelope)
        data = b""
        while len(data) < 8 + 10 or len(data) < 18 + struct.unpack(">I", data[8:12])[0]:
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        def varint(data, at):
            value, shift = 0, 0
            while True:
                value |= (data[at] & 0x7F) << shift
                at += 1
                if data[at - 1] < 0x80: return value, at
                shift += 7
        body, code = data[18:], 0
        if body[:1] == b"\x0a":  # Response.status, whose first field is its code
            length, at = varint(body, 1)
            if body[at:at + 1] == b"\x08": code = varint(body, at + 1)[0]
        print(code)
        """#

    /// Runs the caller as `uid` and returns the status code it got.
    static func call(as uid: UInt32, socket: String, method: String, payload: [UInt8]) async throws -> Int? {
        try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "/usr/bin/python3", "-c", caller,
                                 socket, "billing.v1.BillingService", method, payload.map { String(format: "%02x", $0) }.joined()]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv"))
    func theKernelsWordOnTheCallerDecidesItsRole() async throws {
        let nobody: UInt32 = 65534
        let service = try await BillingHarness(access: AccessPolicy(allowedUserIDs: [0], readOnlyUserIDs: [nobody]))
        chmod(service.directory, 0o755)
        chmod(service.socketPath, 0o666)
        let account = try await service.billing.accounts.createAccount(displayName: "Acme", currencyCode: "USD", idempotencyKey: "setup-1")
        let read = BillingV1.GetWalletRequest(accountID: account.id).wireBytes()
        let write = BillingV1.AddBalanceRequest(idempotencyKey: "k", accountID: account.id, amount: .init(amountMinor: 500, currency: "USD")).wireBytes()

        #expect(try await Self.call(as: nobody, socket: service.socketPath, method: "GetWallet", payload: read) == 0)
        #expect(try await Self.call(as: nobody, socket: service.socketPath, method: "AddBalance", payload: write) == 7)  // PERMISSION_DENIED
        // Root has full access: its top-up gets past the role and is refused for what it is (no card).
        #expect(try await Self.call(as: 0, socket: service.socketPath, method: "AddBalance", payload: write) == 9)  // FAILED_PRECONDITION
        // A uid on no list is refused everything.
        #expect(try await Self.call(as: 65533, socket: service.socketPath, method: "GetWallet", payload: read) == 7)
        await service.finish()
    }
}
