import BillingDomain
import BillingServer
import CMalloc
import Logging
import ServiceLifecycle

/// The RPC server as a service: serves until the group shuts down gracefully (SIGTERM, SIGINT), then
/// drains: no new calls, calls in flight finish within the grace period.
struct RPCServerService: Service, CustomStringConvertible {
    let server: RPCServer
    var description: String { "rpc-server" }

    func run() async throws {
        try server.start()
        try? await gracefulShutdown()
        await server.shutdown()
    }
}

/// The domain's upkeep, every `interval` until shutdown: settle charges whose gateway answer an outage
/// lost, drop expired idempotency keys, deliver fulfilment actions that failed before, and hand freed
/// heap memory back to the system.
struct UpkeepService: Service, CustomStringConvertible {
    let billing: Billing
    let interval: Duration
    let logger: Logger
    var description: String { "upkeep" }

    func run() async throws {
        await repeatUntilShutdown(every: interval) {
            do {
                let done = try await billing.maintain()
                // What a burst of connections or calls freed goes back to the system.
                _ = billing_return_free_memory()
                if done.reconciledCharges > 0 { logger.notice("reconciled pending charges", metadata: ["count": "\(done.reconciledCharges)"]) }
            } catch is CancellationError {
                // Shutting down.
            } catch {
                logger.error("upkeep failed; it runs again at the next interval", metadata: ["error_type": "\(type(of: error))"])
            }
        }
    }
}

/// The subscription schedule, every `interval` until shutdown: renewals, payment retries, trial ends
/// and expiries that are due on the wall clock, then fulfilment deliveries.
struct RenewalService: Service, CustomStringConvertible {
    let billing: Billing
    let interval: Duration
    let logger: Logger
    var description: String { "renewals" }

    func run() async throws {
        await repeatUntilShutdown(every: interval) {
            do {
                let ran = try await billing.scheduler.runDue()
                if ran > 0 { logger.info("ran scheduled subscription actions", metadata: ["count": "\(ran)"]) }
            } catch is CancellationError {
                // Shutting down: each action is its own transactions, and a half-run page is picked up at the next start.
            } catch let failed as SubscriptionScheduler.ActionsFailed {
                logger.error("scheduled subscription actions failed; they stay due and run again at the next interval", metadata: [
                    "failed": "\(failed.count)", "ran": "\(failed.ran)", "first_error": "\(failed.first)",
                ])
            } catch {
                logger.error("the subscription schedule could not be read; it runs again at the next interval", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// The Prometheus endpoint as a service: up until shutdown.
struct MetricsService: Service, CustomStringConvertible {
    let endpoint: MetricsEndpoint
    var description: String { "metrics" }

    func run() async throws {
        try endpoint.start()
        try? await gracefulShutdown()
        endpoint.stop()
    }
}

/// Runs `round` every `interval` until the service group shuts down gracefully. A round handles its own
/// errors; each is its own transactions, so stopping between rounds, or in one whose writes are then
/// refused, leaves nothing half done.
private func repeatUntilShutdown(every interval: Duration, _ round: @escaping @Sendable () async -> Void) async {
    try? await cancelWhenGracefulShutdown {
        while true {
            try await Task.sleep(for: interval)
            await round()
        }
    }
}
