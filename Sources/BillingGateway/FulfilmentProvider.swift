/// What the billing service needs from a provider that delivers what it resells (a reselling product
/// or a marketplace app): to be told when a subscription must be provisioned, suspended, resumed,
/// changed or terminated.
///
/// Every action carries an idempotency key (the outbox row's id): a provider must act once per key,
/// and answer a repeated key with success without acting again, because a crash between its answer and
/// the billing service recording it makes the billing service send the action again.
public protocol FulfilmentProvider: Sendable {
    func perform(_ action: FulfilmentAction, idempotencyKey: String) async throws
}

/// One instruction to a provider.
public struct FulfilmentAction: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case provision, suspend, resume, change, terminate
    }

    public var kind: Kind
    /// The provider named by the plan in the catalog.
    public var provider: String
    public var subscriptionID: String
    public var accountID: String
    public var planID: String
    public var quantity: Int64

    public init(kind: Kind, provider: String, subscriptionID: String, accountID: String, planID: String, quantity: Int64) {
        self.kind = kind
        self.provider = provider
        self.subscriptionID = subscriptionID
        self.accountID = accountID
        self.planID = planID
        self.quantity = quantity
    }
}
