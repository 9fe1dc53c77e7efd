//! Payment events from Stripe's webhooks, each applied exactly once: the event's id is
//! recorded in the same transaction as its effect, and orders only move forward.

use super::db::Tx;
use super::inventory::release_stock;
use super::orders::{OrderStatus, clear_ordered_lines};
use super::outbox::alert_merchant;
use super::{Store, StoreError};
use crate::money::Money;

/// A payment event, as the webhook handler understood it.
#[derive(Debug, Clone)]
pub struct PaymentEvent<'a> {
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub order_id: &'a str,
    pub payment_intent_id: &'a str,
    pub amount: i64,
    /// What was captured: all of `amount`, or less after a partial capture.
    pub amount_received: i64,
    pub currency: &'a str,
}

/// Where a dispute of an order's charge stands, from the dispute's `status` in any of
/// its events (`charge.dispute.created`, `.updated`, `.funds_withdrawn`, `.closed`, …),
/// or from an early fraud warning before any dispute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeStage {
    /// `radar.early_fraud_warning.created`: the card's issuer reported the payment as
    /// fraud. A dispute often follows; a refund now avoids it (and its fee).
    FraudWarning,
    /// `warning_needs_response`, `warning_under_review`: the issuer asks before any
    /// chargeback; nothing is withdrawn, and answering (or refunding) can end it.
    Inquiry,
    /// A chargeback: the funds are withdrawn, and the merchant must answer (in Stripe's
    /// Dashboard) or accept it.
    Opened,
    /// Closed `won`: the funds came back.
    Won,
    /// Closed `lost`: the cardholder keeps the money.
    Lost,
    /// Closed `warning_closed`: the inquiry ended without a chargeback.
    InquiryClosed,
    /// Closed `prevented`: the network stopped the dispute (the merchant keeps the money).
    Prevented,
}

impl DisputeStage {
    /// The stage a dispute in `status` is at; `None` for a status Stripe may add later.
    pub fn of(status: &str) -> Option<Self> {
        Some(match status {
            "warning_needs_response" | "warning_under_review" => DisputeStage::Inquiry,
            "needs_response" | "under_review" | "appeal_needs_response" | "appeal_under_review" => DisputeStage::Opened,
            "won" => DisputeStage::Won,
            "lost" => DisputeStage::Lost,
            "warning_closed" => DisputeStage::InquiryClosed,
            "prevented" => DisputeStage::Prevented,
            _ => return None,
        })
    }

    /// Where the order's dispute stands, for the merchant.
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStage::FraudWarning => "fraud_warning",
            DisputeStage::Inquiry => "inquiry",
            DisputeStage::Opened => "disputed",
            DisputeStage::Won => "dispute_won",
            DisputeStage::Lost => "dispute_lost",
            DisputeStage::InquiryClosed => "inquiry_closed",
            DisputeStage::Prevented => "dispute_prevented",
        }
    }

    /// What the merchant is told of `order_id` at this stage, for their email: what to do,
    /// by `due_by` (the dispute's deadline, when its event gives one), saying why
    /// (`reason`, Stripe's, such as `product_not_received`); once it is over, how it
    /// ended.
    fn tells_the_merchant(self, order_id: &str, due_by: Option<i64>, reason: Option<&str>) -> String {
        let why = reason.map(|reason| format!(" ({})", reason.replace('_', " "))).unwrap_or_default();
        let deadline = match due_by.and_then(|at| time::OffsetDateTime::from_unix_timestamp(at).ok()) {
            Some(at) => format!("{}-{:02}-{:02} {:02}:{:02} UTC", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute()),
            None => "the deadline shown there".to_owned(),
        };
        match self {
            DisputeStage::FraudWarning => format!(
                "The card's issuer reported the payment of order {order_id} as fraud{why}. A dispute often follows, with a fee: \
                 refunding it now, as fraudulent, avoids both."
            ),
            DisputeStage::Inquiry => format!(
                "The card's issuer asks about the payment of order {order_id}{why}: an inquiry, and nothing is withdrawn yet. Answer it \
                 in the Stripe Dashboard, or refund it, before {deadline}."
            ),
            DisputeStage::Opened => format!(
                "The payment of order {order_id} is disputed{why}: its amount and a fee were withdrawn. Answer with evidence in the \
                 Stripe Dashboard before {deadline}, or accept the dispute."
            ),
            DisputeStage::Won => {
                format!("The dispute over the payment of order {order_id} is closed, and you won it: its amount is back in your balance.")
            }
            DisputeStage::Lost => format!(
                "The dispute over the payment of order {order_id} is closed, and you lost it: the cardholder keeps its amount, and \
                 the dispute's fee is not returned."
            ),
            DisputeStage::InquiryClosed => {
                format!(
                    "The card issuer's inquiry about the payment of order {order_id} is closed without a chargeback: nothing more to do."
                )
            }
            DisputeStage::Prevented => format!(
                "The dispute over the payment of order {order_id} was prevented before it opened: you keep the payment, and there is \
                 nothing more to do."
            ),
        }
    }

    /// Stages only move forward (Stripe does not promise the order of events): a fraud
    /// warning may be followed by an inquiry, an inquiry may become a chargeback, and
    /// either may close; nothing reopens. (`flag_dispute` reads the stored stage's rank
    /// with the same numbers.)
    fn rank(self) -> i64 {
        match self {
            DisputeStage::FraudWarning => 1,
            DisputeStage::Inquiry => 2,
            DisputeStage::Opened => 3,
            _ => 4,
        }
    }
}

/// A dispute's event (or an early fraud warning) as the webhook read it.
#[derive(Debug, Clone, Copy)]
pub struct DisputeReport<'a> {
    pub stage: DisputeStage,
    /// When the merchant's answer is due (`evidence_details.due_by`).
    pub due_by: Option<i64>,
    /// Why, in Stripe's words: a dispute's `reason` (`fraudulent`,
    /// `product_not_received`, …), a warning's `fraud_type`.
    pub reason: Option<&'a str>,
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventEffect {
    /// Seen before: nothing more was done.
    Duplicate,
    /// The event names no order of this shop.
    UnknownOrder,
    /// The order is paid now: stock taken, confirmation queued, cart emptied.
    Fulfilled { oversold: bool },
    /// The charge does not match the order: flagged for the merchant, not fulfilled.
    AmountMismatch,
    /// The order's status moved (or stayed, when it could only have moved back).
    StatusUpdated,
    /// A charge of the order was disputed, or its dispute closed: flagged for the merchant.
    Disputed,
    /// Recorded; nothing to change.
    Ignored,
}

pub(super) fn apply_payment_event(tx: &mut Tx<'_>, event: &PaymentEvent<'_>, now: i64) -> Result<EventEffect, StoreError> {
    let inserted = tx.execute(
        "INSERT INTO processed_events (event_id, type, received_at, order_id) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
        &[&event.event_id, &event.event_type, &now, &event.order_id],
    )?;
    if inserted == 0 {
        tx.abandon();
        return Ok(EventEffect::Duplicate);
    }
    // Locked: two different events for one order (two instances, or a webhook and
    // reconciliation) apply one after the other.
    let order = tx.query_opt(
        &format!("SELECT status, amount, currency FROM orders WHERE id = $1{}", tx.backend().for_update()),
        &[&event.order_id],
    )?;
    let Some(order) = order else {
        return Ok(EventEffect::UnknownOrder);
    };
    let status: OrderStatus = order.get("status")?;
    let effect = match event.event_type {
        "payment_intent.succeeded" => {
            let (amount, currency): (i64, String) = (order.get("amount")?, order.get("currency")?);
            if amount != event.amount || currency != event.currency {
                tx.execute("UPDATE orders SET flag = 'amount_mismatch', updated_at = $1 WHERE id = $2", &[&now, &event.order_id])?;
                let body = format!(
                    "Order {} costs {}, but its payment {} took {}: it is not fulfilled. Refund the payment, then find out why it differs.",
                    event.order_id,
                    Money::shown(amount, &currency),
                    event.payment_intent_id,
                    Money::shown(event.amount, event.currency)
                );
                alert_merchant(tx, event.order_id, "amount_mismatch", &body, now)?;
                EventEffect::AmountMismatch
            } else if status == OrderStatus::Paid {
                EventEffect::Ignored
            } else {
                let oversold = fulfil(tx, event, now)?;
                EventEffect::Fulfilled { oversold }
            }
        }
        "payment_intent.payment_failed" | "payment_intent.canceled" => {
            // Only the order's current PaymentIntent speaks for it: a late failure
            // of an earlier attempt must not undo a later one. An authorisation
            // canceled (by the merchant, or expired) cancels its order; before
            // that, the shopper may still pay again.
            let moved = tx.execute(
                "UPDATE orders SET status = CASE WHEN status = 'authorized' THEN 'canceled' ELSE 'failed' END, updated_at = $1
                     WHERE id = $2 AND (status IN ('pending', 'confirming') OR status = 'authorized' AND $4 = 'payment_intent.canceled')
                     AND (payment_intent_id IS NULL OR payment_intent_id = $3)",
                &[&now, &event.order_id, &event.payment_intent_id, &event.event_type],
            )?;
            if moved == 1 {
                release_stock(tx, event.order_id)?;
                // A payment that was processing (a SEPA debit) failed days later:
                // the shopper has left, so they are told by email.
                let delayed: Option<i64> = tx.scalar(
                    "SELECT 1 FROM payment_attempts WHERE order_id = $1 AND payment_intent_id = $2 AND outcome = 'processing'",
                    &[&event.order_id, &event.payment_intent_id],
                )?;
                if event.event_type == "payment_intent.payment_failed" && delayed.is_some() {
                    let body = format!("Your payment for order {} did not go through; nothing was charged.", event.order_id);
                    tx.execute("INSERT INTO outbox (order_id, kind, body, created_at) VALUES ($1, 'payment_failed', $2, $3) ON CONFLICT DO NOTHING", &[&event.order_id, &body, &now])?;
                }
            }
            EventEffect::StatusUpdated
        }
        // Authorised, waiting for the merchant to capture (stock stays reserved).
        "payment_intent.amount_capturable_updated" => {
            advance(tx, event, now, OrderStatus::Authorized, &[OrderStatus::Pending, OrderStatus::Confirming, OrderStatus::Failed])?
        }
        "payment_intent.processing" | "payment_intent.requires_action" => {
            advance(tx, event, now, OrderStatus::Confirming, &[OrderStatus::Pending, OrderStatus::Failed])?
        }
        _ => EventEffect::Ignored,
    };
    Ok(effect)
}

/// Moves the event's order to `status` (with the event's PaymentIntent) if it is in one
/// of `from`: only ever forward, and only by the PaymentIntent of its latest attempt.
/// Each attempt is a PaymentIntent of its own, never confirmed again once it failed, so
/// an event of the PaymentIntent an order failed with, or of an attempt before the latest,
/// is a late report of something already over: it changes nothing.
fn advance(
    tx: &mut Tx<'_>,
    event: &PaymentEvent<'_>,
    now: i64,
    status: OrderStatus,
    from: &[OrderStatus],
) -> Result<EventEffect, StoreError> {
    let from = from.iter().map(|status| format!("'{status}'")).collect::<Vec<_>>().join(", ");
    tx.execute(
        &format!(
            "UPDATE orders SET status = $1, payment_intent_id = $2, updated_at = $3
             WHERE id = $4 AND status IN ({from})
             AND NOT (status = 'failed' AND payment_intent_id IS NOT NULL AND payment_intent_id = $2)
             AND NOT EXISTS (SELECT 1 FROM payment_attempts earlier JOIN payment_attempts later
                             ON later.order_id = earlier.order_id AND later.attempt > earlier.attempt
                             WHERE earlier.order_id = $4 AND earlier.payment_intent_id = $2)"
        ),
        &[&status, &event.payment_intent_id, &now, &event.order_id],
    )?;
    Ok(EventEffect::StatusUpdated)
}

/// Marks an order paid: its reserved stock kept (or, when the reservation was released
/// because an earlier failure was reported first, taken now: never below zero, and an
/// oversold order is flagged), a confirmation queued in the outbox, its lines out of
/// the cart (unless that happened already). Returns whether it oversold.
pub(super) fn fulfil(tx: &mut Tx<'_>, event: &PaymentEvent<'_>, now: i64) -> Result<bool, StoreError> {
    let reserved: i64 = tx.one("SELECT stock_reserved FROM orders WHERE id = $1", &[&event.order_id])?;
    tx.execute("UPDATE orders SET status = 'paid', payment_intent_id = $1, updated_at = $2, stock_reserved = 1, amount_received = $3 WHERE id = $4", &[&event.payment_intent_id, &now, &event.amount_received, &event.order_id])?;
    let lines =
        tx.query("SELECT product_id, name, quantity FROM order_lines WHERE order_id = $1 ORDER BY product_id", &[&event.order_id])?;
    let mut oversold = false;
    let mut summary = Vec::new();
    for line in &lines {
        let (product_id, name, quantity): (String, String, i64) = (line.get("product_id")?, line.get("name")?, line.get("quantity")?);
        summary.push(format!("{quantity} × {name}"));
        if reserved == 1 {
            continue;
        }
        let taken = tx.execute(
            "UPDATE inventory SET on_hand = on_hand - $1 WHERE product_id = $2 AND on_hand >= $3",
            &[&quantity, &product_id, &quantity],
        )?;
        if taken == 0 {
            oversold = true;
            tx.execute("UPDATE inventory SET on_hand = 0 WHERE product_id = $1", &[&product_id])?;
        }
    }
    if oversold {
        tx.execute("UPDATE orders SET flag = 'oversold' WHERE id = $1", &[&event.order_id])?;
        let body = format!(
            "Order {} is paid, but not all of it was left in stock (oversold). Ship it when the goods are back, or refund it.",
            event.order_id
        );
        alert_merchant(tx, event.order_id, "oversold", &body, now)?;
    }
    let body = format!("Thank you for your order {}: {}. It is paid and on its way.", event.order_id, summary.join(", "));
    tx.execute(
        "INSERT INTO outbox (order_id, kind, body, created_at) VALUES ($1, 'order_confirmation', $2, $3) ON CONFLICT DO NOTHING",
        &[&event.order_id, &body, &now],
    )?;
    clear_ordered_lines(tx, event.order_id)?;
    tracing::info!(order = event.order_id, oversold, "order paid; confirmation queued: {body}");
    Ok(oversold)
}

impl Store {
    /// Applies a PaymentIntent event to its order, exactly once: the event id is
    /// recorded in the same transaction as the effect. Orders only move forward.
    pub async fn apply_payment_event(&self, event: &PaymentEvent<'_>, now: i64) -> Result<EventEffect, StoreError> {
        let owned: [String; 5] =
            [event.event_id, event.event_type, event.order_id, event.payment_intent_id, event.currency].map(str::to_owned);
        let (amount, amount_received) = (event.amount, event.amount_received);
        self.write(move |tx| {
            let [event_id, event_type, order_id, payment_intent_id, currency] = &owned;
            let event = PaymentEvent { event_id, event_type, order_id, payment_intent_id, amount, amount_received, currency };
            apply_payment_event(tx, &event, now)
        })
        .await
    }
    /// Records a dispute event (or an early fraud warning) of the charge of
    /// `payment_intent_id`, exactly once per event: the order it paid shows the merchant
    /// where the dispute stands ([`DisputeStage::as_str`]), beside the order's own flag
    /// (`oversold`, `amount_mismatch`), and each stage emails them once (what to do, why
    /// and by when; then how it ended). Only ever forward: a late opening event never hides an
    /// outcome, nor a late inquiry a chargeback.
    pub async fn flag_dispute(
        &self,
        event_id: &str,
        event_type: &str,
        payment_intent_id: &str,
        report: &DisputeReport<'_>,
        now: i64,
    ) -> Result<EventEffect, StoreError> {
        let [event_id, event_type, payment_intent_id] = [event_id, event_type, payment_intent_id].map(str::to_owned);
        let (stage, due_by, reason) = (report.stage, report.due_by, report.reason.map(str::to_owned));
        self.write(move |tx| {
            let order_id: Option<String> = tx.scalar("SELECT id FROM orders WHERE payment_intent_id = $1", &[&payment_intent_id])?;
            let inserted = tx.execute(
                "INSERT INTO processed_events (event_id, type, received_at, order_id) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (event_id) DO NOTHING",
                &[&event_id, &event_type, &now, &order_id],
            )?;
            let effect = match (inserted, &order_id) {
                (0, _) => EventEffect::Duplicate,
                (_, None) => EventEffect::UnknownOrder,
                (_, Some(order_id)) => {
                    let moved = tx.execute(
                        "UPDATE orders SET dispute = $1, updated_at = $2
                         WHERE id = $3 AND (CASE COALESCE(dispute, '') WHEN '' THEN 0 WHEN 'fraud_warning' THEN 1 WHEN 'inquiry' THEN 2
                         WHEN 'disputed' THEN 3 ELSE 4 END < $4 OR $4 = 4)",
                        &[&stage.as_str(), &now, &order_id, &stage.rank()],
                    )?;
                    if moved == 1 {
                        let body = stage.tells_the_merchant(order_id, due_by, reason.as_deref());
                        alert_merchant(tx, order_id, stage.as_str(), &body, now)?;
                    }
                    EventEffect::Disputed
                }
            };
            Ok(effect)
        })
        .await
    }
    /// An order's events as applied: `(event id, type, received at)`, oldest first.
    pub async fn order_events(&self, order_id: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
        let order_id = order_id.to_owned();
        self.read(move |tx| {
            let rows = tx.query(
                "SELECT event_id, type, received_at FROM processed_events WHERE order_id = $1 ORDER BY received_at, event_id",
                &[&order_id],
            )?;
            rows.iter().map(|row| Ok((row.get("event_id")?, row.get("type")?, row.get("received_at")?))).collect::<Result<_, StoreError>>()
        })
        .await
    }
}
