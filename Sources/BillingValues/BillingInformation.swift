/// The postal address printed on invoices and sent to the payment gateway.
///
/// Values are kept as typed; ``BillingInformation/validated()`` returns the trimmed,
/// normalised copy that should be stored.
public struct BillingAddress: Hashable, Sendable, Codable {
    /// Street lines, first line first: one is required, at most three are kept.
    public var lines: [String]
    public var city: String
    /// State, province or prefecture; required only where ``Country/requiresRegion``.
    public var region: String
    public var postalCode: String

    public init(lines: [String], city: String = "", region: String = "", postalCode: String = "") {
        self.lines = lines
        self.city = city
        self.region = region
        self.postalCode = postalCode
    }
}

/// Who the account bills: the name and address on invoices, and what card payments
/// are checked against.
///
/// Validation collects every problem with the exact request field it belongs to
/// (`full_name`, `country_code`, `billing_address.line1`, `billing_address.city`,
/// `billing_address.region`, `billing_address.postal_code`), because the same list
/// drives both the error returned on update and the "payments are failing" diagnosis
/// (``missingForPayments``).
///
/// ```swift
/// let info = BillingInformation(
///     fullName: "Ada Lovelace", countryCode: "us",
///     address: BillingAddress(lines: ["1 Main St"], city: "Springfield", region: "IL"))
/// info.missingForPayments        // ["billing_address.postal_code"]
/// try info.validate()            // throws "billing_address.postal_code is required for country US"
/// ```
public struct BillingInformation: Hashable, Sendable, Codable {
    public var fullName: String
    /// ISO 3166-1 alpha-2 code, see ``Country``.
    public var countryCode: String
    public var address: BillingAddress

    public init(fullName: String, countryCode: String, address: BillingAddress) {
        self.fullName = fullName
        self.countryCode = countryCode
        self.address = address
    }

    // MARK: Limits (characters, after trimming)

    public static let maxFullNameLength = 200
    public static let maxAddressLineCount = 3
    public static let maxAddressLineLength = 200
    public static let maxCityLength = 100
    public static let maxRegionLength = 100
    public static let maxPostalCodeLength = 20

    // MARK: Validation

    /// Throws the first problem found, in field order, as a ``BillingError`` `invalidArgument`
    /// whose `field` names the offending request field.
    public func validate() throws {
        if let firstProblem = problems.first {
            throw firstProblem
        }
    }

    /// Validates and returns the copy to store: every value trimmed, empty street lines
    /// dropped, country code and postal code upper-cased, runs of spaces in the postal
    /// code collapsed.
    public func validated() throws -> BillingInformation {
        try validate()
        return normalized()
    }

    /// The fields that stop this account from being charged, in field order, e.g.
    /// `["billing_address.city", "billing_address.postal_code"]`; empty when complete.
    /// A field that is present but invalid is listed too: either way it must be fixed.
    public var missingForPayments: [String] {
        var fields: [String] = []
        for problem in problems {
            if let field = problem.field, !fields.contains(field) {
                fields.append(field)
            }
        }
        return fields
    }

    /// Whether the billing information is complete and valid enough to charge.
    public var isComplete: Bool { problems.isEmpty }

    /// Every problem, in field order, each naming its field. Empty when valid.
    public var problems: [BillingError] {
        let info = normalized()
        var problems: [BillingError] = []

        problems += BillingInformation.textProblems(
            info.fullName, field: "full_name", isRequired: true,
            maxLength: BillingInformation.maxFullNameLength)

        var country: Country?
        do {
            country = try Country(code: info.countryCode, field: "country_code")
        } catch {
            problems.append(error)
        }

        problems += info.addressLineProblems()

        problems += BillingInformation.textProblems(
            info.address.city, field: "billing_address.city",
            isRequired: country?.requiresCity ?? false,
            requiredReason: country.map { " for country \($0.code)" } ?? "",
            maxLength: BillingInformation.maxCityLength)

        problems += BillingInformation.textProblems(
            info.address.region, field: "billing_address.region",
            isRequired: country?.requiresRegion ?? false,
            requiredReason: country.map { " for country \($0.code)" } ?? "",
            maxLength: BillingInformation.maxRegionLength)

        problems += info.postalCodeProblems(country: country)
        return problems
    }

    // MARK: Helpers

    private func normalized() -> BillingInformation {
        let lines = address.lines
            .map { $0.trimmingWhitespace() }
            .filter { !$0.isEmpty }
        let postalCode = address.postalCode
            .trimmingWhitespace()
            .uppercased()
            .split(whereSeparator: \.isWhitespace)
            .joined(separator: " ")
        return BillingInformation(
            fullName: fullName.trimmingWhitespace(),
            countryCode: countryCode.trimmingWhitespace().uppercased(),
            address: BillingAddress(
                lines: lines,
                city: address.city.trimmingWhitespace(),
                region: address.region.trimmingWhitespace(),
                postalCode: postalCode))
    }

    /// Street lines: called on the normalised copy, so empty lines are already gone.
    private func addressLineProblems() -> [BillingError] {
        let lines = address.lines
        if lines.isEmpty {
            return [.invalidArgument("billing_address.line1 is required", field: "billing_address.line1")]
        }
        if lines.count > BillingInformation.maxAddressLineCount {
            return [.invalidArgument(
                "billing_address has \(lines.count) street lines; at most "
                    + "\(BillingInformation.maxAddressLineCount) are allowed",
                field: "billing_address.lines")]
        }
        var problems: [BillingError] = []
        for (index, line) in lines.enumerated() {
            problems += BillingInformation.textProblems(
                line, field: "billing_address.line\(index + 1)", isRequired: true,
                maxLength: BillingInformation.maxAddressLineLength)
        }
        return problems
    }

    /// Postal code: called on the normalised copy. Country rules apply only when the
    /// country itself is valid.
    private func postalCodeProblems(country: Country?) -> [BillingError] {
        let field = "billing_address.postal_code"
        let postalCode = address.postalCode
        var problems = BillingInformation.textProblems(
            postalCode, field: field,
            isRequired: country?.requiresPostalCode ?? false,
            requiredReason: country.map { " for country \($0.code)" } ?? "",
            maxLength: BillingInformation.maxPostalCodeLength)
        if !problems.isEmpty || postalCode.isEmpty {
            return problems
        }
        let allowedPunctuation: Set<Character> = [" ", "-"]
        let hasOnlyAllowedCharacters = postalCode.allSatisfy { character in
            character.isASCIIDigit || character.isASCIILetter || allowedPunctuation.contains(character)
        }
        if !hasOnlyAllowedCharacters {
            problems.append(.invalidArgument(
                "\(field) may contain only letters, digits, spaces and dashes", field: field))
        } else if let country, let formatProblem = country.postalCodeProblem(postalCode) {
            problems.append(.invalidArgument(
                "\(field) for country \(country.code) \(formatProblem)", field: field))
        }
        return problems
    }

    /// The checks every free-text field shares: presence, length, single line.
    private static func textProblems(
        _ value: String, field: String, isRequired: Bool, requiredReason: String = "", maxLength: Int
    ) -> [BillingError] {
        if value.isEmpty {
            return isRequired ? [.invalidArgument("\(field) is required\(requiredReason)", field: field)] : []
        }
        if value.count > maxLength {
            return [.invalidArgument(
                "\(field) is \(value.count) characters long; at most \(maxLength) are allowed", field: field)]
        }
        let hasControlCharacters = value.unicodeScalars.contains { scalar in
            scalar.properties.generalCategory == .control
                || scalar.properties.generalCategory == .lineSeparator
                || scalar.properties.generalCategory == .paragraphSeparator
        }
        if hasControlCharacters {
            return [.invalidArgument("\(field) must be a single line of text without control characters",
                                     field: field)]
        }
        return []
    }
}
