//! Fulfilment that does not depend on the storefront being up when Stripe speaks: the
//! storefront stopped while events are sent (Stripe's retries deliver them after a
//! restart), and events lost for good (reconciliation asks Stripe).

use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use storefront::config::Config;
use storefront::server::Application;
use tokio::sync::oneshot;

const SECRET: &str = "whsec_recovery";

fn config(db_url: &str, port: u16, emulator: &str, extra: &[(&str, &str)]) -> Config {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut vars: HashMap<String, String> = HashMap::from([
        ("LEPTOS_SITE_ADDR".into(), format!("127.0.0.1:{port}")),
        ("DATABASE_URL".into(), db_url.into()),
        ("STORE_CATALOG_FILE".into(), format!("{root}/catalog.toml")),
        ("STRIPE_SECRET_KEY".into(), "sk_test_recovery".into()),
        ("STRIPE_PUBLISHABLE_KEY".into(), "pk_test_recovery".into()),
        ("STRIPE_API_BASE".into(), emulator.into()),
        ("STRIPE_WEBHOOK_SECRET".into(), SECRET.into()),
    ]);
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let file = std::fs::read_to_string(format!("{root}/Leptos.toml")).unwrap();
    Config::from_sources(&file, &|key| vars.get(key).cloned()).unwrap()
}

/// Starts a storefront; the sender stops it.
async fn start(config: Config) -> oneshot::Sender<()> {
    let app = Application::build(config).await.unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    stop
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn post(client: &reqwest::Client, url: String, key: Option<&str>, form: &[(&str, &str)]) -> Value {
    let mut request = client.post(url).form(form);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap().json().await.unwrap_or(Value::Null)
}

/// Adds a product and pays with a test card through the storefront.
async fn pay(client: &reqwest::Client, shop: &str, emulator: &str, card: &str) -> Value {
    post(client, format!("{shop}/api/cart/add"), None, &[("product_id", "linen-tote"), ("quantity", "1")]).await;
    let token = post(client, format!("{emulator}/v1/test_helpers/confirmation_tokens"), Some("sk_test_x"), &[("payment_method", card)]).await;
    post(client, format!("{shop}/api/checkout/confirm"), None, &[("confirmation_token", token["id"].as_str().unwrap())]).await
}

async fn wait_for_status(client: &reqwest::Client, shop: &str, order_id: &str, wanted: &str) -> String {
    let mut status = String::new();
    for _ in 0..150 {
        let order = post(client, format!("{shop}/api/orders/get"), None, &[("id", order_id)]).await;
        status = order["status"].as_str().unwrap_or_default().to_owned();
        if status == wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_while_the_storefront_is_down_arrive_after_it_restarts() {
    let db = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", db.path().join("shop.db").display());
    let port = free_port();
    let emulator = stripe_emulator::spawn(stripe_emulator::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        webhooks: vec![stripe_emulator::WebhookEndpoint { url: format!("http://127.0.0.1:{port}/webhook"), secret: SECRET.into() }],
        retry_schedule: vec![Duration::from_millis(300); 30],
        ..Default::default()
    })
    .await
    .unwrap();
    let (shop, stripe) = (format!("http://127.0.0.1:{port}"), emulator.base_url().to_owned());
    let client = reqwest::Client::builder().cookie_store(true).timeout(std::time::Duration::from_secs(30)).build().unwrap();

    let stop = start(config(&db_url, port, &stripe, &[])).await;
    // 3-D Secure pending: nothing is paid yet.
    let waiting = pay(&client, &shop, &stripe, "pm_card_threeDSecure2Required").await;
    let order_id = waiting["order_id"].as_str().unwrap().to_owned();
    stop.send(()).unwrap();
    // Wait until the storefront no longer answers.
    for _ in 0..100 {
        if test_get(format!("{shop}/health")).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The shopper completes 3-D Secure while the storefront is down: Stripe's events fail.
    let intent: Value = client
        .get(format!("{stripe}/v1/payment_intents/{}", waiting["payment_intent"].as_str().unwrap()))
        .bearer_auth("sk_test_x")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let done = client
        .post(format!("{stripe}/_emulator/3ds/{}", intent["id"].as_str().unwrap()))
        .json(&serde_json::json!({ "client_secret": intent["client_secret"], "result": "complete" }))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);

    // Restarted on the same database and address: Stripe's retries now get through.
    let _stop = start(config(&db_url, port, &stripe, &[])).await;
    assert_eq!(wait_for_status(&client, &shop, &order_id, "paid").await, "paid");
    let deliveries: Value = client.get(format!("{stripe}/_emulator/deliveries")).send().await.unwrap().json().await.unwrap();
    let failed_first = deliveries["data"].as_array().unwrap().iter().any(|d| d["attempts"][0]["status"].is_null() && d["status"] == "succeeded");
    assert!(failed_first, "a delivery failed while the storefront was down, then succeeded: {deliveries}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_settles_an_order_whose_webhook_never_came() {
    let db = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", db.path().join("shop.db").display());
    let port = free_port();
    // No webhook endpoint at all: every event is lost.
    let emulator = stripe_emulator::spawn(stripe_emulator::Config { addr: "127.0.0.1:0".parse().unwrap(), ..Default::default() })
        .await
        .unwrap();
    let (shop, stripe) = (format!("http://127.0.0.1:{port}"), emulator.base_url().to_owned());
    let client = reqwest::Client::builder().cookie_store(true).timeout(std::time::Duration::from_secs(30)).build().unwrap();
    let _stop = start(config(&db_url, port, &stripe, &[("RECONCILE_AFTER_SECS", "0"), ("RECONCILE_EVERY_SECS", "1")])).await;
    let paid = pay(&client, &shop, &stripe, "pm_card_visa").await;
    let order_id = paid["order_id"].as_str().unwrap();
    assert_eq!(wait_for_status(&client, &shop, order_id, "paid").await, "paid");
}

/// A GET that fails the test instead of hanging it.
async fn test_get(url: String) -> Result<reqwest::Response, reqwest::Error> {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(30)).build().unwrap().get(url).send().await
}
