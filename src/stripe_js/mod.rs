//! Stripe.js for the checkout page: typed Rust over `Stripe`, `Elements`, the Payment
//! Element and its events, `elements.submit`, `createConfirmationToken` and
//! `handleNextAction` (<https://docs.stripe.com/js>). Stripe.js itself is loaded by a
//! `<script>` in the document head, never bundled. In the browser build the bindings
//! are real (`browser.rs`); in the server build a twin with the same API does nothing,
//! so call sites need no `cfg`.

use serde::Serialize;

/// Where a page keeps Stripe.js objects: thread-local in the browser (JS values are not
/// `Send`); ordinary storage on the server, where the twin's values are `Send` and a page
/// render may finish (and be dropped) on another thread than it started on.
#[cfg(feature = "hydrate")]
pub type Storage = leptos::prelude::LocalStorage;
#[cfg(not(feature = "hydrate"))]
pub type Storage = leptos::prelude::SyncStorage;

#[cfg(feature = "hydrate")]
mod browser;
#[cfg(feature = "hydrate")]
pub use browser::*;

#[cfg(not(feature = "hydrate"))]
mod server;
#[cfg(not(feature = "hydrate"))]
pub use server::*;

/// `stripe.elements(options)` for a deferred intent.
/// <https://docs.stripe.com/js/elements_object/create_without_intent>
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ElementsOptions {
    /// `payment` or `setup`.
    pub mode: String,
    /// Required in `payment` mode; absent in `setup` mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    pub currency: String,
    pub appearance: Appearance,
    /// The page's language (`en`, `fr`), so that Stripe's fields and messages match it.
    pub locale: String,
    /// Shows a signed-in shopper's saved payment methods (and the save box).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_session_client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method_options: Option<ElementsPaymentMethodOptions>,
    /// `manual` for the legacy `createPaymentMethod` path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method_creation: Option<String>,
    /// `manual`: only methods that can be captured later are offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_method: Option<String>,
    /// `on_session` / `off_session`: the payment method is kept for later payments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_future_usage: Option<String>,
    /// An explicit list instead of the methods enabled in the Dashboard (Stripe.js
    /// `endive` has no `paymentMethodTypes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_payment_method_types: Option<Vec<String>>,
}

/// `paymentMethodOptions` of `stripe.elements`.
#[derive(Debug, Clone, Serialize)]
pub struct ElementsPaymentMethodOptions {
    pub card: ElementsCardOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct ElementsCardOptions {
    /// Collect the CVC again for a saved card (the intent must ask for it too).
    pub require_cvc_recollection: bool,
}

/// <https://docs.stripe.com/elements/appearance-api>
#[derive(Debug, Clone, Serialize)]
pub struct Appearance {
    pub theme: &'static str,
    pub variables: AppearanceVariables,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppearanceVariables {
    pub color_primary: &'static str,
    pub color_background: &'static str,
    pub color_text: &'static str,
    pub color_text_secondary: &'static str,
    pub color_danger: &'static str,
    pub font_family: &'static str,
    pub border_radius: &'static str,
}

/// `elements.create('payment', options)`.
/// <https://docs.stripe.com/js/elements_object/create_payment_element>
#[derive(Debug, Clone, Serialize)]
pub struct PaymentElementOptions {
    /// `accordion` or `tabs`.
    pub layout: String,
}

/// The Address Element's value (`addressElement.getValue()`, `value`).
/// <https://docs.stripe.com/js/elements_object/get_value_address_element>
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct AddressValue {
    pub name: String,
    #[serde(default)]
    pub phone: Option<String>,
    pub address: AddressFields,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct AddressFields {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

/// `elements.create('address', options)`; in `shipping` mode its address becomes the
/// ConfirmationToken's `shipping`. <https://docs.stripe.com/js/elements_object/create_address_element>
#[derive(Debug, Clone, Serialize)]
pub struct AddressElementOptions {
    pub mode: String,
    /// `defaultValues` (`{name, address: {line1, …}}`), as JSON text.
    #[serde(skip)]
    pub default_values: Option<String>,
}

/// `stripe.createConfirmationToken({elements, params})`'s `params`.
/// <https://docs.stripe.com/js/confirmation_tokens/create_confirmation_token>
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmationTokenParams {
    pub return_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method_data: Option<PaymentMethodData>,
}

/// `params.payment_method_data` of `createConfirmationToken`.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentMethodData {
    /// `always`: the saved method may be shown to its customer again (setup mode has no
    /// save box, so the page says so).
    pub allow_redisplay: String,
}

/// An error as Stripe.js reports it (`{error: {type, code, message}}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StripeJsError {
    /// `validation_error`, `card_error`, `invalid_request_error`, `api_connection_error`, …
    pub kind: String,
    pub code: Option<String>,
    pub message: String,
}

impl StripeJsError {
    /// `code` when Stripe.js itself is not on the page (blocked, offline).
    pub const UNAVAILABLE: &str = "stripe_js_unavailable";

    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Self { kind: kind.to_owned(), code: None, message: message.into() }
    }

    /// What the shopper reads: Stripe.js' own message (in the language Elements was
    /// given), or the shop's when Stripe.js never loaded.
    pub fn message_in(self, locale: crate::i18n::Locale) -> String {
        match self.code.as_deref() {
            Some(Self::UNAVAILABLE) => locale.texts().form_unavailable().to_owned(),
            _ => self.message,
        }
    }
}

/// The Payment Element's `change` event.
/// <https://docs.stripe.com/js/element/events/on_change?type=paymentElement>
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeEvent {
    pub complete: bool,
    pub empty: bool,
    /// The payment method type shown (`card`, …).
    pub value_type: Option<String>,
    /// Set when the shopper picked a saved payment method.
    pub saved_payment_method: Option<String>,
}
