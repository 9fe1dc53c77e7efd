//! A storefront killed (SIGKILL) while it applies a burst of webhooks loses nothing it
//! acknowledged, and Stripe's retries finish the rest: every event is applied exactly
//! once. On SQLite the writer commits the effects of several queued webhooks together
//! (group commit); a `200` must only leave once that shared commit is on disk. A
//! storefront that answered before committing would lose events here, since only the
//! deliveries that were not answered `200` are sent again, as Stripe does.

use serde_json::json;
use std::process::{Child, Command, Stdio};
use storefront::store::{AttemptStart, NewOrder, OrderLine, OrderStatus, Store};

mod support;

const SECRET: &str = "whsec_crash";
const ORDERS: usize = 400;

/// A storefront process, killed when dropped (a failing test leaves none behind).
struct Server(Child);

impl Server {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The storefront binary on `port`, on the database `db_url`.
fn spawn(db_url: &str, port: u16) -> Server {
    let root = env!("CARGO_MANIFEST_DIR");
    let child = Command::new(env!("CARGO_BIN_EXE_storefront"))
        .current_dir(root)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", db_url)
        .env("STORE_CATALOG_FILE", format!("{root}/catalog.toml"))
        .env("LEPTOS_HASH_FILES", "false")
        // A Stripe account that cannot be reached: nothing here calls Stripe.
        .env("STRIPE_SECRET_KEY", "sk_test_crash")
        .env("STRIPE_PUBLISHABLE_KEY", "pk_test_crash")
        .env("STRIPE_API_BASE", "http://127.0.0.1:9")
        .env("STRIPE_WEBHOOK_SECRET", SECRET)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the storefront binary");
    Server(child)
}

async fn wait_until_up(base: &str) {
    let client = support::client();
    support::poll_until(
        300,
        || async { client.get(format!("{base}/health")).send().await.map(|r| r.status().as_u16()).unwrap_or(0) },
        |s| *s == 200,
    )
    .await;
}

fn succeeded(n: usize) -> serde_json::Value {
    json!({
        "id": format!("evt_crash_{n}"),
        "object": "event",
        "type": "payment_intent.succeeded",
        "data": {"object": {
            "id": format!("pi_crash_{n}"), "object": "payment_intent", "amount": 1800, "amount_received": 1800,
            "currency": "eur", "status": "succeeded", "metadata": {"order_id": format!("ord_crash_{n}")}
        }}
    })
}

/// Posts an event signed as Stripe would; the reply's status, `None` when none came
/// (the storefront was killed).
async fn post_signed(base: &str, event: &serde_json::Value) -> Option<u16> {
    let payload = serde_json::to_vec(event).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let signature = stripe_emulator::webhooks::signature_header(SECRET, now, &payload);
    let request = support::client().post(format!("{base}/webhook")).header("stripe-signature", signature).body(payload);
    request.send().await.ok().map(|response| response.status().as_u16())
}

/// Delivers events `numbers` 32 at a time; the numbers answered `200`.
async fn deliver(base: &str, numbers: Vec<usize>) -> Vec<usize> {
    use futures_util::StreamExt;
    futures_util::stream::iter(numbers)
        .map(|n| {
            let base = base.to_owned();
            async move { (post_signed(&base, &succeeded(n)).await == Some(200)).then_some(n) }
        })
        .buffer_unordered(32)
        .filter_map(|n| async move { n })
        .collect()
        .await
}

async fn paid(store: &Store) -> usize {
    store.list_orders(Some(OrderStatus::Paid), 100_000).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_group_commits_loses_no_acknowledged_event_and_applies_each_once() {
    let (_config, db_url, _dir) = support::config(&[]);
    let store = Store::connect(&db_url).await.unwrap();
    store.seed_inventory([("ceramic-mug", 1_000_000)]).await.unwrap();
    for n in 0..ORDERS {
        let session = format!("s{n}");
        store.create_session(&session, 0).await.unwrap();
        store.add_to_cart(&session, "ceramic-mug", 1, 99, 0).await.unwrap();
        let order = NewOrder {
            id: format!("ord_crash_{n}"),
            amount: 1800,
            discount_amount: 0,
            discount_code: None,
            currency: "eur".into(),
            lines: vec![OrderLine { product_id: "ceramic-mug".into(), name: "Ceramic mug".into(), unit_amount: 1800, quantity: 1 }],
            email: None,
            locale: "en".into(),
        };
        let started = store.start_attempt(&session, &order, &format!("ctoken_crash_{n}"), None, 0, |_| None).await.unwrap();
        assert!(matches!(started, AttemptStart::New(_)), "{started:?}");
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = spawn(&db_url, port);
    wait_until_up(&base).await;
    // The burst, and a SIGKILL once part of it has been answered.
    let burst = tokio::spawn({
        let base = base.clone();
        async move { deliver(&base, (0..ORDERS).collect()).await }
    });
    support::poll_until(500, || async { paid(&store).await }, |paid| *paid >= ORDERS / 4).await;
    server.kill();
    let acknowledged = burst.await.unwrap();
    assert!(acknowledged.len() < ORDERS, "the kill came after the burst: nothing was interrupted");

    // Stripe sends again what was not acknowledged, to a restarted storefront.
    let mut server = spawn(&db_url, port);
    wait_until_up(&base).await;
    let missing: Vec<usize> = (0..ORDERS).filter(|n| !acknowledged.contains(n)).collect();
    let retried = deliver(&base, missing.clone()).await;
    assert_eq!(retried.len(), missing.len(), "every retry is acknowledged");
    check(&store, &acknowledged).await;
    // And, as Stripe may, everything once more: nothing changes.
    assert_eq!(deliver(&base, (0..ORDERS).collect()).await.len(), ORDERS);
    server.kill();
    check(&store, &acknowledged).await;
}

/// Every order paid once: one confirmation each, the stock taken once per order.
async fn check(store: &Store, acknowledged: &[usize]) {
    assert_eq!(paid(store).await, ORDERS, "{} acknowledged before the kill", acknowledged.len());
    for n in 0..ORDERS {
        let order = store.order_for_merchant(&format!("ord_crash_{n}")).await.unwrap().unwrap();
        assert_eq!(store.outbox_for(&order.id).await.unwrap().len(), 1, "order {n} has one confirmation");
    }
    assert_eq!(store.stock_of("ceramic-mug").await.unwrap(), 1_000_000 - ORDERS as u32, "stock taken once per order");
}
