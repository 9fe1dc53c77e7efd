//! Account types that cross the wire, and the account's server functions. Who the
//! shopper is comes only from the session cookie; the Stripe Customer is never named
//! by the browser.

use crate::error::AppError;
use crate::money::Money;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in shopper, as their pages show them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub email: String,
    pub orders: Vec<AccountOrder>,
}

/// One of the account's orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOrder {
    pub id: String,
    pub status: String,
    pub total: Money,
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

/// A card brand code as shoppers read it.
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
            chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_else(|| "Card".into())
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

/// The signed-in shopper, or `None` for a guest.
#[server(endpoint = "account/summary")]
pub async fn get_account() -> Result<Option<AccountSummary>, AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::summary(&state, &request).await
}

/// Creates an account and signs in to it (the guest cart carries over).
#[server(endpoint = "account/sign-up")]
pub async fn sign_up(email: String, password: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::sign_up(&state, &request, &email, &password).await
}

/// Signs in (the guest cart carries over). A wrong email and a wrong password get the
/// same answer; repeated failures are refused for a while (per account and per address).
#[server(endpoint = "account/sign-in")]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::sign_in(&state, &request, &email, &password).await
}

#[server(endpoint = "account/sign-out")]
pub async fn sign_out() -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::sign_out(&state, &request).await
}

/// The signed-in shopper's saved cards.
#[server(endpoint = "account/payment-methods")]
pub async fn saved_payment_methods() -> Result<Vec<SavedMethod>, AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::saved_methods(&state, &request).await
}

/// Removes (detaches) one of the signed-in shopper's saved cards; anyone else's id is
/// refused as not found.
#[server(endpoint = "account/remove-payment-method")]
pub async fn remove_payment_method(payment_method: String) -> Result<(), AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::remove_method(&state, &request, payment_method.trim()).await
}

#[server(endpoint = "account/card-setup")]
pub async fn get_card_setup() -> Result<CardSetupView, AppError> {
    let (state, request) = crate::request::edge()?;
    super::service::card_setup(&state, &request).await
}

/// Saves a card for the signed-in shopper: creates and confirms a SetupIntent for
/// their Customer from a ConfirmationToken made in `setup` mode.
#[server(endpoint = "account/confirm-setup")]
pub async fn confirm_card_setup(confirmation_token: String) -> Result<SetupReply, AppError> {
    let (state, request) = crate::request::edge()?;
    let token = crate::stripe::ids::ConfirmationTokenId::parse(confirmation_token.trim())
        .map_err(|_| AppError::invalid(request.texts().card_details_garbled))?;
    super::service::confirm_setup(&state, &request, &token).await
}
