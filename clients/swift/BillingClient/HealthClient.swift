import BillingWire

/// The health service, `grpc.health.v1.Health`, through a client.
public struct HealthClient: Sendable {
    public let client: RPCClient

    public init(_ client: RPCClient) {
        self.client = client
    }

    /// Whether the server ("") or a service is serving. Reads are safe to retry.
    public func check(service: String = "", options: CallOptions = CallOptions(isIdempotent: true)) async throws(RPCError) -> Health.ServingStatus {
        try await client.unary(Health.serviceName, "Check", Health.CheckRequest(service: service), as: Health.CheckResponse.self, options: options).status
    }

    /// The status now, then each change, until the server drains or the deadline passes.
    public func watch(service: String = "", options: CallOptions = CallOptions(timeout: .seconds(600))) -> ServerStream<Health.CheckResponse> {
        client.serverStream(Health.serviceName, "Watch", Health.CheckRequest(service: service), options: options)
    }
}
