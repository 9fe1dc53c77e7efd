//! The account's server functions. Who the shopper is comes only from the session
//! cookie; the Stripe Customer is never named by the browser.

use super::{AccountSummary, CardSetupView, SavedMethod, SetupReply};
use crate::error::AppError;
use leptos::prelude::*;

/// The signed-in shopper, or `None` for a guest.
#[server(endpoint = "account/summary", output = crate::error::JsonReply)]
pub async fn get_account() -> Result<Option<AccountSummary>, AppError> {
    let (state, request) = crate::request::edge()?;
    let account = super::service::current_account(&state, &request).await?;
    super::service::summary(&state, request.locale, account, None).await
}

/// Creates an account and signs in to it (the guest cart carries over).
#[server(endpoint = "account/sign-up", output = crate::error::JsonReply)]
pub async fn sign_up(email: String, password: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::sign_up(&state, &request, &email, &password).await.inspect_err(|_| super::keep_typed_email(&request, &email))
}

/// Signs in (the guest cart carries over). A wrong email and a wrong password get the
/// same answer; repeated failures are refused for a while (per account and per address).
#[server(endpoint = "account/sign-in", output = crate::error::JsonReply)]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::sign_in(&state, &request, &email, &password).await.inspect_err(|_| super::keep_typed_email(&request, &email))
}

#[server(endpoint = "account/sign-out", output = crate::error::JsonReply)]
pub async fn sign_out() -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::sign_out(&state, &request).await
}

/// The signed-in shopper's saved cards.
#[server(endpoint = "account/payment-methods", output = crate::error::JsonReply)]
pub async fn saved_payment_methods() -> Result<Vec<SavedMethod>, AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::saved_methods(&state, &request).await
}

/// Removes (detaches) one of the signed-in shopper's saved cards; anyone else's id is
/// refused as not found.
#[server(endpoint = "account/remove-payment-method", output = crate::error::JsonReply)]
pub async fn remove_payment_method(payment_method: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::remove_method(&state, &request, payment_method.trim()).await
}

#[server(endpoint = "account/card-setup", output = crate::error::JsonReply)]
pub async fn get_card_setup() -> Result<CardSetupView, AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::card_setup(&state, &request).await
}

/// Saves a card for the signed-in shopper: creates and confirms a SetupIntent for
/// their Customer from a ConfirmationToken made in `setup` mode.
#[server(endpoint = "account/confirm-setup", output = crate::error::JsonReply)]
pub async fn confirm_card_setup(confirmation_token: String) -> Result<SetupReply, AppError> {
    let (state, request) = crate::request::edge()?;
    let token = crate::stripe::ids::ConfirmationTokenId::parse(confirmation_token.trim())
        .map_err(|_| AppError::invalid(request.texts().card_details_garbled()))?;
    super::service::confirm_setup(&state, &request, &token).await
}
