import BillingStore
import Foundation
import InvoiceRendering

/// What every domain service shares: the store, the payment gateway, the clock, and who sells.
public struct BillingContext: Sendable {
    public let store: Store
    public let gateway: any PaymentGateway
    /// The wall clock, injected so that tests can move time (card expiry, due dates, key expiry).
    public let now: @Sendable () -> Date
    /// Who issues invoices and how they are printed; from billingd's configuration, with no default
    /// in code (see ``InvoiceSettings``).
    public let invoicing: InvoiceSettings
    /// The largest single amount taken.
    public let limits: MoneyLimits
    /// The plans on offer (and those kept for their subscribers).
    public let catalog: PlanCatalog
    /// Retries, final status and bounds of subscriptions.
    public let subscriptionPolicy: SubscriptionPolicy
    /// Whether accounts may live on test clocks: only with the sandbox gateway, never a real one.
    public let allowsTestClocks: Bool
    /// This daemon among those sharing a database, the same across its restarts and never two live at
    /// once (billingd: the host name and the socket path). Charges record it, so that start-up
    /// reconciliation declares abandoned only what an earlier run of this daemon left pending.
    public let instanceName: String

    /// The seller block printed on every invoice.
    public var seller: InvoiceDocument.Seller { invoicing.seller }
    /// Invoice numbers are this prefix, a dash and a six-digit sequence: "INV-000042".
    public var invoiceNumberPrefix: String { invoicing.numberPrefix }

    public init(
        store: Store, gateway: any PaymentGateway, now: @escaping @Sendable () -> Date = Date.init,
        invoicing: InvoiceSettings, limits: MoneyLimits = MoneyLimits(), catalog: PlanCatalog = .empty, subscriptionPolicy: SubscriptionPolicy = SubscriptionPolicy(),
        allowsTestClocks: Bool = false, instanceName: String = "billingd"
    ) {
        self.store = store
        self.gateway = gateway
        self.now = now
        self.invoicing = invoicing
        self.limits = limits
        self.catalog = catalog
        self.subscriptionPolicy = subscriptionPolicy
        self.allowsTestClocks = allowsTestClocks
        self.instanceName = instanceName
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

/// Identifiers: a prefix that says what they name, then 12 hex digits of the creation time in
/// milliseconds and 8 random ones ("acct_0193c1f2a4b7e91d2f3c"). Time first keeps new rows at the end of
/// each unique index, so a commit writes a few pages instead of one page per row.
enum Identifier {
    static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let milliseconds = UInt64(max(0, Date().unixMilliseconds)) & 0xFFFF_FFFF_FFFF
        let random = generator.next() as UInt32
        return prefix + "_" + String(milliseconds, radix: 16).leftPadded(to: 12) + String(random, radix: 16).leftPadded(to: 8)
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
