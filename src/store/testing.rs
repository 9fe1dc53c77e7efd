//! The store's tests run on every backend: SQLite always, PostgreSQL when
//! `TEST_POSTGRES_URL` names a server (`make test` starts one: `scripts/with-postgres`).
//! Each test gets a database of its own: a temporary SQLite file, or a fresh schema.

use super::{Backend, Store};
use std::sync::atomic::{AtomicU64, Ordering};

/// Keeps a test's database alive.
pub struct Scratch(#[allow(dead_code)] Option<tempfile::TempDir>);

/// One empty, migrated store per backend.
pub async fn stores() -> Vec<(Store, Scratch)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::connect(&format!("sqlite://{}", dir.path().join("test.db").display())).await.unwrap();
    let mut stores = vec![(sqlite, Scratch(Some(dir)))];
    if let Some(url) = postgres_url() {
        stores.push((postgres_store(&url).await, Scratch(None)));
    }
    stores
}

/// `TEST_POSTGRES_URL`, when set.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty())
}

/// A store on a schema of its own in the PostgreSQL at `url`.
pub async fn postgres_store(url: &str) -> Store {
    let url = fresh_schema(url).await;
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), Backend::Postgres);
    store
}

/// Creates an empty schema and returns `url` with it as the search path.
pub async fn fresh_schema(url: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let schema = format!("t{}_{}_{}", std::process::id(), nanos, NEXT.fetch_add(1, Ordering::Relaxed));
    sqlx::any::install_default_drivers();
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(url).await.unwrap();
    sqlx::Executor::execute(&mut admin, format!("CREATE SCHEMA {schema}").as_str()).await.unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}
