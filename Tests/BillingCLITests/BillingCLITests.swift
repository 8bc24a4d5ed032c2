import Foundation
import Testing

/// The billing guide's journeys, run with the built `billing` against a real `billingd` (both built beside
/// this test bundle), checking what a person reads (the table form) and what a script reads (--json).
@Suite(.serialized) struct BillingCLITests {
    @Test func settingsJourneyAddressCardFundsAutoRechargeUsageSummaryAndInvoice() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let cli = daemon.cli

        // An account, its address.
        let created = try cli.json("accounts", "create", "--name", "Acme", "--currency", "USD")
        let account = try #require((created["account"] as? [String: Any])?["id"] as? String)
        #expect((created["idempotency_key"] as? String)?.isEmpty == false)
        #expect((created["account"] as? [String: Any])?["service_status"] as? String == "SERVICE_STATUS_ACTIVE")

        let info = cli.run("info", "update", account, "--name", "Ada Lovelace", "--country", "US", "--line", "1 Main Street",
                           "--city", "Springfield", "--region", "IL", "--postal-code", "62701")
        #expect(info.status == 0, "\(info.stderr)")
        #expect(info.stdout.contains("Ada Lovelace") && info.stdout.contains("62701") && info.stdout.contains("yes"))
        #expect(info.stderr.contains("idempotency key: "))
        let shownInfo = try cli.json("info", "show", account)
        #expect((shownInfo["billing_information"] as? [String: Any])?["complete"] as? Bool == true)

        // A card, then a second one made primary; the number and the CVC are never printed.
        let first = cli.run("cards", "add", account, "--number", "4242 4242 4242 4242", "--exp", "12/2030", "--cvc", "123", "--name", "Ada Lovelace")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("•••• 4242") && !first.stdout.contains("4242424242424242") && !first.stdout.contains("123\n"))
        let second = try cli.json("cards", "add", account, "--number", "5555-5555-5555-4444", "--exp", "01/2031", "--cvc", "987", "--name", "Ada Lovelace")
        let secondCard = try #require(second["payment_method"] as? [String: Any])
        #expect(secondCard["last4"] as? String == "4444" && secondCard["primary"] as? Bool == false)
        #expect(secondCard["number"] == nil && !String(describing: second).contains("5555555555554444"))
        let secondID = try #require(secondCard["id"] as? String)
        let primary = cli.run("cards", "set-primary", account, secondID)
        #expect(primary.status == 0 && primary.stdout.contains("•••• 4444") && primary.stdout.contains("yes"))
        let cards = cli.run("cards", "list", account)
        #expect(cards.stdout.split(separator: "\n").dropFirst().first?.contains("4444") == true)  // primary first
        #expect(cards.stdout.contains("primary") && cards.stdout.contains("12/2030"))
        let cardsJSON = try cli.json("cards", "list", account)
        #expect(cardsJSON["primary_payment_method_id"] as? String == secondID)

        // Add funds: 12.50 is 1250 cents, exactly; the same key again does it once.
        let added = try cli.json("wallet", "add", account, "--amount", "12.50")
        let transaction = try #require(added["transaction"] as? [String: Any])
        #expect((transaction["amount"] as? [String: Any])?["amount_minor"] as? Int == 1250)
        #expect(((added["wallet"] as? [String: Any])?["balance"] as? [String: Any])?["amount_minor"] as? Int == 1250)
        let key = try #require(added["idempotency_key"] as? String)
        let retried = try cli.json("wallet", "add", account, "--amount", "12.50", "--idempotency-key", key)
        #expect((retried["transaction"] as? [String: Any])?["id"] as? String == transaction["id"] as? String)
        let addedTable = cli.run("wallet", "add", account, "--amount", "$1.05")
        #expect(addedTable.status == 0 && addedTable.stdout.contains("Added $1.05") && addedTable.stdout.contains("balance $13.55"))
        let tooPrecise = cli.run("wallet", "add", account, "--amount", "1.005")
        #expect(tooPrecise.status == 65 && tooPrecise.stderr.contains("INVALID_ARGUMENT"))
        #expect(cli.run("wallet", "add", account, "--amount", "€1.00").status == 65)

        // Auto-recharge on.
        let recharge = try cli.json("wallet", "auto-recharge", account, "--amount", "20", "--threshold", "5")
        let autoRecharge = try #require((recharge["wallet"] as? [String: Any])?["auto_recharge"] as? [String: Any])
        #expect(autoRecharge["enabled"] as? Bool == true)
        #expect((autoRecharge["recharge_amount"] as? [String: Any])?["amount_minor"] as? Int == 2000)
        #expect((autoRecharge["threshold"] as? [String: Any])?["amount_minor"] as? Int == 500)
        let off = try cli.json("wallet", "auto-recharge", account, "--off")
        let kept = try #require((off["wallet"] as? [String: Any])?["auto_recharge"] as? [String: Any])
        #expect(kept["enabled"] as? Bool == false && (kept["recharge_amount"] as? [String: Any])?["amount_minor"] as? Int == 2000)
        #expect(cli.run("wallet", "auto-recharge", account, "--on").status == 0)  // the diagnosis's fix
        let wallet = cli.run("wallet", "show", account)
        #expect(wallet.stdout.contains("$13.55") && wallet.stdout.contains("on: $20.00 when the balance is at or below $5.00"))

        // Usage, then the month's summary as a chart and as JSON.
        let usage = try cli.json("wallet", "usage", account, "--category", "sms", "--amount", "0.05", "--description", "1 SMS")
        #expect(((usage["transaction"] as? [String: Any])?["amount"] as? [String: Any])?["amount_minor"] as? Int == -5)
        let voice = cli.run("wallet", "usage", account, "--category", "voice", "--amount", "1.20")
        #expect(voice.status == 0 && voice.stdout.contains("Debited -$1.20 (voice); balance $12.30"), "\(voice.stdout)")
        let transactions = cli.run("wallet", "transactions", account)
        #expect(transactions.stdout.contains("-$0.05") && transactions.stdout.contains("top_up"))
        let summary = cli.run("wallet", "summary", account)
        #expect(summary.status == 0)
        #expect(summary.stdout.contains("spent $1.25") && summary.stdout.contains("sms") && summary.stdout.contains("voice"))
        let voiceBar = try #require(summary.stdout.split(separator: "\n").first { $0.contains("voice") })
        let smsBar = try #require(summary.stdout.split(separator: "\n").first { $0.contains("sms") })
        #expect(voiceBar.contains("████") && voiceBar.hasSuffix("$1.20") && voiceBar.count <= 80)
        #expect(smsBar.filter { $0 == "█" }.count < voiceBar.filter { $0 == "█" }.count)
        let summaryJSON = try cli.json("wallet", "summary", account)
        let months = try #require(summaryJSON["months"] as? [[String: Any]])
        let sms = try #require(months.first { $0["category"] as? String == "sms" })
        #expect((sms["debits"] as? [String: Any])?["amount_minor"] as? Int == 5 && sms["transaction_count"] as? Int == 1)

        // The top-up's invoice: listed, shown, downloaded as a PDF.
        let invoices = try cli.json("invoices", "list", account)
        let invoice = try #require((invoices["invoices"] as? [[String: Any]])?.first)
        let invoiceID = try #require(invoice["id"] as? String)
        #expect(invoice["status"] as? String == "INVOICE_STATUS_PAID" && invoice["billing_reason"] as? String == "wallet_funds")
        #expect(cli.run("invoices", "list", account).stdout.contains("paid"))
        let shown = cli.run("invoices", "show", account, invoiceID)
        #expect(shown.stdout.contains("Total") && shown.stdout.contains("$1.05"))
        let pdfPath = daemon.directory + "/invoice.pdf"
        let download = cli.run("invoices", "download", account, invoiceID, "--output", pdfPath)
        #expect(download.status == 0 && download.stdout.contains("Wrote \(pdfPath)"))
        let pdf = try Data(contentsOf: URL(fileURLWithPath: pdfPath))
        #expect(pdf.starts(with: Array("%PDF".utf8)))
        let charges = try cli.json("charges", "list", account)
        #expect((charges["charges"] as? [[String: Any]])?.count == 2)

        // The page at a glance.
        let overview = cli.run("overview", account)
        #expect(overview.stdout.contains("Acme") && overview.stdout.contains("•••• 4444") && overview.stdout.contains("$12.30"))
        let overviewJSON = try cli.json("overview", account)
        #expect((overviewJSON["primary_payment_method"] as? [String: Any])?["id"] as? String == secondID)
        #expect((overviewJSON["latest_charges"] as? [Any])?.count == 2)
    }

    @Test func subscribeAndUpgradeOnATestClock() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let cli = daemon.cli

        let clock = try cli.json("clock", "create", "--name", "upgrade", "--at", "2027-01-01T00:00:00Z")
        let clockID = try #require((clock["test_clock"] as? [String: Any])?["id"] as? String)
        let account = try #require((try cli.json("accounts", "create", "--name", "Clocked", "--currency", "USD", "--test-clock", clockID)["account"] as? [String: Any])?["id"] as? String)
        #expect(cli.run("info", "update", account, "--name", "Ada Lovelace", "--country", "US", "--line", "1 Main Street",
                        "--city", "Springfield", "--region", "IL", "--postal-code", "62701").status == 0)
        #expect(cli.run("cards", "add", account, "--number", "4242424242424242", "--exp", "12/2030", "--cvc", "123", "--name", "Ada Lovelace").status == 0)

        let plans = cli.run("plans", "--currency", "USD")
        #expect(plans.stdout.contains("starter-monthly-usd-v1") && plans.stdout.contains("$10.00"))

        let subscribed = try cli.json("subscriptions", "subscribe", account, "starter-monthly-usd-v1")
        let subscription = try #require(subscribed["subscription"] as? [String: Any])
        let subscriptionID = try #require(subscription["id"] as? String)
        #expect(subscription["status"] as? String == "SUBSCRIPTION_STATUS_ACTIVE")
        #expect((subscribed["latest_charge"] as? [String: Any])?["status"] as? String == "CHARGE_STATUS_SUCCEEDED")

        let advanced = cli.run("clock", "advance", clockID, "--to", "2027-01-16T00:00:00Z", "--utc")
        #expect(advanced.status == 0 && advanced.stdout.contains("2027-01-16 00:00 UTC"), "\(advanced.stderr)")

        let preview = try cli.json("subscriptions", "preview", account, subscriptionID, "--plan", "pro-monthly-usd-v1")
        #expect(preview["timing"] as? String == "CHANGE_TIMING_IMMEDIATE")
        let amounts = (preview["lines"] as? [[String: Any]])?.compactMap { ($0["amount"] as? [String: Any])?["amount_minor"] as? Int }
        #expect(amounts == [-516, 1032])

        let changed = cli.run("subscriptions", "change", account, subscriptionID, "--plan", "pro-monthly-usd-v1", "--utc")
        #expect(changed.status == 0, "\(changed.stderr)")
        #expect(changed.stdout.contains("-$5.16") && changed.stdout.contains("$10.32") && changed.stdout.contains("$5.16"))
        #expect(changed.stdout.contains("pro-monthly-usd-v1") && changed.stdout.contains("subscription_update"))
        let shown = try cli.json("subscriptions", "show", account, subscriptionID)
        #expect(((shown["subscription"] as? [String: Any])?["plan"] as? [String: Any])?["id"] as? String == "pro-monthly-usd-v1")
        let list = cli.run("subscriptions", "list", account, "--utc")
        #expect(list.stdout.contains("pro-monthly-usd-v1") && list.stdout.contains("active") && list.stdout.contains("2027-02-01"))
        #expect((try cli.json("subscriptions", "list", account, "--status", "active")["subscriptions"] as? [Any])?.count == 1)
        #expect((try cli.json("subscriptions", "list", account, "--status", "canceled")["subscriptions"] as? [Any])?.isEmpty == true)
        #expect(cli.run("subscriptions", "list", account, "--status", "sleeping").status == 65)
    }

    @Test func aDecliningCardIsDiagnosedAndTheFindingGoesOnceFixed() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let cli = daemon.cli

        let account = try #require((try cli.json("accounts", "create", "--name", "Declines", "--currency", "USD")["account"] as? [String: Any])?["id"] as? String)
        #expect(cli.run("info", "update", account, "--name", "Ada Lovelace", "--country", "US", "--line", "1 Main Street",
                        "--city", "Springfield", "--region", "IL", "--postal-code", "62701").status == 0)
        // Attaches, then declines every charge.
        #expect(cli.run("cards", "add", account, "--number", "4000 0000 0000 0341", "--exp", "12/2030", "--cvc", "123", "--name", "Ada Lovelace").status == 0)

        let declined = cli.run("wallet", "add", account, "--amount", "10")
        #expect(declined.status == 67)
        #expect(declined.stderr.contains("FAILED_PRECONDITION") && declined.stderr.contains("card_declined") && declined.stderr.contains("decline code"))
        #expect(!declined.stderr.contains("Stack") && declined.stdout.isEmpty)
        let declinedJSON = cli.run("wallet", "add", account, "--amount", "10", "--json")
        #expect(declinedJSON.status == 67)
        let error = try #require((try JSONSerialization.jsonObject(with: Data(declinedJSON.stdout.utf8)) as? [String: Any])?["error"] as? [String: Any])
        #expect(error["code"] as? String == "FAILED_PRECONDITION" && error["reason"] as? String == "card_declined")
        #expect((error["decline_code"] as? String)?.isEmpty == false && error["exit_code"] as? Int == 67)
        #expect((error["idempotency_key"] as? String)?.isEmpty == false)

        let diagnosis = cli.run("diagnose", account)
        #expect(diagnosis.status == 0 && diagnosis.stdout.contains("last_charge_declined") && diagnosis.stdout.contains("fix:"))
        let findings = try #require(try cli.json("diagnose", account)["findings"] as? [[String: Any]])
        let finding = try #require(findings.first { $0["code"] as? String == "last_charge_declined" })
        #expect(finding["severity"] as? String == "FINDING_SEVERITY_ERROR" && (finding["decline_code"] as? String)?.isEmpty == false)
        #expect(cli.run("overview", account).stdout.contains("last_charge_declined"))

        // The fix: a working card as primary, then funds.
        #expect(cli.run("cards", "add", account, "--number", "4242 4242 4242 4242", "--exp", "12/2030", "--cvc", "123", "--name", "Ada Lovelace", "--primary").status == 0)
        #expect(cli.run("wallet", "add", account, "--amount", "10").status == 0)
        let fixed = try cli.json("diagnose", account)
        #expect((fixed["findings"] as? [Any])?.isEmpty == true, "\(fixed)")
        #expect(cli.run("diagnose", account).stdout.contains("No findings"))
    }

    @Test func errorsHaveExitCodesAndMessages() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let cli = daemon.cli

        let missing = cli.run("accounts", "show", "acct_00000000000000000000")
        #expect(missing.status == 66 && missing.stderr.contains("NOT_FOUND (not_found)"))
        let malformed = cli.run("accounts", "show", "nope")
        #expect(malformed.status == 65 && malformed.stderr.contains("field: account_id"))
        #expect(cli.run("accounts", "create", "--name", "No currency").status == 64)
        let nobody = CLI(billing: cli.billing, socket: daemon.directory + "/nobody.sock").run("accounts", "show", "acct_00000000000000000000")
        #expect(nobody.status == 69 && nobody.stderr.contains("UNAVAILABLE"))
        let usage = CLI(billing: cli.billing, socket: daemon.directory + "/nobody.sock").run("wallet", "usage", "acct_00000000000000000000", "--category", "sms", "--amount", "1", "--json")
        let usageError = try #require((try JSONSerialization.jsonObject(with: Data(usage.stdout.utf8)) as? [String: Any])?["error"] as? [String: Any])
        #expect(usage.status == 69 && (usageError["usage_id"] as? String)?.hasPrefix("usage-") == true)
        let help = cli.run("--help")
        #expect(help.stdout.contains("Exit codes") && help.stdout.contains("67  card declined"))
        let addHelp = cli.run("wallet", "add", "--help")
        #expect(addHelp.stdout.contains("Example:") && addHelp.stdout.contains("--idempotency-key"))
        let completion = cli.run("--generate-completion-script", "bash")
        #expect(completion.status == 0 && completion.stdout.contains("complete"))
        let badTime = cli.run("clock", "create", "--at", "next tuesday")
        #expect(badTime.status == 65 && badTime.stderr.contains("not a time"))
    }

    @Test func everyCommandHasHelpWithAnExample() {
        let cli = CLI(billing: Daemon.binary("billing"), socket: "/nonexistent")
        let commands = [
            "overview", "diagnose", "accounts create", "accounts show", "info show", "info update", "cards list", "cards add",
            "cards remove", "cards set-primary", "subscriptions list", "subscriptions show", "subscriptions subscribe",
            "subscriptions preview", "subscriptions change", "subscriptions cancel", "subscriptions resume", "plans",
            "invoices list", "invoices show", "invoices download", "invoices pay", "charges list", "wallet show", "wallet add",
            "wallet auto-recharge", "wallet usage", "wallet transactions", "wallet summary", "wallet watch", "clock create",
            "clock show", "clock advance",
        ]
        for command in commands {
            let help = cli.run(command.split(separator: " ").map(String.init) + ["--help"])
            #expect(help.status == 0 && help.stdout.contains("Example:\n  billing \(command)"), "billing \(command) --help")
            #expect(help.stdout.contains("--json") && help.stdout.contains("--socket"), "billing \(command) --help")
        }
    }

    @Test func amountsInTheirCurrenciesDecimals() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let cli = daemon.cli

        for (currency, typed, minor, shown) in [("JPY", "1,250", 1250, "¥1,250"), ("CHF", "12.5", 1250, "CHF 12.50"), ("EUR", "€9", 900, "€9.00")] {
            let account = try #require((try cli.json("accounts", "create", "--name", currency, "--currency", currency)["account"] as? [String: Any])?["id"] as? String)
            #expect(cli.run("info", "update", account, "--name", "Ada Lovelace", "--country", "DE", "--line", "Hauptstraße 1",
                            "--city", "Berlin", "--postal-code", "10115").status == 0)
            #expect(cli.run("cards", "add", account, "--number", "4242424242424242", "--exp", "12/2030", "--cvc", "123", "--name", "Ada Lovelace").status == 0)
            let added = cli.run("wallet", "add", account, "--amount", typed)
            #expect(added.status == 0 && added.stdout.contains("Added \(shown)"), "\(currency): \(added.stdout) \(added.stderr)")
            let wallet = try cli.json("wallet", "show", account)
            #expect(((wallet["wallet"] as? [String: Any])?["balance"] as? [String: Any])?["amount_minor"] as? Int == minor)
        }
        let jpy = try #require((try cli.json("accounts", "create", "--name", "Yen", "--currency", "JPY")["account"] as? [String: Any])?["id"] as? String)
        let fraction = cli.run("wallet", "add", jpy, "--amount", "12.5")
        #expect(fraction.status == 65 && fraction.stderr.contains("at most 0 decimals"))
    }

    @Test func watchFollowsTheWalletLive() throws {
        let daemon = try Daemon()
        defer { daemon.stop() }
        let cli = daemon.cli

        let account = try #require((try cli.json("accounts", "create", "--name", "Watched", "--currency", "USD")["account"] as? [String: Any])?["id"] as? String)
        #expect(cli.run("info", "update", account, "--name", "Ada Lovelace", "--country", "US", "--line", "1 Main Street",
                        "--city", "Springfield", "--region", "IL", "--postal-code", "62701").status == 0)
        #expect(cli.run("cards", "add", account, "--number", "4242424242424242", "--exp", "12/2030", "--cvc", "123", "--name", "Ada Lovelace").status == 0)
        // The snapshot, then the top-up's credit.
        let watch = cli.start("wallet", "watch", account, "--count", "2", "--json")
        let table = cli.start("wallet", "watch", account, "--count", "2")
        // Funds only once both watchers have their snapshot, so that the credit comes as an event.
        #expect(watch.waitForLines(1) && table.waitForLines(1))
        #expect(cli.run("wallet", "add", account, "--amount", "3.00").status == 0)
        let lines = watch.finish().stdout.split(separator: "\n")
        #expect(lines.count == 2)
        let events = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(events.map { $0["kind"] as? String } == ["KIND_SNAPSHOT", "KIND_BALANCE_CHANGED"])
        #expect(((events.last?["transaction"] as? [String: Any])?["amount"] as? [String: Any])?["amount_minor"] as? Int == 300)
        let printed = table.finish().stdout
        #expect(printed.contains("snapshot") && printed.contains("balance_changed") && printed.contains("$3.00"))
    }
}

/// What one run of `billing` printed, and its exit status.
struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the built `billing` against one socket.
struct CLI {
    let billing: URL
    let socket: String

    func run(_ arguments: String...) -> Result { run(arguments) }

    func run(_ arguments: [String]) -> Result {
        let process = Process()
        process.executableURL = billing
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["BILLING_SOCKET"] = socket
        environment["COLUMNS"] = "80"
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { return Result(status: -1, stdout: "", stderr: "\(error)") }
        // Both pipes drained at once, so that neither fills while the other is read.
        nonisolated(unsafe) var errorBytes = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errorBytes = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outputBytes = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outputBytes, as: UTF8.self), stderr: String(decoding: errorBytes, as: UTF8.self))
    }

    /// A `billing` left running (a watch); `finish()` waits for it, for at most 10 seconds.
    func start(_ arguments: String...) -> Running {
        let process = Process()
        process.executableURL = billing
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["BILLING_SOCKET"] = socket
        process.environment = environment
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("billing-watch-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.standardOutput = try? FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try? process.run()
        return Running(process: process, output: output)
    }

    /// `billing … --json`, which must succeed and print one JSON object.
    func json(_ arguments: String...) throws -> [String: Any] {
        let result = run(arguments + ["--json"])
        try #require(result.status == 0, "billing \(arguments.joined(separator: " ")) exited \(result.status): \(result.stdout) \(result.stderr)")
        #expect(!result.stderr.contains("idempotency key"), "the key is in the JSON, not on stderr")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }
}

struct Running {
    let process: Process
    let output: URL

    /// Waits, at most 10 seconds, until it printed `count` lines.
    func waitForLines(_ count: Int) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            if text.filter({ $0 == "\n" }).count >= count { return true }
            usleep(20_000)
        }
        return false
    }

    func finish() -> Result {
        let deadline = Date().addingTimeInterval(10)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: output)
        return Result(status: process.terminationStatus, stdout: text, stderr: "")
    }
}

/// A real billingd on a temporary socket and database, with the repository's plan catalog.
final class Daemon {
    let directory: String
    let process = Process()
    let cli: CLI

    /// The test bundle, billing and billingd are built into the same folder (.build/debug).
    static func binary(_ name: String) -> URL {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path), folder.pathComponents.count > 2 {
            folder = folder.deletingLastPathComponent()
        }
        return folder.appendingPathComponent(name)
    }

    init() throws {
        let billingd = Self.binary("billingd")
        let billing = Self.binary("billing")
        try #require(FileManager.default.isExecutableFile(atPath: billingd.path), "billingd is not built beside the tests: swift build --product billingd")
        try #require(FileManager.default.isExecutableFile(atPath: billing.path), "billing is not built beside the tests: swift build --product billing")
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var template = Array("/tmp/billing-cli-test-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        let socket = directory + "/billingd.sock"
        // On the PostgreSQL run of the suite (scripts/test-postgres.sh), a schema of this daemon's own.
        let database = ProcessInfo.processInfo.environment["BILLING_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
            .map { $0 + "&schema=cli_" + String(UInt64.random(in: 0...UInt64.max), radix: 36) } ?? directory + "/billing.sqlite3"
        process.executableURL = billingd
        process.arguments = [
            "--socket", socket, "--database", database, "--metrics-socket", "", "--log-level", "error",
            "--seller-name", "Test Seller", "--seller-address", "1 Test Street", "--seller-tax-id", "TEST",
            "--invoice-number-prefix", "TEST", "--catalog", repository.appendingPathComponent("catalog/plans.json").path,
        ]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        cli = CLI(billing: billing, socket: socket)
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: socket) {
            try #require(Date() < deadline && process.isRunning, "billingd did not start")
            usleep(20_000)
        }
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
