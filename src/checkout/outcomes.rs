//! What became of a payment (server only): the result page's outcome, asked of Stripe,
//! and reconciliation of the attempts whose answer never came or that were left
//! waiting for authentication.

use super::PaymentResult;
use super::service::{abandon, pay, settle};
use crate::error::AppError;
use crate::i18n::Locale;
use crate::request::Request;
use crate::session;
use crate::state::AppState;
use crate::stripe::FormBody;
use crate::stripe::ids::PaymentIntentId;
use crate::stripe::types::PaymentIntent;

/// The outcome of one of the session's payments, as Stripe reports it now; or, given
/// the payment's `client_secret` (which Stripe adds to `return_url`), of a payment made
/// in another browser (see [`outcome_by_secret`]).
#[tracing::instrument(name = "read a payment's outcome", skip_all, fields(intent = %intent_id), err(level = "info", Debug))]
pub async fn outcome(
    state: &AppState,
    request: &Request,
    intent_id: &PaymentIntentId,
    client_secret: Option<&str>,
) -> Result<PaymentResult, AppError> {
    let locale = request.locale;
    let not_found = || AppError::NotFound(locale.texts().no_such_payment().into());
    let session = session::current(&state.store, &request.session).await?;
    let order_id = match &session {
        Some(session) => state.store.order_id_for_payment_intent(intent_id.as_str(), session.as_str()).await?,
        None => None,
    };
    let Some(order_id) = order_id else {
        // A subscription's first payment has no order until it is paid.
        if session.is_some()
            && let Some(result) = crate::subscriptions::outcome(state, request, intent_id).await?
        {
            return Ok(result);
        }
        return outcome_by_secret(state, request, intent_id, client_secret).await?.ok_or_else(not_found);
    };
    let intent = match state.payments.stripe.retrieve_payment_intent(intent_id).await {
        Ok(intent) => intent,
        // Deleted with the test data (or another account's key): nothing to tell.
        Err(error) if error.is_missing_object() => return Err(not_found()),
        Err(error) => return Err(AppError::from(error)),
    };
    let attempt = state
        .store
        .attempts(&order_id)
        .await?
        .into_iter()
        .find(|a| a.payment_intent_id.as_deref() == Some(intent_id.as_str()))
        .ok_or_else(not_found)?;
    match settle(state, locale, &attempt, &intent).await {
        Ok(_) | Err(AppError::Declined { .. }) => Ok(payment_result(&intent, locale, order_id, false)),
        Err(other) => Err(other),
    }
}

/// The status of a payment that is not this session's, to whoever holds its client
/// secret. A redirect can come back in another browser than the one that paid (a bank's
/// app opens `return_url` in the phone's default browser), without the shop's cookie;
/// Stripe puts the secret in `return_url` so that such a page can still say what became
/// of the payment. Nothing of the order is shown: its page stays the session's. Each
/// lookup is a call to Stripe, so it counts against a rate limit.
async fn outcome_by_secret(
    state: &AppState,
    request: &Request,
    intent_id: &PaymentIntentId,
    client_secret: Option<&str>,
) -> Result<Option<PaymentResult>, AppError> {
    use subtle::ConstantTimeEq;
    let secret_of_this_intent = |secret: &&str| secret.strip_prefix(intent_id.as_str()).is_some_and(|rest| rest.starts_with("_secret_"));
    let Some(secret) = client_secret.filter(secret_of_this_intent) else { return Ok(None) };
    crate::rate_limit::check_current(state, request, crate::rate_limit::PAYMENT_LOOKUP).await?;
    let intent = match state.payments.stripe.retrieve_payment_intent(intent_id).await {
        Ok(intent) => intent,
        Err(crate::stripe::Error::Api(api)) if api.status == 404 => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let known: bool = intent.client_secret.as_deref().is_some_and(|known| known.as_bytes().ct_eq(secret.as_bytes()).into());
    if !known {
        tracing::warn!(intent = %intent_id, "a payment's outcome was asked for with the wrong client secret");
        return Ok(None);
    }
    Ok(Some(payment_result(&intent, request.locale, String::new(), false)))
}

/// What a result page shows of `intent`: its status as Stripe names it, and why it
/// failed, in `locale`.
pub fn payment_result(intent: &PaymentIntent, locale: Locale, order_id: String, subscription: bool) -> PaymentResult {
    let failure = intent
        .last_payment_error
        .as_ref()
        .and_then(|f| f.message.as_deref().map(|m| locale.decline(f.decline_code.as_deref(), f.code.as_deref(), m)));
    let status = serde_json::to_value(&intent.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    PaymentResult { order_id, status, failure, subscription }
}

/// Asks Stripe again, under their own keys, about attempts whose answer never came
/// (the shopper may have left): the same recorded request returns what Stripe did the
/// first time, or does it now if it never arrived. Returns how many were resolved.
pub async fn resolve_unknown_attempts(state: &AppState, cutoff: i64) -> usize {
    let attempts = match state.store.unresolved_attempts(cutoff).await {
        Ok(attempts) => attempts,
        Err(error) => {
            tracing::error!(error = ?error, "cannot list payment attempts of unknown outcome");
            return 0;
        }
    };
    // Nobody reads the messages made here: the shop's language will do.
    let locale = state.config.store.default_locale;
    let mut resolved = 0;
    for attempt in attempts {
        let Some(body) = attempt.request_body.clone().map(FormBody::recorded) else { continue };
        match pay(state, locale, &attempt, &body).await {
            Err(AppError::PaymentUnknown { .. } | AppError::PaymentUnavailable) => {
                tracing::warn!(order = %attempt.order_id, "a payment's outcome is still unknown; will ask again");
                break;
            }
            result => {
                resolved += 1;
                tracing::info!(order = %attempt.order_id, attempt = attempt.number, ok = result.is_ok(), "resolved a payment of unknown outcome");
            }
        }
    }
    resolved
}

/// Abandons the payments still waiting for 3-D Secure or a redirect whose order has not
/// moved since `cutoff` (see [`abandon`]): the shopper left, and the stock they hold
/// goes back on sale. Returns how many were settled; stops at the first that Stripe
/// could not answer (the next round asks again).
pub async fn abandon_stale_authentications(state: &AppState, cutoff: i64) -> usize {
    let attempts = match state.store.abandoned_authentications(cutoff).await {
        Ok(attempts) => attempts,
        Err(error) => {
            tracing::error!(error = ?error, "cannot list payments waiting for authentication");
            return 0;
        }
    };
    let locale = state.config.store.default_locale;
    let mut settled = 0;
    for attempt in &attempts {
        match abandon(state, locale, attempt).await {
            Ok(()) => settled += 1,
            Err(error) => {
                tracing::warn!(?error, order = %attempt.order_id, "cannot cancel an abandoned payment yet; will try again");
                break;
            }
        }
    }
    settled
}
