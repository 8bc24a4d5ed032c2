import BillingClient
import BillingValues
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// How `billing` writes: aligned tables for people (colour only on a terminal, never with NO_COLOR),
// JSON with the schema's snake_case field names for scripts, amounts with their currency's symbol and
// decimals, times local or UTC.

// MARK: - The terminal

enum Terminal {
    /// Colour only when stdout is a terminal, NO_COLOR is unset (https://no-color.org) and TERM is not "dumb".
    static let colour: Bool = {
        let environment = ProcessInfo.processInfo.environment
        if let noColour = environment["NO_COLOR"], !noColour.isEmpty { return false }
        if environment["TERM"] == "dumb" { return false }
        return isatty(STDOUT_FILENO) == 1
    }()

    /// The width to draw in: the terminal's, else COLUMNS, else 80.
    static var width: Int {
        var size = winsize()
        if isatty(STDOUT_FILENO) == 1, ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            return Int(size.ws_col)
        }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 { return columns }
        return 80
    }

    static func bold(_ text: String) -> String { paint(text, "1") }
    static func dim(_ text: String) -> String { paint(text, "2") }
    static func red(_ text: String) -> String { paint(text, "31") }
    static func green(_ text: String) -> String { paint(text, "32") }
    static func yellow(_ text: String) -> String { paint(text, "33") }
    static func cyan(_ text: String) -> String { paint(text, "36") }

    private static func paint(_ text: String, _ code: String) -> String {
        colour && !text.isEmpty ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    /// A line on stderr: notes for people (idempotency keys, notices) that scripts reading stdout skip.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

// MARK: - Tables

/// Columns padded to their widest cell; the width ignores colour escapes and counts characters.
struct Table {
    var headers: [String]
    var rows: [[String]] = []
    /// Columns aligned right (amounts).
    var rightAligned: Set<Int> = []

    init(_ headers: String..., rightAligned: Set<Int> = []) {
        self.headers = headers
        self.rightAligned = rightAligned
    }

    mutating func add(_ cells: String...) { rows.append(cells) }

    func render() -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], visibleWidth(cell))
            }
        }
        func line(_ cells: [String], header: Bool) -> String {
            var parts: [String] = []
            for (index, cell) in cells.enumerated() {
                let padding = String(repeating: " ", count: max(0, widths[index] - visibleWidth(cell)))
                let last = index == cells.count - 1
                let text = header ? Terminal.bold(cell) : cell
                parts.append(rightAligned.contains(index) ? padding + text : (last ? text : text + padding))
            }
            return parts.joined(separator: "  ")
        }
        return ([line(headers, header: true)] + rows.map { line($0, header: false) }).joined(separator: "\n")
    }

    func print() {
        Swift.print(rows.isEmpty ? Terminal.dim("(none)") : render())
    }
}

/// "Label  value" lines, labels padded to the widest.
struct Fields {
    private var pairs: [(String, String)] = []

    mutating func add(_ label: String, _ value: String) { pairs.append((label, value)) }

    func print() {
        let width = pairs.map(\.0.count).max() ?? 0
        for (label, value) in pairs {
            Swift.print(Terminal.bold(label.padding(toLength: width, withPad: " ", startingAt: 0)) + "  " + value)
        }
    }
}

/// The characters a person sees: escapes left out.
func visibleWidth(_ text: String) -> Int {
    var count = 0
    var inEscape = false
    for scalar in text.unicodeScalars {
        if inEscape {
            if scalar == "m" { inEscape = false }
        } else if scalar == "\u{1B}" {
            inEscape = true
        } else {
            count += 1
        }
    }
    return count
}

// MARK: - Money

enum MoneyText {
    static let symbols = ["USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"]

    /// `$12.50`, `-$5.16`, `€9.00`, `¥1,250`, `CHF 12.50`: the currency's own decimals, integer arithmetic only.
    static func format(_ money: BillingV1.Money?) -> String {
        guard let money else { return "" }
        return format(minor: money.amountMinor, currency: money.currency)
    }

    static func format(minor: Int64, currency: String) -> String {
        let exponent = (try? Currency(code: currency))?.minorUnitExponent ?? 2
        var unitsPerMajor: UInt64 = 1
        for _ in 0..<exponent { unitsPerMajor *= 10 }
        let magnitude = minor.magnitude
        var digits = String(magnitude / unitsPerMajor)
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits.removeLast(3)
        }
        var number = digits + grouped
        if exponent > 0 {
            let fraction = String(magnitude % unitsPerMajor)
            number += "." + String(repeating: "0", count: exponent - fraction.count) + fraction
        }
        let sign = minor < 0 ? "-" : ""
        if let symbol = symbols[currency] { return sign + symbol + number }
        return currency + " " + sign + number
    }

    /// Parses what a person types, in the account's currency: `12.50`, `$12.50`, `12.50 USD`, `1,250`,
    /// exactly (BillingValues' decimal parser, never floating point). More decimals than the currency has
    /// is an error, not a rounding.
    static func parse(_ text: String, currency code: String, option: String = "--amount") throws(CLIError) -> BillingV1.Money {
        let currency: Currency
        do { currency = try Currency(code: code) } catch { throw CLIError.invalidArgument("unknown currency \(code)") }
        var rest = text.trimmingCharacters(in: .whitespaces)
        for (otherCode, symbol) in symbols where rest.hasPrefix(symbol) || rest.hasPrefix("-" + symbol) {
            guard otherCode == currency.code else {
                throw CLIError.invalidArgument("\(option) \(text) is in \(otherCode) but the account bills in \(currency.code)")
            }
            rest = rest.hasPrefix("-") ? "-" + rest.dropFirst(1 + symbol.count) : String(rest.dropFirst(symbol.count))
        }
        let words = rest.split(separator: " ")
        if words.count == 2 {
            let codeWord = words.first { $0.allSatisfy(\.isLetter) }.map { String($0).uppercased() }
            guard let codeWord else { throw CLIError.invalidArgument("\(option) \(text) is not an amount such as 12.50") }
            guard codeWord == currency.code else {
                throw CLIError.invalidArgument("\(option) \(text) is in \(codeWord) but the account bills in \(currency.code)")
            }
            rest = String(words.first { !$0.allSatisfy(\.isLetter) } ?? "")
        }
        rest = rest.replacingOccurrences(of: ",", with: "")
        do {
            let money = try Money(decimal: rest, currency: currency, field: option)
            return BillingV1.Money(amountMinor: money.amountMinor, currency: currency.code)
        } catch {
            throw CLIError.invalidArgument(
                "\(option) \(text) is not an amount in \(currency.code) (at most \(currency.minorUnitExponent) decimals, such as \(format(minor: 1250 * Int64(pow10(currency.minorUnitExponent)) / 100, currency: currency.code)))")
        }
    }

    private static func pow10(_ exponent: Int) -> Int {
        (0..<exponent).reduce(1) { value, _ in value * 10 }
    }
}

// MARK: - Times

/// Unix milliseconds as people read them: local time by default, UTC with `--utc`.
struct TimeText: Sendable {
    let utc: Bool

    func format(_ unixMs: Int64) -> String {
        guard unixMs != 0 else { return "" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = utc ? TimeZone(identifier: "UTC")! : TimeZone.current
        formatter.dateFormat = utc ? "yyyy-MM-dd HH:mm 'UTC'" : "yyyy-MM-dd HH:mm zzz"
        return formatter.string(from: Date(timeIntervalSince1970: Double(unixMs) / 1000))
    }

    func date(_ unixMs: Int64) -> String {
        guard unixMs != 0 else { return "" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = utc ? TimeZone(identifier: "UTC")! : TimeZone.current
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date(timeIntervalSince1970: Double(unixMs) / 1000))
    }

    /// `2027-01-16`, `2027-01-16T12:00`, `2027-01-16 12:00:00` (local, or UTC with --utc) or with a zone
    /// (`2027-01-16T00:00:00Z`, `+01:00`); returns Unix milliseconds.
    func parse(_ text: String, option: String) throws(CLIError) -> Int64 {
        let iso = ISO8601DateFormatter()
        if let date = iso.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = iso.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = utc ? TimeZone(identifier: "UTC")! : TimeZone.current
        for pattern in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm", "yyyy-MM-dd"] {
            formatter.dateFormat = pattern
            if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        }
        throw CLIError.invalidArgument("\(option) \(text) is not a time such as 2027-01-16 or 2027-01-16T09:30:00Z")
    }
}

// MARK: - Enums

/// An enum value as people read it: `SUBSCRIPTION_STATUS_PAST_DUE` → `past_due`.
func label<Value: CaseIterable & CustomStringConvertible>(_ value: Value) -> String {
    let names = Value.allCases.map(\.description)
    var prefix = names.first ?? ""
    for name in names.dropFirst() {
        while !name.hasPrefix(prefix) { prefix.removeLast() }
    }
    if let underscore = prefix.lastIndex(of: "_") { prefix = String(prefix[...underscore]) } else { prefix = "" }
    return String(value.description.dropFirst(prefix.count)).lowercased()
}

/// Coloured by what it means: good green, bad red, in-between yellow.
func statusText(_ text: String) -> String {
    switch text {
    case "succeeded", "paid", "active", "serving", "provisioned", "trialing": Terminal.green(text)
    case "failed", "uncollectible", "unpaid", "suspended", "incomplete_expired", "past_due", "error": Terminal.red(text)
    case "pending", "open", "incomplete", "draft", "warning": Terminal.yellow(text)
    default: text
    }
}

// MARK: - JSON

/// JSON for scripts: every field of a schema message under its proto name (`account_id`,
/// `created_at_unix_ms`), in schema order; enums by their proto value names (`CHARGE_STATUS_FAILED`);
/// 64-bit integers as numbers; unset messages as null; bytes as base64.
enum JSON {
    /// A value of the output: a message, or extra fields the command adds (`idempotency_key`).
    indirect enum Value {
        case object([(String, Value)])
        case array([Value])
        case string(String)
        case number(String)
        case bool(Bool)
        case null
    }

    static func print(_ value: Value) {
        Swift.print(render(value, indent: ""))
    }

    /// A message's fields, with `extra` fields after them.
    static func message(_ message: Any, extra: [(String, Value)] = []) -> Value {
        guard case .object(let fields) = encode(message) else { return .object(extra) }
        return .object(fields + extra)
    }

    static func encode(_ value: Any) -> Value {
        switch value {
        case let text as String: return .string(text)
        case let flag as Bool: return .bool(flag)
        case let number as Int64: return .number(String(number))
        case let number as Int32: return .number(String(number))
        case let number as UInt32: return .number(String(number))
        case let number as UInt64: return .number(String(number))
        case let number as Int: return .number(String(number))
        default: break
        }
        // By type, not `as?`: an empty array of anything casts to [UInt8].
        if type(of: value) == [UInt8].self, let bytes = value as? [UInt8] {
            return .string(Data(bytes).base64EncodedString())
        }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            guard let wrapped = mirror.children.first?.value else { return .null }
            return encode(wrapped)
        case .enum:
            return .string(String(describing: value))
        case .collection:
            return .array(mirror.children.map { encode($0.value) })
        case .struct, .class:
            return .object(mirror.children.compactMap { child in
                child.label.map { (snakeCase($0), encode(child.value)) }
            })
        default:
            return .string(String(describing: value))
        }
    }

    /// The generated Swift names back to the schema's: `accountID` → `account_id`,
    /// `createdAtUnixMs` → `created_at_unix_ms`, `last4` → `last4` (the generator writes the words
    /// id, url, http and https in capitals after the first word).
    static func snakeCase(_ name: String) -> String {
        var words: [String] = []
        var current = ""
        var index = name.startIndex
        while index < name.endIndex {
            let character = name[index]
            if character.isUppercase {
                if !current.isEmpty { words.append(current) }
                current = ""
                let rest = name[index...]
                let acronym = ["HTTPS", "HTTP", "URL", "ID"].first { word in
                    rest.hasPrefix(word) && (rest.dropFirst(word.count).first.map { !$0.isLowercase } ?? true)
                }
                if let acronym {
                    words.append(acronym.lowercased())
                    index = name.index(index, offsetBy: acronym.count)
                    continue
                }
                current = String(character).lowercased()
            } else {
                current.append(character)
            }
            index = name.index(after: index)
        }
        if !current.isEmpty { words.append(current) }
        return words.joined(separator: "_")
    }

    /// Indented two spaces, or on one line (`compact`, for JSON Lines).
    static func render(_ value: Value, indent: String = "", compact: Bool = false) -> String {
        let inner = compact ? "" : indent + "  "
        let (open, separator, close) = compact ? ("", ",", "") : ("\n", ",\n", "\n" + indent)
        switch value {
        case .object(let fields):
            if fields.isEmpty { return "{}" }
            let lines = fields.map { inner + quote($0.0) + (compact ? ":" : ": ") + render($0.1, indent: inner, compact: compact) }
            return "{" + open + lines.joined(separator: separator) + close + "}"
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[" + open + items.map { inner + render($0, indent: inner, compact: compact) }.joined(separator: separator) + close + "]"
        case .string(let text): return quote(text)
        case .number(let digits): return digits
        case .bool(let flag): return flag ? "true" : "false"
        case .null: return "null"
        }
    }

    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let control where control.value < 0x20:
                out += String(format: "\\u%04x", control.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
