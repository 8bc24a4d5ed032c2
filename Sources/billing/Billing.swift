import ArgumentParser
import BillingClient
import Foundation

/// `billing`: the billing page's tabs in a terminal. Each tab is a file: Overview.swift (overview,
/// diagnose), Accounts.swift, Info.swift, Cards.swift, Subscriptions.swift (subscriptions, plans),
/// Invoices.swift (invoices, charges), Wallet.swift, Clock.swift. Output.swift formats, Errors.swift maps
/// failures to exit codes.
@main
struct Billing: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "billing",
        abstract: "Look at and manage billing accounts on a billingd: the billing page's tabs in a terminal.",
        discussion: """
            Every command takes --socket (or BILLING_SOCKET; default data/billingd.sock, where `make run` \
            listens), --json (the schema's snake_case field names, for scripts) and --utc (times are local \
            otherwise). Amounts are typed and shown in the account's currency: --amount 12.50 is $12.50 on \
            a USD account, ¥1,250 is typed 1250 on a JPY one.

            Commands that change something send an idempotency key: a new one each time, printed on stderr \
            (a field "idempotency_key" with --json). To retry a command whose answer you did not see, run it \
            again with --idempotency-key KEY: it is done once.

            Example:
              billing accounts create --name "Acme" --currency USD
              ACCOUNT=acct_…        # the id it printed
              billing cards add $ACCOUNT --number "4242 4242 4242 4242" --exp 12/2030 \\
                --cvc 123 --name "Ada Lovelace"
              billing wallet add $ACCOUNT --amount 12.50
              billing overview $ACCOUNT

            The examples write ids as $ACCOUNT, $CARD, $SUB, $INVOICE and $CLOCK (acct_…, pm_…, sub_…, inv_…, \
            clock_…).

            Shell completions: billing --generate-completion-script bash|zsh|fish

            \(Exit.discussion)
            """,
        subcommands: [
            Overview.self, Diagnose.self, Accounts.self, Info.self, Cards.self, Subscriptions.self, Plans.self,
            Invoices.self, Charges.self, Wallet.self, Clock.self,
        ]
    )
}

/// The options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "billingd's socket (default: $BILLING_SOCKET, else data/billingd.sock).", valueName: "path"))
    var socket: String?

    @Flag(help: "Print JSON with the schema's field names instead of a table.")
    var json = false

    @Flag(help: "Show and read times in UTC instead of the local time zone.")
    var utc = false

    var socketPath: String {
        socket ?? ProcessInfo.processInfo.environment["BILLING_SOCKET"].flatMap { $0.isEmpty ? nil : $0 } ?? "data/billingd.sock"
    }

    var times: TimeText { TimeText(utc: utc) }

    /// Runs `body` against the server; a failure is printed (Errors.swift) and becomes the exit code.
    /// - Parameter key: the idempotency key sent (named `keyField` in a JSON error), to retry with.
    func run(key: String? = nil, keyField: String = "idempotency_key", _ body: (BillingServiceClient) async throws -> Void) async throws {
        var configuration = ClientConfiguration(socketPath: socketPath)
        configuration.defaultTimeout = .seconds(60)
        let client = RPCClient(configuration: configuration)
        defer { client.close() }
        do {
            try await body(BillingServiceClient(client))
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw fail(error, json: json, key: key.map { (keyField, $0) })
        }
    }

    /// Prints `message` as JSON (with `extra` fields after its own), or calls `table` for people.
    func emit(_ message: Any, key: String? = nil, extra: [(String, JSON.Value)] = [], table: () -> Void) {
        if json {
            JSON.print(JSON.message(message, extra: extra + (key.map { [("idempotency_key", .string($0))] } ?? [])))
        } else {
            table()
        }
    }
}

/// The option every command that changes something takes.
struct KeyOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The idempotency key to send: reuse the one printed by a command to retry it (default: a new one).",
        valueName: "key"))
    var idempotencyKey: String?

    /// The key to send, generated once per run; printed on stderr for people (JSON output carries it).
    func key(json: Bool) -> String {
        let key = idempotencyKey ?? UUID().uuidString.lowercased()
        if !json { Terminal.note(Terminal.dim("idempotency key: \(key)")) }
        return key
    }
}

/// The account's billing currency, for reading `--amount`.
func accountCurrency(_ billing: BillingServiceClient, _ accountID: String) async throws -> String {
    try await billing.getAccount(.init(accountID: accountID)).account?.currency ?? "USD"
}
