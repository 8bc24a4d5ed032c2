/// One page's drawing instructions (a PDF content stream), in PDF's coordinate system:
/// points (1/72 inch), origin at the bottom left of the page.
///
/// Only what invoices need: text in the two standard fonts, straight lines, rectangles
/// and colours.
struct PDFPage {
    /// A4 portrait: the paper size in most of the world; US readers print it fine.
    static let width = 595.0
    static let height = 842.0

    private(set) var contentStream = ""

    /// A gray level or RGB colour, components in 0...1.
    struct Color {
        var red: Double
        var green: Double
        var blue: Double

        static let black = Color(red: 0, green: 0, blue: 0)
        static func gray(_ level: Double) -> Color { Color(red: level, green: level, blue: level) }
    }

    /// Draws `text` with its left end at `x` and its baseline at `y`.
    mutating func text(_ text: String, x: Double, y: Double, font: PDFFont, size: Double,
                       color: Color = .black) {
        let bytes = PDFText.winAnsiBytes(text)
        contentStream += "\(PDFPage.colorOperands(color)) rg\n"
        contentStream += "BT /\(font.resourceName) \(PDFPage.number(size)) Tf "
            + "\(PDFPage.number(x)) \(PDFPage.number(y)) Td \(PDFText.literal(bytes)) Tj ET\n"
    }

    /// Draws `text` with its right end at `rightX`: for amounts, which line up on the right.
    mutating func rightAlignedText(_ text: String, rightX: Double, y: Double, font: PDFFont, size: Double,
                                   color: Color = .black) {
        let width = PDFPage.textWidth(text, font: font, size: size)
        self.text(text, x: rightX - width, y: y, font: font, size: size, color: color)
    }

    /// A straight line, `width` points thick.
    mutating func line(fromX: Double, fromY: Double, toX: Double, toY: Double, width: Double = 0.5,
                       color: Color = .black) {
        contentStream += "\(PDFPage.colorOperands(color)) RG \(PDFPage.number(width)) w "
            + "\(PDFPage.number(fromX)) \(PDFPage.number(fromY)) m "
            + "\(PDFPage.number(toX)) \(PDFPage.number(toY)) l S\n"
    }

    /// The outline of a rectangle whose bottom-left corner is at (`x`, `y`).
    mutating func rectangleOutline(x: Double, y: Double, width: Double, height: Double, lineWidth: Double,
                                   color: Color) {
        contentStream += "\(PDFPage.colorOperands(color)) RG \(PDFPage.number(lineWidth)) w "
            + "\(PDFPage.number(x)) \(PDFPage.number(y)) \(PDFPage.number(width)) \(PDFPage.number(height)) re S\n"
    }

    /// How wide `text` is when drawn in `font` at `size`.
    static func textWidth(_ text: String, font: PDFFont, size: Double) -> Double {
        font.width(of: PDFText.winAnsiBytes(text), size: size)
    }

    private static func colorOperands(_ color: Color) -> String {
        "\(number(color.red)) \(number(color.green)) \(number(color.blue))"
    }

    /// A PDF number with at most two decimals ("12", "12.5", "-0.25"); PDF has no exponents.
    static func number(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let sign = hundredths < 0 ? "-" : ""
        let magnitude = hundredths.magnitude
        let whole = magnitude / 100
        let fraction = magnitude % 100
        if fraction == 0 { return "\(sign)\(whole)" }
        if fraction % 10 == 0 { return "\(sign)\(whole).\(fraction / 10)" }
        let fractionText = fraction < 10 ? "0\(fraction)" : "\(fraction)"
        return "\(sign)\(whole).\(fractionText)"
    }
}

/// Assembles pages into a PDF 1.4 file: header, numbered objects, the cross-reference
/// table with each object's byte offset, and the trailer.
///
/// Object numbers are fixed so objects can refer to each other before they are written:
/// 1 catalog, 2 page tree, 3 and 4 the fonts, 5 the document info, then for page `k`
/// (from 0) its page object `6 + 2k` and its content stream `7 + 2k`.
struct PDFDocumentWriter {
    /// Text for the document info dictionary (shown in readers' "Properties").
    var title: String
    /// PDF date such as `D:20250301000000Z`.
    var creationDate: String

    private static let catalogObject = 1
    private static let pageTreeObject = 2
    private static let regularFontObject = 3
    private static let boldFontObject = 4
    private static let infoObject = 5

    private static func pageObject(_ pageIndex: Int) -> Int { 6 + 2 * pageIndex }
    private static func contentObject(_ pageIndex: Int) -> Int { 7 + 2 * pageIndex }

    /// The complete file.
    func bytes(pages: [PDFPage]) -> [UInt8] {
        var file = FileBuffer()
        // The second line holds bytes above 127 so tools treat the file as binary.
        file.append("%PDF-1.4\n")
        file.append(bytes: [0x25, 0xE2, 0xE3, 0xCF, 0xD3, 0x0A])

        file.beginObject(PDFDocumentWriter.catalogObject)
        file.append("<< /Type /Catalog /Pages \(PDFDocumentWriter.pageTreeObject) 0 R >>")
        file.endObject()

        let kids = pages.indices.map { "\(PDFDocumentWriter.pageObject($0)) 0 R" }.joined(separator: " ")
        file.beginObject(PDFDocumentWriter.pageTreeObject)
        file.append("<< /Type /Pages /Kids [\(kids)] /Count \(pages.count) >>")
        file.endObject()

        for (objectNumber, font) in [(PDFDocumentWriter.regularFontObject, PDFFont.helvetica),
                                     (PDFDocumentWriter.boldFontObject, PDFFont.helveticaBold)] {
            file.beginObject(objectNumber)
            file.append("<< /Type /Font /Subtype /Type1 /BaseFont /\(font.baseFontName) "
                        + "/Encoding /WinAnsiEncoding >>")
            file.endObject()
        }

        file.beginObject(PDFDocumentWriter.infoObject)
        file.append("<< /Title \(PDFText.literal(PDFText.winAnsiBytes(title))) /Producer (BillingDomain) "
                    + "/CreationDate \(PDFText.literal(PDFText.winAnsiBytes(creationDate))) >>")
        file.endObject()

        for (pageIndex, page) in pages.enumerated() {
            file.beginObject(PDFDocumentWriter.pageObject(pageIndex))
            file.append("<< /Type /Page /Parent \(PDFDocumentWriter.pageTreeObject) 0 R "
                        + "/MediaBox [0 0 \(PDFPage.number(PDFPage.width)) \(PDFPage.number(PDFPage.height))] "
                        + "/Resources << /Font << /F1 \(PDFDocumentWriter.regularFontObject) 0 R "
                        + "/F2 \(PDFDocumentWriter.boldFontObject) 0 R >> >> "
                        + "/Contents \(PDFDocumentWriter.contentObject(pageIndex)) 0 R >>")
            file.endObject()

            // The content stream is plain ASCII (PDFText.literal escapes the rest), so its
            // UTF-8 byte count is its length.
            let content = Array(page.contentStream.utf8)
            file.beginObject(PDFDocumentWriter.contentObject(pageIndex))
            file.append("<< /Length \(content.count) >>\nstream\n")
            file.append(bytes: content)
            file.append("\nendstream")
            file.endObject()
        }

        let crossReferenceOffset = file.count
        file.append("xref\n0 \(file.objectOffsets.count + 1)\n")
        file.append("0000000000 65535 f \n")
        for offset in file.objectOffsets {
            let digits = String(offset)
            // Each entry is exactly 20 bytes: 10-digit offset, generation, "n", space, newline.
            file.append(String(repeating: "0", count: 10 - digits.count) + digits + " 00000 n \n")
        }
        file.append("trailer\n<< /Size \(file.objectOffsets.count + 1) "
                    + "/Root \(PDFDocumentWriter.catalogObject) 0 R /Info \(PDFDocumentWriter.infoObject) 0 R >>\n")
        file.append("startxref\n\(crossReferenceOffset)\n%%EOF\n")
        return file.bytes
    }

    /// The file being written, remembering where each object starts.
    private struct FileBuffer {
        private(set) var bytes: [UInt8] = []
        /// Byte offset of object `n` at index `n - 1`.
        private(set) var objectOffsets: [Int] = []

        var count: Int { bytes.count }

        mutating func append(_ text: String) {
            bytes += Array(text.utf8)
        }

        mutating func append(bytes newBytes: [UInt8]) {
            bytes += newBytes
        }

        /// Objects must be written in number order, since the offsets are stored by number.
        mutating func beginObject(_ number: Int) {
            precondition(number == objectOffsets.count + 1, "PDF objects must be written in order")
            objectOffsets.append(bytes.count)
            append("\(number) 0 obj\n")
        }

        mutating func endObject() {
            append("\nendobj\n")
        }
    }
}
