//! Subscription types that cross the wire.

use crate::money::Money;
use serde::{Deserialize, Serialize};

/// A subscription as its account page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSubscription {
    pub id: String,
    pub name: String,
    pub quantity: i64,
    /// Each period's price, `€24.00 / month`, in the shopper's language.
    pub price: String,
    /// Stripe's status (`active`, `past_due`, `incomplete`, `canceled`, …).
    pub status: String,
    /// Why it ended, once it has (Stripe's `cancellation_details.reason`).
    pub cancellation_reason: Option<String>,
    /// When the current period ends: the next renewal, or the end.
    pub period_end: Option<i64>,
    /// Set to end at the period's end: the shopper's choice, which they can undo.
    pub cancel_at_period_end: bool,
    /// When it ends, if it is set to: the period's end, or a date the merchant chose.
    pub ends_on: Option<i64>,
    /// Payments paused by the merchant: renewals come, and are not charged.
    pub payments_paused: bool,
    /// When paused payments resume, if the merchant set a date.
    pub payments_resume_on: Option<i64>,
    /// The saved card its renewals are charged to, if one is set on it.
    pub renewal_card: Option<String>,
    /// When Stripe next tries by itself to charge an overdue renewal, if it will.
    pub next_payment_attempt: Option<i64>,
    /// Whether a renewal is still to come (`SubscriptionState::renews`).
    pub renews: bool,
    /// For a subscription the shopper can pay to go on ([`awaits_payment`]), the nonce of
    /// the form that pays it: part of the payment's idempotency key, so that a form sent
    /// twice pays once.
    pub pay_attempt: Option<String>,
}

/// What paying an overdue renewal (or resuming a paused subscription) came to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverduePayment {
    /// Paid: the subscription is active again (resumed, if it was paused).
    Paid,
    /// The card's bank wants the shopper to confirm the payment (3-D Secure): the
    /// client secret of the invoice's PaymentIntent, for `stripe.handleNextAction`.
    Authenticate { client_secret: String },
}

/// Whether a subscription with Stripe's `status` has a renewal for the shopper to pay:
/// `past_due` (Stripe is still retrying it), or `unpaid` (the merchant's settings stopped
/// the retries; paying its latest invoice makes it active again).
pub fn is_overdue(status: &str) -> bool {
    matches!(status, "past_due" | "unpaid")
}

/// Whether a subscription with Stripe's `status` waits for the shopper to pay: overdue
/// ([`is_overdue`]), or `paused` (its trial ended without a card, or the shop paused
/// it), which paying a new period resumes.
pub fn awaits_payment(status: &str) -> bool {
    is_overdue(status) || status == "paused"
}

impl AccountSubscription {
    /// Whether it can still be canceled at the period's end (or that undone).
    pub fn changeable(&self) -> bool {
        matches!(self.status.as_str(), "active" | "past_due" | "trialing")
    }
}

/// Helper for the merchant's list and the account page: a subscription's total per
/// period.
pub fn period_total(unit_amount: i64, quantity: i64, currency: crate::money::Currency) -> Money {
    Money::new(unit_amount.saturating_mul(quantity), currency)
}
