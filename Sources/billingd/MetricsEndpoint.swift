import BillingWire
import Dispatch
import Logging
import Prometheus
#if canImport(Glibc)
import Glibc
#endif

/// Serves the Prometheus text exposition over HTTP on a second Unix socket, so a Prometheus server on a
/// host where only Unix sockets are reachable can collect it through a local bridge
/// (see docs/OPERATIONS.md: `socat TCP-LISTEN:9464,bind=127.0.0.1,fork UNIX-CONNECT:data/metrics.sock`).
///
/// One scrape at a time on one queue, each bounded in bytes and time: metrics are for operators, not load.
final class MetricsEndpoint: @unchecked Sendable {
    private let registry: PrometheusCollectorRegistry
    private let path: String
    private let mode: mode_t
    private let logger: Logger
    private let queue = DispatchQueue(label: "billing.metrics")
    private var source: (any DispatchSourceRead)?

    /// - Parameter mode: the socket file's permission bits, the same as the RPC socket's.
    init(registry: PrometheusCollectorRegistry, path: String, mode: mode_t, logger: Logger) {
        self.registry = registry
        self.path = path
        self.mode = mode
        self.logger = logger
    }

    func start() throws {
        let listening = try UnixSocket.listen(path: path, mode: mode, backlog: 16)
        queue.sync {
            let source = DispatchSource.makeReadSource(fileDescriptor: listening, queue: queue)
            source.setEventHandler { [unowned self] in
                while case .connection(let fd) = UnixSocket.accept(listening) { serve(fd) }
            }
            source.setCancelHandler { close(listening) }
            self.source = source
            source.activate()
        }
    }

    func stop() {
        queue.sync {
            source?.cancel()
            source = nil
        }
        unlink(path)
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        // The request line is all we need; wait at most one second for it.
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request = [UInt8](repeating: 0, count: 4096)
        let count = read(fd, &request, request.count)
        guard count > 0 else { return }
        let line = String(decoding: request[0..<count], as: UTF8.self).prefix { $0 != "\r" && $0 != "\n" }
        var body: [UInt8] = []
        let status: String
        if line.hasPrefix("GET /metrics ") || line == "GET /metrics" {
            registry.emit(into: &body)
            status = "200 OK"
        } else {
            body = Array("only GET /metrics is served here\n".utf8)
            status = "404 Not Found"
        }
        let head = "HTTP/1.0 \(status)\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        var offset = 0
        let response = Array(head.utf8) + body
        while offset < response.count, let written = UnixSocket.writeSome(fd, response, from: offset), written > 0 {
            offset += written
        }
    }
}
