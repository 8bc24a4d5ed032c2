import ArgumentParser
import BillingClient

// Subscriptions and the plans on offer.

struct Plans: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The plans on offer, from the catalog billingd loaded.",
        discussion: """
            Example:
              billing plans --currency USD
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Only plans in this currency.") var currency: String?
    @Flag(help: "Include retired plans (they keep their subscribers, take no new ones).") var includeRetired = false

    func run() async throws {
        try await global.run { billing in
            let reply = try await billing.listPlans(.init(includeRetired: includeRetired, currency: currency?.uppercased() ?? ""))
            global.emit(reply) {
                var table = Table("ID", "NAME", "KIND", "PRICE", "PER", "SEATS", "TRIAL", rightAligned: [3])
                for plan in reply.plans {
                    table.add(
                        plan.id + (plan.retired ? Terminal.dim(" (retired)") : ""), plan.name, label(plan.kind),
                        MoneyText.format(plan.unitAmount), intervalText(plan),
                        plan.minQuantity == plan.maxQuantity ? "\(plan.minQuantity)" : "\(plan.minQuantity)-\(plan.maxQuantity)",
                        plan.trialDays == 0 ? "" : "\(plan.trialDays) days")
                }
                table.print()
            }
        }
    }
}

func intervalText(_ plan: BillingV1.Plan) -> String {
    let unit = label(plan.intervalUnit)
    return plan.intervalCount <= 1 ? unit : "\(plan.intervalCount) \(unit)s"
}

struct Subscriptions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Subscribe to plans, change, cancel and resume subscriptions.",
        discussion: """
            Example:
              billing plans
              billing subscriptions subscribe $ACCOUNT starter-monthly-usd-v1
              billing subscriptions list $ACCOUNT
            """,
        subcommands: [List.self, Show.self, Subscribe.self, Preview.self, Change.self, Cancel.self, Resume.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The account's subscriptions: live ones first, then ended ones.",
            discussion: """
                Example:
                  billing subscriptions list $ACCOUNT
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var page: PageOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Option(help: "Only these statuses: incomplete, incomplete_expired, trialing, active, past_due, unpaid, canceled (repeat the option).")
        var status: [String] = []

        func run() async throws {
            try await global.run { billing in
                let statuses = try status.map { name throws(CLIError) in try enumValue(BillingV1.SubscriptionStatus.self, name, option: "--status") }
                let reply = try await billing.listSubscriptions(.init(
                    accountID: account, pageSize: page.pageSize, pageToken: page.pageToken ?? "", statuses: statuses))
                global.emit(reply) {
                    var table = Table("ID", "PLAN", "QTY", "STATUS", "PERIOD END", "NEXT RENEWAL", "AMOUNT", rightAligned: [2, 6])
                    for subscription in reply.subscriptions {
                        table.add(
                            subscription.id, subscription.plan?.id ?? "", "\(subscription.quantity)",
                            statusText(label(subscription.status)) + (subscription.cancelAtPeriodEnd ? Terminal.yellow(" (cancels)") : ""),
                            global.times.date(subscription.currentPeriodEndUnixMs), global.times.date(subscription.nextRenewalUnixMs),
                            MoneyText.format(subscription.nextRenewalAmount))
                    }
                    table.print()
                    page.noteNext(reply.nextPageToken)
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One subscription: plan, status, period, renewal, dunning, fulfilment.",
            discussion: """
                Example:
                  billing subscriptions show $ACCOUNT $SUB
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Argument(help: "The subscription (sub_…).") var subscription: String

        func run() async throws {
            try await global.run { billing in
                let reply = try await billing.getSubscription(.init(accountID: account, subscriptionID: subscription))
                global.emit(reply) { printSubscriptionResponse(reply, times: global.times) }
            }
        }
    }

    struct Subscribe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Subscribe to a plan: the first period is invoiced and charged now (or when the trial ends).",
            discussion: """
                A declined first charge is not an error: the subscription is incomplete until its invoice is \
                paid (billing invoices pay) or a new primary card is added.

                Example:
                  billing subscriptions subscribe $ACCOUNT starter-monthly-usd-v1
                  billing subscriptions subscribe $ACCOUNT team-monthly-usd-v1 --quantity 5 \\
                    --trial-days 0
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Argument(help: "The plan (billing plans lists them).") var plan: String
        @Option(help: "Seats (default: the plan's minimum).") var quantity: UInt32 = 0
        @Option(help: "Days of trial (default: the plan's; 0 for none).") var trialDays: UInt32?

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let reply = try await billing.createSubscription(.init(
                    idempotencyKey: key, accountID: account, planID: plan, quantity: quantity, trialDays: trialDays))
                global.emit(reply, key: key) { printSubscriptionResponse(reply, times: global.times) }
            }
        }
    }

    struct Preview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What changing the plan or quantity would invoice now, without changing anything.",
            discussion: """
                Example:
                  billing subscriptions preview $ACCOUNT $SUB --plan pro-monthly-usd-v1
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Argument(help: "The subscription (sub_…).") var subscription: String
        @Option(help: "The plan to move to (the current one to change only the quantity).") var plan: String
        @Option(help: "Seats (default: the current quantity).") var quantity: UInt32 = 0

        func run() async throws {
            try await global.run { billing in
                let reply = try await billing.previewSubscriptionChange(.init(
                    accountID: account, subscriptionID: subscription, planID: plan, quantity: quantity))
                global.emit(reply) {
                    var fields = Fields()
                    fields.add("Timing", label(reply.timing))
                    fields.add("Effective", global.times.format(reply.effectiveAtUnixMs))
                    fields.add("Charged now", MoneyText.format(reply.total))
                    fields.add("Each period after", MoneyText.format(reply.nextRenewalAmount))
                    fields.print()
                    if !reply.lines.isEmpty {
                        print()
                        lineTable(reply.lines).print()
                    }
                }
            }
        }
    }

    struct Change: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change the plan or quantity: an upgrade applies now and invoices the prorated difference; a downgrade waits for the period end.",
            discussion: """
                Example:
                  billing subscriptions change $ACCOUNT $SUB --plan pro-monthly-usd-v1
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Argument(help: "The subscription (sub_…).") var subscription: String
        @Option(help: "The plan to move to (the current one to change only the quantity).") var plan: String
        @Option(help: "Seats (default: the current quantity).") var quantity: UInt32 = 0

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let reply = try await billing.updateSubscription(.init(
                    idempotencyKey: key, accountID: account, subscriptionID: subscription, planID: plan, quantity: quantity))
                global.emit(reply, key: key) { printSubscriptionResponse(reply, times: global.times) }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel at the end of the period (undo with resume), or --now.",
            discussion: """
                Example:
                  billing subscriptions cancel $ACCOUNT $SUB
                  billing subscriptions cancel $ACCOUNT $SUB --now --credit-unused-time
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Argument(help: "The subscription (sub_…).") var subscription: String
        @Flag(help: "End it now instead of at the end of the period.") var now = false
        @Flag(help: "With --now: credit the unused part of the period to the wallet.") var creditUnusedTime = false

        func validate() throws {
            if creditUnusedTime && !now { throw ValidationError("--credit-unused-time needs --now") }
        }

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let reply = try await billing.cancelSubscription(.init(
                    idempotencyKey: key, accountID: account, subscriptionID: subscription, atPeriodEnd: !now,
                    creditUnusedTime: creditUnusedTime))
                global.emit(reply, key: key) { printSubscriptionResponse(reply, times: global.times) }
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Undo a cancellation at period end, until the period ends.",
            discussion: """
                Example:
                  billing subscriptions resume $ACCOUNT $SUB
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Argument(help: "The account (acct_…).") var account: String
        @Argument(help: "The subscription (sub_…).") var subscription: String

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let reply = try await billing.resumeSubscription(.init(idempotencyKey: key, accountID: account, subscriptionID: subscription))
                global.emit(reply, key: key) { printSubscriptionResponse(reply, times: global.times) }
            }
        }
    }
}

func printSubscriptionResponse(_ reply: BillingV1.SubscriptionResponse, times: TimeText) {
    if let subscription = reply.subscription {
        var fields = Fields()
        fields.add("ID", subscription.id)
        fields.add("Plan", (subscription.plan.map { "\($0.id) (\($0.name), \(MoneyText.format($0.unitAmount)) per \(intervalText($0)))" } ?? "")
            + (subscription.quantity > 1 ? " × \(subscription.quantity)" : ""))
        fields.add("Status", statusText(label(subscription.status)) + (subscription.cancelAtPeriodEnd ? Terminal.yellow(", cancels at period end") : ""))
        fields.add("Period", "\(times.format(subscription.currentPeriodStartUnixMs)) – \(times.format(subscription.currentPeriodEndUnixMs))")
        if subscription.trialEndUnixMs != 0 { fields.add("Trial ends", times.format(subscription.trialEndUnixMs)) }
        if subscription.nextRenewalUnixMs != 0 {
            fields.add("Next renewal", "\(times.format(subscription.nextRenewalUnixMs))  \(MoneyText.format(subscription.nextRenewalAmount))")
        }
        if let pending = subscription.pendingChange {
            fields.add("Pending change", "\(pending.planID) × \(pending.quantity) at \(times.format(pending.effectiveAtUnixMs))")
        }
        if subscription.nextPaymentAttemptUnixMs != 0 {
            fields.add("Next attempt", "\(times.format(subscription.nextPaymentAttemptUnixMs)) (\(subscription.paymentAttempts) made)")
        }
        if subscription.awaitingNewCard { fields.add("Waiting for", Terminal.yellow("a new primary card")) }
        if subscription.incompleteExpiresAtUnixMs != 0 { fields.add("Expires", times.format(subscription.incompleteExpiresAtUnixMs)) }
        if subscription.fulfilmentState != .notApplicable && subscription.fulfilmentState != .unspecified {
            fields.add("Fulfilment", statusText(label(subscription.fulfilmentState)) + (subscription.fulfilmentInProgress ? " (in progress)" : ""))
        }
        if subscription.endedAtUnixMs != 0 { fields.add("Ended", times.format(subscription.endedAtUnixMs)) }
        if !subscription.latestInvoiceID.isEmpty { fields.add("Latest invoice", subscription.latestInvoiceID) }
        fields.print()
    }
    if let invoice = reply.latestInvoice {
        print("\n" + Terminal.bold("Invoice"))
        printInvoice(invoice, times: times)
    }
    if let charge = reply.latestCharge {
        print("\n" + Terminal.bold("Charge"))
        chargeTable([charge], times: times).print()
    }
    if let credit = reply.credit {
        print("\n" + Terminal.bold("Wallet credit") + "  \(MoneyText.format(credit.amount))")
    }
}

/// `--page-size` and `--page-token` of the list commands.
struct PageOptions: ParsableArguments {
    @Option(help: "Items per page, 1 to 100.") var pageSize: UInt32 = 20
    @Option(help: "The next page: the token a previous page printed.") var pageToken: String?

    func noteNext(_ token: String) {
        if !token.isEmpty { Terminal.note(Terminal.dim("more: --page-token \(token)")) }
    }
}
