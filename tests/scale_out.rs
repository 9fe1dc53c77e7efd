//! Two storefront processes on one PostgreSQL behind a round-robin load balancer:
//! shoppers' requests and Stripe's webhooks (each event delivered several times) land on
//! either instance in turn, and both run reconciliation. Every paid PaymentIntent must
//! end as exactly one paid order, stock must add up, and no event may act twice.
//!
//! Needs PostgreSQL: `scripts/with-postgres cargo test --features ssr --test scale_out`
//! (`make test` does).
//!
//! Backend: runs once (always on PostgreSQL, the only backend for several instances).

use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use storefront::store::{OrderStatus, Store};
use support::net::{Process, free_port, round_robin};

mod support;

const SECRET: &str = "whsec_scale_out";
const SHOPPERS: usize = 36;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_fulfil_every_payment_exactly_once() {
    assert!(support::postgres_url().is_some(), "this test needs PostgreSQL: run it through scripts/with-postgres (make test does)");
    let db_url = support::postgres_schema();
    let ports = [free_port(), free_port()];
    let lb = round_robin(ports.iter().map(|port| format!("http://127.0.0.1:{port}")).collect()).await;
    let emulator = support::net::emulator_delivering_to(format!("{lb}/webhook"), SECRET).await;
    let stripe = emulator.base_url().to_owned();
    // Both instances reconcile, all the time, racing the webhooks.
    let extra = [("RECONCILE_AFTER_SECS", "0"), ("RECONCILE_EVERY_SECS", "1"), ("TRUST_X_FORWARDED_FOR", "true")];
    let vars = support::net::storefront_vars(&db_url, &stripe, SECRET, &extra);
    let (_first, _second) = tokio::join!(Process::start(ports[0], &vars), Process::start(ports[1], &vars));

    let store = Store::connect(&db_url).await.unwrap();
    let stock_before = store.stock_of("ceramic-mug").await.unwrap();
    let cards = ["pm_card_visa", "pm_card_chargeDeclined", "pm_card_threeDSecure2Required", "pm_card_visa"];
    let outcomes = futures_util::future::join_all((0..SHOPPERS).map(|n| {
        let (lb, stripe) = (lb.clone(), stripe.clone());
        async move { shop(&lb, &stripe, n, cards[n % cards.len()]).await }
    }))
    .await;
    let expected_paid = outcomes.iter().filter(|paid| **paid).count();
    assert_eq!(expected_paid, SHOPPERS / 2 + SHOPPERS / 4, "visa and 3-D Secure pay; declines don't");

    // Every event once more, twice, through the balancer: duplicates on both instances.
    let control = support::client();
    let events: Value = control.get(format!("{stripe}/_emulator/events")).send().await.unwrap().json().await.unwrap();
    let events = events["data"].as_array().unwrap().clone();
    futures_util::future::join_all(events.iter().flat_map(|event| {
        let url = format!("{stripe}/_emulator/events/{}/resend", event["id"].as_str().unwrap());
        let control = control.clone();
        [0, 1].map(move |_| {
            let (control, url) = (control.clone(), url.clone());
            async move { assert!(control.post(url).send().await.unwrap().status().is_success()) }
        })
    }))
    .await;

    // Settled: as many paid orders as succeeded PaymentIntents, one to one.
    let paid = support::poll_until(
        400,
        || async { store.list_orders(Some(OrderStatus::Paid), 1000).await.unwrap() },
        |paid: &Vec<_>| paid.len() >= expected_paid,
    )
    .await;
    let intents =
        support::stripe_call(&control, reqwest::Method::GET, format!("{stripe}/v1/payment_intents?limit=100"), "sk_test_process", &[])
            .await;
    let succeeded: HashSet<String> = intents["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|intent| intent["status"] == "succeeded")
        .map(|intent| intent["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(succeeded.len(), expected_paid, "one successful charge per paying shopper");
    let mut by_intent: HashMap<String, usize> = HashMap::new();
    for order in &paid {
        let record = store.order_for_merchant(&order.id).await.unwrap().unwrap();
        *by_intent.entry(record.payment_intent_id.unwrap()).or_default() += 1;
        assert_eq!(store.outbox_for(&order.id).await.unwrap().len(), 1, "one confirmation: the success applied once");
        assert!(order.flags.is_empty(), "{:?}", order.flags);
    }
    assert_eq!(by_intent.keys().cloned().collect::<HashSet<_>>(), succeeded, "every paid intent is a paid order and only those");
    assert!(by_intent.values().all(|orders| *orders == 1), "no intent paid two orders");
    assert_eq!(
        store.stock_of("ceramic-mug").await.unwrap(),
        stock_before - u32::try_from(expected_paid).unwrap(),
        "stock taken once per paid order"
    );
    let unpaid = store.list_orders(Some(OrderStatus::Failed), 1000).await.unwrap();
    assert_eq!(unpaid.len(), SHOPPERS / 4, "declined orders stay payable, with their stock back");
}

/// One shopper: a mug in the cart and a payment with `card`, every request through the
/// balancer (so consecutive requests reach different instances). Whether it paid.
async fn shop(lb: &str, stripe: &str, n: usize, card: &str) -> bool {
    let client = support::shopper();
    let address = format!("10.2.0.{}", n + 1);
    let call = |endpoint: &str, form: Vec<(&'static str, String)>| {
        client.post(format!("{lb}/api/{endpoint}")).header("x-forwarded-for", address.clone()).form(&form).send()
    };
    let added = call("cart/add", vec![("product_id", "ceramic-mug".into()), ("quantity", "1".into())]).await.unwrap();
    assert_eq!(added.status(), 200);
    let token = support::test_token(&client, stripe, card).await;
    let reply = call("checkout/confirm", vec![("confirmation_token", token)]).await.unwrap();
    let status = reply.status().as_u16();
    let body: Value = reply.json().await.unwrap();
    match card {
        "pm_card_chargeDeclined" => {
            assert_eq!(status, 402, "{body}");
            false
        }
        "pm_card_threeDSecure2Required" => {
            assert_eq!((status, body["status"].as_str()), (200, Some("RequiresAction")), "{body}");
            let url = format!("{stripe}/_emulator/3ds/{}", body["payment_intent"].as_str().unwrap());
            let decision = json!({ "client_secret": body["client_secret"], "result": "complete" });
            assert!(client.post(url).json(&decision).send().await.unwrap().status().is_success());
            true
        }
        _ => {
            assert_eq!((status, body["status"].as_str()), (200, Some("Succeeded")), "{body}");
            true
        }
    }
}
