//! The server build's twin of the browser bindings: the same API, doing nothing (pages
//! only touch Stripe.js inside effects, which run in the browser).

use super::{AddressElementOptions, ChangeEvent, ConfirmationTokenParams, ElementsOptions, PaymentElementOptions, StripeJsError};
use leptos::web_sys::Element;
use std::future::Future;

fn not_in_browser() -> StripeJsError {
    StripeJsError::new("integration_error", "Stripe.js runs only in the browser")
}

#[derive(Clone)]
pub struct Stripe;

impl Stripe {
    pub fn new(_publishable_key: &str) -> Result<Stripe, StripeJsError> {
        Err(not_in_browser())
    }

    pub fn elements(&self, _options: &ElementsOptions) -> Result<Elements, StripeJsError> {
        Err(not_in_browser())
    }

    pub async fn create_confirmation_token(
        &self,
        _elements: &Elements,
        _params: &ConfirmationTokenParams,
    ) -> Result<String, StripeJsError> {
        Err(not_in_browser())
    }

    pub async fn create_payment_method(&self, _elements: &Elements) -> Result<String, StripeJsError> {
        Err(not_in_browser())
    }

    pub async fn handle_next_action(&self, _client_secret: &str) -> Result<String, StripeJsError> {
        Err(not_in_browser())
    }
}

#[derive(Clone)]
pub struct Elements;

impl Elements {
    pub fn create_payment_element(&self, _options: &PaymentElementOptions) -> Result<PaymentElement, StripeJsError> {
        Err(not_in_browser())
    }

    pub fn create_address_element(&self, _options: &AddressElementOptions, _target: &Element) -> Result<AddressElement, StripeJsError> {
        Err(not_in_browser())
    }

    pub fn update_amount(&self, _amount: i64) {}

    pub fn update_appearance(&self, _appearance: &crate::stripe_js::Appearance) {}

    pub fn submit(&self) -> impl Future<Output = Result<(), StripeJsError>> + use<> {
        async { Err(not_in_browser()) }
    }

    pub fn clear_payment_element(&self) {}
}

pub struct AddressElement;

impl AddressElement {
    pub fn value(&self) -> impl Future<Output = Result<Option<super::AddressValue>, StripeJsError>> + use<> {
        std::future::ready(Err(not_in_browser()))
    }
}

pub struct PaymentElement;

impl PaymentElement {
    pub fn mount(&self, _target: &Element) -> Result<(), StripeJsError> {
        Err(not_in_browser())
    }

    pub fn on_ready(&self, _handler: impl FnMut() + 'static) -> Listener {
        Listener
    }

    pub fn on_change(&self, _handler: impl FnMut(ChangeEvent) + 'static) -> Listener {
        Listener
    }

    pub fn on_load_error(&self, _handler: impl FnMut(StripeJsError) + 'static) -> Listener {
        Listener
    }
}

#[must_use = "dropping a Listener removes it at once"]
pub struct Listener;

/// No page on the server.
pub fn element_by_id(_id: &str) -> Option<Element> {
    None
}

/// No form fields on the server.
pub fn input_value(_id: &str) -> Option<String> {
    None
}

/// The browser's preferred colour scheme: unknown on the server (light).
pub fn prefers_dark_scheme() -> bool {
    false
}

/// No colour scheme changes on the server.
pub fn on_color_scheme_change(_changed: impl Fn() + 'static) {}

pub async fn wait(_ms: i32) {}
