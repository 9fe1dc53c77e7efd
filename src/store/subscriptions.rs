//! Subscriptions (subscription mode) and their paid invoices. A subscription row is
//! what Stripe last said of it: every report goes through
//! [`Store::sync_subscription`], which keeps the newest read (`synced_at`), so reports in
//! any order and any number of times leave the latest state. Each paid invoice becomes
//! one order (found again by its invoice id), so it is fulfilled once however often and
//! by whichever path (the confirmation's reply, the result page, `invoice.paid`) it is
//! reported.

use super::db::{Row, Tx};
use super::orders::clear_ordered_lines;
use super::{Store, StoreError};

/// What a subscription sells, at what price, how often: fixed when it is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionTerms {
    pub product_id: String,
    pub name: String,
    pub quantity: i64,
    pub unit_amount: i64,
    pub currency: String,
    /// `day`, `week`, `month` or `year`.
    pub interval: String,
    pub interval_count: i64,
}

/// A subscription the shop has just created at Stripe.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub id: String,
    pub account_id: String,
    pub session_id: String,
    pub terms: SubscriptionTerms,
    pub first_invoice_id: String,
    pub first_payment_intent_id: Option<String>,
    pub email: Option<String>,
    pub locale: String,
    pub state: SubscriptionState,
}

/// What changes of a subscription, as Stripe reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    /// Stripe's status (`incomplete`, `active`, `past_due`, `canceled`, …).
    pub status: String,
    pub current_period_end: Option<i64>,
    /// Set to end at the period's end (the shopper's choice, which they can undo).
    pub cancel_at_period_end: bool,
    /// When it is set to end, if it is (Stripe's `cancel_at`): the period's end, or a
    /// date the merchant chose in the Dashboard.
    pub cancel_at: Option<i64>,
    /// Payment collection paused by the merchant (Stripe's `pause_collection`): the
    /// periods go on, no renewal is charged.
    pub collection_paused: bool,
    /// When a paused collection resumes, if the merchant set a date.
    pub collection_resumes_at: Option<i64>,
    /// The card its renewals are charged to (Stripe's `default_payment_method`), if
    /// one is set on it.
    pub renewal_card: Option<String>,
    /// Why it ended, once it has (Stripe's `cancellation_details.reason`):
    /// `cancellation_requested`, `payment_failed` (its renewal was never paid),
    /// `payment_disputed`.
    pub cancellation_reason: Option<String>,
    /// When Stripe next tries, by itself, to charge its latest invoice, unpaid (the
    /// invoice's `next_payment_attempt`: a declined renewal's retries), if it will.
    pub next_payment_attempt: Option<i64>,
}

/// What the subscription's item bills, as Stripe reports it (the shopper may change
/// the quantity; the merchant may change either in the Dashboard). `None`: not said,
/// the one kept stays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemTerms {
    pub quantity: Option<i64>,
    pub unit_amount: Option<i64>,
}

impl SubscriptionState {
    /// Billed each period, and the shopper's to change from their account: `active`,
    /// `past_due` (a renewal to pay) or `trialing`.
    pub fn is_live(&self) -> bool {
        matches!(self.status.as_str(), "active" | "past_due" | "trialing")
    }

    /// When Stripe will try, by itself, to charge its overdue renewal again: a retry
    /// still to come at `now` (one made since is read with its webhook), with a card on
    /// the subscription to charge.
    pub fn next_retry(&self, now: i64) -> Option<i64> {
        self.next_payment_attempt.filter(|at| *at > now && self.renewal_card.is_some())
    }

    /// Whether a renewal is still to come: live, and not set to end by the end of its
    /// period (an end the merchant set after it leaves that renewal in place).
    pub fn renews(&self) -> bool {
        let ends = self.cancel_at.or(self.current_period_end.filter(|_| self.cancel_at_period_end));
        self.is_live() && ends.is_none_or(|end| self.current_period_end.is_some_and(|period_end| end > period_end))
    }
}

/// A subscription as the shop keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    pub id: String,
    pub account_id: String,
    pub account_email: String,
    pub terms: SubscriptionTerms,
    pub state: SubscriptionState,
    pub first_invoice_id: String,
    pub first_payment_intent_id: Option<String>,
    pub created_at: i64,
}

/// An invoice Stripe says is paid.
#[derive(Debug, Clone)]
pub struct PaidInvoice {
    pub invoice_id: String,
    pub subscription_id: String,
    pub payment_intent_id: Option<String>,
    /// What was paid (`amount_paid`: after the customer's credit).
    pub amount: i64,
    /// What the invoice came to (`total`: before the customer's credit).
    pub total: i64,
    pub currency: String,
    /// How many the invoice billed (its line's quantity): an invoice made before the
    /// shopper changed the quantity bills the old one. `None`: the subscription's.
    pub quantity: Option<i64>,
}

/// What recording a paid invoice did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvoiceEffect {
    /// A new order, paid, with its confirmation queued.
    Fulfilled { order_id: String },
    /// Recorded before: its order.
    AlreadyFulfilled { order_id: String },
    /// The invoice's subscription is not one of this shop's.
    UnknownSubscription,
}

const COLUMNS: &str = "s.id, s.account_id, a.email AS account_email, s.product_id, s.name, s.quantity, s.unit_amount, s.currency,
    s.billing_interval, s.interval_count, s.status, s.current_period_end, s.cancel_at_period_end, s.cancel_at, s.collection_paused,
    s.collection_resumes_at, s.default_payment_method, s.cancellation_reason, s.next_payment_attempt, s.first_invoice_id,
    s.first_payment_intent_id, s.created_at";
const FROM: &str = "FROM subscriptions s JOIN accounts a ON a.id = s.account_id";

/// The kind of the outbox's message about a renewal that could not be charged:
/// `renewal_failed.{sub_…}.{in_…}`.
pub const RENEWAL_FAILED: &str = "renewal_failed.";

/// The kind of the outbox's message telling a subscriber that a free trial ends soon,
/// and what is charged then: `trial_ending.{sub_…}.{trial_end}`. A trial whose end the
/// merchant moves is reminded again of its new end.
pub const TRIAL_ENDING: &str = "trial_ending.";

/// The kind of the outbox's message telling a subscriber that a subscription has ended
/// (Stripe's `customer.subscription.deleted`): `subscription_ended.{sub_…}`.
pub const SUBSCRIPTION_ENDED: &str = "subscription_ended.";

/// The kind of the outbox's message telling a subscriber that a subscription is on hold
/// (`unpaid`: Stripe gave up on a renewal, and the merchant's settings keep the
/// subscription instead of ending it): `subscription_on_hold.{sub_…}.{in_…}`, once per
/// renewal given up on.
pub const SUBSCRIPTION_ON_HOLD: &str = "subscription_on_hold.";

/// The kind of the outbox's message telling a subscriber that a subscription is
/// `paused` (Stripe's `customer.subscription.paused`: its free trial ended without a card,
/// or the shop paused it): `subscription_paused.{sub_…}.{transitioned_at}.{why}`, once
/// per pause, `why` being Stripe's `status_details.paused.subscription.type`.
pub const SUBSCRIPTION_PAUSED: &str = "subscription_paused.";

/// How long before a free trial's end Stripe sends `customer.subscription.trial_will_end`
/// ("three days before"; at once for a shorter trial).
const TRIAL_ENDING_NOTICE_SECS: i64 = 3 * 86_400;

/// The outbox's message (kind, body) telling a subscriber that `subscription_id`'s free
/// trial ends at `trial_end`; what it says is read when it is sent.
fn trial_ending_note(subscription_id: &str, trial_end: i64) -> (String, String) {
    (format!("{TRIAL_ENDING}{subscription_id}.{trial_end}"), format!("The free trial of subscription {subscription_id} ends soon."))
}

/// The account's live subscriptions whose renewals are charged to a card set on them
/// (by `subscriptions_by_account`).
pub(super) fn live_with_a_card(tx: &mut Tx<'_>, account_id: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
    records(
        tx,
        "s.account_id = $1 AND s.default_payment_method IS NOT NULL AND s.status IN ('active', 'past_due', 'trialing')",
        &[&account_id],
    )
}

/// Whether the account has had a subscription to `product_id` (one of its invoices was
/// paid, a free trial's included: it became an order), by `subscriptions_by_account`
/// and `orders_by_subscription`. Such an account gets no second free trial.
pub(super) fn subscribed_before(tx: &mut Tx<'_>, account_id: &str, product_id: &str) -> Result<bool, StoreError> {
    let row = tx.query_opt(
        "SELECT s.id FROM subscriptions s JOIN orders o ON o.subscription_id = s.id
         WHERE s.account_id = $1 AND s.product_id = $2 LIMIT 1",
        &[&account_id, &product_id],
    )?;
    Ok(row.is_some())
}

fn record_from(row: &Row) -> Result<SubscriptionRecord, StoreError> {
    Ok(SubscriptionRecord {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        account_email: row.get("account_email")?,
        terms: SubscriptionTerms {
            product_id: row.get("product_id")?,
            name: row.get("name")?,
            quantity: row.get("quantity")?,
            unit_amount: row.get("unit_amount")?,
            currency: row.get("currency")?,
            interval: row.get("billing_interval")?,
            interval_count: row.get("interval_count")?,
        },
        state: SubscriptionState {
            status: row.get("status")?,
            current_period_end: row.get("current_period_end")?,
            cancel_at_period_end: row.get::<i64>("cancel_at_period_end")? == 1,
            cancel_at: row.get("cancel_at")?,
            collection_paused: row.get::<i64>("collection_paused")? == 1,
            collection_resumes_at: row.get("collection_resumes_at")?,
            renewal_card: row.get("default_payment_method")?,
            cancellation_reason: row.get("cancellation_reason")?,
            next_payment_attempt: row.get("next_payment_attempt")?,
        },
        first_invoice_id: row.get("first_invoice_id")?,
        first_payment_intent_id: row.get("first_payment_intent_id")?,
        created_at: row.get("created_at")?,
    })
}

/// An account's subscriptions, newest first.
pub(super) fn of_account(tx: &mut Tx<'_>, account_id: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
    records(tx, "s.account_id = $1 ORDER BY s.created_at DESC, s.id", &[&account_id])
}

fn records(tx: &mut Tx<'_>, condition: &str, params: &[&dyn super::db::ToParam]) -> Result<Vec<SubscriptionRecord>, StoreError> {
    tx.query(&format!("SELECT {COLUMNS} {FROM} WHERE {condition}"), params)?.iter().map(record_from).collect()
}

fn paid_invoice(tx: &mut Tx<'_>, invoice: &PaidInvoice, now: i64) -> Result<InvoiceEffect, StoreError> {
    if let Some(order_id) = tx.scalar::<String>("SELECT id FROM orders WHERE invoice_id = $1", &[&invoice.invoice_id])? {
        return Ok(InvoiceEffect::AlreadyFulfilled { order_id });
    }
    let row = tx.query_opt(
        "SELECT session_id, account_id, product_id, name, quantity, unit_amount, first_invoice_id, email, locale, status,
                current_period_end
         FROM subscriptions WHERE id = $1",
        &[&invoice.subscription_id],
    )?;
    let Some(row) = row else { return Ok(InvoiceEffect::UnknownSubscription) };
    let (session_id, account_id, product_id, name): (String, String, String, String) =
        (row.get("session_id")?, row.get("account_id")?, row.get("product_id")?, row.get("name")?);
    let (kept_quantity, unit_amount): (i64, i64) = (row.get("quantity")?, row.get("unit_amount")?);
    let quantity = invoice.quantity.filter(|billed| *billed > 0).unwrap_or(kept_quantity);
    let (email, locale): (Option<String>, Option<String>) = (row.get("email")?, row.get("locale")?);
    let first = row.get::<String>("first_invoice_id")? == invoice.invoice_id;
    let order_id = crate::session::random_id("ord");
    // Stock is not taken: a subscription's deliveries are planned apart from the shelf.
    // Only the first invoice's order takes the subscription out of the cart (once).
    // On PostgreSQL two reports of one invoice (the confirmation's reply and the
    // webhook) may both have looked above: the second waits here on the unique invoice
    // id until the first commits, then inserts nothing and takes the first's order.
    // The customer's credit paid what the invoice came to and was not charged.
    let credit = (invoice.total - invoice.amount).max(0);
    let inserted = tx.execute(
        "INSERT INTO orders (id, session_id, account_id, status, amount, currency, payment_intent_id, amount_received, email, locale,
                             subscription_id, invoice_id, stock_reserved, cart_cleared, created_at, updated_at, credit_amount, view_key)
         VALUES ($1, $2, $3, 'paid', $4, $5, $6, $4, $7, $8, $9, $10, 1, $11, $12, $12, $13, $14)
         ON CONFLICT DO NOTHING",
        &[
            &order_id,
            &session_id,
            &account_id,
            &invoice.amount,
            &invoice.currency,
            &invoice.payment_intent_id,
            &email,
            &locale,
            &invoice.subscription_id,
            &invoice.invoice_id,
            &if first { 0_i64 } else { 1 },
            &now,
            &credit,
            &crate::session::new_token(),
        ],
    )?;
    if inserted == 0 {
        let order_id = tx.one("SELECT id FROM orders WHERE invoice_id = $1", &[&invoice.invoice_id])?;
        return Ok(InvoiceEffect::AlreadyFulfilled { order_id });
    }
    let line_amount = if quantity > 0 && invoice.total % quantity == 0 { invoice.total / quantity } else { unit_amount };
    tx.execute(
        "INSERT INTO order_lines (order_id, product_id, name, unit_amount, quantity) VALUES ($1, $2, $3, $4, $5)",
        &[&order_id, &product_id, &name, &line_amount, &quantity],
    )?;
    let body = if first {
        format!("Thank you for subscribing: order {order_id}, {quantity} × {name}. It is paid and on its way.")
    } else {
        format!("Your subscription renewed: order {order_id}, {quantity} × {name}. It is paid and on its way.")
    };
    tx.execute(
        "INSERT INTO outbox (order_id, kind, body, created_at) VALUES ($1, 'order_confirmation', $2, $3) ON CONFLICT DO NOTHING",
        &[&order_id, &body, &now],
    )?;
    // A free trial of three days or less: Stripe said at once that it ends soon, before
    // this order (which its emails go with) was made, so that word found nothing to
    // queue. It is queued here instead, once (the same kind as the event's).
    let trial_end: Option<i64> = row.get("current_period_end")?;
    if first
        && row.get::<String>("status")? == "trialing"
        && let Some(end) = trial_end.filter(|end| end - now <= TRIAL_ENDING_NOTICE_SECS)
    {
        let (kind, body) = trial_ending_note(&invoice.subscription_id, end);
        tx.execute(
            "INSERT INTO outbox (order_id, kind, body, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&order_id, &kind, &body, &now],
        )?;
    }
    clear_ordered_lines(tx, &order_id)?;
    tracing::info!(order = %order_id, invoice = %invoice.invoice_id, subscription = %invoice.subscription_id, "invoice paid; order recorded and confirmation queued");
    Ok(InvoiceEffect::Fulfilled { order_id })
}

impl Store {
    /// Records a subscription the shop created (its state as Stripe's reply said, to the
    /// request sent at `synced_at` milliseconds). Recording it again changes nothing.
    pub async fn insert_subscription(&self, new: NewSubscription, synced_at: i64, now: i64) -> Result<(), StoreError> {
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO subscriptions (id, account_id, session_id, product_id, name, quantity, unit_amount, currency,
                     billing_interval, interval_count, status, current_period_end, cancel_at_period_end, cancel_at, collection_paused,
                     collection_resumes_at, first_invoice_id, first_payment_intent_id, email, locale, synced_at, created_at, updated_at,
                     default_payment_method, cancellation_reason, next_payment_attempt)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $22, $23, $24,
                     $25)
                 ON CONFLICT (id) DO NOTHING",
                &[
                    &new.id,
                    &new.account_id,
                    &new.session_id,
                    &new.terms.product_id,
                    &new.terms.name,
                    &new.terms.quantity,
                    &new.terms.unit_amount,
                    &new.terms.currency,
                    &new.terms.interval,
                    &new.terms.interval_count,
                    &new.state.status,
                    &new.state.current_period_end,
                    &i64::from(new.state.cancel_at_period_end),
                    &new.state.cancel_at,
                    &i64::from(new.state.collection_paused),
                    &new.state.collection_resumes_at,
                    &new.first_invoice_id,
                    &new.first_payment_intent_id,
                    &new.email,
                    &new.locale,
                    &synced_at,
                    &now,
                    &new.state.renewal_card,
                    &new.state.cancellation_reason,
                    &new.state.next_payment_attempt,
                ],
            )
            .map(drop)
        })
        .await
    }

    /// Keeps what Stripe said of subscription `id` to a request sent at `synced_at`
    /// (milliseconds), unless a request sent later has already been kept: its state, and
    /// what its item bills, where Stripe said.
    /// `false` when the shop has no such subscription.
    pub async fn sync_subscription(
        &self,
        id: &str,
        state: SubscriptionState,
        item: ItemTerms,
        synced_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE subscriptions SET status = $1, current_period_end = $2, cancel_at_period_end = $3, synced_at = $4, updated_at = $5,
                     quantity = COALESCE($7, quantity), unit_amount = COALESCE($8, unit_amount), cancel_at = $9,
                     collection_paused = $10, collection_resumes_at = $11, default_payment_method = $12, cancellation_reason = $13,
                     next_payment_attempt = $14
                 WHERE id = $6 AND synced_at <= $4",
                &[
                    &state.status,
                    &state.current_period_end,
                    &i64::from(state.cancel_at_period_end),
                    &synced_at,
                    &now,
                    &id,
                    &item.quantity,
                    &item.unit_amount,
                    &state.cancel_at,
                    &i64::from(state.collection_paused),
                    &state.collection_resumes_at,
                    &state.renewal_card,
                    &state.cancellation_reason,
                    &state.next_payment_attempt,
                ],
            )?;
            Ok(tx.scalar::<i64>("SELECT 1 FROM subscriptions WHERE id = $1", &[&id])?.is_some())
        })
        .await
    }

    /// Records a paid invoice as an order of its own, once (see [`InvoiceEffect`]).
    pub async fn record_paid_invoice(&self, invoice: PaidInvoice, now: i64) -> Result<InvoiceEffect, StoreError> {
        self.write(move |tx| paid_invoice(tx, &invoice, now)).await
    }

    pub async fn subscription(&self, id: &str) -> Result<Option<SubscriptionRecord>, StoreError> {
        let id = id.to_owned();
        self.read(move |tx| Ok(records(tx, "s.id = $1", &[&id])?.pop())).await
    }

    /// Every subscription, newest first (the merchant's list), `limit` at a time: `after`
    /// is the last one of the page before (`created_at`, `id`). Read in the order of
    /// `subscriptions_by_created`, so a page costs the same however many there are.
    pub async fn subscriptions_page(&self, after: Option<(i64, String)>, limit: i64) -> Result<Vec<SubscriptionRecord>, StoreError> {
        self.read(move |tx| match &after {
            Some((created_at, id)) => {
                records(tx, "(s.created_at, s.id) < ($1, $2) ORDER BY s.created_at DESC, s.id DESC LIMIT $3", &[created_at, id, &limit])
            }
            None => records(tx, "1 = 1 ORDER BY s.created_at DESC, s.id DESC LIMIT $1", &[&limit]),
        })
        .await
    }

    /// The account's live subscriptions ([`SubscriptionState::is_live`]) whose renewals
    /// are charged to a card set on them, as last recorded.
    pub async fn live_subscriptions_with_a_card(&self, account_id: &str) -> Result<Vec<SubscriptionRecord>, StoreError> {
        let account = account_id.to_owned();
        self.read(move |tx| live_with_a_card(tx, &account)).await
    }

    /// The account's subscription whose first invoice `payment_intent_id` pays.
    pub async fn subscription_for_payment_intent(
        &self,
        payment_intent_id: &str,
        account_id: &str,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        let (intent, account) = (payment_intent_id.to_owned(), account_id.to_owned());
        self.read(move |tx| Ok(records(tx, "s.first_payment_intent_id = $1 AND s.account_id = $2", &[&intent, &account])?.pop())).await
    }

    /// The account's subscription to `product_id` that has not ended, as last recorded:
    /// a live one first ([`SubscriptionState::is_live`]: buying the product again
    /// would bill it twice; or `unpaid`, which paying its renewal resumes), else the newest still waiting for its first payment (a
    /// declined or abandoned first attempt: paying again pays that one, not a second).
    pub async fn open_subscription(&self, account_id: &str, product_id: &str) -> Result<Option<SubscriptionRecord>, StoreError> {
        let (account, product) = (account_id.to_owned(), product_id.to_owned());
        self.read(move |tx| {
            Ok(records(
                tx,
                "s.account_id = $1 AND s.product_id = $2 AND s.status IN ('active', 'past_due', 'trialing', 'unpaid', 'paused', 'incomplete')
                 ORDER BY CASE WHEN s.status = 'incomplete' THEN 1 ELSE 0 END, s.created_at DESC LIMIT 1",
                &[&account, &product],
            )?
            .pop())
        })
        .await
    }

    /// Whether the account has had a subscription to `product_id` ([`subscribed_before`]).
    pub async fn subscribed_before(&self, account_id: &str, product_id: &str) -> Result<bool, StoreError> {
        let (account, product) = (account_id.to_owned(), product_id.to_owned());
        self.read(move |tx| subscribed_before(tx, &account, &product)).await
    }

    /// Records that `token` confirms the first invoice (`payment_intent_id`) of
    /// `subscription_id`, or, when the customer's credit paid it, sets the card up
    /// through its SetupIntent (a `seti_…` id in the same column). Again: nothing changes.
    pub async fn record_subscription_attempt(
        &self,
        token: &str,
        subscription_id: &str,
        payment_intent_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let (token, subscription, intent) = (token.to_owned(), subscription_id.to_owned(), payment_intent_id.to_owned());
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO subscription_attempts (confirmation_token_id, subscription_id, payment_intent_id, created_at)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (confirmation_token_id) DO NOTHING",
                &[&token, &subscription, &intent, &now],
            )
            .map(drop)
        })
        .await
    }

    /// Claims the purchase of a subscription to `product_id` by `account_id` for the
    /// request paying with `token`, until `until`: false while another request (another
    /// token) holds it. The same token again (a retried request) may take it over.
    pub async fn claim_subscription(
        &self,
        account_id: &str,
        product_id: &str,
        token: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let [account, product, token] = [account_id, product_id, token].map(str::to_owned);
        self.write(move |tx| {
            let claimed = tx.execute(
                "INSERT INTO subscription_claims (account_id, product_id, token, claimed_until) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (account_id, product_id) DO UPDATE SET token = excluded.token, claimed_until = excluded.claimed_until
                 WHERE subscription_claims.claimed_until <= $5 OR subscription_claims.token = excluded.token",
                &[&account, &product, &token, &until, &now],
            )?;
            Ok(claimed == 1)
        })
        .await
    }

    /// Extends the claim `token` holds to `until`, if it still holds it: false once
    /// another request (another token) has taken it over after it lapsed, or has come
    /// and gone. (A lapse alone does not lose it: nobody else wanted it meanwhile.)
    pub async fn renew_subscription_claim(&self, account_id: &str, product_id: &str, token: &str, until: i64) -> Result<bool, StoreError> {
        let [account, product, token] = [account_id, product_id, token].map(str::to_owned);
        self.write(move |tx| {
            let renewed = tx.execute(
                "UPDATE subscription_claims SET claimed_until = $4 WHERE account_id = $1 AND product_id = $2 AND token = $3",
                &[&account, &product, &token, &until],
            )?;
            Ok(renewed == 1)
        })
        .await
    }

    /// Ends the claim `token` holds (see [`Store::claim_subscription`]).
    pub async fn release_subscription_claim(&self, account_id: &str, product_id: &str, token: &str) -> Result<(), StoreError> {
        let [account, product, token] = [account_id, product_id, token].map(str::to_owned);
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM subscription_claims WHERE account_id = $1 AND product_id = $2 AND token = $3",
                &[&account, &product, &token],
            )
            .map(drop)
        })
        .await
    }

    /// The subscription (of `account_id`) and PaymentIntent `token` was sent to confirm
    /// (or SetupIntent, `seti_…`, for a first invoice the customer's credit paid).
    pub async fn subscription_attempt(&self, token: &str, account_id: &str) -> Result<Option<(String, String)>, StoreError> {
        let (token, account) = (token.to_owned(), account_id.to_owned());
        self.read(move |tx| {
            let row = tx.query_opt(
                "SELECT t.subscription_id, t.payment_intent_id FROM subscription_attempts t JOIN subscriptions s ON s.id = t.subscription_id
                 WHERE t.confirmation_token_id = $1 AND s.account_id = $2",
                &[&token, &account],
            )?;
            row.map(|row| Ok((row.get("subscription_id")?, row.get("payment_intent_id")?))).transpose()
        })
        .await
    }

    /// The token, subscription and account that SetupIntent `setup_intent_id` sets the
    /// card up for: a first invoice the customer's credit paid, whose card's bank wanted
    /// 3-D Secure (the shopper comes back naming only the SetupIntent, and Stripe's
    /// `setup_intent.succeeded` names only it).
    pub async fn subscription_setup(&self, setup_intent_id: &str) -> Result<Option<(String, String, String)>, StoreError> {
        let intent = setup_intent_id.to_owned();
        self.read(move |tx| {
            let row = tx.query_opt(
                "SELECT t.confirmation_token_id, t.subscription_id, s.account_id FROM subscription_attempts t
                 JOIN subscriptions s ON s.id = t.subscription_id WHERE t.payment_intent_id = $1",
                &[&intent],
            )?;
            row.map(|row| Ok((row.get("confirmation_token_id")?, row.get("subscription_id")?, row.get("account_id")?))).transpose()
        })
        .await
    }

    /// Whether `token` was sent to pay a subscription (anyone's).
    pub async fn token_subscribed(&self, token: &str) -> Result<bool, StoreError> {
        let token = token.to_owned();
        self.read(move |tx| {
            Ok(tx.scalar::<i64>("SELECT 1 FROM subscription_attempts WHERE confirmation_token_id = $1", &[&token])?.is_some())
        })
        .await
    }

    /// Queues the email that tells a subscriber a renewal (`invoice_id`) could not be
    /// charged, once per invoice (Stripe may retry it, and says so each time), with the
    /// subscription's first order: the order its emails go with (the subscriber's
    /// address and language). `false` when queued before (each retry's failure says so
    /// again), or for a subscription of another shop or without an order yet (its first
    /// payment failed: the checkout said so).
    pub async fn queue_renewal_failed(&self, subscription_id: &str, invoice_id: &str, now: i64) -> Result<bool, StoreError> {
        let kind = format!("{RENEWAL_FAILED}{subscription_id}.{invoice_id}");
        let body = format!("The renewal {invoice_id} of subscription {subscription_id} could not be charged.");
        self.queue_subscription_note(subscription_id, kind, body, now).await
    }

    /// Queues the email that tells a subscriber their free trial ends soon, at
    /// `trial_end` (Stripe's `customer.subscription.trial_will_end`), once per
    /// subscription and end, as [`Store::queue_renewal_failed`] does. What it says is
    /// read when it is sent. (A trial short enough for Stripe to say so before its first
    /// order was recorded has it queued with that order.)
    pub async fn queue_trial_ending(&self, subscription_id: &str, trial_end: i64, now: i64) -> Result<bool, StoreError> {
        let (kind, body) = trial_ending_note(subscription_id, trial_end);
        self.queue_subscription_note(subscription_id, kind, body, now).await
    }

    /// Queues the email that tells a subscriber their subscription has ended (Stripe's
    /// `customer.subscription.deleted`: at the period's end they chose, ended by the
    /// merchant, or after renewals Stripe could not charge), once per subscription, as
    /// [`Store::queue_renewal_failed`] does. One whose first invoice was never paid has
    /// no order, so no message: the checkout said it was not paid.
    pub async fn queue_subscription_ended(&self, subscription_id: &str, now: i64) -> Result<bool, StoreError> {
        let kind = format!("{SUBSCRIPTION_ENDED}{subscription_id}");
        let body = format!("The subscription {subscription_id} has ended.");
        self.queue_subscription_note(subscription_id, kind, body, now).await
    }

    /// Queues the email that tells a subscriber their subscription is on hold until the
    /// renewal `invoice_id`, which Stripe gave up on, is paid ([`SUBSCRIPTION_ON_HOLD`]),
    /// once per such renewal, as [`Store::queue_renewal_failed`] does.
    pub async fn queue_subscription_on_hold(&self, subscription_id: &str, invoice_id: &str, now: i64) -> Result<bool, StoreError> {
        let kind = format!("{SUBSCRIPTION_ON_HOLD}{subscription_id}.{invoice_id}");
        let body = format!("The subscription {subscription_id} is on hold until its renewal {invoice_id} is paid.");
        self.queue_subscription_note(subscription_id, kind, body, now).await
    }

    /// Queues the email that tells a subscriber their subscription was paused at
    /// `paused_at` (`why`: Stripe's reason, such as `trial_end_without_payment_method`),
    /// once per pause ([`SUBSCRIPTION_PAUSED`]), as [`Store::queue_renewal_failed`] does.
    pub async fn queue_subscription_paused(&self, subscription_id: &str, paused_at: i64, why: &str, now: i64) -> Result<bool, StoreError> {
        let kind = format!("{SUBSCRIPTION_PAUSED}{subscription_id}.{paused_at}.{why}");
        let body = format!("The subscription {subscription_id} is paused.");
        self.queue_subscription_note(subscription_id, kind, body, now).await
    }

    /// Queues a message of `kind` to a subscriber, with the subscription's first order
    /// (its emails' address and language); again, nothing. Whether it was queued now:
    /// `false` without such an order, or when it was queued before.
    async fn queue_subscription_note(&self, subscription_id: &str, kind: String, body: String, now: i64) -> Result<bool, StoreError> {
        let subscription_id = subscription_id.to_owned();
        self.write(move |tx| {
            let order: Option<String> = tx.scalar(
                "SELECT o.id FROM subscriptions s JOIN orders o ON o.invoice_id = s.first_invoice_id WHERE s.id = $1",
                &[&subscription_id],
            )?;
            let Some(order_id) = order else {
                tx.abandon();
                return Ok(false);
            };
            let queued = tx.execute(
                "INSERT INTO outbox (order_id, kind, body, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&order_id, &kind, &body, &now],
            )?;
            Ok(queued == 1)
        })
        .await
    }

    /// The order a paid invoice became, if it did.
    pub async fn order_for_invoice(&self, invoice_id: &str) -> Result<Option<String>, StoreError> {
        let invoice_id = invoice_id.to_owned();
        self.read(move |tx| tx.scalar("SELECT id FROM orders WHERE invoice_id = $1", &[&invoice_id])).await
    }
}
