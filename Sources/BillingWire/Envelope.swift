import BillingProtos

/// One key/value pair of call metadata.
public struct MetadataEntry: Hashable, Sendable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// The payload of a REQUEST frame: which method to call, with what, and by when.
public struct RequestEnvelope: WireMessage, Hashable {
    public var service: String
    public var method: String
    public var payload: [UInt8]
    /// Relative deadline; 0 asks for the server's default.
    public var timeoutNanoseconds: Int64
    public var metadata: [MetadataEntry]
    /// Server streams: DATA frames the server may send before the client grants more; 0 means the default.
    public var streamWindow: UInt32

    public init(
        service: String, method: String, payload: [UInt8], timeoutNanoseconds: Int64 = 0,
        metadata: [MetadataEntry] = [], streamWindow: UInt32 = 0
    ) {
        self.service = service
        self.method = method
        self.payload = payload
        self.timeoutNanoseconds = timeoutNanoseconds
        self.metadata = metadata
        self.streamWindow = streamWindow
    }

    public init(wireBytes: [UInt8]) throws(RPCError) {
        self = try unpackProtobufC(
            wireBytes, as: "Request", unpack: billing__rpc__v1__request__unpack,
            free: billing__rpc__v1__request__free_unpacked
        ) { (c: Billing__Rpc__V1__Request) throws(RPCError) in
            RequestEnvelope(
                service: ProtobufCField.string(c.service),
                method: ProtobufCField.string(c.method),
                payload: ProtobufCField.bytes(c.payload),
                timeoutNanoseconds: c.timeout_nano,
                metadata: try ProtobufCField.repeated(c.n_metadata, c.metadata) { (kv: Billing__Rpc__V1__KeyValue) throws(RPCError) in
                    MetadataEntry(key: ProtobufCField.string(kv.key), value: ProtobufCField.string(kv.value))
                },
                streamWindow: c.stream_window
            )
        }
    }

    public func wireBytes() -> [UInt8] {
        let arena = ProtobufCArena()
        let c = arena.message(billing__rpc__v1__request__init)
        c.pointee.service = arena.string(service)
        c.pointee.method = arena.string(method)
        c.pointee.payload = arena.bytes(payload)
        c.pointee.timeout_nano = timeoutNanoseconds
        c.pointee.stream_window = streamWindow
        c.pointee.n_metadata = metadata.count
        c.pointee.metadata = arena.array(metadata.map { entry -> UnsafeMutablePointer<Billing__Rpc__V1__KeyValue>? in
            let kv = arena.message(billing__rpc__v1__key_value__init)
            kv.pointee.key = arena.string(entry.key)
            kv.pointee.value = arena.string(entry.value)
            return kv
        })
        // The arena owns the memory the struct points into: keep it alive until packing is done.
        return withExtendedLifetime(arena) { packProtobufC(c) }
    }
}

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

    init(_ c: Billing__Rpc__V1__Status?) throws(RPCError) {
        guard let c else {
            self = .ok
            return
        }
        self.init(
            code: StatusCode(rawValue: c.code), message: ProtobufCField.string(c.message),
            details: try ProtobufCField.repeated(c.n_details, c.details) { (d: Billing__Rpc__V1__StatusDetail) throws(RPCError) in
                StatusDetail(type: ProtobufCField.string(d.type), value: ProtobufCField.string(d.value))
            }
        )
    }

    func cStruct(in arena: ProtobufCArena) -> UnsafeMutablePointer<Billing__Rpc__V1__Status> {
        let c = arena.message(billing__rpc__v1__status__init)
        c.pointee.code = code.rawValue
        c.pointee.message = arena.string(message)
        c.pointee.n_details = details.count
        c.pointee.details = arena.array(details.map { detail -> UnsafeMutablePointer<Billing__Rpc__V1__StatusDetail>? in
            let d = arena.message(billing__rpc__v1__status_detail__init)
            d.pointee.type = arena.string(detail.type)
            d.pointee.value = arena.string(detail.value)
            return d
        })
        return c
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
        self = try unpackProtobufC(
            wireBytes, as: "Response", unpack: billing__rpc__v1__response__unpack,
            free: billing__rpc__v1__response__free_unpacked
        ) { (c: Billing__Rpc__V1__Response) throws(RPCError) in
            ResponseEnvelope(status: try RPCStatus(c.status?.pointee), payload: ProtobufCField.bytes(c.payload))
        }
    }

    public func wireBytes() -> [UInt8] {
        let arena = ProtobufCArena()
        let c = arena.message(billing__rpc__v1__response__init)
        if status != .ok { c.pointee.status = status.cStruct(in: arena) }
        c.pointee.payload = arena.bytes(payload)
        return withExtendedLifetime(arena) { packProtobufC(c) }
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
        self = try unpackProtobufC(
            wireBytes, as: "GoAway", unpack: billing__rpc__v1__go_away__unpack,
            free: billing__rpc__v1__go_away__free_unpacked
        ) { (c: Billing__Rpc__V1__GoAway) throws(RPCError) in
            GoAwayEnvelope(lastStreamID: c.last_stream_id, status: try RPCStatus(c.status?.pointee))
        }
    }

    public func wireBytes() -> [UInt8] {
        let arena = ProtobufCArena()
        let c = arena.message(billing__rpc__v1__go_away__init)
        c.pointee.last_stream_id = lastStreamID
        c.pointee.status = status.cStruct(in: arena)
        return withExtendedLifetime(arena) { packProtobufC(c) }
    }
}

/// The payload of a WINDOW_UPDATE frame: how many more DATA frames the client will take.
public struct WindowUpdateEnvelope: WireMessage, Hashable {
    public var messages: UInt32

    public init(messages: UInt32) { self.messages = messages }

    public init(wireBytes: [UInt8]) throws(RPCError) {
        self = try unpackProtobufC(
            wireBytes, as: "WindowUpdate", unpack: billing__rpc__v1__window_update__unpack,
            free: billing__rpc__v1__window_update__free_unpacked
        ) { (c: Billing__Rpc__V1__WindowUpdate) throws(RPCError) in
            WindowUpdateEnvelope(messages: c.messages)
        }
    }

    public func wireBytes() -> [UInt8] {
        let arena = ProtobufCArena()
        let c = arena.message(billing__rpc__v1__window_update__init)
        c.pointee.messages = messages
        return withExtendedLifetime(arena) { packProtobufC(c) }
    }
}
