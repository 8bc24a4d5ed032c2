import BillingDomain
import Synchronization

/// `--gateway instant`: a processor that approves every charge at once and remembers nothing (no
/// record, no fsync, no memory of charges). Not what billingd runs: it shows what the renewal run
/// costs without the sandbox, so that the sandbox's share of the time and memory can be told apart.
final class InstantGateway: PaymentGateway {
    private let charges = Atomic(0)

    /// Charges approved so far.
    var chargeCount: Int { charges.load(ordering: .relaxed) }

    func tokenize(_ card: CardDetails) async throws -> GatewayCard {
        GatewayCard(
            token: "tok_instant_" + hex(UInt64.random(in: .min ... .max), digits: 16), brand: card.brand, last4: card.last4,
            expiryMonth: card.expiryMonth, expiryYear: card.expiryYear)
    }

    func charge(token: String, amount: Money, idempotencyKey: String, description: String) async throws -> GatewayCharge {
        charges.add(1, ordering: .relaxed)
        return GatewayCharge(reference: "ch_instant_" + idempotencyKey, status: .succeeded, amount: amount)
    }

    /// Nothing is ever lost between a charge and its answer here, so nothing is looked up.
    func lookUpCharge(idempotencyKey: String) async throws -> GatewayCharge? { nil }

    var lookUpLag: Duration { .zero }
}
