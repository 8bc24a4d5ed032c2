import BillingStore
import Foundation

/// Reads and writes idempotency records inside the transaction that makes the change. A record holds a
/// key, the fingerprint of its request and the request's outcome: a result or an error, stored as JSON.
/// A request whose outcome waits on something outside the database (a charge at the gateway) stores a
/// pending record naming what it waits on (`reference`), and completes it later by that name. What the
/// reference means is the caller's business: this layer knows nothing of charges.
enum IdempotencyRecords {
    /// What a key has recorded so far.
    enum Recorded<Result> {
        case none
        case done(Result)
        /// A request still waiting on `reference` (for example the charge it sent).
        case pending(reference: String?)
    }

    /// A stored outcome: the first reply, or the first error (a declined card stays declined on retry).
    private struct Outcome<Result: Codable>: Codable {
        var result: Result?
        var error: BillingError?
    }

    /// What the key recorded; a recorded error is thrown again.
    static func look<Result: Codable>(_ key: IdempotencyKey, in tx: some Querying, as: Result.Type) throws -> Recorded<Result> {
        guard let row = try tx.queryOne(
            "SELECT fingerprint, state, result, charge_id FROM idempotency_keys WHERE scope = ? AND key = ?",
            .text(key.scope), .text(key.key))
        else { return .none }
        guard try row.string("fingerprint") == key.fingerprint else {
            throw BillingError.invalidArgument(
                "idempotency_key was already used for a different request; use a new key for new parameters",
                field: "idempotency_key", reason: .idempotencyKeyReused)
        }
        guard try row.string("state") == "done" else { return .pending(reference: try row.optionalString("charge_id")) }
        let outcome = try JSONDecoder().decode(Outcome<Result>.self, from: Data(try row.string("result").utf8))
        if let error = outcome.error { throw error }
        guard let result = outcome.result else { throw BillingError.internalError("idempotency record without an outcome") }
        return .done(result)
    }

    /// Runs `change` once per key, in one write transaction with the record of its outcome: a retry
    /// gets the first result back and changes nothing. The one skeleton of every idempotent write that
    /// needs nothing outside the database.
    static func once<Result: Codable & Sendable>(
        _ key: IdempotencyKey, in store: Store, nowMilliseconds now: Int64,
        _ change: @escaping @Sendable (WriteTransaction) throws -> Result
    ) async throws -> Result {
        try await onceNotingReplay(key, in: store, nowMilliseconds: now, change).result
    }

    /// `once`, also saying whether the result is a replay (the change ran earlier, not now).
    static func onceNotingReplay<Result: Codable & Sendable>(
        _ key: IdempotencyKey, in store: Store, nowMilliseconds now: Int64,
        _ change: @escaping @Sendable (WriteTransaction) throws -> Result
    ) async throws -> (result: Result, replayed: Bool) {
        try await store.write { tx in try onceNotingReplay(key, in: tx, nowMilliseconds: now, change) }
    }

    /// `onceNotingReplay` inside a write transaction the caller runs (for a change that must share it
    /// with something else, such as a wallet credit that its actor applies after the commit).
    static func onceNotingReplay<Result: Codable & Sendable>(
        _ key: IdempotencyKey, in tx: WriteTransaction, nowMilliseconds now: Int64, _ change: (WriteTransaction) throws -> Result
    ) throws -> (result: Result, replayed: Bool) {
        if case .done(let earlier) = try look(key, in: tx, as: Result.self) { return (earlier, true) }
        let result = try change(tx)
        try saveDone(result, key: key, in: tx, nowMilliseconds: now)
        return (result, false)
    }

    /// Stores `result` as the key's outcome, in the transaction that made the change.
    static func saveDone<Result: Codable>(_ result: Result, key: IdempotencyKey, in tx: WriteTransaction, nowMilliseconds: Int64) throws {
        try save(Outcome(result: result, error: nil), key: key, in: tx, nowMilliseconds: nowMilliseconds)
    }

    /// Marks a key as waiting on `reference`.
    static func savePending(_ key: IdempotencyKey, reference: String, in tx: WriteTransaction, nowMilliseconds: Int64) throws {
        try tx.execute(
            "INSERT INTO idempotency_keys(scope, key, fingerprint, state, charge_id, created_at_ms) VALUES (?, ?, ?, 'pending', ?, ?)",
            .text(key.scope), .text(key.key), .text(key.fingerprint), .text(reference), .integer(nowMilliseconds))
    }

    /// Completes the pending record waiting on `reference` with its result.
    static func complete<Result: Codable>(reference: String, result: Result, in tx: WriteTransaction) throws {
        try complete(reference: reference, outcome: Outcome(result: result, error: nil), in: tx)
    }

    /// Completes the pending record waiting on `reference` with an error that retries get back.
    static func complete(reference: String, error: BillingError, in tx: WriteTransaction) throws {
        try complete(reference: reference, outcome: Outcome<Bool>(result: nil, error: error), in: tx)
    }

    /// Forgets the pending record waiting on `reference`, whose work certainly did not happen, so that a
    /// retry runs afresh.
    static func release(reference: String, in tx: WriteTransaction) throws {
        try tx.execute("DELETE FROM idempotency_keys WHERE charge_id = ? AND state = 'pending'", .text(reference))
    }

    /// Drops finished keys older than the retention period; returns how many.
    static func purge(olderThanMilliseconds cutoff: Int64, in tx: WriteTransaction) throws -> Int {
        try tx.execute("DELETE FROM idempotency_keys WHERE created_at_ms < ? AND state = 'done'", .integer(cutoff))
    }

    private static func complete<Result: Codable>(reference: String, outcome: Outcome<Result>, in tx: WriteTransaction) throws {
        // Most charges the schedule makes (renewals) have no request waiting: encode nothing for them.
        guard try tx.queryOne("SELECT 1 AS one FROM idempotency_keys WHERE charge_id = ? AND state = 'pending'", .text(reference)) != nil else { return }
        let json = String(decoding: try JSONEncoder().encode(outcome), as: UTF8.self)
        try tx.execute("UPDATE idempotency_keys SET state = 'done', result = ? WHERE charge_id = ? AND state = 'pending'", .text(json), .text(reference))
    }

    private static func save<Result: Codable>(_ outcome: Outcome<Result>, key: IdempotencyKey, in tx: WriteTransaction, nowMilliseconds: Int64) throws {
        let json = String(decoding: try JSONEncoder().encode(outcome), as: UTF8.self)
        try tx.execute("""
            INSERT INTO idempotency_keys(scope, key, fingerprint, state, result, created_at_ms) VALUES (?, ?, ?, 'done', ?, ?)
            ON CONFLICT(scope, key) DO UPDATE SET state = 'done', result = excluded.result
            """, .text(key.scope), .text(key.key), .text(key.fingerprint), .text(json), .integer(nowMilliseconds))
    }
}

/// Runs requests with the same idempotency key one after another, in this process: the second waits for
/// the first, then finds its stored outcome. Requests with different keys run concurrently.
actor KeyedSerialQueue {
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    func run<T: Sendable>(_ key: String, _ body: @Sendable () async throws -> T) async throws -> T {
        await acquire(key)
        do {
            let result = try await body()
            release(key)
            return result
        } catch {
            release(key)
            throw error
        }
    }

    private func acquire(_ key: String) async {
        if waiters[key] == nil {
            waiters[key] = []
            return
        }
        await withCheckedContinuation { waiters[key, default: []].append($0) }
    }

    private func release(_ key: String) {
        guard var queue = waiters[key], !queue.isEmpty else {
            waiters[key] = nil
            return
        }
        let next = queue.removeFirst()
        waiters[key] = queue
        next.resume()
    }
}
