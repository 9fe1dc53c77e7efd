//! Fulfilment that does not depend on the storefront being up when Stripe speaks: the
//! storefront stopped while events are sent (Stripe's retries deliver them after a
//! restart), and events lost for good (reconciliation asks Stripe).

use serde_json::Value;
use std::time::Duration;
use storefront::config::Config;
use storefront::server::Application;
use tokio::sync::oneshot;

const SECRET: &str = "whsec_recovery";

mod support;

/// The storefront on `port` and the database `db_url`, using the account of the emulator
/// at `emulator` (a Stripe key is set, so nothing is embedded).
fn config(db_url: &str, port: u16, emulator: &str, extra: &[(&str, &str)]) -> Config {
    let site = format!("127.0.0.1:{port}");
    let mut vars = vec![
        ("LEPTOS_SITE_ADDR", site.as_str()),
        ("DATABASE_URL", db_url),
        ("STRIPE_SECRET_KEY", "sk_test_recovery"),
        ("STRIPE_PUBLISHABLE_KEY", "pk_test_recovery"),
        ("STRIPE_API_BASE", emulator),
        ("STRIPE_WEBHOOK_SECRET", SECRET),
    ];
    vars.extend_from_slice(extra);
    support::config(&vars).0
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

/// A form POST to the storefront; its JSON reply.
async fn post(client: &reqwest::Client, url: String, form: &[(&str, &str)]) -> Value {
    client.post(url).form(form).send().await.unwrap().json().await.unwrap_or(Value::Null)
}

/// Adds a product and pays with a test card through the storefront.
async fn pay(client: &reqwest::Client, shop: &str, emulator: &str, card: &str) -> Value {
    post(client, format!("{shop}/api/cart/add"), &[("product_id", "linen-tote"), ("quantity", "1")]).await;
    let token = support::test_token(client, emulator, card).await;
    post(client, format!("{shop}/api/checkout/confirm"), &[("confirmation_token", token.as_str())]).await
}

async fn wait_for_status(client: &reqwest::Client, shop: &str, order_id: &str, wanted: &str) -> String {
    let status = || async {
        let order = post(client, format!("{shop}/api/orders/get"), &[("id", order_id)]).await;
        order["status"].as_str().unwrap_or_default().to_owned()
    };
    support::poll_until(150, status, |status| status == wanted).await
}

/// Stops the storefront at `shop` and waits until it no longer answers.
async fn stop_and_wait(stop: oneshot::Sender<()>, shop: &str) {
    stop.send(()).unwrap();
    let down =
        support::poll_until(100, || async { support::client().get(format!("{shop}/health")).send().await.is_err() }, |down| *down).await;
    assert!(down, "the storefront still answers after being stopped");
}

/// A storefront's database and address, beside an emulator with no webhook endpoint:
/// every event is lost.
struct Unheard {
    _db: tempfile::TempDir,
    _emulator: stripe_emulator::Emulator,
    db_url: String,
    port: u16,
    shop: String,
    stripe: String,
}

impl Unheard {
    async fn new() -> Unheard {
        let db = tempfile::tempdir().unwrap();
        let db_url = format!("sqlite://{}", db.path().join("shop.db").display());
        let port = support::net::free_port();
        let emulator =
            stripe_emulator::spawn(stripe_emulator::Config { addr: "127.0.0.1:0".parse().unwrap(), ..Default::default() }).await.unwrap();
        let (shop, stripe) = (format!("http://127.0.0.1:{port}"), emulator.base_url().to_owned());
        Unheard { _db: db, _emulator: emulator, db_url, port, shop, stripe }
    }

    async fn start(&self, extra: &[(&str, &str)]) -> oneshot::Sender<()> {
        start(config(&self.db_url, self.port, &self.stripe, extra)).await
    }

    /// "Delete all test data": Stripe forgets every object.
    async fn delete_test_data(&self) {
        let reset = support::client().post(format!("{}/_emulator/reset", self.stripe)).send().await.unwrap();
        assert!(reset.status().is_success());
    }

    /// Makes `order` look a minute older (with the storefront stopped): of orders made
    /// within the same second or so, reconciliation, oldest first, comes to it first.
    async fn age(&self, order: &str) {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.db_url).await.unwrap();
        sqlx::query("UPDATE orders SET updated_at = updated_at - 60 WHERE id = $1").bind(order).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_while_the_storefront_is_down_arrive_after_it_restarts() {
    let db = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", db.path().join("shop.db").display());
    let port = support::net::free_port();
    let emulator = stripe_emulator::spawn(stripe_emulator::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        webhooks: vec![stripe_emulator::WebhookEndpoint { url: format!("http://127.0.0.1:{port}/webhook"), secret: SECRET.into() }],
        retry_schedule: vec![Duration::from_millis(300); 30],
        ..Default::default()
    })
    .await
    .unwrap();
    let (shop, stripe) = (format!("http://127.0.0.1:{port}"), emulator.base_url().to_owned());
    let client = support::shopper();

    let stop = start(config(&db_url, port, &stripe, &[])).await;
    // 3-D Secure pending: nothing is paid yet.
    let waiting = pay(&client, &shop, &stripe, "pm_card_threeDSecure2Required").await;
    let order_id = waiting["order_id"].as_str().unwrap().to_owned();
    stop_and_wait(stop, &shop).await;

    // The shopper completes 3-D Secure while the storefront is down: Stripe's events fail.
    let url = format!("{stripe}/v1/payment_intents/{}", waiting["payment_intent"].as_str().unwrap());
    let intent = support::stripe_call(&client, reqwest::Method::GET, url, "sk_test_x", &[]).await;
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
    let failed_first =
        deliveries["data"].as_array().unwrap().iter().any(|d| d["attempts"][0]["status"].is_null() && d["status"] == "succeeded");
    assert!(failed_first, "a delivery failed while the storefront was down, then succeeded: {deliveries}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_settles_an_order_whose_webhook_never_came() {
    let unheard = Unheard::new().await;
    let (shop, stripe) = (&unheard.shop, &unheard.stripe);
    let client = support::shopper();
    let _stop = unheard.start(&[("RECONCILE_AFTER_SECS", "0"), ("RECONCILE_EVERY_SECS", "1")]).await;
    let paid = pay(&client, shop, stripe, "pm_card_visa").await;
    let order_id = paid["order_id"].as_str().unwrap();
    assert_eq!(wait_for_status(&client, shop, order_id, "paid").await, "paid");
}

/// The merchant deletes their test data ("Delete all test data" in the Dashboard, which
/// sends no webhooks) while an order still waits for Stripe's word: Stripe has no such
/// PaymentIntent any more. That order is left as it is (Stripe's 404 says nothing of
/// whether it was paid), and the orders after it are reconciled all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_payment_stripe_no_longer_has_does_not_hold_up_the_others() {
    let unheard = Unheard::new().await;
    let (shop, stripe) = (&unheard.shop, &unheard.stripe);
    let client = support::shopper();

    // Two payments whose webhooks never come, the test data deleted between them; no
    // reconciliation meanwhile.
    let stop = unheard.start(&[("RECONCILE_AFTER_SECS", "3600")]).await;
    let vanished = pay(&client, shop, stripe, "pm_card_visa").await["order_id"].as_str().unwrap().to_owned();
    unheard.delete_test_data().await;
    let paid = pay(&client, shop, stripe, "pm_card_visa").await["order_id"].as_str().unwrap().to_owned();
    stop_and_wait(stop, shop).await;
    unheard.age(&vanished).await;

    let _stop = unheard.start(&[("RECONCILE_AFTER_SECS", "0"), ("RECONCILE_EVERY_SECS", "1")]).await;
    assert_eq!(wait_for_status(&client, shop, &paid, "paid").await, "paid");
    let order = post(&client, format!("{shop}/api/orders/get"), &[("id", vanished.as_str())]).await;
    assert_eq!(order["status"], "confirming", "{order}");
}

/// As above, for payments left waiting for 3-D Secure: one whose PaymentIntent Stripe
/// no longer has is left as it is, and the one after it is still canceled as
/// abandoned (its order failed, its stock back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_authentication_stripe_no_longer_has_does_not_hold_up_the_others() {
    let unheard = Unheard::new().await;
    let (shop, stripe) = (&unheard.shop, &unheard.stripe);
    let (first, second) = (support::shopper(), support::shopper());

    let stop = unheard.start(&[("RECONCILE_AFTER_SECS", "3600"), ("ABANDON_AFTER_SECS", "3600")]).await;
    let vanished = pay(&first, shop, stripe, "pm_card_threeDSecure2Required").await;
    assert_eq!(vanished["status"], "RequiresAction", "{vanished}");
    unheard.delete_test_data().await;
    let left = pay(&second, shop, stripe, "pm_card_threeDSecure2Required").await;
    assert_eq!(left["status"], "RequiresAction", "{left}");
    stop_and_wait(stop, shop).await;
    let vanished = vanished["order_id"].as_str().unwrap();
    unheard.age(vanished).await;

    let _stop = unheard.start(&[("RECONCILE_AFTER_SECS", "0"), ("RECONCILE_EVERY_SECS", "1"), ("ABANDON_AFTER_SECS", "0")]).await;
    assert_eq!(wait_for_status(&second, shop, left["order_id"].as_str().unwrap(), "failed").await, "failed");
    let order = post(&first, format!("{shop}/api/orders/get"), &[("id", vanished)]).await;
    assert_eq!(order["status"], "confirming", "{order}");
    // Its shopper pays again: the payment that vanished does not stand in the way.
    let again = pay(&first, shop, stripe, "pm_card_visa").await;
    assert_eq!(again["status"], "Succeeded", "{again}");
}
