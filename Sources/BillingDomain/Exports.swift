// The domain speaks in values (money, countries, cards, errors) and takes any payment gateway: callers
// of the domain see those types without importing their modules one by one.
@_exported import BillingGateway
@_exported import BillingValues
