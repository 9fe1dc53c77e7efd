//! Checkout types that cross the wire, and its server functions. These are public HTTP
//! endpoints: the amount is never taken from the browser, only the ConfirmationToken id;
//! everything else comes from the caller's own session and the catalog.

use crate::cart::Cart;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What the checkout page needs: the priced cart and how to load Stripe's Elements.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

/// The caller's cart, priced, with what the browser needs to show the Payment Element.
#[server(endpoint = "checkout/view")]
pub async fn get_checkout() -> Result<CheckoutView, AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::view(&state, &request).await
}

/// Pays the caller's cart with a ConfirmationToken (`ctoken_…`) made by Stripe.js.
/// Creates the order before calling Stripe, then creates and confirms the
/// PaymentIntent in one request with an idempotency key of the order attempt: a double
/// click, a retried request or a replayed token cannot charge twice.
#[server(endpoint = "checkout/confirm")]
pub async fn confirm_payment(confirmation_token: String) -> Result<PaymentReply, AppError> {
    let (state, request) = crate::request::edge()?;
    let token = crate::stripe::ids::ConfirmationTokenId::parse(confirmation_token.trim())
        .map_err(|_| AppError::invalid(request.texts().details_garbled))?;
    let payment = super::service::PaymentRequest::of_request(&state, &request, None);
    super::service::confirm(&state, &request, &super::service::Credential::Token(token), payment).await
}

/// Legacy path (`store.payment-method-creation = "manual"`): pays the caller's cart with
/// a PaymentMethod made by `stripe.createPaymentMethod`, confirmed with
/// `payment_method`, `use_stripe_sdk`, `mandate_data` and the `shipping` address the
/// page collected. Same order, attempt and idempotency rules as `confirm_payment`; a
/// PaymentMethod of another customer is refused.
#[server(endpoint = "checkout/confirm-payment-method")]
pub async fn confirm_payment_method(payment_method: String, shipping: Option<ShippingAddress>) -> Result<PaymentReply, AppError> {
    let (state, request) = crate::request::edge()?;
    let method = crate::stripe::ids::PaymentMethodId::parse(payment_method.trim())
        .map_err(|_| AppError::invalid(request.texts().details_garbled))?;
    let shipping = shipping.map(|address| super::service::parse_shipping(address, request.texts())).transpose()?;
    let payment = super::service::PaymentRequest::of_request(&state, &request, shipping);
    super::service::confirm(&state, &request, &super::service::Credential::PaymentMethod(method), payment).await
}

/// The outcome of the caller's payment `payment_intent` (from the return URL).
#[server(endpoint = "checkout/outcome")]
pub async fn payment_outcome(payment_intent: String) -> Result<PaymentResult, AppError> {
    let (state, request) = crate::request::edge()?;
    let id = crate::stripe::ids::PaymentIntentId::parse(payment_intent.trim())
        .map_err(|_| AppError::NotFound(request.texts().no_such_payment.into()))?;
    super::service::outcome(&state, &request, &id).await
}
