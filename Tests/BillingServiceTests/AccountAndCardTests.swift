import BillingClient
import Testing

@Suite("Accounts, billing information and payment methods, end to end")
struct AccountAndCardTests {
    @Test func accountsAreCreatedOnceAndRead() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let request = BillingV1.CreateAccountRequest(idempotencyKey: "create-1", displayName: "Acme Inc", currency: "EUR")
        let created = try await client.createAccount(request).account!
        #expect(created.id.hasPrefix("acct_"))
        #expect(created.currency == "EUR")
        #expect(created.serviceStatus == .active)
        // A retry returns the first result; the same key with other parameters is refused.
        #expect(try await client.createAccount(request).account == created)
        var other = request
        other.displayName = "Someone else"
        let reused = await rpcError { _ = try await client.createAccount(other) }
        #expect(reused?.code == .invalidArgument)
        #expect(reused?.message.contains("idempotency_key was already used") == true)

        #expect(try await client.getAccount(BillingV1.GetAccountRequest(accountID: created.id)).account == created)
        await service.finish()
    }

    @Test func badAccountInputIsRefusedWithTheField() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let cases: [(BillingV1.CreateAccountRequest, StatusCode, String)] = [
            (.init(idempotencyKey: key(), displayName: "Acme", currency: "XYZ"), .invalidArgument, "currency"),
            (.init(idempotencyKey: key(), displayName: "   ", currency: "USD"), .invalidArgument, "display_name"),
            (.init(idempotencyKey: key(), displayName: String(repeating: "a", count: 201), currency: "USD"), .invalidArgument, "display_name"),
            (.init(idempotencyKey: "", displayName: "Acme", currency: "USD"), .invalidArgument, "idempotency_key"),
            (.init(idempotencyKey: String(repeating: "k", count: 256), displayName: "Acme", currency: "USD"), .invalidArgument, "idempotency_key"),
        ]
        for (request, code, field) in cases {
            let error = await rpcError { _ = try await client.createAccount(request) }
            #expect(error?.code == code)
            #expect(error?.detail("field") == field, "\(error?.message ?? "no error")")
        }
        let unknown = await rpcError { _ = try await client.getAccount(.init(accountID: "acct_00000000000000000000")) }
        #expect(unknown?.code == .notFound)
        let malformed = await rpcError { _ = try await client.getAccount(.init(accountID: "robert'); DROP TABLE accounts;--")) }
        #expect(malformed?.code == .invalidArgument)
        await service.finish()
    }

    @Test func billingInformationIsValidatedPerCountry() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let account = try await client.createAccount(.init(idempotencyKey: key(), displayName: "Acme", currency: "USD")).account!
        let empty = try await client.getBillingInformation(.init(accountID: account.id)).billingInformation!
        #expect(!empty.complete)
        #expect(empty.missingFields.contains("full_name"))

        var update = BillingV1.UpdateBillingInformationRequest(
            idempotencyKey: key(), accountID: account.id, fullName: "Ada Lovelace", countryCode: "US",
            address: .init(lines: ["1 Main St"], city: "Springfield", region: "IL", postalCode: ""))
        let missingPostal = await rpcError { _ = try await client.updateBillingInformation(update) }
        #expect(missingPostal?.code == .invalidArgument)
        #expect(missingPostal?.detail("field") == "billing_address.postal_code")

        update.countryCode = "XX"
        update.address?.postalCode = "62701"
        let badCountry = await rpcError { _ = try await client.updateBillingInformation(update) }
        #expect(badCountry?.detail("field") == "country_code")

        update.countryCode = "US"
        update.fullName = String(repeating: "n", count: 500)
        #expect(await rpcError { _ = try await client.updateBillingInformation(update) }?.detail("field") == "full_name")

        update.fullName = "Ada Lovelace"
        update.idempotencyKey = key()
        let saved = try await client.updateBillingInformation(update).billingInformation!
        #expect(saved.complete)
        #expect(saved.missingFields.isEmpty)
        #expect(try await client.getBillingInformation(.init(accountID: account.id)).billingInformation == saved)

        // Hong Kong needs no postal code.
        let hk = try await client.updateBillingInformation(.init(
            idempotencyKey: key(), accountID: account.id, fullName: "Chan Tai Man", countryCode: "HK",
            address: .init(lines: ["1 Queen's Road"], city: "Hong Kong"))).billingInformation!
        #expect(hk.complete)
        await service.finish()
    }

    @Test func cardsAreTokenizedAndTheFirstBecomesPrimary() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount(card: nil)
        let first = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: accountID, card: TestCard.input(TestCard.succeeds))).paymentMethod!
        #expect(first.primary)
        #expect(first.brand == "visa")
        #expect(first.last4 == "4242")
        let secondRequest = BillingV1.AddPaymentMethodRequest(idempotencyKey: key(), accountID: accountID, card: TestCard.input("5555 5555 5555 4444"))
        let second = try await client.addPaymentMethod(secondRequest).paymentMethod!
        #expect(!second.primary)
        #expect(second.brand == "mastercard")
        // The retry of an add returns the same card, not a third one.
        #expect(try await client.addPaymentMethod(secondRequest).paymentMethod == second)

        var list = try await client.listPaymentMethods(.init(accountID: accountID))
        #expect(list.paymentMethods.map(\.id) == [first.id, second.id])
        #expect(list.primaryPaymentMethodID == first.id)

        let promoted = try await client.setPrimaryPaymentMethod(.init(idempotencyKey: key(), accountID: accountID, paymentMethodID: second.id)).paymentMethod!
        #expect(promoted.primary)
        list = try await client.listPaymentMethods(.init(accountID: accountID))
        #expect(list.paymentMethods.map(\.id) == [second.id, first.id])

        // Removing the primary card leaves the account without one, and says so.
        let removal = try await client.removePaymentMethod(.init(idempotencyKey: key(), accountID: accountID, paymentMethodID: second.id))
        #expect(removal.removedPrimary)
        #expect(!removal.hasPrimary)
        #expect(removal.notice.contains("no primary card"))
        list = try await client.listPaymentMethods(.init(accountID: accountID))
        #expect(list.primaryPaymentMethodID == "")
        #expect(list.paymentMethods.map(\.id) == [first.id])
        #expect(list.paymentMethods.allSatisfy { !$0.primary })

        let twice = await rpcError { _ = try await client.removePaymentMethod(.init(idempotencyKey: key(), accountID: accountID, paymentMethodID: second.id)) }
        #expect(twice?.code == .notFound)
        #expect(twice?.message.contains("already removed") == true)
        let unknown = await rpcError { _ = try await client.setPrimaryPaymentMethod(.init(idempotencyKey: key(), accountID: accountID, paymentMethodID: "pm_00000000000000000000")) }
        #expect(unknown?.code == .notFound)
        await service.finish()
    }

    @Test func badCardsAreRefusedWithoutEchoingTheNumber() async throws {
        let service = try await BillingHarness()
        let client = service.client()
        let accountID = try await client.readyAccount(card: nil)
        let cases: [(BillingV1.CardInput, String)] = [
            (TestCard.input("4242 4242 4242 4241"), "card.number"),  // fails Luhn
            (TestCard.input("4242"), "card.number"),
            (TestCard.input(TestCard.succeeds, expiryYear: 2025), "card.expiry_year"),
            (TestCard.input(TestCard.succeeds, cvc: "12"), "card.cvc"),
            (TestCard.input("3782 822463 10005", cvc: "123"), "card.cvc"),  // amex needs 4 digits
        ]
        for (card, field) in cases {
            let error = await rpcError { _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: accountID, card: card)) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.detail("field")?.hasPrefix(field.components(separatedBy: ".")[0]) == true, "\(field): \(error?.description ?? "")")
            let digits = card.number.filter(\.isNumber)
            #expect(error?.message.contains(digits) == false, "the card number leaked into an error")
            #expect(error?.message.contains(card.cvc) == false || card.cvc.count < 3)
        }
        let noCard = await rpcError { _ = try await client.addPaymentMethod(.init(idempotencyKey: key(), accountID: accountID)) }
        #expect(noCard?.detail("field") == "card")
        #expect(try await client.listPaymentMethods(.init(accountID: accountID)).paymentMethods.isEmpty)
        await service.finish()
    }
}
