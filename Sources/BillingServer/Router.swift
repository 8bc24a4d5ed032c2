import BillingWire

/// Errors that know which status they stand for: the billing service makes its domain errors conform,
/// so handlers can throw them as they are.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

/// Routes `service/method` to handlers; built once when the server starts, read-only after.
struct Router: Sendable {
    private let services: [String: [String: MethodHandler]]

    init(services: [any RPCService]) {
        var table: [String: [String: MethodHandler]] = [:]
        for service in services {
            let name = type(of: service).serviceName
            precondition(table[name] == nil, "service \(name) is registered twice")
            table[name] = service.methods
        }
        self.services = table
    }

    var serviceNames: [String] { services.keys.sorted() }

    func hasService(_ service: String) -> Bool { services[service] != nil }

    func handler(service: String, method: String) -> MethodHandler? { services[service]?[method] }
}
