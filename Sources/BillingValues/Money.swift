/// An ISO 4217 currency the service can bill in, with its minor-unit exponent.
///
/// Amounts are stored as integer counts of minor units, so the service must know how
/// many minor units make one major unit: 100 cents in a US dollar (exponent 2), none
/// in a Japanese yen (exponent 0), 1000 fils in a Kuwaiti dinar (exponent 3).
/// Only codes in ``Currency/minorUnitExponentByCode`` are accepted, so a typo such as
/// `"USDD"` or a withdrawn code such as `"DEM"` is rejected at the edge instead of
/// producing an invoice nobody can pay.
///
/// ```swift
/// let dollars = try Currency(code: "usd")   // normalised to "USD", exponent 2
/// let yen = Currency.jpy                     // exponent 0
/// ```
public struct Currency: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The three-letter ISO 4217 code, upper case.
    public let code: String
    /// How many decimal digits the minor unit has (2 for USD, 0 for JPY, 3 for KWD).
    public let minorUnitExponent: Int

    /// Validates `code` (surrounding whitespace and letter case are ignored).
    /// - Parameter field: the request field the code came from, named in the error.
    /// - Throws: ``BillingError`` `invalidArgument` when the code is not an active
    ///   ISO 4217 currency this service bills in.
    public init(code: String, field: String = "currency") throws(BillingError) {
        let normalizedCode = code.trimmingWhitespace().uppercased()
        if normalizedCode.isEmpty {
            throw BillingError.invalidArgument("\(field) is required (an ISO 4217 code such as USD)", field: field)
        }
        guard let exponent = Currency.minorUnitExponentByCode[normalizedCode] else {
            throw BillingError.invalidArgument(
                "\(field) \"\(normalizedCode.prefix(10))\" is not a supported ISO 4217 currency code",
                field: field)
        }
        self.code = normalizedCode
        self.minorUnitExponent = exponent
    }

    /// For the constants below, whose codes are known to be in the table.
    private init(knownCode: String) {
        self.code = knownCode
        self.minorUnitExponent = Currency.minorUnitExponentByCode[knownCode] ?? 2
    }

    public static let usd = Currency(knownCode: "USD")
    public static let eur = Currency(knownCode: "EUR")
    public static let gbp = Currency(knownCode: "GBP")
    public static let jpy = Currency(knownCode: "JPY")
    public static let chf = Currency(knownCode: "CHF")
    public static let kwd = Currency(knownCode: "KWD")

    public var description: String { code }

    /// All codes this service accepts.
    public static var supportedCodes: [String] { minorUnitExponentByCode.keys.sorted() }

    /// Active ISO 4217 currencies with their minor-unit exponents (ISO 4217 list one).
    ///
    /// Fund codes (BOV, CHE, CHW, CLF, COU, MXV, USN, UYI, UYW), precious metals,
    /// SDRs and testing codes are left out on purpose: nobody is invoiced in them.
    public static let minorUnitExponentByCode: [String: Int] = [
        // Exponent 0: no minor unit in use.
        "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
        "PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
        // Exponent 3: dinars and rials divided into 1000.
        "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
        // Exponent 2: everything else.
        "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2,
        "AZN": 2, "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BMD": 2, "BND": 2, "BOB": 2,
        "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2, "CDF": 2,
        "CHF": 2, "CNY": 2, "COP": 2, "CRC": 2, "CUP": 2, "CVE": 2, "CZK": 2, "DKK": 2,
        "DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2, "FKP": 2,
        "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GTQ": 2, "GYD": 2, "HKD": 2,
        "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "IRR": 2, "JMD": 2,
        "KES": 2, "KGS": 2, "KHR": 2, "KPW": 2, "KYD": 2, "KZT": 2, "LAK": 2, "LBP": 2,
        "LKR": 2, "LRD": 2, "LSL": 2, "MAD": 2, "MDL": 2, "MGA": 2, "MKD": 2, "MMK": 2,
        "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MYR": 2,
        "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "PAB": 2,
        "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "QAR": 2, "RON": 2, "RSD": 2,
        "RUB": 2, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2,
        "SLE": 2, "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2,
        "THB": 2, "TJS": 2, "TMT": 2, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2,
        "UAH": 2, "USD": 2, "UYU": 2, "UZS": 2, "VED": 2, "VES": 2, "WST": 2, "XCD": 2,
        "XCG": 2, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2,
    ]

    // Stored as the bare code ("USD") so documents and journals stay readable.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        try self.init(code: container.decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }
}

/// An amount of money: an integer count of minor units in one currency.
///
/// Never floating point: `0.1 + 0.2` must not turn into an invoice for 0.30000000000000004.
/// All arithmetic is checked: an overflow or a currency mismatch throws a
/// ``BillingError`` instead of trapping the process or silently converting.
///
/// ```swift
/// let price = Money(amountMinor: 1999, currency: .usd)      // USD 19.99
/// let total = try price.multiplied(by: 3).adding(shipping)  // throws on overflow or mismatch
/// print(total.formatted)                                    // "USD 64.97"
/// ```
public struct Money: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The amount in minor units (cents for USD, yen for JPY, fils for KWD). May be negative
    /// (credits, refunds).
    public let amountMinor: Int64
    public let currency: Currency

    public init(amountMinor: Int64, currency: Currency) {
        self.amountMinor = amountMinor
        self.currency = currency
    }

    /// Nothing, in `currency`; the starting point for sums.
    public static func zero(in currency: Currency) -> Money {
        Money(amountMinor: 0, currency: currency)
    }

    public var isZero: Bool { amountMinor == 0 }
    public var isPositive: Bool { amountMinor > 0 }
    public var isNegative: Bool { amountMinor < 0 }

    // MARK: Checked arithmetic

    /// `self + other`. Throws `invalidArgument` on a currency mismatch or overflow.
    public func adding(_ other: Money) throws -> Money {
        try requireSameCurrency(as: other, operation: "add")
        let (sum, overflow) = amountMinor.addingReportingOverflow(other.amountMinor)
        if overflow { throw Money.overflowError }
        return Money(amountMinor: sum, currency: currency)
    }

    /// `self - other`. Throws `invalidArgument` on a currency mismatch or overflow.
    public func subtracting(_ other: Money) throws -> Money {
        try requireSameCurrency(as: other, operation: "subtract")
        let (difference, overflow) = amountMinor.subtractingReportingOverflow(other.amountMinor)
        if overflow { throw Money.overflowError }
        return Money(amountMinor: difference, currency: currency)
    }

    /// `self × factor`, for quantities. Throws `invalidArgument` on overflow.
    public func multiplied(by factor: Int64) throws -> Money {
        let (product, overflow) = amountMinor.multipliedReportingOverflow(by: factor)
        if overflow { throw Money.overflowError }
        return Money(amountMinor: product, currency: currency)
    }

    /// `-self`, for credits and refunds. Throws on `Int64.min`, which has no positive twin.
    public func negated() throws -> Money {
        try Money.zero(in: currency).subtracting(self)
    }

    /// The sum of `amounts`, all of which must be in `currency`.
    public static func sum(_ amounts: [Money], in currency: Currency) throws -> Money {
        var total = Money.zero(in: currency)
        for amount in amounts {
            total = try total.adding(amount)
        }
        return total
    }

    /// Checks that this amount is in the currency the account bills in.
    /// - Throws: `invalidArgument` such as "amount is in EUR but the account bills in USD".
    public func requireCurrency(_ billingCurrency: Currency, field: String = "amount") throws {
        if currency != billingCurrency {
            throw BillingError.invalidArgument(
                "\(field) is in \(currency.code) but the account bills in \(billingCurrency.code)",
                field: field, reason: .currencyMismatch)
        }
    }

    /// The error every overflowing operation throws.
    static let overflowError = BillingError.invalidArgument("amount overflows", field: "amount")

    private func requireSameCurrency(as other: Money, operation: String) throws {
        if currency != other.currency {
            throw BillingError.invalidArgument(
                "cannot \(operation) an amount in \(other.currency.code) and an amount in \(currency.code); "
                    + "amounts must be in the same currency",
                field: "currency", reason: .currencyMismatch)
        }
    }

    // MARK: Parsing and formatting

    /// Parses a decimal amount such as `"1234.56"` or `"-0.5"` in `currency`, without
    /// floating point. At most `currency.minorUnitExponent` decimals are accepted, so
    /// `"1.234"` in USD is an error rather than a silent rounding.
    public init(decimal text: String, currency: Currency, field: String = "amount") throws {
        var remaining = Substring(text.trimmingWhitespace())
        let isNegative = remaining.hasPrefix("-")
        if isNegative || remaining.hasPrefix("+") {
            remaining = remaining.dropFirst()
        }
        let parts = remaining.split(separator: ".", omittingEmptySubsequences: false)
        let wholeDigits = parts.first ?? ""
        let fractionDigits = parts.count == 2 ? parts[1] : ""
        let isWellFormed = parts.count <= 2
            && !wholeDigits.isEmpty
            && wholeDigits.allSatisfy(\.isASCIIDigit)
            && fractionDigits.allSatisfy(\.isASCIIDigit)
            && (parts.count == 1 || !fractionDigits.isEmpty)
        guard isWellFormed else {
            throw BillingError.invalidArgument(
                "\(field) must be a decimal number such as 12.34", field: field)
        }
        guard fractionDigits.count <= currency.minorUnitExponent else {
            throw BillingError.invalidArgument(
                "\(field) has \(fractionDigits.count) decimals but \(currency.code) has "
                    + "\(currency.minorUnitExponent)", field: field)
        }
        let paddedFraction = String(fractionDigits)
            + String(repeating: "0", count: currency.minorUnitExponent - fractionDigits.count)
        guard let minorUnits = Int64(String(wholeDigits) + paddedFraction) else {
            throw Money.overflowError
        }
        self.init(amountMinor: isNegative ? -minorUnits : minorUnits, currency: currency)
    }

    /// The amount as printed on documents: code, sign, thousands separators and exactly
    /// `minorUnitExponent` decimals, e.g. `"USD 1,234.56"`, `"JPY 1,235"`, `"KWD -0.500"`.
    /// Computed with integer arithmetic only.
    public var formatted: String {
        let magnitude = amountMinor.magnitude  // UInt64, so Int64.min is safe
        let unitsPerMajor = Money.powerOfTen(currency.minorUnitExponent)
        let wholePart = magnitude / unitsPerMajor
        let fractionPart = magnitude % unitsPerMajor

        var text = currency.code + " "
        if amountMinor < 0 { text += "-" }
        text += Money.groupingThousands(String(wholePart))
        if currency.minorUnitExponent > 0 {
            let fractionDigits = String(fractionPart)
            let leadingZeros = String(repeating: "0", count: currency.minorUnitExponent - fractionDigits.count)
            text += "." + leadingZeros + fractionDigits
        }
        return text
    }

    public var description: String { formatted }

    private static func powerOfTen(_ exponent: Int) -> UInt64 {
        var result: UInt64 = 1
        for _ in 0..<exponent { result *= 10 }
        return result
    }

    /// "1234567" → "1,234,567".
    private static func groupingThousands(_ digits: String) -> String {
        var grouped = ""
        for (index, digit) in digits.enumerated() {
            let digitsLeft = digits.count - index
            if index > 0 && digitsLeft % 3 == 0 { grouped += "," }
            grouped.append(digit)
        }
        return grouped
    }
}

/// The largest single amount the service takes: a charge, a top-up, a usage debit, an invoice line
/// or total, a recharge amount or threshold. Configurable; Stripe's limit for one charge by default.
///
/// Why no sum can overflow under it: every ledger line, charge and invoice total is at most
/// `maxAmountMinor` (at most 2^40 even if configured to the ceiling below), so a balance or a month's
/// summary, a sum of such lines, needs over 2^23 lines at the ceiling, and over 9 × 10^10 at the default,
/// before it nears 2^63: centuries at any rate this service can write. Products (quantity × unit price)
/// are checked before they are stored.
public struct MoneyLimits: Sendable, Hashable {
    /// 99,999,999 minor units: USD 999,999.99, Stripe's largest charge.
    public static let defaultMaxAmountMinor: Int64 = 99_999_999
    /// The highest limit that may be configured (about 10^12 minor units).
    public static let ceilingMaxAmountMinor: Int64 = 1 << 40

    public let maxAmountMinor: Int64

    public init(maxAmountMinor: Int64 = defaultMaxAmountMinor) {
        precondition((1...Self.ceilingMaxAmountMinor).contains(maxAmountMinor), "the amount limit must be between 1 and 2^40 minor units")
        self.maxAmountMinor = maxAmountMinor
    }

    /// Checks one amount a caller sent: above zero (or zero, when `allowsZero`) and within the limit.
    /// The message names the limit in the amount's currency, so a person sees what is allowed.
    /// - Parameter name: what the message calls the amount, when not the field's name.
    public func require(_ amount: Money, field: String, name: String? = nil, allowsZero: Bool = false) throws(BillingError) {
        let name = name ?? field
        guard allowsZero ? amount.amountMinor >= 0 : amount.isPositive else {
            throw .invalidArgument("\(name) must be \(allowsZero ? "zero or more" : "positive"); got \(amount.formatted)", field: field)
        }
        guard amount.amountMinor <= maxAmountMinor else {
            throw .invalidArgument(
                "\(name) is \(amount.formatted); one amount may be at most \(Money(amountMinor: maxAmountMinor, currency: amount.currency).formatted) (\(maxAmountMinor) minor units)",
                field: field, reason: .amountTooLarge)
        }
    }
}
