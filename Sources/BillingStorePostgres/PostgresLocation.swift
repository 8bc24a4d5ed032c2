import BillingStore
import Foundation

/// Where a PostgreSQL database is, read from a `postgres://` URL in libpq's form:
///
/// - `postgres://billing@/billing?host=/run/postgresql` — a Unix socket in that folder (the socket file
///   is `.s.PGSQL.<port>` in it, as libpq looks for it);
/// - `postgres://billing:secret@db.internal:5432/billing` — TCP;
/// - `?schema=NAME` (ours, not libpq's) puts the tables in that schema, created if missing: several
///   test runs or tenants can share one database.
///
/// Its description leaves the password out, so that it can be logged.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    public enum Endpoint: Sendable, Hashable {
        case unixSocket(path: String)
        case tcp(host: String, port: Int)
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    /// The schema the tables live in; nil for the user's default search path (`public`).
    public var schema: String?

    public init(endpoint: Endpoint, username: String, password: String? = nil, database: String, schema: String? = nil) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.schema = schema
    }

    /// True for text that names a PostgreSQL database rather than a SQLite file.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Parses a `postgres://` URL; the error says which part is wrong.
    public init(url text: String) throws {
        func refuse(_ why: String) -> StoreError {
            StoreError.misuse("read the PostgreSQL URL", "\(why); expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE or postgres://USER@/DATABASE?host=/socket/folder")
        }
        guard Self.isURL(text), let components = URLComponents(string: text) else { throw refuse("not a postgres:// URL") }
        guard let user = components.user, !user.isEmpty else { throw refuse("the URL names no user") }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { throw refuse("the URL names no database") }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw refuse("port \(port) is out of range") }
        if let folder = query["host"], folder.hasPrefix("/") {
            endpoint = .unixSocket(path: folder + "/.s.PGSQL.\(port)")
        } else if let host = components.host, !host.isEmpty {
            endpoint = .tcp(host: host, port: port)
        } else {
            throw refuse("the URL names neither a host nor a socket folder (?host=/path)")
        }
        if let schema = query["schema"] {
            guard !schema.isEmpty, schema.utf8.count <= 63,
                schema.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }),
                !("0"..."9").contains(schema.unicodeScalars.first!)
            else { throw refuse("schema must be 1–63 lowercase letters, digits or _, not starting with a digit") }
            self.schema = schema
        } else {
            self.schema = nil
        }
        self.username = user
        self.password = components.password
        self.database = database
    }

    public var description: String {
        let place = switch endpoint {
        case .unixSocket(let path): "socket \(path)"
        case .tcp(let host, let port): "\(host):\(port)"
        }
        return "postgres database \(database) as \(username) at \(place)" + (schema.map { ", schema \($0)" } ?? "")
    }
}
