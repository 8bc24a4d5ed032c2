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

/// A store that is overloaded asks callers to back off; any other store failure is ours (INTERNAL,
/// logged by type), and never echoes SQL arguments.
extension StoreError: RPCErrorConvertible {
    public var rpcError: RPCError {
        kind == .overloaded
            ? RPCError(.resourceExhausted, "the billing store is overloaded; retry with backoff", reason: BillingError.Reason.storeOverloaded.rawValue)
            : RPCError(.internalError, "the billing store failed (\(kind)); the change was not made", reason: BillingError.Reason.storeFailed.rawValue)
    }
}
