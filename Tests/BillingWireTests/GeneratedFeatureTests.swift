import BillingWire
import Testing

/// oneof, proto3 `optional`, map and the remaining scalar types, as proto/generate_swift.py maps them: the test
/// protos in Tests/proto, generated into Generated/ (Swift) and Tests/FixtureProtos (protobuf-c), round-trip
/// through libprotobuf-c, and their bytes match what protobuf specifies.
@Suite("Generated oneof, optional and map")
struct GeneratedFeatureTests {
    typealias Payment = FixturesV1.Payment
    typealias Card = FixturesV1.Card

    @Test func everyFieldShapeRoundTrips() throws {
        let payment = Payment(
            id: "pay_1",
            source: .card(Card(last4: "4242", tier: .gold)),
            retries: 0,  // set to zero: present, unlike nil
            note: "",
            backup: Card(),
            flagged: false,
            receipt: [],
            tier: .unspecified,
            totals: ["usd": 1_250, "eur": -3, "": 0],
            cardsBySlot: [1: Card(last4: "0002"), -7: Card()],
            labels: [true: "yes", false: "no"],
            tiers: ["a": .silver, "b": .unspecified],
            blobs: [UInt64.max: [0x00, 0xFF], 0: []],
            rate: 0.25, ratio: -1.5, delta: -2, bigDelta: Int64.min, checksum: UInt32.max, bigChecksum: UInt64.max,
            offset: Int32.min, bigOffset: -1, samples: [1.5, -0.0, .infinity],
            contact: .phone("+1 555 0100")
        )
        let decoded = try Payment(wireBytes: payment.wireBytes())
        #expect(decoded == payment)
        #expect(decoded.retries == 0)
        #expect(decoded.note == "")
        #expect(decoded.backup == Card())
        #expect(decoded.flagged == false)
        #expect(decoded.receipt == [])
        #expect(decoded.tier == .unspecified)
    }

    @Test func unsetOptionalsStayNil() throws {
        let decoded = try Payment(wireBytes: Payment(id: "pay_2").wireBytes())
        #expect(decoded.source == nil)
        #expect(decoded.contact == nil)
        #expect(decoded.retries == nil)
        #expect(decoded.note == nil)
        #expect(decoded.backup == nil)
        #expect(decoded.flagged == nil)
        #expect(decoded.receipt == nil)
        #expect(decoded.tier == nil)
        #expect(try Payment(wireBytes: []) == Payment())
        #expect(Payment().wireBytes() == [])
    }

    @Test func everyOneofMemberRoundTrips() throws {
        let sources: [Payment.Source] = [
            .card(Card()), .iban("DE89 3704 0044 0532 0130 00"), .iban(""), .creditMinor(0), .creditMinor(-5),
            .free(false), .free(true), .voucherTier(.unspecified), .voucherTier(.silver),
        ]
        for source in sources {
            let decoded = try Payment(wireBytes: Payment(source: source, contact: .email("a@example.com")).wireBytes())
            #expect(decoded.source == source)
            #expect(decoded.contact == .email("a@example.com"))
        }
    }

    /// The bytes protobuf specifies: a oneof member and an optional field are written even when zero (that is
    /// their presence), a plain proto3 scalar is not, and map entries are nested messages (key 1, value 2).
    @Test func bytesOnTheWire() throws {
        // retries (7, varint) = 0.
        #expect(Payment(retries: 0).wireBytes() == [0x38, 0x00])
        // credit_minor (4, varint) = 0.
        #expect(Payment(source: .creditMinor(0)).wireBytes() == [0x20, 0x00])
        // delta = 0 is the default: nothing. delta = -1 is sint32, zigzag 1.
        #expect(Payment(delta: 0).wireBytes() == [])
        #expect(Payment(delta: -1).wireBytes() == [0xA0, 0x01, 0x01])
        // totals (13, length-delimited) {"a": 1}: entry = key (1) "a", value (2) 1.
        #expect(Payment(totals: ["a": 1]).wireBytes() == [0x6A, 0x05, 0x0A, 0x01, 0x61, 0x10, 0x01])
        // Entries go out in key order, so equal maps are equal bytes.
        let one = Payment(totals: ["b": 2, "a": 1, "c": 3]).wireBytes()
        #expect(one == Payment(totals: ["c": 3, "a": 1, "b": 2]).wireBytes())
    }

    @Test func aRepeatedMapKeyKeepsTheLastValue() throws {
        // Two totals entries for "a": 1, then 2.
        let bytes: [UInt8] = [0x6A, 0x05, 0x0A, 0x01, 0x61, 0x10, 0x01, 0x6A, 0x05, 0x0A, 0x01, 0x61, 0x10, 0x02]
        #expect(try Payment(wireBytes: bytes).totals == ["a": 2])
    }

    /// A map entry without a value holds the value type's default; a oneof's later member replaces an earlier one.
    @Test func missingMapValuesAndLaterOneofMembers() throws {
        // cards_by_slot (14) entry with key 3 only.
        #expect(try Payment(wireBytes: [0x72, 0x02, 0x08, 0x03]).cardsBySlot == [3: Card()])
        // iban (3) "x", then credit_minor (4) = 9.
        #expect(try Payment(wireBytes: [0x1A, 0x01, 0x78, 0x20, 0x09]).source == .creditMinor(9))
    }

    /// Nested messages and enums inside oneofs and maps, and names that are keywords in Swift or C.
    @Test func nestingAndKeywordNamesRoundTrip() throws {
        typealias Edge = FixturesV1.Edge
        let inner = Edge.Inner(kinds: ["x": .default, "y": .unspecified], kind: .default)
        let edge = Edge(
            choice: .inner(inner), class: "first", inners: [inner, Edge.Inner()],
            byID: [Int64.min: inner, -1: Edge.Inner(kind: .unspecified)]
        )
        #expect(try Edge(wireBytes: edge.wireBytes()) == edge)
        let keyword = Edge(choice: .default(""), class: nil)
        #expect(try Edge(wireBytes: keyword.wireBytes()) == keyword)
        // A nested message decodes on its own too (protoc-c gives it no unpack function).
        #expect(try Edge.Inner(wireBytes: inner.wireBytes()) == inner)
        #expect(Edge.Inner.Kind.default.description == "KIND_DEFAULT")
    }

    @Test func messagesWithNoFieldsOrOnlyAOneof() throws {
        #expect(FixturesV1.Empty().wireBytes() == [])
        #expect(try FixturesV1.Empty(wireBytes: [0x08, 0x01]) == FixturesV1.Empty())  // unknown fields are skipped
        // raw (2) set to empty bytes: present, so written.
        #expect(FixturesV1.OnlyOneof(value: .raw([])).wireBytes() == [0x12, 0x00])
        #expect(try FixturesV1.OnlyOneof(wireBytes: [0x12, 0x00]).value == .raw([]))
        #expect(try FixturesV1.OnlyOneof(wireBytes: [0x08, 0x00]).value == .number(0))
        #expect(try FixturesV1.OnlyOneof(wireBytes: []).value == nil)
    }

    /// Packing takes its C memory from an arena's blocks: fields larger than a block, and many small ones
    /// that fill several blocks, come back whole.
    @Test func messagesLargerThanTheArenasBlocksRoundTrip() throws {
        let payment = Payment(
            id: String(repeating: "é", count: 5_000),
            note: String(repeating: "n", count: 4_095),
            receipt: (0..<100_000).map { UInt8(truncatingIfNeeded: $0) },
            totals: Dictionary(uniqueKeysWithValues: (0..<300).map { ("currency-\($0)", Int64($0)) }),
            tiers: Dictionary(uniqueKeysWithValues: (0..<300).map { ("t\($0)", FixturesV1.Tier.silver) }),
            samples: (0..<1_000).map(Double.init))
        #expect(try Payment(wireBytes: payment.wireBytes()) == payment)
    }

    /// A NUL inside a string is packed as the overlong pair C0 80, which decoding refuses, instead of
    /// cutting the string short.
    @Test func aStringWithANulIsPackedSoThatItIsRefused() {
        let bytes = Payment(id: "pay\u{0}1").wireBytes()
        #expect(bytes.starts(with: [0x0A, 0x06] + Array("pay".utf8) + [0xC0, 0x80, UInt8(ascii: "1")]))
        #expect(throws: RPCError.self) { try Payment(wireBytes: bytes) }
    }

    @Test func invalidStringsInNewShapesAreRefused() {
        // note (8, optional string) holding the byte 0xFF, which is not UTF-8.
        do {
            _ = try Payment(wireBytes: [0x42, 0x01, 0xFF])
            Issue.record("decoding should fail")
        } catch {
            #expect(error.code == .invalidArgument)
        }
    }
}
