//! The Stripe objects and parameters this flow uses. Request structs borrow; response
//! structs hold only the fields the storefront reads (serde ignores the rest).

use super::ids::{
    ConfirmationTokenId, CustomerId, InvoiceId, PaymentIntentId, PaymentMethodId, SetupIntentId, SubscriptionId, SubscriptionItemId,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// PaymentIntent statuses; `Other` keeps the flow working if Stripe adds one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentIntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
    #[serde(other)]
    Other,
}

/// <https://docs.stripe.com/api/payment_intents/object>
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: PaymentIntentId,
    pub status: PaymentIntentStatus,
    pub amount: i64,
    /// What was captured (less than `amount` after a partial capture).
    #[serde(default)]
    pub amount_received: i64,
    pub currency: String,
    pub client_secret: Option<String>,
    pub customer: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub last_payment_error: Option<LastPaymentError>,
    pub next_action: Option<NextAction>,
    /// An id, or the object when the request expanded it.
    pub payment_method: Option<Expandable<PaymentMethod>>,
    pub shipping: Option<Shipping>,
}

/// A PaymentIntent retrieved for its charge alone (`expand[]=latest_charge`).
#[derive(Debug, Clone, Deserialize)]
pub struct WithLatestCharge {
    pub latest_charge: Option<Charge>,
}

/// <https://docs.stripe.com/api/charges/object>: what the shop reads of one.
#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    /// Stripe's receipt page for it, kept up to date with its refunds.
    pub receipt_url: Option<String>,
}

/// A field Stripe sends as an id, or as the object when asked to `expand` it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

/// <https://docs.stripe.com/api/payment_intents/object#payment_intent_object-shipping>
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Shipping {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub address: Address,
}

/// <https://docs.stripe.com/api/payment_intents/object#payment_intent_object-shipping-address>
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// <https://docs.stripe.com/api/payment_intents/object#payment_intent_object-last_payment_error>
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LastPaymentError {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
}

/// <https://docs.stripe.com/api/payment_intents/object#payment_intent_object-next_action>
#[derive(Debug, Clone, Deserialize)]
pub struct NextAction {
    #[serde(rename = "type")]
    pub kind: String,
}

impl NextAction {
    /// The shopper is asked to authenticate now, in the page or at their bank: 3-D
    /// Secure (`use_stripe_sdk`) or a redirect (`redirect_to_url`). The other kinds wait
    /// days for the customer (a voucher to pay in a shop, a bank transfer's
    /// instructions, micro-deposits to verify) and expire on Stripe's schedule.
    pub fn is_authentication(&self) -> bool {
        matches!(self.kind.as_str(), "use_stripe_sdk" | "redirect_to_url")
    }
}

/// <https://docs.stripe.com/api/confirmation_tokens/object>
#[derive(Debug, Clone, Deserialize)]
pub struct ConfirmationToken {
    pub id: ConfirmationTokenId,
    pub payment_method_preview: Option<PaymentMethodPreview>,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethodPreview {
    #[serde(rename = "type")]
    pub kind: String,
    pub card: Option<CardPreview>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CardPreview {
    pub brand: Option<String>,
    pub funding: Option<String>,
    pub country: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<u8>,
    pub exp_year: Option<u16>,
}

/// <https://docs.stripe.com/api/payment_methods/object>
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethod {
    pub id: PaymentMethodId,
    pub customer: Option<CustomerId>,
    #[serde(rename = "type")]
    pub kind: String,
    pub card: Option<CardPreview>,
    pub allow_redisplay: Option<String>,
}

/// <https://docs.stripe.com/api/customers/object>
#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    pub id: CustomerId,
    pub email: Option<String>,
}

/// <https://docs.stripe.com/api/customers/create>
#[derive(Debug, Clone, Serialize)]
pub struct CreateCustomer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    /// The shopper's language (`en`, `fr`): Stripe's receipts, invoices and their pages
    /// for this Customer are written in it.
    pub preferred_locales: [&'a str; 1],
    pub metadata: BTreeMap<&'a str, &'a str>,
}

/// A Customer's language, changed: <https://docs.stripe.com/api/customers/update>
#[derive(Debug, Clone, Serialize)]
pub struct PreferredLocale<'a> {
    pub preferred_locales: [&'a str; 1],
}

/// <https://docs.stripe.com/api/customer_sessions/object>
#[derive(Debug, Clone, Deserialize)]
pub struct CustomerSession {
    pub client_secret: String,
    pub expires_at: i64,
}

/// `payment_element` features of a CustomerSession (`enabled` / `disabled`).
/// <https://docs.stripe.com/api/customer_sessions/create#create_customer_session-components-payment_element-features>
#[derive(Debug, Clone, Serialize)]
pub struct PaymentElementFeatures<'a> {
    pub payment_method_save: &'a str,
    pub payment_method_redisplay: &'a str,
    pub payment_method_remove: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method_save_usage: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method_redisplay_limit: Option<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentElementComponent<'a> {
    pub enabled: bool,
    pub features: PaymentElementFeatures<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerSessionComponents<'a> {
    pub payment_element: PaymentElementComponent<'a>,
}

/// <https://docs.stripe.com/api/customer_sessions/create>
#[derive(Debug, Clone, Serialize)]
pub struct CreateCustomerSession<'a> {
    pub customer: &'a CustomerId,
    pub components: CustomerSessionComponents<'a>,
}

/// SetupIntent statuses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetupIntentStatus {
    RequiresPaymentMethod,
    RequiresConfirmation,
    RequiresAction,
    Processing,
    Canceled,
    Succeeded,
    #[serde(other)]
    Other,
}

/// <https://docs.stripe.com/api/setup_intents/object>
#[derive(Debug, Clone, Deserialize)]
pub struct SetupIntent {
    pub id: SetupIntentId,
    pub status: SetupIntentStatus,
    pub client_secret: Option<String>,
    pub customer: Option<String>,
    pub payment_method: Option<String>,
}

/// `POST /v1/setup_intents/{id}/confirm` with a ConfirmationToken.
/// <https://docs.stripe.com/api/setup_intents/confirm>
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmSetupIntent<'a> {
    pub confirmation_token: &'a ConfirmationTokenId,
    pub return_url: &'a str,
}

/// `POST /v1/setup_intents` with `confirm=true` and a ConfirmationToken.
/// <https://docs.stripe.com/api/setup_intents/create>
#[derive(Debug, Clone, Serialize)]
pub struct CreateAndConfirmSetupIntent<'a> {
    pub confirm: bool,
    pub confirmation_token: &'a ConfirmationTokenId,
    pub customer: &'a CustomerId,
    pub automatic_payment_methods: AutomaticPaymentMethods,
    pub return_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<&'a str>,
}

/// A page of a Stripe list.
#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AutomaticPaymentMethods {
    pub enabled: bool,
}

/// `POST /v1/payment_intents` with `confirm=true`: create and confirm in one request,
/// with a ConfirmationToken (or, on the legacy path, a PaymentMethod).
/// <https://docs.stripe.com/api/payment_intents/create>
#[derive(Debug, Clone, Serialize)]
pub struct CreateAndConfirmPaymentIntent<'a> {
    pub amount: i64,
    pub currency: &'a str,
    pub confirm: bool,
    #[serde(flatten)]
    pub paid_with: PaidWith<'a>,
    #[serde(flatten)]
    pub methods: PaymentMethodChoice<'a>,
    pub return_url: &'a str,
    pub metadata: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<&'a CustomerId>,
    /// `manual`: authorise now, capture later (`None`: Stripe's default, at once).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture_method: Option<&'a str>,
    /// `on_session` / `off_session`: keep the payment method for later (it must equal
    /// Elements' `setupFutureUsage`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_future_usage: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method_options: Option<PaymentMethodOptions>,
    /// Legacy path: the Address Element's value (a ConfirmationToken carries its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping: Option<&'a Shipping>,
    /// Where Stripe sends its receipt (in live mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_email: Option<&'a str>,
    /// `["payment_method"]`: the reply says what paid.
    pub expand: [&'a str; 1],
}

/// Which payment methods the intent accepts.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum PaymentMethodChoice<'a> {
    /// `automatic_payment_methods[enabled]=true`: those enabled in the Dashboard.
    Dashboard { automatic_payment_methods: AutomaticPaymentMethods },
    /// `allowed_payment_method_types[]`: an explicit list (the pinned API version's name
    /// for what older versions called `payment_method_types`).
    Listed { allowed_payment_method_types: &'a [String] },
}

/// What confirms an intent.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum PaidWith<'a> {
    /// `confirmation_token=ctoken_…`.
    ConfirmationToken { confirmation_token: &'a ConfirmationTokenId },
    /// Legacy: `payment_method=pm_…&use_stripe_sdk=true&mandate_data[…]`.
    PaymentMethod { payment_method: &'a PaymentMethodId, use_stripe_sdk: bool, mandate_data: MandateData<'a> },
}

/// `mandate_data` for an online acceptance (required by methods that need a mandate,
/// such as SEPA Debit, when confirming with a PaymentMethod).
#[derive(Debug, Clone, Serialize)]
pub struct MandateData<'a> {
    pub customer_acceptance: CustomerAcceptance<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerAcceptance<'a> {
    /// Always `online` here.
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub online: OnlineAcceptance<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OnlineAcceptance<'a> {
    pub ip_address: &'a str,
    pub user_agent: &'a str,
}

/// `payment_method_options` this flow sets.
#[derive(Debug, Clone, Serialize)]
pub struct PaymentMethodOptions {
    pub card: CardOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct CardOptions {
    /// Ask for the CVC again with a saved card (Elements must collect it too).
    pub require_cvc_recollection: bool,
}

/// Stripe's error body: `{"error": {...}}`.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Deserialize)]
pub(super) struct ErrorDetail {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: Option<String>,
    pub param: Option<String>,
    pub payment_intent: Option<PaymentIntent>,
}

/// <https://docs.stripe.com/api/refunds/create>
#[derive(Debug, Clone, Serialize)]
pub struct CreateRefund<'a> {
    pub payment_intent: &'a PaymentIntentId,
    pub amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    pub metadata: BTreeMap<&'a str, &'a str>,
}

/// <https://docs.stripe.com/api/refunds/object>
#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    pub status: Option<String>,
    pub payment_intent: Option<String>,
    pub reason: Option<String>,
    /// Why a failed refund failed.
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// <https://docs.stripe.com/api/products/create>, with an id of the shop's choosing (the
/// catalog's), so that a product is made once and found again.
#[derive(Debug, Clone, Serialize)]
pub struct CreateProduct<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// `POST /v1/subscriptions` as subscription mode makes it: `default_incomplete`, so
/// Stripe makes the first invoice and its PaymentIntent and waits for the server to
/// confirm that with the ConfirmationToken; the method that pays it becomes the
/// subscription's default for the renewals.
/// <https://docs.stripe.com/api/subscriptions/create>
#[derive(Debug, Clone, Serialize)]
pub struct CreateSubscription<'a> {
    pub customer: &'a CustomerId,
    pub items: [SubscriptionItemParams<'a>; 1],
    /// Always `default_incomplete` here.
    pub payment_behavior: &'a str,
    pub payment_settings: SubscriptionPaymentSettings<'a>,
    /// A free trial of that many days: the subscription is `trialing`, its first
    /// invoice for nothing, and the first charge comes at the trial's end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trial_period_days: Option<u32>,
    pub metadata: BTreeMap<&'a str, &'a str>,
    /// `["latest_invoice.payments", "pending_setup_intent"]`: the first invoice and its
    /// PaymentIntent (since 2025-03-31.basil an invoice reaches it through `payments`,
    /// which Stripe includes only when asked), and the SetupIntent Stripe makes instead
    /// when there is nothing to pay now.
    pub expand: [&'a str; 2],
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionItemParams<'a> {
    pub price_data: PriceData<'a>,
    pub quantity: u32,
}

/// An inline price, from the catalog (the server's price, never the browser's).
#[derive(Debug, Clone, Serialize)]
pub struct PriceData<'a> {
    pub currency: &'a str,
    pub product: &'a str,
    pub unit_amount: i64,
    pub recurring: RecurringParams<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecurringParams<'a> {
    pub interval: &'a str,
    pub interval_count: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionPaymentSettings<'a> {
    /// `on_subscription`: the method that pays the first invoice pays the renewals.
    pub save_default_payment_method: &'a str,
}

/// `POST /v1/payment_intents/{id}/confirm` with a ConfirmationToken (the first
/// invoice's intent, which Stripe made).
/// <https://docs.stripe.com/api/payment_intents/confirm>
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmPaymentIntent<'a> {
    pub confirmation_token: &'a ConfirmationTokenId,
    pub return_url: &'a str,
    /// `["payment_method"]`: the reply says what paid.
    pub expand: [&'a str; 1],
}

/// Subscription statuses; `Other` keeps the shop working if Stripe adds one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
    #[serde(other)]
    Other,
}

impl SubscriptionStatus {
    /// Stripe's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Incomplete => "incomplete",
            SubscriptionStatus::IncompleteExpired => "incomplete_expired",
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Canceled => "canceled",
            SubscriptionStatus::Unpaid => "unpaid",
            SubscriptionStatus::Paused => "paused",
            SubscriptionStatus::Other => "other",
        }
    }
}

/// <https://docs.stripe.com/api/subscriptions/object>
#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub status: SubscriptionStatus,
    pub customer: String,
    pub cancel_at_period_end: bool,
    /// When it is set to end: the period's end, or a date chosen in the Dashboard.
    pub cancel_at: Option<i64>,
    /// Payment collection paused by the merchant: renewals are invoiced, not charged.
    pub pause_collection: Option<PauseCollection>,
    /// Made by Stripe when the first invoice needs no payment (the customer's credit
    /// paid it): sets the card up for the renewals.
    pub pending_setup_intent: Option<Expandable<SetupIntent>>,
    /// The card its invoices are charged to, if one is set on it (else the customer's
    /// `invoice_settings.default_payment_method`).
    pub default_payment_method: Option<Expandable<PaymentMethod>>,
    /// Since 2025-03-31.basil the period is the items' (they share it).
    pub items: List<SubscriptionItem>,
    pub latest_invoice: Option<Expandable<Invoice>>,
    /// Why it ended, or is set to end.
    #[serde(default)]
    pub cancellation_details: Option<CancellationDetails>,
    /// When and why it was paused (only while it is).
    #[serde(default)]
    pub status_details: Option<StatusDetails>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// <https://docs.stripe.com/api/subscriptions/object#subscription_object-status_details>
#[derive(Debug, Clone, Deserialize)]
pub struct StatusDetails {
    /// (Optional here: another status's details would not fail the whole subscription.)
    #[serde(default)]
    pub paused: Option<Paused>,
}

/// <https://docs.stripe.com/api/subscriptions/object#subscription_object-status_details-paused>
#[derive(Debug, Clone, Deserialize)]
pub struct Paused {
    /// When it was paused.
    pub transitioned_at: i64,
}

/// <https://docs.stripe.com/api/subscriptions/object#subscription_object-cancellation_details>
#[derive(Debug, Clone, Deserialize)]
pub struct CancellationDetails {
    /// `cancellation_requested`, `payment_failed`, `payment_disputed`, … (`None`: no
    /// reason, as for a first invoice left unpaid until it expired).
    pub reason: Option<String>,
}

impl Subscription {
    /// When the current period ends (the next renewal, or the end).
    pub fn current_period_end(&self) -> Option<i64> {
        self.items.data.iter().map(|item| item.current_period_end).min()
    }

    /// A paused subscription's resumption invoice, still to be paid (a resume whose
    /// charge was declined, or one the merchant made): its open latest invoice for a new
    /// period (`subscription_update`), made since the pause. An invoice from before the
    /// pause is not one: paying it leaves the subscription paused.
    pub fn resumption_to_pay(&self) -> Option<&InvoiceId> {
        let paused_at = self.status_details.as_ref()?.paused.as_ref()?.transitioned_at;
        match self.latest_invoice.as_ref()? {
            Expandable::Object(invoice)
                if invoice.awaits_payment()
                    && invoice.billing_reason.as_deref() == Some("subscription_update")
                    && invoice.created >= paused_at =>
            {
                Some(&invoice.id)
            }
            _ => None,
        }
    }

    /// The id of its latest invoice, if it has one.
    pub fn latest_invoice_id(&self) -> Option<&str> {
        match self.latest_invoice.as_ref()? {
            Expandable::Id(id) => Some(id),
            Expandable::Object(invoice) => Some(invoice.id.as_str()),
        }
    }

    /// The id of the card its renewals are charged to, if one is set on it.
    pub fn renewal_card(&self) -> Option<&str> {
        match self.default_payment_method.as_ref()? {
            Expandable::Id(id) => Some(id),
            Expandable::Object(method) => Some(method.id.as_str()),
        }
    }
}

/// <https://docs.stripe.com/api/subscriptions/object#subscription_object-pause_collection>
#[derive(Debug, Clone, Deserialize)]
pub struct PauseCollection {
    /// When collection resumes (`None`: when the merchant resumes it).
    pub resumes_at: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionItem {
    pub id: SubscriptionItemId,
    pub current_period_end: i64,
    pub quantity: Option<u32>,
    pub price: ItemPrice,
}

/// <https://docs.stripe.com/api/prices/object>
#[derive(Debug, Clone, Deserialize)]
pub struct ItemPrice {
    /// Per unit, in the currency's minor unit (`None` for tiered prices).
    pub unit_amount: Option<i64>,
}

/// <https://docs.stripe.com/api/invoices/object>
#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    pub id: InvoiceId,
    /// `draft`, `open`, `paid`, `uncollectible`, `void`.
    pub status: Option<String>,
    pub amount_paid: i64,
    /// After discounts, before the customer's credit (`amount_due` is after it).
    pub total: i64,
    pub currency: String,
    pub created: i64,
    /// `subscription_create`, `subscription_cycle`, …
    pub billing_reason: Option<String>,
    pub parent: Option<InvoiceParent>,
    /// Present when expanded (`payments`).
    pub payments: Option<List<InvoicePayment>>,
    pub lines: List<InvoiceLine>,
    /// When Stripe next tries to charge it by itself (its retries after a decline).
    pub next_payment_attempt: Option<i64>,
    /// Its page for the customer (with its PDF), once it is finalized.
    pub hosted_invoice_url: Option<String>,
}

impl Invoice {
    /// The subscription it bills, if it bills one.
    pub fn subscription(&self) -> Option<&str> {
        self.parent.as_ref()?.subscription_details.as_ref().map(|details| details.subscription.as_str())
    }

    /// Whether it is finalized and still to be paid: `open`, or `uncollectible` (written
    /// off, by the merchant or by the settings once its retries were spent, which Stripe
    /// still lets be paid: "uncollectible → pay → paid").
    pub fn awaits_payment(&self) -> bool {
        matches!(self.status.as_deref(), Some("open" | "uncollectible"))
    }

    /// The PaymentIntent of its default payment (needs `payments` expanded).
    pub fn payment_intent(&self) -> Option<PaymentIntentId> {
        let payments = self.payments.as_ref()?;
        let payment = payments.data.iter().find(|payment| payment.is_default.unwrap_or(true)).or(payments.data.first())?;
        PaymentIntentId::parse(payment.payment.payment_intent.as_deref()?).ok()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceParent {
    pub subscription_details: Option<SubscriptionDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionDetails {
    pub subscription: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoicePayment {
    pub is_default: Option<bool>,
    pub payment: InvoicePaymentTarget,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoicePaymentTarget {
    pub payment_intent: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceLine {
    pub amount: i64,
    pub quantity: Option<u32>,
    pub pricing: Option<InvoiceLinePricing>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceLinePricing {
    pub price_details: Option<InvoicePriceDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoicePriceDetails {
    pub product: String,
}

#[cfg(test)]
mod tests {
    use super::{NextAction, Subscription};
    use serde_json::json;

    /// A paused subscription whose latest invoice is `invoice` (its `billing_reason`,
    /// `status` and `created`), paused at 1,000.
    fn paused_with(billing_reason: &str, status: &str, created: i64) -> Subscription {
        let invoice = json!({
            "id": "in_1", "status": status, "amount_paid": 0, "total": 1200, "currency": "eur", "created": created,
            "billing_reason": billing_reason, "lines": { "data": [], "has_more": false },
        });
        serde_json::from_value(json!({
            "id": "sub_1", "status": "paused", "customer": "cus_1", "cancel_at_period_end": false,
            "items": { "data": [], "has_more": false }, "latest_invoice": invoice,
            "status_details": { "paused": { "transitioned_at": 1_000, "type": "subscription" } },
        }))
        .unwrap()
    }

    #[test]
    fn details_of_another_status_leave_a_subscription_readable() {
        let mut subscription = json!({
            "id": "sub_1", "status": "active", "customer": "cus_1", "cancel_at_period_end": false,
            "items": { "data": [], "has_more": false }, "status_details": { "someday": { "at": 1 } },
        });
        let read: Subscription = serde_json::from_value(subscription.clone()).unwrap();
        assert!(read.resumption_to_pay().is_none());
        subscription["status_details"] = json!(null);
        assert!(serde_json::from_value::<Subscription>(subscription).unwrap().status_details.is_none());
    }

    #[test]
    fn only_an_open_invoice_for_a_new_period_made_since_the_pause_is_a_resumptions() {
        let resumption = |reason, status, created| paused_with(reason, status, created).resumption_to_pay().is_some();
        assert!(resumption("subscription_update", "open", 1_000) && resumption("subscription_update", "uncollectible", 2_000));
        // A renewal overdue before the pause, even one for a period the merchant started.
        assert!(!resumption("subscription_cycle", "open", 2_000) && !resumption("subscription_update", "open", 999));
        // Paid, or voided once it lapsed.
        assert!(!resumption("subscription_update", "paid", 2_000) && !resumption("subscription_update", "void", 2_000));
    }

    #[test]
    fn only_3d_secure_and_redirects_are_the_shoppers_to_finish_now() {
        let is_authentication = |kind: &str| NextAction { kind: kind.to_owned() }.is_authentication();
        assert!(is_authentication("use_stripe_sdk") && is_authentication("redirect_to_url"));
        // Stripe's next actions that wait days for the customer (its API reference).
        for kind in [
            "oxxo_display_details",
            "konbini_display_details",
            "boleto_display_details",
            "multibanco_display_details",
            "display_bank_transfer_instructions",
            "verify_with_microdeposits",
        ] {
            assert!(!is_authentication(kind), "{kind}");
        }
    }
}
