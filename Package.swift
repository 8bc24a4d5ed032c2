// swift-tools-version:6.1
import PackageDescription

/// The billing service: a Dispatch-driven Unix-socket RPC server (`billingd`), the Swift client library
/// (`BillingClient`, sources in `clients/swift/`) and the tools around them.
/// docs/ARCHITECTURE.md explains how the modules fit together.
///
/// Linux only: the code calls Glibc and Linux's SO_PEERCRED, and links Debian's libsqlite3 and
/// libprotobuf-c; no Apple platform is claimed.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "billing",
    products: [
        .library(name: "BillingClient", targets: ["BillingClient"]),
        .executable(name: "billingd", targets: ["billingd"]),
        .executable(name: "billing", targets: ["billing"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // C libraries from Debian: libsqlite3-dev and libprotobuf-c-dev.
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // SO_PEERCRED with the real `struct ucred`, so that Swift never assumes its layout.
        .target(name: "CPeerCredentials", path: "Sources/CPeerCredentials"),
        // glibc's allocator tuning (mallopt), for billingd.
        .target(name: "CMalloc", path: "Sources/CMalloc"),
        // protobuf-c code generated from proto/ by proto/generate.sh; committed, never edited by hand.
        .target(
            name: "BillingProtos",
            path: "Sources/BillingProtos",
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),

        // `Locked` (Synchronization's Mutex with its critical sections visible to ThreadSanitizer) and the
        // ThreadSanitizer annotations behind it, for what TSan cannot see by itself (`make test-tsan`).
        .target(name: "BillingLocking", swiftSettings: strict),

        // The persistence layer: the store boundary (Store, transactions, rows, migrations) and its embedded
        // engine, SQLite: connections, statements, the group-commit writer, the readers.
        .target(name: "BillingStore", dependencies: ["BillingLocking", "CSQLite"], swiftSettings: strict),
        // The second engine behind the same boundary: PostgreSQL through postgres-nio, for several billingd
        // on one database. The only module that sees SwiftNIO.
        .target(
            name: "BillingStorePostgres",
            dependencies: [
                "BillingStore", "BillingLocking", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Values with their rules: money and its limits, currencies, countries, billing information,
        // card details and expiry, idempotency keys, and the domain's error with its reasons.
        .target(name: "BillingValues", swiftSettings: strict),
        // What the domain needs from a card processor: the PaymentGateway protocol and its values.
        .target(name: "BillingGateway", dependencies: ["BillingValues"], swiftSettings: strict),
        // The built-in sandbox processor (Stripe's test cards) with its own small SQLite database, and the
        // sandbox fulfilment provider with its journal.
        .target(name: "BillingSandbox", dependencies: ["BillingGateway", "BillingValues", "CSQLite"], swiftSettings: strict),
        // libharu (libhpdf-dev): writes PDFs with an embedded, subset TrueType font and UTF-8 text.
        .systemLibrary(name: "CHaru", providers: [.apt(["libhpdf-dev"])]),
        // Invoice PDFs: renders a plain InvoiceDocument (strings and dates) into PDF bytes; knows
        // nothing of the store, money or the domain services.
        .target(name: "InvoiceRendering", dependencies: ["CHaru"], swiftSettings: strict),
        // Accounts, payment methods, invoices, charges and their settlement, idempotency records, wallets;
        // no sockets, no protobuf, no particular gateway.
        .target(
            name: "BillingDomain", dependencies: ["BillingLocking", "BillingStore", "BillingValues", "BillingGateway", "InvoiceRendering"], swiftSettings: strict),

        // Frames, the envelope, status codes, and the mapping between protobuf-c structs and Swift values.
        .target(name: "BillingWire", dependencies: ["BillingProtos", "CPeerCredentials"], swiftSettings: strict),
        // Swift types for every message, enum and service name in proto/ (the envelope aside), generated by
        // proto/generate.sh; committed, never edited by hand.
        .target(name: "BillingAPI", dependencies: ["BillingWire", "BillingProtos"], swiftSettings: strict),
        // The Dispatch-driven Unix-socket server: listener, connections, routing, limits, health.
        .target(
            name: "BillingServer",
            dependencies: [
                "BillingLocking",
                "BillingWire",
                "BillingAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The Swift client library that other programs embed.
        .target(
            name: "BillingClient",
            dependencies: ["BillingLocking", "BillingWire", "BillingAPI"],
            path: "clients/swift/BillingClient",
            swiftSettings: strict
        ),
        // billing.v1.BillingService: the handlers behind the generated routing in Generated/.
        .target(name: "BillingService", dependencies: ["BillingServer", "BillingAPI", "BillingDomain"], swiftSettings: strict),
        // The daemon: configuration, signals, logging, metrics, wiring.
        .executableTarget(
            name: "billingd",
            dependencies: [
                "BillingServer",
                "BillingService",
                "BillingDomain",
                "BillingSandbox",
                "BillingStore",
                "BillingStorePostgres",
                "CMalloc",
                "InvoiceRendering",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),

        // The `billing` command: the billing page's tabs in a terminal, over the client library.
        .executableTarget(
            name: "billing",
            dependencies: [
                "BillingClient",
                "BillingValues",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        // The load generator: drives a running billingd through the client library.
        .executableTarget(
            name: "billing-load",
            dependencies: [
                "BillingClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strict
        ),
        // The crash test: SIGKILLs a real billingd under load for many rounds and checks, after each
        // restart, that nothing acknowledged was lost or doubled (docs/RELIABILITY.md). It reads the
        // database with plain SQL (CSQLite; on PostgreSQL, psql), not through the store it checks.
        .executableTarget(
            name: "billing-crash",
            dependencies: [
                "BillingClient",
                "CSQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Durable writes per second of the store alone: group commit against one transaction per write;
        // and (--sandbox-open) how long the sandbox gateway takes to open with many charges recorded.
        .executableTarget(
            name: "store-bench", dependencies: ["BillingStore", "BillingSandbox", "BillingGateway", "BillingValues"],
            swiftSettings: strict),
        // A renewal run with many subscriptions due at once: renewals per second (each durable, with its invoice
        // and its charge through the sandbox) and resident memory during the run (docs/PERFORMANCE.md).
        .executableTarget(
            name: "renewal-bench",
            dependencies: ["BillingDomain", "BillingSandbox", "BillingStore", "CMalloc", "InvoiceRendering"],
            swiftSettings: strict
        ),
        // A wallet's reads with ten million ledger lines against none (docs/PERFORMANCE.md, "Cost as data grows").
        .executableTarget(
            name: "ledger-bench", dependencies: ["BillingDomain", "BillingSandbox", "BillingStore", "InvoiceRendering"], swiftSettings: strict),

        .testTarget(
            name: "BillingServiceTests",
            dependencies: [
                "BillingService", "BillingClient", "BillingDomain", "BillingSandbox", "BillingStore", "BillingStorePostgres", "BillingServer",
                "BillingProtos",
                "InvoiceRendering", "CSQLiteFaults", "BillingLocking",
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "BillingStoreTests", dependencies: ["BillingStore", "CSQLiteFaults", "BillingLocking"], swiftSettings: strict),
        .testTarget(name: "BillingLockingTests", dependencies: ["BillingLocking"], swiftSettings: strict),
        // The PostgreSQL engine on a real cluster (BILLING_TEST_POSTGRES; scripts/test-postgres.sh starts one).
        .testTarget(name: "BillingStorePostgresTests", dependencies: ["BillingStore", "BillingStorePostgres", "BillingLocking"], swiftSettings: strict),
        // Tests only: a SQLite VFS over the default one that fails writes, fsyncs or truncations on cue
        // (SQLite's own tests inject I/O errors this way); the store opens it by name (`vfsName`).
        .target(name: "CSQLiteFaults", path: "Sources/CSQLiteFaults", linkerSettings: [.linkedLibrary("sqlite3")]),
        .testTarget(
            name: "BillingDomainTests", dependencies: ["BillingDomain", "BillingSandbox", "BillingStore", "InvoiceRendering", "BillingLocking"],
            swiftSettings: strict),
        .testTarget(name: "InvoiceRenderingTests", dependencies: ["InvoiceRendering"], swiftSettings: strict),
        // protobuf-c code for the generator's test protos (Tests/proto), generated by proto/generate.sh; only
        // the wire tests use it, to round-trip oneof, optional and map fields through protobuf-c.
        .target(
            name: "FixtureProtos",
            path: "Tests/FixtureProtos",
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),
        .testTarget(
            name: "BillingWireTests",
            dependencies: ["BillingWire", "BillingAPI", "FixtureProtos"],
            swiftSettings: strict
        ),
        // Runs the built `billing` against a real billingd, through the billing guide's journeys.
        .testTarget(name: "BillingCLITests", swiftSettings: strict),
        .testTarget(
            name: "BillingServerTests",
            dependencies: ["BillingServer", "BillingClient", "BillingLocking"],
            swiftSettings: strict
        ),
    ]
)
