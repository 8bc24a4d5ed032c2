import ArgumentParser
import BillingClient
import Foundation

// Invoices (list, show, download the PDF, pay) and charges.

struct Invoices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show, download and pay invoices.",
        discussion: """
            Example:
              billing invoices list $ACCOUNT
              billing invoices download $ACCOUNT $INVOICE --output invoice.pdf
            """,
        subcommands: [List.self, Show.self, Download.self, Pay.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The account's invoices, newest first.",
            discussion: """
                Example:
                  billing invoices list $ACCOUNT --status open
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Option(help: "Only these statuses: draft, open, paid, void, uncollectible (repeat the option).")
        var status: [String] = []

        func run() async throws {
            try await global.run { billing in
                let statuses = try status.map { name throws(CLIError) in try enumValue(BillingV1.InvoiceStatus.self, name, option: "--status") }
                let reply = try await billing.listInvoices(.init(
                    accountID: account, pageSize: page.pageSize, pageToken: page.pageToken ?? "", statuses: statuses))
                global.emit(reply) {
                    invoiceTable(reply.invoices, times: global.times).print()
                    page.noteNext(reply.nextPageToken)
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One invoice with its lines, by id or number.",
            discussion: """
                Example:
                  billing invoices show $ACCOUNT $INVOICE
                  billing invoices show $ACCOUNT DEV-000042
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Argument(help: "The invoice: its id (inv_…) or its number.") var invoice: String

        func run() async throws {
            try await global.run { billing in
                let isID = invoice.hasPrefix("inv_")
                let reply = try await billing.getInvoice(.init(accountID: account, invoiceID: isID ? invoice : "", number: isID ? "" : invoice))
                global.emit(reply) {
                    if let invoice = reply.invoice { printInvoice(invoice, times: global.times) }
                }
            }
        }
    }

    struct Download: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an invoice's PDF to a file.",
            discussion: """
                Example:
                  billing invoices download $ACCOUNT $INVOICE --output invoice.pdf
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Argument(help: "The invoice (inv_…).") var invoice: String
        @Option(name: [.short, .long], help: ArgumentHelp("Where to write it (default: the invoice's file name, here).", valueName: "file"))
        var output: String?

        func run() async throws {
            try await global.run { billing in
                let reply = try await billing.downloadInvoicePdf(.init(accountID: account, invoiceID: invoice))
                let path = output ?? (reply.fileName.isEmpty ? "\(invoice).pdf" : reply.fileName)
                do {
                    try Data(reply.pdf).write(to: URL(fileURLWithPath: path), options: .atomic)
                } catch {
                    throw CLIError.io("cannot write \(path): \(error.localizedDescription)")
                }
                if global.json {
                    JSON.print(.object([
                        ("file_name", .string(reply.fileName)), ("output", .string(path)), ("size_bytes", .number(String(reply.pdf.count))),
                    ]))
                } else {
                    print("Wrote \(path) (\(reply.pdf.count) bytes)")
                }
            }
        }
    }

    struct Pay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pay an open invoice with the primary card.",
            discussion: """
                Example:
                  billing invoices pay $ACCOUNT $INVOICE
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Argument(help: "The invoice (inv_…).") var invoice: String

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let reply = try await billing.payInvoice(.init(idempotencyKey: key, accountID: account, invoiceID: invoice))
                global.emit(reply, key: key) {
                    if let invoice = reply.invoice { printInvoice(invoice, times: global.times) }
                    if let charge = reply.charge {
                        print("\n" + Terminal.bold("Charge"))
                        chargeTable([charge], times: global.times).print()
                    }
                }
            }
        }
    }
}

struct Charges: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Charges: every attempt to take money, newest first.",
        discussion: """
            Example:
              billing charges list $ACCOUNT
            """,
        subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The account's charges, newest first, with why failed ones failed.",
            discussion: """
                Example:
                  billing charges list $ACCOUNT --status failed
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Option(help: "Only these statuses: pending, succeeded, failed (repeat the option).") var status: [String] = []

        func run() async throws {
            try await global.run { billing in
                let statuses = try status.map { name throws(CLIError) in try enumValue(BillingV1.ChargeStatus.self, name, option: "--status") }
                let reply = try await billing.listCharges(.init(
                    accountID: account, pageSize: page.pageSize, pageToken: page.pageToken ?? "", statuses: statuses))
                global.emit(reply) {
                    chargeTable(reply.charges, times: global.times).print()
                    page.noteNext(reply.nextPageToken)
                }
            }
        }
    }
}

/// `open` → `.open`, by the names people read (`label`).
func enumValue<Value: CaseIterable & CustomStringConvertible>(_ type: Value.Type, _ name: String, option: String) throws(CLIError) -> Value {
    guard let value = Value.allCases.first(where: { label($0) == name.lowercased() && label($0) != "unspecified" }) else {
        let names = Value.allCases.map { label($0) }.filter { $0 != "unspecified" }
        throw CLIError.invalidArgument("\(option) \(name) is not one of \(names.joined(separator: ", "))")
    }
    return value
}

func chargeTable(_ charges: [BillingV1.Charge], times: TimeText) -> Table {
    var table = Table("ID", "CREATED", "AMOUNT", "STATUS", "CARD", "DESCRIPTION", rightAligned: [2])
    for charge in charges {
        let status = statusText(label(charge.status)) + (charge.failureCode.isEmpty ? "" : " (\(charge.failureCode))")
        table.add(
            charge.id, times.format(charge.createdAtUnixMs), MoneyText.format(charge.amount), status,
            charge.cardLast4.isEmpty ? "" : "\(charge.cardBrand) •••• \(charge.cardLast4)", charge.description)
    }
    return table
}

func invoiceTable(_ invoices: [BillingV1.Invoice], times: TimeText) -> Table {
    var table = Table("ID", "NUMBER", "STATUS", "TOTAL", "DUE", "CREATED", "REASON", rightAligned: [3, 4])
    for invoice in invoices {
        table.add(
            invoice.id, invoice.number, statusText(label(invoice.status)), MoneyText.format(invoice.total),
            MoneyText.format(invoice.amountDue), times.date(invoice.createdAtUnixMs), invoice.billingReason)
    }
    return table
}

func lineTable(_ lines: [BillingV1.InvoiceLine]) -> Table {
    var table = Table("DESCRIPTION", "QTY", "UNIT", "AMOUNT", rightAligned: [1, 2, 3])
    for line in lines {
        table.add(line.description, "\(line.quantity)", MoneyText.format(line.unitAmount), MoneyText.format(line.amount))
    }
    return table
}

func printInvoice(_ invoice: BillingV1.Invoice, times: TimeText) {
    var fields = Fields()
    fields.add("ID", invoice.id)
    if !invoice.number.isEmpty { fields.add("Number", invoice.number) }
    fields.add("Status", statusText(label(invoice.status)))
    if !invoice.billingReason.isEmpty { fields.add("Reason", invoice.billingReason) }
    if !invoice.subscriptionID.isEmpty {
        fields.add("Subscription", "\(invoice.subscriptionID)  \(times.date(invoice.periodStartUnixMs)) – \(times.date(invoice.periodEndUnixMs))")
    }
    if let billedTo = invoice.billedTo, !billedTo.fullName.isEmpty { fields.add("Billed to", infoLine(billedTo)) }
    fields.add("Created", times.format(invoice.createdAtUnixMs))
    if invoice.dueAtUnixMs != 0 { fields.add("Due", times.format(invoice.dueAtUnixMs)) }
    if invoice.paidAtUnixMs != 0 { fields.add("Paid", times.format(invoice.paidAtUnixMs)) }
    if !invoice.memo.isEmpty { fields.add("Memo", invoice.memo) }
    fields.print()
    print()
    var lines = lineTable(invoice.lines)
    let blank = ""
    lines.add(blank, blank, "Subtotal", MoneyText.format(invoice.subtotal))
    if let tax = invoice.tax, tax.amountMinor != 0 { lines.add(blank, blank, "Tax", MoneyText.format(tax)) }
    lines.add(blank, blank, Terminal.bold("Total"), Terminal.bold(MoneyText.format(invoice.total)))
    lines.add(blank, blank, "Paid", MoneyText.format(invoice.amountPaid))
    lines.add(blank, blank, "Due", MoneyText.format(invoice.amountDue))
    print(lines.render())
}
