import Foundation

/// Renders an ``InvoiceDocument`` as a PDF 1.4 file a person can print and file.
///
/// Page one carries the title "Invoice", a status stamp (DRAFT, OPEN, PAID, VOID,
/// UNCOLLECTIBLE), the number and dates, the seller ("From") and buyer ("Bill to")
/// blocks, a one-line summary of what is due, and the table of lines. The table
/// continues on further pages as needed, each with the invoice number and the table
/// header repeated; the totals, right-aligned, follow the last line. Every page has a
/// footer with the number and "Page i of n".
///
/// The PDF is written by hand (see ``PDFDocumentWriter``) with the standard Helvetica
/// fonts, so it needs no dependency and no font files. Output is deterministic: the
/// same document gives the same bytes. Dates are printed as `YYYY-MM-DD` in UTC.
///
/// ```swift
/// let bytes = try InvoicePDF.render(document)
/// try Data(bytes).write(to: fileURL)
/// ```
public enum InvoicePDF {
    /// The PDF file's bytes.
    /// - Throws: `invalidArgument` when ``InvoiceDocument/validate()`` finds a problem.
    public static func render(_ invoice: InvoiceDocument) throws -> [UInt8] {
        try invoice.validate()
        let renderer = InvoicePageRenderer(invoice: invoice)
        let pages = renderer.pages()
        let writer = PDFDocumentWriter(
            title: "Invoice \(invoice.number)",
            creationDate: "D:" + InvoicePageRenderer.compactDateText(invoice.issueDate) + "000000Z")
        return writer.bytes(pages: pages)
    }
}

/// Lays out and draws the pages of one invoice, top to bottom.
struct InvoicePageRenderer {
    let invoice: InvoiceDocument

    // MARK: Page geometry, in points

    static let leftX = 50.0
    static let rightX = 545.0
    /// Nothing but the footer goes below this baseline.
    static let lowestContentY = 64.0
    static let footerY = 36.0

    // Table columns: the description on the left, numbers right-aligned on the right.
    static let descriptionWidth = 255.0
    static let quantityRightX = 360.0
    static let unitPriceRightX = 455.0
    static let amountRightX = rightX
    static let maxDescriptionLinesPerRow = 3
    /// Far more than three lines can hold, even of the narrowest characters.
    static let maxDescriptionCharacters = 1_000

    static let bodySize = 9.0
    static let rowLineHeight = 11.0
    static let totalsLabelX = 330.0
    static let totalsRowHeight = 15.0
    /// The totals block: five rows and the space above them.
    static let totalsBlockHeight = 5 * totalsRowHeight + 12

    static let mutedGray = PDFPage.Color.gray(0.4)
    static let ruleGray = PDFPage.Color.gray(0.75)

    // MARK: Pages

    /// All pages: the first-page header, the rows in order (starting a new page whenever
    /// the next row would run into the footer), the totals, then footers on every page.
    func pages() -> [PDFPage] {
        var finishedPages: [PDFPage] = []
        var page = PDFPage()
        var y = drawFirstPageHeader(on: &page)
        y = drawTableHeader(on: &page, baselineY: y)

        let rows = invoice.lines.map(tableRow(for:))
        if rows.isEmpty {
            page.text("No line items", x: Self.leftX, y: y, font: .helvetica, size: Self.bodySize,
                      color: Self.mutedGray)
            y -= 18
        }
        for row in rows {
            if y - row.height < Self.lowestContentY {
                finishedPages.append(page)
                page = PDFPage()
                y = drawContinuationHeader(on: &page)
                y = drawTableHeader(on: &page, baselineY: y)
            }
            y = draw(row, on: &page, baselineY: y)
        }

        if y - Self.totalsBlockHeight < Self.lowestContentY {
            finishedPages.append(page)
            page = PDFPage()
            y = drawContinuationHeader(on: &page)
        }
        drawTotals(on: &page, topY: y)
        finishedPages.append(page)

        for index in finishedPages.indices {
            drawFooter(on: &finishedPages[index], pageNumber: index + 1, pageCount: finishedPages.count)
        }
        return finishedPages
    }

    // MARK: Headers and footer

    /// Title, stamp, number and dates, seller and buyer, and what is due.
    /// Returns the baseline for the table header.
    private func drawFirstPageHeader(on page: inout PDFPage) -> Double {
        page.text("Invoice", x: Self.leftX, y: 770, font: .helveticaBold, size: 24)
        drawStatusStamp(on: &page)

        var y = 738.0
        for (label, value) in metadataRows() {
            page.text(label, x: Self.leftX, y: y, font: .helvetica, size: Self.bodySize, color: Self.mutedGray)
            page.text(value, x: Self.leftX + 90, y: y, font: .helveticaBold, size: Self.bodySize)
            y -= 13
        }

        let partiesTopY = y - 16
        let sellerBottomY = drawPartyBlock(title: "From", lines: sellerLines(), x: Self.leftX, topY: partiesTopY,
                                           on: &page)
        let buyerBottomY = drawPartyBlock(title: "Bill to", lines: buyerLines(), x: 305, topY: partiesTopY,
                                          on: &page)
        y = min(sellerBottomY, buyerBottomY) - 28

        page.text(summaryLine(), x: Self.leftX, y: y, font: .helveticaBold, size: 13)
        return y - 30
    }

    /// The status in capitals inside a coloured box, top right: the first thing a
    /// person filing the invoice looks for.
    private func drawStatusStamp(on page: inout PDFPage) {
        let text = invoice.status.rawValue.uppercased()
        let size = 16.0
        let color = Self.stampColor(for: invoice.status)
        let textWidth = PDFPage.textWidth(text, font: .helveticaBold, size: size)
        let padding = 8.0
        let baselineY = 772.0
        page.rectangleOutline(x: Self.rightX - textWidth - 2 * padding, y: baselineY - 6,
                              width: textWidth + 2 * padding, height: 24, lineWidth: 2, color: color)
        page.rightAlignedText(text, rightX: Self.rightX - padding, y: baselineY, font: .helveticaBold, size: size,
                              color: color)
    }

    /// Pages after the first: which invoice this is, and for whom. Returns the baseline
    /// for the table header.
    private func drawContinuationHeader(on page: inout PDFPage) -> Double {
        page.text("Invoice \(invoice.number) (continued)", x: Self.leftX, y: 770, font: .helveticaBold, size: 14)
        let subtitle = "\(invoice.buyer.fullName.trimmingWhitespace()) · issued \(Self.dateText(invoice.issueDate))"
        page.text(fitted(subtitle, width: Self.rightX - Self.leftX, font: .helvetica, size: Self.bodySize),
                  x: Self.leftX, y: 754, font: .helvetica, size: Self.bodySize, color: Self.mutedGray)
        return 724
    }

    private func drawFooter(on page: inout PDFPage, pageNumber: Int, pageCount: Int) {
        page.line(fromX: Self.leftX, fromY: Self.footerY + 12, toX: Self.rightX, toY: Self.footerY + 12,
                  width: 0.5, color: Self.ruleGray)
        let left = fitted("\(invoice.seller.name.trimmingWhitespace()) · Invoice \(invoice.number)",
                          width: 380, font: .helvetica, size: 8)
        page.text(left, x: Self.leftX, y: Self.footerY, font: .helvetica, size: 8, color: Self.mutedGray)
        page.rightAlignedText("Page \(pageNumber) of \(pageCount)", rightX: Self.rightX, y: Self.footerY,
                              font: .helvetica, size: 8, color: Self.mutedGray)
    }

    // MARK: Blocks of text

    private func metadataRows() -> [(String, String)] {
        var rows = [
            ("Invoice number", invoice.number.trimmingWhitespace()),
            ("Date of issue", Self.dateText(invoice.issueDate)),
            ("Date due", Self.dateText(invoice.dueDate)),
        ]
        if let paidDate = invoice.paidDate {
            rows.append(("Date paid", Self.dateText(paidDate)))
        }
        return rows
    }

    private func sellerLines() -> [String] {
        let seller = invoice.seller
        var lines = [seller.name] + seller.addressLines.prefix(6)
        if let taxID = seller.taxID?.trimmingWhitespace(), !taxID.isEmpty {
            lines.append("Tax ID: \(taxID)")
        }
        return lines
    }

    /// Name, street lines, "City, Region Postal code", country code.
    private func buyerLines() -> [String] {
        let buyer = invoice.buyer
        let address = buyer.address
        let regionAndPostalCode = [address.region, address.postalCode]
            .map { $0.trimmingWhitespace() }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
        let cityLine = [address.city.trimmingWhitespace(), regionAndPostalCode]
            .filter { !$0.isEmpty }
            .joined(separator: ", ")
        return [buyer.fullName] + address.lines.prefix(BillingInformation.maxAddressLineCount)
            + [cityLine, buyer.countryCode.uppercased()]
    }

    /// A bold title over lines of text, the first in bold. Returns the lowest baseline used.
    private func drawPartyBlock(title: String, lines: [String], x: Double, topY: Double,
                                on page: inout PDFPage) -> Double {
        let width = 235.0
        page.text(title, x: x, y: topY, font: .helveticaBold, size: Self.bodySize, color: Self.mutedGray)
        var y = topY - 15
        let nonEmptyLines = lines.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        for (index, line) in nonEmptyLines.enumerated() {
            let font: PDFFont = index == 0 ? .helveticaBold : .helvetica
            page.text(fitted(line, width: width, font: font, size: 10), x: x, y: y, font: font, size: 10)
            y -= 13
        }
        return y + 13
    }

    /// One sentence saying where the money stands, e.g. "USD 1,234.56 due 2025-03-31".
    private func summaryLine() -> String {
        switch invoice.status {
        case .draft, .open:
            return "\(invoice.amountDue.formatted) due \(Self.dateText(invoice.dueDate))"
        case .paid:
            let paidOn = invoice.paidDate.map { " on \(Self.dateText($0))" } ?? ""
            return "\(invoice.amountPaid.formatted) paid\(paidOn)"
        case .void:
            return "This invoice is void; nothing is due"
        case .uncollectible:
            return "\(invoice.amountDue.formatted) was due \(Self.dateText(invoice.dueDate)); marked uncollectible"
        }
    }

    // MARK: Table

    /// A line item ready to draw: its description wrapped to the column.
    struct TableRow {
        var descriptionLines: [String]
        var quantity: String
        var unitAmount: String
        var amount: String

        /// From this row's baseline to the next row's.
        var height: Double {
            Double(descriptionLines.count - 1) * InvoicePageRenderer.rowLineHeight + 18
        }
    }

    private func tableRow(for item: InvoiceDocument.LineItem) -> TableRow {
        TableRow(
            descriptionLines: wrapped(item.description, width: Self.descriptionWidth, font: .helvetica,
                                      size: Self.bodySize, maxLines: Self.maxDescriptionLinesPerRow),
            quantity: String(item.quantity),
            unitAmount: item.unitAmount.formatted,
            amount: item.amount.formatted)
    }

    /// Returns the baseline of the first row.
    private func drawTableHeader(on page: inout PDFPage, baselineY y: Double) -> Double {
        let size = Self.bodySize
        page.text("Description", x: Self.leftX, y: y, font: .helveticaBold, size: size)
        page.rightAlignedText("Qty", rightX: Self.quantityRightX, y: y, font: .helveticaBold, size: size)
        page.rightAlignedText("Unit price", rightX: Self.unitPriceRightX, y: y, font: .helveticaBold, size: size)
        page.rightAlignedText("Amount", rightX: Self.amountRightX, y: y, font: .helveticaBold, size: size)
        page.line(fromX: Self.leftX, fromY: y - 5, toX: Self.rightX, toY: y - 5, width: 0.75)
        return y - 18
    }

    /// Draws `row` and a light rule under it. Returns the next row's baseline.
    private func draw(_ row: TableRow, on page: inout PDFPage, baselineY y: Double) -> Double {
        let size = Self.bodySize
        for (index, line) in row.descriptionLines.enumerated() {
            page.text(line, x: Self.leftX, y: y - Double(index) * Self.rowLineHeight, font: .helvetica, size: size)
        }
        page.rightAlignedText(row.quantity, rightX: Self.quantityRightX, y: y, font: .helvetica, size: size)
        page.rightAlignedText(row.unitAmount, rightX: Self.unitPriceRightX, y: y, font: .helvetica, size: size)
        page.rightAlignedText(row.amount, rightX: Self.amountRightX, y: y, font: .helvetica, size: size)
        let ruleY = y - Double(row.descriptionLines.count - 1) * Self.rowLineHeight - 6
        page.line(fromX: Self.leftX, fromY: ruleY, toX: Self.rightX, toY: ruleY, width: 0.25, color: Self.ruleGray)
        return y - row.height
    }

    /// Subtotal, tax, total, amount paid, amount due: labels on the left of the block,
    /// amounts right-aligned under the table's Amount column.
    private func drawTotals(on page: inout PDFPage, topY: Double) {
        var y = topY - 6
        let rows: [(label: String, amount: Money, isEmphasized: Bool)] = [
            ("Subtotal", invoice.subtotal, false),
            ("Tax", invoice.tax, false),
            ("Total", invoice.total, true),
            ("Amount paid", invoice.amountPaid, false),
            ("Amount due", invoice.amountDue, true),
        ]
        for row in rows {
            let font: PDFFont = row.isEmphasized ? .helveticaBold : .helvetica
            if row.label == "Total" {
                page.line(fromX: Self.totalsLabelX, fromY: y + 11, toX: Self.rightX, toY: y + 11, width: 0.75)
            }
            page.text(row.label, x: Self.totalsLabelX, y: y, font: font, size: 10)
            page.rightAlignedText(row.amount.formatted, rightX: Self.amountRightX, y: y, font: font, size: 10)
            y -= Self.totalsRowHeight
        }
    }

    // MARK: Fitting text

    /// `text` split into lines no wider than `width`, breaking between words (or inside
    /// a word too long for a line). Beyond `maxLines`, the last line ends with "…".
    private func wrapped(_ text: String, width: Double, font: PDFFont, size: Double, maxLines: Int) -> [String] {
        func fits(_ candidate: String) -> Bool {
            PDFPage.textWidth(candidate, font: font, size: size) <= width
        }
        // More than fits in `maxLines` is never shown; the bound keeps wrapping cheap.
        let shownText = text.prefix(Self.maxDescriptionCharacters)
        var lines: [String] = []
        var currentLine = ""
        for word in shownText.split(whereSeparator: \.isWhitespace).map(String.init) {
            let candidate = currentLine.isEmpty ? word : currentLine + " " + word
            if fits(candidate) {
                currentLine = candidate
                continue
            }
            if !currentLine.isEmpty {
                lines.append(currentLine)
            }
            var remainder = word
            while !fits(remainder) && lines.count <= maxLines {
                let head = longestPrefix(of: remainder, fitting: width, font: font, size: size)
                lines.append(head)
                remainder = String(remainder.dropFirst(head.count))
            }
            currentLine = remainder
            if lines.count > maxLines { break }  // enough to know it will be cut
        }
        if !currentLine.isEmpty {
            lines.append(currentLine)
        }
        if lines.isEmpty {
            return [""]
        }
        if lines.count > maxLines {
            let lastKept = lines[maxLines - 1] + " " + lines[maxLines]
            return Array(lines.prefix(maxLines - 1)) + [fitted(lastKept, width: width, font: font, size: size,
                                                                alwaysMarkCut: true)]
        }
        return lines
    }

    /// `text`, shortened with "…" if it is wider than `width`.
    private func fitted(_ text: String, width: Double, font: PDFFont, size: Double,
                        alwaysMarkCut: Bool = false) -> String {
        if !alwaysMarkCut && PDFPage.textWidth(text, font: font, size: size) <= width {
            return text
        }
        let ellipsisWidth = PDFPage.textWidth("…", font: font, size: size)
        let kept = longestPrefix(of: text, fitting: width - ellipsisWidth, font: font, size: size)
        return kept.trimmingWhitespace() + "…"
    }

    /// The longest start of `text` no wider than `width` (at least one character, so
    /// wrapping always makes progress).
    private func longestPrefix(of text: String, fitting width: Double, font: PDFFont, size: Double) -> String {
        var prefix = ""
        for character in text {
            let candidate = prefix + String(character)
            if !prefix.isEmpty && PDFPage.textWidth(candidate, font: font, size: size) > width {
                break
            }
            prefix = candidate
        }
        return prefix
    }

    // MARK: Dates and colours

    /// `2025-03-01`, in UTC.
    static func dateText(_ date: Date) -> String {
        let (year, month, day) = utcDateComponents(date)
        return "\(year)-\(twoDigits(month))-\(twoDigits(day))"
    }

    /// `20250301`, in UTC, for the PDF's creation date.
    static func compactDateText(_ date: Date) -> String {
        let (year, month, day) = utcDateComponents(date)
        return "\(year)\(twoDigits(month))\(twoDigits(day))"
    }

    private static func utcDateComponents(_ date: Date) -> (year: Int, month: Int, day: Int) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let components = calendar.dateComponents([.year, .month, .day], from: date)
        return (components.year ?? 0, components.month ?? 0, components.day ?? 0)
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }

    private static func stampColor(for status: InvoiceDocument.Status) -> PDFPage.Color {
        switch status {
        case .draft, .void: return .gray(0.45)
        case .open: return PDFPage.Color(red: 0.1, green: 0.3, blue: 0.7)
        case .paid: return PDFPage.Color(red: 0.0, green: 0.5, blue: 0.25)
        case .uncollectible: return PDFPage.Color(red: 0.75, green: 0.1, blue: 0.1)
        }
    }
}
