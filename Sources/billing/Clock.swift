import ArgumentParser
import BillingClient

// Test clocks (sandbox gateway only): create one, attach accounts to it at creation
// (billing accounts create --test-clock), and move it forward to see renewals, retries and trials happen.

struct Clock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Test clocks: time for subscriptions that moves only when you say (sandbox only).",
        discussion: """
            Example:
              billing clock create --name renewals --at 2027-01-01T00:00:00Z
              billing accounts create --name Clocked --currency USD --test-clock $CLOCK
              billing clock advance $CLOCK --by 31d
            """,
        subcommands: [Create.self, Show.self, Advance.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a test clock, frozen at --at (default: now).",
            discussion: """
                Times without a zone are local (UTC with --utc).

                Example:
                  billing clock create --name "renewals" --at 2027-01-01T00:00:00Z
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Option(help: "A name to recognise it by.") var name: String = ""
        @Option(help: ArgumentHelp("Where the clock starts.", valueName: "time")) var at: String?

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                let start = try at.map { text throws(CLIError) in try global.times.parse(text, option: "--at") } ?? 0
                let reply = try await billing.createTestClock(.init(idempotencyKey: key, name: name, frozenTimeUnixMs: start))
                global.emit(reply, key: key) { printClock(reply, times: global.times) }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a test clock's time.",
            discussion: """
                Example:
                  billing clock show $CLOCK
                """)

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The clock (clock_…).") var clock: String

        func run() async throws {
            try await global.run { billing in
                let reply = try await billing.getTestClock(.init(testClockID: clock))
                global.emit(reply) { printClock(reply, times: global.times) }
            }
        }
    }

    struct Advance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a test clock forward, running every renewal, retry, trial end and expiry due on the way.",
            discussion: """
                Give the new time (--to) or how far to move (--by 15d, 12h, 30m; d, h, m, s).

                Example:
                  billing clock advance $CLOCK --to 2027-01-16T00:00:00Z
                  billing clock advance $CLOCK --by 31d
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var keyOptions: KeyOptions
        @Argument(help: "The clock (clock_…).") var clock: String
        @Option(help: ArgumentHelp("The new time.", valueName: "time")) var to: String?
        @Option(help: ArgumentHelp("How far to move it, for example 15d.", valueName: "duration")) var by: String?

        func validate() throws {
            guard (to == nil) != (by == nil) else { throw ValidationError("give --to or --by") }
            if let by { _ = try parseDuration(by) }
        }

        func run() async throws {
            let key = keyOptions.key(json: global.json)
            try await global.run(key: key) { billing in
                var time = try to.map { text throws(CLIError) in try global.times.parse(text, option: "--to") } ?? 0
                if let by {
                    let now = try await billing.getTestClock(.init(testClockID: clock)).testClock?.frozenTimeUnixMs ?? 0
                    time = now + (try parseDuration(by))
                }
                let reply = try await billing.advanceTestClock(.init(idempotencyKey: key, testClockID: clock, frozenTimeUnixMs: time))
                global.emit(reply, key: key) { printClock(reply, times: global.times) }
            }
        }
    }
}

/// `15d`, `12h`, `30m`, `45s` → milliseconds.
func parseDuration(_ text: String) throws(ValidationError) -> Int64 {
    let units: [Character: Int64] = ["d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000]
    guard let unit = text.last.flatMap({ units[$0] }), let count = Int64(text.dropLast()), count > 0 else {
        throw ValidationError("--by \(text) is not a duration such as 15d, 12h, 30m or 45s")
    }
    return count * unit
}

func printClock(_ reply: BillingV1.TestClockResponse, times: TimeText) {
    guard let clock = reply.testClock else { return }
    var fields = Fields()
    fields.add("ID", clock.id)
    if !clock.name.isEmpty { fields.add("Name", clock.name) }
    fields.add("Time", Terminal.bold(times.format(clock.frozenTimeUnixMs)))
    if reply.actionsRun > 0 { fields.add("Actions run", "\(reply.actionsRun)") }
    fields.print()
}
