//! Catalog types that cross the wire.

use crate::i18n::Locale;
use crate::money::Money;
use serde::{Deserialize, Serialize};

/// A product's id: 1 to 64 characters of `a-z`, `0-9` and `-`, so it is safe in URLs,
/// test ids and Stripe metadata.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductId(String);

impl ProductId {
    pub fn parse(id: &str) -> Result<Self, NotAProductId> {
        let valid = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid { Ok(Self(id.to_owned())) } else { Err(NotAProductId) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Text that cannot name a product (so no product of the catalog).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a product id: 1–64 characters of a-z, 0-9 and -")]
pub struct NotAProductId;

impl TryFrom<String> for ProductId {
    type Error = NotAProductId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ProductId> for String {
    fn from(value: ProductId) -> Self {
        value.0
    }
}

impl std::fmt::Display for ProductId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A product as shoppers see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub description: String,
    /// The price of one (of one period's delivery, for a subscription).
    pub unit_price: Money,
    /// Path of the image under the site root, e.g. `/images/mug.svg`.
    pub image: String,
    /// `Some` for a subscription: billed again every period until canceled.
    pub recurring: Option<Recurring>,
    /// A subscription's free trial: its first subscription of an account starts with
    /// that many days free (Stripe's `trial_period_days`), then bills every period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_days: Option<u32>,
}

/// How often a subscription is billed: every `count` `interval`s (Stripe's
/// `recurring[interval]` and `recurring[interval_count]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurring {
    pub interval: Interval,
    pub count: u32,
}

impl Recurring {
    /// The period as a price is followed by it: `month`, `3 months` / `mois`, `3 mois`.
    pub fn period(self, locale: Locale) -> String {
        let (one, many) = match (locale, self.interval) {
            (Locale::En, Interval::Day) => ("day", "days"),
            (Locale::En, Interval::Week) => ("week", "weeks"),
            (Locale::En, Interval::Month) => ("month", "months"),
            (Locale::En, Interval::Year) => ("year", "years"),
            (Locale::Fr, Interval::Day) => ("jour", "jours"),
            (Locale::Fr, Interval::Week) => ("semaine", "semaines"),
            (Locale::Fr, Interval::Month) => ("mois", "mois"),
            (Locale::Fr, Interval::Year) => ("an", "ans"),
        };
        if self.count == 1 { one.to_owned() } else { format!("{} {many}", self.count) }
    }
}

/// A price as shoppers read it: `€12.00`, or for a subscription `€12.00 / month`
/// (`12,00 € / mois`).
pub fn price_label(price: Money, recurring: Option<Recurring>, locale: Locale) -> String {
    match recurring {
        None => locale.money(price),
        Some(recurring) => format!("{} / {}", locale.money(price), recurring.period(locale)),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    /// Stripe's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }

    pub fn parse(text: &str) -> Option<Interval> {
        [Interval::Day, Interval::Week, Interval::Month, Interval::Year].into_iter().find(|interval| interval.as_str() == text)
    }

    /// The most of them Stripe allows between two bills (three years).
    pub fn most(self) -> u32 {
        match self {
            Interval::Day => 1095,
            Interval::Week => 156,
            Interval::Month => 36,
            Interval::Year => 3,
        }
    }
}

/// A product and how many are in stock now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogItem {
    pub product: Product,
    pub in_stock: u32,
}

/// Products per catalog page.
pub const PAGE_SIZE: usize = 24;

/// A page of the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogListing {
    pub items: Vec<CatalogItem>,
    /// This page's number, from 1.
    pub page: u32,
    /// How many pages there are (at least 1).
    pub pages: u32,
}

/// What the page chrome shows about the shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopInfo {
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_prices_name_their_period_in_each_language() {
        let price = Money::new(1200, crate::money::Currency::EUR);
        let monthly = Some(Recurring { interval: Interval::Month, count: 1 });
        assert_eq!(price_label(price, monthly, Locale::En), "€12.00 / month");
        assert_eq!(price_label(price, monthly, Locale::Fr), "12,00\u{a0}€ / mois");
        let quarterly = Some(Recurring { interval: Interval::Month, count: 3 });
        assert_eq!(price_label(price, quarterly, Locale::En), "€12.00 / 3 months");
        assert_eq!(price_label(price, Some(Recurring { interval: Interval::Year, count: 2 }), Locale::Fr), "12,00\u{a0}€ / 2 ans");
        assert_eq!(price_label(price, None, Locale::En), "€12.00");
    }

    proptest::proptest! {
        /// Any text is either refused or becomes an id of lowercase ASCII, digits and
        /// dashes (what the database and the catalog are keyed by), unchanged.
        #[test]
        fn product_ids_are_plain_or_refused(text in "\\PC{0,80}") {
            if let Ok(id) = ProductId::parse(&text) {
                proptest::prop_assert_eq!(id.as_str(), text.as_str());
                proptest::prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            }
        }
    }
}
