//! The database: connection pools, migrations, and every SQL statement of the app.
//! Features call the typed methods here and never write SQL themselves.
//!
//! Two backends, chosen by `DATABASE_URL`: SQLite (`sqlite://path`, one process) and
//! PostgreSQL (`postgres://…`, any number of instances). The statements are written
//! once, in the SQL both understand (`$n` parameters, `ON CONFLICT`, `RETURNING`); the
//! migrations are shared too. Each unit of work is one closure over a [`Tx`], handed
//! once to where its connection is ([`db`]). Where the backends differ is how a write
//! transaction keeps concurrent writers out, see [`Store::write`].

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

mod accounts;
mod db;
mod limits;
mod outbox;
mod refunds;
#[cfg(test)]
mod testing;
pub use accounts::{AccountRecord, SignIn};
use db::{Row, Tx};
pub use limits::Limit;
pub use outbox::{DueMessage, OutboxEntry};
pub use refunds::{RefundEffect, RefundRecord, RefundReport, Refunds};

/// A database fault. Its text is for the log, never for the browser.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("the database work was interrupted")]
    Interrupted,
    #[error("SQLite: {0}")]
    Sqlite(String),
    #[error("unexpected column: {0}")]
    Column(String),
    #[error("DATABASE_URL names `{0}`, which is not supported: use sqlite://path or postgres://user@host/database")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// Whether the database could not be reached (as opposed to refusing a statement):
    /// the connection failed or dropped, the pool had none to give in time, or the
    /// server is shutting down or starting up.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(error) => match error {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_) => true,
                // PostgreSQL: class 08 (connection exception), 57P01-57P03 (shutting
                // down, crash recovery, not yet accepting connections).
                sqlx::Error::Database(db) => {
                    db.code().is_some_and(|code| code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03"))
                }
                _ => false,
            },
            _ => false,
        }
    }
}

/// Handle to the order store; cheap to clone.
///
/// SQLite lets one writer in at a time: writes queue for a single connection, in order,
/// instead of several connections taking turns through SQLite's busy handler (which
/// sleeps, and made the slowest writes wait hundreds of milliseconds under load), and
/// the units of work queued meanwhile share one commit. Reads run in parallel on
/// connections of their own; WAL lets them proceed while the writer commits.
/// PostgreSQL takes concurrent writers itself, from a pool.
#[derive(Clone)]
pub struct Store {
    db: Arc<Db>,
    backend: Backend,
}

enum Db {
    Sqlite(db::Sqlite),
    Postgres(AnyPool),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish_non_exhaustive()
    }
}

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

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

/// The schema's migrations: those of `migrations/`, shared by both backends, and the
/// few that must differ (`migrations/sqlite/`, `migrations/postgres/`), in version order.
#[derive(Debug)]
struct Migrations(Vec<sqlx::migrate::Migration>);

impl<'s> sqlx::migrate::MigrationSource<'s> for Migrations {
    #[allow(clippy::type_complexity)] // the trait's signature (a BoxFuture)
    fn resolve(
        self,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<sqlx::migrate::Migration>, sqlx::error::BoxDynError>> + Send + 's>> {
        let mut migrations = self.0;
        migrations.sort_by_key(|migration| migration.version);
        Box::pin(std::future::ready(Ok(migrations)))
    }
}

impl Store {
    /// Opens (creating a SQLite file if needed) the database and applies pending
    /// migrations (several instances starting at once apply them once: sqlx's migrator
    /// takes a lock).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(url.split(':').next().unwrap_or_default().to_owned()));
        };
        let specific = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        let migrations = sqlx::migrate!("./migrations").iter().chain(specific.iter()).cloned().collect();
        let migrator = sqlx::migrate::Migrator::new(Migrations(migrations)).await?;
        let db = match backend {
            Backend::Sqlite => {
                // sqlx applies the migrations (one connection, closed after); the store
                // then runs on its own connections.
                let separator = if url.contains('?') { '&' } else { '?' };
                let with_mode = if url.contains("mode=") { url.to_owned() } else { format!("{url}{separator}mode=rwc") };
                let pool = AnyPoolOptions::new().max_connections(1).connect(&with_mode).await?;
                migrator.run(&pool).await?;
                pool.close().await;
                let path = url.trim_start_matches("sqlite:");
                let path = path.strip_prefix("//").unwrap_or(path);
                Db::Sqlite(db::Sqlite::open(path.split('?').next().unwrap_or_default())?)
            }
            Backend::Postgres => {
                // Checked before use (the default): a connection the server dropped
                // (a restart, a failover) is replaced instead of failing a request.
                let pool = AnyPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(5)).connect(url).await?;
                migrator.run(&pool).await?;
                Db::Postgres(pool)
            }
        };
        Ok(Store { db: Arc::new(db), backend })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs a write transaction, to its end even if the caller stops waiting. On SQLite
    /// the writer holds the database's write lock (`BEGIN IMMEDIATE`), so two writers
    /// never both read a state only one may act on. PostgreSQL lets writers run side by
    /// side: the statements that must not interleave lock what they read
    /// ([`lock_session`], [`lock_order`], [`Backend::for_update`]). Every transaction
    /// takes its locks in one order, so none can wait for another in a circle (a
    /// deadlock, which PostgreSQL breaks by failing one): session, then order, then
    /// inventory rows by product id, then cart lines.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match &*self.db {
            Db::Sqlite(sqlite) => sqlite.write(work).await,
            Db::Postgres(pool) => db::postgres(pool, true, work).await,
        }
    }

    /// Runs reads in one transaction (one snapshot).
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        match &*self.db {
            Db::Sqlite(sqlite) => sqlite.read(work),
            Db::Postgres(pool) => db::postgres(pool, false, work).await,
        }
    }

    /// A trivial query, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|tx| tx.query("SELECT 1", &[]).map(drop)).await
    }

    // ---- inventory -------------------------------------------------------------

    /// Records the starting stock of products the database has not seen yet; stock of
    /// known products is left alone (the database owns it after the first sight).
    pub async fn seed_inventory<'a>(&self, items: impl IntoIterator<Item = (&'a str, u32)>) -> Result<(), StoreError> {
        let items: Vec<(String, i64)> = items.into_iter().map(|(id, stock)| (id.to_owned(), stock.into())).collect();
        self.write(move |tx| {
            for (product_id, on_hand) in &items {
                tx.execute(
                    "INSERT INTO inventory (product_id, on_hand) VALUES ($1, $2) ON CONFLICT (product_id) DO NOTHING",
                    &[product_id, on_hand],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Stock on hand of these products (one indexed lookup each, in one statement).
    pub async fn stock_of_products(&self, product_ids: &[&str]) -> Result<HashMap<String, u32>, StoreError> {
        let ids: Vec<String> = product_ids.iter().map(|id| (*id).to_owned()).collect();
        self.read(move |tx| stock_of_products(tx, &ids)).await
    }

    /// Stock on hand of one product (0 when unknown).
    pub async fn stock_of(&self, product_id: &str) -> Result<u32, StoreError> {
        let product_id = product_id.to_owned();
        self.read(move |tx| Ok(tx.scalar("SELECT on_hand FROM inventory WHERE product_id = $1", &[&product_id])?.map_or(0, count))).await
    }

    // ---- sessions --------------------------------------------------------------

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

    /// The email address the session last paid with (to prefill the next checkout).
    pub async fn session_email(&self, id: &str) -> Result<Option<String>, StoreError> {
        let id = id.to_owned();
        self.read(move |tx| Ok(tx.scalar::<Option<String>>("SELECT email FROM sessions WHERE id = $1", &[&id])?.flatten())).await
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
    /// no order names them, otherwise ended and their carts emptied, since their orders
    /// name them. A session with an order still being paid (`pending`, `confirming`) is
    /// left alone. Returns how many sessions were deleted or ended.
    pub async fn expire_sessions(&self, idle_cutoff: i64, now: i64) -> Result<u64, StoreError> {
        const IDLE: &str = "ended_at IS NULL AND last_seen_at <= $1";
        const IN_FLIGHT: &str =
            "EXISTS (SELECT 1 FROM orders o WHERE o.session_id = sessions.id AND o.status IN ('pending', 'confirming'))";
        self.write(move |tx| {
            let deleted = tx.execute(
                &format!("DELETE FROM sessions WHERE {IDLE} AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.session_id = sessions.id)"),
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

    pub async fn session_exists(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.read(move |tx| Ok(tx.scalar::<i64>("SELECT 1 FROM sessions WHERE id = $1 AND ended_at IS NULL", &[&id])?.is_some())).await
    }

    /// The discount code a session applied, if any.
    pub async fn set_session_discount(&self, session_id: &str, code: Option<&str>) -> Result<(), StoreError> {
        let (session_id, code) = (session_id.to_owned(), code.map(str::to_owned));
        self.write(move |tx| tx.execute("UPDATE sessions SET discount_code = $1 WHERE id = $2", &[&code, &session_id]).map(drop)).await
    }

    // ---- carts -----------------------------------------------------------------

    /// A session's cart lines (oldest first) and its discount code, in one statement.
    pub async fn cart(&self, session_id: &str) -> Result<CartContents, StoreError> {
        let session_id = session_id.to_owned();
        self.read(move |tx| cart(tx, &session_id)).await
    }

    pub async fn cart_lines(&self, session_id: &str) -> Result<Vec<(String, u32)>, StoreError> {
        let session_id = session_id.to_owned();
        self.read(move |tx| {
            let rows = tx
                .query("SELECT product_id, quantity FROM cart_lines WHERE session_id = $1 ORDER BY added_at, product_id", &[&session_id])?;
            rows.iter().map(|row| Ok((row.get("product_id")?, count(row.get("quantity")?)))).collect()
        })
        .await
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

/// Stock on hand of these products (one indexed lookup each, in one statement).
fn stock_of_products(tx: &mut Tx<'_>, product_ids: &[String]) -> Result<HashMap<String, u32>, StoreError> {
    if product_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders = (1..=product_ids.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
    let params: Vec<&dyn db::ToParam> = product_ids.iter().map(|id| id as &dyn db::ToParam).collect();
    let rows = tx.query(&format!("SELECT product_id, on_hand FROM inventory WHERE product_id IN ({placeholders})"), &params)?;
    rows.iter().map(|row| Ok((row.get("product_id")?, count(row.get("on_hand")?)))).collect()
}

/// A live session: `(account id if signed in, last seen)`.
fn live_session(tx: &mut Tx<'_>, id: &str, idle_cutoff: i64) -> Result<Option<(Option<String>, i64)>, StoreError> {
    let row = tx.query_opt(
        "SELECT account_id, last_seen_at FROM sessions WHERE id = $1 AND ended_at IS NULL AND last_seen_at > $2",
        &[&id, &idle_cutoff],
    )?;
    row.map(|row| Ok((row.get("account_id")?, row.get("last_seen_at")?))).transpose()
}

/// A session's cart lines (oldest first) and its discount code.
fn cart(tx: &mut Tx<'_>, session_id: &str) -> Result<CartContents, StoreError> {
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

/// A priced cart line, copied into an order.
#[derive(Debug, Clone)]
pub struct OrderLine {
    pub product_id: String,
    pub name: String,
    pub unit_amount: i64,
    pub quantity: u32,
}

/// An order to create from a priced cart.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: String,
    /// What will be charged (after any discount).
    pub amount: i64,
    pub discount_amount: i64,
    /// The code behind `discount_amount`.
    pub discount_code: Option<String>,
    pub currency: String,
    pub lines: Vec<OrderLine>,
    /// Where the order's emails go (`None`: the shopper gave none).
    pub email: Option<String>,
    /// The language the shopper paid in (its emails are written in it).
    pub locale: String,
}

/// One attempt to pay an order, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub order_id: String,
    pub number: i64,
    pub confirmation_token_id: String,
    pub idempotency_key: String,
    pub amount: i64,
    pub currency: String,
    pub payment_intent_id: Option<String>,
    /// `None` while Stripe's answer is unknown.
    pub outcome: Option<String>,
    /// The Stripe Customer the payment is for (a signed-in shopper's).
    pub customer_id: Option<String>,
    /// The form body first sent to Stripe for this attempt (replayed as it is).
    pub request_body: Option<String>,
}

/// What Stripe said of an attempt, to record.
#[derive(Debug, Clone, Copy)]
pub struct AttemptResult<'a> {
    pub payment_intent_id: Option<&'a str>,
    /// Stripe's status, or a decline code, or why nothing was sent.
    pub outcome: &'a str,
    /// Where the order goes (unless it is already paid or canceled).
    pub order_status: &'a str,
    /// The payment went through: the order's lines leave the cart (once).
    pub clear_cart: bool,
    pub details: Option<&'a PaymentDetails>,
}

/// What the merchant needs to know of a payment: where to ship, and what paid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentDetails {
    /// The shipping address as JSON (`{name, phone, address{line1, …}}`).
    pub shipping: Option<String>,
    pub payment_method_id: Option<String>,
    /// `card`, `sepa_debit`, …
    pub payment_method_type: Option<String>,
    pub card_brand: Option<String>,
    pub last4: Option<String>,
}

/// What `start_attempt` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptStart {
    /// A new attempt, recorded before calling Stripe.
    New(Attempt),
    /// This token was already used by this session: the same attempt again.
    Replay(Attempt),
    /// An earlier attempt's outcome is unknown; it must be resolved first.
    Unresolved(Attempt),
    /// The token was used by someone else.
    TokenUsedElsewhere,
    /// The cart is empty (it may have just become an order by a concurrent request).
    CartEmpty,
    /// Not enough of a product is left (others reserved or bought it since the cart was
    /// filled): nothing was recorded or reserved.
    OutOfStock { name: String, available: u32 },
}

/// A line of the merchant's order list.
#[derive(Debug, Clone)]
pub struct OrderSummary {
    pub id: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub flag: Option<String>,
    pub created_at: i64,
    /// What Stripe took (all of `amount` unless a capture took less).
    pub charged: i64,
    /// What went back (refunds that succeeded).
    pub refunded: i64,
}

impl OrderSummary {
    pub fn shown_status(&self) -> &str {
        shown_status(&self.status, self.charged, self.refunded)
    }
}

/// The status the shopper and the merchant see. A paid order that money went back to
/// shows as `partially_refunded` or `refunded`: its payment status stays `paid` (the
/// payment did go through), and the refunded total, counted once per refund, says
/// the rest.
pub fn shown_status(status: &str, charged: i64, refunded: i64) -> &str {
    match status {
        "paid" if refunded > 0 && refunded >= charged => "refunded",
        "paid" if refunded > 0 => "partially_refunded",
        status => status,
    }
}

/// The columns of an [`OrderSummary`], for `SELECT … FROM orders`.
pub(crate) const SUMMARY_COLUMNS: &str =
    "id, status, amount, currency, flag, created_at, COALESCE(amount_received, amount) AS charged, amount_refunded";

/// An order as its status page shows it.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub id: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub discount_amount: i64,
    pub discount_code: Option<String>,
    pub payment_intent_id: Option<String>,
    pub created_at: i64,
    /// When its status last changed.
    pub updated_at: i64,
    /// What Stripe took (all of `amount` unless a capture took less).
    pub charged: i64,
    /// What went back (refunds that succeeded).
    pub refunded: i64,
    /// Where its emails go, and in which language (`None`: the shop's default).
    pub email: Option<String>,
    pub locale: Option<String>,
    pub lines: Vec<OrderLine>,
    pub details: PaymentDetails,
}

impl OrderRecord {
    pub fn shown_status(&self) -> &str {
        shown_status(&self.status, self.charged, self.refunded)
    }
}

/// `orders o` belongs to the session bound as the last parameter: placed in it, or
/// placed by the account the session is signed in to.
const OWNED_BY_SESSION: &str = "(o.session_id = $2 OR o.account_id = (SELECT account_id FROM sessions WHERE id = $2 AND ended_at IS NULL))";

const ATTEMPT_COLUMNS: &str = "pa.order_id, pa.attempt, pa.confirmation_token_id, pa.idempotency_key, pa.amount, pa.currency, \
     pa.payment_intent_id, pa.outcome, pa.customer_id, pa.request_body";

fn cart_is_empty(tx: &mut Tx<'_>, session_id: &str) -> Result<bool, StoreError> {
    let lines: i64 = tx.one("SELECT COUNT(*) FROM cart_lines WHERE session_id = $1", &[&session_id])?;
    Ok(lines == 0)
}

/// The attempt that used `token`, and whether it belongs to `session_id`.
fn token_attempt(tx: &mut Tx<'_>, token: &str, session_id: &str) -> Result<Option<(Attempt, bool)>, StoreError> {
    let row = tx.query_opt(
        &format!(
            "SELECT {ATTEMPT_COLUMNS}, o.session_id FROM payment_attempts pa JOIN orders o ON o.id = pa.order_id
         WHERE pa.confirmation_token_id = $1"
        ),
        &[&token],
    )?;
    let Some(row) = row else { return Ok(None) };
    let owner: String = row.get("session_id")?;
    Ok(Some((attempt_from(&row)?, owner == session_id)))
}

/// A row of `SELECT id, status, amount, currency, flag, created_at FROM orders`.
fn order_summary_from(row: &Row) -> Result<OrderSummary, StoreError> {
    Ok(OrderSummary {
        id: row.get("id")?,
        status: row.get("status")?,
        amount: row.get("amount")?,
        currency: row.get("currency")?,
        flag: row.get("flag")?,
        created_at: row.get("created_at")?,
        charged: row.get("charged")?,
        refunded: row.get("amount_refunded")?,
    })
}

fn attempt_from(row: &Row) -> Result<Attempt, StoreError> {
    Ok(Attempt {
        order_id: row.get("order_id")?,
        number: row.get("attempt")?,
        confirmation_token_id: row.get("confirmation_token_id")?,
        idempotency_key: row.get("idempotency_key")?,
        amount: row.get("amount")?,
        currency: row.get("currency")?,
        payment_intent_id: row.get("payment_intent_id")?,
        outcome: row.get("outcome")?,
        customer_id: row.get("customer_id")?,
        request_body: row.get("request_body")?,
    })
}

impl Store {
    /// Records an attempt to pay the session's open order with `token` (the open order
    /// is brought up to date with `order`, or `order` is created when there is none), in
    /// one transaction. The idempotency key is `{order}-attempt-{n}`. `token` is the
    /// ConfirmationToken (or, on the legacy path, the PaymentMethod) the attempt pays
    /// with; `customer` the signed-in shopper's Stripe Customer. `request` makes the
    /// form body the attempt will send to Stripe, recorded with it in the same
    /// transaction, so that every retry sends exactly these bytes.
    pub async fn start_attempt(
        &self,
        session_id: &str,
        order: &NewOrder,
        token: &str,
        customer: Option<&str>,
        now: i64,
        request: impl FnOnce(&Attempt) -> Option<String> + Send + 'static,
    ) -> Result<AttemptStart, StoreError> {
        let (session_id, order, token, customer) = (session_id.to_owned(), order.clone(), token.to_owned(), customer.map(str::to_owned));
        self.write(move |tx| start_attempt(tx, &session_id, &order, &token, customer.as_deref(), now, request)).await
    }
}

fn start_attempt(
    tx: &mut Tx<'_>,
    session_id: &str,
    order: &NewOrder,
    token: &str,
    customer: Option<&str>,
    now: i64,
    request: impl FnOnce(&Attempt) -> Option<String>,
) -> Result<AttemptStart, StoreError> {
    let (amount, currency, lines) = (order.amount, order.currency.as_str(), &order.lines);
    // Two requests of one session queue here instead of both reading "no attempt in
    // flight".
    lock_session(tx, session_id)?;
    if let Some((attempt, own)) = token_attempt(tx, token, session_id)? {
        tx.abandon();
        return Ok(if own { AttemptStart::Replay(attempt) } else { AttemptStart::TokenUsedElsewhere });
    }
    if let Some(email) = &order.email {
        // Remembered for the session's next checkout.
        tx.execute("UPDATE sessions SET email = $1 WHERE id = $2", &[&email, &session_id])?;
    }
    let open: Option<String> = tx.scalar(
        "SELECT id FROM orders WHERE session_id = $1 AND status IN ('pending', 'failed') ORDER BY created_at DESC LIMIT 1",
        &[&session_id],
    )?;
    let order_id = match open {
        Some(order_id) => {
            let unresolved = tx.query_opt(
                &format!("SELECT {ATTEMPT_COLUMNS} FROM payment_attempts pa WHERE pa.order_id = $1 AND pa.outcome IS NULL"),
                &[&order_id],
            )?;
            if let Some(row) = unresolved {
                let attempt = attempt_from(&row)?;
                tx.abandon();
                return Ok(AttemptStart::Unresolved(attempt));
            }
            if cart_is_empty(tx, session_id)? {
                tx.abandon();
                return Ok(AttemptStart::CartEmpty);
            }
            tx.execute("UPDATE orders SET amount = $1, discount_amount = $2, currency = $3, updated_at = $4, discount_code = $5, email = $6, locale = $7
                     WHERE id = $8", &[&amount, &order.discount_amount, &currency, &now, &order.discount_code, &order.email, &order.locale, &order_id])?;
            release_stock(tx, &order_id)?;
            tx.execute("DELETE FROM order_lines WHERE order_id = $1", &[&order_id])?;
            order_id
        }
        None => {
            // The cart was priced before this transaction; if a concurrent payment
            // turned it into an order meanwhile, there is nothing left to pay for.
            if cart_is_empty(tx, session_id)? {
                tx.abandon();
                return Ok(AttemptStart::CartEmpty);
            }
            tx.execute("INSERT INTO orders (id, session_id, account_id, status, amount, discount_amount, discount_code, currency, created_at, updated_at,
                                         email, locale)
                     VALUES ($1, $2, (SELECT account_id FROM sessions WHERE id = $2), 'pending', $3, $4, $5, $6, $7, $8, $9, $10)", &[&order.id, &session_id, &amount, &order.discount_amount, &order.discount_code, &currency, &now, &now, &order.email, &order.locale])?;
            order.id.clone()
        }
    };
    for line in lines {
        tx.execute(
            "INSERT INTO order_lines (order_id, product_id, name, unit_amount, quantity) VALUES ($1, $2, $3, $4, $5)",
            &[&order_id, &line.product_id, &line.name, &line.unit_amount, &i64::from(line.quantity)],
        )?;
    }
    if let Some((name, available)) = reserve_stock(tx, &order_id, lines)? {
        tx.abandon();
        return Ok(AttemptStart::OutOfStock { name, available });
    }
    let number: i64 = tx.one("SELECT COALESCE(MAX(attempt), 0) + 1 FROM payment_attempts WHERE order_id = $1", &[&order_id])?;
    let mut attempt = Attempt {
        idempotency_key: format!("{order_id}-attempt-{number}"),
        order_id,
        number,
        confirmation_token_id: token.to_owned(),
        amount,
        currency: currency.to_owned(),
        payment_intent_id: None,
        outcome: None,
        customer_id: customer.map(str::to_owned),
        request_body: None,
    };
    attempt.request_body = request(&attempt);
    tx.execute("INSERT INTO payment_attempts (order_id, attempt, confirmation_token_id, idempotency_key, amount, currency, created_at, customer_id, request_body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", &[&attempt.order_id, &attempt.number, &attempt.confirmation_token_id, &attempt.idempotency_key, &attempt.amount, &attempt.currency, &now, &attempt.customer_id, &attempt.request_body])?;
    Ok(AttemptStart::New(attempt))
}

impl Store {
    /// The attempt that used `token`, and whether it was this session's.
    pub async fn attempt_for_token(&self, token: &str, session_id: &str) -> Result<Option<(Attempt, bool)>, StoreError> {
        let (token, session_id) = (token.to_owned(), session_id.to_owned());
        self.read(move |tx| token_attempt(tx, &token, &session_id)).await
    }

    /// Records Stripe's answer to an attempt and moves its order to `order_status`,
    /// unless the order is already paid or canceled (states only move forward). With
    /// `clear_cart`, the order's lines leave its session's cart in the same
    /// transaction, once (see [`clear_ordered_lines`]).
    pub async fn finish_attempt(&self, attempt: &Attempt, result: AttemptResult<'_>, now: i64) -> Result<(), StoreError> {
        let attempt = attempt.clone();
        let (intent, outcome, status, details) = (
            result.payment_intent_id.map(str::to_owned),
            result.outcome.to_owned(),
            result.order_status.to_owned(),
            result.details.cloned(),
        );
        let clear_cart = result.clear_cart;
        self.write(move |tx| {
            let result = AttemptResult {
                payment_intent_id: intent.as_deref(),
                outcome: &outcome,
                order_status: &status,
                clear_cart,
                details: details.as_ref(),
            };
            finish_attempt(tx, &attempt, result, now)
        })
        .await
    }
}

fn finish_attempt(tx: &mut Tx<'_>, attempt: &Attempt, result: AttemptResult<'_>, now: i64) -> Result<(), StoreError> {
    let AttemptResult { payment_intent_id, outcome, order_status, clear_cart, details } = result;
    lock_order(tx, &attempt.order_id)?;
    tx.execute("UPDATE payment_attempts SET payment_intent_id = COALESCE($1, payment_intent_id), outcome = $2 WHERE order_id = $3 AND attempt = $4", &[&payment_intent_id, &outcome, &attempt.order_id, &attempt.number])?;
    // Only the order's latest attempt speaks for it: a late answer about an earlier
    // one (an old result page) must not undo a later one.
    let moved = tx.execute(
        "UPDATE orders SET status = $1, payment_intent_id = COALESCE($2, payment_intent_id), updated_at = $3
             WHERE id = $4 AND status IN ('pending', 'failed', 'confirming')
             AND NOT EXISTS (SELECT 1 FROM payment_attempts later WHERE later.order_id = $4 AND later.attempt > $5)",
        &[&order_status, &payment_intent_id, &now, &attempt.order_id, &attempt.number],
    )?;
    if moved == 1 && matches!(order_status, "failed" | "canceled") {
        release_stock(tx, &attempt.order_id)?;
    }
    if let Some(details) = details {
        record_details(tx, &attempt.order_id, details)?;
    }
    if clear_cart {
        clear_ordered_lines(tx, &attempt.order_id)?;
    }
    Ok(())
}

impl Store {
    /// An order of this session, or of the account it is signed in to (`None` for
    /// anyone else's).
    pub async fn order_of_session(&self, order_id: &str, session_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let (order_id, session_id) = (order_id.to_owned(), session_id.to_owned());
        self.read(move |tx| order_record(tx, &order_id, &session_id)).await
    }

    /// The id of this session's order paid (or being paid) by a PaymentIntent.
    pub async fn order_id_for_payment_intent(&self, payment_intent_id: &str, session_id: &str) -> Result<Option<String>, StoreError> {
        let (payment_intent_id, session_id) = (payment_intent_id.to_owned(), session_id.to_owned());
        self.read(move |tx| {
            tx.scalar(
                &format!(
                    "SELECT o.id FROM payment_attempts pa JOIN orders o ON o.id = pa.order_id
                 WHERE pa.payment_intent_id = $1 AND {OWNED_BY_SESSION}"
                ),
                &[&payment_intent_id, &session_id],
            )
        })
        .await
    }

    /// This session's attempts left waiting for authentication (3-D Secure, a redirect).
    pub async fn attempts_awaiting_action(&self, session_id: &str) -> Result<Vec<Attempt>, StoreError> {
        let session_id = session_id.to_owned();
        self.read(move |tx| {
            let rows = tx.query(
                &format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts pa JOIN orders o ON o.id = pa.order_id
                 WHERE o.session_id = $1 AND o.status = 'confirming' AND pa.outcome = 'requires_action'"
                ),
                &[&session_id],
            )?;
            rows.iter().map(attempt_from).collect::<Result<_, _>>()
        })
        .await
    }

    /// Attempts whose outcome is unknown (Stripe's reply never arrived), started
    /// before `cutoff`, with the request to replay under their key.
    pub async fn unresolved_attempts(&self, cutoff: i64) -> Result<Vec<Attempt>, StoreError> {
        self.read(move |tx| {
            let rows = tx.query(
                &format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts pa
                 WHERE pa.outcome IS NULL AND pa.request_body IS NOT NULL AND pa.created_at <= $1 ORDER BY pa.created_at LIMIT 100"
                ),
                &[&cutoff],
            )?;
            rows.iter().map(attempt_from).collect::<Result<_, _>>()
        })
        .await
    }

    /// Every attempt recorded for an order, oldest first.
    pub async fn attempts(&self, order_id: &str) -> Result<Vec<Attempt>, StoreError> {
        let order_id = order_id.to_owned();
        self.read(move |tx| {
            let rows = tx.query(
                &format!("SELECT {ATTEMPT_COLUMNS} FROM payment_attempts pa WHERE pa.order_id = $1 ORDER BY pa.attempt"),
                &[&order_id],
            )?;
            rows.iter().map(attempt_from).collect::<Result<_, _>>()
        })
        .await
    }
}

/// An order of this session, or of the account it is signed in to.
fn order_record(tx: &mut Tx<'_>, order_id: &str, session_id: &str) -> Result<Option<OrderRecord>, StoreError> {
    let row = tx.query_opt(
        &format!(
            "SELECT id, status, amount, currency, discount_amount, discount_code, payment_intent_id, created_at, updated_at,
                COALESCE(amount_received, amount) AS charged, amount_refunded, email, locale,
                shipping, payment_method_id, payment_method_type, card_brand, last4
         FROM orders o WHERE id = $1 AND {OWNED_BY_SESSION}"
        ),
        &[&order_id, &session_id],
    )?;
    let Some(row) = row else { return Ok(None) };
    let lines = tx
        .query("SELECT product_id, name, unit_amount, quantity FROM order_lines WHERE order_id = $1 ORDER BY name", &[&order_id])?
        .iter()
        .map(|line| {
            Ok(OrderLine {
                product_id: line.get("product_id")?,
                name: line.get("name")?,
                unit_amount: line.get("unit_amount")?,
                quantity: count(line.get("quantity")?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(OrderRecord {
        id: row.get("id")?,
        status: row.get("status")?,
        amount: row.get("amount")?,
        currency: row.get("currency")?,
        discount_amount: row.get("discount_amount")?,
        discount_code: row.get("discount_code")?,
        payment_intent_id: row.get("payment_intent_id")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        charged: row.get("charged")?,
        refunded: row.get("amount_refunded")?,
        email: row.get("email")?,
        locale: row.get("locale")?,
        lines,
        details: PaymentDetails {
            shipping: row.get("shipping")?,
            payment_method_id: row.get("payment_method_id")?,
            payment_method_type: row.get("payment_method_type")?,
            card_brand: row.get("card_brand")?,
            last4: row.get("last4")?,
        },
    }))
}

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
    /// A charge of the order was disputed: flagged for the merchant.
    Disputed,
    /// Recorded; nothing to change.
    Ignored,
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
}

fn apply_payment_event(tx: &mut Tx<'_>, event: &PaymentEvent<'_>, now: i64) -> Result<EventEffect, StoreError> {
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
    let status: String = order.get("status")?;
    let effect = match event.event_type {
        "payment_intent.succeeded" => {
            let (amount, currency): (i64, String) = (order.get("amount")?, order.get("currency")?);
            if amount != event.amount || currency != event.currency {
                tx.execute("UPDATE orders SET flag = 'amount_mismatch', updated_at = $1 WHERE id = $2", &[&now, &event.order_id])?;
                EventEffect::AmountMismatch
            } else if status == "paid" {
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
        "payment_intent.amount_capturable_updated" => advance(tx, event, now, "authorized", "'pending', 'confirming', 'failed'")?,
        "payment_intent.processing" | "payment_intent.requires_action" => advance(tx, event, now, "confirming", "'pending', 'failed'")?,
        _ => EventEffect::Ignored,
    };
    Ok(effect)
}

impl Store {
    /// Records a dispute of the charge of `payment_intent_id` (`charge.dispute.created`),
    /// exactly once: the order it paid is flagged `disputed` for the merchant.
    pub async fn flag_dispute(&self, event_id: &str, payment_intent_id: &str, now: i64) -> Result<EventEffect, StoreError> {
        let (event_id, payment_intent_id) = (event_id.to_owned(), payment_intent_id.to_owned());
        self.write(move |tx| {
            let order_id: Option<String> = tx.scalar("SELECT id FROM orders WHERE payment_intent_id = $1", &[&payment_intent_id])?;
            let inserted = tx.execute(
                "INSERT INTO processed_events (event_id, type, received_at, order_id) VALUES ($1, 'charge.dispute.created', $2, $3)
                 ON CONFLICT (event_id) DO NOTHING",
                &[&event_id, &now, &order_id],
            )?;
            let effect = match (inserted, &order_id) {
                (0, _) => EventEffect::Duplicate,
                (_, None) => EventEffect::UnknownOrder,
                (_, Some(order_id)) => {
                    tx.execute("UPDATE orders SET flag = 'disputed', updated_at = $1 WHERE id = $2", &[&now, &order_id])?;
                    EventEffect::Disputed
                }
            };
            Ok(effect)
        })
        .await
    }

    /// Orders still settling (`confirming`, with a PaymentIntent) last changed before
    /// `cutoff`, and orders `authorized` before `authorized_cutoff`: `(order id,
    /// PaymentIntent id)`.
    pub async fn orders_to_reconcile(&self, cutoff: i64, authorized_cutoff: i64) -> Result<Vec<(String, String)>, StoreError> {
        self.read(move |tx| {
            let rows = tx.query(
                "SELECT id, payment_intent_id FROM orders
                 WHERE payment_intent_id IS NOT NULL
                 AND (status = 'confirming' AND updated_at <= $1 OR status = 'authorized' AND updated_at <= $2)
                 ORDER BY updated_at LIMIT 500",
                &[&cutoff, &authorized_cutoff],
            )?;
            rows.iter().map(|row| Ok((row.get("id")?, row.get("payment_intent_id")?))).collect::<Result<_, StoreError>>()
        })
        .await
    }

    /// Orders for the merchant, newest first, optionally of one status.
    pub async fn list_orders(&self, status: Option<&str>, limit: i64) -> Result<Vec<OrderSummary>, StoreError> {
        let status = status.map(str::to_owned);
        self.read(move |tx| {
            // Two statements, so that each reads an index in order (no scan, no sort).
            let rows = match status {
                Some(status) => tx.query(
                    &format!("SELECT {SUMMARY_COLUMNS} FROM orders WHERE status = $1 ORDER BY created_at DESC LIMIT $2"),
                    &[&status, &limit],
                )?,
                None => tx.query(&format!("SELECT {SUMMARY_COLUMNS} FROM orders ORDER BY created_at DESC LIMIT $1"), &[&limit])?,
            };
            rows.iter().map(order_summary_from).collect::<Result<_, StoreError>>()
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

    /// Any order, for the merchant (no session check).
    pub async fn order_for_merchant(&self, order_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let order_id = order_id.to_owned();
        self.read(move |tx| match tx.scalar::<String>("SELECT session_id FROM orders WHERE id = $1", &[&order_id])? {
            Some(session) => order_record(tx, &order_id, &session),
            None => Ok(None),
        })
        .await
    }

    /// The flag on an order, if the merchant must look at it.
    pub async fn order_flag(&self, order_id: &str) -> Result<Option<String>, StoreError> {
        let order_id = order_id.to_owned();
        self.read(move |tx| {
            let flag: Option<Option<String>> = tx.scalar("SELECT flag FROM orders WHERE id = $1", &[&order_id])?;
            Ok(flag.flatten())
        })
        .await
    }
}

/// Moves the event's order to `status` (with the event's PaymentIntent) if it is in one
/// of `from` (quoted SQL literals): only ever forward.
fn advance(tx: &mut Tx<'_>, event: &PaymentEvent<'_>, now: i64, status: &str, from: &str) -> Result<EventEffect, StoreError> {
    tx.execute(
        &format!("UPDATE orders SET status = $1, payment_intent_id = $2, updated_at = $3 WHERE id = $4 AND status IN ({from})"),
        &[&status, &event.payment_intent_id, &now, &event.order_id],
    )?;
    Ok(EventEffect::StatusUpdated)
}

/// Marks an order paid: its reserved stock kept (or, when the reservation was released
/// because an earlier failure was reported first, taken now: never below zero, and an
/// oversold order is flagged), a confirmation queued in the outbox, its lines out of
/// the cart (unless that happened already). Returns whether it oversold.
fn fulfil(tx: &mut Tx<'_>, event: &PaymentEvent<'_>, now: i64) -> Result<bool, StoreError> {
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

/// Serializes the write transactions of one order (on SQLite they already are).
fn lock_order(tx: &mut Tx<'_>, order_id: &str) -> Result<(), StoreError> {
    if tx.backend() == Backend::Postgres {
        tx.query_opt("SELECT id FROM orders WHERE id = $1 FOR UPDATE", &[&order_id])?;
    }
    Ok(())
}

/// Serializes the write transactions of one session (on SQLite they already are).
fn lock_session(tx: &mut Tx<'_>, session_id: &str) -> Result<(), StoreError> {
    if tx.backend() == Backend::Postgres {
        tx.query_opt("SELECT id FROM sessions WHERE id = $1 FOR UPDATE", &[&session_id])?;
    }
    Ok(())
}

impl Backend {
    /// The clause that locks the rows a `SELECT` read until the transaction ends (on
    /// SQLite, `BEGIN IMMEDIATE` already excluded every other writer).
    pub fn for_update(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }
}

/// Takes `lines` out of the stock for `order_id` (in product order, so that concurrent
/// reservations on PostgreSQL lock rows in one order and cannot deadlock). When a line is
/// short, returns its name and what is left; the caller rolls back.
fn reserve_stock(tx: &mut Tx<'_>, order_id: &str, lines: &[OrderLine]) -> Result<Option<(String, u32)>, StoreError> {
    let mut sorted: Vec<&OrderLine> = lines.iter().collect();
    sorted.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    for line in sorted {
        let left: Option<i64> = tx.scalar(
            "UPDATE inventory SET on_hand = on_hand - $1 WHERE product_id = $2 AND on_hand >= $1 RETURNING on_hand",
            &[&i64::from(line.quantity), &line.product_id],
        )?;
        if left.is_none() {
            let available: Option<i64> = tx.scalar("SELECT on_hand FROM inventory WHERE product_id = $1", &[&line.product_id])?;
            return Ok(Some((line.name.clone(), available.map_or(0, count))));
        }
    }
    tx.execute("UPDATE orders SET stock_reserved = 1 WHERE id = $1", &[&order_id])?;
    Ok(None)
}

/// Puts an order's reserved stock back (once: a second call finds nothing reserved).
fn release_stock(tx: &mut Tx<'_>, order_id: &str) -> Result<(), StoreError> {
    let released = tx.execute("UPDATE orders SET stock_reserved = 0 WHERE id = $1 AND stock_reserved = 1", &[&order_id])?;
    if released == 1 {
        for (product_id, quantity) in order_quantities(tx, order_id)? {
            tx.execute("UPDATE inventory SET on_hand = on_hand + $1 WHERE product_id = $2", &[&quantity, &product_id])?;
        }
    }
    Ok(())
}

/// An order's products and quantities, in product order (rows are then locked in one order).
fn order_quantities(tx: &mut Tx<'_>, order_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
    let lines = tx.query("SELECT product_id, quantity FROM order_lines WHERE order_id = $1 ORDER BY product_id", &[&order_id])?;
    lines.iter().map(|line| Ok((line.get("product_id")?, line.get("quantity")?))).collect::<Result<_, StoreError>>()
}

/// Takes an order's lines out of the cart of the session that placed it, once: the
/// first payment outcome that says it went through (the confirmation, the result page,
/// the webhook) does it, and every later one finds it done. Only what the order bought
/// leaves: a line the shopper added since, or the part of a quantity raised since,
/// stays in the cart.
fn clear_ordered_lines(tx: &mut Tx<'_>, order_id: &str) -> Result<(), StoreError> {
    let session: Option<String> =
        tx.scalar("UPDATE orders SET cart_cleared = 1 WHERE id = $1 AND cart_cleared = 0 RETURNING session_id", &[&order_id])?;
    let Some(session_id) = session else { return Ok(()) };
    for (product_id, quantity) in order_quantities(tx, order_id)? {
        tx.execute(
            "DELETE FROM cart_lines WHERE session_id = $1 AND product_id = $2 AND quantity <= $3",
            &[&session_id, &product_id, &quantity],
        )?;
        tx.execute(
            "UPDATE cart_lines SET quantity = quantity - $1 WHERE session_id = $2 AND product_id = $3",
            &[&quantity, &session_id, &product_id],
        )?;
    }
    Ok(())
}

/// Records where to ship and what paid; a detail Stripe did not send keeps what was
/// recorded before.
fn record_details(tx: &mut Tx<'_>, order_id: &str, details: &PaymentDetails) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE orders SET shipping = COALESCE($1, shipping), payment_method_id = COALESCE($2, payment_method_id),
                payment_method_type = COALESCE($3, payment_method_type), card_brand = COALESCE($4, card_brand), last4 = COALESCE($5, last4)
         WHERE id = $6",
        &[&details.shipping, &details.payment_method_id, &details.payment_method_type, &details.card_brand, &details.last4, &order_id],
    )?;
    Ok(())
}

/// Counts are stored as SQL integers but are never negative (CHECK constraints).
fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    use testing::Scratch;

    /// The request an attempt would send (any text will do for the store).
    fn recorded_body(attempt: &Attempt) -> Option<String> {
        Some(format!("metadata[order_id]={}", attempt.order_id))
    }

    fn result<'a>(payment_intent_id: Option<&'a str>, outcome: &'a str, order_status: &'a str, clear_cart: bool) -> AttemptResult<'a> {
        AttemptResult { payment_intent_id, outcome, order_status, clear_cart, details: None }
    }

    /// One store per backend, with plenty of mugs in stock.
    async fn stores() -> Vec<(Store, Scratch)> {
        let stores = testing::stores().await;
        for (store, _) in &stores {
            store.seed_inventory([("mug", 1_000_000)]).await.unwrap();
        }
        stores
    }

    #[tokio::test]
    async fn adding_past_the_cap_changes_nothing() {
        for (store, _scratch) in stores().await {
            store.create_session("s", 0).await.unwrap();
            assert_eq!(store.add_to_cart("s", "mug", 60, 99, 0).await.unwrap(), CartAdd::Added(60));
            assert_eq!(store.add_to_cart("s", "mug", 40, 99, 0).await.unwrap(), CartAdd::OverCap);
            assert_eq!(store.add_to_cart("s", "mug", 39, 99, 0).await.unwrap(), CartAdd::Added(99));
            assert_eq!(store.cart_lines("s").await.unwrap(), vec![("mug".to_owned(), 99)]);
        }
    }

    #[tokio::test]
    async fn seeding_inventory_never_overwrites_known_stock() {
        for (store, _scratch) in testing::stores().await {
            store.seed_inventory([("mug", 5)]).await.unwrap();
            store.seed_inventory([("mug", 50), ("tote", 3)]).await.unwrap();
            assert_eq!(store.stock_of("mug").await.unwrap(), 5);
            assert_eq!(store.stock_of("tote").await.unwrap(), 3);
            assert_eq!(store.stock_of("unknown").await.unwrap(), 0);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_after_a_duplicate_event_or_a_replayed_token_still_go_through() {
        // Both return early from a write transaction; the single writer connection must
        // come back clean (a transaction left open made every later write fail).
        for (store, _scratch) in stores().await {
            store.create_session("s", 0).await.unwrap();
            store.add_to_cart("s", "mug", 1, 99, 0).await.unwrap();
            let AttemptStart::New(_) = store.start_attempt("s", &order("ord_1"), "ctoken_a", None, 0, recorded_body).await.unwrap() else {
                panic!()
            };
            for round in 0..20 {
                let replay = store.start_attempt("s", &order("ord_x"), "ctoken_a", None, 0, recorded_body).await.unwrap();
                assert!(matches!(replay, AttemptStart::Replay(_) | AttemptStart::Unresolved(_)), "{replay:?}");
                let event = PaymentEvent {
                    event_id: "evt_1",
                    event_type: "payment_intent.processing",
                    order_id: "ord_1",
                    payment_intent_id: "pi_1",
                    amount: 3600,
                    amount_received: 3600,
                    currency: "eur",
                };
                let effect = store.apply_payment_event(&event, round).await.unwrap();
                assert_eq!(effect, if round == 0 { EventEffect::StatusUpdated } else { EventEffect::Duplicate });
                store.create_session(&format!("after-{round}"), round).await.unwrap();
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hundreds_of_concurrent_duplicate_events_leave_the_writer_usable() {
        for (store, _scratch) in stores().await {
            store.create_session("s", 0).await.unwrap();
            store.add_to_cart("s", "mug", 1, 99, 0).await.unwrap();
            let AttemptStart::New(_) = store.start_attempt("s", &order("ord_1"), "ctoken_a", None, 0, recorded_body).await.unwrap() else {
                panic!()
            };
            let tasks: Vec<_> = (0..400)
                .map(|n| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let event = PaymentEvent {
                            event_id: if n % 2 == 0 { "evt_same" } else { "evt_other" },
                            event_type: "payment_intent.processing",
                            order_id: "ord_1",
                            payment_intent_id: "pi_1",
                            amount: 3600,
                            amount_received: 3600,
                            currency: "eur",
                        };
                        store.apply_payment_event(&event, 1).await
                    })
                })
                .collect();
            let mut applied = 0;
            for task in tasks {
                if task.await.unwrap().unwrap() != EventEffect::Duplicate {
                    applied += 1;
                }
            }
            assert_eq!(applied, 2, "each event applied once");
            store.create_session("after", 2).await.unwrap();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checkouts_cancelled_at_any_point_leave_the_writer_usable() {
        // What a load generator does at the end of a run: hang up on requests in flight,
        // dropping their futures wherever they are (waiting for the writer, inside a
        // transaction, waiting for COMMIT).
        for (store, _scratch) in stores().await {
            let mut tasks = Vec::new();
            for n in 0..64_u64 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    for round in 0..150_u64 {
                        let session = format!("s{n}-{round}");
                        let work = async {
                            store.create_session(&session, 0).await?;
                            store.add_to_cart(&session, "mug", 1, 99, 0).await?;
                            let order = NewOrder { id: format!("ord_{n}_{round}"), ..order("") };
                            if let AttemptStart::New(attempt) =
                                store.start_attempt(&session, &order, &format!("ctoken_{n}_{round}"), None, 0, recorded_body).await?
                            {
                                store
                                    .finish_attempt(&attempt, result(Some(&format!("pi_{n}_{round}")), "succeeded", "confirming", true), 1)
                                    .await?;
                            }
                            Ok::<_, StoreError>(())
                        };
                        let _ = tokio::time::timeout(std::time::Duration::from_micros((n * 37 + round * 101) % 20_000), work).await;
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            store.create_session("after", 2).await.unwrap();
            store.add_to_cart("after", "mug", 1, 99, 0).await.unwrap();
            let started = store.start_attempt("after", &order("ord_after"), "ctoken_after", None, 3, recorded_body).await.unwrap();
            assert!(matches!(started, AttemptStart::New(_)), "{started:?}");
        }
    }

    #[tokio::test]
    async fn a_cart_line_needs_a_real_session() {
        for (store, _scratch) in stores().await {
            assert!(store.add_to_cart("nobody", "mug", 1, 99, 0).await.is_err());
        }
    }

    /// Session `s` with two mugs in its cart, and the first attempt to pay for them
    /// (order `ord_1`, token `ctoken_a`).
    async fn first_attempt(store: &Store) -> Attempt {
        store.create_session("s", 0).await.unwrap();
        store.add_to_cart("s", "mug", 2, 99, 0).await.unwrap();
        match store.start_attempt("s", &order("ord_1"), "ctoken_a", None, 0, recorded_body).await.unwrap() {
            AttemptStart::New(attempt) => attempt,
            other => panic!("expected a new attempt, got {other:?}"),
        }
    }

    fn order(id: &str) -> NewOrder {
        NewOrder {
            email: None,
            locale: "en".into(),
            id: id.into(),
            amount: 3600,
            discount_amount: 0,
            discount_code: None,
            currency: "eur".into(),
            lines: vec![OrderLine { product_id: "mug".into(), name: "Mug".into(), unit_amount: 1800, quantity: 2 }],
        }
    }

    #[tokio::test]
    async fn the_same_token_replays_its_attempt_and_a_second_token_waits_for_an_unknown_outcome() {
        for (store, _scratch) in stores().await {
            let first = first_attempt(&store).await;
            assert_eq!(first.idempotency_key, "ord_1-attempt-1");
            let replay = store.start_attempt("s", &order("ord_2"), "ctoken_a", None, 0, recorded_body).await.unwrap();
            assert_eq!(replay, AttemptStart::Replay(first.clone()));
            let waiting = store.start_attempt("s", &order("ord_2"), "ctoken_b", None, 0, recorded_body).await.unwrap();
            assert_eq!(waiting, AttemptStart::Unresolved(first.clone()));

            store.finish_attempt(&first, result(Some("pi_1"), "card_declined", "failed", false), 1).await.unwrap();
            let AttemptStart::New(second) = store.start_attempt("s", &order("ord_2"), "ctoken_b", None, 2, recorded_body).await.unwrap()
            else {
                panic!("expected a second attempt on the same order")
            };
            assert_eq!((second.order_id.as_str(), second.number), ("ord_1", 2));
        }
    }

    #[tokio::test]
    async fn another_session_cannot_use_a_token_or_see_an_order() {
        for (store, _scratch) in stores().await {
            store.create_session("alice", 0).await.unwrap();
            store.create_session("bob", 0).await.unwrap();
            store.add_to_cart("alice", "mug", 2, 99, 0).await.unwrap();
            store.start_attempt("alice", &order("ord_a"), "ctoken_a", None, 0, recorded_body).await.unwrap();
            let stolen = store.start_attempt("bob", &order("ord_b"), "ctoken_a", None, 0, recorded_body).await.unwrap();
            assert_eq!(stolen, AttemptStart::TokenUsedElsewhere);
            assert!(store.order_of_session("ord_a", "bob").await.unwrap().is_none());
            assert_eq!(store.order_of_session("ord_a", "alice").await.unwrap().unwrap().lines.len(), 1);
        }
    }

    #[tokio::test]
    async fn a_cart_that_became_an_order_cannot_start_another_one() {
        for (store, _scratch) in stores().await {
            let first = first_attempt(&store).await;
            store.finish_attempt(&first, result(Some("pi_1"), "succeeded", "confirming", true), 1).await.unwrap();
            // A request that priced the cart before it was emptied arrives now.
            let late = store.start_attempt("s", &order("ord_2"), "ctoken_b", None, 2, recorded_body).await.unwrap();
            assert_eq!(late, AttemptStart::CartEmpty);
            assert!(store.cart_lines("s").await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn a_late_failure_of_an_earlier_attempt_does_not_undo_a_later_one() {
        for (store, _scratch) in stores().await {
            let first = first_attempt(&store).await;
            store.finish_attempt(&first, result(Some("pi_1"), "card_declined", "failed", false), 1).await.unwrap();
            let AttemptStart::New(second) = store.start_attempt("s", &order("ord_1"), "ctoken_b", None, 2, recorded_body).await.unwrap()
            else {
                panic!()
            };
            store.finish_attempt(&second, result(Some("pi_2"), "processing", "confirming", true), 3).await.unwrap();
            let late = PaymentEvent {
                event_id: "evt_late",
                event_type: "payment_intent.payment_failed",
                order_id: "ord_1",
                payment_intent_id: "pi_1",
                amount: 3600,
                amount_received: 3600,
                currency: "eur",
            };
            store.apply_payment_event(&late, 4).await.unwrap();
            assert_eq!(store.order_of_session("ord_1", "s").await.unwrap().unwrap().status, "confirming");
        }
    }

    #[tokio::test]
    async fn a_paid_order_never_moves_back() {
        for (store, _scratch) in stores().await {
            let attempt = first_attempt(&store).await;
            store.write(|tx| tx.execute("UPDATE orders SET status = 'paid'", &[])).await.unwrap();
            store.finish_attempt(&attempt, result(Some("pi_1"), "requires_payment_method", "failed", false), 1).await.unwrap();
            assert_eq!(store.order_of_session("ord_1", "s").await.unwrap().unwrap().status, "paid");
        }
    }

    fn paid(event_id: &'static str) -> PaymentEvent<'static> {
        PaymentEvent {
            event_id,
            event_type: "payment_intent.succeeded",
            order_id: "ord_1",
            payment_intent_id: "pi_1",
            amount: 3600,
            amount_received: 3600,
            currency: "eur",
        }
    }

    #[tokio::test]
    async fn an_old_result_page_or_a_late_webhook_keeps_the_next_cart() {
        for (store, _scratch) in stores().await {
            store.seed_inventory([("tote", 100)]).await.unwrap();
            let attempt = first_attempt(&store).await;
            store.finish_attempt(&attempt, result(Some("pi_1"), "succeeded", "confirming", true), 1).await.unwrap();
            assert!(store.cart_lines("s").await.unwrap().is_empty(), "the paid lines left the cart");

            // The shopper fills a new cart, then the old result page is reloaded and the
            // webhook arrives late (twice).
            store.add_to_cart("s", "mug", 1, 99, 2).await.unwrap();
            store.add_to_cart("s", "tote", 1, 99, 2).await.unwrap();
            store.finish_attempt(&attempt, result(Some("pi_1"), "succeeded", "confirming", true), 3).await.unwrap();
            assert_eq!(store.apply_payment_event(&paid("evt_1"), 4).await.unwrap(), EventEffect::Fulfilled { oversold: false });
            store.apply_payment_event(&paid("evt_2"), 5).await.unwrap();
            assert_eq!(store.cart_lines("s").await.unwrap(), vec![("mug".to_owned(), 1), ("tote".to_owned(), 1)]);
        }
    }

    #[tokio::test]
    async fn a_payment_that_succeeds_late_takes_only_what_the_order_bought() {
        for (store, _scratch) in stores().await {
            store.seed_inventory([("tote", 100)]).await.unwrap();
            store.create_session("s", 0).await.unwrap();
            store.add_to_cart("s", "mug", 2, 99, 0).await.unwrap();
            let AttemptStart::New(_) = store.start_attempt("s", &order("ord_1"), "ctoken_a", None, 0, recorded_body).await.unwrap() else {
                panic!()
            };
            // Stripe's answer was lost; meanwhile the shopper adds a mug and a tote, and
            // then the webhook says the order was paid.
            store.add_to_cart("s", "mug", 1, 99, 1).await.unwrap();
            store.add_to_cart("s", "tote", 1, 99, 1).await.unwrap();
            assert_eq!(store.apply_payment_event(&paid("evt_1"), 2).await.unwrap(), EventEffect::Fulfilled { oversold: false });
            assert_eq!(store.cart_lines("s").await.unwrap(), vec![("mug".to_owned(), 1), ("tote".to_owned(), 1)]);
        }
    }

    #[tokio::test]
    async fn an_answer_about_an_earlier_attempt_does_not_move_the_order() {
        for (store, _scratch) in stores().await {
            let first = first_attempt(&store).await;
            store.finish_attempt(&first, result(Some("pi_1"), "requires_action", "confirming", false), 1).await.unwrap();
            store.finish_attempt(&first, result(Some("pi_1"), "canceled", "failed", false), 2).await.unwrap();
            let AttemptStart::New(second) = store.start_attempt("s", &order("ord_1"), "ctoken_b", None, 3, recorded_body).await.unwrap()
            else {
                panic!()
            };
            store.finish_attempt(&second, result(Some("pi_2"), "requires_action", "confirming", false), 4).await.unwrap();
            // The first attempt's result page is opened again.
            store.finish_attempt(&first, result(Some("pi_1"), "requires_payment_method", "failed", false), 5).await.unwrap();
            let order = store.order_of_session("ord_1", "s").await.unwrap().unwrap();
            assert_eq!((order.status.as_str(), order.payment_intent_id.as_deref()), ("confirming", Some("pi_2")));
        }
    }

    #[tokio::test]
    async fn an_attempt_keeps_the_request_it_sent_and_the_order_what_paid() {
        for (store, _scratch) in stores().await {
            let attempt = first_attempt(&store).await;
            assert_eq!(attempt.request_body.as_deref(), Some("metadata[order_id]=ord_1"));
            let replay = store.start_attempt("s", &order("ord_1"), "ctoken_a", None, 9, |_| Some("something else".into())).await.unwrap();
            assert_eq!(replay, AttemptStart::Replay(attempt.clone()), "a replay sends the first body again");

            let details = PaymentDetails {
                shipping: Some(r#"{"name":"Jenny Rosen"}"#.into()),
                payment_method_id: Some("pm_1".into()),
                payment_method_type: Some("card".into()),
                card_brand: Some("visa".into()),
                last4: Some("4242".into()),
            };
            let with = AttemptResult { details: Some(&details), ..result(Some("pi_1"), "requires_action", "confirming", false) };
            store.finish_attempt(&attempt, with, 1).await.unwrap();
            // A later answer without details keeps them.
            store.finish_attempt(&attempt, result(Some("pi_1"), "succeeded", "confirming", true), 2).await.unwrap();
            let order = store.order_for_merchant("ord_1").await.unwrap().unwrap();
            assert_eq!(order.details, details);
            assert_eq!((order.discount_amount, order.discount_code.as_deref()), (0, None));
        }
    }

    #[tokio::test]
    async fn idle_sessions_expire_unless_a_payment_is_in_flight() {
        for (store, _scratch) in stores().await {
            for id in ["idle", "active", "paying", "ordered"] {
                store.create_session(id, 0).await.unwrap();
                store.add_to_cart(id, "mug", 2, 99, 0).await.unwrap();
            }
            store.touch_session("active", 100).await.unwrap();
            // One session has an attempt in flight, one a finished (failed) order.
            store.start_attempt("paying", &order("ord_p"), "ctoken_p", None, 0, recorded_body).await.unwrap();
            let AttemptStart::New(done) =
                store.start_attempt("ordered", &order("ord_o"), "ctoken_o", None, 0, recorded_body).await.unwrap()
            else {
                panic!()
            };
            store.finish_attempt(&done, result(Some("pi_o"), "card_declined", "failed", false), 1).await.unwrap();

            store.expire_sessions(50, 200).await.unwrap();
            let rows = |id: &'static str| store.read(move |tx| tx.one::<i64>("SELECT COUNT(*) FROM sessions WHERE id = $1", &[&id]));
            assert_eq!(rows("idle").await.unwrap(), 0, "an idle session without orders is deleted");
            assert!(store.live_session("active", 50).await.unwrap().is_some());
            assert_eq!(store.cart_lines("active").await.unwrap().len(), 1);
            assert!(store.session_exists("paying").await.unwrap(), "a payment in flight keeps its session");
            assert_eq!(store.cart_lines("paying").await.unwrap().len(), 1);
            assert_eq!(rows("ordered").await.unwrap(), 1, "a session with orders stays for them");
            assert!(store.live_session("ordered", 50).await.unwrap().is_none());
            assert!(store.cart_lines("ordered").await.unwrap().is_empty());
        }
    }

    #[tokio::test]
    async fn a_non_sqlite_url_is_refused_with_a_clear_error() {
        let error = Store::connect("mysql://localhost/shop").await.unwrap_err();
        assert!(error.to_string().contains("DATABASE_URL"));
    }
}
