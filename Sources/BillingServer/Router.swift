import BillingWire

/// Errors that know which status they stand for: the billing service makes its domain errors conform,
/// so handlers can throw them as they are.
public protocol RPCErrorConvertible: Error {
    var rpcError: RPCError { get }
}

/// Routes `service/method` to handlers; built once when the server starts, read-only after.
struct Router: Sendable {
    private let services: [String: [String: MethodHandler]]
    /// `service/method` of every method its service marks read-only.
    private let readOnlyMethods: Set<String>

    init(services: [any RPCService]) {
        var table: [String: [String: MethodHandler]] = [:]
        var readOnly: Set<String> = []
        for service in services {
            let name = type(of: service).serviceName
            precondition(table[name] == nil, "service \(name) is registered twice")
            table[name] = service.methods
            readOnly.formUnion(service.methods.keys.filter(service.isReadOnly).map { "\(name)/\($0)" })
        }
        self.services = table
        self.readOnlyMethods = readOnly
    }

    func isReadOnly(service: String, method: String) -> Bool { readOnlyMethods.contains("\(service)/\(method)") }

    var serviceNames: [String] { services.keys.sorted() }

    func hasService(_ service: String) -> Bool { services[service] != nil }

    func handler(service: String, method: String) -> MethodHandler? { services[service]?[method] }
}
