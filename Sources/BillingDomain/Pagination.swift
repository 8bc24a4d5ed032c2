import BillingStore

/// Which page of a newest-first list to return: keyset pagination on the table's `seq`, so that rows
/// added meanwhile neither repeat nor go missing between pages.
public struct PageRequest: Sendable, Hashable {
    public static let defaultSize = 20
    public static let maxSize = 100

    let size: Int
    /// Rows with a `seq` below this come next; nil for the first page.
    let before: Int64?

    /// `size` 0 means the default; `token` "" means the first page.
    public init(size: Int, token: String) throws(BillingError) {
        guard size >= 0, size <= Self.maxSize else {
            throw .invalidArgument("page_size is \(size); it must be between 1 and \(Self.maxSize) (0 means \(Self.defaultSize))", field: "page_size")
        }
        self.size = size == 0 ? Self.defaultSize : size
        if token.isEmpty {
            before = nil
        } else {
            guard token.hasPrefix("p"), let seq = Int64(token.dropFirst()), seq > 0 else {
                throw .invalidArgument("page_token is not one this service issued; pass the next_page_token of the previous reply", field: "page_token")
            }
            before = seq
        }
    }
}

/// One page of a list, and the token of the next page ("" on the last one).
public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    public var nextPageToken: String
}

/// Filters shared by the history lists: statuses (or categories, for the wallet) and a creation-time range.
public struct HistoryFilter: Sendable, Hashable {
    public static let maxValues = 20

    /// Empty means every status.
    public var statuses: [String]
    /// Wallet ledger only; empty means every category.
    public var categories: [String]
    public var createdFromMilliseconds: Int64?
    public var createdBeforeMilliseconds: Int64?

    public init(statuses: [String] = [], createdFromMilliseconds: Int64? = nil, createdBeforeMilliseconds: Int64? = nil, categories: [String] = []) throws(BillingError) {
        guard statuses.count <= Self.maxValues, categories.count <= Self.maxValues else {
            throw .invalidArgument("filter by at most \(Self.maxValues) values", field: statuses.count > Self.maxValues ? "statuses" : "categories")
        }
        if let from = createdFromMilliseconds, let before = createdBeforeMilliseconds, from >= before {
            throw .invalidArgument("created_from_unix_ms must be earlier than created_before_unix_ms", field: "created_from_unix_ms")
        }
        self.statuses = statuses
        self.categories = categories
        self.createdFromMilliseconds = createdFromMilliseconds
        self.createdBeforeMilliseconds = createdBeforeMilliseconds
    }
}

enum Paging {
    /// Runs `SELECT * FROM table` for one account's page, newest first, with the filter, and decodes its rows.
    static func page<Item>(
        of table: String, accountID: String, filter: HistoryFilter, page: PageRequest, in tx: some Querying, decode: (Row) throws -> Item
    ) throws -> Page<Item> {
        var conditions = ["account_id = ?"]
        var arguments: [SQLValue] = [.text(accountID)]
        if let before = page.before {
            conditions.append("seq < ?")
            arguments.append(.integer(before))
        }
        if !filter.statuses.isEmpty {
            conditions.append("status IN (\(filter.statuses.map { _ in "?" }.joined(separator: ", ")))")
            arguments += filter.statuses.map(SQLValue.text)
        }
        if !filter.categories.isEmpty {
            conditions.append("category IN (\(filter.categories.map { _ in "?" }.joined(separator: ", ")))")
            arguments += filter.categories.map(SQLValue.text)
        }
        if let from = filter.createdFromMilliseconds {
            conditions.append("created_at_ms >= ?")
            arguments.append(.integer(from))
        }
        if let before = filter.createdBeforeMilliseconds {
            conditions.append("created_at_ms < ?")
            arguments.append(.integer(before))
        }
        arguments.append(.int(page.size + 1))
        let rows = try tx.query(
            "SELECT * FROM \(table) WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq DESC LIMIT ?", arguments: arguments)
        guard rows.count > page.size else { return Page(items: try rows.map(decode), nextPageToken: "") }
        let pageRows = Array(rows.prefix(page.size))
        return Page(items: try pageRows.map(decode), nextPageToken: "p\(try pageRows[pageRows.count - 1].int64("seq"))")
    }
}
