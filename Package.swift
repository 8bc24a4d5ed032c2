// swift-tools-version:6.1
import PackageDescription

/// The billing service: a Dispatch-driven Unix-socket RPC server (`billingd`), the Swift client library
/// (`BillingClient`, sources in `clients/swift/`) and the tools around them.
/// docs/ARCHITECTURE.md explains how the modules fit together.
let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "billing",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "BillingClient", targets: ["BillingClient"]),
        .executable(name: "billingd", targets: ["billingd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C libraries from Debian: libsqlite3-dev and libprotobuf-c-dev.
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // protobuf-c code generated from proto/ by proto/generate.sh; committed, never edited by hand.
        .target(
            name: "BillingProtos",
            path: "Sources/BillingProtos",
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),

        // The persistence layer: connections, migrations, statements, the group-commit writer.
        .target(name: "BillingStore", dependencies: ["CSQLite"], swiftSettings: strict),
        // Money, accounts, payment methods, invoices, the payment gateway; no sockets, no protobuf.
        .target(name: "BillingDomain", dependencies: ["BillingStore"], swiftSettings: strict),

        // Frames, the envelope, status codes, and the mapping between protobuf-c structs and Swift values.
        .target(name: "BillingWire", dependencies: ["BillingProtos"], swiftSettings: strict),
        // The Dispatch-driven Unix-socket server: listener, connections, routing, limits, health.
        .target(
            name: "BillingServer",
            dependencies: [
                "BillingWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The Swift client library that other programs embed.
        .target(name: "BillingClient", dependencies: ["BillingWire"], path: "clients/swift/BillingClient", swiftSettings: strict),
        // The daemon: configuration, signals, logging, metrics, wiring.
        .executableTarget(
            name: "billingd",
            dependencies: [
                "BillingServer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),

        // Durable writes per second of the store alone: group commit against one transaction per write.
        .executableTarget(name: "store-bench", dependencies: ["BillingStore"], swiftSettings: strict),

        .testTarget(name: "BillingStoreTests", dependencies: ["BillingStore"], swiftSettings: strict),
        .testTarget(name: "BillingDomainTests", dependencies: ["BillingDomain"], swiftSettings: strict),
        .testTarget(name: "BillingWireTests", dependencies: ["BillingWire"], swiftSettings: strict),
        .testTarget(
            name: "BillingServerTests",
            dependencies: ["BillingServer", "BillingClient"],
            swiftSettings: strict
        ),
    ]
)
