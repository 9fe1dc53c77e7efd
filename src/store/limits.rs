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
    /// One write transaction; hits older than the longest window are forgotten.
    pub async fn take_rate_slot(&self, scopes: &[(String, Limit)], now: i64) -> Result<Option<i64>, StoreError> {
        let mut scopes = scopes.to_vec();
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
            for (scope, _) in &scopes {
                tx.execute("INSERT INTO rate_limit_hits (scope, at) VALUES ($1, $2)", &[&scope, &now])?;
            }
            let longest = scopes.iter().map(|(_, limit)| limit.window_secs).max().unwrap_or(0);
            tx.execute("DELETE FROM rate_limit_hits WHERE at <= $1", &[&(now - longest)])?;
            Ok(None)
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
                assert_eq!(store.take_rate_slot(&scopes, now).await.unwrap(), None);
            }
            assert_eq!(store.take_rate_slot(&scopes, 10).await.unwrap(), Some(50), "the first hit frees its slot at 60");
            // Refused hits are not counted: another scope sharing a limit still has room.
            let other = vec![("b".to_owned(), limit), ("shared".to_owned(), Limit { max: 5, window_secs: 60 })];
            assert_eq!(store.take_rate_slot(&other, 11).await.unwrap(), None);
            assert_eq!(store.take_rate_slot(&other, 12).await.unwrap(), None);
            assert!(store.take_rate_slot(&other, 13).await.unwrap().is_some(), "the shared scope is full at 5");
            assert_eq!(store.take_rate_slot(&scopes, 61).await.unwrap(), None, "the window moved on");
        }
    }
}
