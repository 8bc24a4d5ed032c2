import Foundation
import Testing

@testable import BillingDomain

@Suite("Card")
struct CardTests {
    let midJune2025 = utcDate(2025, 6, 15)

    func card(_ number: String, month: Int = 12, year: Int = 2030, cvc: String = "987",
              holder: String = "Ada Lovelace") -> CardDetails {
        CardDetails(number: number, expiryMonth: month, expiryYear: year, cvc: cvc, holderName: holder)
    }

    @Test("Luhn accepts the test numbers and rejects any single mistyped digit")
    func luhn() {
        let testNumbers = [
            "4242424242424242", "4000000000000002", "4000000000009995", "4000000000000341",
            "5555555555554444", "2223003122003222", "378282246310005", "6011111111111117",
            "3056930009020004", "36227206271667", "3566002020360505", "6200000000000005",
        ]
        for number in testNumbers {
            #expect(CardDetails.passesLuhnCheck(number), "\(number)")
        }
        let digits = Array("4242424242424242")
        for position in digits.indices {
            var mistyped = digits
            let digit = mistyped[position].wholeNumberValue!
            mistyped[position] = Character(String((digit + 1) % 10))
            #expect(!CardDetails.passesLuhnCheck(String(mistyped)), "digit \(position) changed")
        }
        #expect(!CardDetails.passesLuhnCheck("4242424242424241"))
        #expect(!CardDetails.passesLuhnCheck(""))
        #expect(!CardDetails.passesLuhnCheck("4242 4242 4242 4242"))  // digits only

        let error = expectBillingError(.invalidArgument, field: "card.number") {
            try card("4242 4242 4242 4241").validate(now: midJune2025)
        }
        #expect(error?.message.contains("4241") == false)
    }

    @Test("brand detection", arguments: [
        ("4242424242424242", CardBrand.visa),
        ("5555555555554444", .mastercard),
        ("2223003122003222", .mastercard),  // 2-series
        ("2720990000000007", .mastercard),
        ("2721000000000000", .unknown),
        ("378282246310005", .amex),
        ("340000000000009", .amex),
        ("6011111111111117", .discover),
        ("6445644564456445", .discover),
        ("6500000000000002", .discover),
        ("3056930009020004", .diners),
        ("36227206271667", .diners),
        ("3566002020360505", .jcb),
        ("6200000000000005", .unionpay),
        ("9999999999999995", .unknown),
        ("1", .unknown),
        ("", .unknown),
    ])
    func brands(number: String, brand: CardBrand) {
        #expect(CardBrand.detect(fromDigits: number) == brand)
    }

    @Test("numbers may have spaces and dashes but nothing else, and 12 to 19 digits")
    func numberShape() throws {
        try card("4242 4242 4242 4242").validate(now: midJune2025)
        try card("4242-4242-4242-4242").validate(now: midJune2025)
        #expect(card("4242-4242 4242-4242").digits == "4242424242424242")
        expectBillingError(.invalidArgument, field: "card.number") {
            try card("4242 4242 4242 424X").validate(now: midJune2025)
        }
        expectBillingError(.invalidArgument, field: "card.number") { try card("").validate(now: midJune2025) }
        expectBillingError(.invalidArgument, field: "card.number") {
            try card("42424242426").validate(now: midJune2025)  // 11 digits
        }
        expectBillingError(.invalidArgument, field: "card.number") {
            try card("42424242424242424242").validate(now: midJune2025)  // 20 digits
        }
    }

    @Test("CVC length depends on the brand")
    func cvcRules() throws {
        try card("378282246310005", cvc: "1234").validate(now: midJune2025)
        try card("4242424242424242", cvc: "123").validate(now: midJune2025)
        let amex = expectBillingError(.invalidArgument, field: "card.cvc") {
            try card("378282246310005", cvc: "123").validate(now: midJune2025)
        }
        #expect(amex?.message.contains("4 digits") == true)
        let visa = expectBillingError(.invalidArgument, field: "card.cvc") {
            try card("4242424242424242", cvc: "98765").validate(now: midJune2025)
        }
        #expect(visa?.message.contains("3 digits") == true)
        #expect(visa?.message.contains("98765") == false)
        expectBillingError(.invalidArgument, field: "card.cvc") {
            try card("4242424242424242", cvc: "12a").validate(now: midJune2025)
        }
        expectBillingError(.invalidArgument, field: "card.cvc") {
            try card("4242424242424242", cvc: "").validate(now: midJune2025)
        }
    }

    @Test("a card expiring this month is valid; last month's is not")
    func expiry() throws {
        try card("4242424242424242", month: 6, year: 2025).validate(now: midJune2025)
        try card("4242424242424242", month: 6, year: 2025).validate(now: utcDate(2025, 6, 30, secondsIntoDay: 86_399))
        expectBillingError(.invalidArgument, field: "card.expiry_month") {
            try card("4242424242424242", month: 6, year: 2025).validate(now: utcDate(2025, 7, 1))
        }
        let lastMonth = expectBillingError(.invalidArgument, field: "card.expiry_month") {
            try card("4242424242424242", month: 5, year: 2025).validate(now: midJune2025)
        }
        #expect(lastMonth?.message.contains("05/2025") == true)
        expectBillingError(.invalidArgument, field: "card.expiry_year") {
            try card("4242424242424242", month: 12, year: 2024).validate(now: midJune2025)
        }
        expectBillingError(.invalidArgument, field: "card.expiry_month") {
            try card("4242424242424242", month: 13, year: 2030).validate(now: midJune2025)
        }
        expectBillingError(.invalidArgument, field: "card.expiry_month") {
            try card("4242424242424242", month: 0, year: 2030).validate(now: midJune2025)
        }
        expectBillingError(.invalidArgument, field: "card.expiry_year") {
            try card("4242424242424242", month: 1, year: 30).validate(now: midJune2025)
        }
        expectBillingError(.invalidArgument, field: "card.expiry_year") {
            try card("4242424242424242", month: 1, year: 2099).validate(now: midJune2025)
        }

        #expect(!CardExpiry.isExpired(month: 6, year: 2025, now: midJune2025))
        #expect(CardExpiry.isExpired(month: 6, year: 2025, now: utcDate(2025, 7, 1)))
    }

    @Test("holder name is optional but bounded")
    func holderName() throws {
        try card("4242424242424242", holder: "").validate(now: midJune2025)
        expectBillingError(.invalidArgument, field: "card.holder_name") {
            try card("4242424242424242", holder: String(repeating: "n", count: 201)).validate(now: midJune2025)
        }
    }

    @Test("descriptions, mirrors and errors never show the number, CVC or token")
    func redaction() throws {
        let number = "4242424242424242"
        let details = card("4242 4242 4242 4242", cvc: "987")
        #expect(details.description == "visa •••• 4242")
        #expect("\(details)" == "visa •••• 4242")

        var dumped = ""
        dump(details, to: &dumped)
        for text in [details.description, details.debugDescription, String(reflecting: details), dumped] {
            #expect(!text.contains(number))
            #expect(!text.contains("4242 4242 4242 4242"))
            #expect(!text.contains("987"))
        }
        #expect(dumped.contains("4242"))

        let token = "tok_sandbox_secret_0123456789"
        let gatewayCard = GatewayCard(token: token, brand: .visa, last4: "4242", expiryMonth: 12, expiryYear: 2030)
        var dumpedGatewayCard = ""
        dump(gatewayCard, to: &dumpedGatewayCard)
        for text in [gatewayCard.description, gatewayCard.debugDescription, "\(gatewayCard)", dumpedGatewayCard] {
            #expect(!text.contains(token), "\(text)")
            #expect(text.contains("4242"))
        }
    }
}
