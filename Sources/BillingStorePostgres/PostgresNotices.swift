import BillingStore
import Logging
import PostgresNIO
import Synchronization

/// `LISTEN` for `Store.notices(on:)`: each channel on a connection of its own (a listening connection
/// cannot run the sessions' blocking statements), reconnecting a second after it breaks. Notices sent
/// while it was not listening are lost, so after every reconnection it yields `Store.noticesMayHaveBeenMissed`,
/// and whoever listens catches up on everything it watches.
final class PostgresNotices: Sendable {
    private let configuration: PostgresConnection.Configuration
    private let logger: Logger
    private let listeners = Mutex<(tasks: [Task<Void, Never>], isClosed: Bool)>(([], false))

    init(configuration: PostgresConnection.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    func notices(on channel: String) -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(4096))
        let task = Task { [configuration, logger] in
            var connectedBefore = false
            while !Task.isCancelled {
                do {
                    let connection = try await PostgresConnection.connect(
                        on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: 0, logger: logger
                    ).get()
                    do {
                        let notices = try await connection.listen(channel)
                        if connectedBefore { continuation.yield(Store.noticesMayHaveBeenMissed) }
                        connectedBefore = true
                        for try await notice in notices { continuation.yield(notice.payload) }
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
