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
use std::sync::Arc;
use std::time::Duration;

mod accounts;
mod db;
mod events;
mod inventory;
mod limits;
mod orders;
mod outbox;
mod refunds;
mod sessions;
mod subscriptions;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
pub use accounts::{AccountCheckout, AccountRecord, SignIn};
use db::Tx;
pub use events::{DisputeReport, DisputeStage, EventEffect, PaymentEvent};
pub use limits::Limit;
pub use orders::{
    Attempt, AttemptOutcome, AttemptResult, AttemptStart, Handled, NewOrder, OrderFilter, OrderFlags, OrderLine, OrderRecord, OrderStatus,
    OrderSummary, PaymentBasis, PaymentDetails, shown_status,
};
pub use outbox::{DueMessage, OutboxEntry};
pub use refunds::{RefundEffect, RefundRecord, RefundReport, RefundStatus, Refunds};
pub use sessions::{CartAdd, CartContents, VisitRecord};
pub use subscriptions::{
    InvoiceEffect, ItemTerms, NewSubscription, PaidInvoice, RENEWAL_FAILED, SUBSCRIPTION_ENDED, SUBSCRIPTION_ON_HOLD, SUBSCRIPTION_PAUSED,
    SubscriptionRecord, SubscriptionState, SubscriptionTerms, TRIAL_ENDING,
};

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
    /// ([`sessions::lock_session`], [`orders::lock_order`], [`Backend::for_update`]). Every transaction
    /// takes its locks in one order, so none can wait for another in a circle (a
    /// deadlock, which PostgreSQL breaks by failing one): session, then order, then
    /// inventory rows by product id, then cart lines.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        tracing::trace!(target: "store::unit", kind = "write");
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
        tracing::trace!(target: "store::unit", kind = "read");
        match &*self.db {
            Db::Sqlite(sqlite) => sqlite.read(work),
            Db::Postgres(pool) => db::postgres(pool, false, work).await,
        }
    }

    /// A trivial query, for health checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.read(|tx| tx.query("SELECT 1", &[]).map(drop)).await
    }
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

/// Counts are stored as SQL integers but are never negative (CHECK constraints).
fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(0)
}
