//! The outbox: messages to shoppers, written in the same transaction as what they tell
//! (an order paid, a delayed payment failed), and to the merchant when an order needs
//! them (`merchant.…`: a dispute, a refund that failed, an oversold order), one per
//! order and kind, and sent at least once by `crate::mail`. A message is claimed for a while before it is sent, so
//! that with several instances one sends it; then it is marked sent, or due again
//! later, or failed for good.

use super::db::{Row, Tx};
use super::{Backend, Store, StoreError};

/// A message to send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMessage {
    pub order_id: String,
    /// `order_confirmation`, `payment_failed`, `refund.{re_…}`, or `merchant.{what}`
    /// for the merchant.
    pub kind: String,
    /// What it says, in one line: the text of a message to the merchant.
    pub body: String,
    /// How many tries failed before this one.
    pub attempts: i64,
}

/// A message as the merchant's order view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub kind: String,
    /// What it says, in one line (the log's wording).
    pub body: String,
    /// `sent`, `failed` (for good) or `waiting` (not yet, or being retried).
    pub status: &'static str,
    pub last_error: Option<String>,
}

impl Backend {
    /// The clause that skips rows another transaction has locked (PostgreSQL: each
    /// instance claims other messages; SQLite has one writer at a time anyway).
    fn skip_locked(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

/// Queues a message to the merchant about `order_id`, once per order and `what` (kind
/// `merchant.{what}`): `body` says in a line what happened and what to do; the email
/// links to the order's page. A new message puts the order among those flagged in the
/// merchant's list (`flagged_at`), again if the merchant had marked it handled; the
/// same news told again does not. Under the order's lock (its callers hold it already),
/// so that the merchant marking the order handled meanwhile sees this message or is
/// seen by it.
pub(super) fn alert_merchant(tx: &mut Tx<'_>, order_id: &str, what: &str, body: &str, now: i64) -> Result<(), StoreError> {
    super::orders::lock_order(tx, order_id)?;
    let queued = tx.execute(
        "INSERT INTO outbox (order_id, kind, body, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[&order_id, &format!("merchant.{what}"), &body, &now],
    )?;
    if queued > 0 {
        tx.execute("UPDATE orders SET flagged_at = $2 WHERE id = $1 AND flagged_at IS NULL", &[&order_id, &now])?;
    }
    Ok(())
}

const DUE: &str = "sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 AND claimed_until <= $1";

impl Store {
    /// Claims up to `limit` messages due at `now` for `lease_secs`: until then no other
    /// sender takes them (if this one dies meanwhile, they are due again after it).
    pub async fn claim_messages(&self, now: i64, lease_secs: i64, limit: i64) -> Result<Vec<DueMessage>, StoreError> {
        // Most of the time nothing is due: find that out without the write lock.
        let any: Option<i64> = self.read(move |tx| tx.scalar(&format!("SELECT 1 FROM outbox WHERE {DUE} LIMIT 1"), &[&now])).await?;
        if any.is_none() {
            return Ok(Vec::new());
        }
        self.write(move |tx| {
            let rows = tx.query(
                &format!(
                    "SELECT order_id, kind, body, attempts FROM outbox WHERE {DUE} ORDER BY next_attempt_at LIMIT $2{}",
                    tx.backend().skip_locked()
                ),
                &[&now, &limit],
            )?;
            let mut claimed = Vec::with_capacity(rows.len());
            for row in &rows {
                let message = DueMessage {
                    order_id: row.get("order_id")?,
                    kind: row.get("kind")?,
                    body: row.get("body")?,
                    attempts: row.get("attempts")?,
                };
                tx.execute(
                    "UPDATE outbox SET claimed_until = $1 WHERE order_id = $2 AND kind = $3",
                    &[&(now + lease_secs), &message.order_id, &message.kind],
                )?;
                claimed.push(message);
            }
            Ok(claimed)
        })
        .await
    }

    /// The message went out.
    pub async fn message_sent(&self, message: &DueMessage, now: i64) -> Result<(), StoreError> {
        let message = message.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE outbox SET sent_at = $1, claimed_until = 0, last_error = NULL WHERE order_id = $2 AND kind = $3",
                &[&now, &message.order_id, &message.kind],
            )?;
            Ok(())
        })
        .await
    }

    /// Sending failed: due again at `retry_at`, or (`None`) failed for good (the server
    /// refused the address, or too many tries), which the merchant's order view shows.
    pub async fn message_not_sent(&self, message: &DueMessage, now: i64, retry_at: Option<i64>, error: &str) -> Result<(), StoreError> {
        let (message, error) = (message.to_owned(), error.to_owned());
        self.write(move |tx| {
            tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = COALESCE($1, next_attempt_at),
                        failed_at = CASE WHEN $1 IS NULL THEN $2 END, claimed_until = 0, last_error = $3
                 WHERE order_id = $4 AND kind = $5",
                &[&retry_at, &now, &error, &message.order_id, &message.kind],
            )?;
            Ok(())
        })
        .await
    }

    /// An order's messages, oldest first.
    pub async fn outbox_for(&self, order_id: &str) -> Result<Vec<OutboxEntry>, StoreError> {
        let order_id = order_id.to_owned();
        self.read(move |tx| {
            let rows = tx.query(
                "SELECT kind, body, sent_at, failed_at, last_error FROM outbox WHERE order_id = $1 ORDER BY created_at",
                &[&order_id],
            )?;
            let entry = |row: &Row| -> Result<OutboxEntry, StoreError> {
                let (sent, failed): (Option<i64>, Option<i64>) = (row.get("sent_at")?, row.get("failed_at")?);
                Ok(OutboxEntry {
                    kind: row.get("kind")?,
                    body: row.get("body")?,
                    status: match (sent, failed) {
                        (Some(_), _) => "sent",
                        (None, Some(_)) => "failed",
                        (None, None) => "waiting",
                    },
                    last_error: row.get("last_error")?,
                })
            };
            rows.iter().map(entry).collect::<Result<_, _>>()
        })
        .await
    }
}
