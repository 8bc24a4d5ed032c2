import ArgumentParser
import BillingClient
import Foundation

// The one place where failures become what a person reads and the exit code a script tests.

/// The exit codes of `billing` (sysexits.h where one fits), documented in `billing --help` and the README.
enum Exit {
    static let ok: Int32 = 0
    /// A flag or argument ArgumentParser refused (a missing option, an unknown command).
    static let usage: Int32 = 64
    /// INVALID_ARGUMENT or OUT_OF_RANGE, or an amount or time `billing` could not read.
    static let invalidArgument: Int32 = 65
    /// NOT_FOUND: the account, card, invoice, subscription, plan or clock does not exist.
    static let notFound: Int32 = 66
    /// FAILED_PRECONDITION with reason card_declined: the gateway declined the card.
    static let cardDeclined: Int32 = 67
    /// FAILED_PRECONDITION (other reasons), ALREADY_EXISTS, ABORTED: the account's state refuses it
    /// (no primary card, incomplete address, insufficient funds, ...).
    static let failedPrecondition: Int32 = 68
    /// UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, CANCELLED: try again later, with the same
    /// idempotency key.
    static let unavailable: Int32 = 69
    /// INTERNAL, UNKNOWN, DATA_LOSS, UNIMPLEMENTED: a fault on the server's side; or writing a file failed.
    static let `internal`: Int32 = 70
    /// PERMISSION_DENIED, UNAUTHENTICATED: this user may not call the server (its allowlist).
    static let permissionDenied: Int32 = 77

    static func code(for error: RPCError) -> Int32 {
        switch error.code {
        case .ok: ok
        case .invalidArgument, .outOfRange: invalidArgument
        case .notFound: notFound
        case .failedPrecondition: error.billingReason == .cardDeclined ? cardDeclined : failedPrecondition
        case .alreadyExists, .aborted: failedPrecondition
        case .unavailable, .deadlineExceeded, .resourceExhausted, .cancelled: unavailable
        case .permissionDenied, .unauthenticated: permissionDenied
        default: `internal`
        }
    }

    static let discussion = """
        Exit codes:
          0   ok
          64  usage: a flag or an argument is wrong (see --help)
          65  invalid argument: INVALID_ARGUMENT, OUT_OF_RANGE, or an amount or
              time billing could not read
          66  not found: NOT_FOUND
          67  card declined: FAILED_PRECONDITION with reason card_declined
          68  failed precondition: the account's state refuses it (any other
              FAILED_PRECONDITION, ALREADY_EXISTS, ABORTED)
          69  unavailable: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED;
              retry later with the same --idempotency-key
          70  internal: INTERNAL, UNKNOWN, DATA_LOSS, UNIMPLEMENTED, or a file
              could not be written
          77  permission denied: PERMISSION_DENIED, UNAUTHENTICATED
        """
}

/// A failure found before or after the call: what to say and the exit code.
struct CLIError: Error {
    var message: String
    var exitCode: Int32
    var reason: String

    static func invalidArgument(_ message: String) -> CLIError {
        CLIError(message: message, exitCode: Exit.invalidArgument, reason: "invalid_argument")
    }

    static func io(_ message: String) -> CLIError {
        CLIError(message: message, exitCode: Exit.internal, reason: "io_error")
    }
}

/// Prints `error` (a status, its reason and message, the field and decline code when present; never a
/// stack trace) on stderr, or as JSON on stdout with `--json`, and exits with its code.
/// - Parameter key: the idempotency key (or usage id) sent, by its field name, for a retry.
func fail(_ error: any Error, json: Bool, key: (field: String, value: String)?) -> ExitCode {
    let status: String
    let reason: String
    let message: String
    var field: String?
    var declineCode: String?
    let code: Int32
    switch error {
    case let error as RPCError:
        status = error.code.description
        reason = error.reason
        message = error.message
        field = error.field
        declineCode = error.declineCode
        code = Exit.code(for: error)
    case let error as CLIError:
        status = error.exitCode == Exit.invalidArgument ? "INVALID_ARGUMENT" : "LOCAL_ERROR"
        reason = error.reason
        message = error.message
        code = error.exitCode
    default:
        status = "UNKNOWN"
        reason = "unknown"
        message = "\(error)"
        code = Exit.internal
    }
    if json {
        var fields: [(String, JSON.Value)] = [
            ("code", .string(status)), ("reason", .string(reason)), ("message", .string(message)),
        ]
        if let field { fields.append(("field", .string(field))) }
        if let declineCode { fields.append(("decline_code", .string(declineCode))) }
        fields.append(("exit_code", .number(String(code))))
        if let key { fields.append((key.field, .string(key.value))) }
        JSON.print(.object([("error", .object(fields))]))
    } else {
        var lines = ["error: \(status) (\(reason)): \(message)"]
        if let field { lines.append("  field: \(field)") }
        if let declineCode { lines.append("  decline code: \(declineCode)") }
        if let key, code == Exit.unavailable {
            lines.append("  retry with --\(key.field.replacingOccurrences(of: "_", with: "-")) \(key.value)")
        }
        Terminal.note(lines.joined(separator: "\n"))
    }
    return ExitCode(code)
}
