import CHaru
import Foundation

/// The two faces invoices use: regular for text, bold for titles, labels and totals.
enum FontStyle: Sendable, CaseIterable {
    case regular
    case bold
}

/// One page's drawing, recorded in PDF's coordinate system (points, 1/72 inch, origin at the
/// bottom left) and replayed by ``HaruDocument/bytes(pages:title:creationDate:)``.
///
/// Recording first lets the layout be decided, and pages counted, before anything is written:
/// the footer of page one says "Page 1 of n".
struct PDFPage {
    /// A4 portrait: the paper size in most of the world; US readers print it fine.
    static let width = 595.0
    static let height = 842.0

    /// A gray level or RGB colour, components in 0...1.
    struct Color: Hashable {
        var red: Double
        var green: Double
        var blue: Double

        static let black = Color(red: 0, green: 0, blue: 0)
        static func gray(_ level: Double) -> Color { Color(red: level, green: level, blue: level) }
    }

    enum Operation {
        /// `text` is already printable in `style` (see ``PDFText``).
        case text(String, x: Double, y: Double, style: FontStyle, size: Double, color: Color)
        case line(fromX: Double, fromY: Double, toX: Double, toY: Double, width: Double, color: Color)
        case rectangleOutline(x: Double, y: Double, width: Double, height: Double, lineWidth: Double, color: Color)
    }

    private(set) var operations: [Operation] = []

    /// Draws `text` (printable, see ``PDFFonts/printable(_:style:)``) with its left end at `x`
    /// and its baseline at `y`.
    mutating func text(_ text: String, x: Double, y: Double, style: FontStyle, size: Double, color: Color = .black) {
        operations.append(.text(text, x: x, y: y, style: style, size: size, color: color))
    }

    /// A straight line, `width` points thick.
    mutating func line(fromX: Double, fromY: Double, toX: Double, toY: Double, width: Double = 0.5,
                       color: Color = .black) {
        operations.append(.line(fromX: fromX, fromY: fromY, toX: toX, toY: toY, width: width, color: color))
    }

    /// The outline of a rectangle whose bottom-left corner is at (`x`, `y`).
    mutating func rectangleOutline(x: Double, y: Double, width: Double, height: Double, lineWidth: Double,
                                   color: Color) {
        operations.append(.rectangleOutline(x: x, y: y, width: width, height: height, lineWidth: lineWidth,
                                            color: color))
    }
}

/// What layout needs from the fonts: which characters they can print and how wide text is.
protocol PDFFonts {
    /// `text` as it will be printed in `style`: the policy of ``PDFText`` applied.
    func printable(_ text: String, style: FontStyle) -> String
    /// The width in points of printable `text` in `style` at `size`.
    func width(of text: String, style: FontStyle, size: Double) -> Double
}

/// One PDF being written by libharu, with the two TrueType fonts loaded, embedded and
/// taken in UTF-8 (libharu writes them as CID fonts with Identity-H, and embeds only the glyphs
/// used; the ToUnicode map that lets readers copy the text is ours, see the CHaru shim).
///
/// libharu reports errors through a callback; the default one would do nothing useful, and
/// other bindings abort. Ours records the first error in ``errors`` and every step checks it,
/// so a failure becomes a thrown ``InvoiceRenderingError`` and the process lives on.
///
/// Not thread-safe (a libharu document is not): make one per rendering, on one thread.
final class HaruDocument: PDFFonts {
    /// The first error libharu reported, written by the C callback.
    private final class ErrorRecord {
        var first: (error: UInt, detail: UInt)?
    }

    private let handle: HPDF_Doc
    private let errors: ErrorRecord
    private var fonts: [FontStyle: HPDF_Font] = [:]

    /// Starts a document and loads `fonts`.
    /// - Throws: `fontUnavailable` naming the file when a font cannot be read or embedded;
    ///   `pdfLibraryFailed` when libharu cannot start.
    init(fonts fontFiles: InvoiceFonts) throws(InvoiceRenderingError) {
        let errors = ErrorRecord()
        let handler: HPDF_Error_Handler = { errorNumber, detailNumber, userData in
            guard let userData else { return }
            let record = Unmanaged<ErrorRecord>.fromOpaque(userData).takeUnretainedValue()
            if record.first == nil {
                record.first = (UInt(errorNumber), UInt(detailNumber))
            }
        }
        guard let handle = HPDF_New(handler, Unmanaged.passUnretained(errors).toOpaque()) else {
            throw InvoiceRenderingError(code: .pdfLibraryFailed, message: "libharu could not create a document")
        }
        self.handle = handle
        self.errors = errors
        HPDF_SetCompressionMode(handle, UInt32(HPDF_COMP_ALL))
        HPDF_UseUTFEncodings(handle)
        try check("starting a document")

        for (style, path) in [(FontStyle.regular, fontFiles.regularPath), (.bold, fontFiles.boldPath)] {
            // libharu reads the file itself; a clear message for the common mistake first.
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw InvoiceRenderingError(code: .fontUnavailable, message: "the font file \(path) cannot be read")
            }
            guard let name = HPDF_LoadTTFontFromFile(handle, path, HPDF_TRUE),
                  let font = HPDF_GetFont(handle, name, "UTF-8"), errors.first == nil else {
                let reason = errors.first.map { " (libharu error \(Self.describe($0)))" } ?? ""
                throw InvoiceRenderingError(
                    code: .fontUnavailable,
                    message: "the font file \(path) is not a TrueType font libharu can embed\(reason)")
            }
            // libharu 2.3's own ToUnicode map is malformed; readers copy text through this one.
            let status = billing_hpdf_font_write_identity_to_unicode(font)
            guard status == HPDF_OK, errors.first == nil else {
                throw InvoiceRenderingError(
                    code: .pdfLibraryFailed,
                    message: "libharu failed while writing the text map of \(path): error \(Self.describe(errors.first ?? (UInt(status), 0)))")
            }
            fonts[style] = font
        }
    }

    deinit {
        HPDF_Free(handle)
    }

    // MARK: PDFFonts

    /// Also marks every glyph the text needs (with the parts of composite glyphs) for embedding:
    /// all text passes through here before it is measured or drawn.
    func printable(_ text: String, style: FontStyle) -> String {
        let font = fonts[style]
        return PDFText.printable(text) { scalar in
            billing_hpdf_font_use_glyph(font, UInt16(scalar.value)) != 0
        }
    }

    func width(of text: String, style: FontStyle, size: Double) -> Double {
        let bytes = Array(text.utf8)
        let measured = HPDF_Font_TextWidth(fonts[style], bytes, UInt32(bytes.count))
        return Double(measured.width) * size / 1000
    }

    // MARK: Writing

    /// Draws `pages` and returns the finished file.
    /// - Throws: `pdfLibraryFailed` if libharu reported any error on the way.
    func bytes(pages: [PDFPage], title: String, creationDate: Date) throws(InvoiceRenderingError) -> [UInt8] {
        // Document info is written in PDFDocEncoding: keep it ASCII.
        let asciiTitle = String(title.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? Character($0) : "?" })
        HPDF_SetInfoAttr(handle, HPDF_INFO_TITLE, asciiTitle)
        HPDF_SetInfoAttr(handle, HPDF_INFO_PRODUCER, "billing InvoiceRendering (libharu)")
        // A fixed date, not the clock: the same document gives the same bytes.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let day = calendar.dateComponents([.year, .month, .day], from: creationDate)
        let date = HPDF_Date(year: Int32(day.year ?? 1970), month: Int32(day.month ?? 1), day: Int32(day.day ?? 1),
                             hour: 0, minutes: 0, seconds: 0, ind: CChar(UInt8(ascii: "Z")), off_hour: 0, off_minutes: 0)
        HPDF_SetInfoDateAttr(handle, HPDF_INFO_CREATION_DATE, date)
        try check("writing the document information")

        for page in pages {
            guard let pageHandle = HPDF_AddPage(handle) else { try check("adding a page"); continue }
            HPDF_Page_SetWidth(pageHandle, Float(PDFPage.width))
            HPDF_Page_SetHeight(pageHandle, Float(PDFPage.height))
            for operation in page.operations {
                draw(operation, on: pageHandle)
            }
            try check("drawing a page")
        }

        HPDF_SaveToStream(handle)
        try check("saving the document")
        var size = HPDF_GetStreamSize(handle)
        var file = [UInt8](repeating: 0, count: Int(size))
        HPDF_ReadFromStream(handle, &file, &size)
        try check("reading the saved document")
        return Array(file.prefix(Int(size)))
    }

    private func draw(_ operation: PDFPage.Operation, on page: HPDF_Page) {
        switch operation {
        case let .text(text, x, y, style, size, color):
            HPDF_Page_SetRGBFill(page, Float(color.red), Float(color.green), Float(color.blue))
            HPDF_Page_BeginText(page)
            HPDF_Page_SetFontAndSize(page, fonts[style], Float(size))
            HPDF_Page_TextOut(page, Float(x), Float(y), text)
            HPDF_Page_EndText(page)
        case let .line(fromX, fromY, toX, toY, width, color):
            HPDF_Page_SetRGBStroke(page, Float(color.red), Float(color.green), Float(color.blue))
            HPDF_Page_SetLineWidth(page, Float(width))
            HPDF_Page_MoveTo(page, Float(fromX), Float(fromY))
            HPDF_Page_LineTo(page, Float(toX), Float(toY))
            HPDF_Page_Stroke(page)
        case let .rectangleOutline(x, y, width, height, lineWidth, color):
            HPDF_Page_SetRGBStroke(page, Float(color.red), Float(color.green), Float(color.blue))
            HPDF_Page_SetLineWidth(page, Float(lineWidth))
            HPDF_Page_Rectangle(page, Float(x), Float(y), Float(width), Float(height))
            HPDF_Page_Stroke(page)
        }
    }

    /// Throws the first error libharu reported, if any.
    private func check(_ step: String) throws(InvoiceRenderingError) {
        guard let first = errors.first else { return }
        throw InvoiceRenderingError(
            code: .pdfLibraryFailed,
            message: "libharu failed while \(step): error \(Self.describe(first))")
    }

    /// "0x1017, detail 2": libharu's error numbers are listed in hpdf_error.h in hexadecimal.
    private static func describe(_ error: (error: UInt, detail: UInt)) -> String {
        "0x" + String(error.error, radix: 16, uppercase: true) + ", detail \(error.detail)"
    }
}
