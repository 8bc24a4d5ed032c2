import Testing

@testable import BillingDomain

@Suite("BillingInformation")
struct BillingInformationTests {
    /// A complete US billing address.
    func adaInIllinois() -> BillingInformation {
        BillingInformation(
            fullName: "Ada Lovelace", countryCode: "US",
            address: BillingAddress(lines: ["1 Main St", "Suite 200"], city: "Springfield", region: "IL",
                                    postalCode: "62701"))
    }

    @Test("a complete address passes and is returned trimmed and normalised")
    func validAddress() throws {
        var info = adaInIllinois()
        try info.validate()
        #expect(info.isComplete)
        #expect(info.missingForPayments.isEmpty)

        info.fullName = "  Ada Lovelace \n"
        info.countryCode = " us"
        info.address.lines = ["  1 Main St ", "", "   "]
        info.address.postalCode = " 62701-1234 "
        let validated = try info.validated()
        #expect(validated.fullName == "Ada Lovelace")
        #expect(validated.countryCode == "US")
        #expect(validated.address.lines == ["1 Main St"])
        #expect(validated.address.postalCode == "62701-1234")

        var canadian = BillingInformation(
            fullName: "Jean Tremblay", countryCode: "CA",
            address: BillingAddress(lines: ["24 Sussex Dr"], city: "Ottawa", region: "ON", postalCode: "k1m  1m4"))
        canadian = try canadian.validated()
        #expect(canadian.address.postalCode == "K1M 1M4")
    }

    @Test("each problem names its exact field")
    func fieldErrors() {
        func expectProblem(_ field: String, _ change: (inout BillingInformation) -> Void) -> BillingError? {
            var info = adaInIllinois()
            change(&info)
            return expectBillingError(.invalidArgument, field: field) { try info.validate() }
        }
        _ = expectProblem("full_name") { $0.fullName = "   " }
        _ = expectProblem("full_name") { $0.fullName = String(repeating: "a", count: 201) }
        _ = expectProblem("full_name") { $0.fullName = "Ada\nLovelace" }
        let country = expectProblem("country_code") { $0.countryCode = "XX" }
        #expect(country?.message.contains("XX") == true)
        _ = expectProblem("country_code") { $0.countryCode = "" }
        _ = expectProblem("billing_address.line1") { $0.address.lines = [] }
        _ = expectProblem("billing_address.line1") { $0.address.lines = ["  ", ""] }
        _ = expectProblem("billing_address.line1") { $0.address.lines = [String(repeating: "x", count: 201)] }
        _ = expectProblem("billing_address.line2") {
            $0.address.lines = ["1 Main St", String(repeating: "x", count: 201)]
        }
        _ = expectProblem("billing_address.lines") { $0.address.lines = ["a", "b", "c", "d"] }
        _ = expectProblem("billing_address.city") { $0.address.city = "" }
        _ = expectProblem("billing_address.city") { $0.address.city = String(repeating: "c", count: 101) }
        let region = expectProblem("billing_address.region") { $0.address.region = " " }
        #expect(region?.message == "billing_address.region is required for country US")
        let postal = expectProblem("billing_address.postal_code") { $0.address.postalCode = "" }
        #expect(postal?.message == "billing_address.postal_code is required for country US")
        let format = expectProblem("billing_address.postal_code") { $0.address.postalCode = "6270" }
        #expect(format?.message.contains("12345 or 12345-6789") == true)
        _ = expectProblem("billing_address.postal_code") { $0.address.postalCode = String(repeating: "1", count: 21) }
        _ = expectProblem("billing_address.postal_code") { $0.address.postalCode = "62701;" }
    }

    @Test("country rules decide what is optional")
    func countryRules() throws {
        let hongKong = BillingInformation(
            fullName: "Chan Tai Man", countryCode: "HK",
            address: BillingAddress(lines: ["1 Queen's Road Central"]))
        try hongKong.validate()  // no city, region or postal code needed

        let berlin = BillingInformation(
            fullName: "Max Mustermann", countryCode: "de",
            address: BillingAddress(lines: ["Unter den Linden 1"], city: "Berlin", postalCode: "10117"))
        try berlin.validate()  // no region needed

        var tokyo = BillingInformation(
            fullName: "Yamada Taro", countryCode: "JP",
            address: BillingAddress(lines: ["1-1 Chiyoda"], city: "Chiyoda-ku", region: "Tokyo", postalCode: "100-0001"))
        try tokyo.validate()
        tokyo.address.region = ""
        expectBillingError(.invalidArgument, field: "billing_address.region") { try tokyo.validate() }
    }

    @Test("missingForPayments lists every field to fix, in order")
    func missingForPayments() {
        let empty = BillingInformation(fullName: "", countryCode: "US", address: BillingAddress(lines: []))
        #expect(!empty.isComplete)
        #expect(empty.missingForPayments == [
            "full_name", "billing_address.line1", "billing_address.city", "billing_address.region",
            "billing_address.postal_code",
        ])
        #expect(empty.problems.count == 5)
        #expect(empty.problems.allSatisfy { $0.kind == .invalidArgument })

        let unknownCountry = BillingInformation(
            fullName: "A", countryCode: "??", address: BillingAddress(lines: ["x"], city: "y"))
        #expect(unknownCountry.missingForPayments == ["country_code"])

        var almost = adaInIllinois()
        almost.address.postalCode = ""
        #expect(almost.missingForPayments == ["billing_address.postal_code"])
        #expect(!almost.isComplete)
    }
}
