//! A storefront killed (SIGKILL) while it applies a burst of webhooks loses nothing it
//! acknowledged, and Stripe's retries finish the rest: every event is applied exactly
//! once. On SQLite the writer commits the effects of several queued webhooks together
//! (group commit); a `200` must only leave once that shared commit is on disk. A
//! storefront that answered before committing would lose events here, since only the
//! deliveries that were not answered `200` are sent again, as Stripe does.

use serde_json::json;
use storefront::store::{OrderStatus, Store};
use support::net::{Process, free_port, storefront_vars};

mod support;

const SECRET: &str = "whsec_crash";
const ORDERS: usize = 400;

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
    support::place_orders(&store, "ceramic-mug", (0..ORDERS).map(|n| (format!("ord_crash_{n}"), 0))).await;

    // A Stripe account that cannot be reached: nothing here calls Stripe.
    let vars = storefront_vars(&db_url, "http://127.0.0.1:9", SECRET, &[("LEPTOS_HASH_FILES", "false")]);
    let port = free_port();
    let server = Process::start(port, &vars).await;
    let base = server.base.clone();
    // The burst, and a SIGKILL once part of it has been answered.
    let burst = tokio::spawn({
        let base = base.clone();
        async move { deliver(&base, (0..ORDERS).collect()).await }
    });
    support::poll_until(500, || async { paid(&store).await }, |paid| *paid >= ORDERS / 4).await;
    server.kill().await;
    let acknowledged = burst.await.unwrap();
    assert!(acknowledged.len() < ORDERS, "the kill came after the burst: nothing was interrupted");

    // Stripe sends again what was not acknowledged, to a restarted storefront.
    let server = Process::start(port, &vars).await;
    let missing: Vec<usize> = (0..ORDERS).filter(|n| !acknowledged.contains(n)).collect();
    let retried = deliver(&base, missing.clone()).await;
    assert_eq!(retried.len(), missing.len(), "every retry is acknowledged");
    check(&store, &acknowledged).await;
    // And, as Stripe may, everything once more: nothing changes.
    assert_eq!(deliver(&base, (0..ORDERS).collect()).await.len(), ORDERS);
    server.kill().await;
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
