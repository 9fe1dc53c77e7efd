//! Accounts and signed-in sessions.

use super::db::{Row, Tx};
use super::{OrderSummary, Store, StoreError, SubscriptionRecord};

/// An account as the server knows it. The password hash never leaves the server.
#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub stripe_customer_id: Option<String>,
    /// The account's last Customer that Stripe deleted (it names the next one's
    /// idempotency key).
    pub deleted_stripe_customer_id: Option<String>,
    /// The language Stripe was last told its Customer prefers (`preferred_locales`),
    /// `None` if never (a Customer made before the shop told it).
    pub stripe_customer_locale: Option<String>,
}

/// What a signed-in checkout reads of the account (see [`Store::account_for_checkout`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountCheckout {
    /// Where its latest order shipped (Stripe's `shipping` as JSON), for the Address
    /// Element's `defaultValues`.
    pub last_shipping: Option<String>,
    /// One of its subscriptions will charge a renewal to a card set on it.
    pub a_card_pays_renewals: bool,
    /// It has had a subscription to the product asked about (no second free trial).
    pub subscribed_before: bool,
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

pub(super) fn account_from(row: &Row) -> Result<AccountRecord, StoreError> {
    Ok(AccountRecord {
        id: row.get("id")?,
        email: row.get("email")?,
        password_hash: row.get("password_hash")?,
        stripe_customer_id: row.get("stripe_customer_id")?,
        deleted_stripe_customer_id: row.get("deleted_stripe_customer_id")?,
        stripe_customer_locale: row.get("stripe_customer_locale")?,
    })
}

/// The columns [`account_from`] reads, of `accounts a`: a literal, for `concat!`.
macro_rules! account_columns {
    () => {
        "a.id, a.email, a.password_hash, a.stripe_customer_id, a.deleted_stripe_customer_id, a.stripe_customer_locale"
    };
}
pub(super) use account_columns;

impl Store {
    /// Creates an account; `false` when the email (compared by `email_key`) is taken.
    pub async fn create_account(&self, id: &str, email: &str, email_key: &str, password_hash: &str, now: i64) -> Result<bool, StoreError> {
        let (id, email, email_key, password_hash) = (id.to_owned(), email.to_owned(), email_key.to_owned(), password_hash.to_owned());
        self.write(move |tx| {
            let inserted = tx.execute(
                "INSERT INTO accounts (id, email, email_key, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (email_key) DO NOTHING",
                &[&id, &email, &email_key, &password_hash, &now],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    pub async fn account_by_email(&self, email_key: &str) -> Result<Option<AccountRecord>, StoreError> {
        let email_key = email_key.to_owned();
        self.read(move |tx| {
            let row = tx.query_opt(concat!("SELECT ", account_columns!(), " FROM accounts a WHERE a.email_key = $1"), &[&email_key])?;
            row.as_ref().map(account_from).transpose()
        })
        .await
    }

    /// The account a live session is signed in to.
    pub async fn account_of_session(&self, session_id: &str) -> Result<Option<AccountRecord>, StoreError> {
        let session_id = session_id.to_owned();
        self.read(move |tx| {
            let row = tx.query_opt(
                concat!(
                    "SELECT ",
                    account_columns!(),
                    " FROM sessions s JOIN accounts a ON a.id = s.account_id WHERE s.id = $1 AND s.ended_at IS NULL"
                ),
                &[&session_id],
            )?;
            row.as_ref().map(account_from).transpose()
        })
        .await
    }

    /// Starts a signed-in session in place of the browser's previous one, in one
    /// transaction. From a guest session, the cart,
    /// the discount code and the guest's orders move to the new session and account.
    /// A session signed in to another account passes nothing on. The previous session
    /// ends either way: its cookie is worthless from now on.
    pub async fn sign_in(&self, sign_in: SignIn<'_>) -> Result<(), StoreError> {
        let (account_id, previous_session, new_session, now) =
            (sign_in.account_id.to_owned(), sign_in.previous_session.map(str::to_owned), sign_in.new_session.to_owned(), sign_in.now);
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO sessions (id, created_at, last_seen_at, account_id) VALUES ($1, $2, $3, $4)",
                &[&new_session, &now, &now, &account_id],
            )?;
            if let Some(previous) = previous_session {
                let guest: Option<Option<String>> =
                    tx.scalar("SELECT account_id FROM sessions WHERE id = $1 AND ended_at IS NULL", &[&previous])?;
                if guest == Some(None) {
                    tx.execute(
                        "INSERT INTO cart_lines (session_id, product_id, quantity, added_at)
                     SELECT $1, product_id, quantity, added_at FROM cart_lines WHERE session_id = $2",
                        &[&new_session, &previous],
                    )?;
                    tx.execute(
                        "UPDATE sessions SET discount_code = (SELECT discount_code FROM sessions WHERE id = $1) WHERE id = $2",
                        &[&previous, &new_session],
                    )?;
                    tx.execute(
                        "UPDATE orders SET session_id = $1, account_id = $2 WHERE session_id = $3 AND account_id IS NULL",
                        &[&new_session, &account_id, &previous],
                    )?;
                }
                end_session(tx, &previous, now)?;
            }
            Ok(())
        })
        .await
    }

    /// Ends a session (signing out): it is never accepted again; its cart is dropped.
    /// Orders stay with the account they were placed in.
    pub async fn end_session(&self, session_id: &str, now: i64) -> Result<(), StoreError> {
        let session_id = session_id.to_owned();
        self.write(move |tx| end_session(tx, &session_id, now)).await
    }

    /// Records the account's Stripe Customer, made preferring `locale`, unless it
    /// already has one; returns the one on record (the first writer wins when two
    /// requests race).
    pub async fn set_stripe_customer(&self, account_id: &str, customer_id: &str, locale: &str) -> Result<String, StoreError> {
        let (account_id, customer_id, locale) = (account_id.to_owned(), customer_id.to_owned(), locale.to_owned());
        self.write(move |tx| {
            tx.execute(
                "UPDATE accounts SET stripe_customer_id = $1, stripe_customer_locale = $3 WHERE id = $2 AND stripe_customer_id IS NULL",
                &[&customer_id, &account_id, &locale],
            )?;
            let stored: Option<String> = tx.one("SELECT stripe_customer_id FROM accounts WHERE id = $1", &[&account_id])?;
            Ok(stored.unwrap_or(customer_id))
        })
        .await
    }

    /// Stripe was told that `customer_id` prefers `locale`: recorded, if the account still
    /// holds that Customer.
    pub async fn set_stripe_customer_locale(&self, account_id: &str, customer_id: &str, locale: &str) -> Result<(), StoreError> {
        let (account_id, customer_id, locale) = (account_id.to_owned(), customer_id.to_owned(), locale.to_owned());
        self.write(move |tx| {
            tx.execute(
                "UPDATE accounts SET stripe_customer_locale = $3 WHERE id = $1 AND stripe_customer_id = $2",
                &[&account_id, &customer_id, &locale],
            )
            .map(drop)
        })
        .await
    }

    /// Stripe deleted `customer_id`: the account holding it forgets it, and remembers it
    /// as its deleted one. `false` when no account held it.
    pub async fn forget_stripe_customer(&self, customer_id: &str) -> Result<bool, StoreError> {
        let customer_id = customer_id.to_owned();
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE accounts SET deleted_stripe_customer_id = stripe_customer_id, stripe_customer_id = NULL
                 WHERE stripe_customer_id = $1",
                &[&customer_id],
            )?;
            Ok(changed > 0)
        })
        .await
    }

    /// The account's `limit` latest orders (those older than the order `after` names, by
    /// its `created_at` and id, when given) and its subscriptions, newest first, in one
    /// read.
    pub async fn account_history(
        &self,
        account_id: &str,
        limit: i64,
        after: Option<(i64, String)>,
    ) -> Result<(Vec<OrderSummary>, Vec<SubscriptionRecord>), StoreError> {
        let account_id = account_id.to_owned();
        self.read(move |tx| {
            let columns = super::orders::SUMMARY_COLUMNS;
            let rows = match &after {
                None => tx.query(
                    &format!("SELECT {columns} FROM orders WHERE account_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"),
                    &[&account_id, &limit],
                )?,
                Some((created_at, id)) => tx.query(
                    &format!(
                        "SELECT {columns} FROM orders WHERE account_id = $1 AND (created_at, id) < ($3, $4) \
                         ORDER BY created_at DESC, id DESC LIMIT $2"
                    ),
                    &[&account_id, &limit, created_at, id],
                )?,
            };
            let orders = rows.iter().map(super::orders::order_summary_from).collect::<Result<_, StoreError>>()?;
            Ok((orders, super::subscriptions::of_account(tx, &account_id)?))
        })
        .await
    }

    /// What a signed-in checkout reads besides the visitor, in one read: where the
    /// account's latest order shipped, whether one of its subscriptions will charge a
    /// renewal to a card set on it ([`super::subscriptions::SubscriptionState::renews`]), and, for a cart
    /// `subscribing_to` a product, whether it has had a subscription to it before.
    pub async fn account_for_checkout(&self, account_id: &str, subscribing_to: Option<&str>) -> Result<AccountCheckout, StoreError> {
        let account_id = account_id.to_owned();
        let subscribing_to = subscribing_to.map(str::to_owned);
        self.read(move |tx| {
            let row = tx.query_opt(
                "SELECT shipping FROM orders WHERE account_id = $1 AND shipping IS NOT NULL ORDER BY created_at DESC, id LIMIT 1",
                &[&account_id],
            )?;
            let last_shipping = row.map(|row| row.get("shipping")).transpose()?;
            let live = super::subscriptions::live_with_a_card(tx, &account_id)?;
            let subscribed_before = match &subscribing_to {
                Some(product) => super::subscriptions::subscribed_before(tx, &account_id, product)?,
                None => false,
            };
            Ok(AccountCheckout { last_shipping, a_card_pays_renewals: live.iter().any(|s| s.state.renews()), subscribed_before })
        })
        .await
    }
}

fn end_session(tx: &mut Tx<'_>, session_id: &str, now: i64) -> Result<(), StoreError> {
    tx.execute("DELETE FROM cart_lines WHERE session_id = $1", &[&session_id])?;
    tx.execute("UPDATE sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL", &[&now, &session_id])?;
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
            let mut lines = store.cart("s2").await.unwrap().0;
            lines.sort();
            assert_eq!(lines, [("mug".to_owned(), 50), ("tote".to_owned(), 1)]);
            assert!(!store.live_session("guest", i64::MIN).await.unwrap().is_some());
            assert!(store.cart("guest").await.unwrap().0.is_empty());
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
            assert!(store.cart("sb").await.unwrap().0.is_empty());
            assert!(!store.live_session("sa", i64::MIN).await.unwrap().is_some());
            assert!(store.account_of_session("sa").await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn the_first_stripe_customer_recorded_wins() {
        for (store, _scratch) in stores().await {
            store.create_account("acct_1", "a@example.com", "a@example.com", "hash", 0).await.unwrap();
            assert_eq!(store.set_stripe_customer("acct_1", "cus_first", "en").await.unwrap(), "cus_first");
            assert_eq!(store.set_stripe_customer("acct_1", "cus_second", "en").await.unwrap(), "cus_first");
        }
    }

    #[tokio::test]
    async fn a_customer_deleted_at_stripe_is_forgotten_and_remembered_as_deleted() {
        for (store, _scratch) in stores().await {
            store.create_account("acct_1", "a@example.com", "a@example.com", "hash", 0).await.unwrap();
            store.set_stripe_customer("acct_1", "cus_first", "en").await.unwrap();
            let deleted = async || store.account_by_email("a@example.com").await.unwrap().unwrap().deleted_stripe_customer_id;
            assert_eq!(deleted().await, None);
            assert!(!store.forget_stripe_customer("cus_other").await.unwrap());
            assert!(store.forget_stripe_customer("cus_first").await.unwrap());
            assert!(!store.forget_stripe_customer("cus_first").await.unwrap(), "once");
            assert_eq!(deleted().await.as_deref(), Some("cus_first"));
            assert_eq!(store.set_stripe_customer("acct_1", "cus_second", "en").await.unwrap(), "cus_second");
        }
    }
}
