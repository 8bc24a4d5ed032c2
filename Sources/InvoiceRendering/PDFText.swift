import Foundation

/// Turns Swift strings into text the embedded font can print exactly.
///
/// The policy for characters, stated once because an invoice is a legal document:
/// - Text is put in Unicode canonical composed form (NFC) first, so "e" + U+0301 prints as "é".
/// - Line breaks, tabs and other control characters become one space each: every text run is
///   a single line.
/// - A soft hyphen (U+00AD) is dropped: it is invisible unless a word is broken, and we never
///   break inside words at a soft hyphen.
/// - Any other character the font has no glyph for (a script DejaVu Sans lacks, such as
///   Chinese, Japanese, Korean or Thai; or anything beyond the Basic Multilingual Plane, which
///   libharu's UTF-8 mode cannot encode) is printed as U+FFFD "�", one per character.
///   Never a blank box and never "?": a reader sees at once that a character could not be
///   printed, and `pdftotext` reads "�" back, not a character that is not on the page.
/// - Right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko) print as U+FFFD too, although
///   DejaVu Sans has some of their glyphs: this renderer draws characters left to right one by
///   one, without bidirectional reordering or Arabic joining, so a Hebrew or Arabic name would be
///   printed backwards or in unjoined letters: a wrong name on a legal document.
///
/// Latin (with its accents), Greek and Cyrillic are all in DejaVu Sans and print exactly.
enum PDFText {
    /// What is printed instead of a character the font lacks.
    static let replacementCharacter: Unicode.Scalar = "\u{FFFD}"

    /// `text` made printable in a font for which `hasGlyph` says which scalars it can draw.
    static func printable(_ text: String, hasGlyph: (Unicode.Scalar) -> Bool) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.precomposedStringWithCanonicalMapping.unicodeScalars {
            switch scalar.value {
            case 0xAD:
                continue
            case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029:
                result.append(" ")
            case 0x10000...:
                result.append(replacementCharacter)
            case _ where isRightToLeft(scalar):
                result.append(replacementCharacter)
            default:
                result.append(hasGlyph(scalar) ? scalar : replacementCharacter)
            }
        }
        return String(result)
    }

    /// The blocks of the right-to-left scripts: Hebrew, Arabic (with its supplement and extended
    /// blocks), Syriac, Thaana, N'Ko, Samaritan, Mandaic, and the Hebrew and Arabic presentation forms.
    static func isRightToLeft(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0590...0x08FF, 0xFB1D...0xFDFF, 0xFE70...0xFEFF: return true
        default: return false
        }
    }
}
