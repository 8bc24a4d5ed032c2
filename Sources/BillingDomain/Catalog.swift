import BillingStore
import Foundation

/// A plan of the catalog: what a subscription buys, at what price per unit and period.
public struct Plan: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case saasPlan = "saas_plan"
        /// Another provider delivers it; subscriptions to it are fulfilled through that provider.
        case resellingProduct = "reselling_product"
        case marketplaceApp = "marketplace_app"
    }

    public enum IntervalUnit: String, Sendable, Hashable, Codable {
        case month, year
    }

    public var id: String
    public var name: String
    public var description: String
    public var kind: Kind
    public var intervalUnit: IntervalUnit
    public var intervalCount: Int
    /// The price of one unit (seat) for one period.
    public var unitAmount: Money
    public var minQuantity: Int64
    public var maxQuantity: Int64
    public var trialDays: Int
    /// Who fulfils reselling products and marketplace apps; nil for SaaS plans.
    public var provider: String?
    /// Takes no new subscribers; keeps the ones it has.
    public var retired: Bool

    /// The length of a period in months.
    public var months: Int { intervalUnit == .month ? intervalCount : 12 * intervalCount }

    /// What a subscriber agreed to: everything but the name, the description and retirement. A plan
    /// with subscribers never changes these (`PlanCatalog.checkPlansInUse`).
    var terms: String {
        [kind.rawValue, "\(months)", "\(unitAmount.amountMinor)", unitAmount.currency.code, "\(minQuantity)", "\(maxQuantity)",
         "\(trialDays)", provider ?? ""].joined(separator: "|")
    }
}

/// The plans on offer, read from a JSON file in the repository (`catalog/plans.json`) that people
/// review like code, at start-up. Every rule of a plan is checked on load, so a bad catalog stops
/// `billingd` with a message naming the plan and the field instead of failing a customer later.
public struct PlanCatalog: Sendable {
    public static let maxPlans = 1_000
    public static let maxQuantity: Int64 = 100_000
    public static let maxTrialDays = 730
    /// The longest interval: three years.
    public static let maxMonths = 36

    public let plans: [Plan]
    private let byID: [String: Plan]

    public init(plans: [Plan], limits: MoneyLimits = MoneyLimits()) throws {
        guard plans.count <= Self.maxPlans else { throw CatalogError("the catalog has \(plans.count) plans; the limit is \(Self.maxPlans)") }
        var byID: [String: Plan] = [:]
        for plan in plans {
            try Self.check(plan, limits: limits)
            guard byID[plan.id] == nil else { throw CatalogError("plan \(plan.id) is listed twice") }
            byID[plan.id] = plan
        }
        self.plans = plans
        self.byID = byID
    }

    /// No plan on offer.
    public static let empty = PlanCatalog(checked: [])

    private init(checked plans: [Plan]) {
        self.plans = plans
        self.byID = Dictionary(uniqueKeysWithValues: plans.map { ($0.id, $0) })
    }

    /// Reads the catalog file.
    public static func load(contentsOf url: URL, limits: MoneyLimits = MoneyLimits()) throws -> PlanCatalog {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CatalogError("cannot read the plan catalog \(url.path): \(error.localizedDescription)")
        }
        let file: CatalogFile
        do {
            file = try JSONDecoder().decode(CatalogFile.self, from: data)
        } catch {
            throw CatalogError("the plan catalog \(url.path) is not valid: \(error)")
        }
        return try PlanCatalog(plans: try file.plans.map { try $0.plan() }, limits: limits)
    }

    /// The plan with `id`, or NOT_FOUND naming `field`.
    public func plan(_ id: String, field: String = "plan_id") throws(BillingError) -> Plan {
        guard !id.isEmpty else { throw .invalidArgument("\(field) is required", field: field) }
        guard let plan = byID[String(id.prefix(100))] else {
            throw .notFound("no plan \(id.prefix(100)) in the catalog; ListPlans shows the plans on offer", field: field, reason: .planNotFound)
        }
        return plan
    }

    /// Every plan that had a subscriber is still in the catalog with the same terms: a price change
    /// is a new plan, never an edit. Called at start-up with what the store recorded.
    func checkPlansInUse(_ recorded: [(planID: String, terms: String)]) throws {
        for (planID, terms) in recorded {
            guard let plan = byID[planID] else {
                throw CatalogError("plan \(planID) has subscribers but is missing from the catalog; put it back (mark it \"retired\": true to close it to new subscribers)")
            }
            guard plan.terms == terms else {
                throw CatalogError(
                    "plan \(planID) has subscribers and its terms changed in the catalog (was \(terms), now \(plan.terms)); restore them and add the new terms as a new plan id")
            }
        }
    }

    private static func check(_ plan: Plan, limits: MoneyLimits) throws {
        func fail(_ message: String) -> CatalogError { CatalogError("plan \(plan.id.isEmpty ? "(no id)" : plan.id): \(message)") }
        guard (1...64).contains(plan.id.count),
            plan.id.utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-") })
        else { throw fail("id must be 1 to 64 lowercase letters, digits or dashes") }
        guard !plan.name.isEmpty, plan.name.count <= 200 else { throw fail("name must be 1 to 200 characters") }
        guard plan.description.count <= 1_000 else { throw fail("description is longer than 1000 characters") }
        guard plan.intervalCount >= 1, plan.months <= maxMonths else { throw fail("the interval must be 1 to \(maxMonths) months") }
        guard plan.unitAmount.isPositive else { throw fail("unit_amount_minor must be positive") }
        do { try limits.require(plan.unitAmount, field: "unit_amount_minor") } catch { throw fail(error.message) }
        guard plan.minQuantity >= 1, plan.minQuantity <= plan.maxQuantity, plan.maxQuantity <= maxQuantity else {
            throw fail("quantities must satisfy 1 ≤ min_quantity ≤ max_quantity ≤ \(maxQuantity)")
        }
        guard (0...maxTrialDays).contains(plan.trialDays) else { throw fail("trial_days must be 0 to \(maxTrialDays)") }
        switch plan.kind {
        case .saasPlan:
            guard plan.provider == nil else { throw fail("a saas_plan has no provider") }
        case .resellingProduct, .marketplaceApp:
            guard let provider = plan.provider, (1...64).contains(provider.count) else { throw fail("a \(plan.kind.rawValue) names its provider") }
        }
    }
}

/// A catalog that cannot be used; `billingd` prints it and stops.
public struct CatalogError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The catalog file's shape: `{"plans": [{"id": …, "unit_amount_minor": 1000, "currency": "USD", …}]}`.
private struct CatalogFile: Decodable {
    struct Entry: Decodable {
        var id: String
        var name: String
        var description: String?
        var kind: Plan.Kind
        var interval: Plan.IntervalUnit
        var interval_count: Int?
        var unit_amount_minor: Int64
        var currency: String
        var min_quantity: Int64?
        var max_quantity: Int64?
        var trial_days: Int?
        var provider: String?
        var retired: Bool?

        func plan() throws -> Plan {
            let currency: Currency
            do { currency = try Currency(code: self.currency) } catch { throw CatalogError("plan \(id): \(error.message)") }
            return Plan(
                id: id, name: name, description: description ?? "", kind: kind, intervalUnit: interval, intervalCount: interval_count ?? 1,
                unitAmount: Money(amountMinor: unit_amount_minor, currency: currency), minQuantity: min_quantity ?? 1,
                maxQuantity: max_quantity ?? 1, trialDays: trial_days ?? 0, provider: provider.flatMap { $0.isEmpty ? nil : $0 },
                retired: retired ?? false)
        }
    }

    var plans: [Entry]
}

/// The plans that had subscribers, with the terms they had then.
enum PlansInUse {
    static func record(_ plan: Plan, in tx: WriteTransaction, nowMilliseconds: Int64) throws {
        try tx.execute(
            "INSERT INTO plans_in_use(plan_id, terms, first_used_at_ms) VALUES (?, ?, ?) ON CONFLICT(plan_id) DO NOTHING",
            .text(plan.id), .text(plan.terms), .integer(nowMilliseconds))
    }

    static func all(in tx: some Querying) throws -> [(planID: String, terms: String)] {
        try tx.query("SELECT plan_id, terms FROM plans_in_use ORDER BY plan_id").map { (planID: try $0.string("plan_id"), terms: try $0.string("terms")) }
    }
}
