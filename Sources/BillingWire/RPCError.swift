/// A machine-readable detail of a failed call, for example which request field was wrong.
public struct StatusDetail: Hashable, Sendable {
    public var type: String
    public var value: String
    public init(type: String, value: String) {
        self.type = type
        self.value = value
    }

    /// The detail that names the request field a caller must fix.
    public static func field(_ name: String) -> StatusDetail { StatusDetail(type: "field", value: name) }
}

/// The error every call can fail with: a status code and a message a person can act on.
///
/// Handlers throw it to choose the reply's status; clients receive it unchanged. Messages never
/// carry card numbers, CVCs, tokens or request payloads.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String
    public var details: [StatusDetail]

    public init(_ code: StatusCode, _ message: String, details: [StatusDetail] = []) {
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { "\(code): \(message)" }
}
