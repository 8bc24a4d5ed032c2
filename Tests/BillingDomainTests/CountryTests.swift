import Testing

@testable import BillingDomain

@Suite("Country")
struct CountryTests {
    @Test("all 249 assigned ISO 3166-1 alpha-2 codes, and only those")
    func assignedCodes() throws {
        #expect(Country.assignedCodes.count == 249)
        #expect(Country.assignedCodes.allSatisfy { $0.count == 2 && $0 == $0.uppercased() })
        for code in ["US", "GB", "DE", "JP", "AX", "BQ", "SS", "CW", "EH", "AQ", "ZW"] {
            #expect(Country.isAssigned(code), "\(code)")
        }
        #expect(try Country(code: " us ").code == "US")

        for code in ["UK", "EU", "XK", "ZZ", "USA", "U", ""] {
            let error = expectBillingError(.invalidArgument, field: "country_code") { _ = try Country(code: code) }
            #expect(error?.message.isEmpty == false)
        }
        // The rule tables only name real countries.
        let ruleCodes = Country.countriesWithoutPostalCodes
            .union(Country.countriesRequiringRegion)
            .union(Country.countriesWithoutCities)
            .union(Country.postalCodeFormats.keys)
        #expect(ruleCodes.isSubset(of: Country.assignedCodes))
    }

    @Test("postal codes are required in most countries but not everywhere")
    func postalCodeRequirement() throws {
        for code in ["US", "CA", "GB", "DE", "FR", "NL", "AU", "JP", "BR", "IN", "SE"] {
            #expect(try Country(code: code).requiresPostalCode, "\(code)")
        }
        for code in ["HK", "AE", "IE", "QA", "JM", "MO"] {
            #expect(try !Country(code: code).requiresPostalCode, "\(code)")
        }
    }

    @Test("regions are required where addresses depend on them")
    func regionRequirement() throws {
        for code in ["US", "CA", "AU", "BR", "MX", "IN", "CN", "JP", "IT"] {
            #expect(try Country(code: code).requiresRegion, "\(code)")
        }
        for code in ["DE", "FR", "GB", "NL", "HK", "SE"] {
            #expect(try !Country(code: code).requiresRegion, "\(code)")
        }
        #expect(try !Country(code: "SG").requiresCity)
        #expect(try Country(code: "US").requiresCity)
    }

    @Test("postal code formats", arguments: [
        ("US", "12345", true), ("US", "12345-6789", true), ("US", "1234", false), ("US", "123456", false),
        ("US", "12345-678", false), ("US", "ABCDE", false),
        ("CA", "K1A 0B1", true), ("CA", "k1a0b1", true), ("CA", "K1A 0B", false), ("CA", "111 111", false),
        ("GB", "SW1A 1AA", true), ("GB", "M1 1AE", true), ("GB", "B33 8TH", true), ("GB", "CR2 6XH", true),
        ("GB", "DN55 1PT", true), ("GB", "EC1A1BB", true), ("GB", "SW1A 1A", false), ("GB", "12345", false),
        ("DE", "10115", true), ("DE", "1011", false), ("DE", "1011A", false),
        ("FR", "75001", true), ("FR", "7500", false),
        ("NL", "1012 AB", true), ("NL", "1012ab", true), ("NL", "1012", false), ("NL", "AB 1012", false),
        ("AU", "2000", true), ("AU", "200", false), ("AU", "20000", false),
        ("JP", "100-0001", true), ("JP", "1000001", true), ("JP", "100-001", false), ("JP", "10-00001", false),
        ("SE", "114 55", true),  // no format known: anything goes
    ])
    func postalCodeFormats(country code: String, postalCode: String, isValid: Bool) throws {
        let problem = try Country(code: code).postalCodeProblem(postalCode)
        #expect((problem == nil) == isValid, "\(code) \(postalCode): \(problem ?? "ok")")
        if let problem {
            #expect(problem.hasPrefix("must look like "))
        }
    }
}
