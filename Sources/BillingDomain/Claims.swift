import BillingStore

/// Work that must run in one place at a time — advancing a test clock, delivering a subscription's
/// fulfilment, reconciling a charge — claimed in the database rather than in memory, so that several
/// daemons on one database never run the same piece at once (and two calls in one daemon neither).
///
/// A claim names its holder (``BillingContext/instanceName``) and expires, so that a daemon that dies
/// holding one blocks the work only until then; when the same daemon starts again it drops its earlier
/// run's claims at once (`releaseAll`). Each `take` is its own short transaction, committed before the
/// work starts: the work itself calls gateways and providers, which no transaction may wait on.
enum Claims {
    enum Kind: String {
        case testClockAdvance = "test_clock_advance"
        case fulfilment
        case chargeReconciliation = "charge_reconciliation"
    }

    /// Takes the claim on `id` until `expiresAt` if nobody holds it or its holder's claim has expired.
    /// Returns whether it was taken.
    static func take(_ kind: Kind, _ id: String, by holder: String, until expiresAt: Int64, now: Int64, in tx: WriteTransaction) throws -> Bool {
        try tx.execute("""
            INSERT INTO work_claims(kind, id, holder, expires_at_ms) VALUES (?, ?, ?, ?)
            ON CONFLICT(kind, id) DO UPDATE SET holder = excluded.holder, expires_at_ms = excluded.expires_at_ms
            WHERE work_claims.expires_at_ms <= ?
            """, .text(kind.rawValue), .text(id), .text(holder), .integer(expiresAt), .integer(now)) == 1
    }

    /// Moves the expiry of a claim `holder` still holds (long work renews it as it goes); false if it
    /// lost the claim.
    static func renew(_ kind: Kind, _ id: String, by holder: String, until expiresAt: Int64, in tx: WriteTransaction) throws -> Bool {
        try tx.execute(
            "UPDATE work_claims SET expires_at_ms = ? WHERE kind = ? AND id = ? AND holder = ?",
            .integer(expiresAt), .text(kind.rawValue), .text(id), .text(holder)) == 1
    }

    static func release(_ kind: Kind, _ id: String, by holder: String, in tx: WriteTransaction) throws {
        try tx.execute("DELETE FROM work_claims WHERE kind = ? AND id = ? AND holder = ?", .text(kind.rawValue), .text(id), .text(holder))
    }

    /// Drops every claim `holder` holds: at start-up, what an earlier run of this daemon left.
    static func releaseAll(heldBy holder: String, in tx: WriteTransaction) throws -> Int {
        try tx.execute("DELETE FROM work_claims WHERE holder = ?", .text(holder))
    }
}

extension BillingContext {
    /// Takes a claim for this daemon for `duration` of the wall clock; see ``Claims``.
    func takeClaim(_ kind: Claims.Kind, _ id: String, for duration: Duration) async throws -> Bool {
        let (holder, now) = (instanceName, nowMilliseconds)
        return try await store.write { tx in try Claims.take(kind, id, by: holder, until: now + duration.milliseconds, now: now, in: tx) }
    }

    func renewClaim(_ kind: Claims.Kind, _ id: String, for duration: Duration) async throws -> Bool {
        let (holder, now) = (instanceName, nowMilliseconds)
        return try await store.write { tx in try Claims.renew(kind, id, by: holder, until: now + duration.milliseconds, in: tx) }
    }

    func releaseClaim(_ kind: Claims.Kind, _ id: String) async throws {
        let holder = instanceName
        try await store.write { tx in try Claims.release(kind, id, by: holder, in: tx) }
    }
}
