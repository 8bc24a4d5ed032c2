// libFuzzer target: the decoding of every request message the server takes (billing.v1.BillingService and
// grpc.health.v1.Health), through the generated `init(wireBytes:)`: protobuf-c's unpacking, the string check
// (StringFieldCheck) and the copy into Swift values. Input: byte 0 picks the message type (modulo the count
// below), the rest is its bytes. Each type must accept exactly what protobuf-c unpacks with every string
// clean (fuzz/support/StringOracle.swift), refuse the rest as INVALID_ARGUMENT, and round-trip what it
// accepts (fuzz/support/RoundTrip.swift).
//
// fuzz/seeds.py reads the names below to write one seed per type, with byte 0 its index: keep the order.
import BillingAPI
import BillingProtos
import BillingWire

let requestTypes: [(name: String, check: @Sendable ([UInt8]) -> Void)] = [
    ("billing.v1.CreateAccountRequest", { checkDecoding(BillingV1.CreateAccountRequest.self, billing__v1__create_account_request__descriptor, $0) }),
    ("billing.v1.GetAccountRequest", { checkDecoding(BillingV1.GetAccountRequest.self, billing__v1__get_account_request__descriptor, $0) }),
    ("billing.v1.GetBillingInformationRequest", { checkDecoding(BillingV1.GetBillingInformationRequest.self, billing__v1__get_billing_information_request__descriptor, $0) }),
    ("billing.v1.UpdateBillingInformationRequest", { checkDecoding(BillingV1.UpdateBillingInformationRequest.self, billing__v1__update_billing_information_request__descriptor, $0) }),
    ("billing.v1.AddPaymentMethodRequest", { checkDecoding(BillingV1.AddPaymentMethodRequest.self, billing__v1__add_payment_method_request__descriptor, $0) }),
    ("billing.v1.RemovePaymentMethodRequest", { checkDecoding(BillingV1.RemovePaymentMethodRequest.self, billing__v1__remove_payment_method_request__descriptor, $0) }),
    ("billing.v1.SetPrimaryPaymentMethodRequest", { checkDecoding(BillingV1.SetPrimaryPaymentMethodRequest.self, billing__v1__set_primary_payment_method_request__descriptor, $0) }),
    ("billing.v1.ListPaymentMethodsRequest", { checkDecoding(BillingV1.ListPaymentMethodsRequest.self, billing__v1__list_payment_methods_request__descriptor, $0) }),
    ("billing.v1.CreateInvoiceRequest", { checkDecoding(BillingV1.CreateInvoiceRequest.self, billing__v1__create_invoice_request__descriptor, $0) }),
    ("billing.v1.InvoiceActionRequest", { checkDecoding(BillingV1.InvoiceActionRequest.self, billing__v1__invoice_action_request__descriptor, $0) }),
    ("billing.v1.GetInvoiceRequest", { checkDecoding(BillingV1.GetInvoiceRequest.self, billing__v1__get_invoice_request__descriptor, $0) }),
    ("billing.v1.ListInvoicesRequest", { checkDecoding(BillingV1.ListInvoicesRequest.self, billing__v1__list_invoices_request__descriptor, $0) }),
    ("billing.v1.DownloadInvoicePdfRequest", { checkDecoding(BillingV1.DownloadInvoicePdfRequest.self, billing__v1__download_invoice_pdf_request__descriptor, $0) }),
    ("billing.v1.ListChargesRequest", { checkDecoding(BillingV1.ListChargesRequest.self, billing__v1__list_charges_request__descriptor, $0) }),
    ("billing.v1.GetWalletRequest", { checkDecoding(BillingV1.GetWalletRequest.self, billing__v1__get_wallet_request__descriptor, $0) }),
    ("billing.v1.AddBalanceRequest", { checkDecoding(BillingV1.AddBalanceRequest.self, billing__v1__add_balance_request__descriptor, $0) }),
    ("billing.v1.ConfigureAutoRechargeRequest", { checkDecoding(BillingV1.ConfigureAutoRechargeRequest.self, billing__v1__configure_auto_recharge_request__descriptor, $0) }),
    ("billing.v1.RecordUsageRequest", { checkDecoding(BillingV1.RecordUsageRequest.self, billing__v1__record_usage_request__descriptor, $0) }),
    ("billing.v1.ListWalletTransactionsRequest", { checkDecoding(BillingV1.ListWalletTransactionsRequest.self, billing__v1__list_wallet_transactions_request__descriptor, $0) }),
    ("billing.v1.SummarizeWalletTransactionsRequest", { checkDecoding(BillingV1.SummarizeWalletTransactionsRequest.self, billing__v1__summarize_wallet_transactions_request__descriptor, $0) }),
    ("billing.v1.WatchWalletRequest", { checkDecoding(BillingV1.WatchWalletRequest.self, billing__v1__watch_wallet_request__descriptor, $0) }),
    ("billing.v1.ListPlansRequest", { checkDecoding(BillingV1.ListPlansRequest.self, billing__v1__list_plans_request__descriptor, $0) }),
    ("billing.v1.CreateSubscriptionRequest", { checkDecoding(BillingV1.CreateSubscriptionRequest.self, billing__v1__create_subscription_request__descriptor, $0) }),
    ("billing.v1.GetSubscriptionRequest", { checkDecoding(BillingV1.GetSubscriptionRequest.self, billing__v1__get_subscription_request__descriptor, $0) }),
    ("billing.v1.ListSubscriptionsRequest", { checkDecoding(BillingV1.ListSubscriptionsRequest.self, billing__v1__list_subscriptions_request__descriptor, $0) }),
    ("billing.v1.PreviewSubscriptionChangeRequest", { checkDecoding(BillingV1.PreviewSubscriptionChangeRequest.self, billing__v1__preview_subscription_change_request__descriptor, $0) }),
    ("billing.v1.UpdateSubscriptionRequest", { checkDecoding(BillingV1.UpdateSubscriptionRequest.self, billing__v1__update_subscription_request__descriptor, $0) }),
    ("billing.v1.CancelSubscriptionRequest", { checkDecoding(BillingV1.CancelSubscriptionRequest.self, billing__v1__cancel_subscription_request__descriptor, $0) }),
    ("billing.v1.ResumeSubscriptionRequest", { checkDecoding(BillingV1.ResumeSubscriptionRequest.self, billing__v1__resume_subscription_request__descriptor, $0) }),
    ("billing.v1.CreateTestClockRequest", { checkDecoding(BillingV1.CreateTestClockRequest.self, billing__v1__create_test_clock_request__descriptor, $0) }),
    ("billing.v1.GetTestClockRequest", { checkDecoding(BillingV1.GetTestClockRequest.self, billing__v1__get_test_clock_request__descriptor, $0) }),
    ("billing.v1.AdvanceTestClockRequest", { checkDecoding(BillingV1.AdvanceTestClockRequest.self, billing__v1__advance_test_clock_request__descriptor, $0) }),
    ("billing.v1.GetBillingOverviewRequest", { checkDecoding(BillingV1.GetBillingOverviewRequest.self, billing__v1__get_billing_overview_request__descriptor, $0) }),
    ("billing.v1.DiagnosePaymentsRequest", { checkDecoding(BillingV1.DiagnosePaymentsRequest.self, billing__v1__diagnose_payments_request__descriptor, $0) }),
    ("grpc.health.v1.HealthCheckRequest", { checkDecoding(GrpcHealthV1.HealthCheckRequest.self, grpc__health__v1__health_check_request__descriptor, $0) }),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    requestTypes[Int(data[0]) % requestTypes.count].check(Array(UnsafeBufferPointer(start: data + 1, count: size - 1)))
    return 0
}
