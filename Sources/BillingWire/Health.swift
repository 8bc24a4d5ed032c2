import BillingProtos

/// `grpc.health.v1.Health`: the names and messages of the health service.
public enum Health {
    public static let serviceName = "grpc.health.v1.Health"

    /// Whether a service (or the server, for "") takes calls.
    public enum ServingStatus: Int32, Sendable, CustomStringConvertible {
        case unknown = 0
        case serving = 1
        case notServing = 2
        case serviceUnknown = 3

        public var description: String {
            switch self {
            case .unknown: "UNKNOWN"
            case .serving: "SERVING"
            case .notServing: "NOT_SERVING"
            case .serviceUnknown: "SERVICE_UNKNOWN"
            }
        }
    }

    public struct CheckRequest: WireMessage, Hashable {
        /// "" asks about the server as a whole.
        public var service: String
        public init(service: String = "") { self.service = service }

        public init(wireBytes: [UInt8]) throws(RPCError) {
            self = try unpackProtobufC(
                wireBytes, as: "HealthCheckRequest", unpack: grpc__health__v1__health_check_request__unpack,
                free: grpc__health__v1__health_check_request__free_unpacked
            ) { (c: Grpc__Health__V1__HealthCheckRequest) throws(RPCError) in
                CheckRequest(service: ProtobufCField.string(c.service))
            }
        }

        public func wireBytes() -> [UInt8] {
            let arena = ProtobufCArena()
            let c = arena.message(grpc__health__v1__health_check_request__init)
            c.pointee.service = arena.string(service)
            return packProtobufC(c)
        }
    }

    public struct CheckResponse: WireMessage, Hashable {
        public var status: ServingStatus
        public init(status: ServingStatus) { self.status = status }

        public init(wireBytes: [UInt8]) throws(RPCError) {
            self = try unpackProtobufC(
                wireBytes, as: "HealthCheckResponse", unpack: grpc__health__v1__health_check_response__unpack,
                free: grpc__health__v1__health_check_response__free_unpacked
            ) { (c: Grpc__Health__V1__HealthCheckResponse) throws(RPCError) in
                CheckResponse(status: ServingStatus(rawValue: Int32(c.status.rawValue)) ?? .unknown)
            }
        }

        public func wireBytes() -> [UInt8] {
            let arena = ProtobufCArena()
            let c = arena.message(grpc__health__v1__health_check_response__init)
            c.pointee.status = Grpc__Health__V1__HealthCheckResponse__ServingStatus(rawValue: UInt32(status.rawValue))
            return packProtobufC(c)
        }
    }
}
