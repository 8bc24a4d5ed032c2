/// A machine-readable detail of a failed call, for example which request field was wrong: the envelope's
/// generated `billing.rpc.v1.StatusDetail` (`type`, `value`), with the conventions below.
public typealias StatusDetail = BillingRpcV1.StatusDetail

extension BillingRpcV1.StatusDetail {
    /// The detail that names the request field a caller must fix.
    public static func field(_ name: String) -> StatusDetail { StatusDetail(type: "field", value: name) }

    /// The detail that says why, in a word a program can switch on (`card_declined`); every failed
    /// status carries exactly one. The values are listed in `billing.v1.ErrorReason`.
    public static func reason(_ reason: String) -> StatusDetail { StatusDetail(type: reasonType, value: reason) }

    public static let reasonType = "reason"
}

/// Why the transport refused or ended a call, beside its status code: the reasons the server gives
/// before any service runs. Services add their own; `billing.v1.ErrorReason` lists them all.
public enum TransportReason: String, Sendable, CaseIterable {
    /// A frame or message over the size limit.
    case messageTooLarge = "message_too_large"
    /// A request that is not valid protobuf for its method.
    case invalidMessage = "invalid_message"
    /// A string field holding a NUL byte or bytes that are not UTF-8.
    case invalidString = "invalid_string"
    case tooManyCalls = "too_many_calls"
    case tooManyConnections = "too_many_connections"
    case metadataTooLarge = "metadata_too_large"
    case unknownService = "unknown_service"
    case unknownMethod = "unknown_method"
    case shuttingDown = "shutting_down"
    case protocolViolation = "protocol_violation"
    case idle = "idle_timeout"
    case unsupportedProtocolVersion = "unsupported_protocol_version"
    /// The process's memory for incomplete frames is used up by other connections.
    case serverBusy = "server_busy"
    /// A caller allowed only to read called a method that changes something.
    case readOnlyCaller = "read_only_caller"
}

/// The error every call can fail with: a status code, a message a person can act on, and a reason a
/// program can act on.
///
/// Handlers throw it to choose the reply's status; clients receive it unchanged. Messages never
/// carry card numbers, CVCs, tokens or request payloads.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String
    /// The `reason` detail comes first, then any others (`field`, `decline_code`).
    public var details: [StatusDetail]

    /// - Parameter reason: the machine-readable reason; without one, the status code's own name in
    ///   lower case (`invalid_argument`), so that no refusal goes without.
    public init(_ code: StatusCode, _ message: String, reason: String? = nil, details: [StatusDetail] = []) {
        self.code = code
        self.message = message
        if details.contains(where: { $0.type == StatusDetail.reasonType }) {
            self.details = details
        } else {
            self.details = [.reason(reason ?? code.description.lowercased())] + details
        }
    }

    public init(_ code: StatusCode, _ message: String, reason: TransportReason, details: [StatusDetail] = []) {
        self.init(code, message, reason: reason.rawValue, details: details)
    }

    /// The machine-readable reason, for example `card_declined` or `invalid_string`.
    public var reason: String { details.first { $0.type == StatusDetail.reasonType }?.value ?? code.description.lowercased() }

    /// The value of the first detail of `type`, for example `field`.
    public func detail(_ type: String) -> String? { details.first { $0.type == type }?.value }

    public var description: String { "\(code) (\(reason)): \(message)" }
}
