import Foundation

/// The two standard PDF fonts invoices use. Standard fonts need no embedding: every
/// PDF reader has them, which keeps the writer small and the files tiny.
enum PDFFont: Sendable {
    case helvetica
    case helveticaBold

    /// The name the page's resource dictionary gives the font in content streams.
    var resourceName: String {
        switch self {
        case .helvetica: return "F1"
        case .helveticaBold: return "F2"
        }
    }

    /// The standard font's PostScript name.
    var baseFontName: String {
        switch self {
        case .helvetica: return "Helvetica"
        case .helveticaBold: return "Helvetica-Bold"
        }
    }

    /// The width of WinAnsi-encoded `bytes` in points at `size`.
    ///
    /// Widths come from Adobe's font metrics for ASCII; characters above ASCII use an
    /// average width, which is close enough for wrapping and right-aligning text that
    /// is mostly ASCII (amounts always are).
    func width(of bytes: [UInt8], size: Double) -> Double {
        let table = self == .helvetica ? PDFFont.helveticaWidths : PDFFont.helveticaBoldWidths
        var thousandths = 0
        for byte in bytes {
            if byte >= 32 && byte <= 126 {
                thousandths += table[Int(byte) - 32]
            } else {
                thousandths += 556
            }
        }
        return Double(thousandths) * size / 1000
    }

    /// Glyph widths (thousandths of the font size) of characters 32...126, from Helvetica.afm.
    private static let helveticaWidths: [Int] = [
        278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,  // space to /
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556,  // 0 to 9
        278, 278, 584, 584, 584, 556, 1015,  // : to @
        667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833,  // A to M
        722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611,  // N to Z
        278, 278, 278, 469, 556, 333,  // [ to `
        556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833,  // a to m
        556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500,  // n to z
        334, 260, 334, 584,  // { to ~
    ]

    /// Glyph widths (thousandths of the font size) of characters 32...126, from Helvetica-Bold.afm.
    private static let helveticaBoldWidths: [Int] = [
        278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,  // space to /
        556, 556, 556, 556, 556, 556, 556, 556, 556, 556,  // 0 to 9
        333, 333, 584, 584, 584, 611, 975,  // : to @
        722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833,  // A to M
        722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611,  // N to Z
        333, 278, 333, 584, 556, 333,  // [ to `
        556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889,  // a to m
        611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500,  // n to z
        389, 280, 389, 584,  // { to ~
    ]
}

/// Turns Swift strings into bytes a standard PDF font can show.
///
/// Standard fonts use WinAnsiEncoding: ASCII, Latin-1 and a few typographic characters
/// (€ “ ” – — • …). Anything else is replaced sensibly instead of printing garbage:
/// accented letters outside the set lose their accent ("ő" → "o", "Ł" → "L"),
/// other characters become "?", and line breaks and control characters become spaces.
enum PDFText {
    /// `text` in WinAnsiEncoding, one byte per character.
    static func winAnsiBytes(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for scalar in text.precomposedStringWithCanonicalMapping.unicodeScalars {
            if let byte = winAnsiByte(for: scalar) {
                bytes.append(byte)
            } else if isCombiningMark(scalar) {
                continue  // an accent that could not be composed onto its letter: drop it
            } else if let byte = winAnsiByteWithoutAccent(for: scalar) {
                bytes.append(byte)
            } else {
                bytes.append(UInt8(ascii: "?"))
            }
        }
        return bytes
    }

    /// A PDF literal string, `(…)`, for WinAnsi `bytes`: parentheses and backslashes are
    /// escaped, and everything outside printable ASCII is written as an octal escape so
    /// the content stream stays plain ASCII.
    static func literal(_ bytes: [UInt8]) -> String {
        var literal = "("
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "("): literal += "\\("
            case UInt8(ascii: ")"): literal += "\\)"
            case UInt8(ascii: "\\"): literal += "\\\\"
            case 32...126: literal.append(Character(Unicode.Scalar(byte)))
            default:
                let octal = String(byte, radix: 8)
                literal += "\\" + String(repeating: "0", count: 3 - octal.count) + octal
            }
        }
        return literal + ")"
    }

    private static func winAnsiByte(for scalar: Unicode.Scalar) -> UInt8? {
        switch scalar.value {
        case 0x20...0x7E:
            return UInt8(scalar.value)
        case 0x00...0x1F, 0x7F...0x9F, 0xA0, 0x2028, 0x2029:
            return UInt8(ascii: " ")  // line breaks, controls, no-break space
        case 0xAD:
            return UInt8(ascii: "-")  // soft hyphen
        case 0xA1...0xFF:
            return UInt8(scalar.value)  // WinAnsi equals Latin-1 here
        default:
            return winAnsiTypographic[scalar.value]
        }
    }

    /// "ő" → "o": the base letter of a decomposable character, if WinAnsi has it;
    /// otherwise a few common letters that do not decompose ("Ł" → "L").
    private static func winAnsiByteWithoutAccent(for scalar: Unicode.Scalar) -> UInt8? {
        let decomposed = String(scalar).decomposedStringWithCanonicalMapping.unicodeScalars
        if let base = decomposed.first, base != scalar, let byte = winAnsiByte(for: base) {
            return byte
        }
        return lettersWithoutDecomposition[scalar.value].map { UInt8(ascii: $0) }
    }

    private static func isCombiningMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: return true
        default: return false
        }
    }

    /// WinAnsiEncoding's characters in 0x80...0x9F.
    private static let winAnsiTypographic: [UInt32: UInt8] = [
        0x20AC: 0x80, 0x201A: 0x82, 0x0192: 0x83, 0x201E: 0x84, 0x2026: 0x85, 0x2020: 0x86,
        0x2021: 0x87, 0x02C6: 0x88, 0x2030: 0x89, 0x0160: 0x8A, 0x2039: 0x8B, 0x0152: 0x8C,
        0x017D: 0x8E, 0x2018: 0x91, 0x2019: 0x92, 0x201C: 0x93, 0x201D: 0x94, 0x2022: 0x95,
        0x2013: 0x96, 0x2014: 0x97, 0x02DC: 0x98, 0x2122: 0x99, 0x0161: 0x9A, 0x203A: 0x9B,
        0x0153: 0x9C, 0x017E: 0x9E, 0x0178: 0x9F,
    ]

    /// Latin letters that Unicode does not decompose into letter + accent.
    private static let lettersWithoutDecomposition: [UInt32: Unicode.Scalar] = [
        0x0141: "L", 0x0142: "l",  // Ł ł
        0x0110: "D", 0x0111: "d",  // Đ đ
        0x0126: "H", 0x0127: "h",  // Ħ ħ
        0x0131: "i",  // dotless ı
        0x0138: "k",  // ĸ
        0x0166: "T", 0x0167: "t",  // Ŧ ŧ
        0x2212: "-",  // minus sign
    ]
}
