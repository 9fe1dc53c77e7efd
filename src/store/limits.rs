//! Sliding-window rate limits, counted in the database (shared by every instance).

use super::{Store, StoreError};

/// One limit: at most `max` hits per `window_secs` for a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: i64,
    pub window_secs: i64,
}

impl Store {
    /// Counts a hit against every scope, unless one of them is already at its limit:
    /// then nothing is counted and the answer is how many seconds until a slot frees up.
    /// `attempt`, when given, tags the hits so that [`Store::forgive`] can take them
    /// back. One write transaction; each hit is forgotten once its own limit's window has
    /// passed.
    pub async fn take_rate_slot(&self, scopes: &[(String, Limit)], attempt: Option<&str>, now: i64) -> Result<Option<i64>, StoreError> {
        let (mut scopes, attempt) = (scopes.to_vec(), attempt.map(str::to_owned));
        self.write(move |tx| {
            if tx.backend() == super::Backend::Postgres {
                // Count-then-insert must not interleave for one scope. The locks are
                // taken in one global order (sorted), so two requests cannot deadlock.
                scopes.sort_by(|a, b| a.0.cmp(&b.0));
                for (scope, _) in &scopes {
                    tx.execute("SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtext($1))) AS locked", &[&scope])?;
                }
            }
            for (scope, limit) in &scopes {
                let row = tx.one_row(
                    "SELECT COUNT(*) AS hits, MIN(at) AS oldest FROM rate_limit_hits WHERE scope = $1 AND at > $2",
                    &[&scope, &(now - limit.window_secs)],
                )?;
                let (hits, oldest): (i64, Option<i64>) = (row.get("hits")?, row.get("oldest")?);
                if hits >= limit.max {
                    tx.abandon();
                    return Ok(Some(oldest.map_or(limit.window_secs, |oldest| oldest + limit.window_secs - now).max(1)));
                }
            }
            for (scope, limit) in &scopes {
                tx.execute(
                    "INSERT INTO rate_limit_hits (scope, at, expires_at, attempt) VALUES ($1, $2, $3, $4)",
                    &[&scope, &now, &(now + limit.window_secs), &attempt],
                )?;
            }
            tx.execute("DELETE FROM rate_limit_hits WHERE expires_at <= $1", &[&now])?;
            Ok(None)
        })
        .await
    }

    /// Takes back the hits tagged `attempt`, and forgets every hit of `scope`: a sign-in
    /// whose password was right was no failure, and its account's failures are forgiven.
    pub async fn forgive(&self, attempt: &str, scope: &str) -> Result<(), StoreError> {
        let (attempt, scope) = (attempt.to_owned(), scope.to_owned());
        self.write(move |tx| {
            tx.execute("DELETE FROM rate_limit_hits WHERE attempt = $1 OR scope = $2", &[&attempt, &scope])?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scope_at_its_limit_is_refused_until_the_window_moves_on() {
        for (store, _scratch) in crate::store::testing::stores().await {
            let limit = Limit { max: 3, window_secs: 60 };
            let scopes = vec![("a".to_owned(), limit), ("shared".to_owned(), Limit { max: 5, window_secs: 60 })];
            for now in 0..3 {
                assert_eq!(store.take_rate_slot(&scopes, None, now).await.unwrap(), None);
            }
            assert_eq!(store.take_rate_slot(&scopes, None, 10).await.unwrap(), Some(50), "the first hit frees its slot at 60");
            // Refused hits are not counted: another scope sharing a limit still has room.
            let other = vec![("b".to_owned(), limit), ("shared".to_owned(), Limit { max: 5, window_secs: 60 })];
            assert_eq!(store.take_rate_slot(&other, None, 11).await.unwrap(), None);
            assert_eq!(store.take_rate_slot(&other, None, 12).await.unwrap(), None);
            assert!(store.take_rate_slot(&other, None, 13).await.unwrap().is_some(), "the shared scope is full at 5");
            assert_eq!(store.take_rate_slot(&scopes, None, 61).await.unwrap(), None, "the window moved on");
        }
    }

    #[tokio::test]
    async fn a_short_limit_does_not_forget_the_hits_of_a_longer_one() {
        for (store, _scratch) in crate::store::testing::stores().await {
            let hour = vec![("sign_up:ip:a".to_owned(), Limit { max: 1, window_secs: 3600 })];
            let minutes = vec![("confirm:ip:a".to_owned(), Limit { max: 5, window_secs: 600 })];
            assert_eq!(store.take_rate_slot(&hour, None, 0).await.unwrap(), None);
            assert_eq!(store.take_rate_slot(&minutes, None, 700).await.unwrap(), None);
            assert_eq!(store.take_rate_slot(&hour, None, 701).await.unwrap(), Some(2899), "the sign-up of 0 counts for an hour");
        }
    }

    #[tokio::test]
    async fn a_sign_in_counts_as_failed_until_it_is_forgiven() {
        for (store, _scratch) in crate::store::testing::stores().await {
            let per = |max| Limit { max, window_secs: 900 };
            let scopes = |email: &str| [(format!("sign_in:email:{email}"), per(2)), ("sign_in:ip:192.0.2.1".to_owned(), per(3))];
            let attempt = |id, email, now| {
                let scopes = scopes(email);
                let store = store.clone();
                async move { store.take_rate_slot(&scopes, Some(id), now).await.unwrap() }
            };
            assert_eq!(attempt("a1", "jenny", 100).await, None);
            assert_eq!(attempt("a2", "jenny", 110).await, None);
            // Two attempts in flight or failed: the account's third waits for the first to
            // leave the window, and is not counted, so the address still has room.
            assert_eq!(attempt("a3", "jenny", 120).await, Some(880));
            assert_eq!(attempt("b1", "joe", 130).await, None);
            assert_eq!(attempt("b2", "joe", 131).await, Some(869), "the address has had 3");
            // Joe's password was right: his attempt is taken back and the address has room
            // again; Jenny's failures stay on her account.
            store.forgive("b1", "sign_in:email:joe").await.unwrap();
            assert_eq!(attempt("b3", "joe", 140).await, None);
            assert_eq!(attempt("a4", "jenny", 141).await, Some(859));
            // Jenny's right password forgives her account's failures, not the address's.
            store.forgive("a2", "sign_in:email:jenny").await.unwrap();
            assert_eq!(attempt("a5", "jenny", 150).await, None);
            assert_eq!(attempt("a6", "jenny", 151).await, Some(849), "the address has a1, b3 and a5");
            assert_eq!(attempt("a7", "jenny", 1_001).await, None, "a1 left the window at 1,000");
        }
    }
}
