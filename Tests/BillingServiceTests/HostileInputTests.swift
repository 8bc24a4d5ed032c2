import BillingClient
import BillingProtos
import Foundation
import Testing

/// Every request type of `billing.v1.BillingService`, sent with NUL-bearing strings, invalid UTF-8 and
/// the extreme values of every numeric field. The fields come from the protobuf-c descriptors, so a
/// field added to `proto/` is swept without anyone remembering to add it; the numeric cases are typed,
/// and a test checks that they cover every numeric field the descriptors list.
@Suite("Hostile input to every request type")
struct HostileInputTests {
    /// One step of a path into a message: a field of the message at that depth.
    struct Step {
        var number: UInt32
        var name: String
        var isRepeated: Bool
    }

    /// The methods of BillingService with their request descriptors.
    static var methods: [(name: String, input: UnsafePointer<ProtobufCMessageDescriptor>)] {
        let service = billing__v1__billing_service__descriptor
        return (0..<Int(service.n_methods)).map { (String(cString: service.methods[$0].name), service.methods[$0].input) }
    }

    /// The paths to every field of `types` in a message, nested and repeated ones included.
    static func paths(in descriptor: UnsafePointer<ProtobufCMessageDescriptor>, ofTypes types: [ProtobufCType], depth: Int = 0) -> [[Step]] {
        var found: [[Step]] = []
        for index in 0..<Int(descriptor.pointee.n_fields) {
            let field = descriptor.pointee.fields[index]
            let step = Step(number: field.id, name: String(cString: field.name), isRepeated: field.label == PROTOBUF_C_LABEL_REPEATED)
            if types.contains(field.type) { found.append([step]) }
            if field.type == PROTOBUF_C_TYPE_MESSAGE, depth < 4 {
                let nested = field.descriptor!.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)
                found += paths(in: nested, ofTypes: types, depth: depth + 1).map { [step] + $0 }
            }
        }
        return found
    }

    /// `value` as a length-delimited field at `path`, wrapped in each enclosing message.
    static func encode(_ path: [Step], value: [UInt8]) -> [UInt8] {
        var bytes = value
        for step in path.reversed() {
            bytes = varint(UInt64(step.number) << 3 | 2) + varint(UInt64(bytes.count)) + bytes
        }
        return bytes
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        return bytes + [UInt8(value)]
    }

    /// What the server should name: `address.lines[0]`.
    static func fieldName(_ path: [Step]) -> String {
        path.map { $0.name + ($0.isRepeated ? "[0]" : "") }.joined(separator: ".")
    }

    /// The account's money, to show that nothing a refused request did moved it.
    static func money(_ client: BillingServiceClient, _ accountID: String) async throws -> [String] {
        let wallet = try await client.getWallet(.init(accountID: accountID)).wallet!
        let ledger = try await client.listWalletTransactions(.init(accountID: accountID, pageSize: 100)).transactions.map(\.id)
        let charges = try await client.listCharges(.init(accountID: accountID, pageSize: 100)).charges.map { "\($0.id) \($0.status)" }
        return ["\(wallet.balance?.amountMinor ?? -1)", "\(wallet.serviceStatus)"] + ledger + charges
    }

    @Test func everyStringFieldRefusesNulBytesAndInvalidUTF8BeforeAnythingRuns() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let raw = service.rawClient()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: .init(amountMinor: 5_000, currency: "USD")))
        let before = try await Self.money(client, accountID)
        var checked = 0
        for (method, input) in Self.methods {
            for path in Self.paths(in: input, ofTypes: [PROTOBUF_C_TYPE_STRING]) {
                for bad in [Array("K\u{0}A".utf8), [0x4B, 0xFF, 0x41], [0xED, 0xA0, 0x80]] {  // NUL, a stray byte, a surrogate
                    let request = Self.encode(path, value: bad)
                    do {
                        _ = try await raw.unary(BillingV1.BillingService.name, method, payload: request)
                        Issue.record("\(method) \(Self.fieldName(path)) accepted \(bad)")
                    } catch {
                        #expect(error.code == .invalidArgument, "\(method) \(Self.fieldName(path)): \(error)")
                        #expect(error.billingReason == .invalidString, "\(method) \(Self.fieldName(path)): \(error)")
                        #expect(error.field == Self.fieldName(path), "\(method): \(error)")
                    }
                    checked += 1
                }
            }
        }
        #expect(checked > 100)
        #expect(try await Self.money(client, accountID) == before)
        #expect(try await HealthClient(raw).check() == .serving)
        await service.finish()
    }

    /// A numeric request field, how to set it on a request that would otherwise succeed, and which of
    /// the extreme values must be refused.
    struct NumericCase: Sendable {
        /// `Method:field.path`, as the descriptors name it.
        var path: String
        var refuses: Set<Int64>
        var call: @Sendable (_ client: BillingServiceClient, _ raw: RPCClient, _ target: Target, _ value: Int64) async throws -> Void
    }

    struct Target: Sendable {
        var accountID: String
        var invoiceID: String
        var subscriptionID: String
        var testClockID: String
    }

    static let extremes: [Int64] = [Int64.min, -1, 0, Int64.max]
    static func usd(_ minor: Int64) -> BillingV1.Money { .init(amountMinor: minor, currency: "USD") }
    static func u32(_ value: Int64) -> UInt32 { UInt32(truncatingIfNeeded: value) }

    /// Appends a varint field to a request's bytes and sends it raw: for enum fields, whose typed
    /// Swift values cannot hold unknown numbers.
    static func sendRaw(_ raw: RPCClient, _ method: String, _ request: some WireMessage, field: UInt32, value: Int64) async throws {
        _ = try await raw.unary(BillingV1.BillingService.name, method, payload: request.wireBytes() + varint(UInt64(field) << 3) + varint(UInt64(bitPattern: value)))
    }

    static let numericCases: [NumericCase] = [
        NumericCase(path: "AddPaymentMethod:card.expiry_month", refuses: Set(extremes)) { client, _, target, value in
            _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: target.accountID, card: .init(
                number: TestCard.succeeds, expiryMonth: u32(value), expiryYear: 2030, cvc: "123", holderName: "A")))
        },
        NumericCase(path: "AddPaymentMethod:card.expiry_year", refuses: Set(extremes)) { client, _, target, value in
            _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: target.accountID, card: .init(
                number: TestCard.succeeds, expiryMonth: 12, expiryYear: u32(value), cvc: "123", holderName: "A")))
        },
        NumericCase(path: "CreateInvoice:lines.quantity", refuses: Set(extremes)) { client, _, target, value in
            _ = try await client.createInvoice(.init(idempotencyKey: key(), accountID: target.accountID, lines: [
                .init(description: "Seat", quantity: value, unitAmount: usd(100))]))
        },
        NumericCase(path: "CreateInvoice:lines.unit_amount.amount_minor", refuses: Set(extremes)) { client, _, target, value in
            _ = try await client.createInvoice(.init(idempotencyKey: key(), accountID: target.accountID, lines: [
                .init(description: "Seat", quantity: 1_000_000, unitAmount: usd(value))]))
        },
        NumericCase(path: "CreateInvoice:days_until_due", refuses: [-1, Int64.max]) { client, _, target, value in
            _ = try await client.createInvoice(.init(idempotencyKey: key(), accountID: target.accountID, lines: [
                .init(description: "Seat", quantity: 1, unitAmount: usd(100))], daysUntilDue: u32(value)))
        },
        NumericCase(path: "ListCharges:page_size", refuses: [-1, Int64.max]) { client, _, target, value in
            _ = try await client.listCharges(.init(accountID: target.accountID, pageSize: u32(value)))
        },
        NumericCase(path: "ListCharges:statuses", refuses: [Int64.min, -1, 0, Int64.max]) { _, raw, target, value in
            try await sendRaw(raw, "ListCharges", BillingV1.ListChargesRequest(accountID: target.accountID), field: 4, value: value)
        },
        NumericCase(path: "ListCharges:created_from_unix_ms", refuses: []) { client, _, target, value in
            _ = try await client.listCharges(.init(accountID: target.accountID, createdFromUnixMs: value))
        },
        NumericCase(path: "ListCharges:created_before_unix_ms", refuses: [Int64.min, -1]) { client, _, target, value in
            _ = try await client.listCharges(.init(accountID: target.accountID, createdFromUnixMs: -1, createdBeforeUnixMs: value))
        },
        NumericCase(path: "ListInvoices:page_size", refuses: [-1, Int64.max]) { client, _, target, value in
            _ = try await client.listInvoices(.init(accountID: target.accountID, pageSize: u32(value)))
        },
        NumericCase(path: "ListInvoices:statuses", refuses: [Int64.min, -1, 0, Int64.max]) { _, raw, target, value in
            try await sendRaw(raw, "ListInvoices", BillingV1.ListInvoicesRequest(accountID: target.accountID), field: 4, value: value)
        },
        NumericCase(path: "ListInvoices:created_from_unix_ms", refuses: []) { client, _, target, value in
            _ = try await client.listInvoices(.init(accountID: target.accountID, createdFromUnixMs: value))
        },
        NumericCase(path: "ListInvoices:created_before_unix_ms", refuses: [Int64.min, -1]) { client, _, target, value in
            _ = try await client.listInvoices(.init(accountID: target.accountID, createdFromUnixMs: -1, createdBeforeUnixMs: value))
        },
        NumericCase(path: "AddBalance:amount.amount_minor", refuses: Set(extremes)) { client, _, target, value in
            _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: target.accountID, amount: usd(value)))
        },
        NumericCase(path: "ConfigureAutoRecharge:recharge_amount.amount_minor", refuses: Set(extremes)) { client, _, target, value in
            _ = try await client.configureAutoRecharge(.init(
                idempotencyKey: key(), accountID: target.accountID, enabled: true, rechargeAmount: usd(value), threshold: usd(1_000)))
        },
        NumericCase(path: "ConfigureAutoRecharge:threshold.amount_minor", refuses: [Int64.min, -1, Int64.max]) { client, _, target, value in
            _ = try await client.configureAutoRecharge(.init(
                idempotencyKey: key(), accountID: target.accountID, enabled: true, rechargeAmount: usd(1_000), threshold: usd(value)))
        },
        NumericCase(path: "RecordUsage:amount.amount_minor", refuses: Set(extremes)) { client, _, target, value in
            _ = try await client.recordUsage(.init(accountID: target.accountID, usageID: key(), category: "sms", amount: usd(value)))
        },
        NumericCase(path: "ListWalletTransactions:page_size", refuses: [-1, Int64.max]) { client, _, target, value in
            _ = try await client.listWalletTransactions(.init(accountID: target.accountID, pageSize: u32(value)))
        },
        NumericCase(path: "ListWalletTransactions:created_from_unix_ms", refuses: []) { client, _, target, value in
            _ = try await client.listWalletTransactions(.init(accountID: target.accountID, createdFromUnixMs: value))
        },
        NumericCase(path: "ListWalletTransactions:created_before_unix_ms", refuses: [Int64.min, -1]) { client, _, target, value in
            _ = try await client.listWalletTransactions(.init(accountID: target.accountID, createdFromUnixMs: -1, createdBeforeUnixMs: value))
        },
        NumericCase(path: "SummarizeWalletTransactions:from_unix_ms", refuses: Set(extremes)) { client, _, target, value in
            _ = try await client.summarizeWalletTransactions(.init(accountID: target.accountID, fromUnixMs: value, beforeUnixMs: Int64.max))
        },
        NumericCase(path: "SummarizeWalletTransactions:before_unix_ms", refuses: [Int64.min, -1, Int64.max]) { client, _, target, value in
            _ = try await client.summarizeWalletTransactions(.init(accountID: target.accountID, fromUnixMs: -1, beforeUnixMs: value))
        },
        NumericCase(path: "ListPlans:kind", refuses: []) { _, raw, _, value in
            try await sendRaw(raw, "ListPlans", BillingV1.ListPlansRequest(), field: 1, value: value)
        },
        // A euro plan on a dollar account: every quantity and trial is refused, one way or another, before money moves.
        NumericCase(path: "CreateSubscription:quantity", refuses: Set(extremes)) { client, _, target, value in
            _ = try await client.createSubscription(.init(idempotencyKey: key(), accountID: target.accountID, planID: "starter-monthly-eur-v1", quantity: u32(value)))
        },
        NumericCase(path: "CreateSubscription:trial_days", refuses: Set(extremes)) { client, _, target, value in
            _ = try await client.createSubscription(.init(idempotencyKey: key(), accountID: target.accountID, planID: "starter-monthly-eur-v1", trialDays: u32(value)))
        },
        NumericCase(path: "ListSubscriptions:page_size", refuses: [-1, Int64.max]) { client, _, target, value in
            _ = try await client.listSubscriptions(.init(accountID: target.accountID, pageSize: u32(value)))
        },
        NumericCase(path: "ListSubscriptions:statuses", refuses: [Int64.min, -1, 0, Int64.max]) { _, raw, target, value in
            try await sendRaw(raw, "ListSubscriptions", BillingV1.ListSubscriptionsRequest(accountID: target.accountID), field: 4, value: value)
        },
        NumericCase(path: "ListSubscriptions:kind", refuses: []) { _, raw, target, value in
            try await sendRaw(raw, "ListSubscriptions", BillingV1.ListSubscriptionsRequest(accountID: target.accountID), field: 5, value: value)
        },
        // Quantity 0 keeps the current one: the same plan and quantity change nothing.
        NumericCase(path: "PreviewSubscriptionChange:quantity", refuses: [-1, Int64.max]) { client, _, target, value in
            _ = try await client.previewSubscriptionChange(.init(
                accountID: target.accountID, subscriptionID: target.subscriptionID, planID: "team-monthly-usd-v1", quantity: u32(value)))
        },
        NumericCase(path: "UpdateSubscription:quantity", refuses: [-1, Int64.max]) { client, _, target, value in
            _ = try await client.updateSubscription(.init(
                idempotencyKey: key(), accountID: target.accountID, subscriptionID: target.subscriptionID, planID: "team-monthly-usd-v1", quantity: u32(value)))
        },
        NumericCase(path: "CreateTestClock:frozen_time_unix_ms", refuses: [Int64.min, -1, Int64.max]) { client, _, _, value in
            _ = try await client.createTestClock(.init(idempotencyKey: key(), frozenTimeUnixMs: value))
        },
        NumericCase(path: "AdvanceTestClock:frozen_time_unix_ms", refuses: Set(extremes)) { client, _, target, value in
            _ = try await client.advanceTestClock(.init(idempotencyKey: key(), testClockID: target.testClockID, frozenTimeUnixMs: value))
        },
    ]

    @Test func theNumericCasesCoverEveryNumericRequestField() {
        let numeric = [PROTOBUF_C_TYPE_INT32, PROTOBUF_C_TYPE_SINT32, PROTOBUF_C_TYPE_SFIXED32, PROTOBUF_C_TYPE_INT64, PROTOBUF_C_TYPE_SINT64,
                       PROTOBUF_C_TYPE_SFIXED64, PROTOBUF_C_TYPE_UINT32, PROTOBUF_C_TYPE_FIXED32, PROTOBUF_C_TYPE_UINT64, PROTOBUF_C_TYPE_FIXED64,
                       PROTOBUF_C_TYPE_ENUM]
        let listed = Set(Self.methods.flatMap { method in
            Self.paths(in: method.input, ofTypes: numeric).map { "\(method.name):" + $0.map(\.name).joined(separator: ".") }
        })
        #expect(listed == Set(Self.numericCases.map(\.path)))
    }

    @Test func everyNumericFieldSurvivesItsExtremesAndMovesNoMoney() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let raw = service.rawClient()
        let accountID = try await client.readyAccount()
        _ = try await client.addBalance(.init(idempotencyKey: key(), accountID: accountID, amount: Self.usd(5_000)))
        _ = try await client.configureAutoRecharge(.init(idempotencyKey: key(), accountID: accountID, enabled: true, rechargeAmount: Self.usd(1_000), threshold: Self.usd(500)))
        let invoice = try await client.openInvoice(accountID)
        let subscription = try await client.createSubscription(.init(
            idempotencyKey: key(), accountID: accountID, planID: "team-monthly-usd-v1", quantity: 2, trialDays: 0)).subscription!
        let clock = try await client.createTestClock(.init(idempotencyKey: key(), name: "sweep")).testClock!
        let target = Target(accountID: accountID, invoiceID: invoice.id, subscriptionID: subscription.id, testClockID: clock.id)
        let before = try await Self.money(client, accountID)
        for numeric in Self.numericCases {
            for value in Self.extremes {
                let error = await rpcError { try await numeric.call(client, raw, target, value) }
                let context = "\(numeric.path) = \(value): \(error.map(String.init(describing:)) ?? "accepted")"
                if numeric.refuses.contains(value) {
                    #expect(error?.code == .invalidArgument, "\(context)")
                } else {
                    #expect(error == nil || ![.internalError, .unknown, .unavailable].contains(error!.code), "\(context)")
                }
                #expect(try await HealthClient(raw).check() == .serving, "the server died after \(context)")
            }
        }
        #expect(try await Self.money(client, accountID) == before)
        try await expectLedgerMatchesBalance(client, accountID)
        await service.finish()
    }
}
