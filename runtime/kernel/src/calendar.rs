//! Calendar arithmetic for the wall clock: dates to days since the Unix epoch.

/// Days from 1970-01-01 to the given proleptic Gregorian date, for dates from 1970 on
/// (Howard Hinnant's `days_from_civil` algorithm: years start in March, so the leap day
/// is the last day of the year).
pub fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::days_from_civil;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1970, 3, 1), 59);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // 2024 is a leap year: Feb 29 exists and Mar 1 is the day after.
        assert_eq!(
            days_from_civil(2024, 2, 29) + 1,
            days_from_civil(2024, 3, 1)
        );
        // 2100 is not: Feb 28 is followed by Mar 1.
        assert_eq!(
            days_from_civil(2100, 2, 28) + 1,
            days_from_civil(2100, 3, 1)
        );
        // 2026-11-21 00:00:00 UTC = 1795219200.
        assert_eq!(days_from_civil(2026, 11, 21) * 86_400, 1_795_219_200);
    }
}
