//! Calendar arithmetic for billing periods: a price's interval added to a time, in
//! calendar months and years clamped to the month's last day, as Stripe bills.

use serde_json::Value;
#[cfg(test)]
use serde_json::json;

/// `at` moved on by `n` times the price's interval (calendar months and years, clamped
/// to the month's last day as Stripe does).
pub(super) fn add_interval(at: i64, recurring: &Value, n: i64) -> i64 {
    let count = recurring["interval_count"].as_i64().unwrap_or(1) * n;
    match recurring["interval"].as_str() {
        Some("day") => at + count * 86_400,
        Some("week") => at + count * 7 * 86_400,
        Some("year") => add_months(at, 12 * count),
        _ => add_months(at, count),
    }
}

fn add_months(at: i64, months: i64) -> i64 {
    let (days, seconds) = (at.div_euclid(86_400), at.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let total = year * 12 + (month - 1) + months;
    let (year, month) = (total.div_euclid(12), total.rem_euclid(12) + 1);
    let last = match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    days_from_civil(year, month, day.min(last)) * 86_400 + seconds
}

/// A moment's day, `YYYY-MM-DD` (UTC), as a page shows it.
pub fn date(at: i64) -> String {
    let (year, month, day) = civil_from_days(at.div_euclid(86_400));
    format!("{year}-{month:02}-{day:02}")
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monthly() -> Value {
        json!({ "interval": "month", "interval_count": 1 })
    }

    #[test]
    fn months_are_calendar_months_clamped_to_the_last_day() {
        // 2027-01-31T10:00:00Z
        let jan31 = days_from_civil(2027, 1, 31) * 86_400 + 36_000;
        assert_eq!(civil_from_days(add_interval(jan31, &monthly(), 1).div_euclid(86_400)), (2027, 2, 28));
        assert_eq!(civil_from_days(add_interval(jan31, &monthly(), 2).div_euclid(86_400)), (2027, 3, 31));
        assert_eq!(add_interval(jan31, &monthly(), 1).rem_euclid(86_400), 36_000);
        let leap = days_from_civil(2028, 1, 31) * 86_400;
        assert_eq!(civil_from_days(add_interval(leap, &monthly(), 1) / 86_400), (2028, 2, 29));
        let yearly = json!({ "interval": "year", "interval_count": 1 });
        assert_eq!(civil_from_days(add_interval(days_from_civil(2028, 2, 29) * 86_400, &yearly, 1) / 86_400), (2029, 2, 28));
        assert_eq!(add_interval(0, &json!({ "interval": "week", "interval_count": 2 }), 1), 14 * 86_400);
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-800_000, -1, 0, 1, 59, 365, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }
}
