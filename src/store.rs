//! The database: connection pool, migrations, and every SQL statement of the app.
//! Features call the typed methods here and never write SQL themselves, so a second
//! backend (Postgres) can be added behind this one module.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// A database fault. Its text is for the log, never for the browser.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("`{0}` is not a supported DATABASE_URL: use sqlite://path (Postgres is planned, issue 8)")]
    UnsupportedUrl(String),
}

/// Handle to the order store; cheap to clone (it is a pool).
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

/// Result of trying to add to a cart line atomically under a cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartAdd {
    /// The line now holds this quantity.
    Added(u32),
    /// The addition would have gone past the cap; nothing changed.
    OverCap,
}

impl Store {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            // WAL lets readers run while one writer commits; NORMAL is durable in WAL
            // mode except for the last transactions on power loss, never corrupting.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool })
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
        let mut tx = self.pool.begin().await?;
        for (product_id, on_hand) in items {
            sqlx::query("INSERT INTO inventory (product_id, on_hand) VALUES (?, ?) ON CONFLICT (product_id) DO NOTHING")
                .bind(product_id)
                .bind(i64::from(on_hand))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stock on hand of every product.
    pub async fn stock_levels(&self) -> Result<HashMap<String, u32>, StoreError> {
        let rows = sqlx::query("SELECT product_id, on_hand FROM inventory").fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| Ok((row.try_get("product_id")?, count(row.try_get("on_hand")?))))
            .collect()
    }

    /// Stock on hand of one product (0 when unknown).
    pub async fn stock_of(&self, product_id: &str) -> Result<u32, StoreError> {
        let on_hand: Option<i64> = sqlx::query_scalar("SELECT on_hand FROM inventory WHERE product_id = ?")
            .bind(product_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(on_hand.map_or(0, count))
    }

    // ---- sessions --------------------------------------------------------------

    pub async fn create_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO sessions (id, created_at, last_seen_at) VALUES (?, ?, ?)")
            .bind(id)
            .bind(now)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn session_exists(&self, id: &str) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM sessions WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    // ---- carts -----------------------------------------------------------------

    /// The lines of a session's cart, oldest first.
    pub async fn cart_lines(&self, session_id: &str) -> Result<Vec<(String, u32)>, StoreError> {
        let rows = sqlx::query(
            "SELECT product_id, quantity FROM cart_lines WHERE session_id = ? ORDER BY added_at, product_id",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("product_id")?, count(row.try_get("quantity")?))))
            .collect()
    }

    /// Adds `quantity` to a line in one statement, refusing (and changing nothing) when
    /// the line would exceed `cap`; concurrent additions cannot overshoot it.
    pub async fn add_to_cart(
        &self,
        session_id: &str,
        product_id: &str,
        quantity: u32,
        cap: u32,
        now: i64,
    ) -> Result<CartAdd, StoreError> {
        if quantity > cap {
            return Ok(CartAdd::OverCap);
        }
        let new_quantity: Option<i64> = sqlx::query_scalar(
            "INSERT INTO cart_lines (session_id, product_id, quantity, added_at) VALUES (?1, ?2, ?3, ?5)
             ON CONFLICT (session_id, product_id)
             DO UPDATE SET quantity = cart_lines.quantity + excluded.quantity
             WHERE cart_lines.quantity + excluded.quantity <= ?4
             RETURNING quantity",
        )
        .bind(session_id)
        .bind(product_id)
        .bind(i64::from(quantity))
        .bind(i64::from(cap))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(new_quantity.map_or(CartAdd::OverCap, |q| CartAdd::Added(count(q))))
    }

    /// Sets a line's quantity, creating the line if needed.
    pub async fn set_cart_quantity(
        &self,
        session_id: &str,
        product_id: &str,
        quantity: u32,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cart_lines (session_id, product_id, quantity, added_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (session_id, product_id) DO UPDATE SET quantity = excluded.quantity",
        )
        .bind(session_id)
        .bind(product_id)
        .bind(i64::from(quantity))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn remove_cart_line(&self, session_id: &str, product_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM cart_lines WHERE session_id = ? AND product_id = ?")
            .bind(session_id)
            .bind(product_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Counts are stored as SQL integers but are never negative (CHECK constraints).
fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn temp_store() -> (Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        (Store::connect(&url).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn adding_past_the_cap_changes_nothing() {
        let (store, _dir) = temp_store().await;
        store.create_session("s", 0).await.unwrap();
        assert_eq!(store.add_to_cart("s", "mug", 60, 99, 0).await.unwrap(), CartAdd::Added(60));
        assert_eq!(store.add_to_cart("s", "mug", 40, 99, 0).await.unwrap(), CartAdd::OverCap);
        assert_eq!(store.add_to_cart("s", "mug", 39, 99, 0).await.unwrap(), CartAdd::Added(99));
        assert_eq!(store.cart_lines("s").await.unwrap(), vec![("mug".to_owned(), 99)]);
    }

    #[tokio::test]
    async fn seeding_inventory_never_overwrites_known_stock() {
        let (store, _dir) = temp_store().await;
        store.seed_inventory([("mug", 5)]).await.unwrap();
        store.seed_inventory([("mug", 50), ("tote", 3)]).await.unwrap();
        assert_eq!(store.stock_of("mug").await.unwrap(), 5);
        assert_eq!(store.stock_of("tote").await.unwrap(), 3);
        assert_eq!(store.stock_of("unknown").await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_cart_line_needs_a_real_session() {
        let (store, _dir) = temp_store().await;
        assert!(store.add_to_cart("nobody", "mug", 1, 99, 0).await.is_err());
    }

    #[tokio::test]
    async fn a_non_sqlite_url_is_refused_with_a_clear_error() {
        let error = Store::connect("mysql://localhost/shop").await.unwrap_err();
        assert!(error.to_string().contains("DATABASE_URL"));
    }
}
