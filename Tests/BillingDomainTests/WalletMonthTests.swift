@testable import BillingDomain
import Foundation
import Testing

@Suite("Wallet months")
struct WalletMonthTests {
    /// The integer month arithmetic agrees with Foundation's calendar, across leap years and eras.
    @Test(arguments: [Int64(0), 951_782_400_000, 1_709_164_800_000, 1_795_000_000_000, 4_102_444_799_999, -86_400_001])
    func monthMatchesTheCalendar(milliseconds: Int64) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month], from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
        #expect(Wallet.month(of: milliseconds) == String(format: "%04d-%02d", parts.year!, parts.month!))
    }
}
