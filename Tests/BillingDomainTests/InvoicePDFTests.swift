import Foundation
import Testing

@testable import BillingDomain

@Suite("InvoicePDF")
struct InvoicePDFTests {
    func usd(_ amountMinor: Int64) -> Money { Money(amountMinor: amountMinor, currency: .usd) }

    func makeInvoice(lines: [InvoiceDocument.LineItem]? = nil, status: InvoiceDocument.Status = .paid,
                     buyerName: String = "Ada Lovelace") -> InvoiceDocument {
        let items = lines ?? [
            .init(description: "Pro plan, March 2025", quantity: 1, unitAmount: usd(99_900), amount: usd(99_900)),
            .init(description: "Extra seats", quantity: 3, unitAmount: usd(4_500), amount: usd(13_500)),
        ]
        let subtotal = items.reduce(Int64(0)) { $0 + $1.amount.amountMinor }
        let tax = subtotal / 10
        let total = usd(subtotal + tax)
        return InvoiceDocument(
            seller: .init(name: "Acme Cloud Ltd", addressLines: ["1 Dock Road", "London E1 1AA", "United Kingdom"],
                          taxID: "GB123456789"),
            buyer: BillingInformation(
                fullName: buyerName, countryCode: "US",
                address: BillingAddress(lines: ["1 Main St", "Suite 200"], city: "Springfield", region: "IL",
                                        postalCode: "62701")),
            number: InvoiceDocument.number(sequence: 42),
            status: status,
            issueDate: utcDate(2025, 3, 1), dueDate: utcDate(2025, 3, 31),
            paidDate: status == .paid ? utcDate(2025, 3, 10) : nil,
            lines: items, subtotal: usd(subtotal), tax: usd(tax), total: total,
            amountPaid: status == .paid ? total : usd(0), amountDue: status == .paid ? usd(0) : total,
            currency: .usd)
    }

    @Test("invoice numbers are padded to six digits")
    func invoiceNumbers() {
        #expect(InvoiceDocument.number(sequence: 42) == "INV-000042")
        #expect(InvoiceDocument.number(sequence: 1_234_567) == "INV-1234567")
        #expect(InvoiceDocument.number(sequence: 7, prefix: "ACME") == "ACME-000007")
    }

    @Test("pdftotext reads the number, buyer, dates, totals and stamp")
    func readableInvoice() throws {
        let invoice = makeInvoice()
        let text = try extractedText(of: try InvoicePDF.render(invoice))
        #expect(text.contains("Invoice"))
        #expect(text.contains("INV-000042"))
        #expect(text.contains("Ada Lovelace"))
        #expect(text.contains("Acme Cloud Ltd"))
        #expect(text.contains("GB123456789"))
        #expect(text.contains("Springfield, IL 62701"))
        #expect(text.contains("2025-03-01"))
        #expect(text.contains("2025-03-31"))
        #expect(text.contains("2025-03-10"))
        #expect(text.contains("PAID"))
        #expect(text.contains("Extra seats"))
        #expect(text.contains("USD 45.00"))
        #expect(text.contains("USD 1,134.00"))  // subtotal
        #expect(text.contains(invoice.total.formatted))  // "USD 1,247.40"
        #expect(text.contains("Page 1 of 1"))
    }

    @Test("the file's structure is sound: header, objects at their xref offsets, trailer")
    func structure() throws {
        let pdf = try InvoicePDF.render(makeInvoice())
        #expect(pdf.starts(with: Array("%PDF-1.4\n".utf8)))
        #expect(pdf.suffix(6).elementsEqual(Array("%%EOF\n".utf8)))

        let text = String(decoding: pdf, as: UTF8.self)
        let startxrefRange = try #require(text.range(of: "startxref\n", options: .backwards))
        let xrefOffsetText = text[startxrefRange.upperBound...].prefix { $0.isNumber }
        let xrefOffset = try #require(Int(xrefOffsetText))
        #expect(pdf[xrefOffset..<(xrefOffset + 5)].elementsEqual(Array("xref\n".utf8)))

        let xrefSection = String(decoding: pdf[xrefOffset...], as: UTF8.self)
        let xrefLines = xrefSection.split(separator: "\n", omittingEmptySubsequences: false)
        let counts = xrefLines[1].split(separator: " ")
        let objectCount = try #require(Int(counts[1]))
        #expect(objectCount >= 8)
        for objectNumber in 1..<objectCount {
            let entry = xrefLines[2 + objectNumber]
            #expect(entry.count == 19)  // 20 bytes with the newline
            let offset = try #require(Int(entry.prefix(10)))
            let expected = Array("\(objectNumber) 0 obj\n".utf8)
            #expect(pdf[offset..<(offset + expected.count)].elementsEqual(expected), "object \(objectNumber)")
        }
        #expect(text.contains("/BaseFont /Helvetica "))
        #expect(text.contains("/BaseFont /Helvetica-Bold "))

        // Same document, same bytes.
        #expect(try InvoicePDF.render(makeInvoice()) == pdf)
    }

    @Test("parentheses, backslashes and non-ASCII text survive")
    func escaping() throws {
        let lines: [InvoiceDocument.LineItem] = [
            .init(description: "Support (priority) \\ weekend", quantity: 2, unitAmount: usd(1_000), amount: usd(2_000)),
            .init(description: "Unbalanced ) and ( parens", quantity: 1, unitAmount: usd(1), amount: usd(1)),
            .init(description: "Café crème – 5 € “quoted”", quantity: 1, unitAmount: usd(1), amount: usd(1)),
            .init(description: "Łódź office 東京", quantity: 1, unitAmount: usd(1), amount: usd(1)),
        ]
        let pdf = try InvoicePDF.render(makeInvoice(lines: lines, buyerName: "José Müller"))
        let text = try extractedText(of: pdf)
        #expect(text.contains("Support (priority) \\ weekend"))
        #expect(text.contains("Unbalanced ) and ( parens"))
        #expect(text.contains("Café crème – 5 € “quoted”"))
        #expect(text.contains("Lódz office ??"))
        #expect(text.contains("José Müller"))

        // The content stream itself is plain ASCII.
        #expect(pdf.dropFirst(16).allSatisfy { $0 < 128 })
    }

    @Test("a 100-line invoice spans pages and repeats the header")
    func multiplePages() throws {
        let lines = (1...100).map { index in
            InvoiceDocument.LineItem(description: "Usage line \(index)", quantity: Int64(index),
                                     unitAmount: usd(100), amount: usd(Int64(index) * 100))
        }
        let invoice = makeInvoice(lines: lines, status: .open)
        let pdf = try InvoicePDF.render(invoice)
        let text = try extractedText(of: pdf)
        #expect(text.contains("Usage line 1 "))
        #expect(text.contains("Usage line 100"))
        #expect(text.contains(invoice.total.formatted))
        #expect(text.contains("OPEN"))
        #expect(text.contains("(continued)"))

        let file = try writeTemporaryPDF(pdf)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let info = try run("pdfinfo", [file.path])
        let pageLine = try #require(info.output.split(separator: "\n").first { $0.hasPrefix("Pages:") })
        let pageCount = try #require(Int(pageLine.split(separator: " ").last ?? ""))
        #expect(pageCount >= 3)
        #expect(text.contains("Page \(pageCount) of \(pageCount)"))
        // Every page has the table header.
        #expect(text.components(separatedBy: "Unit price").count - 1 == pageCount)

        // Each line appears exactly once, in order.
        var searchFrom = text.startIndex
        for index in 1...100 {
            let range = try #require(text.range(of: "Usage line \(index) ", range: searchFrom..<text.endIndex),
                                     "line \(index)")
            searchFrom = range.upperBound
        }
    }

    @Test("whatever the line count, the totals follow the last line and every page is numbered")
    func pageBreaks() throws {
        for lineCount in stride(from: 20, through: 64, by: 2) {
            let lines = (1...lineCount).map { index in
                InvoiceDocument.LineItem(description: "Item \(index)", quantity: 1, unitAmount: usd(100),
                                         amount: usd(100))
            }
            let text = try extractedText(of: try InvoicePDF.render(makeInvoice(lines: lines, status: .open)))
            let lastLine = try #require(text.range(of: "Item \(lineCount) "), "\(lineCount) lines")
            let totals = try #require(text.range(of: "Amount due"), "\(lineCount) lines")
            #expect(lastLine.upperBound < totals.lowerBound, "\(lineCount) lines")
            let pageCount = text.components(separatedBy: "Page ").count - 1
            #expect(text.contains("Page \(pageCount) of \(pageCount)"), "\(lineCount) lines")
        }
    }

    @Test("amounts are right-aligned on the Amount column")
    func rightAlignment() throws {
        let pdf = try InvoicePDF.render(makeInvoice())
        let file = try writeTemporaryPDF(pdf)
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let html = try run("pdftotext", ["-bbox", file.path, "-"]).output

        // <word xMin="517.481000" yMin="300.538000" xMax="545.003000" yMax="308.863000">999.00</word>
        func attribute(_ name: String, of line: Substring) -> Double? {
            guard let start = line.range(of: name + "=\"")?.upperBound else { return nil }
            return Double(line[start...].prefix { $0 != "\"" })
        }
        var rightmostEdgeByRow: [Double: Double] = [:]
        var amountColumnWords: [String] = []
        for line in html.split(separator: "\n") where line.contains("<word ") {
            guard let xMin = attribute("xMin", of: line), let xMax = attribute("xMax", of: line),
                  let yMin = attribute("yMin", of: line), xMin > 480,
                  yMin > 100  // below the status stamp, which sits inside its box
            else { continue }
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
    func longDescriptions() throws {
        let long = (1...80).map { "word\($0)" }.joined(separator: " ")
        let unbroken = String(repeating: "X", count: 300)
        let lines: [InvoiceDocument.LineItem] = [
            .init(description: long, quantity: 1, unitAmount: usd(1), amount: usd(1)),
            .init(description: unbroken, quantity: 1, unitAmount: usd(1), amount: usd(1)),
        ]
        let text = try extractedText(of: try InvoicePDF.render(makeInvoice(lines: lines)))
        #expect(text.contains("word1 "))
        #expect(text.contains("word20"))
        #expect(!text.contains("word80"))
        #expect(text.contains("…"))
        #expect(!text.contains(unbroken))
    }

    @Test("every status prints its stamp", arguments: InvoiceDocument.Status.allCases)
    func stamps(status: InvoiceDocument.Status) throws {
        let text = try extractedText(of: try InvoicePDF.render(makeInvoice(lines: [], status: status)))
        #expect(text.contains(status.rawValue.uppercased()))
        #expect(text.contains("No line items"))
    }

    @Test("amounts in another currency are refused, naming the field")
    func currencyMismatch() {
        var invoice = makeInvoice()
        invoice.lines[1].amount = Money(amountMinor: 13_500, currency: .eur)
        let error = expectBillingError(.invalidArgument, field: "lines[1].amount") { _ = try InvoicePDF.render(invoice) }
        #expect(error?.message == "lines[1].amount is in EUR but the invoice is in USD")

        invoice = makeInvoice()
        invoice.tax = Money(amountMinor: 0, currency: .gbp)
        expectBillingError(.invalidArgument, field: "tax") { _ = try InvoicePDF.render(invoice) }

        invoice = makeInvoice()
        invoice.number = "  "
        expectBillingError(.invalidArgument, field: "number") { _ = try InvoicePDF.render(invoice) }
    }

    @Test("PDF text encoding")
    func textEncoding() {
        #expect(PDFText.literal(PDFText.winAnsiBytes("a(b)c\\d")) == "(a\\(b\\)c\\\\d)")
        #expect(PDFText.literal(PDFText.winAnsiBytes("é€")) == "(\\351\\200)")
        #expect(PDFText.winAnsiBytes("line\nbreak\ttab") == Array("line break tab".utf8))
        #expect(PDFText.winAnsiBytes("e\u{301}") == [0xE9])  // composed before encoding
        #expect(PDFText.winAnsiBytes("ő Ł 東") == Array("o L ?".utf8))
        #expect(PDFPage.number(12) == "12")
        #expect(PDFPage.number(12.5) == "12.5")
        #expect(PDFPage.number(-0.25) == "-0.25")
        #expect(PDFPage.number(3.004) == "3")
    }
}
