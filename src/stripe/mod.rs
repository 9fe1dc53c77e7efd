//! A typed client for the Stripe API endpoints this flow uses (server only). It knows
//! nothing of the shop: form-encoded requests with bracket keys, a pinned
//! `Stripe-Version`, timeouts, retries exactly as Stripe's SDKs make them with the same
//! `Idempotency-Key` on every attempt, and an error that keeps everything Stripe said.

pub mod ids;
pub mod retry;
pub mod types;
pub mod webhook;

use crate::secret::Secret;
use ids::{
    ConfirmationTokenId, CustomerId, InvoiceId, PaymentIntentId, PaymentMethodId, SetupIntentId, SubscriptionId, SubscriptionItemId,
};
use reqwest::Method;
use serde::de::DeserializeOwned;
use std::time::Duration;
use types::{
    ConfirmPaymentIntent, ConfirmSetupIntent, ConfirmationToken, CreateAndConfirmSetupIntent, CreateCustomer, CreateCustomerSession,
    CreateProduct, CreateRefund, CreateSubscription, Customer, CustomerSession, ErrorBody, Invoice, List, PaymentIntent, PaymentMethod,
    PreferredLocale, Refund, SetupIntent, Subscription, WithLatestCharge,
};

/// The API version every request pins (the one Stripe's Node SDK 23 uses).
pub const API_VERSION: &str = "2026-10-28.endive";

/// An error Stripe replied with, as Stripe described it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    /// `card_error`, `invalid_request_error`, `api_error`, `idempotency_error`, …
    pub kind: String,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: String,
    pub param: Option<String>,
    pub request_id: Option<String>,
    /// The PaymentIntent a card error is about.
    pub payment_intent: Option<PaymentIntent>,
}

/// Why a Stripe call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Stripe replied {} {}: {}", .0.status, .0.kind, .0.message)]
    Api(Box<ApiError>),
    /// No reply after every retry: Stripe down, network cut, or too slow.
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
    #[error("Stripe's reply could not be read: {0}")]
    Decode(String),
    /// The request could not be encoded: nothing was sent.
    #[error("the request could not be encoded: {0}")]
    Encode(String),
}

impl Error {
    /// A card declined (or failed authentication): the shopper can fix it.
    pub fn card_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(error) if error.kind == "card_error" => Some(error),
            _ => None,
        }
    }

    /// Stripe has no such Customer as the request's `customer` names (deleted, in the
    /// Dashboard or with "Delete all test data").
    pub fn is_missing_customer(&self) -> bool {
        matches!(self, Error::Api(error) if error.code.as_deref() == Some("resource_missing") && error.param.as_deref() == Some("customer"))
    }

    /// Stripe has no such object as the request's path names (a 404; its `param`, if
    /// any, names the path's id).
    pub fn is_missing_object(&self) -> bool {
        matches!(self, Error::Api(error) if error.status == 404 && error.code.as_deref() == Some("resource_missing"))
    }

    /// Stripe is unavailable (no reply, 5xx, 429, or a conflict that retries did not
    /// resolve): nothing the shopper did wrong; safe to try again later.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Unreachable(_) => true,
            Error::Api(error) => error.status >= 500 || error.status == 429 || error.status == 409,
            Error::Decode(_) | Error::Encode(_) => false,
        }
    }

    /// Whether a request that would change something may have done so although this
    /// error came back: no reply (it may have been lost after Stripe acted), a reply
    /// that could not be read, a 5xx (Stripe documents the result of a 500 as
    /// indeterminate), or a 409 (a request with the same key still running). Only a
    /// retry under the same idempotency key, or a retrieve, tells what happened. A 4xx
    /// other than 409 means Stripe did nothing.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Error::Unreachable(_) | Error::Decode(_) => true,
            Error::Api(error) => error.status >= 500 || error.status == 409,
            Error::Encode(_) => false,
        }
    }

    /// The id of Stripe's log entry for the request, to quote to Stripe's support.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(error) => error.request_id.as_deref(),
            _ => None,
        }
    }
}

/// A form-encoded request body, as sent (and, for a payment, recorded to be sent again
/// byte for byte under the same idempotency key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormBody(String);

impl FormBody {
    pub fn encode<T: serde::Serialize>(params: &T) -> Result<FormBody, Error> {
        encode(params).map(FormBody)
    }

    /// A body recorded earlier by [`FormBody::encode`].
    pub fn recorded(body: String) -> FormBody {
        FormBody(body)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Where Stripe is and how to authenticate.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    api_base: String,
    secret_key: Secret,
    max_retries: u32,
    timeout: Duration,
}

impl Client {
    /// A client reused for the life of the process (it pools connections).
    pub fn new(api_base: &str, secret_key: Secret, timeout: Duration) -> Result<Client, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .user_agent(concat!("storefront/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client { http, api_base: api_base.trim_end_matches('/').to_owned(), secret_key, max_retries: 2, timeout })
    }

    /// The longest one request can take: each of its tries up to the timeout, and the
    /// longest waits between them.
    pub fn longest_request(&self) -> Duration {
        let waits: Duration = (0..self.max_retries).map(retry::longest_delay).sum();
        self.timeout * (self.max_retries + 1) + waits
    }

    /// Retrieve a ConfirmationToken, to inspect the payment method before charging.
    /// <https://docs.stripe.com/api/confirmation_tokens/retrieve>
    pub async fn retrieve_confirmation_token(&self, id: &ConfirmationTokenId) -> Result<ConfirmationToken, Error> {
        self.request(Method::GET, &format!("/v1/confirmation_tokens/{id}"), None, None).await
    }

    /// Create a PaymentIntent and confirm it with a ConfirmationToken, in one request:
    /// `body` is a [`types::CreateAndConfirmPaymentIntent`] as [`FormBody::encode`] made it.
    /// <https://docs.stripe.com/api/payment_intents/create>
    pub async fn create_and_confirm_payment_intent(&self, body: &FormBody, idempotency_key: &str) -> Result<PaymentIntent, Error> {
        self.request(Method::POST, "/v1/payment_intents", Some(body.0.clone()), Some(idempotency_key)).await
    }

    /// With its PaymentMethod expanded (what paid).
    /// <https://docs.stripe.com/api/payment_intents/retrieve>
    pub async fn retrieve_payment_intent(&self, id: &PaymentIntentId) -> Result<PaymentIntent, Error> {
        self.request(Method::GET, &format!("/v1/payment_intents/{id}?expand%5B0%5D=payment_method"), None, None).await
    }

    /// The address of the receipt of the PaymentIntent's latest charge, which Stripe
    /// keeps up to date with its refunds (`None` before any charge).
    /// <https://docs.stripe.com/api/charges/object#charge_object-receipt_url>
    pub async fn receipt_url(&self, id: &PaymentIntentId) -> Result<Option<String>, Error> {
        let intent: WithLatestCharge =
            self.request(Method::GET, &format!("/v1/payment_intents/{id}?expand%5B0%5D=latest_charge"), None, None).await?;
        Ok(intent.latest_charge.and_then(|charge| charge.receipt_url))
    }

    /// Cancel a PaymentIntent that is not finished. `reason`: its `cancellation_reason`,
    /// which the Dashboard shows (`abandoned`: the shopper left its authentication).
    /// <https://docs.stripe.com/api/payment_intents/cancel>
    pub async fn cancel_payment_intent(
        &self,
        id: &PaymentIntentId,
        reason: Option<&str>,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, Error> {
        let body = reason.map(|reason| format!("cancellation_reason={reason}")).unwrap_or_default();
        self.request(Method::POST, &format!("/v1/payment_intents/{id}/cancel"), Some(body), Some(idempotency_key)).await
    }

    /// Capture an authorised (manual capture) PaymentIntent: `amount_to_capture` of it
    /// (Stripe releases the rest), or all of it.
    /// <https://docs.stripe.com/api/payment_intents/capture>
    pub async fn capture_payment_intent(
        &self,
        id: &PaymentIntentId,
        amount_to_capture: Option<i64>,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, Error> {
        let body = amount_to_capture.map(|amount| format!("amount_to_capture={amount}")).unwrap_or_default();
        self.request(Method::POST, &format!("/v1/payment_intents/{id}/capture"), Some(body), Some(idempotency_key)).await
    }

    /// Confirm a PaymentIntent that Stripe made (a subscription's first invoice's).
    /// <https://docs.stripe.com/api/payment_intents/confirm>
    pub async fn confirm_payment_intent(
        &self,
        id: &PaymentIntentId,
        params: &ConfirmPaymentIntent<'_>,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, Error> {
        self.request(Method::POST, &format!("/v1/payment_intents/{id}/confirm"), Some(encode(params)?), Some(idempotency_key)).await
    }

    /// <https://docs.stripe.com/api/products/create>
    pub async fn create_product(&self, params: &CreateProduct<'_>, idempotency_key: &str) -> Result<serde_json::Value, Error> {
        self.request(Method::POST, "/v1/products", Some(encode(params)?), Some(idempotency_key)).await
    }

    /// <https://docs.stripe.com/api/subscriptions/create>
    pub async fn create_subscription(&self, params: &CreateSubscription<'_>, idempotency_key: &str) -> Result<Subscription, Error> {
        self.request(Method::POST, "/v1/subscriptions", Some(encode(params)?), Some(idempotency_key)).await
    }

    /// With its latest invoice and that invoice's payments expanded.
    /// <https://docs.stripe.com/api/subscriptions/retrieve>
    pub async fn retrieve_subscription(&self, id: &SubscriptionId) -> Result<Subscription, Error> {
        self.request(Method::GET, &format!("/v1/subscriptions/{id}?expand%5B0%5D=latest_invoice.payments"), None, None).await
    }

    /// Sets or clears `cancel_at_period_end` (the subscription ends when its period does).
    /// <https://docs.stripe.com/api/subscriptions/update>
    pub async fn set_cancel_at_period_end(&self, id: &SubscriptionId, cancel: bool, idempotency_key: &str) -> Result<Subscription, Error> {
        self.update_subscription(id, &format!("cancel_at_period_end={cancel}"), idempotency_key).await
    }

    /// Sets the quantity of the subscription's `item` from now on, without prorations:
    /// the next invoice bills the new quantity for the whole period, and nothing is
    /// charged or credited for the one under way.
    /// <https://docs.stripe.com/api/subscriptions/update>,
    /// <https://docs.stripe.com/billing/subscriptions/quantities>
    pub async fn set_subscription_quantity(
        &self,
        id: &SubscriptionId,
        item: &SubscriptionItemId,
        quantity: u32,
        idempotency_key: &str,
    ) -> Result<Subscription, Error> {
        let params = format!("items%5B0%5D%5Bid%5D={item}&items%5B0%5D%5Bquantity%5D={quantity}&proration_behavior=none");
        self.update_subscription(id, &params, idempotency_key).await
    }

    /// Charges the subscription's next invoices to `payment_method` (one of its
    /// customer's). <https://docs.stripe.com/api/subscriptions/update>
    pub async fn set_default_payment_method(
        &self,
        id: &SubscriptionId,
        payment_method: &PaymentMethodId,
        idempotency_key: &str,
    ) -> Result<Subscription, Error> {
        self.update_subscription(id, &format!("default_payment_method={payment_method}"), idempotency_key).await
    }

    /// Resumes a `paused` subscription: a new period starts now, its resumption invoice
    /// finalized at once, and the subscription stays `paused` until that invoice is paid.
    /// `on_success` (`resume_on_payment_success`): the request charges the invoice to the
    /// default payment method, and a decline leaves it paused, the invoice open.
    /// Otherwise (`resume_on_payment_attempt`) nothing is charged in the request: the
    /// invoice is for Pay invoice, and a declined attempt makes it `past_due`. The reply
    /// as `retrieve_subscription`'s.
    /// <https://docs.stripe.com/api/subscriptions/resume>,
    /// <https://docs.stripe.com/billing/subscriptions/pause> ("Payment behavior")
    pub async fn resume_subscription(&self, id: &SubscriptionId, on_success: bool, idempotency_key: &str) -> Result<Subscription, Error> {
        let behavior = if on_success { "resume_on_payment_success" } else { "resume_on_payment_attempt" };
        let body = format!("billing_cycle_anchor%5Btype%5D=now&payment_behavior={behavior}&expand%5B0%5D=latest_invoice.payments");
        self.request(Method::POST, &format!("/v1/subscriptions/{id}/resume"), Some(body), Some(idempotency_key)).await
    }

    /// `POST /v1/subscriptions/{id}` with `params` (form-encoded), the reply with its
    /// latest invoice and that invoice's payments expanded, as `retrieve_subscription`'s.
    async fn update_subscription(&self, id: &SubscriptionId, params: &str, idempotency_key: &str) -> Result<Subscription, Error> {
        let body = format!("{params}&expand%5B0%5D=latest_invoice.payments");
        self.request(Method::POST, &format!("/v1/subscriptions/{id}"), Some(body), Some(idempotency_key)).await
    }

    /// Charges an open invoice now to `payment_method`: off session (Stripe's default,
    /// as for a renewal), or with the customer present (`off_session=false`), who can
    /// then authenticate a payment that needs it.
    /// <https://docs.stripe.com/api/invoices/pay>
    pub async fn pay_invoice(
        &self,
        id: &InvoiceId,
        payment_method: &PaymentMethodId,
        off_session: bool,
        idempotency_key: &str,
    ) -> Result<Invoice, Error> {
        let body = format!("payment_method={payment_method}&off_session={off_session}&expand%5B0%5D=payments");
        self.request(Method::POST, &format!("/v1/invoices/{id}/pay"), Some(body), Some(idempotency_key)).await
    }

    /// Finalize a draft invoice (an `unpaid` subscription's renewal): open, with the
    /// PaymentIntent that pays it; not charged until paid. `auto_advance` is left as the
    /// invoice has it (off for those drafts: Stripe does not charge it by itself).
    /// <https://docs.stripe.com/api/invoices/finalize>
    pub async fn finalize_invoice(&self, id: &InvoiceId, idempotency_key: &str) -> Result<Invoice, Error> {
        self.request(Method::POST, &format!("/v1/invoices/{id}/finalize"), Some(String::new()), Some(idempotency_key)).await
    }

    /// Void an open invoice: nothing can pay it any more (Stripe cancels its
    /// PaymentIntent, `cancellation_reason=void_invoice`).
    /// <https://docs.stripe.com/api/invoices/void>
    pub async fn void_invoice(&self, id: &InvoiceId, idempotency_key: &str) -> Result<Invoice, Error> {
        self.request(Method::POST, &format!("/v1/invoices/{id}/void"), Some(String::new()), Some(idempotency_key)).await
    }

    /// Cancel a subscription now. (A DELETE: Stripe takes no idempotency key for it.)
    /// <https://docs.stripe.com/api/subscriptions/cancel>
    pub async fn cancel_subscription(&self, id: &SubscriptionId) -> Result<Subscription, Error> {
        self.request(Method::DELETE, &format!("/v1/subscriptions/{id}"), None, None).await
    }

    /// With its payments expanded (the PaymentIntent that paid it).
    /// <https://docs.stripe.com/api/invoices/retrieve>
    pub async fn retrieve_invoice(&self, id: &InvoiceId) -> Result<Invoice, Error> {
        self.request(Method::GET, &format!("/v1/invoices/{id}?expand%5B0%5D=payments"), None, None).await
    }

    /// Refund part or all of a PaymentIntent's charge.
    /// <https://docs.stripe.com/api/refunds/create>
    pub async fn create_refund(&self, params: &CreateRefund<'_>, idempotency_key: &str) -> Result<Refund, Error> {
        self.request(Method::POST, "/v1/refunds", Some(encode(params)?), Some(idempotency_key)).await
    }

    /// A PaymentIntent's refunds, newest first (the first 100).
    /// <https://docs.stripe.com/api/refunds/list>
    pub async fn list_refunds(&self, payment_intent: &PaymentIntentId) -> Result<List<Refund>, Error> {
        self.request(Method::GET, &format!("/v1/refunds?payment_intent={payment_intent}&limit=100"), None, None).await
    }

    /// <https://docs.stripe.com/api/customers/create>
    pub async fn create_customer(&self, params: &CreateCustomer<'_>, idempotency_key: &str) -> Result<Customer, Error> {
        self.request(Method::POST, "/v1/customers", Some(encode(params)?), Some(idempotency_key)).await
    }

    /// Tells Stripe the language `customer` prefers from now on (`preferred_locales`,
    /// replacing the list). An update carries no state of its own: a random
    /// idempotency key (one per call, the same on its retries) is enough.
    /// <https://docs.stripe.com/api/customers/update>
    pub async fn set_preferred_locale(&self, customer: &CustomerId, locale: &str) -> Result<Customer, Error> {
        let params = PreferredLocale { preferred_locales: [locale] };
        self.request(Method::POST, &format!("/v1/customers/{customer}"), Some(encode(&params)?), None).await
    }

    /// <https://docs.stripe.com/api/customer_sessions/create>
    pub async fn create_customer_session(&self, params: &CreateCustomerSession<'_>) -> Result<CustomerSession, Error> {
        self.request(Method::POST, "/v1/customer_sessions", Some(encode(params)?), None).await
    }

    /// Create a SetupIntent and confirm it with a ConfirmationToken, in one request.
    /// <https://docs.stripe.com/api/setup_intents/create>
    pub async fn create_and_confirm_setup_intent(
        &self,
        params: &CreateAndConfirmSetupIntent<'_>,
        idempotency_key: &str,
    ) -> Result<SetupIntent, Error> {
        self.request(Method::POST, "/v1/setup_intents", Some(encode(params)?), Some(idempotency_key)).await
    }

    /// Confirm a SetupIntent (a subscription's pending one) with a ConfirmationToken.
    /// <https://docs.stripe.com/api/setup_intents/confirm>
    pub async fn confirm_setup_intent(
        &self,
        id: &SetupIntentId,
        params: &ConfirmSetupIntent<'_>,
        idempotency_key: &str,
    ) -> Result<SetupIntent, Error> {
        self.request(Method::POST, &format!("/v1/setup_intents/{id}/confirm"), Some(encode(params)?), Some(idempotency_key)).await
    }

    /// <https://docs.stripe.com/api/setup_intents/retrieve>
    pub async fn retrieve_setup_intent(&self, id: &SetupIntentId) -> Result<SetupIntent, Error> {
        self.request(Method::GET, &format!("/v1/setup_intents/{id}"), None, None).await
    }

    /// A customer's saved card payment methods (first 100).
    /// <https://docs.stripe.com/api/payment_methods/customer_list>
    pub async fn list_customer_payment_methods(&self, customer: &CustomerId) -> Result<List<PaymentMethod>, Error> {
        self.request(Method::GET, &format!("/v1/customers/{customer}/payment_methods?type=card&limit=100"), None, None).await
    }

    /// <https://docs.stripe.com/api/payment_methods/retrieve>
    pub async fn retrieve_payment_method(&self, id: &PaymentMethodId) -> Result<PaymentMethod, Error> {
        self.request(Method::GET, &format!("/v1/payment_methods/{id}"), None, None).await
    }

    /// <https://docs.stripe.com/api/payment_methods/detach>
    pub async fn detach_payment_method(&self, id: &PaymentMethodId) -> Result<PaymentMethod, Error> {
        self.request(Method::POST, &format!("/v1/payment_methods/{id}/detach"), Some(String::new()), None).await
    }

    /// One API call, with retries; POSTs always carry an idempotency key (a random one
    /// when the caller has none), the same on every attempt.
    async fn request<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        idempotency_key: Option<&str>,
    ) -> Result<T, Error> {
        let generated;
        let key = match idempotency_key {
            Some(key) => Some(key),
            None if method == Method::POST => {
                generated = format!("storefront-{}", uuid_like());
                Some(generated.as_str())
            }
            None => None,
        };
        let mut retries = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.api_base))
                .bearer_auth(self.secret_key.expose())
                .header("Stripe-Version", API_VERSION);
            if let Some(key) = key {
                request = request.header("Idempotency-Key", key);
            }
            if let Some(body) = &body {
                request = request.header("Content-Type", "application/x-www-form-urlencoded").body(body.clone());
            }
            let (outcome, result) = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let should_retry = response.headers().get("stripe-should-retry").and_then(|v| v.to_str().ok()).map(|v| v == "true");
                    let request_id = response.headers().get("request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    let outcome = retry::Outcome::Reply { status, should_retry };
                    match response.bytes().await {
                        Ok(bytes) => (outcome, decode(status, request_id, &bytes)),
                        // The connection broke while the body was read: no reply.
                        Err(error) => (retry::Outcome::NoReply, Err(Error::Unreachable(error.to_string()))),
                    }
                }
                Err(error) => (retry::Outcome::NoReply, Err(Error::Unreachable(without_url(&error)))),
            };
            if result.is_ok() {
                return result;
            }
            match retry::next_delay(outcome, retries, self.max_retries, rand::random::<f64>()) {
                Some(delay) => {
                    tracing::warn!(path, retries, ?outcome, "retrying a Stripe request");
                    tokio::time::sleep(delay).await;
                    retries += 1;
                }
                None => return result,
            }
        }
    }
}

fn decode<T: DeserializeOwned>(status: u16, request_id: Option<String>, bytes: &[u8]) -> Result<T, Error> {
    if (200..300).contains(&status) {
        return serde_json::from_slice(bytes).map_err(|error| Error::Decode(error.to_string()));
    }
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => Err(Error::Api(Box::new(ApiError {
            status,
            kind: body.error.kind,
            code: body.error.code,
            decline_code: body.error.decline_code,
            message: body.error.message.unwrap_or_default(),
            param: body.error.param,
            request_id,
            payment_intent: body.error.payment_intent,
        }))),
        Err(_) => Err(Error::Api(Box::new(ApiError {
            status,
            kind: "api_error".into(),
            code: None,
            decline_code: None,
            message: format!("HTTP {status} without a Stripe error body"),
            param: None,
            request_id,
            payment_intent: None,
        }))),
    }
}

/// Form encoding with Stripe's bracket keys (`metadata[order_id]=…`).
fn encode<T: serde::Serialize>(params: &T) -> Result<String, Error> {
    serde_qs::to_string(params).map_err(|error| Error::Encode(error.to_string()))
}

/// reqwest's error text includes the URL; keep only the cause.
fn without_url(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "connection refused or reset".into()
    } else {
        let mut error = std::error::Error::source(error).map_or_else(|| "request failed".to_owned(), ToString::to_string);
        error.truncate(200);
        error
    }
}

fn uuid_like() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ids::ConfirmationTokenId;
    use std::collections::BTreeMap;
    use types::*;

    /// The form body `params` encode to, as (key, value) pairs in order.
    fn decoded(params: &impl serde::Serialize) -> Vec<(String, String)> {
        url::form_urlencoded::parse(encode(params).unwrap().as_bytes()).into_owned().collect()
    }

    fn field<'a>(decoded: &'a [(String, String)], key: &str) -> Option<&'a str> {
        decoded.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_longest_request_is_every_try_timed_out_and_the_longest_waits_between() {
        let client = Client::new("http://127.0.0.1:1", Secret::new("sk_test_x"), Duration::from_secs(20)).unwrap();
        // Three tries of 20 s; 0.5 s, then 1 s between them.
        assert_eq!(client.longest_request(), Duration::from_millis(61_500));
    }

    #[test]
    fn parameters_are_form_encoded_with_bracket_keys() {
        let token = ConfirmationTokenId::parse("ctoken_123").unwrap();
        let params = CreateAndConfirmPaymentIntent {
            amount: 4250,
            currency: "eur",
            confirm: true,
            paid_with: PaidWith::ConfirmationToken { confirmation_token: &token },
            methods: PaymentMethodChoice::Dashboard { automatic_payment_methods: AutomaticPaymentMethods { enabled: true } },
            return_url: "http://127.0.0.1:3000/checkout/complete",
            metadata: [("order_id", "ord_1")].into_iter().collect(),
            customer: None,
            capture_method: None,
            setup_future_usage: None,
            payment_method_options: None,
            shipping: None,
            receipt_email: None,
            expand: ["payment_method"],
        };
        let decoded = decoded(&params);
        let get = |key: &str| field(&decoded, key);
        assert_eq!(get("expand[0]"), Some("payment_method"));
        assert_eq!(get("amount"), Some("4250"));
        assert_eq!(get("confirm"), Some("true"));
        assert_eq!(get("automatic_payment_methods[enabled]"), Some("true"));
        assert_eq!(get("metadata[order_id]"), Some("ord_1"));
        assert_eq!(get("return_url"), Some("http://127.0.0.1:3000/checkout/complete"));
        assert_eq!(get("confirmation_token"), Some("ctoken_123"));
        assert_eq!(get("customer"), None);
        assert_eq!(get("payment_method_options[card][require_cvc_recollection]"), None);
        assert_eq!((get("capture_method"), get("setup_future_usage"), get("allowed_payment_method_types[0]")), (None, None, None));
    }

    #[test]
    fn an_explicit_method_list_replaces_automatic_payment_methods() {
        let token = ConfirmationTokenId::parse("ctoken_123").unwrap();
        let types = ["card".to_owned(), "sepa_debit".to_owned()];
        let params = CreateAndConfirmPaymentIntent {
            amount: 4250,
            currency: "eur",
            confirm: true,
            paid_with: PaidWith::ConfirmationToken { confirmation_token: &token },
            methods: PaymentMethodChoice::Listed { allowed_payment_method_types: &types },
            return_url: "http://127.0.0.1:3000/checkout/complete",
            metadata: BTreeMap::new(),
            customer: None,
            capture_method: Some("manual"),
            setup_future_usage: Some("off_session"),
            payment_method_options: None,
            shipping: None,
            receipt_email: None,
            expand: ["payment_method"],
        };
        let decoded = decoded(&params);
        let get = |key: &str| field(&decoded, key);
        assert_eq!(get("allowed_payment_method_types[0]"), Some("card"));
        assert_eq!(get("allowed_payment_method_types[1]"), Some("sepa_debit"));
        assert_eq!(get("automatic_payment_methods[enabled]"), None);
        assert_eq!(get("capture_method"), Some("manual"));
        assert_eq!(get("setup_future_usage"), Some("off_session"));
    }

    #[test]
    fn the_legacy_path_sends_the_payment_method_use_stripe_sdk_and_mandate_data() {
        let method = ids::PaymentMethodId::parse("pm_123").unwrap();
        let customer = ids::CustomerId::parse("cus_9").unwrap();
        let params = CreateAndConfirmPaymentIntent {
            amount: 1800,
            currency: "eur",
            confirm: true,
            paid_with: PaidWith::PaymentMethod {
                payment_method: &method,
                use_stripe_sdk: true,
                mandate_data: MandateData {
                    customer_acceptance: CustomerAcceptance {
                        kind: "online",
                        online: OnlineAcceptance { ip_address: "127.0.0.1", user_agent: "Mozilla/5.0 (X11)" },
                    },
                },
            },
            methods: PaymentMethodChoice::Dashboard { automatic_payment_methods: AutomaticPaymentMethods { enabled: true } },
            return_url: "http://127.0.0.1:3000/checkout/complete",
            metadata: BTreeMap::new(),
            customer: Some(&customer),
            capture_method: None,
            setup_future_usage: None,
            payment_method_options: Some(PaymentMethodOptions { card: CardOptions { require_cvc_recollection: true } }),
            shipping: Some(&Shipping {
                name: "Ada Lovelace".into(),
                phone: None,
                address: Address {
                    line1: Some("1 Rue de Rivoli".into()),
                    city: Some("Paris".into()),
                    country: Some("FR".into()),
                    ..Address::default()
                },
            }),
            receipt_email: Some("jenny@example.com"),
            expand: ["payment_method"],
        };
        let decoded = decoded(&params);
        let get = |key: &str| field(&decoded, key);
        assert_eq!(get("payment_method"), Some("pm_123"));
        assert_eq!(get("use_stripe_sdk"), Some("true"));
        assert_eq!(get("mandate_data[customer_acceptance][type]"), Some("online"));
        assert_eq!(get("mandate_data[customer_acceptance][online][ip_address]"), Some("127.0.0.1"));
        assert_eq!(get("mandate_data[customer_acceptance][online][user_agent]"), Some("Mozilla/5.0 (X11)"));
        assert_eq!(get("customer"), Some("cus_9"));
        assert_eq!(get("shipping[name]"), Some("Ada Lovelace"));
        assert_eq!(get("shipping[address][line1]"), Some("1 Rue de Rivoli"));
        assert_eq!(get("shipping[address][country]"), Some("FR"));
        assert_eq!(get("shipping[address][line2]"), None);
        assert_eq!(get("receipt_email"), Some("jenny@example.com"));
        assert_eq!(get("payment_method_options[card][require_cvc_recollection]"), Some("true"));
        assert_eq!(get("confirmation_token"), None);
    }

    #[test]
    fn stripe_errors_keep_type_code_decline_code_param_and_request_id() {
        let body = br#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",
            "message":"Your card has insufficient funds.","param":null,
            "payment_intent":{"id":"pi_1","status":"requires_payment_method","amount":100,"currency":"eur","client_secret":"pi_1_secret_x"}}}"#;
        let error = decode::<PaymentIntent>(402, Some("req_1".into()), body).unwrap_err();
        let card = error.card_error().unwrap();
        assert_eq!(card.decline_code.as_deref(), Some("insufficient_funds"));
        assert_eq!(card.request_id.as_deref(), Some("req_1"));
        assert_eq!(card.payment_intent.as_ref().unwrap().id.as_str(), "pi_1");
        assert!(!error.is_unavailable());
    }

    #[test]
    fn a_non_json_error_body_is_still_an_error_with_its_status() {
        let error = decode::<PaymentIntent>(502, None, b"<html>Bad gateway</html>").unwrap_err();
        assert!(error.is_unavailable());
    }

    proptest::proptest! {
        /// Whatever a shopper's data holds (unicode, `&`, `=`, brackets, newlines), the
        /// form body decodes back to exactly the values sent, under Stripe's bracket keys.
        #[test]
        fn any_metadata_and_url_survive_form_encoding(value in "\\PC{0,40}", url_tail in "[a-zA-Z0-9/?&=%#\\[\\] ]{0,30}", amount in 1i64..=99_999_999) {
            let token = ConfirmationTokenId::parse("ctoken_123").unwrap();
            let return_url = format!("https://shop.example/checkout/complete{url_tail}");
            let params = CreateAndConfirmPaymentIntent {
                amount,
                currency: "eur",
                confirm: true,
                paid_with: PaidWith::ConfirmationToken { confirmation_token: &token },
                methods: PaymentMethodChoice::Dashboard { automatic_payment_methods: AutomaticPaymentMethods { enabled: true } },
                return_url: &return_url,
                metadata: [("order_id", "ord_1"), ("note", value.as_str())].into_iter().collect(),
                customer: None,
                capture_method: None,
                setup_future_usage: None,
                payment_method_options: None,
                shipping: None,
                receipt_email: None,
                expand: ["payment_method"],
            };
            let decoded = decoded(&params);
            let get = |key: &str| field(&decoded, key).map(str::to_owned);
            proptest::prop_assert_eq!(get("metadata[note]"), Some(value.clone()));
            proptest::prop_assert_eq!(get("return_url"), Some(return_url.clone()));
            proptest::prop_assert_eq!(get("amount"), Some(amount.to_string()));
            proptest::prop_assert_eq!(decoded.iter().filter(|(k, _)| k == "metadata[note]").count(), 1);
        }
    }
}
