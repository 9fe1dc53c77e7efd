//! Object shapes against Stripe's own example objects (`tests/data/stripe-fixtures.json`,
//! copied from the stripe/openapi repository's fixtures): every field Stripe's example
//! has, the emulator's object has, optional ones included. The other direction (no field
//! Stripe does not have, at every depth) is checked against the pinned API version's
//! own SDK types by `conformance/shapes.test.js`; these fixtures are an older version.

use serde_json::Value;
use std::collections::BTreeSet;
use stripe_emulator::Config;

fn fixture(kind: &str) -> Value {
    let text = include_str!("data/stripe-fixtures.json");
    let all: Value = serde_json::from_str(text).unwrap();
    all["resources"][kind].clone()
}

fn keys(object: &Value) -> BTreeSet<String> {
    object.as_object().unwrap().keys().cloned().collect()
}

/// Compares top-level fields; `omitted` are fields of Stripe's example the emulator
/// does not model (each is listed in the emulator's README).
fn assert_same_fields(kind: &str, ours: &Value, omitted: &[&str]) {
    let theirs = fixture(kind);
    let ours_keys = keys(ours);
    let missing: Vec<_> = keys(&theirs).into_iter().filter(|k| !ours_keys.contains(k) && !omitted.contains(&k.as_str())).collect();
    assert!(missing.is_empty(), "{kind}: missing Stripe's fields {missing:?}");
}

async fn post(client: &reqwest::Client, base: &str, path: &str, form: &[(&str, &str)]) -> Value {
    client.post(format!("{base}{path}")).bearer_auth("sk_test_shapes").form(form).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn every_object_has_the_fields_of_stripes_examples() {
    let emulator = stripe_emulator::spawn(Config { addr: "127.0.0.1:0".parse().unwrap(), ..Config::default() }).await.unwrap();
    let base = emulator.base_url().to_owned();
    let client = reqwest::Client::new();

    let customer = post(&client, &base, "/v1/customers", &[("email", "shape@example.com")]).await;
    assert_same_fields("customer", &customer, &[]);
    let cus = customer["id"].as_str().unwrap();

    let session =
        post(&client, &base, "/v1/customer_sessions", &[("customer", cus), ("components[payment_element][enabled]", "true")]).await;
    assert_same_fields("customer_session", &session, &[]);

    let token = post(
        &client,
        &base,
        "/v1/test_helpers/confirmation_tokens",
        &[("payment_method", "pm_card_visa"), ("return_url", "https://shop.example")],
    )
    .await;
    assert_same_fields("confirmation_token", &token, &[]);

    let intent = post(
        &client,
        &base,
        "/v1/payment_intents",
        &[
            ("amount", "1000"),
            ("currency", "eur"),
            ("confirm", "true"),
            ("customer", cus),
            ("confirmation_token", token["id"].as_str().unwrap()),
            ("return_url", "https://shop.example"),
        ],
    )
    .await;
    assert_same_fields("payment_intent", &intent, &[]);

    let pm =
        post(&client, &base, &format!("/v1/payment_methods/{}/attach", intent["payment_method"].as_str().unwrap()), &[("customer", cus)])
            .await;
    assert_same_fields("payment_method", &pm, &[]);
    let card_theirs = keys(&fixture("payment_method")["card"]);
    assert_eq!(keys(&pm["card"]), card_theirs, "payment_method.card");

    let setup = post(&client, &base, "/v1/setup_intents", &[("customer", cus)]).await;
    assert_same_fields("setup_intent", &setup, &[]);

    let events: Value = client.get(format!("{base}/v1/events")).bearer_auth("sk_test_shapes").send().await.unwrap().json().await.unwrap();
    assert_same_fields("event", &events["data"][0], &[]);
    emulator.stop().await;
}
