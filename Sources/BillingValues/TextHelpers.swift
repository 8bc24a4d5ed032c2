// Small text checks the domain repeats in many places, kept in one spot so that
// "digit" and "trimmed" mean the same thing everywhere.

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    public func trimmingWhitespace() -> String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}

extension Character {
    /// `0`...`9` only; `Character.isNumber` would also accept "½" and Arabic-Indic digits.
    public var isASCIIDigit: Bool { isASCII && isWholeNumber }

    /// `A`...`Z` or `a`...`z` only.
    public var isASCIILetter: Bool { isASCII && isLetter }
}
