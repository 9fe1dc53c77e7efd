//! Hostile input against every server function and `/webhook`: malformed bodies, wrong
//! content types, enormous bodies, unicode oddities and injection attempts, sent with
//! the cookies of a shopper who has a cart. Every reply must be a clear refusal (4xx
//! with a readable error) or a harmless read, never a 5xx; afterwards the shop's state
//! is exactly what it was and the server still serves.

use serde_json::Value;
use storefront::error::AppError;

mod support;

/// The arguments the server functions take, each given every odd value below.
const FIELDS: &[&str] = &[
    "product_id",
    "quantity",
    "page",
    "id",
    "code",
    "email",
    "password",
    "confirmation_token",
    "payment_method",
    "payment_intent",
    "quote",
    "locale",
    "subscription",
    "attempt",
    "authenticate",
];

fn odd_values() -> Vec<String> {
    vec![
        String::new(),
        "\0".into(),
        "ctoken_\u{0}".into(),
        "💳🛒".into(),
        "\u{202e}gpj.exe".into(),
        "ＣＥＲＡＭＩＣ-ＭＵＧ".into(),
        "ceramic-mug\u{301}".into(),
        "e\u{0301}".repeat(500),
        "a".repeat(5_000),
        "-1".into(),
        "4294967296".into(),
        "1e3".into(),
        "' OR 1=1 --".into(),
        "'; DROP TABLE orders; --".into(),
        "../../../../etc/passwd".into(),
        "<script>alert(1)</script>".into(),
        "%00%ff%fe".into(),
        "pi_123_secret_456".into(),
        "ord_\u{feff}".into(),
        "\u{d7ff}\u{e000}\u{fffd}".into(),
    ]
}

/// The shop's state that no refused request may touch (sessions and rate-limit counters
/// are bookkeeping of the requests themselves, so they are left out).
async fn state(db_url: &str) -> Vec<(String, i64)> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db_url).await.unwrap();
    let mut state = Vec::new();
    for (name, sql) in [
        ("cart lines", "SELECT COUNT(*) FROM cart_lines"),
        ("cart quantity", "SELECT COALESCE(SUM(quantity), 0) FROM cart_lines"),
        ("orders", "SELECT COUNT(*) FROM orders"),
        ("order lines", "SELECT COUNT(*) FROM order_lines"),
        ("payment attempts", "SELECT COUNT(*) FROM payment_attempts"),
        ("events", "SELECT COUNT(*) FROM processed_events"),
        ("outbox", "SELECT COUNT(*) FROM outbox"),
        ("accounts", "SELECT COUNT(*) FROM accounts"),
        ("stock", "SELECT COALESCE(SUM(on_hand), 0) FROM inventory"),
        ("discounts applied", "SELECT COUNT(*) FROM sessions WHERE discount_code IS NOT NULL"),
    ] {
        let value: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        state.push((name.to_owned(), value));
    }
    pool.close().await;
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_to_every_server_function_and_the_webhook_is_refused_and_changes_nothing() {
    let (config, db_url, _db) = support::config(&[("STRIPE_WEBHOOK_SECRET", "whsec_hostile")]);
    let shop = support::serve(config).await;
    let shopper = support::shopper();
    let added =
        shopper.post(format!("{}/api/cart/add", shop.base)).form(&[("product_id", "ceramic-mug"), ("quantity", "2")]).send().await.unwrap();
    assert_eq!(added.status(), 200);
    let before = state(&db_url).await;

    let mut functions: Vec<(&str, String)> =
        leptos::server_fn::axum::server_fn_paths().map(|(path, method)| (path, method.to_string())).collect();
    functions.sort();
    assert!(functions.len() >= 19, "every server function is registered: {functions:?}");
    // Signing out takes no input: whatever the body, a request is a valid sign-out (and
    // ends the cart with the session). It is tested in accounts.rs.
    functions.retain(|(path, _)| !path.ends_with("/account/sign-out"));
    let mut tried = 0_usize;
    let mut failures = Vec::new();
    let mut check = |what: String, status: u16, body: &str| {
        tried += 1;
        if status >= 500 {
            failures.push(format!("{what:?}: {status} {body}"));
        } else if !(200..300).contains(&status) && status != 413 {
            // A refusal the browser can show: the shop's error type, with a message.
            match serde_json::from_str::<AppError>(body) {
                Ok(error) if !error.to_string().is_empty() => {}
                _ => failures.push(format!("{what:?}: {status} unreadable error {body:?}")),
            }
        }
    };
    let odd = odd_values();
    for (path, method) in &functions {
        let url = format!("{}{path}", shop.base);
        let post = |content_type: &'static str, body: Vec<u8>| shopper.post(&url).header("content-type", content_type).body(body).send();
        let mut attempts: Vec<(String, reqwest::Response)> = Vec::new();
        if method == "GET" {
            for value in &odd {
                let query: Vec<(&str, &str)> = FIELDS.iter().map(|field| (*field, value.as_str())).collect();
                attempts.push((format!("GET {path} {value:.20}"), shopper.get(&url).query(&query).send().await.unwrap()));
            }
        } else {
            for value in &odd {
                let form: Vec<(&str, &str)> = FIELDS.iter().map(|field| (*field, value.as_str())).collect();
                attempts.push((format!("POST {path} form {value:.20}"), shopper.post(&url).form(&form).send().await.unwrap()));
                let json = serde_json::json!(
                    FIELDS.iter().map(|field| (field.to_string(), Value::String(value.clone()))).collect::<serde_json::Map<_, _>>()
                );
                attempts.push((
                    format!("POST {path} json {value:.20}"),
                    post("application/json", json.to_string().into_bytes()).await.unwrap(),
                ));
            }
            attempts.push((format!("POST {path} bad json"), post("application/json", b"{\"product_id\": [1, 2".to_vec()).await.unwrap()));
            attempts.push((format!("POST {path} text"), post("text/plain", b"product_id=ceramic-mug&quantity=99".to_vec()).await.unwrap()));
            attempts.push((format!("POST {path} no type"), shopper.post(&url).body("quantity=1").send().await.unwrap()));
            attempts.push((
                format!("POST {path} bad utf-8"),
                post("application/x-www-form-urlencoded", vec![b'q', b'=', 0xff, 0xfe, 0xc3]).await.unwrap(),
            ));
            attempts.push((
                format!("POST {path} repeated keys"),
                post("application/x-www-form-urlencoded", b"quantity=1&quantity=99&product_id=a&product_id=b".to_vec()).await.unwrap(),
            ));
            let status = support::net::announce_body(&shop.base, path, 1 << 20).await.0;
            assert_eq!(status, 413, "POST {path}: a 1 MB body is refused");
            check(format!("POST {path} 1 MB"), status, "");
        }
        for (what, reply) in attempts {
            let status = reply.status().as_u16();
            let body = reply.text().await.unwrap();
            check(what, status, &body);
        }
    }

    assert!(failures.is_empty(), "{} replies were not clear refusals:\n{}", failures.len(), failures.join("\n"));

    // The webhook: only Stripe's signed events, and only sane bodies.
    let webhook = format!("{}/webhook", shop.base);
    let client = support::client();
    let signatures = ["", "t=1,v1=00", "v1=zz", "t=9999999999999999999999,v1=ab", "t=,v1=", &"t=1,".repeat(10_000), "t=1700000000,v1=💳"];
    let bodies: Vec<Vec<u8>> = vec![
        b"{}".to_vec(),
        b"not json".to_vec(),
        br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","metadata":{"order_id":"' OR 1=1"}}}}"#.to_vec(),
        vec![0xff, 0x00, 0xfe],
        "🛒".repeat(1000).into_bytes(),
    ];
    for signature in signatures {
        for body in &bodies {
            let reply = client
                .post(&webhook)
                .header("stripe-signature", signature)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = reply.status().as_u16();
            assert_eq!(status, 400, "webhook with signature {signature:.30}");
            tried += 1;
        }
    }
    assert_eq!(support::net::announce_body(&shop.base, "/webhook", 1 << 20).await.0, 413, "the webhook refuses a 1 MB body");
    tried += 1;

    assert_eq!(state(&db_url).await, before, "nothing changed");
    assert_eq!(support::client().get(format!("{}/health", shop.base)).send().await.unwrap().status(), 200);
    let cart = shopper.post(format!("{}/api/cart/get", shop.base)).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(cart["item_count"], 2, "the shopper's cart is as it was: {cart}");
    println!("hostile inputs tried: {tried} against {} server functions and /webhook", functions.len());
}
