//! Checkout's server functions. These are public HTTP endpoints: the amount is never
//! taken from the browser, only the ConfirmationToken id; everything else comes from
//! the caller's own session and the catalog.

use super::{CheckoutView, PaymentReply, PaymentResult, ShippingAddress};
use crate::error::AppError;
use leptos::prelude::*;

/// The caller's cart, priced, with what the browser needs to show the Payment Element.
#[server(endpoint = "checkout/view", output = crate::error::JsonReply)]
pub async fn get_checkout() -> Result<CheckoutView, AppError> {
    let (state, request) = crate::request::edge()?;
    let visit = crate::session::visit(&state.store, &request.session, Vec::new()).await?;
    super::page::view(&state, &request, &visit).await
}

/// Pays the caller's cart with a ConfirmationToken (`ctoken_…`) made by Stripe.js.
/// Creates the order before calling Stripe, then creates and confirms the
/// PaymentIntent in one request with an idempotency key of the order attempt: a double
/// click, a retried request or a replayed token cannot charge twice.
///
/// `email`: where the order's emails go (optional; a signed-in shopper's account email
/// when left out), refused unless it is an address. `quote`: the cart's
/// [`quote`](crate::cart::Cart::quote) as the page showed it (optional): if the cart
/// has changed since, nothing is charged and the reply is a 409 that says its new total.
#[server(endpoint = "checkout/confirm", output = crate::error::JsonReply)]
pub async fn confirm_payment(confirmation_token: String, email: Option<String>, quote: Option<String>) -> Result<PaymentReply, AppError> {
    let (state, request) = crate::request::edge()?;
    let token = crate::stripe::ids::ConfirmationTokenId::parse(confirmation_token.trim())
        .map_err(|_| AppError::invalid(request.texts().details_garbled()))?;
    let email = super::service::parse_email(email, request.texts())?;
    let payment = super::service::PaymentRequest::of_request(&state, &request, None, email, quote);
    super::service::confirm(&state, &request, &super::service::Credential::Token(token), payment).await
}

/// Legacy path (`store.payment-method-creation = "manual"`): pays the caller's cart with
/// a PaymentMethod made by `stripe.createPaymentMethod`, confirmed with
/// `payment_method`, `use_stripe_sdk`, `mandate_data` and the `shipping` address the
/// page collected. Same order, attempt, idempotency and `quote` rules as
/// `confirm_payment`; a PaymentMethod of another customer is refused.
#[server(endpoint = "checkout/confirm-payment-method", output = crate::error::JsonReply)]
pub async fn confirm_payment_method(
    payment_method: String,
    shipping: Option<ShippingAddress>,
    email: Option<String>,
    quote: Option<String>,
) -> Result<PaymentReply, AppError> {
    let (state, request) = crate::request::edge()?;
    let method = crate::stripe::ids::PaymentMethodId::parse(payment_method.trim())
        .map_err(|_| AppError::invalid(request.texts().details_garbled()))?;
    let shipping = shipping.map(|address| super::service::parse_shipping(address, request.texts())).transpose()?;
    let email = super::service::parse_email(email, request.texts())?;
    let payment = super::service::PaymentRequest::of_request(&state, &request, shipping, email, quote);
    super::service::confirm(&state, &request, &super::service::Credential::PaymentMethod(method), payment).await
}

/// The outcome of the caller's payment `payment_intent` (from the return URL).
#[server(endpoint = "checkout/outcome", output = crate::error::JsonReply)]
pub async fn payment_outcome(payment_intent: String) -> Result<PaymentResult, AppError> {
    let (state, request) = crate::request::edge()?;
    let id = crate::stripe::ids::PaymentIntentId::parse(payment_intent.trim())
        .map_err(|_| AppError::NotFound(request.texts().no_such_payment().into()))?;
    super::outcomes::outcome(&state, &request, &id, None).await
}
