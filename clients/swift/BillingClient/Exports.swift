// Callers of the client see the wire's public types (RPCError, StatusCode, Health, ...) without a second import.
@_exported import BillingWire
