import ArgumentParser
import BillingClient

// Payment methods: cards, kept by the gateway as tokens. `billing` never prints a card's number or CVC.

struct Cards: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, add and remove cards, and choose the primary one.",
        discussion: """
            Example:
              billing cards list $ACCOUNT
              billing cards add $ACCOUNT --number "4242 4242 4242 4242" --exp 12/2030 \\
                --cvc 123 --name "Ada Lovelace"
            """,
        subcommands: [List.self, Add.self, Remove.self, SetPrimary.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The account's cards, primary first.",
            discussion: """
                Example:
                  billing cards list $ACCOUNT
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account (acct_…).") var account: String

        func run() async throws {
            try await global.run { billing in
                let reply = try await billing.listPaymentMethods(.init(accountID: account))
                global.emit(reply) {
                    var table = Table("ID", "CARD", "EXPIRES", "HOLDER", "PRIMARY")
                    for card in reply.paymentMethods {
                        table.add(
                            card.id, "\(card.brand) •••• \(card.last4)",
                            expiryText(card), card.holderName, card.primary ? Terminal.green("primary") : "")
                    }
                    table.print()
                }
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a card (the first one becomes primary; later ones with --primary).",
            discussion: """
                Only the brand, the last four digits and the expiry are kept, and only those are printed.
                With the sandbox gateway, 4242 4242 4242 4242 succeeds and 4000 0000 0000 0341 is accepted \
                but declines every charge.

                Example:
                  billing cards add $ACCOUNT --number "4242 4242 4242 4242" --exp 12/2030 \\
                    --cvc 123 --name "Ada Lovelace" --primary
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Option(help: "The card number (spaces and dashes are ignored).") var number: String
        @Option(help: ArgumentHelp("The expiry month and year.", valueName: "MM/YYYY")) var exp: String
        @Option(help: "The security code.") var cvc: String
        @Option(help: "The cardholder's name.") var name: String
        @Flag(help: "Make it the primary card.") var primary = false

        func validate() throws {
            _ = try parseExpiry(exp)
        }

        func run() async throws {
            let (month, year) = try parseExpiry(exp)
            let digits = number.filter { $0 != " " && $0 != "-" }
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let reply = try await billing.addPaymentMethod(.init(
                    idempotencyKey: key, accountID: account,
                    card: .init(number: digits, expiryMonth: month, expiryYear: year, cvc: cvc, holderName: name),
                    makePrimary: primary))
                global.emit(reply, key: key) { printCard(reply.paymentMethod) }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a card. Removing the primary one leaves the account without one until you choose.",
            discussion: """
                Example:
                  billing cards remove $ACCOUNT $CARD
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Argument(help: "The card (pm_…).") var card: String

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let reply = try await billing.removePaymentMethod(.init(idempotencyKey: key, accountID: account, paymentMethodID: card))
                global.emit(reply, key: key) {
                    print("Removed \(reply.removedPaymentMethodID)" + (reply.removedPrimary ? " (it was the primary card)" : ""))
                    if !reply.notice.isEmpty { print(Terminal.yellow(reply.notice)) }
                }
            }
        }
    }

    struct SetPrimary: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-primary",
            abstract: "Make a card the primary one: the one charged.",
            discussion: """
                Example:
                  billing cards set-primary $ACCOUNT $CARD
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Argument(help: "The card (pm_…).") var card: String

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let reply = try await billing.setPrimaryPaymentMethod(.init(idempotencyKey: key, accountID: account, paymentMethodID: card))
                global.emit(reply, key: key) { printCard(reply.paymentMethod) }
            }
        }
    }
}

/// `12/2030` or `12/30` → (12, 2030).
func parseExpiry(_ text: String) throws(ValidationError) -> (UInt32, UInt32) {
    let parts = text.split(separator: "/")
    guard parts.count == 2, let month = UInt32(parts[0]), (1...12).contains(month), var year = UInt32(parts[1]) else {
        throw ValidationError("--exp \(text) is not an expiry such as 12/2030")
    }
    if parts[1].count == 2 { year += 2000 }
    return (month, year)
}

func expiryText(_ card: BillingV1.PaymentMethod) -> String {
    let text = (card.expiryMonth < 10 ? "0" : "") + "\(card.expiryMonth)/\(card.expiryYear)"
    return card.expired ? Terminal.red(text + " expired") : text
}

/// "visa •••• 4242  expires 12/2030  Ada Lovelace  primary".
func cardText(_ card: BillingV1.PaymentMethod) -> String {
    "\(card.brand) •••• \(card.last4)  expires \(expiryText(card))  \(card.holderName)" + (card.primary ? "  " + Terminal.green("primary") : "")
}

func printCard(_ card: BillingV1.PaymentMethod?) {
    guard let card else { return }
    var fields = Fields()
    fields.add("ID", card.id)
    fields.add("Card", "\(card.brand) •••• \(card.last4)")
    fields.add("Expires", expiryText(card))
    fields.add("Holder", card.holderName)
    fields.add("Primary", card.primary ? Terminal.green("yes") : "no")
    fields.print()
}
