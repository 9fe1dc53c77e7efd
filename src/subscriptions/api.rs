//! Subscriptions' server functions. Who the shopper is comes only from the session
//! cookie: a subscription of another account is refused as not found.

use crate::error::AppError;
use leptos::prelude::*;

/// Cancels the signed-in shopper's subscription at the end of its current period (it
/// renews no more; it stays active until then).
#[server(endpoint = "account/subscription/cancel", output = crate::error::JsonReply)]
pub async fn cancel_subscription(subscription: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::changes::set_cancel_at_period_end(&state, &request, subscription.trim(), true).await
}

/// Pays a past-due subscription's open invoice now with one of the shopper's saved
/// cards (`payment_method`), which its renewals are charged to from then on. `attempt`
/// is the form's nonce: the same form sent twice pays once. `authenticate` (any value)
/// says the browser can run 3-D Secure: the shopper is present, and a bank that asks
/// for it gets it (`OverduePayment::Authenticate`); without it, the payment is off
/// session, as a plain form's is.
#[server(endpoint = "account/subscription/pay", output = crate::error::JsonReply)]
pub async fn pay_overdue_subscription(
    subscription: String,
    payment_method: String,
    attempt: String,
    #[server(default)] authenticate: Option<String>,
) -> Result<super::OverduePayment, AppError> {
    let (state, request) = crate::request::edge()?;
    let on_session = authenticate.is_some();
    super::changes::pay_overdue(&state, &request, subscription.trim(), payment_method.trim(), attempt.trim(), on_session).await
}

/// The signed-in shopper's subscription read again from Stripe and recorded, once they
/// have authenticated its overdue renewal's payment; its status now.
#[server(endpoint = "account/subscription/refresh", output = crate::error::JsonReply)]
pub async fn refresh_subscription(subscription: String) -> Result<String, AppError> {
    let (state, request) = crate::request::edge()?;
    super::changes::refresh_own(&state, &request, subscription.trim()).await
}

/// Sets how many of its product the signed-in shopper's subscription brings from its
/// next renewal on (1 to the cart's most); nothing is charged for the period under way.
#[server(endpoint = "account/subscription/quantity", output = crate::error::JsonReply)]
pub async fn set_subscription_quantity(subscription: String, quantity: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    let quantity = quantity
        .trim()
        .parse()
        .ok()
        .and_then(crate::cart::Quantity::new)
        .ok_or_else(|| AppError::invalid(crate::i18n::fill(request.texts().quantity_range(), &[&crate::cart::MAX_QUANTITY])))?;
    super::changes::set_quantity(&state, &request, subscription.trim(), quantity).await
}

/// Charges the signed-in shopper's subscription's renewals, from the next one on, to
/// another of their saved cards (`payment_method`).
#[server(endpoint = "account/subscription/card", output = crate::error::JsonReply)]
pub async fn set_renewal_card(subscription: String, payment_method: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::changes::set_renewal_card(&state, &request, subscription.trim(), payment_method.trim()).await
}

/// Ends the signed-in shopper's subscription now, when it is on hold (`unpaid`, or
/// `paused`): the renewal Stripe gave up on is not charged, and nothing more is billed.
#[server(endpoint = "account/subscription/end", output = crate::error::JsonReply)]
pub async fn end_subscription(subscription: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::changes::end_on_hold(&state, &request, subscription.trim()).await
}

/// Undoes a cancellation at the period's end: the subscription renews again.
#[server(endpoint = "account/subscription/resume", output = crate::error::JsonReply)]
pub async fn resume_subscription(subscription: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::changes::set_cancel_at_period_end(&state, &request, subscription.trim(), false).await
}
