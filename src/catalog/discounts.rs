//! Discount codes from the catalog file: a percentage or a fixed amount off, with an
//! optional minimum order and expiry date. Validity is decided here, at pricing time.

use crate::money::{Currency, Money};
use serde::Deserialize;

/// A code as the file lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscountEntry {
    pub code: String,
    pub percent_off: Option<u32>,
    pub amount_off: Option<i64>,
    pub minimum_amount: Option<i64>,
    /// Last day the code works, `YYYY-MM-DD` (UTC, inclusive).
    pub expires: Option<String>,
}

/// How much a discount takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    Percent(u32),
    Amount(i64),
}

/// A valid discount code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discount {
    pub code: String,
    pub reduction: Reduction,
    pub minimum: Option<Money>,
    /// Unix time after which the code no longer works, and the date as written.
    pub expires: Option<(i64, String)>,
}

/// Why a code does not apply to a cart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscountRefusal {
    #[error("That discount code is not valid.")]
    Unknown,
    #[error("That discount code expired on {0}.")]
    Expired(String),
    #[error("That discount code needs an order of at least {0}.")]
    BelowMinimum(Money),
}

/// Normalises what a shopper typed: trimmed, uppercase.
pub fn normalize(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

impl Discount {
    pub fn parse(entry: DiscountEntry, currency: Currency) -> Result<Discount, String> {
        let code = normalize(&entry.code);
        if code.is_empty() || code.len() > 32 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err("codes are 1–32 characters of A-Z, 0-9, - and _".into());
        }
        let reduction = match (entry.percent_off, entry.amount_off) {
            (Some(percent @ 1..=100), None) => Reduction::Percent(percent),
            (None, Some(amount)) if amount > 0 => Reduction::Amount(amount),
            _ => return Err("give exactly one of percent_off (1–100) or amount_off (> 0, minor units)".into()),
        };
        let expires = match entry.expires {
            Some(date) => Some((end_of_day(&date).ok_or_else(|| format!("expires `{date}` is not a YYYY-MM-DD date"))?, date)),
            None => None,
        };
        Ok(Discount { code, reduction, minimum: entry.minimum_amount.map(|m| Money::new(m, currency)), expires })
    }

    /// The amount off `subtotal` at time `now`, or why the code does not apply.
    pub fn amount_off(&self, subtotal: Money, now: i64) -> Result<Money, DiscountRefusal> {
        if let Some((until, date)) = &self.expires
            && now > *until
        {
            return Err(DiscountRefusal::Expired(date.clone()));
        }
        if let Some(minimum) = self.minimum
            && subtotal.amount < minimum.amount
        {
            return Err(DiscountRefusal::BelowMinimum(minimum));
        }
        let off = match self.reduction {
            // Rounded down: the shopper never gets more off than the percentage says.
            Reduction::Percent(percent) => subtotal.amount.saturating_mul(i64::from(percent)) / 100,
            Reduction::Amount(amount) => amount.min(subtotal.amount),
        };
        Ok(Money::new(off, subtotal.currency))
    }

    /// How the code reads on the order summary.
    pub fn describe(&self, currency: Currency, locale: crate::i18n::Locale) -> String {
        let t = locale.texts();
        match self.reduction {
            Reduction::Percent(percent) => crate::i18n::fill(t.percent_off(), &[&self.code, &percent]),
            Reduction::Amount(amount) => crate::i18n::fill(t.amount_off(), &[&self.code, &locale.money(Money::new(amount, currency))]),
        }
    }
}

/// The last second of a `YYYY-MM-DD` day, UTC; `None` for anything else, a day that
/// does not exist (`2026-02-31`) included.
fn end_of_day(date: &str) -> Option<i64> {
    let mut parts = date.split('-');
    let (year, month, day): (i32, u8, u8) = (parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?);
    if parts.next().is_some() {
        return None;
    }
    let day = time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    Some(day.with_hms(23, 59, 59).ok()?.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: &str) -> DiscountEntry {
        DiscountEntry { code: code.into(), percent_off: Some(10), amount_off: None, minimum_amount: None, expires: None }
    }

    #[test]
    fn percentages_round_down_and_amounts_never_exceed_the_subtotal() {
        let ten = Discount::parse(entry("ten"), Currency::EUR).unwrap();
        assert_eq!(ten.code, "TEN");
        assert_eq!(ten.amount_off(Money::new(1299, Currency::EUR), 0).unwrap().amount, 129);
        let fixed = Discount::parse(DiscountEntry { percent_off: None, amount_off: Some(500), ..entry("FIVE") }, Currency::EUR).unwrap();
        assert_eq!(fixed.amount_off(Money::new(300, Currency::EUR), 0).unwrap().amount, 300);
    }

    #[test]
    fn expiry_is_inclusive_of_the_last_day() {
        let code = Discount::parse(DiscountEntry { expires: Some("2026-11-26".into()), ..entry("X") }, Currency::EUR).unwrap();
        let last_second = 1_795_651_200 + 86_399;
        assert!(code.amount_off(Money::new(1000, Currency::EUR), last_second).is_ok());
        assert_eq!(code.amount_off(Money::new(1000, Currency::EUR), last_second + 1), Err(DiscountRefusal::Expired("2026-11-26".into())));
    }

    #[test]
    fn an_expiry_must_be_a_day_that_exists() {
        for bad in ["2026-02-31", "2026-13-01", "2026-11", "26-11-2026x", "2026-11-26-1", "tomorrow"] {
            assert!(Discount::parse(DiscountEntry { expires: Some(bad.into()), ..entry("X") }, Currency::EUR).is_err(), "{bad}");
        }
        assert!(Discount::parse(DiscountEntry { expires: Some("2028-02-29".into()), ..entry("X") }, Currency::EUR).is_ok());
    }

    #[test]
    fn a_minimum_order_is_enforced() {
        let code = Discount::parse(DiscountEntry { minimum_amount: Some(3000), ..entry("BIG") }, Currency::EUR).unwrap();
        assert_eq!(
            code.amount_off(Money::new(2999, Currency::EUR), 0),
            Err(DiscountRefusal::BelowMinimum(Money::new(3000, Currency::EUR)))
        );
    }

    #[test]
    fn bad_entries_are_refused() {
        assert!(Discount::parse(DiscountEntry { percent_off: Some(0), ..entry("A") }, Currency::EUR).is_err());
        assert!(Discount::parse(DiscountEntry { amount_off: Some(100), ..entry("A") }, Currency::EUR).is_err());
        assert!(Discount::parse(DiscountEntry { expires: Some("31/12/2026".into()), ..entry("A") }, Currency::EUR).is_err());
        assert!(Discount::parse(entry("no spaces"), Currency::EUR).is_err());
    }

    proptest::proptest! {
        /// Whatever is typed, normalising is stable, and a code is only ever accepted in
        /// its plain form (no whitespace, control or look-alike characters survive).
        #[test]
        fn typed_codes_normalise_stably_and_only_plain_codes_parse(typed in "\\PC{0,40}") {
            let once = normalize(&typed);
            proptest::prop_assert_eq!(normalize(&once), once.clone());
            if let Ok(discount) = Discount::parse(entry(&typed), Currency::EUR) {
                proptest::prop_assert!(discount.code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_'));
                proptest::prop_assert_eq!(discount.code, once);
            }
        }

        /// No subtotal and no reduction gives more off than the subtotal, or a negative amount.
        #[test]
        fn the_amount_off_stays_within_the_subtotal(subtotal in 0i64..=1_000_000_000_000, percent in 1u32..=100, amount in 1i64..=i64::MAX) {
            for reduction in [(Some(percent), None), (None, Some(amount))] {
                let discount = Discount::parse(DiscountEntry { percent_off: reduction.0, amount_off: reduction.1, ..entry("X") }, Currency::EUR).unwrap();
                let off = discount.amount_off(Money::new(subtotal, Currency::EUR), 0).unwrap().amount;
                proptest::prop_assert!((0..=subtotal).contains(&off), "{off} off {subtotal}");
            }
        }
    }
}
