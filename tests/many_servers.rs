//! Several storefronts built at once in one process (as the other integration tests
//! do) must all serve pages. Building renders the app to list its routes; doing that
//! from many threads at once used to leave some servers hanging on every page.
//!
//! Backend: runs once (on SQLite): it is about building servers, not about the store.

use std::time::Duration;

mod support;

/// Builds a storefront and asks it for the catalog page.
async fn serves_the_catalog() -> Result<(), String> {
    let (config, _, _db) = support::config(&[]);
    let running = support::serve(config).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let response = client.get(format!("{}/", running.base)).send().await.map_err(|e| e.to_string())?;
    if response.status() == 200 { Ok(()) } else { Err(format!("status {}", response.status())) }
}

#[test]
fn servers_built_concurrently_all_render_pages() {
    let threads: Vec<_> = (0..32)
        .map(|_| {
            std::thread::spawn(|| {
                tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(serves_the_catalog())
            })
        })
        .collect();
    let failures: Vec<String> = threads.into_iter().filter_map(|t| t.join().unwrap().err()).collect();
    assert!(failures.is_empty(), "{} of 32 servers failed: {failures:?}", failures.len());
}
