//! Cart types that cross the wire.

use crate::catalog::ProductId;
use crate::money::Money;
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

/// The code of the [`AppliedDiscount`] that a free trial is shown as. No shopper can
/// apply it: subscriptions take no discount code.
pub const TRIAL_CODE: &str = "free-trial";

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
    /// Why Stripe could not charge `total` in one payment (`service::charge_limit`), in the
    /// shopper's language; `None` when it can be paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_limit: Option<String>,
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

    /// Whether the first period of this subscription's cart is a free trial
    /// (`service::with_trial`).
    pub fn is_trial(&self) -> bool {
        self.subscription().is_some() && self.discount.as_ref().is_some_and(|discount| discount.code == TRIAL_CODE)
    }

    /// A subscription beside anything else: refused at checkout (a subscription is
    /// bought on its own).
    pub fn is_mixed(&self) -> bool {
        self.subscription().is_some() && self.lines.len() > 1
    }
}
