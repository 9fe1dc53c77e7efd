//! What goes wrong around a checkout, end to end: a crowd racing for the last items, the
//! database gone for a moment, the storefront killed in the middle of a payment. Every
//! test checks the money (PaymentIntents at Stripe) against the orders.
//!
//! Run on SQLite and (`TEST_DATABASE=postgres`, as `make test` does) on PostgreSQL; the
//! database outage needs PostgreSQL (`scripts/with-postgres cargo test --test reliability`).

use serde_json::{Value, json};
use storefront::store::{OrderStatus, Store};
use support::net::{Process, TcpProxy, free_port};

mod support;

const SECRET: &str = "whsec_reliability";

async fn post(client: &reqwest::Client, url: String, form: &[(&str, &str)]) -> (u16, Value) {
    let response = client.post(url).form(form).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The PaymentIntents the emulator holds (the money side of the story).
async fn payment_intents(stripe: &str) -> Vec<Value> {
    let url = format!("{stripe}/v1/payment_intents?limit=100");
    let list = support::stripe_call(&support::client(), reqwest::Method::GET, url, "sk_test_tests", &[]).await;
    list["data"].as_array().unwrap().clone()
}

/// Waits until `count` orders are paid (webhooks arrive in the background).
async fn wait_for_paid(store: &Store, count: usize) -> usize {
    support::poll_until(600, || async { store.list_orders(Some(OrderStatus::Paid), 1000).await.unwrap().len() }, |paid| *paid >= count)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_shoppers_race_for_the_last_five_lamps() {
    let catalog_dir = tempfile::tempdir().unwrap();
    let catalog = catalog_dir.path().join("catalog.toml");
    std::fs::write(
        &catalog,
        "[[products]]\nid = \"last-lamp\"\nname = \"Brass lamp\"\ndescription = \"The last ones.\"\nunit_amount = 4500\ncurrency = \"eur\"\nimage = \"/images/lamp.svg\"\nstock = 5\n",
    )
    .unwrap();
    // Behind a proxy, each shopper's own address counts for the rate limits.
    let (config, db_url, _db) = support::config(&[("STORE_CATALOG_FILE", catalog.to_str().unwrap()), ("TRUST_X_FORWARDED_FOR", "true")]);
    let shop = support::serve(config).await;
    let stripe = shop.stripe.clone().unwrap();

    let shoppers: Vec<(reqwest::Client, String)> =
        (0..200).map(|n| (support::shopper(), format!("10.1.{}.{}", n / 250, n % 250 + 1))).collect();
    // Everyone fills a cart while five are left...
    for (client, address) in &shoppers {
        let response = client
            .post(format!("{}/api/cart/add", shop.base))
            .header("x-forwarded-for", address)
            .form(&[("product_id", "last-lamp"), ("quantity", "1")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let mut tokens = Vec::new();
    for (client, _) in &shoppers {
        tokens.push(support::test_token(client, &stripe, "pm_card_visa").await);
    }
    // ...then all pay at once.
    let confirm_url = format!("{}/api/checkout/confirm", shop.base);
    let replies = futures_util::future::join_all(shoppers.iter().zip(&tokens).map(|((client, address), token)| {
        let confirm_url = confirm_url.clone();
        async move {
            let response = client
                .post(confirm_url)
                .header("x-forwarded-for", address)
                .form(&[("confirmation_token", token.as_str())])
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    }))
    .await;

    let paid: Vec<&Value> = replies.iter().filter(|(status, _)| *status == 200).map(|(_, body)| body).collect();
    assert_eq!(paid.len(), 5, "exactly five payments go through");
    assert!(paid.iter().all(|body| body["status"] == "Succeeded"), "{paid:?}");
    for (status, body) in replies.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 400, "{body}");
        assert!(body.to_string().contains("left in stock"), "refused with a reason: {body}");
    }
    // The policy: refused before payment. Stripe saw five payments, no more.
    let intents = payment_intents(&stripe).await;
    assert_eq!(intents.len(), 5, "nobody else was charged");
    assert!(intents.iter().all(|intent| intent["status"] == "succeeded"));

    let store = Store::connect(&db_url).await.unwrap();
    assert_eq!(wait_for_paid(&store, 5).await, 5);
    assert_eq!(store.stock_of("last-lamp").await.unwrap(), 0, "sold out, never below zero");
    for order in store.list_orders(Some(OrderStatus::Paid), 10).await.unwrap() {
        assert!(order.flags.is_empty(), "nothing oversold: {:?}", order.flags);
        assert_eq!(store.outbox_for(&order.id).await.unwrap().len(), 1, "one confirmation each");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storefront_killed_mid_payment_ends_the_order_right_after_a_restart() {
    let (_, db_url, _db) = support::config(&[]);
    let port = free_port();
    let emulator = support::net::emulator_delivering_to(format!("http://127.0.0.1:{port}/webhook"), SECRET).await;
    let stripe = emulator.base_url().to_owned();
    let vars = support::net::storefront_vars(&db_url, &stripe, SECRET, &[]);
    let first = Process::start(port, &vars).await;
    let shopper = support::shopper();
    let (status, _) = post(&shopper, format!("{}/api/cart/add", first.base), &[("product_id", "linen-tote"), ("quantity", "1")]).await;
    assert_eq!(status, 200);
    let store = Store::connect(&db_url).await.unwrap();
    let stock_before = store.stock_of("linen-tote").await.unwrap();
    let token = support::test_token(&shopper, &stripe, "pm_card_visa").await;

    // Stripe takes its time with this payment; the storefront dies while it waits.
    let control = support::client();
    let fault = json!({ "path": "/v1/payment_intents", "method": "POST", "delay_ms": 1500 });
    assert!(control.post(format!("{stripe}/_emulator/faults")).json(&fault).send().await.unwrap().status().is_success());
    let confirm = tokio::spawn({
        let (shopper, url, token) = (shopper.clone(), format!("{}/api/checkout/confirm", first.base), token.clone());
        async move { shopper.post(url).form(&[("confirmation_token", token.as_str())]).send().await }
    });
    // The fault is used up once the confirmation reached Stripe.
    let used_up = support::poll_until(
        200,
        || async {
            let rules: Value = control.get(format!("{stripe}/_emulator/faults")).send().await.unwrap().json().await.unwrap();
            rules["data"].as_array().is_some_and(Vec::is_empty)
        },
        |used_up| *used_up,
    )
    .await;
    assert!(used_up, "the confirmation never reached Stripe");
    first.kill().await;
    assert!(confirm.await.unwrap().is_err(), "the shopper's request died with the process");

    // Stripe finished the payment; its event cannot be delivered until the restart.
    let intents = support::poll_until(
        200,
        || payment_intents(&stripe),
        |intents: &Vec<Value>| intents.first().is_some_and(|pi| pi["status"] == "succeeded"),
    )
    .await;
    assert_eq!(intents.len(), 1);
    let _second = Process::start(port, &vars).await;

    assert_eq!(wait_for_paid(&store, 1).await, 1, "Stripe's retried event fulfilled the order");
    let orders = store.list_orders(None, 10).await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(store.stock_of("linen-tote").await.unwrap(), stock_before - 1, "stock taken once");
    assert_eq!(store.outbox_for(&orders[0].id).await.unwrap().len(), 1);
    assert_eq!(payment_intents(&stripe).await.len(), 1, "charged once");
    // The same token again (the shopper retries): the same payment, not a second one.
    let (status, reply) =
        post(&shopper, format!("http://127.0.0.1:{port}/api/checkout/confirm"), &[("confirmation_token", token.as_str())]).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["order_id"], orders[0].id.as_str());
    assert_eq!(payment_intents(&stripe).await.len(), 1, "still charged once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_gone_for_a_moment_costs_a_retry_and_nothing_else() {
    assert!(support::postgres_url().is_some(), "this test needs PostgreSQL: run it through scripts/with-postgres (make test does)");
    let direct = support::postgres_schema();
    let parsed = url::Url::parse(&direct).unwrap();
    let target = format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap()).parse().unwrap();
    let proxy = TcpProxy::start(target).await;
    let mut through_proxy = parsed.clone();
    through_proxy.set_port(Some(proxy.addr.port())).unwrap();
    let (config, _, _db) = support::config(&[("DATABASE_URL", through_proxy.as_str())]);
    let shop = support::serve(config).await;
    let stripe = shop.stripe.clone().unwrap();
    let shopper = support::shopper();
    let add = [("product_id", "linen-tote"), ("quantity", "1")];
    assert_eq!(post(&shopper, format!("{}/api/cart/add", shop.base), &add).await.0, 200);
    let token = support::test_token(&shopper, &stripe, "pm_card_visa").await;

    proxy.cut();
    let (status, reply) = post(&shopper, format!("{}/api/cart/add", shop.base), &add).await;
    assert_eq!(status, 503, "{reply}");
    let error: storefront::error::AppError = serde_json::from_value(reply).unwrap();
    assert_eq!(error, storefront::error::AppError::StoreUnavailable);
    assert!(error.to_string().contains("Nothing was charged or changed"), "what the shopper reads: {error}");
    let (status, reply) = post(&shopper, format!("{}/api/checkout/confirm", shop.base), &[("confirmation_token", token.as_str())]).await;
    assert_eq!(status, 503, "{reply}");
    assert!(payment_intents(&stripe).await.is_empty(), "Stripe was not called");
    // Reads say the same: the catalog and an order page are unavailable, not broken.
    for (endpoint, form) in [("catalog/list", vec![("page", "1")]), ("orders/get", vec![("id", "ord_abc123")])] {
        let (status, reply) = post(&shopper, format!("{}/api/{endpoint}", shop.base), &form).await;
        assert_eq!((status, reply), (503, serde_json::json!("StoreUnavailable")), "{endpoint}");
    }
    // And the pages, in words, with the status that says so.
    for path in ["/", "/cart", "/checkout", "/account", "/orders/ord_abc123"] {
        let page = shopper.get(format!("{}{path}", shop.base)).send().await.unwrap();
        assert_eq!(page.status(), 503, "{path}");
        assert_eq!(page.headers()["retry-after"], "5", "{path}: when to try again");
        assert!(page.text().await.unwrap().contains("Our order system is unavailable for a moment"), "{path}");
    }

    let health = shopper.get(format!("{}/health", shop.base)).send().await.unwrap();
    assert_eq!((health.status().as_u16(), health.headers()["retry-after"].to_str().unwrap()), (503, "5"));

    proxy.restore();
    let (status, reply) = post(&shopper, format!("{}/api/checkout/confirm", shop.base), &[("confirmation_token", token.as_str())]).await;
    assert_eq!(status, 200, "the same details work once the database is back: {reply}");
    assert_eq!(reply["status"], "Succeeded");
    let store = Store::connect(&direct).await.unwrap();
    let order = store.order_for_merchant(reply["order_id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!(order.lines.len(), 1);
    assert_eq!(order.lines[0].quantity, 1, "the add refused during the outage left no trace");
    assert_eq!(payment_intents(&stripe).await.len(), 1);
}
