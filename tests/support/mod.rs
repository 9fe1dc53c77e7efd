//! What the integration tests share: a storefront on port 0 with a temporary database,
//! HTTP clients that time out instead of hanging, and calls to the Stripe emulator.
#![allow(dead_code)] // each test file uses a part of it

use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use storefront::config::Config;
use storefront::server::Application;

/// A configuration for tests: `Leptos.toml` with a temporary SQLite database, the
/// repository's catalog, port 0 for the storefront and its embedded emulator; `extra`
/// adds or overrides variables. Keep the returned directory alive with the server.
pub fn config(extra: &[(&str, &str)]) -> (Config, String, tempfile::TempDir) {
    let root = env!("CARGO_MANIFEST_DIR");
    let db = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", db.path().join("shop.db").display());
    let mut vars: HashMap<String, String> = HashMap::from([
        ("LEPTOS_SITE_ADDR".into(), "127.0.0.1:0".into()),
        ("DATABASE_URL".into(), db_url.clone()),
        ("STORE_CATALOG_FILE".into(), format!("{root}/catalog.toml")),
        ("STRIPE_EMULATOR_ADDR".into(), "127.0.0.1:0".into()),
    ]);
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let file = std::fs::read_to_string(format!("{root}/Leptos.toml")).unwrap();
    let config = Config::from_sources(&file, &|key| vars.get(key).cloned()).unwrap();
    (config, db_url, db)
}

/// A storefront serving in the background: its base URL and, with no Stripe key, its
/// embedded emulator's.
pub struct Running {
    pub base: String,
    pub stripe: Option<String>,
}

pub async fn serve(config: Config) -> Running {
    let app = Application::build(config).await.unwrap();
    let base = format!("http://{}", app.addr());
    let stripe = app.emulator_url().map(str::to_owned);
    tokio::spawn(app.run_until_stopped());
    Running { base, stripe }
}

/// A client that keeps cookies (a shopper) and fails a test instead of hanging it.
pub fn shopper() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(30)).build().unwrap()
}

/// A client without cookies that fails a test instead of hanging it.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// A Stripe API call (form-encoded, key as bearer) to the emulator; its JSON reply.
pub async fn stripe_call(client: &reqwest::Client, method: reqwest::Method, url: String, key: &str, form: &[(&str, &str)]) -> Value {
    client.request(method, url).bearer_auth(key).form(form).send().await.unwrap().json().await.unwrap()
}

/// A ConfirmationToken for a test PaymentMethod such as `pm_card_visa` (the
/// emulator's test helper); its id.
pub async fn test_token(client: &reqwest::Client, emulator: &str, payment_method: &str) -> String {
    let url = format!("{emulator}/v1/test_helpers/confirmation_tokens");
    let reply = stripe_call(client, reqwest::Method::POST, url, "sk_test_tests", &[("payment_method", payment_method)]).await;
    reply["id"].as_str().unwrap().to_owned()
}
