//! Checkout types that cross the wire.

use crate::cart::Cart;
use serde::{Deserialize, Serialize};

/// What the checkout page needs: the priced cart and how to load Stripe's Elements.
/// The server writes it into the page as the checkout island's props; the browser only
/// reads it (see the `Serialize` below). What is absent is left out (not `null`): 93 of
/// the 1,944 bytes of the checkout's HTML as sent. A flag or a list left out reads as
/// false or empty: the bundle then has no "missing field" error to build for it (600
/// bytes of the module).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[cfg_attr(not(feature = "hydrate"), derive(Serialize))]
pub struct CheckoutView {
    pub cart: Cart,
    pub publishable_key: String,
    /// `accordion` or `tabs`.
    pub layout: String,
    /// Where Stripe sends the shopper back after a redirect (`/checkout/complete`).
    pub return_url: String,
    /// For `stripe.elements({customerSessionClientSecret})`: a signed-in shopper's
    /// saved payment methods. `None` for guests (or when Stripe could not make one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_session_client_secret: Option<String>,
    /// The cards that CustomerSession shows, to name the one being charged.
    #[serde(default)]
    pub saved_methods: Vec<crate::account::SavedMethod>,
    /// Ask for the CVC again with a saved card.
    #[serde(default)]
    pub require_cvc_recollection: bool,
    /// Legacy path: `paymentMethodCreation: 'manual'` and `createPaymentMethod`.
    #[serde(default)]
    pub manual_payment_method_creation: bool,
    /// `manual`: the payment is authorised now and captured by the merchant later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture_method: Option<String>,
    /// `on_session` / `off_session`: the card is kept for later (the page says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_future_usage: Option<String>,
    /// The store's explicit list of payment method types, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_types: Option<Vec<String>>,
    /// Where the order's emails go, as known: the account's address, or the one this
    /// session last paid with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A subscription's cart: what the shopper agrees to (Elements in `subscription`
    /// mode; the server subscribes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_terms: Option<String>,
    /// A subscription needs an account: the page asks a guest to sign in first.
    #[serde(default)]
    pub needs_account: bool,
    /// Why the signed-in shopper cannot buy the cart's subscription now, in their words:
    /// they subscribe to it already, or its first payment is still being processed. The
    /// page says so instead of taking a second one. Never in the island's props (the
    /// island is not on such a page).
    #[serde(skip)]
    pub cannot_subscribe: Option<String>,
    /// A signed-in shopper's last shipping address, as JSON: the Address Element's
    /// `defaultValues` (left as text: the browser's `JSON.parse` reads it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_defaults: Option<String>,
}

/// In the browser, where nothing needs it serialized. The `#[island]` macro
/// (leptos_macro 0.8.20) serializes an island's props when the island hydrates as well
/// as when the server renders it, and drops the browser's copy unread: this spares the
/// checkout's hydration that work, and its bundle the code.
#[cfg(feature = "hydrate")]
impl Serialize for CheckoutView {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

/// Where a payment stands after the server confirmed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentStatus {
    Succeeded,
    Processing,
    RequiresAction,
    RequiresCapture,
}

/// The server's answer to a confirmation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentReply {
    pub order_id: String,
    pub payment_intent: String,
    pub status: PaymentStatus,
    /// For `stripe.handleNextAction` when the status is `RequiresAction`.
    pub client_secret: String,
}

/// The outcome of a payment as Stripe reports it now (for the return page).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentResult {
    pub order_id: String,
    /// Stripe's PaymentIntent status (`succeeded`, `processing`, `requires_payment_method`, …).
    pub status: String,
    /// Why the last attempt failed, if it did.
    pub failure: Option<String>,
    /// A subscription's first payment (its page is the account's).
    #[serde(default)]
    pub subscription: bool,
}

/// A shipping address as the legacy path sends it with its PaymentMethod (the
/// Address Element's value; a ConfirmationToken carries its own).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAddress {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

impl From<crate::stripe_js::AddressValue> for ShippingAddress {
    fn from(value: crate::stripe_js::AddressValue) -> Self {
        let address = value.address;
        ShippingAddress {
            name: value.name,
            phone: value.phone.filter(|phone| !phone.is_empty()),
            line1: address.line1.unwrap_or_default(),
            line2: address.line2.filter(|line| !line.is_empty()),
            city: address.city.unwrap_or_default(),
            state: address.state.filter(|state| !state.is_empty()),
            postal_code: address.postal_code.filter(|code| !code.is_empty()),
            country: address.country.unwrap_or_default(),
        }
    }
}

#[cfg(all(test, not(feature = "hydrate")))]
mod tests {
    use super::*;
    use crate::cart::{AppliedDiscount, CartLine};
    use crate::money::{Currency, Money};

    fn view(filled: bool) -> CheckoutView {
        let eur = |amount| Money::new(amount, Currency::EUR);
        let line = CartLine {
            product_id: crate::catalog::ProductId::parse("coffee-beans").unwrap(),
            name: "Coffee beans".into(),
            image: "/images/coffee-beans.svg".into(),
            unit_price: eur(1200),
            quantity: 1,
            line_total: eur(1200),
            recurring: filled.then_some(crate::catalog::Recurring { interval: crate::catalog::Interval::Month, count: 1 }),
        };
        let some = |value: &str| filled.then(|| value.to_owned());
        CheckoutView {
            cart: Cart {
                lines: vec![line],
                item_count: 1,
                subtotal: eur(1200),
                discount: filled.then(|| AppliedDiscount {
                    code: "WELCOME10".into(),
                    label: "WELCOME10 (10% off)".into(),
                    amount: eur(120),
                }),
                discount_note: some("expired"),
                total: eur(1080),
                charge_limit: some("The smallest order we can charge is €0.50."),
                quote: "q".into(),
            },
            publishable_key: "pk_test_x".into(),
            layout: "accordion".into(),
            return_url: "http://127.0.0.1:3000/checkout/complete".into(),
            customer_session_client_secret: some("cuss_secret_x"),
            saved_methods: if filled {
                vec![crate::account::SavedMethod {
                    id: "pm_1".into(),
                    brand: "visa".into(),
                    last4: "4242".into(),
                    exp_month: 12,
                    exp_year: 2034,
                }]
            } else {
                Vec::new()
            },
            require_cvc_recollection: filled,
            manual_payment_method_creation: filled,
            capture_method: some("manual"),
            setup_future_usage: some("off_session"),
            payment_method_types: filled.then(|| vec!["card".to_owned()]),
            email: some("jo@example.com"),
            subscription_terms: some("€12.00 / month"),
            needs_account: filled,
            cannot_subscribe: None,
            shipping_defaults: some(r#"{"name":"Jenny Rosen","address":{"country":"FR"}}"#),
        }
    }

    /// The island's props leave out what is absent, and read back the same.
    #[test]
    fn props_leave_out_the_absent_and_read_back_the_same() {
        for filled in [false, true] {
            let json = serde_json::to_string(&view(filled)).unwrap();
            assert_eq!(serde_json::from_str::<CheckoutView>(&json).unwrap(), view(filled), "{json}");
            assert!(!json.contains("null"), "{json}");
            for key in
                ["discount", "discount_note", "charge_limit", "recurring", "customer_session_client_secret", "email", "subscription_terms"]
            {
                assert_eq!(json.contains(&format!("\"{key}\"")), filled, "{key} in {json}");
            }
        }
    }
}
