// Callers of the client see the wire's public types (RPCError, StatusCode, ...) and the generated messages
// and service names (BillingV1, GrpcHealthV1) without a second import.
@_exported import BillingAPI
@_exported import BillingWire
