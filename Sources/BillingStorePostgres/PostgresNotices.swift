import BillingLocking
import BillingStore
import Logging
import PostgresNIO

/// `LISTEN` for `Store.notices(on:)`: each channel on a connection of its own (a listening connection
/// cannot run the sessions' blocking statements), reconnecting a second after it breaks. Notices sent
/// while it was not listening are lost, so each time LISTEN takes effect (the first time too) it yields
/// `Store.noticesMayHaveBeenMissed`, and whoever listens catches up on everything it follows.
final class PostgresNotices: Sendable {
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let listeners = Locked<(tasks: [Task<Void, Never>], isClosed: Bool)>(([], false))

    init(configuration: PostgresConnection.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    func notices(on channel: String) -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(4096))
        let task = Task { [configuration, logger] in
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(
                        on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: 0, logger: logger
                    ).get()
                    do {
                        try await connection.listen(on: channel) { notices in
                            // Whatever was sent before LISTEN took effect, at start or while reconnecting, was missed.
                            continuation.yield(Store.noticesMayHaveBeenMissed)
                            for try await notice in notices { continuation.yield(notice.payload) }
                        }
                    } catch {}
                    try? await connection.close()
                } catch {
                    // PostgreSQL cannot be reached: try again below.
                }
                try? await Task.sleep(for: .seconds(1))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        let closed = listeners.withLock { listeners in
            listeners.tasks.append(task)
            return listeners.isClosed
        }
        if closed { task.cancel() }
        return stream
    }

    /// Stops listening; every stream ends.
    func close() {
        let tasks = listeners.withLock { listeners in
            listeners.isClosed = true
            return listeners.tasks
        }
        for task in tasks { task.cancel() }
    }
}
