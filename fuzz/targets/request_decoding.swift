// libFuzzer target: the decoding of every request message the server takes (billing.v1.BillingService and
// grpc.health.v1.Health), through the generated `init(wireBytes:)`: protobuf-c's unpacking, the string check
// (StringFieldCheck) and the copy into Swift values. Input: byte 0 picks the message type (modulo the count
// below), the rest is its bytes. Each type must refuse bad bytes as INVALID_ARGUMENT and round-trip what
// it accepts (fuzz/support/RoundTrip.swift).
//
// fuzz/seeds.py reads the names below to write one seed per type, with byte 0 its index: keep the order.
import BillingAPI
import BillingWire

let requestTypes: [(name: String, check: @Sendable ([UInt8]) -> Void)] = [
    ("billing.v1.CreateAccountRequest", { checkRoundTrip(BillingV1.CreateAccountRequest.self, $0) }),
    ("billing.v1.GetAccountRequest", { checkRoundTrip(BillingV1.GetAccountRequest.self, $0) }),
    ("billing.v1.GetBillingInformationRequest", { checkRoundTrip(BillingV1.GetBillingInformationRequest.self, $0) }),
    ("billing.v1.UpdateBillingInformationRequest", { checkRoundTrip(BillingV1.UpdateBillingInformationRequest.self, $0) }),
    ("billing.v1.AddPaymentMethodRequest", { checkRoundTrip(BillingV1.AddPaymentMethodRequest.self, $0) }),
    ("billing.v1.RemovePaymentMethodRequest", { checkRoundTrip(BillingV1.RemovePaymentMethodRequest.self, $0) }),
    ("billing.v1.SetPrimaryPaymentMethodRequest", { checkRoundTrip(BillingV1.SetPrimaryPaymentMethodRequest.self, $0) }),
    ("billing.v1.ListPaymentMethodsRequest", { checkRoundTrip(BillingV1.ListPaymentMethodsRequest.self, $0) }),
    ("billing.v1.CreateInvoiceRequest", { checkRoundTrip(BillingV1.CreateInvoiceRequest.self, $0) }),
    ("billing.v1.InvoiceActionRequest", { checkRoundTrip(BillingV1.InvoiceActionRequest.self, $0) }),
    ("billing.v1.GetInvoiceRequest", { checkRoundTrip(BillingV1.GetInvoiceRequest.self, $0) }),
    ("billing.v1.ListInvoicesRequest", { checkRoundTrip(BillingV1.ListInvoicesRequest.self, $0) }),
    ("billing.v1.DownloadInvoicePdfRequest", { checkRoundTrip(BillingV1.DownloadInvoicePdfRequest.self, $0) }),
    ("billing.v1.ListChargesRequest", { checkRoundTrip(BillingV1.ListChargesRequest.self, $0) }),
    ("billing.v1.GetWalletRequest", { checkRoundTrip(BillingV1.GetWalletRequest.self, $0) }),
    ("billing.v1.AddBalanceRequest", { checkRoundTrip(BillingV1.AddBalanceRequest.self, $0) }),
    ("billing.v1.ConfigureAutoRechargeRequest", { checkRoundTrip(BillingV1.ConfigureAutoRechargeRequest.self, $0) }),
    ("billing.v1.RecordUsageRequest", { checkRoundTrip(BillingV1.RecordUsageRequest.self, $0) }),
    ("billing.v1.ListWalletTransactionsRequest", { checkRoundTrip(BillingV1.ListWalletTransactionsRequest.self, $0) }),
    ("billing.v1.SummarizeWalletTransactionsRequest", { checkRoundTrip(BillingV1.SummarizeWalletTransactionsRequest.self, $0) }),
    ("billing.v1.WatchWalletRequest", { checkRoundTrip(BillingV1.WatchWalletRequest.self, $0) }),
    ("billing.v1.ListPlansRequest", { checkRoundTrip(BillingV1.ListPlansRequest.self, $0) }),
    ("billing.v1.CreateSubscriptionRequest", { checkRoundTrip(BillingV1.CreateSubscriptionRequest.self, $0) }),
    ("billing.v1.GetSubscriptionRequest", { checkRoundTrip(BillingV1.GetSubscriptionRequest.self, $0) }),
    ("billing.v1.ListSubscriptionsRequest", { checkRoundTrip(BillingV1.ListSubscriptionsRequest.self, $0) }),
    ("billing.v1.PreviewSubscriptionChangeRequest", { checkRoundTrip(BillingV1.PreviewSubscriptionChangeRequest.self, $0) }),
    ("billing.v1.UpdateSubscriptionRequest", { checkRoundTrip(BillingV1.UpdateSubscriptionRequest.self, $0) }),
    ("billing.v1.CancelSubscriptionRequest", { checkRoundTrip(BillingV1.CancelSubscriptionRequest.self, $0) }),
    ("billing.v1.ResumeSubscriptionRequest", { checkRoundTrip(BillingV1.ResumeSubscriptionRequest.self, $0) }),
    ("billing.v1.CreateTestClockRequest", { checkRoundTrip(BillingV1.CreateTestClockRequest.self, $0) }),
    ("billing.v1.GetTestClockRequest", { checkRoundTrip(BillingV1.GetTestClockRequest.self, $0) }),
    ("billing.v1.AdvanceTestClockRequest", { checkRoundTrip(BillingV1.AdvanceTestClockRequest.self, $0) }),
    ("billing.v1.GetBillingOverviewRequest", { checkRoundTrip(BillingV1.GetBillingOverviewRequest.self, $0) }),
    ("billing.v1.DiagnosePaymentsRequest", { checkRoundTrip(BillingV1.DiagnosePaymentsRequest.self, $0) }),
    ("grpc.health.v1.HealthCheckRequest", { checkRoundTrip(GrpcHealthV1.HealthCheckRequest.self, $0) }),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    requestTypes[Int(data[0]) % requestTypes.count].check(Array(UnsafeBufferPointer(start: data + 1, count: size - 1)))
    return 0
}
