/// An ISO 3166-1 alpha-2 country and the address rules a billing address there must follow.
///
/// Payment processors and tax rules look at the billing country, region and postal code,
/// so the service checks them when the customer types them, not when a charge is
/// declined weeks later. The rules are deliberately simple and documented here;
/// they catch typos and missing fields, they are not a full address validator.
///
/// ```swift
/// let country = try Country(code: "us")              // "US"
/// country.requiresRegion                             // true (the state)
/// country.postalCodeProblem("9021")                  // "must look like 12345 or 12345-6789"
/// ```
public struct Country: Hashable, Sendable, CustomStringConvertible {
    /// The upper-case alpha-2 code, e.g. `"US"`.
    public let code: String

    /// Validates `code` (surrounding whitespace and letter case are ignored).
    /// - Parameter field: the request field the code came from, named in the error.
    /// - Throws: `invalidArgument` when the code is not an assigned ISO 3166-1 alpha-2 code.
    public init(code: String, field: String = "country_code") throws(BillingError) {
        let normalizedCode = code.trimmingWhitespace().uppercased()
        if normalizedCode.isEmpty {
            throw BillingError.invalidArgument(
                "\(field) is required (a two-letter ISO 3166-1 code such as US)", field: field)
        }
        guard Country.assignedCodes.contains(normalizedCode) else {
            throw BillingError.invalidArgument(
                "\(field) \"\(normalizedCode.prefix(10))\" is not an ISO 3166-1 alpha-2 country code",
                field: field)
        }
        self.code = normalizedCode
    }

    public var description: String { code }

    /// Whether `code` (any case) is an assigned ISO 3166-1 alpha-2 code.
    public static func isAssigned(_ code: String) -> Bool {
        assignedCodes.contains(code.trimmingWhitespace().uppercased())
    }

    /// The country's English name as printed on invoices: "Ukraine", not "UA".
    public var englishName: String { Country.englishNames[code] ?? code }

    /// The English name of an assigned code (any case), or nil.
    public static func englishName(ofCode code: String) -> String? {
        englishNames[code.trimmingWhitespace().uppercased()]
    }

    // MARK: Address rules

    /// Whether a billing address in this country must have a postal code.
    /// True everywhere except ``countriesWithoutPostalCodes``.
    public var requiresPostalCode: Bool {
        !Country.countriesWithoutPostalCodes.contains(code)
    }

    /// Whether a billing address in this country must name its state, province or prefecture.
    /// See ``countriesRequiringRegion``.
    public var requiresRegion: Bool {
        Country.countriesRequiringRegion.contains(code)
    }

    /// Whether a billing address in this country must name a city.
    /// True everywhere except the city-states in ``countriesWithoutCities``.
    public var requiresCity: Bool {
        !Country.countriesWithoutCities.contains(code)
    }

    /// Checks the shape of a postal code for the countries in ``postalCodeFormats``.
    ///
    /// Letter case and spaces are not significant ("k1a0b1" is a fine Canadian code).
    /// - Returns: `nil` when the code looks right (or the country has no known format),
    ///   otherwise what the code should look like, e.g. `"must look like 12345 or 12345-6789"`.
    public func postalCodeProblem(_ postalCode: String) -> String? {
        guard let format = Country.postalCodeFormats[code] else { return nil }
        let compactCode = postalCode.uppercased().filter { $0 != " " }
        let matchesAFormat = format.patterns.contains { pattern in
            Country.matches(compactCode, pattern: pattern)
        }
        return matchesAFormat ? nil : "must look like \(format.example)"
    }

    /// Whether `value` matches `pattern`, where `9` stands for a digit, `A` for a letter,
    /// `-` for itself and spaces in the pattern are ignored (as they are in the value).
    private static func matches(_ value: String, pattern: String) -> Bool {
        let compactPattern = pattern.filter { $0 != " " }
        guard value.count == compactPattern.count else { return false }
        for (character, expected) in zip(value, compactPattern) {
            switch expected {
            case "9": if !character.isASCIIDigit { return false }
            case "A": if !character.isASCIILetter { return false }
            default: if character != expected { return false }
            }
        }
        return true
    }

    /// Countries where postal codes are not in general use, or are optional, so a billing
    /// address must not be rejected for lacking one. Based on the countries that
    /// Stripe's and Google's address forms leave the postal code off for.
    /// Ireland (IE) has Eircodes, but many addresses are still written without one.
    public static let countriesWithoutPostalCodes: Set<String> = [
        "AE", "AG", "AO", "AW", "BF", "BI", "BJ", "BO", "BQ", "BS", "BW", "BZ", "CD", "CF",
        "CG", "CI", "CK", "CM", "CW", "DJ", "DM", "ER", "FJ", "GA", "GD", "GH", "GM", "GQ",
        "GY", "HK", "IE", "JM", "KI", "KM", "KN", "KP", "LC", "ML", "MO", "MR", "MW", "NR",
        "NU", "QA", "RW", "SB", "SC", "SL", "SO", "SR", "SS", "ST", "SX", "SY", "TD", "TF",
        "TG", "TK", "TL", "TO", "TT", "TV", "UG", "VU", "YE", "ZW",
    ]

    /// Countries whose addresses (and sales taxes) depend on the first-level subdivision:
    /// US states, Canadian provinces, Australian states, Brazilian and Mexican states,
    /// Indian states, Chinese provinces, Japanese prefectures, Italian provinces and
    /// Malaysian states. Elsewhere the region is optional.
    public static let countriesRequiringRegion: Set<String> = [
        "US", "CA", "AU", "BR", "MX", "IN", "CN", "JP", "IT", "MY",
    ]

    /// City-states where the country (or territory) is the city, so no city is asked for.
    public static let countriesWithoutCities: Set<String> = [
        "GI", "HK", "MC", "MO", "SG", "VA",
    ]

    /// The shape of a postal code: accepted patterns and an example for the error message.
    public struct PostalCodeFormat: Sendable {
        /// Patterns where `9` is a digit, `A` a letter, `-` itself; spaces are optional.
        public let patterns: [String]
        /// What a person should type, e.g. `"12345 or 12345-6789"`.
        public let example: String
    }

    /// Postal code shapes checked for a few countries where typos are common and the
    /// format is simple. Other countries only get the generic length and character checks.
    public static let postalCodeFormats: [String: PostalCodeFormat] = [
        "US": PostalCodeFormat(patterns: ["99999", "99999-9999"], example: "12345 or 12345-6789"),
        "CA": PostalCodeFormat(patterns: ["A9A 9A9"], example: "A1A 1A1"),
        "GB": PostalCodeFormat(
            patterns: ["A9 9AA", "A99 9AA", "AA9 9AA", "AA99 9AA", "A9A 9AA", "AA9A 9AA"],
            example: "SW1A 1AA"),
        "DE": PostalCodeFormat(patterns: ["99999"], example: "10115 (5 digits)"),
        "FR": PostalCodeFormat(patterns: ["99999"], example: "75001 (5 digits)"),
        "NL": PostalCodeFormat(patterns: ["9999 AA"], example: "1012 AB (4 digits and 2 letters)"),
        "AU": PostalCodeFormat(patterns: ["9999"], example: "2000 (4 digits)"),
        "JP": PostalCodeFormat(patterns: ["999-9999", "9999999"], example: "100-0001"),
    ]

    /// Every officially assigned ISO 3166-1 alpha-2 code (249 of them).
    ///
    /// User-assigned codes such as `XK` (Kosovo) and reserved codes such as `UK` or `EU`
    /// are not in the standard's assigned list and are rejected.
    public static let assignedCodes: Set<String> = [
        "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
        "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
        "BT", "BV", "BW", "BY", "BZ",
        "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW",
        "CX", "CY", "CZ",
        "DE", "DJ", "DK", "DM", "DO", "DZ",
        "EC", "EE", "EG", "EH", "ER", "ES", "ET",
        "FI", "FJ", "FK", "FM", "FO", "FR",
        "GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT",
        "GU", "GW", "GY",
        "HK", "HM", "HN", "HR", "HT", "HU",
        "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT",
        "JE", "JM", "JO", "JP",
        "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ",
        "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY",
        "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS",
        "MT", "MU", "MV", "MW", "MX", "MY", "MZ",
        "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
        "OM",
        "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY",
        "QA",
        "RE", "RO", "RS", "RU", "RW",
        "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
        "ST", "SV", "SX", "SY", "SZ",
        "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW", "TZ",
        "UA", "UG", "UM", "US", "UY", "UZ",
        "VA", "VC", "VE", "VG", "VI", "VN", "VU",
        "WF", "WS",
        "YE", "YT",
        "ZA", "ZM", "ZW",
    ]

    /// The common English short name of every assigned code, from Unicode CLDR's English locale
    /// (as Foundation's `Locale.localizedString(forRegionCode:)` gives them), with "&" and "St."
    /// written out and the two Congos, Myanmar, Palestine and the US islands named unambiguously.
    /// A table, not a runtime lookup, so an ICU update cannot change a printed legal document.
    public static let englishNames: [String: String] = [
        "AD": "Andorra", "AE": "United Arab Emirates", "AF": "Afghanistan", "AG": "Antigua and Barbuda",
        "AI": "Anguilla", "AL": "Albania", "AM": "Armenia", "AO": "Angola", "AQ": "Antarctica", "AR": "Argentina",
        "AS": "American Samoa", "AT": "Austria", "AU": "Australia", "AW": "Aruba", "AX": "Åland Islands",
        "AZ": "Azerbaijan", "BA": "Bosnia and Herzegovina", "BB": "Barbados", "BD": "Bangladesh", "BE": "Belgium",
        "BF": "Burkina Faso", "BG": "Bulgaria", "BH": "Bahrain", "BI": "Burundi", "BJ": "Benin",
        "BL": "Saint Barthélemy", "BM": "Bermuda", "BN": "Brunei", "BO": "Bolivia", "BQ": "Caribbean Netherlands",
        "BR": "Brazil", "BS": "Bahamas", "BT": "Bhutan", "BV": "Bouvet Island", "BW": "Botswana", "BY": "Belarus",
        "BZ": "Belize", "CA": "Canada", "CC": "Cocos (Keeling) Islands", "CD": "Democratic Republic of the Congo",
        "CF": "Central African Republic", "CG": "Republic of the Congo", "CH": "Switzerland", "CI": "Côte d’Ivoire",
        "CK": "Cook Islands", "CL": "Chile", "CM": "Cameroon", "CN": "China mainland", "CO": "Colombia",
        "CR": "Costa Rica", "CU": "Cuba", "CV": "Cape Verde", "CW": "Curaçao", "CX": "Christmas Island",
        "CY": "Cyprus", "CZ": "Czechia", "DE": "Germany", "DJ": "Djibouti", "DK": "Denmark", "DM": "Dominica",
        "DO": "Dominican Republic", "DZ": "Algeria", "EC": "Ecuador", "EE": "Estonia", "EG": "Egypt",
        "EH": "Western Sahara", "ER": "Eritrea", "ES": "Spain", "ET": "Ethiopia", "FI": "Finland", "FJ": "Fiji",
        "FK": "Falkland Islands", "FM": "Micronesia", "FO": "Faroe Islands", "FR": "France", "GA": "Gabon",
        "GB": "United Kingdom", "GD": "Grenada", "GE": "Georgia", "GF": "French Guiana", "GG": "Guernsey",
        "GH": "Ghana", "GI": "Gibraltar", "GL": "Greenland", "GM": "Gambia", "GN": "Guinea", "GP": "Guadeloupe",
        "GQ": "Equatorial Guinea", "GR": "Greece", "GS": "South Georgia and the South Sandwich Islands",
        "GT": "Guatemala", "GU": "Guam", "GW": "Guinea-Bissau", "GY": "Guyana", "HK": "Hong Kong",
        "HM": "Heard Island and McDonald Islands", "HN": "Honduras", "HR": "Croatia", "HT": "Haiti", "HU": "Hungary",
        "ID": "Indonesia", "IE": "Ireland", "IL": "Israel", "IM": "Isle of Man", "IN": "India",
        "IO": "Chagos Archipelago", "IQ": "Iraq", "IR": "Iran", "IS": "Iceland", "IT": "Italy", "JE": "Jersey",
        "JM": "Jamaica", "JO": "Jordan", "JP": "Japan", "KE": "Kenya", "KG": "Kyrgyzstan", "KH": "Cambodia",
        "KI": "Kiribati", "KM": "Comoros", "KN": "Saint Kitts and Nevis", "KP": "North Korea", "KR": "South Korea",
        "KW": "Kuwait", "KY": "Cayman Islands", "KZ": "Kazakhstan", "LA": "Laos", "LB": "Lebanon", "LC": "Saint Lucia",
        "LI": "Liechtenstein", "LK": "Sri Lanka", "LR": "Liberia", "LS": "Lesotho", "LT": "Lithuania",
        "LU": "Luxembourg", "LV": "Latvia", "LY": "Libya", "MA": "Morocco", "MC": "Monaco", "MD": "Moldova",
        "ME": "Montenegro", "MF": "Saint Martin (French part)", "MG": "Madagascar", "MH": "Marshall Islands",
        "MK": "North Macedonia", "ML": "Mali", "MM": "Myanmar", "MN": "Mongolia", "MO": "Macao",
        "MP": "Northern Mariana Islands", "MQ": "Martinique", "MR": "Mauritania", "MS": "Montserrat", "MT": "Malta",
        "MU": "Mauritius", "MV": "Maldives", "MW": "Malawi", "MX": "Mexico", "MY": "Malaysia", "MZ": "Mozambique",
        "NA": "Namibia", "NC": "New Caledonia", "NE": "Niger", "NF": "Norfolk Island", "NG": "Nigeria",
        "NI": "Nicaragua", "NL": "Netherlands", "NO": "Norway", "NP": "Nepal", "NR": "Nauru", "NU": "Niue",
        "NZ": "New Zealand", "OM": "Oman", "PA": "Panama", "PE": "Peru", "PF": "French Polynesia",
        "PG": "Papua New Guinea", "PH": "Philippines", "PK": "Pakistan", "PL": "Poland",
        "PM": "Saint Pierre and Miquelon", "PN": "Pitcairn Islands", "PR": "Puerto Rico", "PS": "Palestine",
        "PT": "Portugal", "PW": "Palau", "PY": "Paraguay", "QA": "Qatar", "RE": "Réunion", "RO": "Romania",
        "RS": "Serbia", "RU": "Russia", "RW": "Rwanda", "SA": "Saudi Arabia", "SB": "Solomon Islands",
        "SC": "Seychelles", "SD": "Sudan", "SE": "Sweden", "SG": "Singapore", "SH": "Saint Helena", "SI": "Slovenia",
        "SJ": "Svalbard and Jan Mayen", "SK": "Slovakia", "SL": "Sierra Leone", "SM": "San Marino", "SN": "Senegal",
        "SO": "Somalia", "SR": "Suriname", "SS": "South Sudan", "ST": "São Tomé and Príncipe", "SV": "El Salvador",
        "SX": "Sint Maarten (Dutch part)", "SY": "Syria", "SZ": "Eswatini", "TC": "Turks and Caicos Islands",
        "TD": "Chad", "TF": "French Southern Territories", "TG": "Togo", "TH": "Thailand", "TJ": "Tajikistan",
        "TK": "Tokelau", "TL": "Timor-Leste", "TM": "Turkmenistan", "TN": "Tunisia", "TO": "Tonga", "TR": "Türkiye",
        "TT": "Trinidad and Tobago", "TV": "Tuvalu", "TW": "Taiwan", "TZ": "Tanzania", "UA": "Ukraine", "UG": "Uganda",
        "UM": "United States Minor Outlying Islands", "US": "United States", "UY": "Uruguay", "UZ": "Uzbekistan",
        "VA": "Vatican City", "VC": "Saint Vincent and the Grenadines", "VE": "Venezuela",
        "VG": "British Virgin Islands", "VI": "United States Virgin Islands", "VN": "Vietnam", "VU": "Vanuatu",
        "WF": "Wallis and Futuna", "WS": "Samoa", "YE": "Yemen", "YT": "Mayotte", "ZA": "South Africa", "ZM": "Zambia",
        "ZW": "Zimbabwe",
    ]
}
