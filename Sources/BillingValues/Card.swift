import Foundation

/// The card network, detected from the number's leading digits (its IIN range).
///
/// The brand decides how long the CVC is and is shown to people ("visa •••• 4242")
/// so they can tell their cards apart without seeing the number.
public enum CardBrand: String, Sendable, Hashable, Codable, CaseIterable {
    case visa, mastercard, amex, discover, diners, jcb, unionpay, unknown

    /// The brand of a card number given as digits only.
    ///
    /// Ranges: Visa 4; Mastercard 51–55 and 2221–2720; American Express 34, 37;
    /// Discover 6011, 644–649, 65; UnionPay 62, 81; JCB 3528–3589;
    /// Diners Club 300–305, 309, 36, 38, 39.
    public static func detect(fromDigits digits: String) -> CardBrand {
        let firstTwo = leadingNumber(of: digits, length: 2)
        let firstThree = leadingNumber(of: digits, length: 3)
        let firstFour = leadingNumber(of: digits, length: 4)

        if digits.hasPrefix("4") { return .visa }
        if firstTwo == 34 || firstTwo == 37 { return .amex }
        if (51...55).contains(firstTwo) || (2221...2720).contains(firstFour) { return .mastercard }
        if firstFour == 6011 || (644...649).contains(firstThree) || firstTwo == 65 { return .discover }
        if firstTwo == 62 || firstTwo == 81 { return .unionpay }
        if (3528...3589).contains(firstFour) { return .jcb }
        if (300...305).contains(firstThree) || firstThree == 309 || [36, 38, 39].contains(firstTwo) {
            return .diners
        }
        return .unknown
    }

    /// How many digits the card's security code has: 4 for American Express, 3 for the rest.
    public var cvcLength: Int { self == .amex ? 4 : 3 }

    /// The first `length` digits as a number, or -1 when there are fewer digits than that.
    private static func leadingNumber(of digits: String, length: Int) -> Int {
        guard digits.count >= length else { return -1 }
        return Int(digits.prefix(length)) ?? -1
    }
}

/// A card exactly as the customer typed it, on its way to the payment gateway.
///
/// This is the only type that ever holds a full card number and CVC, and it holds them
/// only in memory: the gateway turns it into a token and the service stores a
/// ``StoredCard``. Its `description`, `debugDescription` and mirror (used by `dump`,
/// test failure messages and string interpolation) show only the brand and last four
/// digits, and validation errors never quote the number or CVC.
///
/// ```swift
/// let card = CardDetails(number: "4242 4242 4242 4242", expiryMonth: 12, expiryYear: 2030,
///                        cvc: "123", holderName: "Ada Lovelace")
/// try card.validate(now: Date())
/// print(card)   // "visa •••• 4242"
/// ```
public struct CardDetails: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The number as typed; spaces and dashes are allowed and ignored.
    public var number: String
    /// 1...12.
    public var expiryMonth: Int
    /// Four digits, e.g. 2030.
    public var expiryYear: Int
    public var cvc: String
    /// Optional; at most ``maxHolderNameLength`` characters.
    public var holderName: String

    public static let maxHolderNameLength = 200
    /// Cards are not issued for longer than this; a later year is almost surely a typo.
    public static let maxYearsUntilExpiry = 30

    public init(number: String, expiryMonth: Int, expiryYear: Int, cvc: String, holderName: String = "") {
        self.number = number
        self.expiryMonth = expiryMonth
        self.expiryYear = expiryYear
        self.cvc = cvc
        self.holderName = holderName
    }

    /// The number with spaces and dashes removed (other characters are kept, so an
    /// invalid number stays invalid).
    public var digits: String {
        number.filter { $0 != " " && $0 != "-" }
    }

    public var brand: CardBrand { CardBrand.detect(fromDigits: digits) }

    /// The last four digits, the only part of the number that may be shown or stored.
    public var last4: String {
        String(digits.filter(\.isASCIIDigit).suffix(4))
    }

    // MARK: Validation

    /// Checks the card before it is sent to the gateway.
    ///
    /// - Parameter now: the current time, injected so tests can pin it. The expiry is
    ///   compared by calendar month in UTC: a card expiring this month is still valid.
    /// - Throws: `invalidArgument` naming `card.number`, `card.expiry_month`,
    ///   `card.expiry_year`, `card.cvc` or `card.holder_name`.
    public func validate(now: Date) throws {
        try validateNumber()
        try validateExpiry(now: now)
        try validateCVC()
        try validateHolderName()
    }

    private func validateNumber() throws {
        let field = "card.number"
        let digits = self.digits
        if digits.isEmpty {
            throw BillingError.invalidArgument("\(field) is required", field: field)
        }
        if !digits.allSatisfy(\.isASCIIDigit) {
            throw BillingError.invalidArgument("\(field) may contain only digits, spaces and dashes", field: field)
        }
        if !(12...19).contains(digits.count) {
            throw BillingError.invalidArgument(
                "\(field) has \(digits.count) digits; card numbers have 12 to 19", field: field)
        }
        if !CardDetails.passesLuhnCheck(digits) {
            throw BillingError.invalidArgument(
                "\(field) is not a valid card number (its check digit does not match); look for a mistyped digit",
                field: field)
        }
    }

    private func validateExpiry(now: Date) throws {
        if !(1...12).contains(expiryMonth) {
            throw BillingError.invalidArgument("card.expiry_month must be between 1 and 12", field: "card.expiry_month")
        }
        if !(1000...9999).contains(expiryYear) {
            throw BillingError.invalidArgument(
                "card.expiry_year must be a four-digit year such as 2030", field: "card.expiry_year")
        }
        let today = CardExpiry.yearAndMonth(of: now)
        if CardExpiry.isExpired(month: expiryMonth, year: expiryYear, now: now) {
            let field = expiryYear == today.year ? "card.expiry_month" : "card.expiry_year"
            throw BillingError.invalidArgument(
                "the card expired at the end of \(CardExpiry.text(month: expiryMonth, year: expiryYear)); "
                    + "use a card that is still valid",
                field: field)
        }
        if expiryYear > today.year + CardDetails.maxYearsUntilExpiry {
            throw BillingError.invalidArgument(
                "card.expiry_year \(expiryYear) is more than \(CardDetails.maxYearsUntilExpiry) years away; "
                    + "check the year printed on the card",
                field: "card.expiry_year")
        }
    }

    private func validateCVC() throws {
        let field = "card.cvc"
        let expectedLength = brand.cvcLength
        if cvc.isEmpty {
            throw BillingError.invalidArgument("\(field) is required", field: field)
        }
        if cvc.count != expectedLength || !cvc.allSatisfy(\.isASCIIDigit) {
            throw BillingError.invalidArgument(
                "\(field) must be \(expectedLength) digits for \(brand.rawValue) cards", field: field)
        }
    }

    private func validateHolderName() throws {
        let field = "card.holder_name"
        let name = holderName.trimmingWhitespace()
        if name.count > CardDetails.maxHolderNameLength {
            throw BillingError.invalidArgument(
                "\(field) is \(name.count) characters long; at most \(CardDetails.maxHolderNameLength) are allowed",
                field: field)
        }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw BillingError.invalidArgument("\(field) must be a single line without control characters",
                                               field: field)
        }
    }

    /// The Luhn (mod 10) checksum every card number carries in its last digit.
    /// `digits` must be ASCII digits only; anything else fails.
    public static func passesLuhnCheck(_ digits: String) -> Bool {
        guard !digits.isEmpty, digits.allSatisfy(\.isASCIIDigit) else { return false }
        var sum = 0
        // Walk from the right: every second digit (starting with the one left of the
        // check digit) is doubled, and 9 is subtracted when doubling gives two digits.
        for (positionFromRight, character) in digits.reversed().enumerated() {
            var value = character.wholeNumberValue ?? 0
            if positionFromRight % 2 == 1 {
                value *= 2
                if value > 9 { value -= 9 }
            }
            sum += value
        }
        return sum % 10 == 0
    }

    // MARK: Redacted descriptions

    /// `"visa •••• 4242"`: brand and last four digits only.
    public var description: String { "\(brand.rawValue) •••• \(last4)" }

    public var debugDescription: String {
        "CardDetails(\(description), expires \(CardExpiry.text(month: expiryMonth, year: expiryYear)))"
    }

    /// `dump(card)` and reflection-based printers see only what `description` shows.
    public var customMirror: Mirror {
        Mirror(self, children: [
            "brand": brand,
            "last4": last4,
            "expiryMonth": expiryMonth,
            "expiryYear": expiryYear,
            "holderName": holderName,
        ], displayStyle: .struct)
    }
}

/// The one expiry rule, shared by ``CardDetails``, payment methods and the sandbox gateway.
public enum CardExpiry {
    /// A card is valid through the last day of its expiry month, so it is expired only
    /// once `now` is in a later month (compared in UTC).
    public static func isExpired(month: Int, year: Int, now: Date) -> Bool {
        let today = yearAndMonth(of: now)
        return (year, month) < (today.year, today.month)
    }

    public static func yearAndMonth(of date: Date) -> (year: Int, month: Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let components = calendar.dateComponents([.year, .month], from: date)
        return (components.year ?? 0, components.month ?? 0)
    }

    /// `"03/2030"`.
    public static func text(month: Int, year: Int) -> String {
        let monthText = month < 10 && month >= 0 ? "0\(month)" : "\(month)"
        return "\(monthText)/\(year)"
    }
}
