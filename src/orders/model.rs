//! Order types that cross the wire.

use crate::money::Money;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineView {
    pub name: String,
    pub quantity: u32,
    pub line_total: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderView {
    pub id: String,
    /// `pending`, `confirming`, `failed`, `authorized` (waiting for the merchant to
    /// capture it), `paid`, `partially_refunded`, `refunded`, `canceled`.
    pub status: String,
    pub total: Money,
    /// What was charged, when it is less than the total (the merchant captured part).
    pub charged: Option<Money>,
    pub lines: Vec<OrderLineView>,
    /// The discount code and what it took off, when one was used.
    pub discount: Option<(String, Money)>,
    /// What the customer's credit paid (a subscription's invoice), when it paid some.
    pub credit: Option<Money>,
    /// Where it ships, one line of the address each.
    pub ship_to: Vec<String>,
    /// When it was placed (unix seconds).
    pub placed_at: i64,
    /// Money given back: each refund Stripe reported (amount, and whether it has
    /// succeeded or is still on its way), oldest first; failed ones are left out.
    pub refunds: Vec<(Money, bool)>,
    /// The sum of the refunds that succeeded.
    pub refunded: Money,
    /// Stripe has a receipt for it (`/orders/{id}/receipt` leads there).
    pub receipt: bool,
    /// It paid a subscription's invoice, which Stripe has a page for
    /// (`/orders/{id}/invoice` leads there).
    pub invoice: bool,
    /// The view key the page was opened with (`?key=`), for its own links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// While the payment is settling: reload the page in this many seconds. `None` when
    /// it is settled, or when it has been settling for so long that reloading stopped.
    pub refresh_in_secs: Option<u32>,
}
