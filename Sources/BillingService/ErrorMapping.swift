import BillingDomain
import BillingServer
import BillingStore
import BillingWire

/// Domain errors become statuses here, and only here: each `BillingError.Kind` has the gRPC code of the
/// same name; the reason travels as a `reason` detail, the field at fault as a `field` detail, and a
/// gateway's decline code as a `decline_code` detail.
extension BillingError: RPCErrorConvertible {
    public var rpcError: RPCError {
        let code: StatusCode =
            switch kind {
            case .invalidArgument: .invalidArgument
            case .notFound: .notFound
            case .alreadyExists: .alreadyExists
            case .failedPrecondition: .failedPrecondition
            case .resourceExhausted: .resourceExhausted
            case .aborted: .aborted
            case .unavailable: .unavailable
            case .internal: .internalError
            }
        var details: [StatusDetail] = [.reason(reason.rawValue)]
        if let field { details.append(.field(field)) }
        if let declineCode { details.append(StatusDetail(type: "decline_code", value: declineCode)) }
        return RPCError(code, message, details: details)
    }
}

/// A store that is overloaded asks callers to back off; a full disk (RESOURCE_EXHAUSTED, `storage_full`)
/// and an I/O error (UNAVAILABLE, `storage_error`) tell them that nothing was stored and that retrying
/// later is safe; so do an unreachable database server (UNAVAILABLE, `store_unavailable`) and writes that
/// kept conflicting with other daemons' (ABORTED, `store_conflict`). Any other store failure is ours
/// (INTERNAL, logged by type). None echoes SQL arguments.
extension StoreError: RPCErrorConvertible {
    public var rpcError: RPCError {
        if kind == .overloaded {
            return RPCError(
                .resourceExhausted, "the billing store is overloaded; retry with backoff",
                reason: BillingError.Reason.storeOverloaded.rawValue)
        }
        if kind == .unavailable {
            return RPCError(
                .unavailable,
                "the billing store's database cannot be reached; the change was not made, or, if the connection broke as it committed, may have been: retry later with the same idempotency key",
                reason: BillingError.Reason.storeUnavailable.rawValue)
        }
        if kind == .conflict {
            return RPCError(
                .aborted, "concurrent changes to the same records kept conflicting with this one; nothing was stored; retry",
                reason: BillingError.Reason.storeConflict.rawValue)
        }
        switch storageFault {
        case .full:
            return RPCError(
                .resourceExhausted, "the billing store's disk is full; the change was not made; retry once space is freed",
                reason: BillingError.Reason.storageFull.rawValue)
        case .ioError:
            return RPCError(
                .unavailable, "the billing store's disk failed (I/O error \(resultCode)); the change was not made; retry later",
                reason: BillingError.Reason.storageError.rawValue)
        case nil:
            return RPCError(
                .internalError, "the billing store failed (\(kind)); the change was not made",
                reason: BillingError.Reason.storeFailed.rawValue)
        }
    }
}
