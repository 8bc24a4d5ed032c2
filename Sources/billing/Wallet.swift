import ArgumentParser
import BillingClient
import Foundation

// The usage wallet: balance, funds, auto-recharge, usage debits, the ledger, the monthly summary (as a
// bar chart) and a live watch.

struct Wallet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The usage wallet: balance, funds, auto-recharge, usage, ledger, monthly summary, live events.",
        discussion: """
            Example:
              billing wallet add $ACCOUNT --amount 12.50
              billing wallet summary $ACCOUNT
              billing wallet watch $ACCOUNT
            """,
        subcommands: [Show.self, Add.self, AutoRecharge.self, Usage.self, Transactions.self, Summary.self, Watch.self])

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The balance, auto-recharge and whether usage-based services run.",
            discussion: """
                Example:
                  billing wallet show $ACCOUNT
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account (acct_…).") var account: String

        func run() async throws {
            try await global.run { billing in
                let reply = try await billing.getWallet(.init(accountID: account))
                global.emit(reply) { printWallet(reply.wallet, times: global.times) }
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add funds: charge the primary card and credit the wallet (a paid invoice records it).",
            discussion: """
                The amount is in the account's currency, with at most its decimals: 12.50 is $12.50 on a USD \
                account; on a JPY one, 1250 is ¥1,250.

                Example:
                  billing wallet add $ACCOUNT --amount 12.50
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Option(help: "How much, for example 12.50.") var amount: String

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let money = try MoneyText.parse(amount, currency: try await accountCurrency(billing, account))
                let reply = try await billing.addBalance(.init(idempotencyKey: key, accountID: account, amount: money))
                global.emit(reply, key: key) {
                    print("Added \(MoneyText.format(reply.transaction?.amount)); balance \(Terminal.bold(MoneyText.format(reply.wallet?.balance ?? reply.transaction?.balanceAfter)))")
                    if let charge = reply.charge { print("Charge \(charge.id)  \(charge.cardBrand) •••• \(charge.cardLast4)  \(statusText(label(charge.status)))") }
                    if let invoice = reply.invoice { print("Invoice \(invoice.id)  \(invoice.number)  \(statusText(label(invoice.status)))") }
                }
            }
        }
    }

    struct AutoRecharge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "auto-recharge",
            abstract: "Turn auto-recharge on (charge --amount when a debit leaves the balance at or below --threshold) or --off.",
            discussion: """
                --on alone turns it back on with the amounts it had; --off keeps them for later.

                Example:
                  billing wallet auto-recharge $ACCOUNT --amount 20 --threshold 5
                  billing wallet auto-recharge $ACCOUNT --off
                  billing wallet auto-recharge $ACCOUNT --on
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Flag(help: "Turn auto-recharge on (the default when --amount or --threshold is given).") var on = false
        @Flag(help: "Turn auto-recharge off.") var off = false
        @Option(help: "How much each recharge adds, for example 20 (default: the current amount).") var amount: String?
        @Option(help: "Recharge when the balance falls to or below this, for example 5 (default: the current threshold).")
        var threshold: String?

        func validate() throws {
            if on && off { throw ValidationError("--on or --off, not both") }
            if off && (amount != nil || threshold != nil) { throw ValidationError("--off takes no --amount or --threshold") }
            if !on && !off && amount == nil && threshold == nil { throw ValidationError("give --amount and --threshold, --on or --off") }
        }

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let currency = try await accountCurrency(billing, account)
                let current = try await billing.getWallet(.init(accountID: account)).wallet?.autoRecharge
                let request = BillingV1.ConfigureAutoRechargeRequest(
                    idempotencyKey: key, accountID: account, enabled: !off,
                    rechargeAmount: try amount.map { text throws(CLIError) in try MoneyText.parse(text, currency: currency) }
                        ?? current?.rechargeAmount ?? BillingV1.Money(currency: currency),
                    threshold: try threshold.map { text throws(CLIError) in try MoneyText.parse(text, currency: currency, option: "--threshold") }
                        ?? current?.threshold ?? BillingV1.Money(currency: currency))
                let reply = try await billing.configureAutoRecharge(request)
                global.emit(reply, key: key) { printWallet(reply.wallet, times: global.times) }
            }
        }
    }

    struct Usage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a usage debit (what internal services do for each SMS, call, token…).",
            discussion: """
                The usage id makes it idempotent: the same id debits once. A new one is made unless given, \
                and printed.

                Example:
                  billing wallet usage $ACCOUNT --category sms --amount 0.05 \\
                    --description "1 SMS"
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Option(help: "Lowercase letters, digits and dashes: sms, voice, email, ai-tokens, storage.") var category: String
        @Option(help: "How much, for example 0.05.") var amount: String
        @Option(help: "What it was for.") var description: String = ""
        @Option(help: "The caller's id of this usage: reuse it to retry (default: a new one).") var usageId: String?

        func run() async throws {
            let usageID = usageId ?? "usage-" + UUID().uuidString.lowercased()
            if !global.json { Terminal.note(Terminal.dim("usage id: \(usageID)")) }
            try await global.run(key: usageID, keyField: "usage_id") { billing in
                let money = try MoneyText.parse(amount, currency: try await accountCurrency(billing, account))
                let reply = try await billing.recordUsage(.init(
                    accountID: account, usageID: usageID, category: category, amount: money, description: description))
                global.emit(reply) {
                    let line = reply.transaction
                    print("Debited \(MoneyText.format(line?.amount)) (\(line?.category ?? "")); balance \(Terminal.bold(MoneyText.format(line?.balanceAfter)))"
                        + (reply.replayed ? Terminal.dim(" (recorded before: not debited again)") : ""))
                }
            }
        }
    }

    struct Transactions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The wallet's ledger, newest first: credits positive, debits negative.",
            discussion: """
                Example:
                  billing wallet transactions $ACCOUNT --category sms
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Option(help: "Only this category (repeat the option).") var category: [String] = []

        func run() async throws {
            try await global.run { billing in
                let reply = try await billing.listWalletTransactions(.init(
                    accountID: account, pageSize: page.pageSize, pageToken: page.pageToken ?? "", categories: category))
                global.emit(reply) {
                    var table = Table("ID", "CREATED", "SOURCE", "CATEGORY", "AMOUNT", "BALANCE", "DESCRIPTION", rightAligned: [4, 5])
                    for line in reply.transactions {
                        let amount = MoneyText.format(line.amount)
                        table.add(
                            line.id, global.times.format(line.createdAtUnixMs), label(line.source), line.category,
                            (line.amount?.amountMinor ?? 0) < 0 ? amount : Terminal.green(amount), MoneyText.format(line.balanceAfter),
                            line.description)
                    }
                    table.print()
                    page.noteNext(reply.nextPageToken)
                }
            }
        }
    }

    struct Summary: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each month's spending by category, as a bar chart (months are UTC).",
            discussion: """
                Example:
                  billing wallet summary $ACCOUNT --months 3
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Option(help: "How many months, this one included (1 to 12).") var months: Int = 6

        func validate() throws {
            guard (1...12).contains(months) else { throw ValidationError("--months must be 1 to 12") }
        }

        func run() async throws {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let thisMonth = calendar.date(from: calendar.dateComponents([.year, .month], from: Date()))!
            let from = calendar.date(byAdding: .month, value: -(months - 1), to: thisMonth)!
            let before = calendar.date(byAdding: .month, value: 1, to: thisMonth)!
            try await global.run { billing in
                let reply = try await billing.summarizeWalletTransactions(.init(
                    accountID: account, fromUnixMs: Int64(from.timeIntervalSince1970 * 1000), beforeUnixMs: Int64(before.timeIntervalSince1970 * 1000)))
                global.emit(reply) { printSummaryChart(reply.months, width: Terminal.width) }
            }
        }
    }

    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Follow the wallet live: a snapshot, then each debit, credit, recharge and suspension, until Ctrl-C.",
            discussion: """
                With --json, one JSON object per line (JSON Lines).

                Example:
                  billing wallet watch $ACCOUNT
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Option(help: "Stop after this many events, the snapshot included (default: follow until Ctrl-C).") var count: Int?

        func run() async throws {
            try await global.run { billing in
                var seen = 0
                var lastSnapshot: BillingV1.Wallet?
                // A call lasts at most the server's longest deadline (10 minutes by default): watch again when
                // one ends, showing the new snapshot only when the wallet changed in between.
                while !Task.isCancelled {
                    let stream = billing.watchWallet(.init(accountID: account), options: CallOptions(timeout: .seconds(540), isIdempotent: true))
                    do {
                        for try await event in stream {
                            if event.kind == .snapshot {
                                defer { lastSnapshot = event.wallet }
                                if lastSnapshot != nil && lastSnapshot == event.wallet { continue }
                            }
                            printEvent(event)
                            seen += 1
                            if let count, seen >= count { return }
                        }
                    } catch let error as RPCError where error.code == .deadlineExceeded || error.reason == "shutting_down" {
                        continue
                    }
                }
            }
        }

        func printEvent(_ event: BillingV1.WalletEvent) {
            if global.json {
                emitLine(JSON.render(JSON.message(event), compact: true))
                return
            }
            let now = global.times.format(Int64(Date().timeIntervalSince1970 * 1000))
            let kind = label(event.kind)
            var text: String
            switch event.kind {
            case .snapshot:
                let wallet = event.wallet
                text = "balance \(MoneyText.format(wallet?.balance))  services \(statusText(label(wallet?.serviceStatus ?? .unspecified)))"
            case .balanceChanged:
                let line = event.transaction
                text = "\(MoneyText.format(line?.amount)) \(line?.category ?? "")  balance \(MoneyText.format(line?.balanceAfter))"
                    + (line?.description.isEmpty == false ? "  \(line!.description)" : "")
            case .rechargeStarted, .rechargeSucceeded:
                text = "\(MoneyText.format(event.amount))  charge \(event.chargeID)"
            case .rechargeFailed:
                text = Terminal.red("\(MoneyText.format(event.amount))  \(event.reason)")
                    + (event.retryAfterUnixMs != 0 ? "  retry after \(global.times.format(event.retryAfterUnixMs))" : "")
            case .suspended:
                text = Terminal.red(event.reason)
            default:
                text = event.reason
            }
            emitLine("\(Terminal.dim(now))  \(Terminal.bold(kind.padding(toLength: 17, withPad: " ", startingAt: 0)))  \(text)")
        }
    }
}

/// One line on stdout at once, unbuffered, so that a pipe sees each event as it happens.
func emitLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func printWallet(_ wallet: BillingV1.Wallet?, times: TimeText) {
    guard let wallet else { return }
    var fields = Fields()
    fields.add("Balance", Terminal.bold(MoneyText.format(wallet.balance)))
    fields.add("Services", statusText(label(wallet.serviceStatus)) + (wallet.suspensionReason.isEmpty ? "" : ": \(wallet.suspensionReason)"))
    fields.add("Auto-recharge", autoRechargeText(wallet.autoRecharge))
    if let pending = wallet.pendingRecharge, pending.amountMinor != 0 { fields.add("Recharging", MoneyText.format(pending)) }
    if wallet.consecutiveRechargeFailures > 0 {
        fields.add("Recharge failures", "\(wallet.consecutiveRechargeFailures)"
            + (wallet.rechargeRetryAfterUnixMs != 0 ? ", next try after \(times.format(wallet.rechargeRetryAfterUnixMs))" : ""))
    }
    if wallet.lastRechargeAtUnixMs != 0 { fields.add("Last recharge", "\(times.format(wallet.lastRechargeAtUnixMs))  \(wallet.lastRechargeChargeID)") }
    fields.add("This month", "+\(MoneyText.format(wallet.creditsThisMonth)) / -\(MoneyText.format(wallet.debitsThisMonth))")
    fields.print()
}

func autoRechargeText(_ autoRecharge: BillingV1.AutoRecharge?) -> String {
    guard let autoRecharge, autoRecharge.enabled else { return "off" }
    return "on: \(MoneyText.format(autoRecharge.rechargeAmount)) when the balance is at or below \(MoneyText.format(autoRecharge.threshold))"
}

/// "$12.50, auto-recharge $20.00 at $5.00, active" for the overview.
func walletLine(_ wallet: BillingV1.Wallet) -> String {
    "\(Terminal.bold(MoneyText.format(wallet.balance)))  auto-recharge \(autoRechargeText(wallet.autoRecharge))  services \(statusText(label(wallet.serviceStatus)))"
        + (wallet.suspensionReason.isEmpty ? "" : ": \(wallet.suspensionReason)")
}

/// Each month (newest first): its credits and debits, then one bar per category of spending, scaled so
/// the largest bar fills the width left by the labels. Eighth blocks make short bars visible.
func printSummaryChart(_ summaries: [BillingV1.WalletMonthSummary], width: Int) {
    guard !summaries.isEmpty else {
        print(Terminal.dim("(no transactions in these months)"))
        return
    }
    var months: [String] = []
    for summary in summaries where !months.contains(summary.month) { months.append(summary.month) }
    let spending = summaries.filter { ($0.debits?.amountMinor ?? 0) > 0 }
    let largest = spending.map { $0.debits?.amountMinor ?? 0 }.max() ?? 0
    let labelWidth = max(8, spending.map(\.category.count).max() ?? 0)
    let amountWidth = spending.map { MoneyText.format($0.debits).count }.max() ?? 0
    let barWidth = max(10, width - labelWidth - amountWidth - 6)
    for (index, month) in months.enumerated() {
        let lines = summaries.filter { $0.month == month }
        let currency = lines.first?.debits?.currency ?? lines.first?.credits?.currency ?? ""
        let spent = lines.reduce(Int64(0)) { $0 + ($1.debits?.amountMinor ?? 0) }
        let added = lines.reduce(Int64(0)) { $0 + ($1.credits?.amountMinor ?? 0) }
        if index > 0 { print() }
        print("\(Terminal.bold(month))  spent \(MoneyText.format(minor: spent, currency: currency))  added \(MoneyText.format(minor: added, currency: currency))")
        for line in lines where (line.debits?.amountMinor ?? 0) > 0 {
            let debit = line.debits?.amountMinor ?? 0
            let bar = blocks(debit, of: largest, width: barWidth)
            let padding = String(repeating: " ", count: barWidth - bar.count)
            let amount = MoneyText.format(line.debits)
            print("  " + line.category.padding(toLength: labelWidth, withPad: " ", startingAt: 0) + "  "
                + Terminal.cyan(bar) + padding + "  " + String(repeating: " ", count: amountWidth - amount.count) + amount)
        }
    }
}

/// A bar `value / largest` of `width` cells, in eighths of a cell (integers only); at least one eighth.
func blocks(_ value: Int64, of largest: Int64, width: Int) -> String {
    guard largest > 0, value > 0 else { return "" }
    let eighths = max(1, Int((value * Int64(width) * 8 + largest / 2) / largest))
    let partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
    return String(repeating: "█", count: eighths / 8) + partial[eighths % 8]
}
