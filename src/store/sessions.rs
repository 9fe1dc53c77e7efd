//! Sessions (a shopper's visit, signed in or not) and their carts.

use super::accounts::{AccountRecord, account_columns};
use super::db::Tx;
use super::inventory::stock_of_products;
use super::{Backend, Store, StoreError, count};
use std::collections::HashMap;

/// A cart's lines (product, quantity; oldest first) and its discount code.
pub type CartContents = (Vec<(String, u32)>, Option<String>);

/// Result of trying to add to a cart line atomically under a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartAdd {
    /// The line now holds this quantity.
    Added(u32),
    /// The addition would have gone past the cap; nothing changed.
    OverCap,
}

/// What the shop knows about a visitor, read for a page in one unit of work.
#[derive(Debug, Default)]
pub struct VisitRecord {
    /// The live session, if the visitor has one: when it was last seen.
    pub last_seen: Option<i64>,
    /// The account it is signed in to.
    pub account: Option<AccountRecord>,
    pub cart: CartContents,
    /// The email address the session last paid with.
    pub email: Option<String>,
    /// Where the session last shipped to (Stripe's `shipping` as JSON).
    pub shipping: Option<String>,
    /// Stock on hand of the products the page asked about.
    pub stock: HashMap<String, u32>,
}

/// A live session: `(account id if signed in, last seen)`.
pub(super) fn live_session(tx: &mut Tx<'_>, id: &str, idle_cutoff: i64) -> Result<Option<(Option<String>, i64)>, StoreError> {
    let row = tx.query_opt(
        "SELECT account_id, last_seen_at FROM sessions WHERE id = $1 AND ended_at IS NULL AND last_seen_at > $2",
        &[&id, &idle_cutoff],
    )?;
    row.map(|row| Ok((row.get("account_id")?, row.get("last_seen_at")?))).transpose()
}

/// A session's cart lines (oldest first) and its discount code.
pub(super) fn cart(tx: &mut Tx<'_>, session_id: &str) -> Result<CartContents, StoreError> {
    let rows = tx.query(
        "SELECT c.product_id, c.quantity, s.discount_code FROM sessions s
         LEFT JOIN cart_lines c ON c.session_id = s.id WHERE s.id = $1 ORDER BY c.added_at, c.product_id",
        &[&session_id],
    )?;
    let code = match rows.first() {
        Some(row) => row.get("discount_code")?,
        None => None,
    };
    let mut lines = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(product) = row.get::<Option<String>>("product_id")? {
            lines.push((product, count(row.get("quantity")?)));
        }
    }
    Ok((lines, code))
}

/// Serializes the write transactions of one session (on SQLite they already are).
pub(super) fn lock_session(tx: &mut Tx<'_>, session_id: &str) -> Result<(), StoreError> {
    if tx.backend() == Backend::Postgres {
        tx.query_opt("SELECT id FROM sessions WHERE id = $1 FOR UPDATE", &[&session_id])?;
    }
    Ok(())
}

pub(super) fn cart_is_empty(tx: &mut Tx<'_>, session_id: &str) -> Result<bool, StoreError> {
    let lines: i64 = tx.one("SELECT COUNT(*) FROM cart_lines WHERE session_id = $1", &[&session_id])?;
    Ok(lines == 0)
}

impl Store {
    pub async fn create_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |tx| tx.execute("INSERT INTO sessions (id, created_at, last_seen_at) VALUES ($1, $2, $2)", &[&id, &now]).map(drop))
            .await
    }
    /// A live session: not ended, and seen after `idle_cutoff`. `Some((account id if
    /// signed in, last seen))`.
    pub async fn live_session(&self, id: &str, idle_cutoff: i64) -> Result<Option<(Option<String>, i64)>, StoreError> {
        let id = id.to_owned();
        self.read(move |tx| live_session(tx, &id, idle_cutoff)).await
    }
    /// A page's visitor in one read: the session `id` names if it is live (seen after
    /// `idle_cutoff`), its account, cart and last email, and the stock of `products`.
    pub async fn visit(&self, id: Option<&str>, idle_cutoff: i64, products: Vec<String>) -> Result<VisitRecord, StoreError> {
        let id = id.map(str::to_owned);
        self.read(move |tx| {
            let mut visit = VisitRecord { stock: stock_of_products(tx, &products)?, ..VisitRecord::default() };
            let Some(id) = id else { return Ok(visit) };
            let row = tx.query_opt(
                concat!(
                    "SELECT s.last_seen_at, s.email AS session_email, s.shipping AS session_shipping, ",
                    account_columns!(),
                    " FROM sessions s LEFT JOIN accounts a ON a.id = s.account_id
                     WHERE s.id = $1 AND s.ended_at IS NULL AND s.last_seen_at > $2"
                ),
                &[&id, &idle_cutoff],
            )?;
            let Some(row) = row else { return Ok(visit) };
            visit.last_seen = Some(row.get("last_seen_at")?);
            visit.email = row.get("session_email")?;
            visit.shipping = row.get("session_shipping")?;
            visit.account = match row.get::<Option<String>>("id")? {
                Some(_) => Some(super::accounts::account_from(&row)?),
                None => None,
            };
            visit.cart = cart(tx, &id)?;
            Ok(visit)
        })
        .await
    }
    /// Moves a session's idle expiry on.
    pub async fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |tx| {
            tx.execute("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1", &[&now, &id]).map(drop)
        })
        .await
    }
    /// Forgets live sessions idle since `idle_cutoff`: deleted (with their carts) when
    /// no order or subscription names them, otherwise ended and their carts emptied,
    /// since those name them. A session with an order still being paid (`pending`, `confirming`) is
    /// left alone. Returns how many sessions were deleted or ended.
    pub async fn expire_sessions(&self, idle_cutoff: i64, now: i64) -> Result<u64, StoreError> {
        const IDLE: &str = "ended_at IS NULL AND last_seen_at <= $1";
        const IN_FLIGHT: &str =
            "EXISTS (SELECT 1 FROM orders o WHERE o.session_id = sessions.id AND o.status IN ('pending', 'confirming'))";
        self.write(move |tx| {
            let deleted = tx.execute(
                &format!(
                    "DELETE FROM sessions WHERE {IDLE} AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.session_id = sessions.id)
                     AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.session_id = sessions.id)"
                ),
                &[&idle_cutoff],
            )?;
            tx.execute(
                &format!("DELETE FROM cart_lines WHERE session_id IN (SELECT id FROM sessions WHERE {IDLE} AND NOT {IN_FLIGHT})"),
                &[&idle_cutoff],
            )?;
            let ended =
                tx.execute(&format!("UPDATE sessions SET ended_at = $2 WHERE {IDLE} AND NOT {IN_FLIGHT}"), &[&idle_cutoff, &now])?;
            Ok(deleted + ended)
        })
        .await
    }
    /// The discount code a session applied, if any.
    pub async fn set_session_discount(&self, session_id: &str, code: Option<&str>) -> Result<(), StoreError> {
        let (session_id, code) = (session_id.to_owned(), code.map(str::to_owned));
        self.write(move |tx| tx.execute("UPDATE sessions SET discount_code = $1 WHERE id = $2", &[&code, &session_id]).map(drop)).await
    }
    /// A session's cart lines (oldest first) and its discount code, in one statement.
    pub async fn cart(&self, session_id: &str) -> Result<CartContents, StoreError> {
        let session_id = session_id.to_owned();
        self.read(move |tx| cart(tx, &session_id)).await
    }
    /// Adds `quantity` to a line in one statement, refusing (and changing nothing) when
    /// the line would exceed `cap`; concurrent additions cannot overshoot it.
    pub async fn add_to_cart(&self, session_id: &str, product_id: &str, quantity: u32, cap: u32, now: i64) -> Result<CartAdd, StoreError> {
        if quantity > cap {
            return Ok(CartAdd::OverCap);
        }
        let (session_id, product_id) = (session_id.to_owned(), product_id.to_owned());
        self.write(move |tx| {
            let new_quantity: Option<i64> = tx.scalar(
                "INSERT INTO cart_lines (session_id, product_id, quantity, added_at) VALUES ($1, $2, $3, $5)
                 ON CONFLICT (session_id, product_id)
                 DO UPDATE SET quantity = cart_lines.quantity + excluded.quantity
                 WHERE cart_lines.quantity + excluded.quantity <= $4
                 RETURNING quantity",
                &[&session_id, &product_id, &i64::from(quantity), &i64::from(cap), &now],
            )?;
            Ok(new_quantity.map_or(CartAdd::OverCap, |q| CartAdd::Added(count(q))))
        })
        .await
    }
    /// Sets a line's quantity, creating the line if needed.
    pub async fn set_cart_quantity(&self, session_id: &str, product_id: &str, quantity: u32, now: i64) -> Result<(), StoreError> {
        let (session_id, product_id) = (session_id.to_owned(), product_id.to_owned());
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO cart_lines (session_id, product_id, quantity, added_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (session_id, product_id) DO UPDATE SET quantity = excluded.quantity",
                &[&session_id, &product_id, &i64::from(quantity), &now],
            )
            .map(drop)
        })
        .await
    }
    pub async fn remove_cart_line(&self, session_id: &str, product_id: &str) -> Result<(), StoreError> {
        let (session_id, product_id) = (session_id.to_owned(), product_id.to_owned());
        self.write(move |tx| {
            tx.execute("DELETE FROM cart_lines WHERE session_id = $1 AND product_id = $2", &[&session_id, &product_id]).map(drop)
        })
        .await
    }
}
