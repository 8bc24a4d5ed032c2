/// One value bound to a `?` placeholder or read from a column.
///
/// Values reach SQLite only through binding, never by pasting them into SQL text, so a card number or an
/// amount can never change what a statement does. Literals convert on their own:
///
/// ```swift
/// try tx.execute("INSERT INTO ledger(account_id, amount_minor, category) VALUES (?, ?, ?)",
///                .integer(accountID), -250, "coffee")
/// ```
///
/// Its descriptions show the kind of value only, not the value, so a value printed by accident does not
/// end up in a log.
public enum SQLValue: Sendable, Hashable {
    case null
    case integer(Int64)
    /// Read only: SQLite may hand back a floating-point column (`avg()`, for example). Money never uses it.
    case real(Double)
    case text(String)
    case blob([UInt8])
}

extension SQLValue {
    public static func int(_ value: Int) -> SQLValue { .integer(Int64(value)) }
    /// Stored as 0 or 1, the way SQLite itself stores booleans.
    public static func bool(_ value: Bool) -> SQLValue { .integer(value ? 1 : 0) }

    public init(_ value: Int64?) { self = value.map(SQLValue.integer) ?? .null }
    public init(_ value: Int?) { self = value.map(SQLValue.int) ?? .null }
    public init(_ value: Bool?) { self = value.map(SQLValue.bool) ?? .null }
    public init(_ value: String?) { self = value.map(SQLValue.text) ?? .null }
    public init(_ value: [UInt8]?) { self = value.map(SQLValue.blob) ?? .null }
}

extension SQLValue: ExpressibleByNilLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByStringLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(stringLiteral value: String) { self = .text(value) }
}

extension SQLValue: CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind of value without the value: `text(…)`, `integer(…)`, `null`.
    public var description: String {
        switch self {
        case .null: "null"
        case .integer: "integer(…)"
        case .real: "real(…)"
        case .text: "text(…)"
        case .blob(let bytes): "blob(\(bytes.count) bytes)"
        }
    }

    public var debugDescription: String { description }
}

extension SQLValue: CustomReflectable {
    /// Keeps `dump()` and debuggers from showing the payload too.
    public var customMirror: Mirror { Mirror(self, children: ["kind": description]) }
}
