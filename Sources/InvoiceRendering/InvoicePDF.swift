import Foundation

/// The TrueType fonts invoices are printed in: any font with the scripts your customers write
/// in. DejaVu Sans (Debian's `fonts-dejavu-core`) has Latin, Greek and Cyrillic.
public struct InvoiceFonts: Sendable, Hashable {
    public var regularPath: String
    public var boldPath: String

    public init(regularPath: String, boldPath: String) {
        self.regularPath = regularPath
        self.boldPath = boldPath
    }

    /// Where `fonts-dejavu-core` installs DejaVu Sans and DejaVu Sans Bold.
    public static let dejaVuSans = InvoiceFonts(
        regularPath: "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        boldPath: "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
}

/// Renders an ``InvoiceDocument`` as a PDF a person can print and file, in any language the
/// fonts cover.
///
/// Page one carries the title "Invoice", a status stamp (DRAFT, OPEN, PAID, VOID,
/// UNCOLLECTIBLE), the number and dates, the seller ("From") and buyer ("Bill to")
/// blocks, a one-line summary of what is due (and, once paid, the card that paid), and the
/// table of lines. The table continues on further pages as needed, each with the invoice
/// number and the table header repeated; the totals, right-aligned, follow the last line,
/// then the memo. Every page has a footer with the seller, the number and "Page i of n".
///
/// Text is UTF-8 in embedded TrueType fonts, written by libharu; ``PDFText`` states what
/// happens to characters the fonts lack. Output is deterministic: the same document gives the
/// same bytes. Dates are printed as `YYYY-MM-DD` in UTC.
///
/// ```swift
/// let renderer = try InvoiceRenderer(fonts: .dejaVuSans)   // at start-up: fails if a font is missing
/// let bytes = try renderer.render(document)
/// ```
public struct InvoiceRenderer: Sendable {
    public let fonts: InvoiceFonts

    /// Checks that both fonts load and embed, so a missing font stops the service at start-up
    /// instead of failing the first customer who asks for a PDF.
    /// - Throws: ``InvoiceRenderingError`` `fontUnavailable` naming the file.
    public init(fonts: InvoiceFonts) throws(InvoiceRenderingError) {
        self.fonts = fonts
        _ = try HaruDocument(fonts: fonts)
    }

    /// The PDF file's bytes.
    /// - Throws: ``InvoiceRenderingError``: `invalidDocument` when ``InvoiceDocument/validate()``
    ///   finds a problem; `fontUnavailable` if a font went away since start-up;
    ///   `pdfLibraryFailed` if libharu reports an error.
    public func render(_ invoice: InvoiceDocument) throws(InvoiceRenderingError) -> [UInt8] {
        try invoice.validate()
        let document = try HaruDocument(fonts: fonts)
        let pages = InvoicePageRenderer(invoice: invoice, fonts: document).pages()
        return try document.bytes(pages: pages, title: "Invoice \(invoice.number)", creationDate: invoice.issueDate)
    }
}

/// Lays out and draws the pages of one invoice, top to bottom.
struct InvoicePageRenderer {
    let invoice: InvoiceDocument
    let fonts: any PDFFonts

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
    static let memoWidth = rightX - leftX
    static let memoLineHeight = 12.0
    /// Generous for ``InvoiceDocument/maxMemoCharacters``: the memo is printed whole, never cut.
    static let maxMemoLines = 200

    static let mutedGray = PDFPage.Color.gray(0.4)
    static let ruleGray = PDFPage.Color.gray(0.75)

    // MARK: Pages

    /// All pages: the first-page header, the rows in order (starting a new page whenever
    /// the next row would run into the footer), the totals, the memo (continuing on new pages
    /// as needed), then footers on every page.
    func pages() -> [PDFPage] {
        var finishedPages: [PDFPage] = []
        var page = PDFPage()
        var y = drawFirstPageHeader(on: &page)
        y = drawTableHeader(on: &page, baselineY: y)

        let rows = invoice.lines.map(tableRow(for:))
        if rows.isEmpty {
            write(on: &page, "No line items", x: Self.leftX, y: y, style: .regular, size: Self.bodySize,
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
        y = drawTotals(on: &page, topY: y)

        for (index, memoLine) in memoLines().enumerated() {
            let lineHeight = index == 0 ? 2 * Self.memoLineHeight : Self.memoLineHeight
            if y - lineHeight < Self.lowestContentY {
                finishedPages.append(page)
                page = PDFPage()
                y = drawContinuationHeader(on: &page)
            }
            y -= lineHeight
            // The first line is the "Memo" heading.
            write(on: &page, memoLine, x: Self.leftX, y: y, style: index == 0 ? .bold : .regular, size: Self.bodySize,
                  color: index == 0 ? Self.mutedGray : .black)
        }
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
        write(on: &page, "Invoice", x: Self.leftX, y: 770, style: .bold, size: 24)
        drawStatusStamp(on: &page)

        var y = 738.0
        for (label, value) in metadataRows() {
            write(on: &page, label, x: Self.leftX, y: y, style: .regular, size: Self.bodySize, color: Self.mutedGray)
            write(on: &page, value, x: Self.leftX + 90, y: y, style: .bold, size: Self.bodySize)
            y -= 13
        }

        let partiesTopY = y - 16
        let sellerBottomY = drawPartyBlock(title: "From", lines: sellerLines(), x: Self.leftX, topY: partiesTopY,
                                           on: &page)
        let buyerBottomY = drawPartyBlock(title: "Bill to", lines: buyerLines(), x: 305, topY: partiesTopY,
                                          on: &page)
        y = min(sellerBottomY, buyerBottomY) - 28

        write(on: &page, summaryLine(), x: Self.leftX, y: y, style: .bold, size: 13)
        if let payment = invoice.payment {
            y -= 16
            let brand = payment.cardBrand.trimmingWhitespace()
            write(on: &page, "Paid by \(brand.isEmpty ? "" : brand + " ")card ending in \(payment.last4)", x: Self.leftX,
                  y: y, style: .regular, size: 10)
        }
        return y - 30
    }

    /// The status in capitals inside a coloured box, top right: the first thing a
    /// person filing the invoice looks for.
    private func drawStatusStamp(on page: inout PDFPage) {
        let text = invoice.status.rawValue.uppercased()
        let size = 16.0
        let color = Self.stampColor(for: invoice.status)
        let stampTextWidth = textWidth(text, style: .bold, size: size)
        let padding = 8.0
        let baselineY = 772.0
        page.rectangleOutline(x: Self.rightX - stampTextWidth - 2 * padding, y: baselineY - 6,
                              width: stampTextWidth + 2 * padding, height: 24, lineWidth: 2, color: color)
        writeRightAligned(on: &page, text, rightX: Self.rightX - padding, y: baselineY, style: .bold, size: size,
                              color: color)
    }

    /// Pages after the first: which invoice this is, and for whom. Returns the baseline
    /// for the table header.
    private func drawContinuationHeader(on page: inout PDFPage) -> Double {
        write(on: &page, "Invoice \(invoice.number) (continued)", x: Self.leftX, y: 770, style: .bold, size: 14)
        let subtitle = "\(invoice.buyer.name.trimmingWhitespace()) · issued \(Self.dateText(invoice.issueDate))"
        write(on: &page, fitted(subtitle, width: Self.rightX - Self.leftX, style: .regular, size: Self.bodySize),
                  x: Self.leftX, y: 754, style: .regular, size: Self.bodySize, color: Self.mutedGray)
        return 724
    }

    private func drawFooter(on page: inout PDFPage, pageNumber: Int, pageCount: Int) {
        page.line(fromX: Self.leftX, fromY: Self.footerY + 12, toX: Self.rightX, toY: Self.footerY + 12,
                  width: 0.5, color: Self.ruleGray)
        let left = fitted("\(invoice.seller.legalName.trimmingWhitespace()) · Invoice \(invoice.number)",
                          width: 380, style: .regular, size: 8)
        write(on: &page, left, x: Self.leftX, y: Self.footerY, style: .regular, size: 8, color: Self.mutedGray)
        writeRightAligned(on: &page, "Page \(pageNumber) of \(pageCount)", rightX: Self.rightX, y: Self.footerY,
                              style: .regular, size: 8, color: Self.mutedGray)
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
        var lines = [seller.legalName] + seller.addressLines.prefix(6)
        let taxID = seller.taxID.trimmingWhitespace()
        if !taxID.isEmpty {
            lines.append("Tax ID: \(taxID)")
        }
        return lines
    }

    /// Name, address lines as the domain composed them, the country spelled out.
    private func buyerLines() -> [String] {
        let buyer = invoice.buyer
        return [buyer.name] + buyer.addressLines.prefix(6) + [buyer.country]
    }

    /// The memo's paragraphs (the writer's line breaks kept), each wrapped to the page width;
    /// empty when there is no memo. Never cut: ``InvoiceDocument/maxMemoCharacters`` bounds it.
    private func memoLines() -> [String] {
        let paragraphs = invoice.memo.trimmingWhitespace()
            .split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
            .map { String($0) }
        guard paragraphs.contains(where: { !$0.trimmingWhitespace().isEmpty }) else { return [] }
        return ["Memo"] + paragraphs.flatMap { paragraph in
            wrapped(paragraph, width: Self.memoWidth, style: .regular, size: Self.bodySize, maxLines: Self.maxMemoLines,
                    maxCharacters: InvoiceDocument.maxMemoCharacters)
        }
    }

    /// A bold title over lines of text, the first in bold. Returns the lowest baseline used.
    private func drawPartyBlock(title: String, lines: [String], x: Double, topY: Double,
                                on page: inout PDFPage) -> Double {
        let width = 235.0
        write(on: &page, title, x: x, y: topY, style: .bold, size: Self.bodySize, color: Self.mutedGray)
        var y = topY - 15
        let nonEmptyLines = lines.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        for (index, line) in nonEmptyLines.enumerated() {
            let style: FontStyle = index == 0 ? .bold : .regular
            write(on: &page, fitted(line, width: width, style: style, size: 10), x: x, y: y, style: style, size: 10)
            y -= 13
        }
        return y + 13
    }

    /// One sentence saying where the money stands, e.g. "USD 1,234.56 due 2025-03-31".
    private func summaryLine() -> String {
        switch invoice.status {
        case .draft, .open:
            return "\(invoice.totals.amountDue) due \(Self.dateText(invoice.dueDate))"
        case .paid:
            let paidOn = invoice.paidDate.map { " on \(Self.dateText($0))" } ?? ""
            return "\(invoice.totals.amountPaid) paid\(paidOn)"
        case .void:
            return "This invoice is void; nothing is due"
        case .uncollectible:
            return "\(invoice.totals.amountDue) was due \(Self.dateText(invoice.dueDate)); marked uncollectible"
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
            descriptionLines: wrapped(item.description, width: Self.descriptionWidth, style: .regular,
                                      size: Self.bodySize, maxLines: Self.maxDescriptionLinesPerRow,
                                      maxCharacters: Self.maxDescriptionCharacters),
            quantity: String(item.quantity),
            unitAmount: item.unitAmount,
            amount: item.amount)
    }

    /// Returns the baseline of the first row.
    private func drawTableHeader(on page: inout PDFPage, baselineY y: Double) -> Double {
        let size = Self.bodySize
        write(on: &page, "Description", x: Self.leftX, y: y, style: .bold, size: size)
        writeRightAligned(on: &page, "Qty", rightX: Self.quantityRightX, y: y, style: .bold, size: size)
        writeRightAligned(on: &page, "Unit price", rightX: Self.unitPriceRightX, y: y, style: .bold, size: size)
        writeRightAligned(on: &page, "Amount", rightX: Self.amountRightX, y: y, style: .bold, size: size)
        page.line(fromX: Self.leftX, fromY: y - 5, toX: Self.rightX, toY: y - 5, width: 0.75)
        return y - 18
    }

    /// Draws `row` and a light rule under it. Returns the next row's baseline.
    private func draw(_ row: TableRow, on page: inout PDFPage, baselineY y: Double) -> Double {
        let size = Self.bodySize
        for (index, line) in row.descriptionLines.enumerated() {
            write(on: &page, line, x: Self.leftX, y: y - Double(index) * Self.rowLineHeight, style: .regular, size: size)
        }
        writeRightAligned(on: &page, row.quantity, rightX: Self.quantityRightX, y: y, style: .regular, size: size)
        writeRightAligned(on: &page, row.unitAmount, rightX: Self.unitPriceRightX, y: y, style: .regular, size: size)
        writeRightAligned(on: &page, row.amount, rightX: Self.amountRightX, y: y, style: .regular, size: size)
        let ruleY = y - Double(row.descriptionLines.count - 1) * Self.rowLineHeight - 6
        page.line(fromX: Self.leftX, fromY: ruleY, toX: Self.rightX, toY: ruleY, width: 0.25, color: Self.ruleGray)
        return y - row.height
    }

    /// Subtotal, tax, total, amount paid, amount due: labels on the left of the block,
    /// amounts right-aligned under the table's Amount column. Returns the baseline below them.
    private func drawTotals(on page: inout PDFPage, topY: Double) -> Double {
        var y = topY - 6
        let totals = invoice.totals
        let rows: [(label: String, amount: String, isEmphasized: Bool)] = [
            ("Subtotal", totals.subtotal, false),
            ("Tax", totals.tax, false),
            ("Total", totals.total, true),
            ("Amount paid", totals.amountPaid, false),
            ("Amount due", totals.amountDue, true),
        ]
        for row in rows {
            let style: FontStyle = row.isEmphasized ? .bold : .regular
            if row.label == "Total" {
                page.line(fromX: Self.totalsLabelX, fromY: y + 11, toX: Self.rightX, toY: y + 11, width: 0.75)
            }
            write(on: &page, row.label, x: Self.totalsLabelX, y: y, style: style, size: 10)
            writeRightAligned(on: &page, row.amount, rightX: Self.amountRightX, y: y, style: style, size: 10)
            y -= Self.totalsRowHeight
        }
        return y
    }

    // MARK: Text through the fonts

    /// Draws `text` as the fonts can print it (see ``PDFText``), left end at `x`, baseline at `y`.
    private func write(on page: inout PDFPage, _ text: String, x: Double, y: Double, style: FontStyle,
                       size: Double, color: PDFPage.Color = .black) {
        page.text(fonts.printable(text, style: style), x: x, y: y, style: style, size: size, color: color)
    }

    /// Draws `text` with its right end at `rightX`: for amounts, which line up on the right.
    private func writeRightAligned(on page: inout PDFPage, _ text: String, rightX: Double, y: Double,
                                   style: FontStyle, size: Double, color: PDFPage.Color = .black) {
        let printable = fonts.printable(text, style: style)
        page.text(printable, x: rightX - fonts.width(of: printable, style: style, size: size), y: y, style: style,
                  size: size, color: color)
    }

    /// How wide `text` is when printed in `style` at `size`.
    private func textWidth(_ text: String, style: FontStyle, size: Double) -> Double {
        fonts.width(of: fonts.printable(text, style: style), style: style, size: size)
    }

    // MARK: Fitting text

    /// `text` split into lines no wider than `width`, breaking between words (or inside
    /// a word too long for a line). Beyond `maxLines`, the last line ends with "…".
    private func wrapped(_ text: String, width: Double, style: FontStyle, size: Double, maxLines: Int,
                         maxCharacters: Int) -> [String] {
        func fits(_ candidate: String) -> Bool {
            textWidth(candidate, style: style, size: size) <= width
        }
        // More than fits in `maxLines` is never shown; the bound keeps wrapping cheap.
        let shownText = text.prefix(maxCharacters)
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
                let head = longestPrefix(of: remainder, fitting: width, style: style, size: size)
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
            return Array(lines.prefix(maxLines - 1)) + [fitted(lastKept, width: width, style: style, size: size,
                                                                alwaysMarkCut: true)]
        }
        return lines
    }

    /// `text`, shortened with "…" if it is wider than `width`.
    private func fitted(_ text: String, width: Double, style: FontStyle, size: Double,
                        alwaysMarkCut: Bool = false) -> String {
        if !alwaysMarkCut && textWidth(text, style: style, size: size) <= width {
            return text
        }
        let ellipsisWidth = textWidth("…", style: style, size: size)
        let kept = longestPrefix(of: text, fitting: width - ellipsisWidth, style: style, size: size)
        return kept.trimmingWhitespace() + "…"
    }

    /// The longest start of `text` no wider than `width` (at least one character, so
    /// wrapping always makes progress).
    private func longestPrefix(of text: String, fitting width: Double, style: FontStyle, size: Double) -> String {
        var prefix = ""
        for character in text {
            let candidate = prefix + String(character)
            if !prefix.isEmpty && textWidth(candidate, style: style, size: size) > width {
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
