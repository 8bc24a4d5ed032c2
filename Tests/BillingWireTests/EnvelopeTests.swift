import BillingAPI
import BillingWire
import Foundation
import Testing

@Suite("Envelope and protobuf-c mapping")
struct EnvelopeTests {
    @Test func requestRoundTripsThroughProtobufC() throws {
        let request = RequestEnvelope(
            service: "billing.v1.BillingService", method: "GetWallet", payload: [0, 1, 2, 255],
            timeoutNanoseconds: 1_500_000_000,
            metadata: [MetadataEntry(key: "request-id", value: "abc"), MetadataEntry(key: "ünïcode", value: "✓")],
            streamWindow: 32
        )
        #expect(try RequestEnvelope(wireBytes: request.wireBytes()) == request)
    }

    @Test func responseRoundTripsWithStatusAndDetails() throws {
        let failed = ResponseEnvelope(status: RPCStatus(RPCError(.invalidArgument, "amount must be positive", details: [.field("amount")])))
        #expect(try ResponseEnvelope(wireBytes: failed.wireBytes()) == failed)
        let ok = ResponseEnvelope(status: .ok, payload: [9, 9])
        #expect(try ResponseEnvelope(wireBytes: ok.wireBytes()) == ok)
        #expect(try ResponseEnvelope(wireBytes: []).status == .ok)
    }

    @Test func goAwayAndWindowUpdateRoundTrip() throws {
        let goAway = GoAwayEnvelope(lastStreamID: 41, status: RPCStatus(RPCError(.unavailable, "draining")))
        #expect(try GoAwayEnvelope(wireBytes: goAway.wireBytes()) == goAway)
        #expect(try WindowUpdateEnvelope(wireBytes: WindowUpdateEnvelope(messages: 8).wireBytes()).messages == 8)
    }

    /// The envelope types are generated now; the bytes they write are the ones PROTOCOL.md shows.
    @Test func envelopeBytesAreUnchangedByGeneration() {
        // An OK response without a reply is empty: the status is left out.
        #expect(ResponseEnvelope(status: .ok).wireBytes() == [])
        // GOAWAY always carries its status, even OK: status (2) = empty message.
        #expect(GoAwayEnvelope(lastStreamID: 0, status: .ok).wireBytes() == [0x12, 0x00])
        // service (1) "s", method (2) "m", timeout_nano (4) 1, stream_window (6) 2.
        let request = RequestEnvelope(service: "s", method: "m", payload: [], timeoutNanoseconds: 1, streamWindow: 2)
        #expect(request.wireBytes() == [0x0A, 0x01, 0x73, 0x12, 0x01, 0x6D, 0x20, 0x01, 0x30, 0x02])
        #expect(request.timeoutNanoseconds == request.timeoutNano)
        // A failed status: code (1) 5, message (2) "x", details (3) {type "reason", value "r"}.
        let failed = ResponseEnvelope(status: RPCStatus(code: .notFound, message: "x", details: [.reason("r")]))
        #expect(failed.wireBytes() == [0x0A, 0x12, 0x08, 0x05, 0x12, 0x01, 0x78, 0x1A, 0x0B, 0x0A, 0x06] + Array("reason".utf8) + [0x12, 0x01, 0x72])
    }

    @Test func healthMessagesRoundTrip() throws {
        let request = GrpcHealthV1.HealthCheckRequest(service: "x")
        #expect(try GrpcHealthV1.HealthCheckRequest(wireBytes: request.wireBytes()).service == "x")
        let response = GrpcHealthV1.HealthCheckResponse(status: .notServing)
        #expect(try GrpcHealthV1.HealthCheckResponse(wireBytes: response.wireBytes()).status == .notServing)
        #expect(GrpcHealthV1.Health.name == "grpc.health.v1.Health")
    }

    @Test func invalidProtobufIsInvalidArgument() {
        // Field 1 as a length-delimited string whose length runs past the end.
        #expect(throws: RPCError.self) { try RequestEnvelope(wireBytes: [0x0A, 0x7F, 0x41]) }
        do {
            _ = try RequestEnvelope(wireBytes: [0x0A, 0x7F, 0x41])
        } catch {
            #expect(error.code == .invalidArgument)
        }
    }

    @Test func unknownStatusCodesSurviveTheRoundTrip() throws {
        let status = RPCStatus(code: StatusCode(rawValue: 42), message: "from the future")
        let decoded = try ResponseEnvelope(wireBytes: ResponseEnvelope(status: status).wireBytes())
        #expect(decoded.status.code.rawValue == 42)
        #expect(decoded.status.code.description == "CODE_42")
    }
}

@Suite("Generated code")
struct GeneratedCodeTests {
    /// What proto/generate.sh writes, relative to the repository root.
    static let generatedFolders = [
        "Sources/BillingProtos",
        "Sources/BillingAPI",
        "clients/swift/BillingClient/Generated",
        "Sources/BillingService/Generated",
        "Sources/BillingWire/Generated",
        "Tests/FixtureProtos",
        "Tests/BillingWireTests/Generated",
    ]

    /// The committed generated code (protobuf-c, Swift types, client and server stubs) must be what
    /// proto/generate.sh makes from proto/ today.
    @Test func committedGeneratedCodeMatchesTheSchemas() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fresh = FileManager.default.temporaryDirectory.appendingPathComponent("billing-generated-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: fresh) }
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/bin/bash")
        script.arguments = [root.appendingPathComponent("proto/generate.sh").path, fresh.path]
        try script.run()
        script.waitUntilExit()
        try #require(
            script.terminationStatus == 0,
            "proto/generate.sh failed; are protoc-c (protobuf-c-compiler) and python3 installed?"
        )

        for folder in Self.generatedFolders {
            let committed = root.appendingPathComponent(folder)
            let generated = fresh.appendingPathComponent(folder)
            let freshFiles = try relativeFiles(under: generated)
            #expect(!freshFiles.isEmpty, "proto/generate.sh wrote nothing into \(folder)")
            #expect(freshFiles == (try relativeFiles(under: committed)), "files in \(folder) differ: run proto/generate.sh and commit")
            for file in freshFiles {
                let same = try Data(contentsOf: generated.appendingPathComponent(file)) == Data(contentsOf: committed.appendingPathComponent(file))
                #expect(same, "\(folder)/\(file) is stale: run proto/generate.sh and commit")
            }
        }
    }

    /// What the Swift mapping cannot express stops the generator with the file and line, instead of code
    /// that is subtly wrong: proto2 (defaults, required) and a struct that would contain itself.
    @Test(arguments: [
        ("syntax = \"proto2\";\npackage bad.v1;\nmessage M { optional int32 a = 1; }\n", "only proto3 is supported"),
        ("syntax = \"proto3\";\npackage bad.v1;\nmessage M { optional M next = 1; }\n", "recursive message fields"),
    ])
    func theGeneratorRefusesWhatItCannotMap(proto: String, problem: String) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("billing-bad-proto-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: work) }
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try proto.write(to: work.appendingPathComponent("bad.proto"), atomically: true, encoding: .utf8)
        let generator = root.appendingPathComponent("proto/generate_swift.py").path
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/bin/bash")
        script.currentDirectoryURL = work
        script.arguments = ["-c", "protoc-c -o set.pb --include_source_info bad.proto && python3 '\(generator)' --descriptor-set set.pb --out-root . 2> stderr.txt"]
        try script.run()
        script.waitUntilExit()
        #expect(script.terminationStatus == 1)
        let stderr = try String(contentsOf: work.appendingPathComponent("stderr.txt"), encoding: .utf8)
        #expect(stderr.contains("bad.proto"), "\(stderr)")
        #expect(stderr.contains(problem), "\(stderr)")
    }

    private func relativeFiles(under directory: URL) throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: directory.path)
        var files: [String] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: directory.appendingPathComponent(path).path, isDirectory: &isDirectory)
            if !isDirectory.boolValue { files.append(path) }
        }
        return files.sorted()
    }
}
