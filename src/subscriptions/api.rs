//! Subscriptions' server functions. Who the shopper is comes only from the session
//! cookie: a subscription of another account is refused as not found.

use crate::error::AppError;
use leptos::prelude::*;

/// Cancels the signed-in shopper's subscription at the end of its current period (it
/// renews no more; it stays active until then).
#[server(endpoint = "account/subscription/cancel", output = crate::error::JsonReply)]
pub async fn cancel_subscription(subscription: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::set_cancel_at_period_end(&state, &request, subscription.trim(), true).await
}

/// Undoes a cancellation at the period's end: the subscription renews again.
#[server(endpoint = "account/subscription/resume", output = crate::error::JsonReply)]
pub async fn resume_subscription(subscription: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::set_cancel_at_period_end(&state, &request, subscription.trim(), false).await
}
