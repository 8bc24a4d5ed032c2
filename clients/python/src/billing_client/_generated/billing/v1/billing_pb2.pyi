from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ErrorReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ERROR_REASON_UNSPECIFIED: _ClassVar[ErrorReason]
    ERROR_REASON_CANCELLED: _ClassVar[ErrorReason]
    ERROR_REASON_UNKNOWN: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_ARGUMENT: _ClassVar[ErrorReason]
    ERROR_REASON_DEADLINE_EXCEEDED: _ClassVar[ErrorReason]
    ERROR_REASON_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_ALREADY_EXISTS: _ClassVar[ErrorReason]
    ERROR_REASON_PERMISSION_DENIED: _ClassVar[ErrorReason]
    ERROR_REASON_RESOURCE_EXHAUSTED: _ClassVar[ErrorReason]
    ERROR_REASON_FAILED_PRECONDITION: _ClassVar[ErrorReason]
    ERROR_REASON_ABORTED: _ClassVar[ErrorReason]
    ERROR_REASON_OUT_OF_RANGE: _ClassVar[ErrorReason]
    ERROR_REASON_UNIMPLEMENTED: _ClassVar[ErrorReason]
    ERROR_REASON_INTERNAL: _ClassVar[ErrorReason]
    ERROR_REASON_UNAVAILABLE: _ClassVar[ErrorReason]
    ERROR_REASON_DATA_LOSS: _ClassVar[ErrorReason]
    ERROR_REASON_UNAUTHENTICATED: _ClassVar[ErrorReason]
    ERROR_REASON_MESSAGE_TOO_LARGE: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_MESSAGE: _ClassVar[ErrorReason]
    ERROR_REASON_INVALID_STRING: _ClassVar[ErrorReason]
    ERROR_REASON_TOO_MANY_CALLS: _ClassVar[ErrorReason]
    ERROR_REASON_TOO_MANY_CONNECTIONS: _ClassVar[ErrorReason]
    ERROR_REASON_METADATA_TOO_LARGE: _ClassVar[ErrorReason]
    ERROR_REASON_UNKNOWN_SERVICE: _ClassVar[ErrorReason]
    ERROR_REASON_UNKNOWN_METHOD: _ClassVar[ErrorReason]
    ERROR_REASON_SHUTTING_DOWN: _ClassVar[ErrorReason]
    ERROR_REASON_PROTOCOL_VIOLATION: _ClassVar[ErrorReason]
    ERROR_REASON_IDLE_TIMEOUT: _ClassVar[ErrorReason]
    ERROR_REASON_UNSUPPORTED_PROTOCOL_VERSION: _ClassVar[ErrorReason]
    ERROR_REASON_SERVER_BUSY: _ClassVar[ErrorReason]
    ERROR_REASON_READ_ONLY_CALLER: _ClassVar[ErrorReason]
    ERROR_REASON_AMOUNT_TOO_LARGE: _ClassVar[ErrorReason]
    ERROR_REASON_CURRENCY_MISMATCH: _ClassVar[ErrorReason]
    ERROR_REASON_IDEMPOTENCY_KEY_REUSED: _ClassVar[ErrorReason]
    ERROR_REASON_CARD_DECLINED: _ClassVar[ErrorReason]
    ERROR_REASON_NO_PRIMARY_PAYMENT_METHOD: _ClassVar[ErrorReason]
    ERROR_REASON_PRIMARY_CARD_EXPIRED: _ClassVar[ErrorReason]
    ERROR_REASON_BILLING_ADDRESS_INCOMPLETE: _ClassVar[ErrorReason]
    ERROR_REASON_CHARGE_PENDING: _ClassVar[ErrorReason]
    ERROR_REASON_GATEWAY_UNAVAILABLE: _ClassVar[ErrorReason]
    ERROR_REASON_INVOICE_NOT_PAYABLE: _ClassVar[ErrorReason]
    ERROR_REASON_INVOICE_STATE_CONFLICT: _ClassVar[ErrorReason]
    ERROR_REASON_INSUFFICIENT_FUNDS: _ClassVar[ErrorReason]
    ERROR_REASON_WALLET_SUSPENDED: _ClassVar[ErrorReason]
    ERROR_REASON_RECHARGE_LIMIT_EXCEEDED: _ClassVar[ErrorReason]
    ERROR_REASON_TOO_MANY_WATCHERS: _ClassVar[ErrorReason]
    ERROR_REASON_WALLETS_BUSY: _ClassVar[ErrorReason]
    ERROR_REASON_STORE_OVERLOADED: _ClassVar[ErrorReason]
    ERROR_REASON_STORE_FAILED: _ClassVar[ErrorReason]
    ERROR_REASON_STORAGE_FULL: _ClassVar[ErrorReason]
    ERROR_REASON_STORAGE_ERROR: _ClassVar[ErrorReason]
    ERROR_REASON_PLAN_NOT_FOUND: _ClassVar[ErrorReason]
    ERROR_REASON_PLAN_RETIRED: _ClassVar[ErrorReason]
    ERROR_REASON_QUANTITY_OUT_OF_RANGE: _ClassVar[ErrorReason]
    ERROR_REASON_SUBSCRIPTION_ENDED: _ClassVar[ErrorReason]
    ERROR_REASON_SUBSCRIPTION_NOT_CANCELING: _ClassVar[ErrorReason]
    ERROR_REASON_SUBSCRIPTION_NOT_ACTIVE: _ClassVar[ErrorReason]
    ERROR_REASON_PLAN_CHANGE_NOT_ALLOWED: _ClassVar[ErrorReason]
    ERROR_REASON_TEST_CLOCK_BACKWARDS: _ClassVar[ErrorReason]
    ERROR_REASON_TEST_CLOCKS_UNAVAILABLE: _ClassVar[ErrorReason]
    ERROR_REASON_TOO_MANY_SUBSCRIPTIONS: _ClassVar[ErrorReason]
    ERROR_REASON_TEST_CLOCK_ADVANCING: _ClassVar[ErrorReason]
    ERROR_REASON_STORE_UNAVAILABLE: _ClassVar[ErrorReason]
    ERROR_REASON_STORE_CONFLICT: _ClassVar[ErrorReason]

class ServiceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVICE_STATUS_UNSPECIFIED: _ClassVar[ServiceStatus]
    SERVICE_STATUS_ACTIVE: _ClassVar[ServiceStatus]
    SERVICE_STATUS_SUSPENDED: _ClassVar[ServiceStatus]

class ChargeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHARGE_STATUS_UNSPECIFIED: _ClassVar[ChargeStatus]
    CHARGE_STATUS_PENDING: _ClassVar[ChargeStatus]
    CHARGE_STATUS_SUCCEEDED: _ClassVar[ChargeStatus]
    CHARGE_STATUS_FAILED: _ClassVar[ChargeStatus]

class InvoiceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVOICE_STATUS_UNSPECIFIED: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_DRAFT: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_OPEN: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_PAID: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_VOID: _ClassVar[InvoiceStatus]
    INVOICE_STATUS_UNCOLLECTIBLE: _ClassVar[InvoiceStatus]

class WalletTransactionSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WALLET_TRANSACTION_SOURCE_UNSPECIFIED: _ClassVar[WalletTransactionSource]
    WALLET_TRANSACTION_SOURCE_TOP_UP: _ClassVar[WalletTransactionSource]
    WALLET_TRANSACTION_SOURCE_AUTO_RECHARGE: _ClassVar[WalletTransactionSource]
    WALLET_TRANSACTION_SOURCE_USAGE: _ClassVar[WalletTransactionSource]
    WALLET_TRANSACTION_SOURCE_ADJUSTMENT: _ClassVar[WalletTransactionSource]

class PlanKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PLAN_KIND_UNSPECIFIED: _ClassVar[PlanKind]
    PLAN_KIND_SAAS_PLAN: _ClassVar[PlanKind]
    PLAN_KIND_RESELLING_PRODUCT: _ClassVar[PlanKind]
    PLAN_KIND_MARKETPLACE_APP: _ClassVar[PlanKind]

class IntervalUnit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTERVAL_UNIT_UNSPECIFIED: _ClassVar[IntervalUnit]
    INTERVAL_UNIT_MONTH: _ClassVar[IntervalUnit]
    INTERVAL_UNIT_YEAR: _ClassVar[IntervalUnit]

class SubscriptionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBSCRIPTION_STATUS_UNSPECIFIED: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_INCOMPLETE: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_INCOMPLETE_EXPIRED: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_TRIALING: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_ACTIVE: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_PAST_DUE: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_UNPAID: _ClassVar[SubscriptionStatus]
    SUBSCRIPTION_STATUS_CANCELED: _ClassVar[SubscriptionStatus]

class FulfilmentState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FULFILMENT_STATE_UNSPECIFIED: _ClassVar[FulfilmentState]
    FULFILMENT_STATE_NOT_APPLICABLE: _ClassVar[FulfilmentState]
    FULFILMENT_STATE_PENDING: _ClassVar[FulfilmentState]
    FULFILMENT_STATE_PROVISIONED: _ClassVar[FulfilmentState]
    FULFILMENT_STATE_SUSPENDED: _ClassVar[FulfilmentState]
    FULFILMENT_STATE_TERMINATED: _ClassVar[FulfilmentState]

class ChangeTiming(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_TIMING_UNSPECIFIED: _ClassVar[ChangeTiming]
    CHANGE_TIMING_IMMEDIATE: _ClassVar[ChangeTiming]
    CHANGE_TIMING_AT_PERIOD_END: _ClassVar[ChangeTiming]
    CHANGE_TIMING_WITHDRAW_PENDING: _ClassVar[ChangeTiming]

class FindingSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FINDING_SEVERITY_UNSPECIFIED: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_INFO: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_WARNING: _ClassVar[FindingSeverity]
    FINDING_SEVERITY_ERROR: _ClassVar[FindingSeverity]
ERROR_REASON_UNSPECIFIED: ErrorReason
ERROR_REASON_CANCELLED: ErrorReason
ERROR_REASON_UNKNOWN: ErrorReason
ERROR_REASON_INVALID_ARGUMENT: ErrorReason
ERROR_REASON_DEADLINE_EXCEEDED: ErrorReason
ERROR_REASON_NOT_FOUND: ErrorReason
ERROR_REASON_ALREADY_EXISTS: ErrorReason
ERROR_REASON_PERMISSION_DENIED: ErrorReason
ERROR_REASON_RESOURCE_EXHAUSTED: ErrorReason
ERROR_REASON_FAILED_PRECONDITION: ErrorReason
ERROR_REASON_ABORTED: ErrorReason
ERROR_REASON_OUT_OF_RANGE: ErrorReason
ERROR_REASON_UNIMPLEMENTED: ErrorReason
ERROR_REASON_INTERNAL: ErrorReason
ERROR_REASON_UNAVAILABLE: ErrorReason
ERROR_REASON_DATA_LOSS: ErrorReason
ERROR_REASON_UNAUTHENTICATED: ErrorReason
ERROR_REASON_MESSAGE_TOO_LARGE: ErrorReason
ERROR_REASON_INVALID_MESSAGE: ErrorReason
ERROR_REASON_INVALID_STRING: ErrorReason
ERROR_REASON_TOO_MANY_CALLS: ErrorReason
ERROR_REASON_TOO_MANY_CONNECTIONS: ErrorReason
ERROR_REASON_METADATA_TOO_LARGE: ErrorReason
ERROR_REASON_UNKNOWN_SERVICE: ErrorReason
ERROR_REASON_UNKNOWN_METHOD: ErrorReason
ERROR_REASON_SHUTTING_DOWN: ErrorReason
ERROR_REASON_PROTOCOL_VIOLATION: ErrorReason
ERROR_REASON_IDLE_TIMEOUT: ErrorReason
ERROR_REASON_UNSUPPORTED_PROTOCOL_VERSION: ErrorReason
ERROR_REASON_SERVER_BUSY: ErrorReason
ERROR_REASON_READ_ONLY_CALLER: ErrorReason
ERROR_REASON_AMOUNT_TOO_LARGE: ErrorReason
ERROR_REASON_CURRENCY_MISMATCH: ErrorReason
ERROR_REASON_IDEMPOTENCY_KEY_REUSED: ErrorReason
ERROR_REASON_CARD_DECLINED: ErrorReason
ERROR_REASON_NO_PRIMARY_PAYMENT_METHOD: ErrorReason
ERROR_REASON_PRIMARY_CARD_EXPIRED: ErrorReason
ERROR_REASON_BILLING_ADDRESS_INCOMPLETE: ErrorReason
ERROR_REASON_CHARGE_PENDING: ErrorReason
ERROR_REASON_GATEWAY_UNAVAILABLE: ErrorReason
ERROR_REASON_INVOICE_NOT_PAYABLE: ErrorReason
ERROR_REASON_INVOICE_STATE_CONFLICT: ErrorReason
ERROR_REASON_INSUFFICIENT_FUNDS: ErrorReason
ERROR_REASON_WALLET_SUSPENDED: ErrorReason
ERROR_REASON_RECHARGE_LIMIT_EXCEEDED: ErrorReason
ERROR_REASON_TOO_MANY_WATCHERS: ErrorReason
ERROR_REASON_WALLETS_BUSY: ErrorReason
ERROR_REASON_STORE_OVERLOADED: ErrorReason
ERROR_REASON_STORE_FAILED: ErrorReason
ERROR_REASON_STORAGE_FULL: ErrorReason
ERROR_REASON_STORAGE_ERROR: ErrorReason
ERROR_REASON_PLAN_NOT_FOUND: ErrorReason
ERROR_REASON_PLAN_RETIRED: ErrorReason
ERROR_REASON_QUANTITY_OUT_OF_RANGE: ErrorReason
ERROR_REASON_SUBSCRIPTION_ENDED: ErrorReason
ERROR_REASON_SUBSCRIPTION_NOT_CANCELING: ErrorReason
ERROR_REASON_SUBSCRIPTION_NOT_ACTIVE: ErrorReason
ERROR_REASON_PLAN_CHANGE_NOT_ALLOWED: ErrorReason
ERROR_REASON_TEST_CLOCK_BACKWARDS: ErrorReason
ERROR_REASON_TEST_CLOCKS_UNAVAILABLE: ErrorReason
ERROR_REASON_TOO_MANY_SUBSCRIPTIONS: ErrorReason
ERROR_REASON_TEST_CLOCK_ADVANCING: ErrorReason
ERROR_REASON_STORE_UNAVAILABLE: ErrorReason
ERROR_REASON_STORE_CONFLICT: ErrorReason
SERVICE_STATUS_UNSPECIFIED: ServiceStatus
SERVICE_STATUS_ACTIVE: ServiceStatus
SERVICE_STATUS_SUSPENDED: ServiceStatus
CHARGE_STATUS_UNSPECIFIED: ChargeStatus
CHARGE_STATUS_PENDING: ChargeStatus
CHARGE_STATUS_SUCCEEDED: ChargeStatus
CHARGE_STATUS_FAILED: ChargeStatus
INVOICE_STATUS_UNSPECIFIED: InvoiceStatus
INVOICE_STATUS_DRAFT: InvoiceStatus
INVOICE_STATUS_OPEN: InvoiceStatus
INVOICE_STATUS_PAID: InvoiceStatus
INVOICE_STATUS_VOID: InvoiceStatus
INVOICE_STATUS_UNCOLLECTIBLE: InvoiceStatus
WALLET_TRANSACTION_SOURCE_UNSPECIFIED: WalletTransactionSource
WALLET_TRANSACTION_SOURCE_TOP_UP: WalletTransactionSource
WALLET_TRANSACTION_SOURCE_AUTO_RECHARGE: WalletTransactionSource
WALLET_TRANSACTION_SOURCE_USAGE: WalletTransactionSource
WALLET_TRANSACTION_SOURCE_ADJUSTMENT: WalletTransactionSource
PLAN_KIND_UNSPECIFIED: PlanKind
PLAN_KIND_SAAS_PLAN: PlanKind
PLAN_KIND_RESELLING_PRODUCT: PlanKind
PLAN_KIND_MARKETPLACE_APP: PlanKind
INTERVAL_UNIT_UNSPECIFIED: IntervalUnit
INTERVAL_UNIT_MONTH: IntervalUnit
INTERVAL_UNIT_YEAR: IntervalUnit
SUBSCRIPTION_STATUS_UNSPECIFIED: SubscriptionStatus
SUBSCRIPTION_STATUS_INCOMPLETE: SubscriptionStatus
SUBSCRIPTION_STATUS_INCOMPLETE_EXPIRED: SubscriptionStatus
SUBSCRIPTION_STATUS_TRIALING: SubscriptionStatus
SUBSCRIPTION_STATUS_ACTIVE: SubscriptionStatus
SUBSCRIPTION_STATUS_PAST_DUE: SubscriptionStatus
SUBSCRIPTION_STATUS_UNPAID: SubscriptionStatus
SUBSCRIPTION_STATUS_CANCELED: SubscriptionStatus
FULFILMENT_STATE_UNSPECIFIED: FulfilmentState
FULFILMENT_STATE_NOT_APPLICABLE: FulfilmentState
FULFILMENT_STATE_PENDING: FulfilmentState
FULFILMENT_STATE_PROVISIONED: FulfilmentState
FULFILMENT_STATE_SUSPENDED: FulfilmentState
FULFILMENT_STATE_TERMINATED: FulfilmentState
CHANGE_TIMING_UNSPECIFIED: ChangeTiming
CHANGE_TIMING_IMMEDIATE: ChangeTiming
CHANGE_TIMING_AT_PERIOD_END: ChangeTiming
CHANGE_TIMING_WITHDRAW_PENDING: ChangeTiming
FINDING_SEVERITY_UNSPECIFIED: FindingSeverity
FINDING_SEVERITY_INFO: FindingSeverity
FINDING_SEVERITY_WARNING: FindingSeverity
FINDING_SEVERITY_ERROR: FindingSeverity

class Money(_message.Message):
    __slots__ = ("amount_minor", "currency")
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    amount_minor: int
    currency: str
    def __init__(self, amount_minor: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("id", "display_name", "currency", "created_at_unix_ms", "service_status", "suspension_reason", "test_clock_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    SERVICE_STATUS_FIELD_NUMBER: _ClassVar[int]
    SUSPENSION_REASON_FIELD_NUMBER: _ClassVar[int]
    TEST_CLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    currency: str
    created_at_unix_ms: int
    service_status: ServiceStatus
    suspension_reason: str
    test_clock_id: str
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., currency: _Optional[str] = ..., created_at_unix_ms: _Optional[int] = ..., service_status: _Optional[_Union[ServiceStatus, str]] = ..., suspension_reason: _Optional[str] = ..., test_clock_id: _Optional[str] = ...) -> None: ...

class CreateAccountRequest(_message.Message):
    __slots__ = ("idempotency_key", "display_name", "currency", "test_clock_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    TEST_CLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    display_name: str
    currency: str
    test_clock_id: str
    def __init__(self, idempotency_key: _Optional[str] = ..., display_name: _Optional[str] = ..., currency: _Optional[str] = ..., test_clock_id: _Optional[str] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class AccountResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: Account
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ...) -> None: ...

class BillingAddress(_message.Message):
    __slots__ = ("lines", "city", "region", "postal_code")
    LINES_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedScalarFieldContainer[str]
    city: str
    region: str
    postal_code: str
    def __init__(self, lines: _Optional[_Iterable[str]] = ..., city: _Optional[str] = ..., region: _Optional[str] = ..., postal_code: _Optional[str] = ...) -> None: ...

class BillingInformation(_message.Message):
    __slots__ = ("full_name", "country_code", "address", "complete", "missing_fields", "updated_at_unix_ms")
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELDS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    full_name: str
    country_code: str
    address: BillingAddress
    complete: bool
    missing_fields: _containers.RepeatedScalarFieldContainer[str]
    updated_at_unix_ms: int
    def __init__(self, full_name: _Optional[str] = ..., country_code: _Optional[str] = ..., address: _Optional[_Union[BillingAddress, _Mapping]] = ..., complete: _Optional[bool] = ..., missing_fields: _Optional[_Iterable[str]] = ..., updated_at_unix_ms: _Optional[int] = ...) -> None: ...

class GetBillingInformationRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class UpdateBillingInformationRequest(_message.Message):
    __slots__ = ("idempotency_key", "account_id", "full_name", "country_code", "address")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FULL_NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_CODE_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account_id: str
    full_name: str
    country_code: str
    address: BillingAddress
    def __init__(self, idempotency_key: _Optional[str] = ..., account_id: _Optional[str] = ..., full_name: _Optional[str] = ..., country_code: _Optional[str] = ..., address: _Optional[_Union[BillingAddress, _Mapping]] = ...) -> None: ...

class BillingInformationResponse(_message.Message):
    __slots__ = ("billing_information",)
    BILLING_INFORMATION_FIELD_NUMBER: _ClassVar[int]
    billing_information: BillingInformation
    def __init__(self, billing_information: _Optional[_Union[BillingInformation, _Mapping]] = ...) -> None: ...

class CardInput(_message.Message):
    __slots__ = ("number", "expiry_month", "expiry_year", "cvc", "holder_name")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_MONTH_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_YEAR_FIELD_NUMBER: _ClassVar[int]
    CVC_FIELD_NUMBER: _ClassVar[int]
    HOLDER_NAME_FIELD_NUMBER: _ClassVar[int]
    number: str
    expiry_month: int
    expiry_year: int
    cvc: str
    holder_name: str
    def __init__(self, number: _Optional[str] = ..., expiry_month: _Optional[int] = ..., expiry_year: _Optional[int] = ..., cvc: _Optional[str] = ..., holder_name: _Optional[str] = ...) -> None: ...

class PaymentMethod(_message.Message):
    __slots__ = ("id", "brand", "last4", "expiry_month", "expiry_year", "holder_name", "primary", "expired", "created_at_unix_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    LAST4_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_MONTH_FIELD_NUMBER: _ClassVar[int]
    EXPIRY_YEAR_FIELD_NUMBER: _ClassVar[int]
    HOLDER_NAME_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    brand: str
    last4: str
    expiry_month: int
    expiry_year: int
    holder_name: str
    primary: bool
    expired: bool
    created_at_unix_ms: int
    def __init__(self, id: _Optional[str] = ..., brand: _Optional[str] = ..., last4: _Optional[str] = ..., expiry_month: _Optional[int] = ..., expiry_year: _Optional[int] = ..., holder_name: _Optional[str] = ..., primary: _Optional[bool] = ..., expired: _Optional[bool] = ..., created_at_unix_ms: _Optional[int] = ...) -> None: ...

class AddPaymentMethodRequest(_message.Message):
    __slots__ = ("idempotency_key", "account_id", "card", "make_primary")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    CARD_FIELD_NUMBER: _ClassVar[int]
    MAKE_PRIMARY_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account_id: str
    card: CardInput
    make_primary: bool
    def __init__(self, idempotency_key: _Optional[str] = ..., account_id: _Optional[str] = ..., card: _Optional[_Union[CardInput, _Mapping]] = ..., make_primary: _Optional[bool] = ...) -> None: ...

class PaymentMethodResponse(_message.Message):
    __slots__ = ("payment_method",)
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    payment_method: PaymentMethod
    def __init__(self, payment_method: _Optional[_Union[PaymentMethod, _Mapping]] = ...) -> None: ...

class RemovePaymentMethodRequest(_message.Message):
    __slots__ = ("idempotency_key", "account_id", "payment_method_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account_id: str
    payment_method_id: str
    def __init__(self, idempotency_key: _Optional[str] = ..., account_id: _Optional[str] = ..., payment_method_id: _Optional[str] = ...) -> None: ...

class RemovePaymentMethodResponse(_message.Message):
    __slots__ = ("removed_payment_method_id", "removed_primary", "has_primary", "notice")
    REMOVED_PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    REMOVED_PRIMARY_FIELD_NUMBER: _ClassVar[int]
    HAS_PRIMARY_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    removed_payment_method_id: str
    removed_primary: bool
    has_primary: bool
    notice: str
    def __init__(self, removed_payment_method_id: _Optional[str] = ..., removed_primary: _Optional[bool] = ..., has_primary: _Optional[bool] = ..., notice: _Optional[str] = ...) -> None: ...

class SetPrimaryPaymentMethodRequest(_message.Message):
    __slots__ = ("idempotency_key", "account_id", "payment_method_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account_id: str
    payment_method_id: str
    def __init__(self, idempotency_key: _Optional[str] = ..., account_id: _Optional[str] = ..., payment_method_id: _Optional[str] = ...) -> None: ...

class ListPaymentMethodsRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class ListPaymentMethodsResponse(_message.Message):
    __slots__ = ("payment_methods", "primary_payment_method_id")
    PAYMENT_METHODS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    payment_methods: _containers.RepeatedCompositeFieldContainer[PaymentMethod]
    primary_payment_method_id: str
    def __init__(self, payment_methods: _Optional[_Iterable[_Union[PaymentMethod, _Mapping]]] = ..., primary_payment_method_id: _Optional[str] = ...) -> None: ...

class Charge(_message.Message):
    __slots__ = ("id", "amount", "status", "payment_method_id", "card_brand", "card_last4", "failure_code", "failure_message", "gateway_reference", "description", "invoice_id", "created_at_unix_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    CARD_BRAND_FIELD_NUMBER: _ClassVar[int]
    CARD_LAST4_FIELD_NUMBER: _ClassVar[int]
    FAILURE_CODE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    amount: Money
    status: ChargeStatus
    payment_method_id: str
    card_brand: str
    card_last4: str
    failure_code: str
    failure_message: str
    gateway_reference: str
    description: str
    invoice_id: str
    created_at_unix_ms: int
    def __init__(self, id: _Optional[str] = ..., amount: _Optional[_Union[Money, _Mapping]] = ..., status: _Optional[_Union[ChargeStatus, str]] = ..., payment_method_id: _Optional[str] = ..., card_brand: _Optional[str] = ..., card_last4: _Optional[str] = ..., failure_code: _Optional[str] = ..., failure_message: _Optional[str] = ..., gateway_reference: _Optional[str] = ..., description: _Optional[str] = ..., invoice_id: _Optional[str] = ..., created_at_unix_ms: _Optional[int] = ...) -> None: ...

class InvoiceLine(_message.Message):
    __slots__ = ("description", "quantity", "unit_amount", "amount")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    description: str
    quantity: int
    unit_amount: Money
    amount: Money
    def __init__(self, description: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_amount: _Optional[_Union[Money, _Mapping]] = ..., amount: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...

class Invoice(_message.Message):
    __slots__ = ("id", "number", "status", "lines", "subtotal", "tax", "total", "amount_paid", "amount_due", "billed_to", "created_at_unix_ms", "finalized_at_unix_ms", "due_at_unix_ms", "paid_at_unix_ms", "memo", "subscription_id", "period_start_unix_ms", "period_end_unix_ms", "billing_reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    SUBTOTAL_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_PAID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_FIELD_NUMBER: _ClassVar[int]
    BILLED_TO_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    FINALIZED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    DUE_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    PAID_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    BILLING_REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    number: str
    status: InvoiceStatus
    lines: _containers.RepeatedCompositeFieldContainer[InvoiceLine]
    subtotal: Money
    tax: Money
    total: Money
    amount_paid: Money
    amount_due: Money
    billed_to: BillingInformation
    created_at_unix_ms: int
    finalized_at_unix_ms: int
    due_at_unix_ms: int
    paid_at_unix_ms: int
    memo: str
    subscription_id: str
    period_start_unix_ms: int
    period_end_unix_ms: int
    billing_reason: str
    def __init__(self, id: _Optional[str] = ..., number: _Optional[str] = ..., status: _Optional[_Union[InvoiceStatus, str]] = ..., lines: _Optional[_Iterable[_Union[InvoiceLine, _Mapping]]] = ..., subtotal: _Optional[_Union[Money, _Mapping]] = ..., tax: _Optional[_Union[Money, _Mapping]] = ..., total: _Optional[_Union[Money, _Mapping]] = ..., amount_paid: _Optional[_Union[Money, _Mapping]] = ..., amount_due: _Optional[_Union[Money, _Mapping]] = ..., billed_to: _Optional[_Union[BillingInformation, _Mapping]] = ..., created_at_unix_ms: _Optional[int] = ..., finalized_at_unix_ms: _Optional[int] = ..., due_at_unix_ms: _Optional[int] = ..., paid_at_unix_ms: _Optional[int] = ..., memo: _Optional[str] = ..., subscription_id: _Optional[str] = ..., period_start_unix_ms: _Optional[int] = ..., period_end_unix_ms: _Optional[int] = ..., billing_reason: _Optional[str] = ...) -> None: ...

class InvoiceLineInput(_message.Message):
    __slots__ = ("description", "quantity", "unit_amount")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    description: str
    quantity: int
    unit_amount: Money
    def __init__(self, description: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_amount: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...

class CreateInvoiceRequest(_message.Message):
    __slots__ = ("idempotency_key", "account_id", "lines", "memo", "days_until_due")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    DAYS_UNTIL_DUE_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account_id: str
    lines: _containers.RepeatedCompositeFieldContainer[InvoiceLineInput]
    memo: str
    days_until_due: int
    def __init__(self, idempotency_key: _Optional[str] = ..., account_id: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[InvoiceLineInput, _Mapping]]] = ..., memo: _Optional[str] = ..., days_until_due: _Optional[int] = ...) -> None: ...

class InvoiceActionRequest(_message.Message):
    __slots__ = ("idempotency_key", "account_id", "invoice_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account_id: str
    invoice_id: str
    def __init__(self, idempotency_key: _Optional[str] = ..., account_id: _Optional[str] = ..., invoice_id: _Optional[str] = ...) -> None: ...

class InvoiceResponse(_message.Message):
    __slots__ = ("invoice", "charge")
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    CHARGE_FIELD_NUMBER: _ClassVar[int]
    invoice: Invoice
    charge: Charge
    def __init__(self, invoice: _Optional[_Union[Invoice, _Mapping]] = ..., charge: _Optional[_Union[Charge, _Mapping]] = ...) -> None: ...

class GetInvoiceRequest(_message.Message):
    __slots__ = ("account_id", "invoice_id", "number")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    invoice_id: str
    number: str
    def __init__(self, account_id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., number: _Optional[str] = ...) -> None: ...

class ListChargesRequest(_message.Message):
    __slots__ = ("account_id", "page_size", "page_token", "statuses", "created_from_unix_ms", "created_before_unix_ms")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    CREATED_FROM_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    page_size: int
    page_token: str
    statuses: _containers.RepeatedScalarFieldContainer[ChargeStatus]
    created_from_unix_ms: int
    created_before_unix_ms: int
    def __init__(self, account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[ChargeStatus, str]]] = ..., created_from_unix_ms: _Optional[int] = ..., created_before_unix_ms: _Optional[int] = ...) -> None: ...

class ListChargesResponse(_message.Message):
    __slots__ = ("charges", "next_page_token")
    CHARGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    charges: _containers.RepeatedCompositeFieldContainer[Charge]
    next_page_token: str
    def __init__(self, charges: _Optional[_Iterable[_Union[Charge, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListInvoicesRequest(_message.Message):
    __slots__ = ("account_id", "page_size", "page_token", "statuses", "created_from_unix_ms", "created_before_unix_ms")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    CREATED_FROM_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    page_size: int
    page_token: str
    statuses: _containers.RepeatedScalarFieldContainer[InvoiceStatus]
    created_from_unix_ms: int
    created_before_unix_ms: int
    def __init__(self, account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[InvoiceStatus, str]]] = ..., created_from_unix_ms: _Optional[int] = ..., created_before_unix_ms: _Optional[int] = ...) -> None: ...

class ListInvoicesResponse(_message.Message):
    __slots__ = ("invoices", "next_page_token")
    INVOICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    invoices: _containers.RepeatedCompositeFieldContainer[Invoice]
    next_page_token: str
    def __init__(self, invoices: _Optional[_Iterable[_Union[Invoice, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DownloadInvoicePdfRequest(_message.Message):
    __slots__ = ("account_id", "invoice_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    invoice_id: str
    def __init__(self, account_id: _Optional[str] = ..., invoice_id: _Optional[str] = ...) -> None: ...

class DownloadInvoicePdfResponse(_message.Message):
    __slots__ = ("pdf", "file_name")
    PDF_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    pdf: bytes
    file_name: str
    def __init__(self, pdf: _Optional[bytes] = ..., file_name: _Optional[str] = ...) -> None: ...

class AutoRecharge(_message.Message):
    __slots__ = ("enabled", "recharge_amount", "threshold")
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    RECHARGE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    enabled: bool
    recharge_amount: Money
    threshold: Money
    def __init__(self, enabled: _Optional[bool] = ..., recharge_amount: _Optional[_Union[Money, _Mapping]] = ..., threshold: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...

class Wallet(_message.Message):
    __slots__ = ("account_id", "balance", "auto_recharge", "service_status", "suspension_reason", "last_recharge_at_unix_ms", "last_recharge_charge_id", "pending_recharge", "consecutive_recharge_failures", "recharge_retry_after_unix_ms", "credits_this_month", "debits_this_month")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    AUTO_RECHARGE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_STATUS_FIELD_NUMBER: _ClassVar[int]
    SUSPENSION_REASON_FIELD_NUMBER: _ClassVar[int]
    LAST_RECHARGE_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_RECHARGE_CHARGE_ID_FIELD_NUMBER: _ClassVar[int]
    PENDING_RECHARGE_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_RECHARGE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    RECHARGE_RETRY_AFTER_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_THIS_MONTH_FIELD_NUMBER: _ClassVar[int]
    DEBITS_THIS_MONTH_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    balance: Money
    auto_recharge: AutoRecharge
    service_status: ServiceStatus
    suspension_reason: str
    last_recharge_at_unix_ms: int
    last_recharge_charge_id: str
    pending_recharge: Money
    consecutive_recharge_failures: int
    recharge_retry_after_unix_ms: int
    credits_this_month: Money
    debits_this_month: Money
    def __init__(self, account_id: _Optional[str] = ..., balance: _Optional[_Union[Money, _Mapping]] = ..., auto_recharge: _Optional[_Union[AutoRecharge, _Mapping]] = ..., service_status: _Optional[_Union[ServiceStatus, str]] = ..., suspension_reason: _Optional[str] = ..., last_recharge_at_unix_ms: _Optional[int] = ..., last_recharge_charge_id: _Optional[str] = ..., pending_recharge: _Optional[_Union[Money, _Mapping]] = ..., consecutive_recharge_failures: _Optional[int] = ..., recharge_retry_after_unix_ms: _Optional[int] = ..., credits_this_month: _Optional[_Union[Money, _Mapping]] = ..., debits_this_month: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...

class GetWalletRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class WalletResponse(_message.Message):
    __slots__ = ("wallet",)
    WALLET_FIELD_NUMBER: _ClassVar[int]
    wallet: Wallet
    def __init__(self, wallet: _Optional[_Union[Wallet, _Mapping]] = ...) -> None: ...

class WalletTransaction(_message.Message):
    __slots__ = ("id", "amount", "balance_after", "category", "description", "source", "charge_id", "usage_id", "created_at_unix_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    BALANCE_AFTER_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CHARGE_ID_FIELD_NUMBER: _ClassVar[int]
    USAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    amount: Money
    balance_after: Money
    category: str
    description: str
    source: WalletTransactionSource
    charge_id: str
    usage_id: str
    created_at_unix_ms: int
    def __init__(self, id: _Optional[str] = ..., amount: _Optional[_Union[Money, _Mapping]] = ..., balance_after: _Optional[_Union[Money, _Mapping]] = ..., category: _Optional[str] = ..., description: _Optional[str] = ..., source: _Optional[_Union[WalletTransactionSource, str]] = ..., charge_id: _Optional[str] = ..., usage_id: _Optional[str] = ..., created_at_unix_ms: _Optional[int] = ...) -> None: ...

class AddBalanceRequest(_message.Message):
    __slots__ = ("idempotency_key", "account_id", "amount")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account_id: str
    amount: Money
    def __init__(self, idempotency_key: _Optional[str] = ..., account_id: _Optional[str] = ..., amount: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...

class AddBalanceResponse(_message.Message):
    __slots__ = ("transaction", "charge", "invoice", "wallet")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    CHARGE_FIELD_NUMBER: _ClassVar[int]
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    transaction: WalletTransaction
    charge: Charge
    invoice: Invoice
    wallet: Wallet
    def __init__(self, transaction: _Optional[_Union[WalletTransaction, _Mapping]] = ..., charge: _Optional[_Union[Charge, _Mapping]] = ..., invoice: _Optional[_Union[Invoice, _Mapping]] = ..., wallet: _Optional[_Union[Wallet, _Mapping]] = ...) -> None: ...

class ConfigureAutoRechargeRequest(_message.Message):
    __slots__ = ("idempotency_key", "account_id", "enabled", "recharge_amount", "threshold")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    RECHARGE_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account_id: str
    enabled: bool
    recharge_amount: Money
    threshold: Money
    def __init__(self, idempotency_key: _Optional[str] = ..., account_id: _Optional[str] = ..., enabled: _Optional[bool] = ..., recharge_amount: _Optional[_Union[Money, _Mapping]] = ..., threshold: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...

class RecordUsageRequest(_message.Message):
    __slots__ = ("account_id", "usage_id", "category", "amount", "description")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    USAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    usage_id: str
    category: str
    amount: Money
    description: str
    def __init__(self, account_id: _Optional[str] = ..., usage_id: _Optional[str] = ..., category: _Optional[str] = ..., amount: _Optional[_Union[Money, _Mapping]] = ..., description: _Optional[str] = ...) -> None: ...

class RecordUsageResponse(_message.Message):
    __slots__ = ("transaction", "replayed")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    transaction: WalletTransaction
    replayed: bool
    def __init__(self, transaction: _Optional[_Union[WalletTransaction, _Mapping]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class ListWalletTransactionsRequest(_message.Message):
    __slots__ = ("account_id", "page_size", "page_token", "categories", "created_from_unix_ms", "created_before_unix_ms")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    CREATED_FROM_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    page_size: int
    page_token: str
    categories: _containers.RepeatedScalarFieldContainer[str]
    created_from_unix_ms: int
    created_before_unix_ms: int
    def __init__(self, account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., categories: _Optional[_Iterable[str]] = ..., created_from_unix_ms: _Optional[int] = ..., created_before_unix_ms: _Optional[int] = ...) -> None: ...

class ListWalletTransactionsResponse(_message.Message):
    __slots__ = ("transactions", "next_page_token")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[WalletTransaction]
    next_page_token: str
    def __init__(self, transactions: _Optional[_Iterable[_Union[WalletTransaction, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SummarizeWalletTransactionsRequest(_message.Message):
    __slots__ = ("account_id", "from_unix_ms", "before_unix_ms")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    BEFORE_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    from_unix_ms: int
    before_unix_ms: int
    def __init__(self, account_id: _Optional[str] = ..., from_unix_ms: _Optional[int] = ..., before_unix_ms: _Optional[int] = ...) -> None: ...

class WalletMonthSummary(_message.Message):
    __slots__ = ("month", "category", "credits", "debits", "transaction_count")
    MONTH_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    DEBITS_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    month: str
    category: str
    credits: Money
    debits: Money
    transaction_count: int
    def __init__(self, month: _Optional[str] = ..., category: _Optional[str] = ..., credits: _Optional[_Union[Money, _Mapping]] = ..., debits: _Optional[_Union[Money, _Mapping]] = ..., transaction_count: _Optional[int] = ...) -> None: ...

class SummarizeWalletTransactionsResponse(_message.Message):
    __slots__ = ("months",)
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    months: _containers.RepeatedCompositeFieldContainer[WalletMonthSummary]
    def __init__(self, months: _Optional[_Iterable[_Union[WalletMonthSummary, _Mapping]]] = ...) -> None: ...

class WatchWalletRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class WalletEvent(_message.Message):
    __slots__ = ("kind", "wallet", "transaction", "amount", "charge_id", "reason", "retry_after_unix_ms")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[WalletEvent.Kind]
        KIND_SNAPSHOT: _ClassVar[WalletEvent.Kind]
        KIND_BALANCE_CHANGED: _ClassVar[WalletEvent.Kind]
        KIND_RECHARGE_STARTED: _ClassVar[WalletEvent.Kind]
        KIND_RECHARGE_SUCCEEDED: _ClassVar[WalletEvent.Kind]
        KIND_RECHARGE_FAILED: _ClassVar[WalletEvent.Kind]
        KIND_SUSPENDED: _ClassVar[WalletEvent.Kind]
        KIND_RESTORED: _ClassVar[WalletEvent.Kind]
    KIND_UNSPECIFIED: WalletEvent.Kind
    KIND_SNAPSHOT: WalletEvent.Kind
    KIND_BALANCE_CHANGED: WalletEvent.Kind
    KIND_RECHARGE_STARTED: WalletEvent.Kind
    KIND_RECHARGE_SUCCEEDED: WalletEvent.Kind
    KIND_RECHARGE_FAILED: WalletEvent.Kind
    KIND_SUSPENDED: WalletEvent.Kind
    KIND_RESTORED: WalletEvent.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CHARGE_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    kind: WalletEvent.Kind
    wallet: Wallet
    transaction: WalletTransaction
    amount: Money
    charge_id: str
    reason: str
    retry_after_unix_ms: int
    def __init__(self, kind: _Optional[_Union[WalletEvent.Kind, str]] = ..., wallet: _Optional[_Union[Wallet, _Mapping]] = ..., transaction: _Optional[_Union[WalletTransaction, _Mapping]] = ..., amount: _Optional[_Union[Money, _Mapping]] = ..., charge_id: _Optional[str] = ..., reason: _Optional[str] = ..., retry_after_unix_ms: _Optional[int] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("id", "name", "kind", "interval_unit", "interval_count", "unit_amount", "min_quantity", "max_quantity", "trial_days", "provider", "retired", "description")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_UNIT_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    MIN_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MAX_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_DAYS_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    RETIRED_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    kind: PlanKind
    interval_unit: IntervalUnit
    interval_count: int
    unit_amount: Money
    min_quantity: int
    max_quantity: int
    trial_days: int
    provider: str
    retired: bool
    description: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[_Union[PlanKind, str]] = ..., interval_unit: _Optional[_Union[IntervalUnit, str]] = ..., interval_count: _Optional[int] = ..., unit_amount: _Optional[_Union[Money, _Mapping]] = ..., min_quantity: _Optional[int] = ..., max_quantity: _Optional[int] = ..., trial_days: _Optional[int] = ..., provider: _Optional[str] = ..., retired: _Optional[bool] = ..., description: _Optional[str] = ...) -> None: ...

class ListPlansRequest(_message.Message):
    __slots__ = ("kind", "include_retired", "currency")
    KIND_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_RETIRED_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    kind: PlanKind
    include_retired: bool
    currency: str
    def __init__(self, kind: _Optional[_Union[PlanKind, str]] = ..., include_retired: _Optional[bool] = ..., currency: _Optional[str] = ...) -> None: ...

class ListPlansResponse(_message.Message):
    __slots__ = ("plans",)
    PLANS_FIELD_NUMBER: _ClassVar[int]
    plans: _containers.RepeatedCompositeFieldContainer[Plan]
    def __init__(self, plans: _Optional[_Iterable[_Union[Plan, _Mapping]]] = ...) -> None: ...

class PendingChange(_message.Message):
    __slots__ = ("plan_id", "quantity", "effective_at_unix_ms")
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    plan_id: str
    quantity: int
    effective_at_unix_ms: int
    def __init__(self, plan_id: _Optional[str] = ..., quantity: _Optional[int] = ..., effective_at_unix_ms: _Optional[int] = ...) -> None: ...

class Subscription(_message.Message):
    __slots__ = ("id", "account_id", "plan", "quantity", "status", "current_period_start_unix_ms", "current_period_end_unix_ms", "billing_cycle_anchor_unix_ms", "trial_end_unix_ms", "cancel_at_period_end", "canceled_at_unix_ms", "ended_at_unix_ms", "pending_change", "latest_invoice_id", "next_renewal_unix_ms", "next_renewal_amount", "payment_attempts", "next_payment_attempt_unix_ms", "awaiting_new_card", "fulfilment_state", "fulfilment_in_progress", "created_at_unix_ms", "incomplete_expires_at_unix_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PERIOD_START_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PERIOD_END_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    BILLING_CYCLE_ANCHOR_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    TRIAL_END_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CANCEL_AT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    CANCELED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    PENDING_CHANGE_FIELD_NUMBER: _ClassVar[int]
    LATEST_INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    NEXT_RENEWAL_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    NEXT_RENEWAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAYMENT_ATTEMPT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    AWAITING_NEW_CARD_FIELD_NUMBER: _ClassVar[int]
    FULFILMENT_STATE_FIELD_NUMBER: _ClassVar[int]
    FULFILMENT_IN_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    INCOMPLETE_EXPIRES_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    account_id: str
    plan: Plan
    quantity: int
    status: SubscriptionStatus
    current_period_start_unix_ms: int
    current_period_end_unix_ms: int
    billing_cycle_anchor_unix_ms: int
    trial_end_unix_ms: int
    cancel_at_period_end: bool
    canceled_at_unix_ms: int
    ended_at_unix_ms: int
    pending_change: PendingChange
    latest_invoice_id: str
    next_renewal_unix_ms: int
    next_renewal_amount: Money
    payment_attempts: int
    next_payment_attempt_unix_ms: int
    awaiting_new_card: bool
    fulfilment_state: FulfilmentState
    fulfilment_in_progress: bool
    created_at_unix_ms: int
    incomplete_expires_at_unix_ms: int
    def __init__(self, id: _Optional[str] = ..., account_id: _Optional[str] = ..., plan: _Optional[_Union[Plan, _Mapping]] = ..., quantity: _Optional[int] = ..., status: _Optional[_Union[SubscriptionStatus, str]] = ..., current_period_start_unix_ms: _Optional[int] = ..., current_period_end_unix_ms: _Optional[int] = ..., billing_cycle_anchor_unix_ms: _Optional[int] = ..., trial_end_unix_ms: _Optional[int] = ..., cancel_at_period_end: _Optional[bool] = ..., canceled_at_unix_ms: _Optional[int] = ..., ended_at_unix_ms: _Optional[int] = ..., pending_change: _Optional[_Union[PendingChange, _Mapping]] = ..., latest_invoice_id: _Optional[str] = ..., next_renewal_unix_ms: _Optional[int] = ..., next_renewal_amount: _Optional[_Union[Money, _Mapping]] = ..., payment_attempts: _Optional[int] = ..., next_payment_attempt_unix_ms: _Optional[int] = ..., awaiting_new_card: _Optional[bool] = ..., fulfilment_state: _Optional[_Union[FulfilmentState, str]] = ..., fulfilment_in_progress: _Optional[bool] = ..., created_at_unix_ms: _Optional[int] = ..., incomplete_expires_at_unix_ms: _Optional[int] = ...) -> None: ...

class CreateSubscriptionRequest(_message.Message):
    __slots__ = ("idempotency_key", "account_id", "plan_id", "quantity", "trial_days", "align_to_account_billing_date")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_DAYS_FIELD_NUMBER: _ClassVar[int]
    ALIGN_TO_ACCOUNT_BILLING_DATE_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account_id: str
    plan_id: str
    quantity: int
    trial_days: int
    align_to_account_billing_date: bool
    def __init__(self, idempotency_key: _Optional[str] = ..., account_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., quantity: _Optional[int] = ..., trial_days: _Optional[int] = ..., align_to_account_billing_date: _Optional[bool] = ...) -> None: ...

class SubscriptionResponse(_message.Message):
    __slots__ = ("subscription", "latest_invoice", "latest_charge", "credit")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LATEST_INVOICE_FIELD_NUMBER: _ClassVar[int]
    LATEST_CHARGE_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    latest_invoice: Invoice
    latest_charge: Charge
    credit: WalletTransaction
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ..., latest_invoice: _Optional[_Union[Invoice, _Mapping]] = ..., latest_charge: _Optional[_Union[Charge, _Mapping]] = ..., credit: _Optional[_Union[WalletTransaction, _Mapping]] = ...) -> None: ...

class GetSubscriptionRequest(_message.Message):
    __slots__ = ("account_id", "subscription_id")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    subscription_id: str
    def __init__(self, account_id: _Optional[str] = ..., subscription_id: _Optional[str] = ...) -> None: ...

class ListSubscriptionsRequest(_message.Message):
    __slots__ = ("account_id", "page_size", "page_token", "statuses", "kind")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    page_size: int
    page_token: str
    statuses: _containers.RepeatedScalarFieldContainer[SubscriptionStatus]
    kind: PlanKind
    def __init__(self, account_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[SubscriptionStatus, str]]] = ..., kind: _Optional[_Union[PlanKind, str]] = ...) -> None: ...

class ListSubscriptionsResponse(_message.Message):
    __slots__ = ("subscriptions", "next_page_token")
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[Subscription]
    next_page_token: str
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[Subscription, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PreviewSubscriptionChangeRequest(_message.Message):
    __slots__ = ("account_id", "subscription_id", "plan_id", "quantity")
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    subscription_id: str
    plan_id: str
    quantity: int
    def __init__(self, account_id: _Optional[str] = ..., subscription_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class PreviewSubscriptionChangeResponse(_message.Message):
    __slots__ = ("timing", "lines", "total", "effective_at_unix_ms", "next_renewal_amount")
    TIMING_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    NEXT_RENEWAL_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    timing: ChangeTiming
    lines: _containers.RepeatedCompositeFieldContainer[InvoiceLine]
    total: Money
    effective_at_unix_ms: int
    next_renewal_amount: Money
    def __init__(self, timing: _Optional[_Union[ChangeTiming, str]] = ..., lines: _Optional[_Iterable[_Union[InvoiceLine, _Mapping]]] = ..., total: _Optional[_Union[Money, _Mapping]] = ..., effective_at_unix_ms: _Optional[int] = ..., next_renewal_amount: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...

class UpdateSubscriptionRequest(_message.Message):
    __slots__ = ("idempotency_key", "account_id", "subscription_id", "plan_id", "quantity")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account_id: str
    subscription_id: str
    plan_id: str
    quantity: int
    def __init__(self, idempotency_key: _Optional[str] = ..., account_id: _Optional[str] = ..., subscription_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., quantity: _Optional[int] = ...) -> None: ...

class CancelSubscriptionRequest(_message.Message):
    __slots__ = ("idempotency_key", "account_id", "subscription_id", "at_period_end", "credit_unused_time")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    AT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    CREDIT_UNUSED_TIME_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account_id: str
    subscription_id: str
    at_period_end: bool
    credit_unused_time: bool
    def __init__(self, idempotency_key: _Optional[str] = ..., account_id: _Optional[str] = ..., subscription_id: _Optional[str] = ..., at_period_end: _Optional[bool] = ..., credit_unused_time: _Optional[bool] = ...) -> None: ...

class ResumeSubscriptionRequest(_message.Message):
    __slots__ = ("idempotency_key", "account_id", "subscription_id")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    account_id: str
    subscription_id: str
    def __init__(self, idempotency_key: _Optional[str] = ..., account_id: _Optional[str] = ..., subscription_id: _Optional[str] = ...) -> None: ...

class TestClock(_message.Message):
    __slots__ = ("id", "name", "frozen_time_unix_ms", "created_at_unix_ms")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FROZEN_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    frozen_time_unix_ms: int
    created_at_unix_ms: int
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., frozen_time_unix_ms: _Optional[int] = ..., created_at_unix_ms: _Optional[int] = ...) -> None: ...

class CreateTestClockRequest(_message.Message):
    __slots__ = ("idempotency_key", "name", "frozen_time_unix_ms")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FROZEN_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    name: str
    frozen_time_unix_ms: int
    def __init__(self, idempotency_key: _Optional[str] = ..., name: _Optional[str] = ..., frozen_time_unix_ms: _Optional[int] = ...) -> None: ...

class GetTestClockRequest(_message.Message):
    __slots__ = ("test_clock_id",)
    TEST_CLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    test_clock_id: str
    def __init__(self, test_clock_id: _Optional[str] = ...) -> None: ...

class AdvanceTestClockRequest(_message.Message):
    __slots__ = ("idempotency_key", "test_clock_id", "frozen_time_unix_ms")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    TEST_CLOCK_ID_FIELD_NUMBER: _ClassVar[int]
    FROZEN_TIME_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    test_clock_id: str
    frozen_time_unix_ms: int
    def __init__(self, idempotency_key: _Optional[str] = ..., test_clock_id: _Optional[str] = ..., frozen_time_unix_ms: _Optional[int] = ...) -> None: ...

class TestClockResponse(_message.Message):
    __slots__ = ("test_clock", "actions_run")
    TEST_CLOCK_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_RUN_FIELD_NUMBER: _ClassVar[int]
    test_clock: TestClock
    actions_run: int
    def __init__(self, test_clock: _Optional[_Union[TestClock, _Mapping]] = ..., actions_run: _Optional[int] = ...) -> None: ...

class Finding(_message.Message):
    __slots__ = ("code", "severity", "message", "fix", "payment_method_id", "subscription_id", "invoice_id", "charge_id", "decline_code", "retry_can_help", "missing_fields", "at_unix_ms", "attempts_left")
    CODE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIX_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    INVOICE_ID_FIELD_NUMBER: _ClassVar[int]
    CHARGE_ID_FIELD_NUMBER: _ClassVar[int]
    DECLINE_CODE_FIELD_NUMBER: _ClassVar[int]
    RETRY_CAN_HELP_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELDS_FIELD_NUMBER: _ClassVar[int]
    AT_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_LEFT_FIELD_NUMBER: _ClassVar[int]
    code: str
    severity: FindingSeverity
    message: str
    fix: str
    payment_method_id: str
    subscription_id: str
    invoice_id: str
    charge_id: str
    decline_code: str
    retry_can_help: bool
    missing_fields: _containers.RepeatedScalarFieldContainer[str]
    at_unix_ms: int
    attempts_left: int
    def __init__(self, code: _Optional[str] = ..., severity: _Optional[_Union[FindingSeverity, str]] = ..., message: _Optional[str] = ..., fix: _Optional[str] = ..., payment_method_id: _Optional[str] = ..., subscription_id: _Optional[str] = ..., invoice_id: _Optional[str] = ..., charge_id: _Optional[str] = ..., decline_code: _Optional[str] = ..., retry_can_help: _Optional[bool] = ..., missing_fields: _Optional[_Iterable[str]] = ..., at_unix_ms: _Optional[int] = ..., attempts_left: _Optional[int] = ...) -> None: ...

class DiagnosePaymentsRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class DiagnosePaymentsResponse(_message.Message):
    __slots__ = ("findings",)
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    def __init__(self, findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ...) -> None: ...

class GetBillingOverviewRequest(_message.Message):
    __slots__ = ("account_id",)
    ACCOUNT_ID_FIELD_NUMBER: _ClassVar[int]
    account_id: str
    def __init__(self, account_id: _Optional[str] = ...) -> None: ...

class BillingOverview(_message.Message):
    __slots__ = ("account", "subscriptions", "primary_payment_method", "billing_information", "wallet", "latest_charges", "open_invoices", "findings")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    BILLING_INFORMATION_FIELD_NUMBER: _ClassVar[int]
    WALLET_FIELD_NUMBER: _ClassVar[int]
    LATEST_CHARGES_FIELD_NUMBER: _ClassVar[int]
    OPEN_INVOICES_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    account: Account
    subscriptions: _containers.RepeatedCompositeFieldContainer[Subscription]
    primary_payment_method: PaymentMethod
    billing_information: BillingInformation
    wallet: Wallet
    latest_charges: _containers.RepeatedCompositeFieldContainer[Charge]
    open_invoices: _containers.RepeatedCompositeFieldContainer[Invoice]
    findings: _containers.RepeatedCompositeFieldContainer[Finding]
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ..., subscriptions: _Optional[_Iterable[_Union[Subscription, _Mapping]]] = ..., primary_payment_method: _Optional[_Union[PaymentMethod, _Mapping]] = ..., billing_information: _Optional[_Union[BillingInformation, _Mapping]] = ..., wallet: _Optional[_Union[Wallet, _Mapping]] = ..., latest_charges: _Optional[_Iterable[_Union[Charge, _Mapping]]] = ..., open_invoices: _Optional[_Iterable[_Union[Invoice, _Mapping]]] = ..., findings: _Optional[_Iterable[_Union[Finding, _Mapping]]] = ...) -> None: ...
