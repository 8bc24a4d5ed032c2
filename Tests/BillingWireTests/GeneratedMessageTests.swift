import BillingAPI
import BillingWire
import Testing

/// The generated types (proto/generate_swift.py) through the protobuf-c code and back.
@Suite("Generated messages")
struct GeneratedMessageTests {
    @Test func richInvoiceRoundTrips() throws {
        func usd(_ minor: Int64) -> BillingV1.Money { BillingV1.Money(amountMinor: minor, currency: "USD") }
        let invoice = BillingV1.Invoice(
            id: "inv_1",
            number: "INV-000042",
            status: .open,
            lines: [
                BillingV1.InvoiceLine(description: "Compute, 3 hours", quantity: 3, unitAmount: usd(1_250), amount: usd(3_750)),
                BillingV1.InvoiceLine(description: "Støräge ✓", quantity: 1, unitAmount: usd(99), amount: usd(99)),
                // A line without amounts: sub-messages that are not set stay nil.
                BillingV1.InvoiceLine(description: "Credit", quantity: -1),
            ],
            subtotal: usd(3_849),
            tax: usd(0),  // set but zero: present, unlike nil
            total: usd(3_849),
            amountPaid: nil,
            amountDue: usd(Int64.max),
            billedTo: BillingV1.BillingInformation(
                fullName: "Ada Lovelace",
                countryCode: "US",
                address: BillingV1.BillingAddress(lines: ["1 Infinite Loop", "", "Suite 3"], city: "Cupertino", region: "CA", postalCode: "95014"),
                complete: false,
                missingFields: ["billing_address.postal_code", "full_name"],
                updatedAtUnixMs: 1_700_000_000_123
            ),
            createdAtUnixMs: 1_700_000_000_000,
            finalizedAtUnixMs: 1_700_000_100_000,
            dueAtUnixMs: 1_702_592_100_000,
            paidAtUnixMs: 0,
            memo: "Thanks!"
        )
        let decoded = try BillingV1.Invoice(wireBytes: invoice.wireBytes())
        #expect(decoded == invoice)
        #expect(decoded.tax == usd(0))
        #expect(decoded.amountPaid == nil)
        #expect(decoded.lines[2].unitAmount == nil)
        #expect(decoded.billedTo?.address?.lines == ["1 Infinite Loop", "", "Suite 3"])
        #expect(decoded.billedTo?.missingFields == ["billing_address.postal_code", "full_name"])
    }

    @Test func emptyMessagesEncodeToNothing() throws {
        #expect(BillingV1.Invoice().wireBytes() == [])
        #expect(try BillingV1.Invoice(wireBytes: []) == BillingV1.Invoice())
        #expect(try BillingV1.ListChargesRequest(wireBytes: []).statuses == [])
    }

    @Test func repeatedEnumsRoundTrip() throws {
        let request = BillingV1.ListChargesRequest(
            accountID: "acct_1", pageSize: 100, pageToken: "next", statuses: [.failed, .pending, .failed, .unspecified],
            createdFromUnixMs: 1, createdBeforeUnixMs: 2
        )
        #expect(try BillingV1.ListChargesRequest(wireBytes: request.wireBytes()) == request)
    }

    @Test func scalarsBytesAndBoolsRoundTrip() throws {
        let pdf = BillingV1.DownloadInvoicePdfResponse(pdf: [0x25, 0x50, 0x44, 0x46, 0x00, 0xFF], fileName: "INV-000042.pdf")
        #expect(try BillingV1.DownloadInvoicePdfResponse(wireBytes: pdf.wireBytes()) == pdf)
        let card = BillingV1.PaymentMethod(
            id: "pm_1", brand: "visa", last4: "4242", expiryMonth: 12, expiryYear: UInt32.max, holderName: "Ada",
            primary: true, expired: false, createdAtUnixMs: -5
        )
        #expect(try BillingV1.PaymentMethod(wireBytes: card.wireBytes()) == card)
        let list = BillingV1.ListPaymentMethodsResponse(paymentMethods: [card, BillingV1.PaymentMethod(id: "pm_2")], primaryPaymentMethodID: "pm_1")
        #expect(try BillingV1.ListPaymentMethodsResponse(wireBytes: list.wireBytes()) == list)
    }

    /// proto3 enums are open: a number this schema does not know decodes as the 0 case.
    @Test func unknownEnumValuesDecodeAsUnspecified() throws {
        // Account.service_status (field 5, varint) = 7.
        #expect(try BillingV1.Account(wireBytes: [0x28, 0x07]).serviceStatus == .unspecified)
        // ListChargesRequest.statuses (field 4, packed): SUCCEEDED, 9, FAILED.
        #expect(try BillingV1.ListChargesRequest(wireBytes: [0x22, 0x03, 0x02, 0x09, 0x03]).statuses == [.succeeded, .unspecified, .failed])
        #expect(try GrpcHealthV1.HealthCheckResponse(wireBytes: [0x08, 0x2A]).status == .unknown)
    }

    @Test func malformedBytesAreInvalidArgument() {
        do {
            _ = try BillingV1.Invoice(wireBytes: [0x0A, 0x7F, 0x41])
            Issue.record("decoding should fail")
        } catch {
            #expect(error.code == .invalidArgument)
        }
    }

    @Test func enumsAndServicesCarryTheirProtoNames() {
        #expect(BillingV1.InvoiceStatus.uncollectible.description == "INVOICE_STATUS_UNCOLLECTIBLE")
        #expect(GrpcHealthV1.HealthCheckResponse.ServingStatus.notServing.description == "NOT_SERVING")
        #expect(BillingV1.ChargeStatus.allCases.map(\.rawValue) == [0, 1, 2, 3])
        #expect(BillingV1.BillingService.name == "billing.v1.BillingService")
        #expect(BillingV1.BillingService.Method.downloadInvoicePdf.rawValue == "DownloadInvoicePdf")
        #expect(BillingV1.BillingService.Method.watchWallet.rawValue == "WatchWallet")
    }
}
