//! Account types that cross the wire.

use crate::money::Money;
use serde::{Deserialize, Serialize};

/// The signed-in shopper, as their pages show them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub email: String,
    /// A page of its orders, newest first: the latest, or those older than the order
    /// `/account?orders_after=…` names.
    pub orders: Vec<AccountOrder>,
    pub subscriptions: Vec<crate::subscriptions::AccountSubscription>,
    /// When older orders than these are kept: the `orders_after` of the page that lists
    /// them (the last order shown, as `{created_at}.{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub older_orders: Option<String>,
    /// Whether `orders` is an older page, not the latest.
    #[serde(default)]
    pub older_page: bool,
}

/// One of the account's orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOrder {
    pub id: String,
    pub status: String,
    pub total: Money,
    /// When it was placed (Unix seconds), as the order's page says it.
    pub placed_at: i64,
}

/// A saved payment method, as the shopper recognises it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedMethod {
    pub id: String,
    /// `visa`, `mastercard`, … (Stripe's brand code).
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
}

impl SavedMethod {
    /// "Visa •••• 4242".
    pub fn label(&self) -> String {
        format!("{} •••• {}", brand_name(&self.brand), self.last4)
    }

    /// "12/34".
    pub fn expiry(&self) -> String {
        format!("{:02}/{:02}", self.exp_month, self.exp_year % 100)
    }
}

/// A card brand code as shoppers read it. Stripe's codes are ASCII: an unlisted one is
/// shown with its first letter in capitals, without Unicode's case tables (the wasm
/// bundle would hold them for this alone).
pub fn brand_name(brand: &str) -> String {
    match brand {
        "visa" => "Visa".into(),
        "mastercard" => "Mastercard".into(),
        "amex" => "American Express".into(),
        "discover" => "Discover".into(),
        "diners" => "Diners Club".into(),
        "jcb" => "JCB".into(),
        "unionpay" => "UnionPay".into(),
        "cartes_bancaires" => "Cartes Bancaires".into(),
        other => {
            let mut chars = other.chars();
            chars.next().map(|first| std::iter::once(first.to_ascii_uppercase()).chain(chars).collect()).unwrap_or_else(|| "Card".into())
        }
    }
}

/// What the "add a card" form needs (Elements in `setup` mode).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSetupView {
    pub publishable_key: String,
    pub currency: String,
    /// Where Stripe sends the shopper back after a redirect during setup.
    pub return_url: String,
}

/// The server's answer to saving a card.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupReply {
    /// `succeeded`, `processing` or `requires_action` (then run `handleNextAction`).
    pub status: String,
    pub client_secret: String,
}

#[cfg(test)]
mod tests {
    use super::brand_name;

    #[test]
    fn brands_are_named_as_shoppers_read_them() {
        assert_eq!(brand_name("amex"), "American Express");
        assert_eq!(brand_name("eftpos_au"), "Eftpos_au");
        assert_eq!(brand_name(""), "Card");
    }
}
