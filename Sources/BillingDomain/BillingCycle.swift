/// The calendar of subscriptions and the arithmetic of proration, in integers and UTC.
///
/// Period `n` of a subscription starts at the anchor plus `n` intervals, counted from the anchor every
/// time (never from the previous period), so a month without the anchor's day ends on its last day and
/// the next period returns to the anchor's day: Jan 31 → Feb 28 (29) → Mar 31. The time of day is kept.
public enum BillingCycle {
    static let millisecondsPerDay: Int64 = 86_400_000

    /// The start of period `index` of a subscription anchored at `anchor` whose interval is `months`
    /// months (a year is 12). Period `index` ends where period `index + 1` starts.
    public static func boundary(anchor: Int64, months: Int, index: Int) -> Int64 {
        let (days, timeOfDay) = floorDivide(anchor, millisecondsPerDay)
        let (year, month, day) = civil(fromDays: days)
        let monthIndex = year * 12 + (month - 1) + Int64(months) * Int64(index)
        let (targetYear, targetMonthZero) = floorDivide(monthIndex, 12)
        let targetMonth = targetMonthZero + 1
        let targetDay = min(day, daysIn(month: targetMonth, year: targetYear))
        return self.days(fromCivil: targetYear, targetMonth, targetDay) * millisecondsPerDay + timeOfDay
    }

    /// `amount × numerator / denominator`, rounded half up (away from zero on the half), with every
    /// step checked: a product that does not fit is an error, never a wrong number.
    /// `0 ≤ numerator ≤ denominator`, `denominator > 0`.
    public static func prorate(_ amount: Int64, numerator: Int64, denominator: Int64) throws(BillingError) -> Int64 {
        guard denominator > 0, numerator >= 0, numerator <= denominator else {
            throw .internalError("proration fraction \(numerator)/\(denominator) is not between 0 and 1")
        }
        let magnitude = amount.magnitude
        let (product, overflow) = magnitude.multipliedReportingOverflow(by: UInt64(numerator))
        let (doubled, overflowDoubling) = product.multipliedReportingOverflow(by: 2)
        guard !overflow, !overflowDoubling else { throw .internalError("proration of \(amount) overflows") }
        let rounded = (doubled + UInt64(denominator)) / (2 * UInt64(denominator))
        return amount < 0 ? -Int64(rounded) : Int64(rounded)
    }

    /// Proration works in whole seconds ("to the second"): milliseconds below a second are dropped from
    /// every time before the fraction is taken.
    static func seconds(_ milliseconds: Int64) -> Int64 {
        floorDivide(milliseconds, 1000).quotient
    }

    // MARK: Civil dates (Howard Hinnant's algorithms)

    static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> (quotient: Int64, remainder: Int64) {
        let quotient = value >= 0 ? value / divisor : (value - divisor + 1) / divisor
        return (quotient, value - quotient * divisor)
    }
}
