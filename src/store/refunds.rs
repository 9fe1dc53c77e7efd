//! Refunds of paid orders. Stripe reports a refund several times (the reply to the
//! merchant's request, then `refund.created`, `refund.updated`, `refund.failed`), in any
//! order and any number of times; each report goes through [`Store::record_refund`],
//! which adds a refund's amount to its order exactly once, when it has succeeded.

use super::orders::order_quantities;
use super::{Store, StoreError};
use crate::money::Money;

/// A refund's status, as Stripe names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Pending,
    RequiresAction,
    Succeeded,
    Failed,
    Canceled,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::RequiresAction => "requires_action",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
            RefundStatus::Canceled => "canceled",
        }
    }

    /// Stripe's name; a status this version does not know counts as `pending` (not
    /// settled: a later report still moves it).
    pub fn parse(text: &str) -> RefundStatus {
        match text {
            "requires_action" => RefundStatus::RequiresAction,
            "succeeded" => RefundStatus::Succeeded,
            "failed" => RefundStatus::Failed,
            "canceled" => RefundStatus::Canceled,
            _ => RefundStatus::Pending,
        }
    }

    /// How far along the refund is. Stripe moves a refund forward only: `pending` or
    /// `requires_action`, then `succeeded`, which can still become `failed` (the card's
    /// account was closed, say); `failed` and `canceled` are final. A report of an
    /// earlier stage than the one kept is stale: a `pending` after `succeeded`, or a
    /// `succeeded` after `failed`, changes nothing.
    fn stage(self) -> u8 {
        match self {
            RefundStatus::Pending | RefundStatus::RequiresAction => 0,
            RefundStatus::Succeeded => 1,
            RefundStatus::Failed | RefundStatus::Canceled => 2,
        }
    }

    /// Failed or canceled: its amount will not go back.
    pub fn is_void(self) -> bool {
        matches!(self, RefundStatus::Failed | RefundStatus::Canceled)
    }
}

super::db::text_column!(RefundStatus, |text| Some(RefundStatus::parse(text)));

/// A refund as the order pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub reason: Option<String>,
    pub status: RefundStatus,
    /// Why it failed, as Stripe says (`expired_or_canceled_card`, …).
    pub failure_reason: Option<String>,
    pub created_at: i64,
}

/// An order's refunds and what they add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refunds {
    pub refunds: Vec<RefundRecord>,
    /// The sum of the refunds that succeeded.
    pub refunded: i64,
    /// The sum of those that may still succeed or have (not failed or canceled): what
    /// a new refund must leave room for.
    pub committed: i64,
    /// Whether the order's goods went back into stock.
    pub restocked: bool,
}

/// What Stripe says about one refund.
#[derive(Debug, Clone)]
pub struct RefundReport<'a> {
    pub id: &'a str,
    /// The order, from the refund's metadata; `None` for a refund made elsewhere (the
    /// Dashboard): then the order whose PaymentIntent it refunds.
    pub order_id: Option<&'a str>,
    pub payment_intent_id: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub reason: Option<&'a str>,
    pub status: RefundStatus,
    /// Why it failed (Stripe's `failure_reason`), for a failed refund.
    pub failure_reason: Option<&'a str>,
    /// The merchant asked for the goods to go back into stock (the refund's metadata).
    pub restock: bool,
}

/// What recording a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundEffect {
    /// Recorded; `counted` when its amount was added to the order now, `restocked`
    /// when the order's goods went back into stock now.
    Recorded { counted: bool, restocked: bool },
    /// An older report than one already recorded: nothing changed.
    Stale,
    /// No such order in this shop.
    UnknownOrder,
}

impl Store {
    /// Records a report of a refund, exactly once in its effect: the order's refunded
    /// total counts each succeeded refund once (and gives it back if Stripe later says
    /// it failed), and the goods go back into stock at most once, when the merchant
    /// asked for it and the refund succeeded.
    pub async fn record_refund(&self, report: &RefundReport<'_>, now: i64) -> Result<RefundEffect, StoreError> {
        let (id, order_id, payment_intent_id, currency, reason, status) = (
            report.id.to_owned(),
            report.order_id.map(str::to_owned),
            report.payment_intent_id.to_owned(),
            report.currency.to_owned(),
            report.reason.map(str::to_owned),
            report.status,
        );
        let failure_reason = report.failure_reason.filter(|_| status == RefundStatus::Failed).map(str::to_owned);
        let (amount, restock) = (report.amount, report.restock);
        self.write(move |tx| {
            // The order first (the lock order of every payment event), then its refund.
            let order: Option<String> = match &order_id {
                Some(order_id) => tx.scalar(&format!("SELECT id FROM orders WHERE id = $1{}", tx.backend().for_update()), &[&order_id])?,
                None => tx.scalar(
                    &format!("SELECT id FROM orders WHERE payment_intent_id = $1{}", tx.backend().for_update()),
                    &[&payment_intent_id],
                )?,
            };
            let Some(order_id) = order else {
                tx.abandon();
                return Ok(RefundEffect::UnknownOrder);
            };
            let existing = tx.query_opt("SELECT status, counted FROM refunds WHERE id = $1", &[&id])?;
            let counted_before = match &existing {
                None => {
                    tx.execute(
                        "INSERT INTO refunds (id, order_id, amount, currency, reason, status, failure_reason, counted, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8)",
                        &[&id, &order_id, &amount, &currency, &reason, &status, &failure_reason, &now],
                    )?;
                    false
                }
                Some(row) => {
                    let (old, counted): (RefundStatus, i64) = (row.get("status")?, row.get("counted")?);
                    if old == status || status.stage() < old.stage() || old.is_void() {
                        tx.abandon();
                        return Ok(RefundEffect::Stale);
                    }
                    tx.execute(
                        "UPDATE refunds SET status = $1, failure_reason = $2, updated_at = $3 WHERE id = $4",
                        &[&status, &failure_reason, &now, &id],
                    )?;
                    counted == 1
                }
            };
            if status == RefundStatus::Failed {
                let body = format!(
                    "Refund {id} of order {order_id} ({}) failed: Stripe put the money back in your balance, and the shopper \
                     has not received it. Give it back to them another way.",
                    Money::shown(amount, &currency)
                );
                super::outbox::alert_merchant(tx, &order_id, &format!("refund_failed.{id}"), &body, now)?;
            }
            let succeeded = status == RefundStatus::Succeeded;
            let change = match (succeeded, counted_before) {
                (true, false) => amount,
                (false, true) => -amount,
                _ => 0,
            };
            if change != 0 {
                tx.execute(
                    "UPDATE orders SET amount_refunded = amount_refunded + $1, updated_at = $2 WHERE id = $3",
                    &[&change, &now, &order_id],
                )?;
                tx.execute("UPDATE refunds SET counted = $1 WHERE id = $2", &[&i64::from(succeeded), &id])?;
                if change > 0 {
                    // The shopper is told, once per refund.
                    tx.execute(
                        "INSERT INTO outbox (order_id, kind, body, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                        &[&order_id, &format!("refund.{id}"), &format!("Refund {id} of order {order_id} succeeded."), &now],
                    )?;
                }
            }
            let mut restocked = false;
            if restock && succeeded {
                let first =
                    tx.execute("UPDATE orders SET restocked = 1 WHERE id = $1 AND restocked = 0 AND status = 'paid'", &[&order_id])?;
                if first == 1 {
                    for (product_id, quantity) in order_quantities(tx, &order_id)? {
                        tx.execute("UPDATE inventory SET on_hand = on_hand + $1 WHERE product_id = $2", &[&quantity, &product_id])?;
                    }
                    restocked = true;
                }
            }
            Ok(RefundEffect::Recorded { counted: change > 0, restocked })
        })
        .await
    }

    /// An order's refunds, oldest first, and their totals.
    pub async fn refunds_of(&self, order_id: &str) -> Result<Refunds, StoreError> {
        let order_id = order_id.to_owned();
        self.read(move |tx| {
            let rows = tx.query(
                "SELECT id, amount, currency, reason, status, failure_reason, created_at FROM refunds
                 WHERE order_id = $1 ORDER BY created_at, id",
                &[&order_id],
            )?;
            let refunds = rows
                .iter()
                .map(|row| {
                    Ok(RefundRecord {
                        id: row.get("id")?,
                        amount: row.get("amount")?,
                        currency: row.get("currency")?,
                        reason: row.get("reason")?,
                        status: row.get("status")?,
                        failure_reason: row.get("failure_reason")?,
                        created_at: row.get("created_at")?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let totals = tx.query_opt("SELECT amount_refunded, restocked FROM orders WHERE id = $1", &[&order_id])?;
            let (refunded, restocked) = match totals {
                Some(row) => (row.get::<i64>("amount_refunded")?, row.get::<i64>("restocked")? == 1),
                None => (0, false),
            };
            let committed = refunds.iter().filter(|r| !r.status.is_void()).map(|r| r.amount).sum();
            Ok(Refunds { refunds, refunded, committed, restocked })
        })
        .await
    }
}
