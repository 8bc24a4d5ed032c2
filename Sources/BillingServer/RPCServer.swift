import BillingLocking
import BillingWire
import Dispatch
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The billing RPC server: listens on a Unix socket, accepts connections within the limits, routes calls
/// to the registered services, and shuts down gracefully.
///
/// ```swift
/// let server = RPCServer(configuration: .init(socketPath: "/run/billing.sock"), services: [billing])
/// try server.start()
/// // ... on SIGTERM:
/// await server.shutdown()
/// ```
public final class RPCServer: Sendable {
    private struct State {
        var connections: [UInt64: ServerConnection] = [:]
        var nextConnectionID: UInt64 = 1
        var isShuttingDown = false
    }

    /// The listening socket's accept source, whether it is paused, and the admission tokens (one per new
    /// connection, `maxNewConnectionsPerSecond` of them a second); touched on `acceptQueue` only.
    private final class Listener: @unchecked Sendable {
        var source: (any DispatchSourceRead)?
        var isPaused = false
        var tokens: Double = 0
        var refilled = ContinuousClock.now
    }

    public let configuration: ServerConfiguration
    /// The health service, always registered; it reports SERVING for the server and every service once started.
    public let health = HealthService()
    private let router: Router
    private let services: [any RPCService]
    private let logger: Logger
    let metrics = ServerMetrics()
    private let acceptQueue = DispatchQueue(label: "billing.accept")
    private let inboundBudget: ByteBudget
    private let outboundBudget: ByteBudget
    /// The serial queues every connection's queue runs on, assigned in turn: at most one thread each.
    /// A queue of its own per connection let connection churn grow the process to hundreds of threads;
    /// Dispatch's global pool, as wide as the cores, would queue every call behind a flood of connections.
    /// Two loops per core bound the threads and let the system share the cores among them. The
    /// connections of a loop share its read buffer and take turns on it (`ChannelLoop`).
    private let loops: [ChannelLoop] = (0..<max(4, 2 * sysconf(Int32(_SC_NPROCESSORS_ONLN)))).map {
        ChannelLoop(label: "billing.loop.\($0)")
    }
    private let state = Locked(State())
    private let listener = Listener()
    private let stopped = Locked<[CheckedContinuation<Void, Never>]?>([])

    public init(configuration: ServerConfiguration, services: [any RPCService], logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.services = services + [health]
        self.router = Router(services: self.services)
        self.inboundBudget = ByteBudget(limitBytes: configuration.limits.maxBufferedInboundBytes)
        self.outboundBudget = ByteBudget(limitBytes: configuration.limits.maxBufferedOutboundBytes)
    }

    /// Binds the socket and starts accepting connections. Throws when the socket cannot be created,
    /// for example because another server listens on the path.
    public func start() throws {
        let fd = try UnixSocket.listen(path: configuration.socketPath, mode: configuration.socketMode, backlog: 1024)
        for service in router.serviceNames { health.setStatus(.serving, for: service) }
        health.setStatus(.serving)
        acceptQueue.sync {
            let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
            source.setEventHandler { [self] in acceptPendingConnections(on: fd) }
            source.setCancelHandler { close(fd) }
            listener.source = source
            source.activate()
        }
        logger.info("listening", metadata: ["socket": "\(configuration.socketPath)"])
    }

    /// Suspends until the server has shut down.
    public func waitUntilStopped() async {
        await withCheckedContinuation { continuation in
            let alreadyStopped = stopped.withLock { waiters in
                guard waiters != nil else { return true }
                waiters!.append(continuation)
                return false
            }
            if alreadyStopped { continuation.resume() }
        }
    }

    /// Graceful shutdown: stop accepting, report NOT_SERVING, tell every client to go away, let calls in
    /// flight finish within the grace period, cancel the rest, then close and remove the socket file.
    public func shutdown() async {
        let connections = state.withLock { state -> [ServerConnection]? in
            guard !state.isShuttingDown else { return nil }
            state.isShuttingDown = true
            return Array(state.connections.values)
        }
        guard let connections else { return await waitUntilStopped() }
        logger.info("shutting down", metadata: ["connections": "\(connections.count)"])
        acceptQueue.sync {
            resumeAccepting()
            listener.source?.cancel()
            listener.source = nil
        }
        unlink(configuration.socketPath)
        for service in services { await service.beginDrain() }
        for connection in connections { connection.drain() }

        let graceEnds = ContinuousClock.now + configuration.shutdownGracePeriod
        while openConnectionCount > 0, ContinuousClock.now < graceEnds {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let remaining = state.withLock { Array($0.connections.values) }
        if !remaining.isEmpty {
            logger.warning("grace period over; cancelling calls still in flight", metadata: ["connections": "\(remaining.count)"])
            for connection in remaining { connection.forceClose() }
            while openConnectionCount > 0 { try? await Task.sleep(for: .milliseconds(10)) }
        }
        logger.info("stopped")
        let waiters = stopped.withLock { waiters in
            defer { waiters = nil }
            return waiters ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Connections open now, for tests and metrics.
    public var openConnectionCount: Int { state.withLock { $0.connections.count } }

    /// Bytes of incomplete frames held or made room for, across all connections (`ServerLimits.maxBufferedInboundBytes`).
    public var bufferedInboundBytes: Int { inboundBudget.usedBytes }

    /// Reply bytes queued for peers that have not taken them yet, across all connections.
    public var bufferedOutboundBytes: Int { outboundBudget.usedBytes }

    private func acceptPendingConnections(on listeningSocket: Int32) {
        for _ in 0..<64 {
            guard takeAdmissionToken() else { return }
            switch UnixSocket.accept(listeningSocket) {
            case .connection(let fd): admit(fd)
            case .noneWaiting:
                listener.tokens += 1
                return
            case .outOfDescriptors:
                logger.error("out of file descriptors; pausing accepts for 100 ms")
                return pauseAccepting(for: .milliseconds(100))
            }
        }
    }

    /// One new connection's worth of the admission rate, or false (and accepting pauses until there is
    /// some again): past the rate, connections wait in the listen backlog instead of taking the CPU
    /// that the connections already open need.
    private func takeAdmissionToken() -> Bool {
        let rate = Double(configuration.limits.maxNewConnectionsPerSecond)
        guard rate > 0 else { return true }
        let burst = max(16, rate / 10)
        let now = ContinuousClock.now
        let elapsed = now - listener.refilled
        listener.refilled = now
        listener.tokens = min(burst, listener.tokens + rate * (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
        guard listener.tokens < 1 else {
            listener.tokens -= 1
            return true
        }
        // Wait for a few connections' worth at once, not one at a time: fewer wake-ups.
        pauseAccepting(for: .microseconds(Int(max(1_000, 8 / rate * 1e6))))
        return false
    }

    private func admit(_ fd: Int32) {
        let id = state.withLock { state in
            defer { state.nextConnectionID += 1 }
            return state.nextConnectionID
        }
        // Made outside the lock: it sets up queues and timers, and every connection that closes takes the
        // same lock to leave the table.
        let connection = ServerConnection(
            id: id, fileDescriptor: fd, loop: loops[Int(id % UInt64(loops.count))], inboundBudget: inboundBudget, outboundBudget: outboundBudget,
            router: router,
            configuration: configuration,
            metrics: metrics, logger: logger
        ) { [weak self] closed in self?.forget(closed) }
        let refusal: RPCError? = state.withLock { state in
            let refusal: RPCError? =
                if state.isShuttingDown {
                    RPCError(.unavailable, "the server is shutting down", reason: .shuttingDown)
                } else if state.connections.count >= configuration.limits.maxConnections {
                    RPCError(.resourceExhausted, "the server already has \(configuration.limits.maxConnections) connections, its limit; retry later", reason: .tooManyConnections)
                } else {
                    nil
                }
            state.connections[id] = connection
            return refusal
        }
        metrics.openConnections.increment()
        if let refusal {
            metrics.connectionsRefused.increment()
            logger.warning("refusing a connection", metadata: ["reason": "\(refusal.message)"])
            connection.refuse(refusal)
        } else {
            connection.start()
        }
    }

    private func forget(_ connection: ServerConnection) {
        state.withLock { _ = $0.connections.removeValue(forKey: connection.id) }
        metrics.openConnections.decrement()
    }

    private func pauseAccepting(for pause: DispatchTimeInterval) {
        guard let source = listener.source, !listener.isPaused else { return }
        listener.isPaused = true
        source.suspend()
        acceptQueue.asyncAfter(deadline: .now() + pause) { [self] in resumeAccepting() }
    }

    private func resumeAccepting() {
        guard listener.isPaused else { return }
        listener.isPaused = false
        listener.source?.resume()
    }
}
