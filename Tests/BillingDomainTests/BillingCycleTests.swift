@testable import BillingDomain
import Foundation
import Testing

@Suite("Billing cycles, proration and the plan catalog")
struct BillingCycleTests {
    private func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0) -> Int64 {
        utcDate(year, month, day, secondsIntoDay: hour * 3600).unixMilliseconds
    }

    @Test func monthsWithoutTheAnchorDayEndOnTheirLastDayAndReturnToTheAnchor() {
        let anchor = utc(2027, 1, 31, 9)
        let starts = (0...4).map { BillingCycle.boundary(anchor: anchor, months: 1, index: $0) }
        #expect(starts == [utc(2027, 1, 31, 9), utc(2027, 2, 28, 9), utc(2027, 3, 31, 9), utc(2027, 4, 30, 9), utc(2027, 5, 31, 9)])
        // Leap years, yearly intervals, and dates before 1970.
        #expect(BillingCycle.boundary(anchor: utc(2028, 1, 31), months: 1, index: 1) == utc(2028, 2, 29))
        #expect(BillingCycle.boundary(anchor: utc(2028, 2, 29), months: 12, index: 1) == utc(2029, 2, 28))
        #expect(BillingCycle.boundary(anchor: utc(2028, 2, 29), months: 12, index: 4) == utc(2032, 2, 29))
        #expect(BillingCycle.boundary(anchor: utc(1969, 12, 31, 23), months: 1, index: 2) == utc(1970, 2, 28, 23))
        #expect(BillingCycle.boundary(anchor: utc(2027, 11, 30), months: 3, index: 1) == utc(2028, 2, 29))
    }

    @Test func everyDayOfFourHundredYearsMatchesFoundationsCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var date = calendar.date(from: DateComponents(year: 2000, month: 1, day: 1))!
        for _ in 0..<(400 * 365 / 7) {
            let milliseconds = Int64(date.timeIntervalSince1970 * 1000)
            let expected = calendar.date(byAdding: .month, value: 1, to: date)!
            #expect(BillingCycle.boundary(anchor: milliseconds, months: 1, index: 1) == Int64(expected.timeIntervalSince1970 * 1000))
            date = calendar.date(byAdding: .day, value: 7, to: date)!
        }
    }

    @Test func prorationRoundsHalfUpInIntegers() throws {
        #expect(try BillingCycle.prorate(1_000, numerator: 16, denominator: 31) == 516)
        #expect(try BillingCycle.prorate(2_000, numerator: 16, denominator: 31) == 1_032)
        #expect(try BillingCycle.prorate(1, numerator: 1, denominator: 2) == 1)  // half rounds up
        #expect(try BillingCycle.prorate(-1, numerator: 1, denominator: 2) == -1)  // and away from zero below it
        #expect(try BillingCycle.prorate(3, numerator: 1, denominator: 4) == 1)
        #expect(try BillingCycle.prorate(99_999_999, numerator: 94_867_200, denominator: 94_867_200) == 99_999_999)
        #expect(throws: BillingError.self) { try BillingCycle.prorate(Int64.max, numerator: 3, denominator: 4) }
        #expect(throws: BillingError.self) { try BillingCycle.prorate(10, numerator: 5, denominator: 4) }
    }

    @Test func theRepositoryCatalogLoads() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("catalog/plans.json")
        let catalog = try PlanCatalog.load(contentsOf: url)
        #expect(catalog.plans.count >= 5)
        #expect(catalog.plans.filter { $0.kind != .saasPlan }.allSatisfy { $0.provider != nil })
    }

    private func plan(_ id: String, amount: Int64 = 1_000, provider: String? = nil, kind: Plan.Kind = .saasPlan, min: Int64 = 1, max: Int64 = 10) -> Plan {
        Plan(
            id: id, name: "Plan", description: "", kind: kind, intervalUnit: .month, intervalCount: 1,
            unitAmount: Money(amountMinor: amount, currency: .usd), minQuantity: min, maxQuantity: max, trialDays: 0, provider: provider, retired: false)
    }

    @Test func aBadCatalogIsRefusedNamingThePlan() {
        let cases: [([Plan], String)] = [
            ([plan("Bad Id")], "lowercase"),
            ([plan("a"), plan("a")], "listed twice"),
            ([plan("free", amount: 0)], "positive"),
            ([plan("huge", amount: 100_000_000)], "at most"),
            ([plan("app", kind: .marketplaceApp)], "names its provider"),
            ([plan("saas", provider: "someone")], "no provider"),
            ([plan("seats", min: 5, max: 2)], "min_quantity"),
        ]
        for (plans, words) in cases {
            do {
                _ = try PlanCatalog(plans: plans)
                Issue.record("accepted \(plans.map(\.id))")
            } catch {
                #expect("\(error)".contains(words), "\(error)")
            }
        }
    }

    @Test func aPlanWithSubscribersMayNotChangeOrDisappear() throws {
        let original = plan("team")
        let catalog = try PlanCatalog(plans: [original])
        try catalog.checkPlansInUse([(original.id, original.terms)])
        let repriced = try PlanCatalog(plans: [plan("team", amount: 1_200)])
        #expect(throws: CatalogError.self) { try repriced.checkPlansInUse([(original.id, original.terms)]) }
        #expect(throws: CatalogError.self) { try PlanCatalog(plans: []).checkPlansInUse([(original.id, original.terms)]) }
        // A new name or retirement is not a change of terms.
        var renamed = original
        renamed.name = "Team (2027)"
        renamed.retired = true
        try PlanCatalog(plans: [renamed]).checkPlansInUse([(original.id, original.terms)])
    }
}
