import BillingLocking
import BillingWire
import CoreMetrics

/// The server's metrics, through swift-metrics (whatever backend `billingd` bootstraps):
/// calls by method and status, latency by method, open connections and bytes moved.
///
/// Metric handles are made once per label set and reused, so recording costs no factory lookup per call.
final class ServerMetrics: Sendable {
    private struct CallKey: Hashable {
        var method: String
        var code: StatusCode
    }

    private let callCounters = Locked<[CallKey: Counter]>([:])
    private let latencyTimers = Locked<[String: Timer]>([:])
    let openConnections = Meter(label: "billing_rpc_connections")
    let connectionsRefused = Counter(label: "billing_rpc_connections_refused_total")
    let bytesReceived = Counter(label: "billing_rpc_received_bytes_total")
    let bytesSent = Counter(label: "billing_rpc_sent_bytes_total")

    /// The method labels in use: the registered methods called so far, and "unknown".
    var methodLabels: Set<String> { latencyTimers.withLock { Set($0.keys) } }

    func recordCall(method: String, code: StatusCode, duration: Duration) {
        let key = CallKey(method: method, code: code)
        let counter = callCounters.withLock { counters in
            if let counter = counters[key] { return counter }
            // Bounded: methods are the registered ones plus one bucket for every unknown name.
            let counter = Counter(label: "billing_rpc_calls_total", dimensions: [("method", method), ("code", code.description)])
            counters[key] = counter
            return counter
        }
        counter.increment()
        let timer = latencyTimers.withLock { timers in
            if let timer = timers[method] { return timer }
            let timer = Timer(label: "billing_rpc_duration_seconds", dimensions: [("method", method)], preferredDisplayUnit: .seconds)
            timers[method] = timer
            return timer
        }
        timer.recordNanoseconds(duration.nanoseconds)
    }
}
