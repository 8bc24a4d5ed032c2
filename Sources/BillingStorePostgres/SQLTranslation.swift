import BillingStore

/// The domain writes its statements once, with SQLite's placeholders; PostgreSQL numbers them. This is the
/// only rewriting the PostgreSQL engine does to a statement's text.
enum SQLTranslation {
    /// `?` and `?NNN` become `$N`, as SQLite numbers them: `?NNN` is parameter NNN, a bare `?` is one more
    /// than the largest number so far. Quoted strings, quoted names and comments are left alone.
    ///
    /// Transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE, …) is refused, as the SQLite
    /// engine refuses it: the store owns the transaction a body runs in.
    static func postgresStatement(fromSQLite sql: String) throws -> String {
        try refuseTransactionControl(sql)
        var output = ""
        output.reserveCapacity(sql.utf8.count + 8)
        var largestNumber = 0
        var scalars = Array(sql.unicodeScalars)[...]
        while let scalar = scalars.popFirst() {
            switch scalar {
            case "'", "\"":
                output.unicodeScalars.append(scalar)
                while let next = scalars.popFirst() {
                    output.unicodeScalars.append(next)
                    if next == scalar { break }
                }
            case "-" where scalars.first == "-":
                output.unicodeScalars.append(scalar)
                while let next = scalars.popFirst() {
                    output.unicodeScalars.append(next)
                    if next == "\n" { break }
                }
            case "?":
                var digits = ""
                while let next = scalars.first, ("0"..."9").contains(next) {
                    digits.unicodeScalars.append(next)
                    scalars.removeFirst()
                }
                let number = digits.isEmpty ? largestNumber + 1 : Int(digits) ?? 0
                guard number >= 1 else { throw StoreError.misuse("translate a statement", "placeholder ?\(digits) is not a parameter number") }
                largestNumber = max(largestNumber, number)
                output += "$\(number)"
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    private static let transactionControl: Set<String> = [
        "BEGIN", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE", "START", "PREPARE", "SET", "RESET", "LOCK",
    ]

    private static func refuseTransactionControl(_ sql: String) throws {
        let firstWord = sql.drop { $0.isWhitespace }.prefix { $0.isLetter }.uppercased()
        if transactionControl.contains(firstWord) {
            throw StoreError.misuse(
                "run \(firstWord)", "transaction control and session settings belong to the store; a body's statements run inside its transaction")
        }
    }

    /// Splits a migration script into its statements at top-level semicolons: not inside quotes,
    /// `$$`-quoted function bodies or comments. The extended query protocol takes one statement at a time.
    static func statements(ofScript script: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var scalars = Array(script.unicodeScalars)[...]
        func finish() {
            let statement = current.trimmingWhitespace()
            if !statement.isEmpty && !statement.isOnlyComments { statements.append(statement) }
            current = ""
        }
        while let scalar = scalars.popFirst() {
            switch scalar {
            case "'", "\"":
                current.unicodeScalars.append(scalar)
                while let next = scalars.popFirst() {
                    current.unicodeScalars.append(next)
                    if next == scalar { break }
                }
            case "$" where scalars.first == "$":
                current += "$$"
                scalars.removeFirst()
                while let next = scalars.popFirst() {
                    current.unicodeScalars.append(next)
                    if next == "$" && scalars.first == "$" {
                        current.unicodeScalars.append(scalars.removeFirst())
                        break
                    }
                }
            case "-" where scalars.first == "-":
                current.unicodeScalars.append(scalar)
                while let next = scalars.popFirst() {
                    current.unicodeScalars.append(next)
                    if next == "\n" { break }
                }
            case ";":
                finish()
            default:
                current.unicodeScalars.append(scalar)
            }
        }
        finish()
        return statements
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }

    /// True for text made only of `--` comment lines.
    fileprivate var isOnlyComments: Bool {
        split(separator: "\n").allSatisfy { $0.drop { $0.isWhitespace }.hasPrefix("--") || $0.allSatisfy(\.isWhitespace) }
    }
}
