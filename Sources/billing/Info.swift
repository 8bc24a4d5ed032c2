import ArgumentParser
import BillingClient

// Billing information: the name and address invoices are made out to, and what a charge still needs.

struct Info: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show and update the billing information (name and address on invoices).",
        discussion: """
            Example:
              billing info show $ACCOUNT
              billing info update $ACCOUNT --name "Ada Lovelace" --country GB \\
                --line "10 Downing Street" --city London --postal-code "SW1A 2AA"
            """,
        subcommands: [Show.self, Update.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the billing information and whether it is complete.",
            discussion: """
                Example:
                  billing info show $ACCOUNT
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account (acct_…).") var account: String

        func run() async throws {
            try await global.run { billing in
                let reply = try await billing.getBillingInformation(.init(accountID: account))
                global.emit(reply) { printInfo(reply.billingInformation, times: global.times) }
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace the billing information (every field at once).",
            discussion: """
                A US address needs a region (state) and a ZIP code; a GB postal code looks like SW1A 1AA.

                Example:
                  billing info update $ACCOUNT --name "Ada Lovelace" --country US \\
                    --line "1 Main Street" --city Springfield --region IL --postal-code 62701
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Option(help: "The full name invoices are made out to.") var name: String
        @Option(help: "ISO 3166-1 alpha-2 country code, for example US.") var country: String
        @Option(help: "A street line (one to three: repeat the option).") var line: [String] = []
        @Option(help: "The city.") var city: String
        @Option(help: "State, province or region (required in some countries).") var region: String = ""
        @Option(help: "The postal code.") var postalCode: String = ""

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let reply = try await billing.updateBillingInformation(.init(
                    idempotencyKey: key, accountID: account, fullName: name, countryCode: country.uppercased(),
                    address: .init(lines: line, city: city, region: region, postalCode: postalCode)))
                global.emit(reply, key: key) { printInfo(reply.billingInformation, times: global.times) }
            }
        }
    }
}

func printInfo(_ info: BillingV1.BillingInformation?, times: TimeText) {
    guard let info else { return }
    var fields = Fields()
    fields.add("Name", info.fullName)
    let address = info.address
    for (index, line) in (address?.lines ?? []).enumerated() { fields.add(index == 0 ? "Address" : "", line) }
    fields.add("City", address?.city ?? "")
    fields.add("Region", address?.region ?? "")
    fields.add("Postal code", address?.postalCode ?? "")
    fields.add("Country", info.countryCode)
    fields.add("Complete", info.complete ? Terminal.green("yes") : Terminal.yellow("no, missing " + info.missingFields.joined(separator: ", ")))
    if info.updatedAtUnixMs != 0 { fields.add("Updated", times.format(info.updatedAtUnixMs)) }
    fields.print()
}

/// One line: "Ada Lovelace, 1 Main Street, Springfield IL 62701, US (complete)".
func infoLine(_ info: BillingV1.BillingInformation) -> String {
    guard !info.fullName.isEmpty else { return Terminal.yellow("not set: billing info update") }
    let address = info.address
    let place = [address?.city ?? "", address?.region ?? "", address?.postalCode ?? ""].filter { !$0.isEmpty }.joined(separator: " ")
    let parts = [info.fullName] + (address?.lines ?? []) + [place, info.countryCode]
    return parts.filter { !$0.isEmpty }.joined(separator: ", ")
        + (info.complete ? "" : Terminal.yellow(" (incomplete: " + info.missingFields.joined(separator: ", ") + ")"))
}
