//! Checkout types that cross the wire.

use crate::cart::Cart;
use serde::{Deserialize, Serialize};

/// What the checkout page needs: the priced cart and how to load Stripe's Elements.
/// The server writes it into the page as the checkout island's props; the browser only
/// reads it (see the `Serialize` below).
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
    pub customer_session_client_secret: Option<String>,
    /// The cards that CustomerSession shows, to name the one being charged.
    pub saved_methods: Vec<crate::account::SavedMethod>,
    /// Ask for the CVC again with a saved card.
    pub require_cvc_recollection: bool,
    /// Legacy path: `paymentMethodCreation: 'manual'` and `createPaymentMethod`.
    pub manual_payment_method_creation: bool,
    /// `manual`: the payment is authorised now and captured by the merchant later.
    pub capture_method: Option<String>,
    /// `on_session` / `off_session`: the card is kept for later (the page says so).
    pub setup_future_usage: Option<String>,
    /// The store's explicit list of payment method types, if it has one.
    pub payment_method_types: Option<Vec<String>>,
    /// Where the order's emails go, as known: the account's address, or the one this
    /// session last paid with.
    pub email: Option<String>,
    /// A subscription's cart: what the shopper agrees to (Elements in `subscription`
    /// mode; the server subscribes).
    pub subscription_terms: Option<String>,
    /// A subscription needs an account: the page asks a guest to sign in first.
    pub needs_account: bool,
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
