import Foundation
import Testing

@testable import InvoiceRendering

/// Serialized: these tests block their thread on libharu and on poppler's tools, and on a 2-core
/// machine running them all at once starved the socket tests' deadlines in other suites.
@Suite("InvoiceRenderer", .serialized)
struct InvoiceRendererTests {
    let renderer: InvoiceRenderer

    init() throws {
        renderer = try InvoiceRenderer(fonts: .dejaVuSans)
    }

    /// "USD 1,234.56" for 123_456: the formatting the domain's Money.formatted does, enough for tests.
    func usd(_ amountMinor: Int64) -> String {
        let whole = String(amountMinor / 100)
        var grouped = ""
        for (index, digit) in whole.enumerated() {
            if index > 0 && (whole.count - index) % 3 == 0 { grouped += "," }
            grouped.append(digit)
        }
        let cents = amountMinor % 100
        return "USD \(grouped).\(cents < 10 ? "0" : "")\(cents)"
    }

    func item(_ description: String, quantity: Int64 = 1, unitMinor: Int64 = 100) -> InvoiceDocument.LineItem {
        InvoiceDocument.LineItem(description: description, quantity: quantity, unitAmount: usd(unitMinor), amount: usd(quantity * unitMinor))
    }

    func makeInvoice(lines: [InvoiceDocument.LineItem]? = nil, status: InvoiceDocument.Status = .paid,
                     buyerName: String = "Ada Lovelace", memo: String = "") -> InvoiceDocument {
        let items = lines ?? [
            .init(description: "Pro plan, March 2025", quantity: 1, unitAmount: usd(99_900), amount: usd(99_900)),
            .init(description: "Extra seats", quantity: 3, unitAmount: usd(4_500), amount: usd(13_500)),
        ]
        return InvoiceDocument(
            seller: .init(legalName: "Acme Cloud Ltd", addressLines: ["1 Dock Road", "London E1 1AA", "United Kingdom"],
                          taxID: "GB123456789"),
            buyer: .init(name: buyerName, addressLines: ["1 Main St", "Suite 200", "Springfield, IL 62701"], country: "United States"),
            number: "INV-000042",
            status: status,
            issueDate: utcDate(2025, 3, 1), dueDate: utcDate(2025, 3, 31),
            paidDate: status == .paid ? utcDate(2025, 3, 10) : nil,
            lines: items,
            totals: .init(subtotal: usd(113_400), tax: usd(11_340), total: usd(124_740),
                          amountPaid: status == .paid ? usd(124_740) : usd(0), amountDue: status == .paid ? usd(0) : usd(124_740)),
            memo: memo,
            payment: status == .paid ? .init(cardBrand: "Visa", last4: "4242") : nil)
    }

    @Test("pdftotext reads the number, parties, dates, totals, stamp and payment")
    func readableInvoice() async throws {
        let text = try await extractedText(of: try renderer.render(makeInvoice()))
        for expected in ["Invoice", "INV-000042", "Ada Lovelace", "Acme Cloud Ltd", "Tax ID: GB123456789", "Springfield, IL 62701",
                         "United States", "2025-03-01", "2025-03-31", "2025-03-10", "PAID", "Extra seats", "USD 45.00",
                         "USD 1,134.00", "USD 1,247.40", "Paid by Visa card ending in 4242", "Page 1 of 1"] {
            #expect(text.contains(expected), "\(expected)")
        }
    }

    @Test("Cyrillic and Greek names and a street in Kyiv print exactly and read back")
    func cyrillicAndGreek() async throws {
        var invoice = makeInvoice(buyerName: "Анна Каренина")
        invoice.buyer.addressLines = ["вулиця Хрещатик, 22", "Київ, 01001"]
        invoice.buyer.country = "Ukraine"
        invoice.lines[0].description = "Γιώργος Παπαδόπουλος — συμβουλευτική"
        invoice.memo = "Ευχαριστούμε! Дякуємо! Łódź, Ærø, Œuvre, Ğ, ß"
        let text = try await extractedText(of: try renderer.render(invoice))
        for expected in ["Анна Каренина", "вулиця Хрещатик, 22", "Київ, 01001", "Ukraine", "Γιώργος Παπαδόπουλος — συμβουλευτική",
                         "Ευχαριστούμε! Дякуємо! Łódź, Ærø, Œuvre, Ğ, ß"] {
            #expect(text.contains(expected), "\(expected) in\n\(text)")
        }
        #expect(!text.contains("?"))
        #expect(!text.contains("\u{FFFD}"))
    }

    @Test("the fonts are embedded TrueType with a Unicode map")
    func embeddedFonts() async throws {
        let fonts = try await poppler("pdffonts", [], on: try renderer.render(makeInvoice()))
        let rows = fonts.split(separator: "\n").dropFirst(2)
        #expect(rows.count == 2, "\(fonts)")
        for row in rows {
            #expect(row.contains("DejaVuSans"), "\(row)")
            #expect(row.contains("CID TrueType"), "\(row)")
            // emb, sub and uni are all "yes".
            let flags = row.split(separator: " ").filter { $0 == "yes" || $0 == "no" }
            #expect(flags == ["yes", "yes", "yes"], "\(row)")
        }
    }

    @Test("characters the font lacks, and right-to-left scripts, print as U+FFFD, never as a blank box or a question mark")
    func missingGlyphs() async throws {
        var invoice = makeInvoice(buyerName: "山田 太郎 (Taro)")
        invoice.lines[0].description = "Office 東京 ✓ 😀 ok"
        let text = try await extractedText(of: try renderer.render(invoice))
        #expect(text.contains("\u{FFFD}\u{FFFD} \u{FFFD}\u{FFFD} (Taro)"))
        // ✓ is in DejaVu Sans; the emoji is outside the Basic Multilingual Plane.
        #expect(text.contains("Office \u{FFFD}\u{FFFD} ✓ \u{FFFD} ok"))
        #expect(!text.contains("山"))
        let rightToLeft = try await extractedText(of: try renderer.render(makeInvoice(buyerName: "דוד כהן / محمد")))
        #expect(rightToLeft.contains("\u{FFFD}\u{FFFD}\u{FFFD} \u{FFFD}\u{FFFD}\u{FFFD} / \u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"))
        #expect(!text.contains("東"))
    }

    /// How much ink the top third of the page (title, parties, summary) carries: dark pixels of a
    /// 150 dpi grayscale rendering by pdftoppm.
    func ink(_ pdf: [UInt8]) async throws -> Int {
        let file = try writeTemporaryPDF(pdf)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let output = file.deletingLastPathComponent().appendingPathComponent("page")
        let result = try await run("pdftoppm", ["-gray", "-r", "150", "-x", "0", "-y", "0", "-W", "1240", "-H", "585", "-singlefile", file.path, output.path])
        #expect(result.status == 0 && result.errors.isEmpty, "pdftoppm: \(result.errors)")
        // PGM: "P5", width, height, maximum value, each followed by one whitespace; then one byte a pixel.
        let image = try [UInt8](Data(contentsOf: output.appendingPathExtension("pgm")))
        var fieldsSeen = 0
        var index = 0
        while fieldsSeen < 4 && index < image.count {
            if image[index] == 0x0A || image[index] == 0x20 { fieldsSeen += 1 }
            index += 1
        }
        return image[index...].filter { $0 < 128 }.count
    }

    @Test("accented letters print whole: the glyphs they are built from are embedded too",
          arguments: [("Ё", "Е"), ("ї", "ı"), ("Й", "И"), ("ï", "ı"), ("Ǻ", "Å")])
    func compositeGlyphs(accented: String, base: String) async throws {
        // Twenty of each, so that a missing base letter (only the accent printed) cannot go unseen.
        let accentedInk = try await ink(try renderer.render(makeInvoice(buyerName: String(repeating: accented, count: 20))))
        let baseInk = try await ink(try renderer.render(makeInvoice(buyerName: String(repeating: base, count: 20))))
        #expect(accentedInk > baseInk, "\(accented): \(accentedInk) dark pixels, \(base): \(baseInk)")
    }

    @Test("the text policy: composed, controls as spaces, soft hyphens dropped, missing glyphs replaced")
    func textPolicy() {
        let hasGlyph: (Unicode.Scalar) -> Bool = { $0.value < 0x3000 }
        #expect(PDFText.printable("e\u{301}", hasGlyph: hasGlyph) == "é")
        #expect(PDFText.printable("line\nbreak\ttab\u{2028}x", hasGlyph: hasGlyph) == "line break tab x")
        #expect(PDFText.printable("co\u{AD}operate", hasGlyph: hasGlyph) == "cooperate")
        #expect(PDFText.printable("東京 Ω", hasGlyph: hasGlyph) == "\u{FFFD}\u{FFFD} Ω")
        #expect(PDFText.printable("𝔸", hasGlyph: { _ in true }) == "\u{FFFD}")
        // Right to left: the font may have the glyphs, but they would print backwards.
        #expect(PDFText.printable("שלום Ada", hasGlyph: { _ in true }) == "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD} Ada")
        #expect(PDFText.printable("محمد", hasGlyph: { _ in true }) == "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")
    }

    @Test("the file is sound: header, trailer, an xref where startxref says, the same bytes every time")
    func structure() async throws {
        let pdf = try renderer.render(makeInvoice())
        #expect(pdf.starts(with: Array("%PDF-".utf8)))
        let tail = String(decoding: pdf.suffix(64), as: UTF8.self)
        #expect(tail.contains("%%EOF"))
        let text = String(decoding: pdf, as: UTF8.self)
        let startxrefRange = try #require(text.range(of: "startxref", options: .backwards))
        let xrefOffset = try #require(Int(text[startxrefRange.upperBound...].drop { $0.isWhitespace }.prefix { $0.isNumber }))
        #expect(pdf[xrefOffset..<(xrefOffset + 4)].elementsEqual(Array("xref".utf8)))
        let info = try await poppler("pdfinfo", [], on: pdf).split(separator: "\n").map { line in
            line.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        }
        #expect(info.contains("Title: Invoice INV-000042"), "\(info)")
        #expect(info.contains("Page size: 595 x 842 pts (A4)"), "\(info)")
        #expect(info.contains("CreationDate: Sat Mar 1 00:00:00 2025 UTC"), "\(info)")
        #expect(try renderer.render(makeInvoice()) == pdf)
    }

    @Test("parentheses and backslashes survive")
    func escaping() async throws {
        let lines = [item("Support (priority) \\ weekend"), item("Unbalanced ) and ( parens"), item("Café crème – 5 € “quoted”")]
        let text = try await extractedText(of: try renderer.render(makeInvoice(lines: lines, buyerName: "José Müller")))
        #expect(text.contains("Support (priority) \\ weekend"))
        #expect(text.contains("Unbalanced ) and ( parens"))
        #expect(text.contains("Café crème – 5 € “quoted”"))
        #expect(text.contains("José Müller"))
    }

    @Test("a 100-line invoice spans pages and repeats the header")
    func multiplePages() async throws {
        let lines = (1...100).map { item("Usage line \($0)", quantity: Int64($0)) }
        let pdf = try renderer.render(makeInvoice(lines: lines, status: .open))
        let text = try await extractedText(of: pdf)
        #expect(text.contains("Usage line 1 "))
        #expect(text.contains("Usage line 100"))
        #expect(text.contains("USD 1,247.40"))
        #expect(text.contains("OPEN"))
        #expect(text.contains("(continued)"))

        let info = try await poppler("pdfinfo", [], on: pdf)
        let pageLine = try #require(info.split(separator: "\n").first { $0.hasPrefix("Pages:") })
        let pageCount = try #require(Int(pageLine.split(separator: " ").last ?? ""))
        #expect(pageCount >= 3)
        #expect(text.contains("Page \(pageCount) of \(pageCount)"))
        #expect(text.components(separatedBy: "Unit price").count - 1 == pageCount)
        var searchFrom = text.startIndex
        for index in 1...100 {
            let range = try #require(text.range(of: "Usage line \(index) ", range: searchFrom..<text.endIndex), "line \(index)")
            searchFrom = range.upperBound
        }
    }

    @Test("whatever the line count, the totals follow the last line, the memo follows the totals, every page is numbered")
    func pageBreaks() async throws {
        for lineCount in stride(from: 20, through: 64, by: 4) {
            let lines = (1...lineCount).map { item("Item \($0)") }
            let memo = (1...12).map { "Memo paragraph \($0)." }.joined(separator: "\n")
            let text = try await extractedText(of: try renderer.render(makeInvoice(lines: lines, status: .open, memo: memo)))
            let lastLine = try #require(text.range(of: "Item \(lineCount) "), "\(lineCount) lines")
            let totals = try #require(text.range(of: "Amount due"), "\(lineCount) lines")
            let lastMemo = try #require(text.range(of: "Memo paragraph 12."), "\(lineCount) lines")
            #expect(lastLine.upperBound < totals.lowerBound, "\(lineCount) lines")
            #expect(totals.upperBound < lastMemo.lowerBound, "\(lineCount) lines")
            let pageCount = text.components(separatedBy: "Page ").count - 1
            #expect(text.contains("Page \(pageCount) of \(pageCount)"), "\(lineCount) lines")
        }
    }

    @Test("a long memo is printed whole, wrapped to the page")
    func longMemo() async throws {
        let memo = (1...240).map { "word\($0)" }.joined(separator: " ")  // 1,891 characters: under the limit
        let text = try await extractedText(of: try renderer.render(makeInvoice(memo: memo)))
        #expect(text.contains("Memo"))
        #expect(text.contains("word1 "))
        #expect(text.contains("word240"))
        var searchFrom = text.startIndex
        for index in 1...240 {
            let range = try #require(text.range(of: "word\(index)", range: searchFrom..<text.endIndex), "word\(index)")
            searchFrom = range.upperBound
        }
    }

    @Test("amounts are right-aligned on the Amount column")
    func rightAlignment() async throws {
        let html = try await poppler("pdftotext", ["-bbox"], on: try renderer.render(makeInvoice(status: .open)))
        func attribute(_ name: String, of line: Substring) -> Double? {
            guard let start = line.range(of: name + "=\"")?.upperBound else { return nil }
            return Double(line[start...].prefix { $0 != "\"" })
        }
        var rightmostEdgeByRow: [Double: Double] = [:]
        var amountColumnWords: [String] = []
        for line in html.split(separator: "\n") where line.contains("<word ") {
            guard let xMin = attribute("xMin", of: line), let xMax = attribute("xMax", of: line),
                  let yMin = attribute("yMin", of: line), xMin > 480, yMin > 100 else { continue }
            rightmostEdgeByRow[yMin] = max(rightmostEdgeByRow[yMin] ?? 0, xMax)
            amountColumnWords.append(String(line.split(separator: ">")[1].prefix { $0 != "<" }))
        }
        // Header, two lines, five totals, the footer's page number.
        #expect(rightmostEdgeByRow.count == 9, "\(amountColumnWords)")
        for edge in rightmostEdgeByRow.values {
            #expect(abs(edge - 545) < 0.5, "right edge \(edge)")
        }
        for amount in ["Amount", "999.00", "135.00", "1,134.00", "113.40", "1,247.40", "0.00"] {
            #expect(amountColumnWords.contains(amount), "\(amount) in \(amountColumnWords)")
        }
    }

    @Test("long descriptions wrap, and stop at three lines")
    func longDescriptions() async throws {
        let long = (1...80).map { "word\($0)" }.joined(separator: " ")
        let unbroken = String(repeating: "X", count: 300)
        let text = try await extractedText(of: try renderer.render(makeInvoice(lines: [item(long), item(unbroken)])))
        #expect(text.contains("word1 "))
        #expect(text.contains("word20"))
        #expect(!text.contains("word80"))
        #expect(text.contains("…"))
        #expect(!text.contains(unbroken))
    }

    @Test("every status prints its stamp", arguments: InvoiceDocument.Status.allCases)
    func stamps(status: InvoiceDocument.Status) async throws {
        let text = try await extractedText(of: try renderer.render(makeInvoice(lines: [], status: status)))
        #expect(text.contains(status.rawValue.uppercased()))
        #expect(text.contains("No line items"))
    }

    @Test("documents that must not be printed are refused, naming the field")
    func invalidDocuments() {
        func refusal(_ change: (inout InvoiceDocument) -> Void) -> InvoiceRenderingError? {
            var invoice = makeInvoice()
            change(&invoice)
            do {
                _ = try renderer.render(invoice)
                return nil
            } catch {
                return error
            }
        }
        #expect(refusal { $0.number = "  " }?.field == "number")
        #expect(refusal { $0.seller.legalName = "" }?.field == "seller.legal_name")
        #expect(refusal { $0.memo = String(repeating: "m", count: InvoiceDocument.maxMemoCharacters + 1) }?.field == "memo")
        let wholeNumber = refusal { $0.payment = .init(cardBrand: "Visa", last4: "4242424242424242") }
        #expect(wholeNumber?.code == .invalidDocument)
        #expect(wholeNumber?.field == "payment.last4")
        #expect(wholeNumber?.message.contains("4242") == false)
        #expect(refusal { $0.payment = .init(cardBrand: "Visa", last4: "42a2") }?.field == "payment.last4")
        #expect(refusal { $0.payment = .init(cardBrand: "Visa", last4: "٤٢٤٢") }?.field == "payment.last4")
        #expect(refusal { _ in } == nil)
    }

    @Test("a missing or unusable font is refused when the renderer is made, naming the file")
    func missingFont() async throws {
        let missing = InvoiceFonts(regularPath: "/nonexistent/Font.ttf", boldPath: InvoiceFonts.dejaVuSans.boldPath)
        #expect(throws: InvoiceRenderingError.self) { _ = try InvoiceRenderer(fonts: missing) }
        do {
            _ = try InvoiceRenderer(fonts: missing)
        } catch {
            #expect(error.code == .fontUnavailable)
            #expect(error.message.contains("/nonexistent/Font.ttf"))
        }

        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let notAFont = directory.appendingPathComponent("not-a-font.ttf")
        try Data("this is not a TrueType font".utf8).write(to: notAFont)
        do {
            _ = try InvoiceRenderer(fonts: InvoiceFonts(regularPath: InvoiceFonts.dejaVuSans.regularPath, boldPath: notAFont.path))
            Issue.record("a text file was accepted as a font")
        } catch {
            #expect(error.code == .fontUnavailable)
            #expect(error.message.contains("not-a-font.ttf"))
        }
    }

    @Test("renderers work in parallel: libharu documents share nothing")
    func concurrentRendering() async throws {
        let renderer = renderer
        let expected = try renderer.render(makeInvoice())
        let invoice = makeInvoice()
        try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<8 {
                group.addTask { try renderer.render(invoice) }
            }
            for try await pdf in group {
                #expect(pdf == expected)
            }
        }
    }
}
