import ArgumentParser
import BillingClient

// The page at a glance (GetBillingOverview) and why payments fail (DiagnosePayments).

struct Overview: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The billing page at a glance: account, card, address, wallet, subscriptions, charges, invoices, findings.",
        discussion: """
            Example:
              billing overview $ACCOUNT
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The account (acct_…).") var account: String

    func run() async throws {
        try await global.run { billing in
            let overview = try await billing.getBillingOverview(.init(accountID: account))
            global.emit(overview) { printOverview(overview) }
        }
    }

    func printOverview(_ overview: BillingV1.BillingOverview) {
        let times = global.times
        var fields = Fields()
        if let account = overview.account {
            fields.add("Account", "\(account.id)  \(account.displayName) (\(account.currency))  \(statusText(label(account.serviceStatus)))"
                + (account.suspensionReason.isEmpty ? "" : ": \(account.suspensionReason)")
                + (account.testClockID.isEmpty ? "" : "  test clock \(account.testClockID)"))
        }
        if let card = overview.primaryPaymentMethod {
            fields.add("Card", cardText(card))
        } else {
            fields.add("Card", Terminal.yellow("no primary card"))
        }
        if let info = overview.billingInformation {
            fields.add("Billed to", infoLine(info))
        }
        if let wallet = overview.wallet {
            fields.add("Wallet", walletLine(wallet))
        }
        fields.print()

        print("\n" + Terminal.bold("Subscriptions"))
        var subscriptions = Table("ID", "PLAN", "STATUS", "NEXT RENEWAL", "AMOUNT", rightAligned: [4])
        for subscription in overview.subscriptions {
            subscriptions.add(
                subscription.id, subscription.plan?.id ?? "", statusText(label(subscription.status)),
                times.date(subscription.nextRenewalUnixMs), MoneyText.format(subscription.nextRenewalAmount))
        }
        subscriptions.print()

        print("\n" + Terminal.bold("Latest charges"))
        chargeTable(overview.latestCharges, times: times).print()

        print("\n" + Terminal.bold("Open invoices"))
        invoiceTable(overview.openInvoices, times: times).print()

        print("\n" + Terminal.bold("Findings"))
        printFindings(overview.findings, times: times)
    }
}

struct Diagnose: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Why payments fail, or soon will: each finding with its severity, what it means and the fix.",
        discussion: """
            An account with nothing wrong has no findings (and --json prints "findings": []).

            Example:
              billing diagnose $ACCOUNT
            """)

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The account (acct_…).") var account: String

    func run() async throws {
        try await global.run { billing in
            let diagnosis = try await billing.diagnosePayments(.init(accountID: account))
            global.emit(diagnosis) { printFindings(diagnosis.findings, times: global.times) }
        }
    }
}

/// Findings as blocks: the severity and code, the sentence, then the fix and the details.
func printFindings(_ findings: [BillingV1.Finding], times: TimeText) {
    guard !findings.isEmpty else {
        print(Terminal.green("No findings: nothing stands in the way of payments."))
        return
    }
    for (index, finding) in findings.enumerated() {
        if index > 0 { print() }
        let severity = label(finding.severity).uppercased()
        let painted = severity == "ERROR" ? Terminal.red(severity) : severity == "WARNING" ? Terminal.yellow(severity) : Terminal.cyan(severity)
        print("\(painted)  \(Terminal.bold(finding.code))")
        print("  \(finding.message)")
        if !finding.fix.isEmpty { print("  fix: \(finding.fix)") }
        var details: [String] = []
        if !finding.declineCode.isEmpty {
            details.append("decline code \(finding.declineCode)" + (finding.retryCanHelp ? " (retrying may help)" : " (retrying will not help)"))
        }
        if !finding.missingFields.isEmpty { details.append("missing \(finding.missingFields.joined(separator: ", "))") }
        for (name, id) in [("card", finding.paymentMethodID), ("subscription", finding.subscriptionID), ("invoice", finding.invoiceID), ("charge", finding.chargeID)] where !id.isEmpty {
            details.append("\(name) \(id)")
        }
        if finding.atUnixMs != 0 { details.append("at \(times.format(finding.atUnixMs))") }
        if finding.attemptsLeft != 0 { details.append("\(finding.attemptsLeft) attempts left") }
        if !details.isEmpty { print("  " + Terminal.dim(details.joined(separator: "; "))) }
    }
}
