// The health service's messages and names are generated (GrpcHealthV1, in BillingAPI) from
// proto/grpc/health/v1/health.proto, but this server glue and HealthClient stay hand-written:
// proto/generate_swift.py makes handler protocols and client stubs for billing.* services only.
import BillingAPI
import BillingLocking
import BillingWire

/// `grpc.health.v1.Health`: `Check` answers whether the server (service "") or one service is serving;
/// `Watch` streams the status now and on every change. The server reports NOT_SERVING while it drains.
public final class HealthService: RPCService {
    /// `grpc.health.v1.HealthCheckResponse.ServingStatus`, under a name that fits this class.
    public typealias ServingStatus = GrpcHealthV1.HealthCheckResponse.ServingStatus

    public static let serviceName = GrpcHealthV1.Health.name

    /// Check and Watch only read: every caller may ask whether the server serves.
    public func isReadOnly(method: String) -> Bool { true }

    private struct State {
        var statuses: [String: ServingStatus] = [:]
        var watchers: [Int: (service: String, continuation: AsyncStream<ServingStatus>.Continuation)] = [:]
        var nextWatcherID = 0
        var isDraining = false
    }

    private let state = Locked(State())

    public init() {}

    /// Sets the status of `service` ("" for the server as a whole) and tells its watchers.
    public func setStatus(_ status: ServingStatus, for service: String = "") {
        state.withLock { state in
            guard !state.isDraining, state.statuses[service] != status else { return }
            state.statuses[service] = status
            for watcher in state.watchers.values where watcher.service == service {
                watcher.continuation.yield(status)
            }
        }
    }

    /// The server began to shut down: everything is NOT_SERVING from now on, and open watches end
    /// after saying so, so that they do not hold the drain open.
    public func beginDrain() async {
        let watchers = state.withLock { state in
            state.isDraining = true
            for service in state.statuses.keys { state.statuses[service] = .notServing }
            defer { state.watchers = [:] }
            return state.watchers.values
        }
        for watcher in watchers {
            watcher.continuation.yield(.notServing)
            watcher.continuation.finish()
        }
    }

    public func status(of service: String) -> ServingStatus? {
        state.withLock { $0.statuses[service] }
    }

    public var methods: [String: MethodHandler] {
        [
            GrpcHealthV1.Health.Method.check.rawValue: .unary { [self] (request: GrpcHealthV1.HealthCheckRequest, _) in
                guard let status = status(of: request.service) else {
                    throw RPCError(.notFound, "no service named \"\(request.service)\" is registered for health checks")
                }
                return GrpcHealthV1.HealthCheckResponse(status: status)
            },
            GrpcHealthV1.Health.Method.watch.rawValue: .serverStream {
                [self] (request: GrpcHealthV1.HealthCheckRequest, _, stream: TypedStreamWriter<GrpcHealthV1.HealthCheckResponse>) in
                for await status in watch(request.service) {
                    try await stream.send(GrpcHealthV1.HealthCheckResponse(status: status))
                }
            },
        ]
    }

    /// The statuses of `service`: the current one first, then each change; only the newest is kept
    /// for a slow watcher, so a watch holds one status at most.
    private func watch(_ service: String) -> AsyncStream<ServingStatus> {
        let (stream, continuation) = AsyncStream.makeStream(of: ServingStatus.self, bufferingPolicy: .bufferingNewest(1))
        let id: Int? = state.withLock { state in
            continuation.yield(state.statuses[service] ?? .serviceUnknown)
            guard !state.isDraining else { return nil }
            let id = state.nextWatcherID
            state.nextWatcherID += 1
            state.watchers[id] = (service, continuation)
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }
}
