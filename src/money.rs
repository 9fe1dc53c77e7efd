//! Money as Stripe counts it: an integer amount in the currency's minor unit plus a
//! lowercase ISO 4217 currency code. Never a float. Used by both builds (it crosses
//! the wire inside cart and order views).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The most Stripe charges in one payment, in minor units: eight digits (€999,999.99).
pub const MAXIMUM_CHARGE: i64 = 99_999_999;

/// A three-letter lowercase ISO 4217 code, as Stripe writes it (`eur`, `usd`, `jpy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

/// Why a currency code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a currency code: use three lowercase letters such as `eur` or `usd`")]
pub struct InvalidCurrency(pub String);

impl Currency {
    pub const EUR: Currency = Currency(*b"eur");
    pub const USD: Currency = Currency(*b"usd");

    /// Parses a code; Stripe wants lowercase, so uppercase input is refused rather than
    /// silently changed.
    pub fn parse(code: &str) -> Result<Self, InvalidCurrency> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_lowercase) => Ok(Self([a, b, c])),
            _ => Err(InvalidCurrency(code.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    /// Digits after the decimal point in this currency's minor unit, per Stripe's list of
    /// zero-decimal and three-decimal currencies.
    pub fn exponent(&self) -> u32 {
        const ZERO_DECIMAL: [&str; 16] =
            ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"];
        const THREE_DECIMAL: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];
        let code = self.as_str();
        if ZERO_DECIMAL.contains(&code) {
            0
        } else if THREE_DECIMAL.contains(&code) {
            3
        } else {
            2
        }
    }

    /// Stripe's smallest charge in this currency, in minor units, from its table of
    /// minimum charge amounts (€0.50, £0.30, 3.00 kr, ¥50, …); 50 for a currency that
    /// the table does not list.
    pub fn minimum_charge(&self) -> i64 {
        const MINIMUMS: [(&str, i64); 24] = [
            ("aed", 200),
            ("aud", 50),
            ("bgn", 100),
            ("brl", 50),
            ("cad", 50),
            ("chf", 50),
            ("czk", 1500),
            ("dkk", 250),
            ("eur", 50),
            ("gbp", 30),
            ("hkd", 400),
            ("huf", 17500),
            ("inr", 50),
            ("jpy", 50),
            ("mxn", 1000),
            ("myr", 200),
            ("nok", 300),
            ("nzd", 50),
            ("pln", 200),
            ("ron", 200),
            ("sek", 300),
            ("sgd", 50),
            ("thb", 1000),
            ("usd", 50),
        ];
        MINIMUMS.iter().find(|(code, _)| *code == self.as_str()).map_or(50, |(_, minimum)| *minimum)
    }

    pub(crate) fn symbol(&self) -> Option<&'static str> {
        Some(match self.as_str() {
            "eur" => "€",
            "usd" => "$",
            "gbp" => "£",
            "jpy" => "¥",
            _ => return None,
        })
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidCurrency;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money in minor units (cents for `eur`, yen for `jpy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: Currency,
}

/// Arithmetic that would be wrong if it went ahead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range")]
    Overflow,
}

impl Money {
    pub const fn new(amount: i64, currency: Currency) -> Self {
        Self { amount, currency }
    }

    pub const fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let amount = self.amount.checked_add(other.amount).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    pub fn checked_mul(self, factor: u32) -> Result<Money, MoneyError> {
        let amount = self.amount.checked_mul(i64::from(factor)).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// Sums amounts of one currency; an empty list sums to zero in `currency`.
    pub fn sum(currency: Currency, items: impl IntoIterator<Item = Money>) -> Result<Money, MoneyError> {
        items.into_iter().try_fold(Money::zero(currency), Money::checked_add)
    }
}

/// How a language writes amounts: the digit grouping, the decimal mark, and where the
/// currency symbol goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Writing {
    pub group: &'static str,
    pub decimal: &'static str,
    pub symbol_first: bool,
}

impl Writing {
    /// `€1,299.00`.
    pub const ENGLISH: Writing = Writing { group: ",", decimal: ".", symbol_first: true };
    /// `1 299,00 €`, with a narrow no-break space between groups.
    pub const FRENCH: Writing = Writing { group: "\u{202f}", decimal: ",", symbol_first: false };
}

impl Money {
    /// The amount as `writing` puts it, with the currency's minor unit; a currency
    /// without a well-known symbol is written by its code, after the number (a no-break
    /// space between them in every language). The code is ASCII: capitalised without
    /// Unicode's case tables, which the wasm bundle would otherwise hold.
    pub fn written(self, writing: Writing) -> String {
        let exponent = self.currency.exponent();
        let unit = 10u64.pow(exponent);
        let magnitude = self.amount.unsigned_abs();
        let (whole, fraction) = (magnitude / unit, magnitude % unit);
        let digits = whole.to_string();
        let mut number = String::new();
        for (n, digit) in digits.chars().enumerate() {
            if n > 0 && (digits.len() - n) % 3 == 0 {
                number.push_str(writing.group);
            }
            number.push(digit);
        }
        if exponent > 0 {
            number = format!("{number}{}{fraction:0width$}", writing.decimal, width = exponent as usize);
        }
        let sign = if self.amount < 0 { "-" } else { "" };
        match self.currency.symbol() {
            Some(symbol) if writing.symbol_first => format!("{sign}{symbol}{number}"),
            Some(symbol) => format!("{sign}{number}\u{a0}{symbol}"),
            None => format!("{sign}{number}\u{a0}{}", self.currency.as_str().to_ascii_uppercase()),
        }
    }
}

impl Money {
    /// `amount` minor units of the currency `code` as English writes them (`€10.99`), or
    /// plainly (`1099 xyz`) for a code that is no currency of the shop's.
    pub fn shown(amount: i64, code: &str) -> String {
        Currency::parse(code).map(|currency| Money::new(amount, currency).to_string()).unwrap_or_else(|_| format!("{amount} {code}"))
    }
}

impl fmt::Display for Money {
    /// As English writes it: `€10.99`, `$5.00`, `¥500`, `€1,299.00`, `10.99 CHF`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written(Writing::ENGLISH))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn currency_codes_must_be_three_lowercase_letters() {
        assert_eq!(Currency::parse("eur"), Ok(Currency::EUR));
        for bad in ["EUR", "eu", "euro", "", "e1r", "ëur"] {
            assert!(Currency::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn money_formats_with_the_currencys_minor_unit() {
        assert_eq!(Money::new(1099, Currency::EUR).to_string(), "€10.99");
        assert_eq!(Money::new(5, Currency::USD).to_string(), "$0.05");
        assert_eq!(Money::new(500, Currency::parse("jpy").unwrap()).to_string(), "¥500");
        assert_eq!(Money::new(12345, Currency::parse("kwd").unwrap()).to_string(), "12.345\u{a0}KWD");
        assert_eq!(Money::new(129_900, Currency::EUR).to_string(), "€1,299.00");
        assert_eq!(Money::new(129_900, Currency::EUR).written(Writing::FRENCH), "1\u{202f}299,00\u{a0}€");
        assert_eq!(Money::new(-250, Currency::EUR).to_string(), "-€2.50");
    }

    #[test]
    fn adding_two_currencies_is_refused() {
        let err = Money::new(1, Currency::EUR).checked_add(Money::new(1, Currency::USD));
        assert_eq!(err, Err(MoneyError::CurrencyMismatch(Currency::EUR, Currency::USD)));
    }

    #[test]
    fn overflow_is_an_error_not_a_wrap() {
        assert_eq!(Money::new(i64::MAX, Currency::EUR).checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(Money::new(i64::MAX, Currency::EUR).checked_add(Money::new(1, Currency::EUR)), Err(MoneyError::Overflow));
    }

    #[test]
    fn currency_round_trips_through_json_as_a_plain_string() {
        let json = serde_json::to_string(&Money::new(100, Currency::EUR)).unwrap();
        assert_eq!(json, r#"{"amount":100,"currency":"eur"}"#);
        assert!(serde_json::from_str::<Money>(r#"{"amount":1,"currency":"EUR"}"#).is_err());
    }

    proptest! {
        #[test]
        fn sum_equals_the_integer_sum(amounts in proptest::collection::vec(0i64..1_000_000_000, 0..50)) {
            let total = Money::sum(Currency::EUR, amounts.iter().map(|&a| Money::new(a, Currency::EUR))).unwrap();
            prop_assert_eq!(total.amount, amounts.iter().sum::<i64>());
        }

        #[test]
        fn multiplication_matches_repeated_addition(amount in 0i64..10_000_000, qty in 0u32..100) {
            let unit = Money::new(amount, Currency::EUR);
            let repeated = Money::sum(Currency::EUR, std::iter::repeat_n(unit, qty as usize)).unwrap();
            prop_assert_eq!(unit.checked_mul(qty).unwrap(), repeated);
        }

        #[test]
        fn formatting_keeps_every_digit(amount in -1_000_000_000i64..1_000_000_000) {
            let text = Money::new(amount, Currency::EUR).to_string();
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            prop_assert_eq!(digits.parse::<i64>().unwrap(), amount.abs());
        }
    }
}
