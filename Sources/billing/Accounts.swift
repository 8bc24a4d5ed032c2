import ArgumentParser
import BillingClient

// Accounts: create one (optionally on a test clock) and show it.

struct Accounts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create and show accounts.",
        discussion: """
            Example:
              billing accounts create --name "Acme Ltd" --currency USD
              billing accounts show $ACCOUNT
            """,
        subcommands: [Create.self, Show.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an account that bills in one currency, for good.",
            discussion: """
                Example:
                  billing accounts create --name "Acme Ltd" --currency USD
                  billing accounts create --name Clocked --currency USD --test-clock $CLOCK
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Option(help: "The account's display name.") var name: String
        @Option(help: "The billing currency (ISO 4217: USD, EUR, JPY, …).") var currency: String
        @Option(help: ArgumentHelp("Attach the account to this test clock (sandbox only).", valueName: "clock_…"))
        var testClock: String?

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let reply = try await billing.createAccount(.init(
                    idempotencyKey: key, displayName: name, currency: currency.uppercased(), testClockID: testClock ?? ""))
                global.emit(reply, key: key) { printAccount(reply.account, times: global.times) }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show an account and its service status.",
            discussion: """
                Example:
                  billing accounts show $ACCOUNT
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account (acct_…).") var account: String

        func run() async throws {
            try await global.run { billing in
                let reply = try await billing.getAccount(.init(accountID: account))
                global.emit(reply) { printAccount(reply.account, times: global.times) }
            }
        }
    }
}

func printAccount(_ account: BillingV1.Account?, times: TimeText) {
    guard let account else { return }
    var fields = Fields()
    fields.add("ID", account.id)
    fields.add("Name", account.displayName)
    fields.add("Currency", account.currency)
    fields.add("Services", statusText(label(account.serviceStatus)) + (account.suspensionReason.isEmpty ? "" : ": \(account.suspensionReason)"))
    if !account.testClockID.isEmpty { fields.add("Test clock", account.testClockID) }
    fields.add("Created", times.format(account.createdAtUnixMs))
    fields.print()
}
