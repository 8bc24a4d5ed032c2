import BillingDomain
import BillingServer
import BillingStore
import BillingWire

/// Domain errors become statuses here, and only here: each `BillingError.Kind` has the gRPC code of the
/// same name, and the field at fault travels as a `field` detail.
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
        return RPCError(code, message, details: field.map { [.field($0)] } ?? [])
    }
}

/// A store that is overloaded asks callers to back off; any other store failure is ours (INTERNAL,
/// logged by type), and never echoes SQL arguments.
extension StoreError: RPCErrorConvertible {
    public var rpcError: RPCError {
        kind == .overloaded
            ? RPCError(.resourceExhausted, "the billing store is overloaded; retry with backoff")
            : RPCError(.internalError, "the billing store failed (\(kind)); the change was not made")
    }
}
