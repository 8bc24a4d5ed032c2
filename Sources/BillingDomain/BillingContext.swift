import BillingStore
import Foundation

/// What every domain service shares: the store, the payment gateway, the clock, and who sells.
public struct BillingContext: Sendable {
    public let store: Store
    public let gateway: any PaymentGateway
    /// The wall clock, injected so that tests can move time (card expiry, due dates, key expiry).
    public let now: @Sendable () -> Date
    /// The seller block printed on every invoice.
    public let seller: InvoiceDocument.Seller
    /// Invoice numbers are this prefix, a dash and a six-digit sequence: "INV-000042".
    public let invoiceNumberPrefix: String

    public init(
        store: Store, gateway: any PaymentGateway, now: @escaping @Sendable () -> Date = Date.init,
        seller: InvoiceDocument.Seller = InvoiceDocument.Seller(name: "Billing Service Ltd", addressLines: ["1 Example Street", "London EC1A 1AA", "United Kingdom"]),
        invoiceNumberPrefix: String = "INV"
    ) {
        self.store = store
        self.gateway = gateway
        self.now = now
        self.seller = seller
        self.invoiceNumberPrefix = invoiceNumberPrefix
    }

    /// Now, in the store's unit.
    var nowMilliseconds: Int64 { now().unixMilliseconds }
}

extension Date {
    /// Milliseconds since 1970, the unit of every `*_ms` column and `*_unix_ms` field.
    public var unixMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    public init(unixMilliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(unixMilliseconds) / 1000)
    }
}

/// Identifiers: a prefix that says what they name, then 20 random hex digits ("acct_3f9c…").
enum Identifier {
    static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt16
        return prefix + "_" + String(high, radix: 16).leftPadded(to: 16) + String(low, radix: 16).leftPadded(to: 4)
    }

    /// Checks an id a caller sent: the right prefix, bounded, nothing odd in it.
    static func validate(_ id: String, prefix: String, field: String) throws(BillingError) {
        guard !id.isEmpty else { throw .invalidArgument("\(field) is required", field: field) }
        guard id.count <= 64, id.hasPrefix(prefix + "_"), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw .invalidArgument("\(field) is not a valid id; ids look like \(prefix)_0123abcd…", field: field)
        }
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
