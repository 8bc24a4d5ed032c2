import BillingStore
import Testing

@Suite("Errors")
struct ErrorTests {
    /// Stripe's declined test card, made more distinctive so no SQL text or message contains it by chance.
    static let cardNumber = "4000 0000 0000 0002 SECRET-7731"

    /// Every way an error can be turned into text: none may contain the bound value.
    static func expectNoCardNumber(in error: StoreError?, _ comment: Comment, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error else {
            Issue.record("expected an error: \(comment)", sourceLocation: sourceLocation)
            return
        }
        var dumped = ""
        dump(error, to: &dumped)
        for text in [error.description, String(reflecting: error), "\(error)", error.message, error.operation, dumped] {
            #expect(!text.contains(cardNumber), comment, sourceLocation: sourceLocation)
            #expect(!text.contains("SECRET"), comment, sourceLocation: sourceLocation)
        }
    }

    static func failingWrite(_ store: Store, _ body: @escaping @Sendable (WriteTransaction) throws -> Void) async -> StoreError? {
        await #expect(throws: StoreError.self) { try await store.write(body) }
    }

    @Test("errors name the statement but never echo bound arguments")
    func errorsDoNotEchoArguments() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path)
            let card = Self.cardNumber
            try await store.write { tx in try tx.execute("INSERT INTO cards(number, customer_id) VALUES (?, 1)", .text(card)) }

            let duplicate = await Self.failingWrite(store) { tx in
                try tx.execute("INSERT INTO cards(number, customer_id) VALUES (?, ?)", .text(card), 1)
            }
            Self.expectNoCardNumber(in: duplicate, "UNIQUE")
            #expect(duplicate?.isUniqueViolation == true)
            #expect(duplicate?.isConstraintViolation == true)
            #expect(duplicate?.resultCode == 2067)  // SQLITE_CONSTRAINT_UNIQUE
            #expect(duplicate?.description.contains("INSERT INTO cards(number, customer_id) VALUES (?, ?)") == true)
            #expect(duplicate?.message.contains("cards.number") == true)

            let tooLong = await Self.failingWrite(store) { tx in
                try tx.execute("INSERT INTO cards(number) VALUES (?)", .text(card + card))
            }
            Self.expectNoCardNumber(in: tooLong, "CHECK")
            #expect(tooLong?.isConstraintViolation == true)

            let noCustomer = await Self.failingWrite(store) { tx in
                try tx.execute("INSERT INTO cards(number, customer_id) VALUES (?, ?)", .text(card + "2"), 99)
            }
            Self.expectNoCardNumber(in: noCustomer, "FOREIGN KEY")
            #expect(noCustomer?.isConstraintViolation == true)

            let notAnInteger = await Self.failingWrite(store) { tx in
                try tx.execute("INSERT INTO cards(id, number) VALUES (?, ?)", .text(card), .text("x"))
            }
            Self.expectNoCardNumber(in: notAnInteger, "datatype mismatch")
            #expect(notAnInteger?.primaryResultCode == 20)  // SQLITE_MISMATCH

            let missingNumber = await Self.failingWrite(store) { tx in
                try tx.execute("INSERT INTO items(label, owner) VALUES (?, ?)", nil, .text(card))
            }
            Self.expectNoCardNumber(in: missingNumber, "NOT NULL")

            let wrongCount = await Self.failingWrite(store) { tx in
                try tx.execute("INSERT INTO cards(number) VALUES (?)", .text(card), .text(card))
            }
            Self.expectNoCardNumber(in: wrongCount, "argument count")
            #expect(wrongCount?.kind == .misuse)

            let wrongType = await #expect(throws: StoreError.self) {
                try await store.read { tx in try tx.queryOne("SELECT number FROM cards")?.int64("number") }
            }
            Self.expectNoCardNumber(in: wrongType, "reading text as an integer")
            #expect(wrongType?.kind == .misuse)
            #expect(wrongType?.message == "expected integer, found text(…)")

            #expect(!"\(SQLValue.text(card))".contains("SECRET"))
            let row = try await store.read { tx in try #require(try tx.queryOne("SELECT number FROM cards")) }
            #expect(!"\(row)".contains("SECRET"))
            #expect(try row.string("number") == card)
            await store.close()
        }
    }

    @Test("misuse is reported, not silently tolerated")
    func misuseIsReported() async throws {
        try await withDatabasePath { path in
            let store = try await openTestStore(path)
            try await store.write { tx in
                try tx.execute("INSERT INTO items(label) VALUES ('a')")
                try tx.execute("INSERT INTO items(label) VALUES ('b')")
            }
            let twoStatements = await Self.failingWrite(store) { tx in
                try tx.execute("INSERT INTO items(label) VALUES ('c'); DELETE FROM items")
            }
            #expect(twoStatements?.kind == .misuse)
            // A trailing comment is not a second statement.
            try await store.write { tx in try tx.execute("INSERT INTO items(label) VALUES ('c'); -- the third") }

            let twoRows = await #expect(throws: StoreError.self) {
                try await store.read { tx in try tx.queryOne("SELECT label FROM items") }
            }
            #expect(twoRows?.kind == .misuse)

            let unknownColumn = await #expect(throws: StoreError.self) {
                try await store.read { tx in try tx.queryOne("SELECT label FROM items WHERE id = 1")?.string("name") }
            }
            #expect(unknownColumn?.kind == .misuse)

            let nullAsText = await #expect(throws: StoreError.self) {
                try await store.read { tx in try tx.queryOne("SELECT owner FROM items WHERE id = 1")?.string("owner") }
            }
            #expect(nullAsText?.kind == .misuse)
            #expect(try await itemLabels(store) == ["a", "b", "c"])
            await store.close()
        }
    }
}
