//! The database: connection pools, migrations, and every SQL statement of the app.
//! Features call the typed methods here and never write SQL themselves.
//!
//! Two backends, chosen by `DATABASE_URL`: SQLite (`sqlite://path`, one process) and
//! PostgreSQL (`postgres://…`, any number of instances). The statements are written
//! once, in the SQL both understand (`$n` parameters, `ON CONFLICT`, `RETURNING`), and
//! run through sqlx's `Any` driver; the migrations are shared too. Where the two differ
//! is how a write transaction keeps concurrent writers out, see [`Store::begin_write`].

use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyPool, Row, Transaction};
use std::collections::HashMap;
use std::time::Duration;

mod accounts;
mod limits;
mod outbox;
mod refunds;
#[cfg(test)]
mod testing;
pub use accounts::{AccountRecord, SignIn};
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

/// Handle to the order store; cheap to clone (two pool handles).
///
/// SQLite lets one writer in at a time: writes queue on a single connection, in order,
/// instead of several connections taking turns through SQLite's busy handler (which
/// sleeps, and made the slowest writes wait hundreds of milliseconds under load). Reads
/// run in parallel on the other pool; WAL lets them proceed while the writer commits.
/// PostgreSQL takes concurrent writers itself: both handles are one pool there.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    writer: AnyPool,
    backend: Backend,
}

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

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
    /// Runs a write transaction in a task of its own, so that it always reaches COMMIT
    /// or ROLLBACK. A request future can be dropped at any await (the client hung up);
    /// dropped inside a transaction, it could leave the one writer connection believing
    /// a transaction was still open, and every later write failed
    /// (`InvalidSavePointStatement`; found by `make bench`, pinned by a test below).
    async fn detached<T: Send + 'static>(
        work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        tokio::spawn(work).await.map_err(|_| StoreError::Interrupted)?
    }

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
        let store = match backend {
            Backend::Sqlite => {
                let separator = if url.contains('?') { '&' } else { '?' };
                let url = if url.contains("mode=") { url.to_owned() } else { format!("{url}{separator}mode=rwc") };
                // No ping before each use (sqlx's default): a local SQLite file does not
                // drop connections, and the ping doubled the round trips to the
                // connection's thread.
                let options = || {
                    AnyPoolOptions::new().test_before_acquire(false).acquire_timeout(Duration::from_secs(5)).after_connect(
                        |connection, _| {
                            Box::pin(async move {
                                // WAL lets readers run while one writer commits; NORMAL is
                                // durable in WAL mode except for the last transactions on
                                // power loss, never corrupting.
                                sqlx::Executor::execute(
                                    connection,
                                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;",
                                )
                                .await?;
                                Ok(())
                            })
                        },
                    )
                };
                let writer = options().max_connections(1).connect(&url).await?;
                let pool = options().max_connections(8).connect(&url).await?;
                Store { pool, writer, backend }
            }
            Backend::Postgres => {
                // Checked before use (the default): a connection the server dropped
                // (a restart, a failover) is replaced instead of failing a request.
                let pool = AnyPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(5)).connect(url).await?;
                Store { writer: pool.clone(), pool, backend }
            }
        };
        let specific = match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        let migrations = sqlx::migrate!("./migrations").iter().chain(specific.iter()).cloned().collect();
        sqlx::migrate::Migrator::new(Migrations(migrations)).await?.run(&store.writer).await?;
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a write transaction. On SQLite it takes the database's write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers never both read a state only one may act on.
    /// PostgreSQL lets writers run side by side: the statements that must not interleave
    /// lock what they read ([`Store::lock_session`], [`Store::lock_order`],
    /// [`Backend::for_update`]). Every transaction takes its locks in one order, so none
    /// can wait for another in a circle (a deadlock, which PostgreSQL breaks by failing
    /// one): session, then order, then inventory rows by product id, then cart lines.
    async fn begin_write(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }

    /// Serializes the write transactions of one order (on SQLite they already are).
    async fn lock_order(&self, tx: &mut sqlx::AnyConnection, order_id: &str) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM orders WHERE id = $1 FOR UPDATE").bind(order_id).fetch_optional(tx).await?;
        }
        Ok(())
    }

    /// Serializes the write transactions of one session (on SQLite they already are).
    async fn lock_session(&self, tx: &mut sqlx::AnyConnection, session_id: &str) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM sessions WHERE id = $1 FOR UPDATE").bind(session_id).fetch_optional(tx).await?;
        }
        Ok(())
    }

    /// A trivial query, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    // ---- inventory -------------------------------------------------------------

    /// Records the starting stock of products the database has not seen yet; stock of
    /// known products is left alone (the database owns it after the first sight).
    pub async fn seed_inventory<'a>(&self, items: impl IntoIterator<Item = (&'a str, u32)>) -> Result<(), StoreError> {
        let items: Vec<(String, u32)> = items.into_iter().map(|(id, stock)| (id.to_owned(), stock)).collect();
        let store = self.clone();
        Self::detached(async move { store.seed_inventory_now(&items).await }).await
    }

    async fn seed_inventory_now(&self, items: &[(String, u32)]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for (product_id, on_hand) in items {
            sqlx::query("INSERT INTO inventory (product_id, on_hand) VALUES ($1, $2) ON CONFLICT (product_id) DO NOTHING")
                .bind(product_id)
                .bind(i64::from(*on_hand))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stock on hand of these products (one indexed lookup each, in one statement).
    pub async fn stock_of_products(&self, product_ids: &[&str]) -> Result<HashMap<String, u32>, StoreError> {
        if product_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let placeholders = (1..=product_ids.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
        let statement = format!("SELECT product_id, on_hand FROM inventory WHERE product_id IN ({placeholders})");
        let mut query = sqlx::query(&statement);
        for id in product_ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|row| Ok((row.try_get("product_id")?, count(row.try_get("on_hand")?)))).collect()
    }

    /// Stock on hand of one product (0 when unknown).
    pub async fn stock_of(&self, product_id: &str) -> Result<u32, StoreError> {
        let on_hand: Option<i64> =
            sqlx::query_scalar("SELECT on_hand FROM inventory WHERE product_id = $1").bind(product_id).fetch_optional(&self.pool).await?;
        Ok(on_hand.map_or(0, count))
    }

    // ---- sessions --------------------------------------------------------------

    pub async fn create_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (id, created_at, last_seen_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(now)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// A live session: not ended, and seen after `idle_cutoff`. `Some((account id if
    /// signed in, last seen))`.
    pub async fn live_session(&self, id: &str, idle_cutoff: i64) -> Result<Option<(Option<String>, i64)>, StoreError> {
        let row = sqlx::query("SELECT account_id, last_seen_at FROM sessions WHERE id = $1 AND ended_at IS NULL AND last_seen_at > $2")
            .bind(id)
            .bind(idle_cutoff)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| Ok::<_, sqlx::Error>((row.try_get("account_id")?, row.try_get("last_seen_at")?))).transpose()?)
    }

    /// The email address the session last paid with (to prefill the next checkout).
    pub async fn session_email(&self, id: &str) -> Result<Option<String>, StoreError> {
        let email: Option<Option<String>> =
            sqlx::query_scalar("SELECT email FROM sessions WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(email.flatten())
    }

    /// Moves a session's idle expiry on.
    pub async fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1")
            .bind(now)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Forgets live sessions idle since `idle_cutoff`: deleted (with their carts) when
    /// no order names them, otherwise ended and their carts emptied, since their orders
    /// name them. A session with an order still being paid (`pending`, `confirming`) is
    /// left alone. Returns how many sessions were deleted or ended.
    pub async fn expire_sessions(&self, idle_cutoff: i64, now: i64) -> Result<u64, StoreError> {
        const IDLE: &str = "ended_at IS NULL AND last_seen_at <= $1";
        const IN_FLIGHT: &str =
            "EXISTS (SELECT 1 FROM orders o WHERE o.session_id = sessions.id AND o.status IN ('pending', 'confirming'))";
        let store = self.clone();
        Self::detached(async move {
            let mut tx = store.begin_write().await?;
            let deleted = sqlx::query(&format!(
                "DELETE FROM sessions WHERE {IDLE} AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.session_id = sessions.id)"
            ))
            .bind(idle_cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(&format!("DELETE FROM cart_lines WHERE session_id IN (SELECT id FROM sessions WHERE {IDLE} AND NOT {IN_FLIGHT})"))
                .bind(idle_cutoff)
                .execute(&mut *tx)
                .await?;
            let ended = sqlx::query(&format!("UPDATE sessions SET ended_at = $2 WHERE {IDLE} AND NOT {IN_FLIGHT}"))
                .bind(idle_cutoff)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(deleted + ended)
        })
        .await
    }

    pub async fn session_exists(&self, id: &str) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM sessions WHERE id = $1 AND ended_at IS NULL").bind(id).fetch_optional(&self.pool).await?;
        Ok(found.is_some())
    }

    /// The discount code a session applied, if any.
    pub async fn set_session_discount(&self, session_id: &str, code: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET discount_code = $1 WHERE id = $2").bind(code).bind(session_id).execute(&self.writer).await?;
        Ok(())
    }

    // ---- carts -----------------------------------------------------------------

    /// The lines of a session's cart, oldest first.
    /// A session's cart lines and its discount code, in one statement.
    pub async fn cart(&self, session_id: &str) -> Result<(Vec<(String, u32)>, Option<String>), StoreError> {
        let rows = sqlx::query(
            "SELECT c.product_id, c.quantity, s.discount_code FROM sessions s
             LEFT JOIN cart_lines c ON c.session_id = s.id WHERE s.id = $1 ORDER BY c.added_at, c.product_id",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        let code = match rows.first() {
            Some(row) => row.try_get("discount_code")?,
            None => None,
        };
        let mut lines = Vec::with_capacity(rows.len());
        for row in &rows {
            let product: Option<String> = row.try_get("product_id")?;
            if let Some(product) = product {
                lines.push((product, count(row.try_get("quantity")?)));
            }
        }
        Ok((lines, code))
    }

    pub async fn cart_lines(&self, session_id: &str) -> Result<Vec<(String, u32)>, StoreError> {
        let rows = sqlx::query("SELECT product_id, quantity FROM cart_lines WHERE session_id = $1 ORDER BY added_at, product_id")
            .bind(session_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| Ok((row.try_get("product_id")?, count(row.try_get("quantity")?)))).collect()
    }

    /// Adds `quantity` to a line in one statement, refusing (and changing nothing) when
    /// the line would exceed `cap`; concurrent additions cannot overshoot it.
    pub async fn add_to_cart(&self, session_id: &str, product_id: &str, quantity: u32, cap: u32, now: i64) -> Result<CartAdd, StoreError> {
        if quantity > cap {
            return Ok(CartAdd::OverCap);
        }
        let new_quantity: Option<i64> = sqlx::query_scalar(
            "INSERT INTO cart_lines (session_id, product_id, quantity, added_at) VALUES ($1, $2, $3, $5)
             ON CONFLICT (session_id, product_id)
             DO UPDATE SET quantity = cart_lines.quantity + excluded.quantity
             WHERE cart_lines.quantity + excluded.quantity <= $4
             RETURNING quantity",
        )
        .bind(session_id)
        .bind(product_id)
        .bind(i64::from(quantity))
        .bind(i64::from(cap))
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        Ok(new_quantity.map_or(CartAdd::OverCap, |q| CartAdd::Added(count(q))))
    }

    /// Sets a line's quantity, creating the line if needed.
    pub async fn set_cart_quantity(&self, session_id: &str, product_id: &str, quantity: u32, now: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cart_lines (session_id, product_id, quantity, added_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (session_id, product_id) DO UPDATE SET quantity = excluded.quantity",
        )
        .bind(session_id)
        .bind(product_id)
        .bind(i64::from(quantity))
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    pub async fn remove_cart_line(&self, session_id: &str, product_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM cart_lines WHERE session_id = $1 AND product_id = $2")
            .bind(session_id)
            .bind(product_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
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

async fn cart_is_empty(tx: &mut sqlx::AnyConnection, session_id: &str) -> Result<bool, StoreError> {
    let lines: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cart_lines WHERE session_id = $1").bind(session_id).fetch_one(tx).await?;
    Ok(lines == 0)
}

/// The attempt that used `token`, and whether it belongs to `session_id`.
async fn token_attempt<'e, E>(executor: E, token: &str, session_id: &str) -> Result<Option<(Attempt, bool)>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let row = sqlx::query(&format!(
        "SELECT {ATTEMPT_COLUMNS}, o.session_id FROM payment_attempts pa JOIN orders o ON o.id = pa.order_id
         WHERE pa.confirmation_token_id = $1"
    ))
    .bind(token)
    .fetch_optional(executor)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let owner: String = row.try_get("session_id")?;
    Ok(Some((attempt_from(&row)?, owner == session_id)))
}

/// A row of `SELECT id, status, amount, currency, flag, created_at FROM orders`.
fn order_summary_from(row: &sqlx::any::AnyRow) -> Result<OrderSummary, sqlx::Error> {
    Ok(OrderSummary {
        id: row.try_get("id")?,
        status: row.try_get("status")?,
        amount: row.try_get("amount")?,
        currency: row.try_get("currency")?,
        flag: row.try_get("flag")?,
        created_at: row.try_get("created_at")?,
        charged: row.try_get("charged")?,
        refunded: row.try_get("amount_refunded")?,
    })
}

fn attempt_from(row: &sqlx::any::AnyRow) -> Result<Attempt, sqlx::Error> {
    Ok(Attempt {
        order_id: row.try_get("order_id")?,
        number: row.try_get("attempt")?,
        confirmation_token_id: row.try_get("confirmation_token_id")?,
        idempotency_key: row.try_get("idempotency_key")?,
        amount: row.try_get("amount")?,
        currency: row.try_get("currency")?,
        payment_intent_id: row.try_get("payment_intent_id")?,
        outcome: row.try_get("outcome")?,
        customer_id: row.try_get("customer_id")?,
        request_body: row.try_get("request_body")?,
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
        let (store, session_id, order, token, customer) =
            (self.clone(), session_id.to_owned(), order.clone(), token.to_owned(), customer.map(str::to_owned));
        Self::detached(async move { store.start_attempt_now(&session_id, &order, &token, customer.as_deref(), now, request).await }).await
    }

    async fn start_attempt_now(
        &self,
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
        let mut tx = self.begin_write().await?;
        self.lock_session(&mut tx, session_id).await?;
        if let Some((attempt, own)) = token_attempt(&mut *tx, token, session_id).await? {
            tx.rollback().await?;
            return Ok(if own { AttemptStart::Replay(attempt) } else { AttemptStart::TokenUsedElsewhere });
        }
        if let Some(email) = &order.email {
            // Remembered for the session's next checkout.
            sqlx::query("UPDATE sessions SET email = $1 WHERE id = $2").bind(email).bind(session_id).execute(&mut *tx).await?;
        }
        let open: Option<String> = sqlx::query_scalar(
            "SELECT id FROM orders WHERE session_id = $1 AND status IN ('pending', 'failed') ORDER BY created_at DESC LIMIT 1",
        )
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await?;
        let order_id = match open {
            Some(order_id) => {
                let unresolved = sqlx::query(&format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts pa WHERE pa.order_id = $1 AND pa.outcome IS NULL"
                ))
                .bind(&order_id)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = unresolved {
                    let attempt = attempt_from(&row)?;
                    tx.rollback().await?;
                    return Ok(AttemptStart::Unresolved(attempt));
                }
                if cart_is_empty(&mut tx, session_id).await? {
                    tx.rollback().await?;
                    return Ok(AttemptStart::CartEmpty);
                }
                sqlx::query(
                    "UPDATE orders SET amount = $1, discount_amount = $2, currency = $3, updated_at = $4, discount_code = $5, email = $6, locale = $7
                     WHERE id = $8",
                )
                .bind(amount)
                .bind(order.discount_amount)
                .bind(currency)
                .bind(now)
                .bind(&order.discount_code)
                .bind(&order.email)
                .bind(&order.locale)
                .bind(&order_id)
                .execute(&mut *tx)
                .await?;
                release_stock(&mut tx, &order_id).await?;
                sqlx::query("DELETE FROM order_lines WHERE order_id = $1").bind(&order_id).execute(&mut *tx).await?;
                order_id
            }
            None => {
                // The cart was priced before this transaction; if a concurrent payment
                // turned it into an order meanwhile, there is nothing left to pay for.
                if cart_is_empty(&mut tx, session_id).await? {
                    tx.rollback().await?;
                    return Ok(AttemptStart::CartEmpty);
                }
                sqlx::query(
                    "INSERT INTO orders (id, session_id, account_id, status, amount, discount_amount, discount_code, currency, created_at, updated_at,
                                         email, locale)
                     VALUES ($1, $2, (SELECT account_id FROM sessions WHERE id = $2), 'pending', $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&order.id)
                .bind(session_id)
                .bind(amount)
                .bind(order.discount_amount)
                .bind(&order.discount_code)
                .bind(currency)
                .bind(now)
                .bind(now)
                .bind(&order.email)
                .bind(&order.locale)
                .execute(&mut *tx)
                .await?;
                order.id.clone()
            }
        };
        for line in lines {
            sqlx::query("INSERT INTO order_lines (order_id, product_id, name, unit_amount, quantity) VALUES ($1, $2, $3, $4, $5)")
                .bind(&order_id)
                .bind(&line.product_id)
                .bind(&line.name)
                .bind(line.unit_amount)
                .bind(i64::from(line.quantity))
                .execute(&mut *tx)
                .await?;
        }
        if let Some((name, available)) = reserve_stock(&mut tx, &order_id, lines).await? {
            tx.rollback().await?;
            return Ok(AttemptStart::OutOfStock { name, available });
        }
        let number: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(attempt), 0) + 1 FROM payment_attempts WHERE order_id = $1")
            .bind(&order_id)
            .fetch_one(&mut *tx)
            .await?;
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
        sqlx::query(
            "INSERT INTO payment_attempts (order_id, attempt, confirmation_token_id, idempotency_key, amount, currency, created_at, customer_id, request_body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&attempt.order_id)
        .bind(attempt.number)
        .bind(&attempt.confirmation_token_id)
        .bind(&attempt.idempotency_key)
        .bind(attempt.amount)
        .bind(&attempt.currency)
        .bind(now)
        .bind(&attempt.customer_id)
        .bind(&attempt.request_body)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AttemptStart::New(attempt))
    }

    /// The attempt that used `token`, and whether it was this session's.
    pub async fn attempt_for_token(&self, token: &str, session_id: &str) -> Result<Option<(Attempt, bool)>, StoreError> {
        token_attempt(&self.pool, token, session_id).await
    }

    /// Records Stripe's answer to an attempt and moves its order to `order_status`,
    /// unless the order is already paid or canceled (states only move forward). With
    /// `clear_cart`, the order's lines leave its session's cart in the same
    /// transaction, once (see [`clear_ordered_lines`]).
    pub async fn finish_attempt(&self, attempt: &Attempt, result: AttemptResult<'_>, now: i64) -> Result<(), StoreError> {
        let (store, attempt) = (self.clone(), attempt.clone());
        let (intent, outcome, status, details) = (
            result.payment_intent_id.map(str::to_owned),
            result.outcome.to_owned(),
            result.order_status.to_owned(),
            result.details.cloned(),
        );
        let clear_cart = result.clear_cart;
        Self::detached(async move {
            let result = AttemptResult {
                payment_intent_id: intent.as_deref(),
                outcome: &outcome,
                order_status: &status,
                clear_cart,
                details: details.as_ref(),
            };
            store.finish_attempt_now(&attempt, result, now).await
        })
        .await
    }

    async fn finish_attempt_now(&self, attempt: &Attempt, result: AttemptResult<'_>, now: i64) -> Result<(), StoreError> {
        let AttemptResult { payment_intent_id, outcome, order_status, clear_cart, details } = result;
        let mut tx = self.begin_write().await?;
        self.lock_order(&mut tx, &attempt.order_id).await?;
        sqlx::query("UPDATE payment_attempts SET payment_intent_id = COALESCE($1, payment_intent_id), outcome = $2 WHERE order_id = $3 AND attempt = $4")
            .bind(payment_intent_id)
            .bind(outcome)
            .bind(&attempt.order_id)
            .bind(attempt.number)
            .execute(&mut *tx)
            .await?;
        // Only the order's latest attempt speaks for it: a late answer about an earlier
        // one (an old result page) must not undo a later one.
        let moved = sqlx::query(
            "UPDATE orders SET status = $1, payment_intent_id = COALESCE($2, payment_intent_id), updated_at = $3
             WHERE id = $4 AND status IN ('pending', 'failed', 'confirming')
             AND NOT EXISTS (SELECT 1 FROM payment_attempts later WHERE later.order_id = $4 AND later.attempt > $5)",
        )
        .bind(order_status)
        .bind(payment_intent_id)
        .bind(now)
        .bind(&attempt.order_id)
        .bind(attempt.number)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 1 && matches!(order_status, "failed" | "canceled") {
            release_stock(&mut tx, &attempt.order_id).await?;
        }
        if let Some(details) = details {
            record_details(&mut tx, &attempt.order_id, details).await?;
        }
        if clear_cart {
            clear_ordered_lines(&mut tx, &attempt.order_id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An order of this session, or of the account it is signed in to (`None` for
    /// anyone else's).
    pub async fn order_of_session(&self, order_id: &str, session_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT id, status, amount, currency, discount_amount, discount_code, payment_intent_id, created_at, updated_at,
                    COALESCE(amount_received, amount) AS charged, amount_refunded, email, locale,
                    shipping, payment_method_id, payment_method_type, card_brand, last4
             FROM orders o WHERE id = $1 AND {OWNED_BY_SESSION}"
        ))
        .bind(order_id)
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let lines = sqlx::query("SELECT product_id, name, unit_amount, quantity FROM order_lines WHERE order_id = $1 ORDER BY name")
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|line| {
                Ok(OrderLine {
                    product_id: line.try_get("product_id")?,
                    name: line.try_get("name")?,
                    unit_amount: line.try_get("unit_amount")?,
                    quantity: count(line.try_get("quantity")?),
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        Ok(Some(OrderRecord {
            id: row.try_get("id")?,
            status: row.try_get("status")?,
            amount: row.try_get("amount")?,
            currency: row.try_get("currency")?,
            discount_amount: row.try_get("discount_amount")?,
            discount_code: row.try_get("discount_code")?,
            payment_intent_id: row.try_get("payment_intent_id")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            charged: row.try_get("charged")?,
            refunded: row.try_get("amount_refunded")?,
            email: row.try_get("email")?,
            locale: row.try_get("locale")?,
            lines,
            details: PaymentDetails {
                shipping: row.try_get("shipping")?,
                payment_method_id: row.try_get("payment_method_id")?,
                payment_method_type: row.try_get("payment_method_type")?,
                card_brand: row.try_get("card_brand")?,
                last4: row.try_get("last4")?,
            },
        }))
    }

    /// The id of this session's order paid (or being paid) by a PaymentIntent.
    pub async fn order_id_for_payment_intent(&self, payment_intent_id: &str, session_id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT o.id FROM payment_attempts pa JOIN orders o ON o.id = pa.order_id
             WHERE pa.payment_intent_id = $1 AND {OWNED_BY_SESSION}"
        ))
        .bind(payment_intent_id)
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// This session's attempts left waiting for authentication (3-D Secure, a redirect).
    pub async fn attempts_awaiting_action(&self, session_id: &str) -> Result<Vec<Attempt>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts pa JOIN orders o ON o.id = pa.order_id
             WHERE o.session_id = $1 AND o.status = 'confirming' AND pa.outcome = 'requires_action'"
        ))
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(attempt_from).collect::<Result<_, _>>()?)
    }

    /// Attempts whose outcome is unknown (Stripe's reply never arrived), started
    /// before `cutoff`, with the request to replay under their key.
    pub async fn unresolved_attempts(&self, cutoff: i64) -> Result<Vec<Attempt>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts pa
             WHERE pa.outcome IS NULL AND pa.request_body IS NOT NULL AND pa.created_at <= $1 ORDER BY pa.created_at LIMIT 100"
        ))
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(attempt_from).collect::<Result<_, _>>()?)
    }

    /// Every attempt recorded for an order, oldest first.
    pub async fn attempts(&self, order_id: &str) -> Result<Vec<Attempt>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {ATTEMPT_COLUMNS} FROM payment_attempts pa WHERE pa.order_id = $1 ORDER BY pa.attempt"))
            .bind(order_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(attempt_from).collect::<Result<_, _>>()?)
    }
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
        let store = self.clone();
        let owned: [String; 5] =
            [event.event_id, event.event_type, event.order_id, event.payment_intent_id, event.currency].map(str::to_owned);
        let (amount, amount_received) = (event.amount, event.amount_received);
        Self::detached(async move {
            let [event_id, event_type, order_id, payment_intent_id, currency] = &owned;
            let event = PaymentEvent { event_id, event_type, order_id, payment_intent_id, amount, amount_received, currency };
            store.apply_payment_event_now(&event, now).await
        })
        .await
    }

    async fn apply_payment_event_now(&self, event: &PaymentEvent<'_>, now: i64) -> Result<EventEffect, StoreError> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO processed_events (event_id, type, received_at, order_id) VALUES ($1, $2, $3, $4) ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event.event_id)
        .bind(event.event_type)
        .bind(now)
        .bind(event.order_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(EventEffect::Duplicate);
        }
        // Locked: two different events for one order (two instances, or a webhook and
        // reconciliation) apply one after the other.
        let order = sqlx::query(&format!("SELECT status, amount, currency FROM orders WHERE id = $1{}", self.backend.for_update()))
            .bind(event.order_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(order) = order else {
            tx.commit().await?;
            return Ok(EventEffect::UnknownOrder);
        };
        let status: String = order.try_get("status")?;
        let effect = match event.event_type {
            "payment_intent.succeeded" => {
                let (amount, currency): (i64, String) = (order.try_get("amount")?, order.try_get("currency")?);
                if amount != event.amount || currency != event.currency {
                    sqlx::query("UPDATE orders SET flag = 'amount_mismatch', updated_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(event.order_id)
                        .execute(&mut *tx)
                        .await?;
                    EventEffect::AmountMismatch
                } else if status == "paid" {
                    EventEffect::Ignored
                } else {
                    let oversold = fulfil(&mut tx, event, now).await?;
                    EventEffect::Fulfilled { oversold }
                }
            }
            "payment_intent.payment_failed" | "payment_intent.canceled" => {
                // Only the order's current PaymentIntent speaks for it: a late failure
                // of an earlier attempt must not undo a later one. An authorisation
                // canceled (by the merchant, or expired) cancels its order; before
                // that, the shopper may still pay again.
                let moved = sqlx::query(
                    "UPDATE orders SET status = CASE WHEN status = 'authorized' THEN 'canceled' ELSE 'failed' END, updated_at = $1
                     WHERE id = $2 AND (status IN ('pending', 'confirming') OR status = 'authorized' AND $4 = 'payment_intent.canceled')
                     AND (payment_intent_id IS NULL OR payment_intent_id = $3)",
                )
                .bind(now)
                .bind(event.order_id)
                .bind(event.payment_intent_id)
                .bind(event.event_type)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if moved == 1 {
                    release_stock(&mut tx, event.order_id).await?;
                    // A payment that was processing (a SEPA debit) failed days later:
                    // the shopper has left, so they are told by email.
                    let delayed: Option<i64> = sqlx::query_scalar(
                        "SELECT 1 FROM payment_attempts WHERE order_id = $1 AND payment_intent_id = $2 AND outcome = 'processing'",
                    )
                    .bind(event.order_id)
                    .bind(event.payment_intent_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if event.event_type == "payment_intent.payment_failed" && delayed.is_some() {
                        let body = format!("Your payment for order {} did not go through; nothing was charged.", event.order_id);
                        sqlx::query(
                            "INSERT INTO outbox (order_id, kind, body, created_at) VALUES ($1, 'payment_failed', $2, $3) ON CONFLICT DO NOTHING",
                        )
                        .bind(event.order_id)
                        .bind(&body)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                EventEffect::StatusUpdated
            }
            // Authorised, waiting for the merchant to capture (stock stays reserved).
            "payment_intent.amount_capturable_updated" => {
                advance(&mut tx, event, now, "authorized", "'pending', 'confirming', 'failed'").await?
            }
            "payment_intent.processing" | "payment_intent.requires_action" => {
                advance(&mut tx, event, now, "confirming", "'pending', 'failed'").await?
            }
            _ => EventEffect::Ignored,
        };
        tx.commit().await?;
        Ok(effect)
    }

    /// Records a dispute of the charge of `payment_intent_id` (`charge.dispute.created`),
    /// exactly once: the order it paid is flagged `disputed` for the merchant.
    pub async fn flag_dispute(&self, event_id: &str, payment_intent_id: &str, now: i64) -> Result<EventEffect, StoreError> {
        let store = self.clone();
        let (event_id, payment_intent_id) = (event_id.to_owned(), payment_intent_id.to_owned());
        Self::detached(async move {
            let mut tx = store.begin_write().await?;
            let order_id: Option<String> = sqlx::query_scalar("SELECT id FROM orders WHERE payment_intent_id = $1")
                .bind(&payment_intent_id)
                .fetch_optional(&mut *tx)
                .await?;
            let inserted = sqlx::query(
                "INSERT INTO processed_events (event_id, type, received_at, order_id) VALUES ($1, 'charge.dispute.created', $2, $3)
                 ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(&event_id)
            .bind(now)
            .bind(&order_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let effect = match (inserted, &order_id) {
                (0, _) => EventEffect::Duplicate,
                (_, None) => EventEffect::UnknownOrder,
                (_, Some(order_id)) => {
                    sqlx::query("UPDATE orders SET flag = 'disputed', updated_at = $1 WHERE id = $2")
                        .bind(now)
                        .bind(order_id)
                        .execute(&mut *tx)
                        .await?;
                    EventEffect::Disputed
                }
            };
            tx.commit().await?;
            Ok(effect)
        })
        .await
    }

    /// Orders still settling (`confirming`, with a PaymentIntent) last changed before
    /// `cutoff`, and orders `authorized` before `authorized_cutoff`: `(order id,
    /// PaymentIntent id)`.
    pub async fn orders_to_reconcile(&self, cutoff: i64, authorized_cutoff: i64) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, payment_intent_id FROM orders
             WHERE payment_intent_id IS NOT NULL
             AND (status = 'confirming' AND updated_at <= $1 OR status = 'authorized' AND updated_at <= $2)
             ORDER BY updated_at LIMIT 500",
        )
        .bind(cutoff)
        .bind(authorized_cutoff)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|row| Ok((row.try_get("id")?, row.try_get("payment_intent_id")?))).collect::<Result<_, sqlx::Error>>()?)
    }

    /// Orders for the merchant, newest first, optionally of one status.
    pub async fn list_orders(&self, status: Option<&str>, limit: i64) -> Result<Vec<OrderSummary>, StoreError> {
        // Two statements, so that each reads an index in order (no scan, no sort).
        let rows = match status {
            Some(status) => {
                sqlx::query(&format!("SELECT {SUMMARY_COLUMNS} FROM orders WHERE status = $1 ORDER BY created_at DESC LIMIT $2"))
                    .bind(status)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query(&format!("SELECT {SUMMARY_COLUMNS} FROM orders ORDER BY created_at DESC LIMIT $1"))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        Ok(rows.iter().map(order_summary_from).collect::<Result<_, sqlx::Error>>()?)
    }

    /// An order's events as applied: `(event id, type, received at)`, oldest first.
    pub async fn order_events(&self, order_id: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT event_id, type, received_at FROM processed_events WHERE order_id = $1 ORDER BY received_at, event_id")
                .bind(order_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .iter()
            .map(|row| Ok((row.try_get("event_id")?, row.try_get("type")?, row.try_get("received_at")?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Any order, for the merchant (no session check).
    pub async fn order_for_merchant(&self, order_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let session: Option<String> =
            sqlx::query_scalar("SELECT session_id FROM orders WHERE id = $1").bind(order_id).fetch_optional(&self.pool).await?;
        match session {
            Some(session) => self.order_of_session(order_id, &session).await,
            None => Ok(None),
        }
    }

    /// The flag on an order, if the merchant must look at it.
    pub async fn order_flag(&self, order_id: &str) -> Result<Option<String>, StoreError> {
        let flag: Option<Option<String>> =
            sqlx::query_scalar("SELECT flag FROM orders WHERE id = $1").bind(order_id).fetch_optional(&self.pool).await?;
        Ok(flag.flatten())
    }
}

/// Moves the event's order to `status` (with the event's PaymentIntent) if it is in one
/// of `from` (quoted SQL literals): only ever forward.
async fn advance(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: &PaymentEvent<'_>,
    now: i64,
    status: &str,
    from: &str,
) -> Result<EventEffect, StoreError> {
    sqlx::query(&format!("UPDATE orders SET status = $1, payment_intent_id = $2, updated_at = $3 WHERE id = $4 AND status IN ({from})"))
        .bind(status)
        .bind(event.payment_intent_id)
        .bind(now)
        .bind(event.order_id)
        .execute(&mut **tx)
        .await?;
    Ok(EventEffect::StatusUpdated)
}

/// Marks an order paid: its reserved stock kept (or, when the reservation was released
/// because an earlier failure was reported first, taken now: never below zero, and an
/// oversold order is flagged), a confirmation queued in the outbox, its lines out of
/// the cart (unless that happened already). Returns whether it oversold.
async fn fulfil(tx: &mut sqlx::Transaction<'_, sqlx::Any>, event: &PaymentEvent<'_>, now: i64) -> Result<bool, StoreError> {
    let reserved: i64 =
        sqlx::query_scalar("SELECT stock_reserved FROM orders WHERE id = $1").bind(event.order_id).fetch_one(&mut **tx).await?;
    sqlx::query(
        "UPDATE orders SET status = 'paid', payment_intent_id = $1, updated_at = $2, stock_reserved = 1, amount_received = $3 WHERE id = $4",
    )
    .bind(event.payment_intent_id)
    .bind(now)
    .bind(event.amount_received)
    .bind(event.order_id)
        .execute(&mut **tx)
        .await?;
    let lines = sqlx::query("SELECT product_id, name, quantity FROM order_lines WHERE order_id = $1 ORDER BY product_id")
        .bind(event.order_id)
        .fetch_all(&mut **tx)
        .await?;
    let mut oversold = false;
    let mut summary = Vec::new();
    for line in &lines {
        let (product_id, name, quantity): (String, String, i64) =
            (line.try_get("product_id")?, line.try_get("name")?, line.try_get("quantity")?);
        summary.push(format!("{quantity} × {name}"));
        if reserved == 1 {
            continue;
        }
        let taken = sqlx::query("UPDATE inventory SET on_hand = on_hand - $1 WHERE product_id = $2 AND on_hand >= $3")
            .bind(quantity)
            .bind(&product_id)
            .bind(quantity)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        if taken == 0 {
            oversold = true;
            sqlx::query("UPDATE inventory SET on_hand = 0 WHERE product_id = $1").bind(&product_id).execute(&mut **tx).await?;
        }
    }
    if oversold {
        sqlx::query("UPDATE orders SET flag = 'oversold' WHERE id = $1").bind(event.order_id).execute(&mut **tx).await?;
    }
    let body = format!("Thank you for your order {}: {}. It is paid and on its way.", event.order_id, summary.join(", "));
    sqlx::query("INSERT INTO outbox (order_id, kind, body, created_at) VALUES ($1, 'order_confirmation', $2, $3) ON CONFLICT DO NOTHING")
        .bind(event.order_id)
        .bind(&body)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    clear_ordered_lines(tx, event.order_id).await?;
    tracing::info!(order = event.order_id, oversold, "order paid; confirmation queued: {body}");
    Ok(oversold)
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
async fn reserve_stock(tx: &mut sqlx::AnyConnection, order_id: &str, lines: &[OrderLine]) -> Result<Option<(String, u32)>, StoreError> {
    let mut sorted: Vec<&OrderLine> = lines.iter().collect();
    sorted.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    for line in sorted {
        let left: Option<i64> =
            sqlx::query_scalar("UPDATE inventory SET on_hand = on_hand - $1 WHERE product_id = $2 AND on_hand >= $1 RETURNING on_hand")
                .bind(i64::from(line.quantity))
                .bind(&line.product_id)
                .fetch_optional(&mut *tx)
                .await?;
        if left.is_none() {
            let available: Option<i64> = sqlx::query_scalar("SELECT on_hand FROM inventory WHERE product_id = $1")
                .bind(&line.product_id)
                .fetch_optional(&mut *tx)
                .await?;
            return Ok(Some((line.name.clone(), available.map_or(0, count))));
        }
    }
    sqlx::query("UPDATE orders SET stock_reserved = 1 WHERE id = $1").bind(order_id).execute(&mut *tx).await?;
    Ok(None)
}

/// Puts an order's reserved stock back (once: a second call finds nothing reserved).
async fn release_stock(tx: &mut sqlx::AnyConnection, order_id: &str) -> Result<(), StoreError> {
    let released =
        sqlx::query("UPDATE orders SET stock_reserved = 0 WHERE id = $1 AND stock_reserved = 1").bind(order_id).execute(&mut *tx).await?;
    if released.rows_affected() == 1 {
        for (product_id, quantity) in order_quantities(tx, order_id).await? {
            sqlx::query("UPDATE inventory SET on_hand = on_hand + $1 WHERE product_id = $2")
                .bind(quantity)
                .bind(&product_id)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// An order's products and quantities, in product order (rows are then locked in one order).
async fn order_quantities(tx: &mut sqlx::AnyConnection, order_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
    let lines = sqlx::query("SELECT product_id, quantity FROM order_lines WHERE order_id = $1 ORDER BY product_id")
        .bind(order_id)
        .fetch_all(&mut *tx)
        .await?;
    Ok(lines.iter().map(|line| Ok((line.try_get("product_id")?, line.try_get("quantity")?))).collect::<Result<_, sqlx::Error>>()?)
}

/// Takes an order's lines out of the cart of the session that placed it, once: the
/// first payment outcome that says it went through (the confirmation, the result page,
/// the webhook) does it, and every later one finds it done. Only what the order bought
/// leaves: a line the shopper added since, or the part of a quantity raised since,
/// stays in the cart.
async fn clear_ordered_lines(tx: &mut sqlx::AnyConnection, order_id: &str) -> Result<(), StoreError> {
    let session: Option<String> =
        sqlx::query_scalar("UPDATE orders SET cart_cleared = 1 WHERE id = $1 AND cart_cleared = 0 RETURNING session_id")
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(session_id) = session else { return Ok(()) };
    for (product_id, quantity) in order_quantities(tx, order_id).await? {
        sqlx::query("DELETE FROM cart_lines WHERE session_id = $1 AND product_id = $2 AND quantity <= $3")
            .bind(&session_id)
            .bind(&product_id)
            .bind(quantity)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE cart_lines SET quantity = quantity - $1 WHERE session_id = $2 AND product_id = $3")
            .bind(quantity)
            .bind(&session_id)
            .bind(&product_id)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Records where to ship and what paid; a detail Stripe did not send keeps what was
/// recorded before.
async fn record_details(tx: &mut sqlx::AnyConnection, order_id: &str, details: &PaymentDetails) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE orders SET shipping = COALESCE($1, shipping), payment_method_id = COALESCE($2, payment_method_id),
                payment_method_type = COALESCE($3, payment_method_type), card_brand = COALESCE($4, card_brand), last4 = COALESCE($5, last4)
         WHERE id = $6",
    )
    .bind(&details.shipping)
    .bind(&details.payment_method_id)
    .bind(&details.payment_method_type)
    .bind(&details.card_brand)
    .bind(&details.last4)
    .bind(order_id)
    .execute(&mut *tx)
    .await?;
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
            sqlx::query("UPDATE orders SET status = 'paid'").execute(&store.pool).await.unwrap();
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
            let rows = |id: &'static str| {
                let pool = store.pool.clone();
                async move {
                    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions WHERE id = $1").bind(id).fetch_one(&pool).await.unwrap()
                }
            };
            assert_eq!(rows("idle").await, 0, "an idle session without orders is deleted");
            assert!(store.live_session("active", 50).await.unwrap().is_some());
            assert_eq!(store.cart_lines("active").await.unwrap().len(), 1);
            assert!(store.session_exists("paying").await.unwrap(), "a payment in flight keeps its session");
            assert_eq!(store.cart_lines("paying").await.unwrap().len(), 1);
            assert_eq!(rows("ordered").await, 1, "a session with orders stays for them");
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
