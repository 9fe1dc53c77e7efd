//! Accounts, signed-in sessions and the sign-in rate limit.

use super::{OrderSummary, Store, StoreError};
use sqlx::Row;

/// An account as the server knows it. The password hash never leaves the server.
#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub stripe_customer_id: Option<String>,
}

/// A sign-in to record: the session it replaces (if any) and the new one.
#[derive(Debug, Clone, Copy)]
pub struct SignIn<'a> {
    pub account_id: &'a str,
    /// The session the browser had, whose cart (and guest orders) carry over.
    pub previous_session: Option<&'a str>,
    /// The new session's id (the hash of a token never used before).
    pub new_session: &'a str,
    pub now: i64,
}

fn account_from(row: &sqlx::any::AnyRow) -> Result<AccountRecord, sqlx::Error> {
    Ok(AccountRecord {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        password_hash: row.try_get("password_hash")?,
        stripe_customer_id: row.try_get("stripe_customer_id")?,
    })
}

const ACCOUNT_COLUMNS: &str = "a.id, a.email, a.password_hash, a.stripe_customer_id";

impl Store {
    /// Creates an account; `false` when the email (compared by `email_key`) is taken.
    pub async fn create_account(&self, id: &str, email: &str, email_key: &str, password_hash: &str, now: i64) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO accounts (id, email, email_key, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (email_key) DO NOTHING",
        )
        .bind(id)
        .bind(email)
        .bind(email_key)
        .bind(password_hash)
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    pub async fn account_by_email(&self, email_key: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.email_key = $1"))
            .bind(email_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(account_from).transpose()?)
    }

    /// The account a live session is signed in to.
    pub async fn account_of_session(&self, session_id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id = $1 AND s.ended_at IS NULL"
        ))
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(account_from).transpose()?)
    }

    /// Starts a signed-in session in place of the browser's previous one, in one
    /// transaction. From a guest session, the cart,
    /// the discount code and the guest's orders move to the new session and account.
    /// A session signed in to another account passes nothing on. The previous session
    /// ends either way: its cookie is worthless from now on.
    pub async fn sign_in(&self, sign_in: SignIn<'_>) -> Result<(), StoreError> {
        let store = self.clone();
        let (account, previous, new, now) =
            (sign_in.account_id.to_owned(), sign_in.previous_session.map(str::to_owned), sign_in.new_session.to_owned(), sign_in.now);
        Self::detached(async move {
            store.sign_in_now(SignIn { account_id: &account, previous_session: previous.as_deref(), new_session: &new, now }).await
        })
        .await
    }

    async fn sign_in_now(&self, sign_in: SignIn<'_>) -> Result<(), StoreError> {
        let SignIn { account_id, previous_session, new_session, now } = sign_in;
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO sessions (id, created_at, last_seen_at, account_id) VALUES ($1, $2, $3, $4)")
            .bind(new_session)
            .bind(now)
            .bind(now)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        if let Some(previous) = previous_session {
            let guest: Option<Option<String>> = sqlx::query_scalar("SELECT account_id FROM sessions WHERE id = $1 AND ended_at IS NULL")
                .bind(previous)
                .fetch_optional(&mut *tx)
                .await?;
            if guest == Some(None) {
                sqlx::query(
                    "INSERT INTO cart_lines (session_id, product_id, quantity, added_at)
                     SELECT $1, product_id, quantity, added_at FROM cart_lines WHERE session_id = $2",
                )
                .bind(new_session)
                .bind(previous)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE sessions SET discount_code = (SELECT discount_code FROM sessions WHERE id = $1) WHERE id = $2")
                    .bind(previous)
                    .bind(new_session)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE orders SET session_id = $1, account_id = $2 WHERE session_id = $3 AND account_id IS NULL")
                    .bind(new_session)
                    .bind(account_id)
                    .bind(previous)
                    .execute(&mut *tx)
                    .await?;
            }
            end_session(&mut tx, previous, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Ends a session (signing out): it is never accepted again; its cart is dropped.
    /// Orders stay with the account they were placed in.
    pub async fn end_session(&self, session_id: &str, now: i64) -> Result<(), StoreError> {
        let (store, session_id) = (self.clone(), session_id.to_owned());
        Self::detached(async move {
            let mut tx = store.begin_write().await?;
            end_session(&mut tx, &session_id, now).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Records the account's Stripe Customer unless it already has one; returns the
    /// one on record (the first writer wins when two requests race).
    pub async fn set_stripe_customer(&self, account_id: &str, customer_id: &str) -> Result<String, StoreError> {
        sqlx::query("UPDATE accounts SET stripe_customer_id = $1 WHERE id = $2 AND stripe_customer_id IS NULL")
            .bind(customer_id)
            .bind(account_id)
            .execute(&self.writer)
            .await?;
        let stored: Option<String> =
            sqlx::query_scalar("SELECT stripe_customer_id FROM accounts WHERE id = $1").bind(account_id).fetch_one(&self.writer).await?;
        Ok(stored.unwrap_or_else(|| customer_id.to_owned()))
    }

    /// The account's orders, newest first.
    pub async fn account_orders(&self, account_id: &str, limit: i64) -> Result<Vec<OrderSummary>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM orders WHERE account_id = $1 ORDER BY created_at DESC, id LIMIT $2",
            super::SUMMARY_COLUMNS
        ))
        .bind(account_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(super::order_summary_from).collect::<Result<_, sqlx::Error>>()?)
    }

    // ---- sign-in rate limit ------------------------------------------------------

    /// Failed sign-ins recorded for `scope` at or after `since`.
    pub async fn sign_in_failures(&self, scope: &str, since: i64) -> Result<(i64, Option<i64>), StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*) AS failures, MIN(failed_at) AS oldest FROM sign_in_failures WHERE scope = $1 AND failed_at >= $2")
                .bind(scope)
                .bind(since)
                .fetch_one(&self.pool)
                .await?;
        Ok((row.try_get("failures")?, row.try_get("oldest")?))
    }

    /// Records one failed sign-in under each scope, and forgets failures older than
    /// `forget_before` (the table stays as small as the window).
    pub async fn record_sign_in_failure(&self, scopes: &[&str], now: i64, forget_before: i64) -> Result<(), StoreError> {
        let (store, scopes) = (self.clone(), scopes.iter().map(|scope| (*scope).to_owned()).collect::<Vec<_>>());
        Self::detached(async move { store.record_failures(&scopes, now, forget_before).await }).await
    }

    /// Forgets the failures of a scope (the account, after a successful sign-in).
    pub async fn clear_sign_in_failures(&self, scope: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sign_in_failures WHERE scope = $1").bind(scope).execute(&self.writer).await?;
        Ok(())
    }
}

impl Store {
    async fn record_failures(&self, scopes: &[String], now: i64, forget_before: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for scope in scopes {
            sqlx::query("INSERT INTO sign_in_failures (scope, failed_at) VALUES ($1, $2)").bind(scope).bind(now).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM sign_in_failures WHERE failed_at < $1").bind(forget_before).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn end_session(tx: &mut sqlx::AnyConnection, session_id: &str, now: i64) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM cart_lines WHERE session_id = $1").bind(session_id).execute(&mut *tx).await?;
    sqlx::query("UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
        .bind(now)
        .bind(session_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn stores() -> Vec<(Store, crate::store::testing::Scratch)> {
        let stores = crate::store::testing::stores().await;
        for (store, _) in &stores {
            store.seed_inventory([("mug", 500_u32), ("tote", 500)]).await.unwrap();
        }
        stores
    }

    #[tokio::test]
    async fn signing_in_merges_the_guest_cart_and_ends_the_guest_session() {
        for (store, _scratch) in stores().await {
            assert!(store.create_account("acct_1", "a@example.com", "a@example.com", "hash", 0).await.unwrap());
            store.create_session("guest", 1).await.unwrap();
            store.add_to_cart("guest", "mug", 50, 99, 1).await.unwrap();
            store.add_to_cart("guest", "tote", 1, 99, 1).await.unwrap();

            store.sign_in(SignIn { account_id: "acct_1", previous_session: Some("guest"), new_session: "s2", now: 2 }).await.unwrap();
            let mut lines = store.cart_lines("s2").await.unwrap();
            lines.sort();
            assert_eq!(lines, [("mug".to_owned(), 50), ("tote".to_owned(), 1)]);
            assert!(!store.session_exists("guest").await.unwrap());
            assert!(store.cart_lines("guest").await.unwrap().is_empty());
            assert_eq!(store.account_of_session("s2").await.unwrap().unwrap().id, "acct_1");
        }
    }

    #[tokio::test]
    async fn a_session_of_another_account_passes_nothing_on() {
        for (store, _scratch) in stores().await {
            store.create_account("acct_a", "a@example.com", "a@example.com", "hash", 0).await.unwrap();
            store.create_account("acct_b", "b@example.com", "b@example.com", "hash", 0).await.unwrap();
            store.sign_in(SignIn { account_id: "acct_a", previous_session: None, new_session: "sa", now: 0 }).await.unwrap();
            store.add_to_cart("sa", "mug", 2, 99, 0).await.unwrap();
            store.sign_in(SignIn { account_id: "acct_b", previous_session: Some("sa"), new_session: "sb", now: 1 }).await.unwrap();
            assert!(store.cart_lines("sb").await.unwrap().is_empty());
            assert!(!store.session_exists("sa").await.unwrap());
            assert!(store.account_of_session("sa").await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn the_first_stripe_customer_recorded_wins() {
        for (store, _scratch) in stores().await {
            store.create_account("acct_1", "a@example.com", "a@example.com", "hash", 0).await.unwrap();
            assert_eq!(store.set_stripe_customer("acct_1", "cus_first").await.unwrap(), "cus_first");
            assert_eq!(store.set_stripe_customer("acct_1", "cus_second").await.unwrap(), "cus_first");
        }
    }
}
