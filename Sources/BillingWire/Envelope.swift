// The envelope's messages are generated from proto/billing/rpc/v1/envelope.proto into Generated/
// (BillingRpcV1). What stays here is the transport's vocabulary over them: the names the rest of the code
// base uses, and RPCStatus, which carries a typed StatusCode and the OK-means-absent convention.

/// One key/value pair of call metadata.
public typealias MetadataEntry = BillingRpcV1.KeyValue

/// The payload of a REQUEST frame: which method to call, with what, and by when.
public typealias RequestEnvelope = BillingRpcV1.Request

extension BillingRpcV1.Request {
    /// The relative deadline (`timeout_nano`); 0 asks for the server's default.
    public var timeoutNanoseconds: Int64 {
        get { timeoutNano }
        set { timeoutNano = newValue }
    }

    /// A request with a deadline, named in the unit the transport uses.
    public init(
        service: String, method: String, payload: [UInt8], timeoutNanoseconds: Int64,
        metadata: [MetadataEntry] = [], streamWindow: UInt32 = 0
    ) {
        self.init(
            service: service, method: method, payload: payload, timeoutNano: timeoutNanoseconds, metadata: metadata,
            streamWindow: streamWindow
        )
    }
}

/// The payload of a WINDOW_UPDATE frame: how many more DATA frames the client will take.
public typealias WindowUpdateEnvelope = BillingRpcV1.WindowUpdate

/// A call's outcome as it travels: OK, or an `RPCError`.
public struct RPCStatus: Hashable, Sendable {
    public var code: StatusCode
    public var message: String
    public var details: [StatusDetail]

    public static let ok = RPCStatus(code: .ok, message: "", details: [])

    public init(code: StatusCode, message: String, details: [StatusDetail] = []) {
        self.code = code
        self.message = message
        self.details = details
    }

    public init(_ error: RPCError) {
        self.init(code: error.code, message: error.message, details: error.details)
    }

    /// The error this status stands for, or nil when it is OK.
    public var error: RPCError? { code == .ok ? nil : RPCError(code, message, details: details) }

    /// A status as decoded: an absent one is OK.
    init(_ wire: BillingRpcV1.Status?) {
        guard let wire else {
            self = .ok
            return
        }
        self.init(code: StatusCode(rawValue: wire.code), message: wire.message, details: wire.details)
    }

    /// The status as it is encoded.
    var wire: BillingRpcV1.Status {
        BillingRpcV1.Status(code: code.rawValue, message: message, details: details)
    }
}

/// The payload of a RESPONSE frame: the status of the call and, for a unary call that succeeded, its reply.
public struct ResponseEnvelope: WireMessage, Hashable {
    public var status: RPCStatus
    public var payload: [UInt8]

    public init(status: RPCStatus, payload: [UInt8] = []) {
        self.status = status
        self.payload = payload
    }

    public init(wireBytes: [UInt8]) throws(RPCError) {
        let response = try BillingRpcV1.Response(wireBytes: wireBytes)
        self.init(status: RPCStatus(response.status), payload: response.payload)
    }

    /// OK goes out as an absent status, the shortest encoding of the common case.
    public func wireBytes() -> [UInt8] {
        BillingRpcV1.Response(status: status == .ok ? nil : status.wire, payload: payload).wireBytes()
    }
}

/// The payload of a GOAWAY frame: the server takes no new calls on this connection.
public struct GoAwayEnvelope: WireMessage, Hashable {
    public var lastStreamID: UInt32
    public var status: RPCStatus

    public init(lastStreamID: UInt32, status: RPCStatus) {
        self.lastStreamID = lastStreamID
        self.status = status
    }

    public init(wireBytes: [UInt8]) throws(RPCError) {
        let goAway = try BillingRpcV1.GoAway(wireBytes: wireBytes)
        self.init(lastStreamID: goAway.lastStreamID, status: RPCStatus(goAway.status))
    }

    public func wireBytes() -> [UInt8] {
        BillingRpcV1.GoAway(lastStreamID: lastStreamID, status: status.wire).wireBytes()
    }
}
