/// One result row, copied out of the database so it can outlive the statement and cross to other tasks.
///
/// Accessors are typed and strict: reading a TEXT column as an integer, or NULL as a non-optional,
/// throws a `misuse` error naming the column (never its value) instead of converting silently —
/// a schema and its code that disagree should fail loudly, not produce a wrong balance.
///
/// ```swift
/// let row = try tx.queryOne("SELECT balance_minor, currency FROM accounts WHERE id = ?", .integer(id))
/// let balance = try row?.int64("balance_minor")
/// ```
public struct Row: Sendable {
    /// Column names in result order, shared by every row of one query.
    public var columnNames: [String] { columns.names }
    /// Column values in result order.
    public let values: [SQLValue]
    private let columns: Columns

    package init(columns: Columns, values: [SQLValue]) {
        precondition(columns.names.count == values.count, "a row has one value per column")
        self.columns = columns
        self.values = values
    }

    /// The raw value of a column, for the rare caller that needs to look at its kind.
    public func value(_ index: Int) throws -> SQLValue { values[try position(index)] }
    public func value(_ name: String) throws -> SQLValue { values[try position(name)] }

    public func isNull(_ index: Int) throws -> Bool { try value(index) == .null }
    public func isNull(_ name: String) throws -> Bool { try value(name) == .null }

    public func int64(_ index: Int) throws -> Int64 { try required(optionalInt64, index, "integer") }
    public func int64(_ name: String) throws -> Int64 { try required(optionalInt64, name, "integer") }
    public func optionalInt64(_ index: Int) throws -> Int64? { try decode(position(index), as: "integer", Self.integer) }
    public func optionalInt64(_ name: String) throws -> Int64? { try decode(position(name), as: "integer", Self.integer) }

    public func int(_ index: Int) throws -> Int { Int(try int64(index)) }
    public func int(_ name: String) throws -> Int { Int(try int64(name)) }
    public func optionalInt(_ index: Int) throws -> Int? { try optionalInt64(index).map { Int($0) } }
    public func optionalInt(_ name: String) throws -> Int? { try optionalInt64(name).map { Int($0) } }

    public func bool(_ index: Int) throws -> Bool { try required(optionalBool, index, "boolean") }
    public func bool(_ name: String) throws -> Bool { try required(optionalBool, name, "boolean") }
    public func optionalBool(_ index: Int) throws -> Bool? { try decode(position(index), as: "boolean", Self.boolean) }
    public func optionalBool(_ name: String) throws -> Bool? { try decode(position(name), as: "boolean", Self.boolean) }

    public func string(_ index: Int) throws -> String { try required(optionalString, index, "text") }
    public func string(_ name: String) throws -> String { try required(optionalString, name, "text") }
    public func optionalString(_ index: Int) throws -> String? { try decode(position(index), as: "text", Self.text) }
    public func optionalString(_ name: String) throws -> String? { try decode(position(name), as: "text", Self.text) }

    public func blob(_ index: Int) throws -> [UInt8] { try required(optionalBlob, index, "blob") }
    public func blob(_ name: String) throws -> [UInt8] { try required(optionalBlob, name, "blob") }
    public func optionalBlob(_ index: Int) throws -> [UInt8]? { try decode(position(index), as: "blob", Self.bytes) }
    public func optionalBlob(_ name: String) throws -> [UInt8]? { try decode(position(name), as: "blob", Self.bytes) }
}

// MARK: - Decoding

extension Row {
    /// The names of a query's result columns and where each one is; built once per query.
    package final class Columns: Sendable {
        let names: [String]
        /// The first column with each name, as SQLite itself resolves duplicate names.
        let positionByName: [String: Int]

        package init(names: [String]) {
            self.names = names
            var positions: [String: Int] = [:]
            for (position, name) in names.enumerated() where positions[name] == nil { positions[name] = position }
            self.positionByName = positions
        }
    }

    private func position(_ index: Int) throws -> Int {
        guard values.indices.contains(index) else {
            throw StoreError.misuse("read column \(index)", "the row has \(values.count) columns")
        }
        return index
    }

    private func position(_ name: String) throws -> Int {
        guard let position = columns.positionByName[name] else {
            throw StoreError.misuse("read column '\(name)'", "the row has no such column; it has \(columns.names)")
        }
        return position
    }

    /// Turns `nil` from an optional accessor into an error naming the column.
    private func required<Column, Value>(
        _ optional: (Column) throws -> Value?, _ column: Column, _ expected: String
    ) throws -> Value {
        guard let value = try optional(column) else {
            throw StoreError.misuse("read column '\(column)'", "expected \(expected), found NULL")
        }
        return value
    }

    /// NULL reads as `nil`; any other kind than the one `convert` accepts is an error naming the column.
    private func decode<Value>(_ position: Int, as expected: String, _ convert: (SQLValue) -> Value?) throws -> Value? {
        let value = values[position]
        if value == .null { return nil }
        guard let converted = convert(value) else {
            // `value.description` names the kind of value only (see SQLValue), never the value itself.
            throw StoreError.misuse(
                "read column '\(columns.names[position])'", "expected \(expected), found \(value.description)")
        }
        return converted
    }

    private static func integer(_ value: SQLValue) -> Int64? {
        if case .integer(let integer) = value { integer } else { nil }
    }

    private static func boolean(_ value: SQLValue) -> Bool? {
        switch value {
        case .integer(0): false
        case .integer(1): true
        default: nil
        }
    }

    private static func text(_ value: SQLValue) -> String? {
        if case .text(let text) = value { text } else { nil }
    }

    private static func bytes(_ value: SQLValue) -> [UInt8]? {
        if case .blob(let bytes) = value { bytes } else { nil }
    }
}

extension Row: CustomStringConvertible {
    /// Column names and the kinds of their values, never the values: rows hold balances and card data.
    public var description: String {
        let columns = zip(columnNames, values).map { "\($0): \($1)" }.joined(separator: ", ")
        return "Row(\(columns))"
    }
}
