import Foundation

struct Options {
    var subscriptions = 100_000
    /// The renewal run stops (and the bench fails) after this long: a load test must end by itself.
    var timeLimitSeconds = 600.0
    /// Charges made one after another on a fresh sandbox after the run, to show the gateway's own pace.
    var sandboxProbeCharges = 500
    /// Where the temporary directory is made: a tmpfs (/dev/shm) shows the run without the cost of fsync.
    var parentDirectory = "/tmp"
    var catalogPath: String?
    var json = false
    var trace = false
    /// The sandbox, as billingd runs it; `instant` only to tell the sandbox's share apart.
    var instantGateway = false

    static let usage = """
        usage: renewal-bench [--subscriptions N] [--time-limit S] [--sandbox-probe N] [--directory DIR]
                             [--gateway sandbox|instant] [--catalog FILE] [--json] [--trace]
          --subscriptions N   subscriptions due at once, 1...1000000 (default 100000)
          --time-limit S      stop the renewal run after S seconds and fail, 1...3600 (default 600)
          --sandbox-probe N   charges made one after another on a fresh sandbox before the run, to show
                              the pace of the gateway alone on this disk, 0...100000 (default 500; 0 skips it)
          --directory DIR     where the temporary directory is made (default /tmp; /dev/shm, a tmpfs, shows
                              the run without the cost of fsync)
          --gateway G         sandbox (default: billingd's, an fsync'd record per charge) or instant
                              (approves at once, remembers nothing: shows the run without the sandbox)
          --catalog FILE      the plan catalog (default: the repository's catalog/plans.json)
          --json              print one JSON object instead of lines
          --trace             print a timeline of the run to standard error every 5 s: store writes
                              committed (two per renewal), their rate, resident memory
        """

    /// Hand-parsed, like store-bench: `--name value`, `--name=value`, `--json`.
    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            let name = parts[0]
            func value() throws(UsageError) -> String {
                if parts.count == 2 { return parts[1] }
                guard let next = remaining.popFirst() else { throw UsageError("\(name) needs a value") }
                return next
            }
            func whole(_ range: ClosedRange<Int>) throws(UsageError) -> Int {
                let text = try value()
                guard let number = Int(text), range.contains(number) else {
                    throw UsageError("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), got \(text)")
                }
                return number
            }
            switch name {
            case "--subscriptions": options.subscriptions = try whole(1...1_000_000)
            case "--time-limit": options.timeLimitSeconds = Double(try whole(1...3600))
            case "--sandbox-probe": options.sandboxProbeCharges = try whole(0...100_000)
            case "--directory": options.parentDirectory = try value()
            case "--gateway":
                switch try value() {
                case "sandbox": options.instantGateway = false
                case "instant": options.instantGateway = true
                case let other: throw UsageError("--gateway must be sandbox or instant, got \(other)")
                }
            case "--catalog": options.catalogPath = try value()
            case "--json": options.json = true
            case "--trace": options.trace = true
            case "--help", "-h":
                print(usage)
                exit(0)
            default:
                throw UsageError("unknown argument \(argument)")
            }
        }
        return options
    }
}

struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
