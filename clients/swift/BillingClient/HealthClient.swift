import BillingAPI
import BillingWire

/// The health service, `grpc.health.v1.Health`, through a client. Hand-written: the generated client stubs
/// cover billing.* services only.
public struct HealthClient: Sendable {
    public let client: RPCClient

    public init(_ client: RPCClient) {
        self.client = client
    }

    /// Whether the server ("") or a service is serving. Reads are safe to retry.
    public func check(
        service: String = "", options: CallOptions = CallOptions(isIdempotent: true)
    ) async throws(RPCError) -> GrpcHealthV1.HealthCheckResponse.ServingStatus {
        try await client.unary(
            GrpcHealthV1.Health.name, GrpcHealthV1.Health.Method.check.rawValue, GrpcHealthV1.HealthCheckRequest(service: service),
            as: GrpcHealthV1.HealthCheckResponse.self, options: options
        ).status
    }

    /// The status now, then each change, until the server drains or the deadline passes.
    public func watch(
        service: String = "", options: CallOptions = CallOptions(timeout: .seconds(600))
    ) -> ServerStream<GrpcHealthV1.HealthCheckResponse> {
        client.serverStream(
            GrpcHealthV1.Health.name, GrpcHealthV1.Health.Method.watch.rawValue, GrpcHealthV1.HealthCheckRequest(service: service),
            options: options
        )
    }
}
