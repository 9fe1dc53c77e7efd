//! Cart types that cross the wire.

use crate::catalog::ProductId;
use crate::money::{MAXIMUM_CHARGE, Money};
use serde::{Deserialize, Serialize};

/// Most of one product a cart may hold.
pub const MAX_QUANTITY: u32 = 99;

/// A line quantity, 1 to [`MAX_QUANTITY`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Quantity(u32);

impl Quantity {
    /// `None` outside 1–[`MAX_QUANTITY`].
    pub fn new(value: u32) -> Option<Self> {
        (1..=MAX_QUANTITY).contains(&value).then_some(Self(value))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// One line of a priced cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub product_id: ProductId,
    pub name: String,
    pub image: String,
    pub unit_price: Money,
    pub quantity: u32,
    pub line_total: Money,
    /// `Some` for a subscription (the cart then holds nothing else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurring: Option<crate::catalog::Recurring>,
}

/// A discount applied to a cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedDiscount {
    pub code: String,
    /// How the summary names it, e.g. `WELCOME10 (10% off)`.
    pub label: String,
    pub amount: Money,
}

/// A cart priced by the server from the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    /// Number of items (sum of quantities).
    pub item_count: u32,
    pub subtotal: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<AppliedDiscount>,
    /// Why the session's discount code no longer applies, if it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_note: Option<String>,
    /// What will be charged: subtotal less discount.
    pub total: Money,
    /// What the shopper is asked to pay for, as a digest of each line's product,
    /// quantity and price, the discount and the total. The checkout sends back the quote
    /// it showed, and the server charges nothing if the cart's is no longer the same
    /// (the cart changed in another tab, a price or a discount changed).
    pub quote: String,
}

impl Cart {
    /// The subscription this cart buys, if it is a subscription's cart.
    pub fn subscription(&self) -> Option<&CartLine> {
        self.lines.iter().find(|line| line.recurring.is_some())
    }

    /// A subscription beside anything else: refused at checkout (a subscription is
    /// bought on its own).
    pub fn is_mixed(&self) -> bool {
        self.subscription().is_some() && self.lines.len() > 1
    }

    /// Whether Stripe can charge this cart's total in one payment.
    pub fn is_chargeable(&self) -> bool {
        (self.total.currency.minimum_charge()..=MAXIMUM_CHARGE).contains(&self.total.amount)
    }

    /// Why Stripe would refuse to charge this cart's total in one payment (too small or
    /// too large), in `locale`; `None` when it can be paid.
    pub fn uncharged_because(&self, locale: crate::i18n::Locale) -> Option<String> {
        let (limit, text) = match self.total.amount {
            _ if self.is_chargeable() => return None,
            amount if amount > MAXIMUM_CHARGE => (MAXIMUM_CHARGE, locale.texts().maximum_charge()),
            _ => (self.total.currency.minimum_charge(), locale.texts().minimum_charge()),
        };
        Some(crate::i18n::fill(text, &[&locale.money(Money::new(limit, self.total.currency))]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Locale;
    use crate::money::Currency;

    fn cart_of(total: i64) -> Cart {
        cart_in(total, Currency::EUR)
    }

    fn cart_in(total: i64, currency: Currency) -> Cart {
        let money = Money::new(total, currency);
        Cart { lines: Vec::new(), item_count: 1, subtotal: money, discount: None, discount_note: None, total: money, quote: String::new() }
    }

    #[test]
    fn a_total_stripe_cannot_charge_in_one_payment_is_named_with_its_limit() {
        for chargeable in [50, 1800, 99_999_999] {
            assert!(cart_of(chargeable).is_chargeable(), "{chargeable}");
            assert_eq!(cart_of(chargeable).uncharged_because(Locale::En), None, "{chargeable}");
        }
        for small in [0, 49] {
            assert!(!cart_of(small).is_chargeable());
            assert_eq!(cart_of(small).uncharged_because(Locale::En).unwrap(), "The smallest order we can charge is €0.50.");
        }
        assert!(!cart_of(100_000_000).is_chargeable());
        // Stripe's minimum is the currency's own.
        let gbp = Currency::parse("gbp").unwrap();
        assert!(cart_in(30, gbp).is_chargeable() && !cart_in(29, gbp).is_chargeable());
        let sek = Currency::parse("sek").unwrap();
        assert!(!cart_in(299, sek).is_chargeable() && cart_in(300, sek).is_chargeable());
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(cart_in(49, jpy).uncharged_because(Locale::En).unwrap(), "The smallest order we can charge is ¥50.");
        let large = cart_of(100_000_000).uncharged_because(Locale::Fr).unwrap();
        assert!(large.starts_with("Nous ne pouvons pas débiter plus de") && large.contains("999\u{202f}999,99\u{a0}€"), "{large}");
    }
}
