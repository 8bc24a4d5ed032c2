import Foundation
import Testing

@testable import BillingDomain

@Suite("Currency")
struct CurrencyTests {
    @Test("codes are normalised and validated")
    func codesAreValidated() throws {
        let dollars = try Currency(code: " usd ")
        #expect(dollars.code == "USD")
        #expect(dollars.minorUnitExponent == 2)
        #expect(dollars == .usd)

        let unknown = expectBillingError(.invalidArgument, field: "currency") { _ = try Currency(code: "XYZ") }
        #expect(unknown?.message.contains("XYZ") == true)
        expectBillingError(.invalidArgument, field: "currency") { _ = try Currency(code: "") }
        expectBillingError(.invalidArgument, field: "currency") { _ = try Currency(code: "DEM") }  // withdrawn
        expectBillingError(.invalidArgument, field: "account.currency") {
            _ = try Currency(code: "US", field: "account.currency")
        }
    }

    @Test("the most used currencies are all supported, with the right exponents")
    func exponents() throws {
        let mostUsed = """
            USD EUR GBP JPY CHF CAD AUD NZD SEK NOK DKK PLN CZK HUF RON BGN TRY INR CNY HKD SGD KRW TWD THB \
            MYR IDR PHP VND BRL MXN ARS CLP COP PEN ZAR NGN KES EGP ILS AED SAR KWD BHD JOD OMR TND ISK
            """.split(separator: " ").map(String.init)
        for code in mostUsed {
            let currency = try Currency(code: code)
            let expected = ["JPY", "KRW", "VND", "CLP", "ISK"].contains(code) ? 0
                : ["KWD", "BHD", "JOD", "OMR", "TND"].contains(code) ? 3 : 2
            #expect(currency.minorUnitExponent == expected, "\(code)")
        }
        #expect(Currency.supportedCodes.count > 140)
        #expect(Currency.supportedCodes.allSatisfy { $0.count == 3 && $0 == $0.uppercased() })
    }

    @Test("encodes as the bare code and refuses unknown codes when decoding")
    func codable() throws {
        let encoded = try JSONEncoder().encode(Money(amountMinor: 150, currency: .eur))
        #expect(String(decoding: encoded, as: UTF8.self).contains("\"EUR\""))
        #expect(try JSONDecoder().decode(Money.self, from: encoded) == Money(amountMinor: 150, currency: .eur))
        let bad = Data(#"{"amountMinor":1,"currency":"ABC"}"#.utf8)
        #expect(throws: BillingError.self) { _ = try JSONDecoder().decode(Money.self, from: bad) }
    }
}

@Suite("Money")
struct MoneyTests {
    let usd = Currency.usd

    @Test("checked arithmetic gives exact results")
    func arithmetic() throws {
        let price = Money(amountMinor: 1999, currency: usd)
        #expect(try price.adding(Money(amountMinor: 1, currency: usd)).amountMinor == 2000)
        #expect(try price.subtracting(Money(amountMinor: 2000, currency: usd)).amountMinor == -1)
        #expect(try price.multiplied(by: 3).amountMinor == 5997)
        #expect(try price.negated().amountMinor == -1999)
        let sum = try Money.sum([price, price, Money(amountMinor: 2, currency: usd)], in: usd)
        #expect(sum == Money(amountMinor: 4000, currency: usd))
        #expect(try Money.sum([], in: usd).isZero)
    }

    @Test("overflow throws instead of trapping")
    func overflow() {
        let largest = Money(amountMinor: .max, currency: usd)
        let smallest = Money(amountMinor: .min, currency: usd)
        let one = Money(amountMinor: 1, currency: usd)
        for operation in [
            { _ = try largest.adding(one) },
            { _ = try smallest.subtracting(one) },
            { _ = try largest.multiplied(by: 2) },
            { _ = try smallest.multiplied(by: -1) },
            { _ = try smallest.negated() },
            { _ = try Money.sum([largest, one], in: self.usd) },
        ] as [() throws -> Void] {
            let error = expectBillingError(.invalidArgument, field: "amount", operation)
            #expect(error?.message == "amount overflows")
        }
    }

    @Test("mixing currencies is an error that says which currencies")
    func currencyMismatch() throws {
        let dollars = Money(amountMinor: 100, currency: .usd)
        let euros = Money(amountMinor: 100, currency: .eur)
        let addError = expectBillingError(.invalidArgument, field: "currency") { _ = try dollars.adding(euros) }
        #expect(addError?.message.contains("EUR") == true)
        #expect(addError?.message.contains("USD") == true)
        expectBillingError(.invalidArgument, field: "currency") { _ = try dollars.subtracting(euros) }
        expectBillingError(.invalidArgument, field: "currency") { _ = try Money.sum([euros], in: .usd) }

        let accountError = expectBillingError(.invalidArgument, field: "amount") {
            try euros.requireCurrency(.usd)
        }
        #expect(accountError?.message == "amount is in EUR but the account bills in USD")
        try dollars.requireCurrency(.usd)
    }

    @Test("formatting uses the currency's exponent, separators and sign", arguments: [
        (Int64(123_456), "USD", "USD 1,234.56"),
        (0, "USD", "USD 0.00"),
        (5, "USD", "USD 0.05"),
        (-5, "USD", "USD -0.05"),
        (-123_456_789, "EUR", "EUR -1,234,567.89"),
        (1_235, "JPY", "JPY 1,235"),
        (999, "JPY", "JPY 999"),
        (-1_000, "KRW", "KRW -1,000"),
        (1_234_567, "KWD", "KWD 1,234.567"),
        (-500, "BHD", "BHD -0.500"),
        (7, "OMR", "OMR 0.007"),
        (.max, "USD", "USD 92,233,720,368,547,758.07"),
        (.min, "USD", "USD -92,233,720,368,547,758.08"),
        (.min, "JPY", "JPY -9,223,372,036,854,775,808"),
    ])
    func formatting(amountMinor: Int64, code: String, expected: String) throws {
        let money = Money(amountMinor: amountMinor, currency: try Currency(code: code))
        #expect(money.formatted == expected)
        #expect(money.description == expected)
    }

    @Test("decimal strings parse without floating point")
    func parsing() throws {
        #expect(try Money(decimal: "1234.56", currency: .usd).amountMinor == 123_456)
        #expect(try Money(decimal: "0.1", currency: .usd).amountMinor == 10)
        #expect(try Money(decimal: "-0.05", currency: .usd).amountMinor == -5)
        #expect(try Money(decimal: "12", currency: .jpy).amountMinor == 12)
        #expect(try Money(decimal: "1.5", currency: .kwd).amountMinor == 1_500)
        expectBillingError(.invalidArgument, field: "amount") { _ = try Money(decimal: "1.234", currency: .usd) }
        expectBillingError(.invalidArgument, field: "amount") { _ = try Money(decimal: "1.5", currency: .jpy) }
        expectBillingError(.invalidArgument, field: "amount") { _ = try Money(decimal: "abc", currency: .usd) }
        expectBillingError(.invalidArgument, field: "amount") { _ = try Money(decimal: "1.", currency: .usd) }
        expectBillingError(.invalidArgument, field: "amount") { _ = try Money(decimal: "", currency: .usd) }
        expectBillingError(.invalidArgument, field: "price") {
            _ = try Money(decimal: "1e5", currency: .usd, field: "price")
        }
        let tooBig = expectBillingError(.invalidArgument, field: "amount") {
            _ = try Money(decimal: "99999999999999999999", currency: .usd)
        }
        #expect(tooBig?.message == "amount overflows")
    }
}

@Suite("BillingError")
struct BillingErrorTests {
    @Test("description names kind, field and message")
    func description() {
        let error = BillingError.invalidArgument("billing_address.postal_code is required for country US",
                                                 field: "billing_address.postal_code")
        #expect(error.kind == .invalidArgument)
        #expect(error.description
            == "invalidArgument invalid_argument (billing_address.postal_code): billing_address.postal_code is required for country US")
        #expect(BillingError.unavailable("gateway down").description == "unavailable unavailable: gateway down")
        #expect(BillingError.unavailable("gateway down", reason: .chargePending).description == "unavailable charge_pending: gateway down")
        #expect(BillingError.Kind.allCases.count == 8)
        #expect(error.localizedDescription == "billing_address.postal_code is required for country US")
    }
}
