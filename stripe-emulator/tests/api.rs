//! The emulator over HTTP, as a Stripe client sees it: one emulator per test on a free
//! port, form-encoded requests, Stripe's replies.

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stripe_emulator::{Config, Emulator, WebhookEndpoint};

const SECRET_KEY: &str = "sk_test_emulator";
const PUBLISHABLE_KEY: &str = "pk_test_emulator";

struct Stripe {
    emulator: Emulator,
    http: reqwest::Client,
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn start(config: Config) -> Stripe {
    let config = Config { addr: "127.0.0.1:0".parse().unwrap(), ..config };
    let emulator = stripe_emulator::spawn(config).await.unwrap();
    Stripe { emulator, http: reqwest::Client::new() }
}

async fn emulator() -> Stripe {
    start(Config { processing_delay: Duration::from_millis(200), ..Config::default() }).await
}

impl Stripe {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emulator.base_url())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, headers, body }
    }

    async fn post_as(&self, key: &str, path: &str, form: &[(&str, &str)], idempotency_key: Option<&str>) -> Reply {
        let mut request = self.http.post(self.url(path)).bearer_auth(key).form(form);
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("Idempotency-Key", idempotency_key);
        }
        self.send(request).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.post_as(SECRET_KEY, path, form, None).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(self.url(path)).bearer_auth(SECRET_KEY)).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.send(self.http.delete(self.url(path)).bearer_auth(SECRET_KEY)).await
    }

    /// `GET path` again until the JSON pointer `field` of its body is `expected` (a
    /// settlement after the processing delay, a delivery's last try); that body.
    async fn until(&self, path: &str, field: &str, expected: &str) -> Value {
        let mut body = Value::Null;
        for _ in 0..200 {
            body = self.get(path).await.body;
            if body.pointer(field).and_then(Value::as_str) == Some(expected) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{path}: {field} is not {expected} after 5 s: {body}");
    }

    /// Waits until every fault rule set has been used up (a request has taken it).
    async fn until_faults_used(&self) {
        for _ in 0..200 {
            if self.get("/_emulator/faults").await.body["data"].as_array().is_some_and(Vec::is_empty) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("a fault rule is still unused after 5 s");
    }

    async fn control(&self, path: &str, body: Value) -> Reply {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    /// A ConfirmationToken for a test PaymentMethod, made with the test helper.
    async fn token(&self, pm: &str) -> String {
        let reply =
            self.post("/v1/test_helpers/confirmation_tokens", &[("payment_method", pm), ("return_url", "https://shop.example/done")]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    async fn pay(&self, token: &str, extra: &[(&str, &str)]) -> Reply {
        let mut form = vec![
            ("amount", "1099"),
            ("currency", "eur"),
            ("confirm", "true"),
            ("confirmation_token", token),
            ("automatic_payment_methods[enabled]", "true"),
            ("return_url", "https://shop.example/done"),
        ];
        form.extend_from_slice(extra);
        self.post("/v1/payment_intents", &form).await
    }

    /// Finishes the 3-D Secure challenge of an intent (`result`: "complete" or "fail"),
    /// as the shopper does in the challenge frame.
    async fn authenticate(&self, intent: &Value, result: &str) -> Reply {
        let path = format!("/_emulator/3ds/{}", intent["id"].as_str().unwrap());
        self.control(&path, json!({ "client_secret": intent["client_secret"], "result": result })).await
    }

    async fn event_types(&self) -> Vec<String> {
        let events = self.get("/v1/events?limit=100").await.body;
        let mut types: Vec<String> = events["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect();
        types.reverse();
        types
    }
}

#[tokio::test]
async fn requests_without_a_valid_test_key_are_401_in_stripes_shape() {
    let stripe = emulator().await;
    let reply = stripe.send(stripe.http.get(stripe.url("/v1/customers"))).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.body["error"]["type"], "invalid_request_error");
    assert!(reply.body["error"]["message"].as_str().unwrap().contains("did not provide an API key"));
    for key in ["sk_live_abc", "nonsense"] {
        let reply = stripe.send(stripe.http.get(stripe.url("/v1/customers")).bearer_auth(key)).await;
        assert_eq!(reply.status, 401, "{key}");
    }
    let basic = stripe.send(stripe.http.get(stripe.url("/v1/customers")).basic_auth(SECRET_KEY, Some(""))).await;
    assert_eq!(basic.status, 200);
    let publishable = stripe.post_as(PUBLISHABLE_KEY, "/v1/customers", &[], None).await;
    assert_eq!(publishable.status, 401);
}

#[tokio::test]
async fn every_reply_has_a_request_id_and_echoes_the_api_version() {
    let stripe = emulator().await;
    let reply = stripe
        .send(stripe.http.get(stripe.url("/v1/customers")).bearer_auth(SECRET_KEY).header("Stripe-Version", "2025-09-30.clover"))
        .await;
    assert!(reply.headers["request-id"].to_str().unwrap().starts_with("req_"));
    assert_eq!(reply.headers["stripe-version"], "2025-09-30.clover");
    let error = stripe.get("/v1/customers/cus_missing").await;
    assert!(error.headers.contains_key("request-id"));
}

#[tokio::test]
async fn unknown_and_missing_parameters_are_named() {
    let stripe = emulator().await;
    let reply = stripe.post("/v1/customers", &[("email", "a@b.c"), ("favourite_colour", "green")]).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], "parameter_unknown");
    assert_eq!(reply.body["error"]["param"], "favourite_colour");
    let reply = stripe.post("/v1/payment_intents", &[("currency", "eur")]).await;
    assert_eq!((reply.status, reply.body["error"]["code"].as_str()), (400, Some("parameter_missing")));
    assert_eq!(reply.body["error"]["param"], "amount");
}

#[tokio::test]
async fn a_route_the_emulator_lacks_is_named_as_such() {
    let stripe = emulator().await;
    for path in ["/v1/customers/search?query=email:'a@example.com'", "/v1/products/search?query=active:'true'", "/v1/balance_transactions"]
    {
        let reply = stripe.get(path).await;
        let route = path.split('?').next().unwrap();
        assert_eq!(
            (reply.status, reply.body["error"]["message"].as_str()),
            (
                404,
                Some(
                    format!("Unrecognized request URL (GET: {route}). The Stripe emulator does not implement this route; see its README.")
                        .as_str()
                )
            ),
            "{path}"
        );
    }
}

#[tokio::test]
async fn amounts_and_currencies_follow_stripes_rules() {
    let stripe = emulator().await;
    let too_small = stripe.post("/v1/payment_intents", &[("amount", "49"), ("currency", "eur")]).await;
    assert_eq!(too_small.body["error"]["code"], "amount_too_small");
    // In Stripe's words (as its replies to integrations show them).
    assert_eq!(too_small.body["error"]["message"], "Amount must be at least €0.50 eur");
    let pounds = stripe.post("/v1/payment_intents", &[("amount", "29"), ("currency", "gbp")]).await;
    assert_eq!(pounds.body["error"]["message"], "Amount must be at least £0.30 gbp");
    for nothing in ["0", "-5"] {
        let refused = stripe.post("/v1/payment_intents", &[("amount", nothing), ("currency", "eur")]).await;
        let error = &refused.body["error"];
        assert_eq!(
            (refused.status, error["code"].as_str(), error["message"].as_str(), error["param"].as_str()),
            (400, Some("parameter_invalid_integer"), Some("This value must be greater than or equal to 1."), Some("amount"))
        );
    }
    let not_a_number = stripe.post("/v1/payment_intents", &[("amount", "12.50"), ("currency", "eur")]).await;
    let error = &not_a_number.body["error"];
    assert_eq!(
        (not_a_number.status, error["code"].as_str(), error["message"].as_str(), error["param"].as_str()),
        (400, Some("parameter_invalid_integer"), Some("Invalid integer: 12.50"), Some("amount"))
    );
    let bad_currency = stripe.post("/v1/payment_intents", &[("amount", "1000"), ("currency", "euro")]).await;
    assert_eq!((bad_currency.status, bad_currency.body["error"]["param"].as_str()), (400, Some("currency")));
    let upper = stripe.post("/v1/payment_intents", &[("amount", "1000"), ("currency", "EUR")]).await;
    assert_eq!(upper.body["currency"], "eur");
}

#[tokio::test]
async fn a_visa_payment_is_created_and_confirmed_in_one_request() {
    let stripe = emulator().await;
    let token = stripe.token("pm_card_visa").await;
    let reply = stripe.pay(&token, &[("metadata[order_id]", "ord_1")]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let intent = &reply.body;
    assert_eq!(intent["object"], "payment_intent");
    assert_eq!(intent["status"], "succeeded");
    assert_eq!(intent["amount_received"], 1099);
    assert_eq!(intent["metadata"]["order_id"], "ord_1");
    assert!(intent["client_secret"].as_str().unwrap().starts_with(&format!("{}_secret_", intent["id"].as_str().unwrap())));
    assert!(intent["payment_method"].as_str().unwrap().starts_with("pm_"));
    assert!(intent["latest_charge"].as_str().unwrap().starts_with("ch_"));

    let used = stripe.get(&format!("/v1/confirmation_tokens/{token}")).await.body;
    assert_eq!(used["payment_intent"], intent["id"]);
    assert!(used["expires_at"].is_null());
    assert_eq!(stripe.event_types().await, ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]);
}

#[tokio::test]
async fn a_declined_card_is_a_402_card_error_carrying_the_intent() {
    let stripe = emulator().await;
    let token = stripe.token("pm_card_visa_chargeDeclinedInsufficientFunds").await;
    let reply = stripe.pay(&token, &[]).await;
    assert_eq!(reply.status, 402);
    let error = &reply.body["error"];
    assert_eq!(error["type"], "card_error");
    assert_eq!(error["code"], "card_declined");
    assert_eq!(error["decline_code"], "insufficient_funds");
    assert_eq!(error["payment_intent"]["status"], "requires_payment_method");
    assert_eq!(error["payment_intent"]["last_payment_error"]["decline_code"], "insufficient_funds");
    let id = error["payment_intent"]["id"].as_str().unwrap();

    // The same intent can be paid with another card.
    let retry = stripe.token("pm_card_visa").await;
    let confirmed = stripe.post(&format!("/v1/payment_intents/{id}/confirm"), &[("confirmation_token", &retry)]).await;
    assert_eq!((confirmed.status, confirmed.body["status"].as_str()), (200, Some("succeeded")));
    assert!(stripe.event_types().await.contains(&"payment_intent.payment_failed".to_owned()));
}

#[tokio::test]
async fn every_decline_card_reports_its_documented_code() {
    let stripe = emulator().await;
    let cases = [
        ("4000000000000002", "card_declined", "generic_decline"),
        ("4000000000009995", "card_declined", "insufficient_funds"),
        ("4000000000009987", "card_declined", "lost_card"),
        ("4000000000009979", "card_declined", "stolen_card"),
        ("4000000000000069", "expired_card", "expired_card"),
        ("4000000000000127", "incorrect_cvc", "incorrect_cvc"),
        ("4000000000000119", "processing_error", "processing_error"),
        ("4100000000000019", "card_declined", "fraudulent"),
        ("4000000000000341", "card_declined", "generic_decline"),
    ];
    for (number, code, decline_code) in cases {
        let token = stripe
            .post_as(
                PUBLISHABLE_KEY,
                "/v1/confirmation_tokens",
                &[
                    ("payment_method_data[type]", "card"),
                    ("payment_method_data[card][number]", number),
                    ("payment_method_data[card][exp_month]", "12"),
                    ("payment_method_data[card][exp_year]", "2034"),
                    ("payment_method_data[card][cvc]", "123"),
                    ("return_url", "https://shop.example/done"),
                ],
                None,
            )
            .await;
        assert_eq!(token.status, 200, "{number}: {}", token.body);
        let reply = stripe.pay(token.body["id"].as_str().unwrap(), &[]).await;
        assert_eq!(reply.status, 402, "{number}");
        assert_eq!(
            (reply.body["error"]["code"].as_str(), reply.body["error"]["decline_code"].as_str()),
            (Some(code), Some(decline_code)),
            "{number}"
        );
    }
}

#[tokio::test]
async fn a_token_is_single_use_and_expires_after_twelve_hours() {
    let stripe = emulator().await;
    let token = stripe.token("pm_card_visa").await;
    assert_eq!(stripe.pay(&token, &[]).await.status, 200);
    let again = stripe.pay(&token, &[]).await;
    assert_eq!((again.status, again.body["error"]["code"].as_str()), (400, Some("token_already_used")));

    let old = stripe.token("pm_card_visa").await;
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 12 * 3600 })).await;
    let expired = stripe.pay(&old, &[]).await;
    assert_eq!((expired.status, expired.body["error"]["param"].as_str()), (400, Some("confirmation_token")));
    assert!(expired.body["error"]["message"].as_str().unwrap().contains("expired"), "{}", expired.body);
    assert!(expired.body["error"]["code"].is_null(), "Stripe's list of codes has none for an expired token");
    // Refused confirmations create nothing.
    assert_eq!(stripe.event_types().await.iter().filter(|t| *t == "payment_intent.created").count(), 1);
}

#[tokio::test]
async fn a_return_url_is_required_when_redirect_methods_are_allowed() {
    let stripe = emulator().await;
    let made = stripe.post("/v1/test_helpers/confirmation_tokens", &[("payment_method", "pm_card_visa")]).await;
    let token = made.body["id"].as_str().unwrap();
    let reply = stripe
        .post("/v1/payment_intents", &[("amount", "1099"), ("currency", "eur"), ("confirm", "true"), ("confirmation_token", token)])
        .await;
    assert_eq!((reply.status, reply.body["error"]["param"].as_str()), (400, Some("return_url")));
    let never = stripe
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "1099"),
                ("currency", "eur"),
                ("confirm", "true"),
                ("confirmation_token", token),
                ("automatic_payment_methods[enabled]", "true"),
                ("automatic_payment_methods[allow_redirects]", "never"),
            ],
        )
        .await;
    assert_eq!(never.body["status"], "succeeded", "{}", never.body);
}

#[tokio::test]
async fn three_d_secure_completes_or_fails_through_the_challenge() {
    let stripe = emulator().await;
    let token = stripe.token("pm_card_threeDSecure2Required").await;
    let intent = stripe.pay(&token, &[]).await.body;
    assert_eq!(intent["status"], "requires_action");
    assert_eq!(intent["next_action"]["type"], "use_stripe_sdk");
    let id = intent["id"].as_str().unwrap();
    let secret = intent["client_secret"].as_str().unwrap();

    // Stripe.js, with the publishable key and the client secret, can read the intent.
    let seen = stripe
        .send(stripe.http.get(stripe.url(&format!("/v1/payment_intents/{id}?client_secret={secret}"))).bearer_auth(PUBLISHABLE_KEY))
        .await;
    assert_eq!(seen.body["status"], "requires_action");
    assert_eq!(seen.body["next_action"], intent["next_action"]);
    // …but only the fields Stripe shows to a publishable key: no metadata, customer,
    // amount received or charge.
    let mut shown: Vec<&str> = seen.body.as_object().unwrap().keys().map(String::as_str).collect();
    shown.sort_unstable();
    assert_eq!(
        shown,
        [
            "amount",
            "automatic_payment_methods",
            "canceled_at",
            "cancellation_reason",
            "capture_method",
            "client_secret",
            "confirmation_method",
            "created",
            "currency",
            "description",
            "id",
            "last_payment_error",
            "livemode",
            "next_action",
            "object",
            "payment_method",
            "payment_method_types",
            "processing",
            "receipt_email",
            "setup_future_usage",
            "shipping",
            "status",
        ]
    );
    assert!(intent.get("metadata").is_some() && intent.get("latest_charge").is_some(), "the secret key sees everything");
    let wrong = stripe
        .send(stripe.http.get(stripe.url(&format!("/v1/payment_intents/{id}?client_secret=nope"))).bearer_auth(PUBLISHABLE_KEY))
        .await;
    assert_eq!(wrong.status, 404);

    let done = stripe.control(&format!("/_emulator/3ds/{id}"), json!({ "client_secret": secret, "result": "complete" })).await;
    assert_eq!(done.body["status"], "succeeded");

    let token = stripe.token("pm_card_threeDSecure2Required").await;
    let intent = stripe.pay(&token, &[]).await.body;
    let failed = stripe.authenticate(&intent, "fail").await;
    assert_eq!(failed.body["status"], "requires_payment_method");
    assert_eq!(failed.body["last_payment_error"]["code"], "payment_intent_authentication_failure");
}

#[tokio::test]
async fn card_1629_authenticates_then_declines() {
    let stripe = emulator().await;
    let token = stripe
        .post_as(
            PUBLISHABLE_KEY,
            "/v1/confirmation_tokens",
            &[
                ("payment_method_data[type]", "card"),
                ("payment_method_data[card][number]", "4000008400001629"),
                ("payment_method_data[card][exp_month]", "1"),
                ("payment_method_data[card][exp_year]", "40"),
            ],
            None,
        )
        .await
        .body;
    let intent = stripe.pay(token["id"].as_str().unwrap(), &[]).await.body;
    assert_eq!(intent["status"], "requires_action");
    let done = stripe.authenticate(&intent, "complete").await;
    assert_eq!(done.body["status"], "requires_payment_method");
    assert_eq!(done.body["last_payment_error"]["code"], "card_declined");
}

#[tokio::test]
async fn a_redirect_method_sends_the_shopper_to_the_bank_and_back() {
    let stripe = emulator().await;
    let token = stripe
        .post_as(
            PUBLISHABLE_KEY,
            "/v1/confirmation_tokens",
            &[("payment_method_data[type]", "ideal"), ("return_url", "https://shop.example/complete?x=1")],
            None,
        )
        .await
        .body;
    let intent = stripe.pay(token["id"].as_str().unwrap(), &[]).await.body;
    assert_eq!(intent["next_action"]["type"], "redirect_to_url");
    let bank = intent["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    let page = stripe.http.get(bank).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("test-source-authorize-3ds"));

    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let id = intent["id"].as_str().unwrap();
    let back = no_redirect
        .post(stripe.url(&format!("/_emulator/redirect/{id}")))
        .form(&[("client_secret", intent["client_secret"].as_str().unwrap()), ("result", "authorize")])
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 303);
    let location = back.headers()["location"].to_str().unwrap();
    // The server's return_url wins over the one the browser put in the token.
    assert!(location.starts_with("https://shop.example/done?payment_intent=pi_"), "{location}");
    assert!(location.contains("&payment_intent_client_secret=") && location.ends_with("&redirect_status=succeeded"));
}

#[tokio::test]
async fn a_delayed_method_is_processing_then_succeeds() {
    let stripe = emulator().await;
    let token = stripe
        .post_as(
            PUBLISHABLE_KEY,
            "/v1/confirmation_tokens",
            &[
                ("payment_method_data[type]", "sepa_debit"),
                ("payment_method_data[sepa_debit][iban]", "DE89 3704 0044 0532 0130 00"),
                ("return_url", "https://shop.example/done"),
            ],
            None,
        )
        .await
        .body;
    assert_eq!(token["payment_method_preview"]["sepa_debit"]["last4"], "3000");
    assert_eq!(token["payment_method_preview"]["sepa_debit"]["bank_code"], "37040044");
    let intent = stripe.pay(token["id"].as_str().unwrap(), &[]).await.body;
    assert_eq!(intent["status"], "processing");
    assert_eq!(intent["processing"], Value::Null, "`processing` describes card payments only");
    let id = intent["id"].as_str().unwrap();
    stripe.until(&format!("/v1/payment_intents/{id}"), "/status", "succeeded").await;
}

async fn sepa_token(stripe: &Stripe, iban: &str) -> String {
    let form = [
        ("payment_method_data[type]", "sepa_debit"),
        ("payment_method_data[sepa_debit][iban]", iban),
        ("return_url", "https://shop.example/done"),
    ];
    let token = stripe.post_as(PUBLISHABLE_KEY, "/v1/confirmation_tokens", &form, None).await;
    assert_eq!(token.status, 200, "{}", token.body);
    token.body["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_failing_test_iban_fails_after_processing_and_settling_can_be_forced() {
    let stripe = start(Config { processing_delay: Duration::from_secs(3600), ..Config::default() }).await;
    // Stripe's failing test IBAN: processing, then requires_payment_method.
    let token = sepa_token(&stripe, "DE62370400440532013001").await;
    let intent = stripe.pay(&token, &[]).await.body;
    assert_eq!(intent["status"], "processing");
    let id = intent["id"].as_str().unwrap();
    let failed = stripe.control(&format!("/_emulator/intents/{id}/settle"), json!({})).await.body;
    assert_eq!(failed["status"], "requires_payment_method", "{failed}");
    assert_eq!(failed["last_payment_error"]["code"], "insufficient_funds");
    let events = stripe.get("/v1/events?limit=5").await.body;
    let kinds: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(kinds.starts_with(&["payment_intent.payment_failed", "charge.failed"]), "{kinds:?}");

    // A succeeding IBAN can be made to fail, and a failing one to succeed.
    let token = sepa_token(&stripe, "DE89370400440532013000").await;
    let id = stripe.pay(&token, &[]).await.body["id"].as_str().unwrap().to_owned();
    let forced = stripe.control(&format!("/_emulator/intents/{id}/settle"), json!({ "result": "fail" })).await.body;
    assert_eq!(forced["status"], "requires_payment_method");
    let token = sepa_token(&stripe, "DE62370400440532013001").await;
    let id = stripe.pay(&token, &[]).await.body["id"].as_str().unwrap().to_owned();
    let forced = stripe.control(&format!("/_emulator/intents/{id}/settle"), json!({ "result": "succeed" })).await.body;
    assert_eq!(forced["status"], "succeeded");
    let bad = stripe.control(&format!("/_emulator/intents/{id}/settle"), json!({ "result": "maybe" })).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn payment_method_types_follow_the_currency_and_a_mismatch_is_refused() {
    let stripe = emulator().await;
    let created = |currency: &'static str| {
        let stripe = &stripe;
        async move {
            stripe
                .post("/v1/payment_intents", &[("amount", "1099"), ("currency", currency), ("automatic_payment_methods[enabled]", "true")])
                .await
                .body
        }
    };
    assert_eq!(created("eur").await["payment_method_types"], json!(["card", "ideal", "sepa_debit"]));
    let dollars = created("usd").await;
    assert_eq!(dollars["payment_method_types"], json!(["card"]));
    let no_redirects = stripe
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "1099"),
                ("currency", "eur"),
                ("automatic_payment_methods[enabled]", "true"),
                ("automatic_payment_methods[allow_redirects]", "never"),
            ],
        )
        .await
        .body;
    assert_eq!(no_redirects["payment_method_types"], json!(["card", "sepa_debit"]));

    // Changing the currency changes the types.
    let id = dollars["id"].as_str().unwrap();
    let euros = stripe.post(&format!("/v1/payment_intents/{id}"), &[("currency", "eur")]).await.body;
    assert_eq!(euros["payment_method_types"], json!(["card", "ideal", "sepa_debit"]));

    // An allowed list offers what can pay in the currency; nothing that can is refused.
    // (`payment_method_types` is no parameter in this API version.)
    let allowed = stripe
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "1099"),
                ("currency", "usd"),
                ("allowed_payment_method_types[]", "card"),
                ("allowed_payment_method_types[]", "ideal"),
            ],
        )
        .await
        .body;
    assert_eq!(allowed["payment_method_types"], json!(["card"]));
    assert_eq!(allowed["allowed_payment_method_types"], json!(["card", "ideal"]));
    let refused =
        stripe.post("/v1/payment_intents", &[("amount", "1099"), ("currency", "usd"), ("allowed_payment_method_types[]", "ideal")]).await;
    assert_eq!((refused.status, refused.body["error"]["param"].as_str()), (400, Some("allowed_payment_method_types")));
    let old_name = stripe.post("/v1/payment_intents", &[("amount", "1099"), ("currency", "eur"), ("payment_method_types[]", "card")]).await;
    assert_eq!(old_name.body["error"]["code"], "parameter_unknown");

    // Confirming a dollar payment with a SEPA account: payment_method_currency_mismatch,
    // and the token is still usable for a euro payment.
    let token = sepa_token(&stripe, "DE89370400440532013000").await;
    let form = [
        ("amount", "1099"),
        ("currency", "usd"),
        ("confirm", "true"),
        ("confirmation_token", token.as_str()),
        ("return_url", "https://shop.example/done"),
    ];
    let mismatch = stripe.post("/v1/payment_intents", &form).await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(mismatch.body["error"]["code"], "payment_method_currency_mismatch");
    assert_eq!(mismatch.body["error"]["param"], "confirmation_token");
    assert_eq!(stripe.pay(&token, &[]).await.body["status"], "processing");
}

/// The charge of the newest `charge.*` event.
async fn latest_charge(stripe: &Stripe) -> Value {
    let events = stripe.get("/v1/events?type=charge.*&limit=1").await.body;
    events["data"][0]["data"]["object"].clone()
}

#[tokio::test]
async fn radar_scores_the_risk_cards_and_blocks_the_highest() {
    let stripe = emulator().await;
    let elevated = stripe.pay(&stripe.token("pm_card_riskLevelElevated").await, &[]).await;
    assert_eq!(elevated.body["status"], "succeeded");
    let outcome = latest_charge(&stripe).await["outcome"].clone();
    assert_eq!((outcome["type"].as_str(), outcome["risk_level"].as_str()), (Some("authorized"), Some("elevated")));

    for pm in ["pm_card_riskLevelHighest", "pm_card_radarBlock"] {
        let blocked = stripe.pay(&stripe.token(pm).await, &[]).await;
        assert_eq!(blocked.status, 402, "{pm}");
        assert_eq!(blocked.body["error"]["decline_code"], "fraudulent", "{pm}");
        let charge = latest_charge(&stripe).await;
        assert_eq!(charge["status"], "failed");
        let outcome = &charge["outcome"];
        assert_eq!(
            (outcome["type"].as_str(), outcome["risk_level"].as_str(), outcome["network_status"].as_str()),
            (Some("blocked"), Some("highest"), Some("not_sent_to_network")),
            "{pm}"
        );
    }

    stripe.pay(&stripe.token("pm_card_visa").await, &[]).await;
    assert_eq!(latest_charge(&stripe).await["outcome"]["risk_level"], "normal");
    stripe.pay(&stripe.token("pm_card_chargeDeclinedInsufficientFunds").await, &[]).await;
    assert_eq!(latest_charge(&stripe).await["outcome"]["type"], "issuer_declined");
}

#[tokio::test]
async fn manual_capture_waits_for_capture() {
    let stripe = emulator().await;
    let token = stripe.token("pm_card_visa").await;
    let intent = stripe.pay(&token, &[("capture_method", "manual")]).await.body;
    assert_eq!((intent["status"].as_str(), intent["amount_capturable"].as_i64()), (Some("requires_capture"), Some(1099)));
    let id = intent["id"].as_str().unwrap();
    let captured = stripe.post(&format!("/v1/payment_intents/{id}/capture"), &[("amount_to_capture", "1000")]).await.body;
    assert_eq!((captured["status"].as_str(), captured["amount_received"].as_i64()), (Some("succeeded"), Some(1000)));
    let again = stripe.post(&format!("/v1/payment_intents/{id}/capture"), &[]).await;
    assert_eq!((again.status, again.body["error"]["code"].as_str()), (400, Some("payment_intent_unexpected_state")));
    let cancel = stripe.post(&format!("/v1/payment_intents/{id}/cancel"), &[]).await;
    assert_eq!(cancel.status, 400);
    // Each refusal names what was refused.
    let update = stripe.post(&format!("/v1/payment_intents/{id}"), &[("amount", "2000")]).await;
    assert_eq!((update.status, update.body["error"]["code"].as_str()), (400, Some("payment_intent_unexpected_state")));
    for (reply, refused) in [(&cancel, "may be canceled"), (&update, "may be updated")] {
        let message = reply.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("status of succeeded") && message.contains(refused), "{message}");
    }
}

#[tokio::test]
async fn idempotency_keys_replay_refuse_other_parameters_and_409_while_running() {
    let stripe = emulator().await;
    let form = [("email", "jenny@example.com")];
    let first = stripe.post_as(SECRET_KEY, "/v1/customers", &form, Some("key-1")).await;
    let second = stripe.post_as(SECRET_KEY, "/v1/customers", &form, Some("key-1")).await;
    assert_eq!(first.body, second.body);
    assert_eq!(second.headers["idempotent-replayed"], "true");
    assert_eq!(stripe.get("/v1/customers").await.body["data"].as_array().unwrap().len(), 1);

    let other = stripe.post_as(SECRET_KEY, "/v1/customers", &[("email", "other@example.com")], Some("key-1")).await;
    assert_eq!((other.status, other.body["error"]["type"].as_str()), (400, Some("idempotency_error")));

    // A declined confirmation is replayed as the same 402.
    let token = stripe.token("pm_card_chargeDeclined").await;
    let pay = [
        ("amount", "1099"),
        ("currency", "eur"),
        ("confirm", "true"),
        ("confirmation_token", token.as_str()),
        ("return_url", "https://shop.example/done"),
    ];
    let declined = stripe.post_as(SECRET_KEY, "/v1/payment_intents", &pay, Some("pay-1")).await;
    let replayed = stripe.post_as(SECRET_KEY, "/v1/payment_intents", &pay, Some("pay-1")).await;
    assert_eq!((declined.status, replayed.status), (402, 402));
    assert_eq!(declined.body, replayed.body);

    stripe.control("/_emulator/faults", json!({ "path": "/v1/customers", "method": "POST", "delay_ms": 500 })).await;
    let slow = stripe.post_as(SECRET_KEY, "/v1/customers", &[("name", "Slow")], Some("key-2"));
    let racing = async {
        // Once the first request has taken its delay, it holds the key.
        stripe.until_faults_used().await;
        stripe.post_as(SECRET_KEY, "/v1/customers", &[("name", "Slow")], Some("key-2")).await
    };
    let (slow, racing) = tokio::join!(slow, racing);
    assert_eq!(slow.status, 200);
    assert_eq!((racing.status, racing.body["error"]["code"].as_str()), (409, Some("idempotency_key_in_use")));
}

#[tokio::test]
async fn faults_before_processing_change_nothing_and_after_processing_lose_only_the_reply() {
    let stripe = emulator().await;
    stripe.control("/_emulator/faults", json!({ "path": "/v1/customers", "status": 503, "should_retry": true })).await;
    let refused = stripe.post_as(SECRET_KEY, "/v1/customers", &[("name", "A")], Some("k")).await;
    assert_eq!((refused.status, refused.body["error"]["type"].as_str()), (503, Some("api_error")));
    assert_eq!(refused.headers["stripe-should-retry"], "true");
    assert_eq!(stripe.get("/v1/customers").await.body["data"].as_array().unwrap().len(), 0);

    stripe.control("/_emulator/faults", json!({ "path": "/v1/customers", "method": "POST", "status": 500, "phase": "after" })).await;
    let lost = stripe.post_as(SECRET_KEY, "/v1/customers", &[("name", "B")], Some("k2")).await;
    assert_eq!(lost.status, 500);
    let retried = stripe.post_as(SECRET_KEY, "/v1/customers", &[("name", "B")], Some("k2")).await;
    assert_eq!(retried.status, 200);
    assert_eq!(retried.headers["idempotent-replayed"], "true");
    assert_eq!(stripe.get("/v1/customers").await.body["data"].as_array().unwrap().len(), 1);

    stripe.control("/_emulator/faults", json!({ "path": "/v1/customers", "drop": true })).await;
    let dropped = stripe.http.post(stripe.url("/v1/customers")).bearer_auth(SECRET_KEY).form(&[("name", "C")]).send().await;
    let read = match dropped {
        Ok(response) => response.text().await.is_err(),
        Err(_) => true,
    };
    assert!(read, "a dropped connection must not deliver a complete reply");
}

#[tokio::test]
async fn saving_a_card_attaches_it_to_the_customer_and_detaching_removes_it() {
    let stripe = emulator().await;
    let customer = stripe.post("/v1/customers", &[("email", "ada@example.com")]).await.body;
    let cus = customer["id"].as_str().unwrap();
    let token = stripe
        .post(
            "/v1/test_helpers/confirmation_tokens",
            &[("payment_method", "pm_card_visa"), ("setup_future_usage", "off_session"), ("return_url", "https://shop.example/done")],
        )
        .await
        .body;
    let intent = stripe.pay(token["id"].as_str().unwrap(), &[("customer", cus)]).await.body;
    assert_eq!(intent["setup_future_usage"], "off_session");
    let pm = intent["payment_method"].as_str().unwrap();

    let listed = stripe.get(&format!("/v1/customers/{cus}/payment_methods")).await.body;
    assert_eq!(listed["data"][0]["id"], pm);
    let listed = stripe.get(&format!("/v1/payment_methods?customer={cus}&type=card")).await.body;
    assert_eq!(listed["data"][0]["card"]["last4"], "4242");

    let detached = stripe.post(&format!("/v1/payment_methods/{pm}/detach"), &[]).await.body;
    assert!(detached["customer"].is_null());
    assert_eq!(stripe.get(&format!("/v1/customers/{cus}/payment_methods")).await.body["data"].as_array().unwrap().len(), 0);
    let types = stripe.event_types().await;
    assert!(types.contains(&"payment_method.attached".to_owned()) && types.contains(&"payment_method.detached".to_owned()));
}

#[tokio::test]
async fn a_card_saved_by_one_customer_cannot_be_used_by_another() {
    let stripe = emulator().await;
    let alice = stripe.post("/v1/customers", &[]).await.body["id"].as_str().unwrap().to_owned();
    let bob = stripe.post("/v1/customers", &[]).await.body["id"].as_str().unwrap().to_owned();
    let pm = stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", &alice)]).await.body;
    let pm = pm["id"].as_str().unwrap();
    let session = stripe.post("/v1/customer_sessions", &[("customer", &bob), ("components[payment_element][enabled]", "true")]).await.body;
    let stolen = stripe
        .post_as(
            PUBLISHABLE_KEY,
            "/v1/confirmation_tokens",
            &[("payment_method", pm), ("customer_session_client_secret", session["client_secret"].as_str().unwrap())],
            None,
        )
        .await;
    assert_eq!((stolen.status, stolen.body["error"]["code"].as_str()), (400, Some("resource_missing")));
    let reply = stripe
        .post(
            "/v1/payment_intents",
            &[
                ("amount", "500"),
                ("currency", "eur"),
                ("customer", &bob),
                ("payment_method", pm),
                ("confirm", "true"),
                ("return_url", "https://shop.example"),
            ],
        )
        .await;
    assert_eq!(reply.status, 400);
}

#[tokio::test]
async fn customer_sessions_enable_exactly_one_component_with_its_features() {
    let stripe = emulator().await;
    let cus = stripe.post("/v1/customers", &[]).await.body["id"].as_str().unwrap().to_owned();
    let session = stripe
        .post(
            "/v1/customer_sessions",
            &[
                ("customer", &cus),
                ("components[payment_element][enabled]", "true"),
                ("components[payment_element][features][payment_method_save]", "enabled"),
                ("components[payment_element][features][payment_method_redisplay]", "enabled"),
                ("components[payment_element][features][payment_method_remove]", "enabled"),
                ("components[payment_element][features][payment_method_save_usage]", "off_session"),
            ],
        )
        .await
        .body;
    assert!(session["client_secret"].as_str().unwrap().starts_with("cuss_secret_"));
    let features = &session["components"]["payment_element"]["features"];
    assert_eq!(features["payment_method_save"], "enabled");
    assert_eq!(features["payment_method_allow_redisplay_filters"], json!(["always"]));
    assert_eq!(features["payment_method_redisplay_limit"], 3);
    assert!(session["expires_at"].as_i64().unwrap() > session["created"].as_i64().unwrap());

    let two = stripe
        .post(
            "/v1/customer_sessions",
            &[("customer", &cus), ("components[payment_element][enabled]", "true"), ("components[pricing_table][enabled]", "true")],
        )
        .await;
    assert_eq!(two.status, 400);
}

#[tokio::test]
async fn setup_intents_save_a_card_and_can_require_3ds() {
    let stripe = emulator().await;
    let cus = stripe.post("/v1/customers", &[]).await.body["id"].as_str().unwrap().to_owned();
    let token = stripe.token("pm_card_visa").await;
    let setup = stripe
        .post(
            "/v1/setup_intents",
            &[("customer", &cus), ("confirm", "true"), ("confirmation_token", &token), ("automatic_payment_methods[enabled]", "true")],
        )
        .await
        .body;
    assert_eq!((setup["object"].as_str(), setup["status"].as_str()), (Some("setup_intent"), Some("succeeded")), "{setup}");
    assert_eq!(stripe.get(&format!("/v1/customers/{cus}/payment_methods")).await.body["data"].as_array().unwrap().len(), 1);

    let token = stripe.token("pm_card_authenticationRequiredOnSetup").await;
    let setup = stripe.post("/v1/setup_intents", &[("customer", &cus), ("confirm", "true"), ("confirmation_token", &token)]).await.body;
    assert_eq!(setup["status"], "requires_action");
    let done = stripe.authenticate(&setup, "complete").await;
    assert_eq!(done.body["status"], "succeeded");
}

#[tokio::test]
async fn events_are_listed_newest_first_with_type_and_time_filters() {
    let stripe = emulator().await;
    stripe.post("/v1/customers", &[]).await;
    let token = stripe.token("pm_card_visa").await;
    stripe.pay(&token, &[]).await;
    let succeeded = stripe.get("/v1/events?type=payment_intent.succeeded").await.body;
    assert_eq!(succeeded["data"].as_array().unwrap().len(), 1);
    let id = succeeded["data"][0]["id"].as_str().unwrap();
    assert_eq!(stripe.get(&format!("/v1/events/{id}")).await.body["type"], "payment_intent.succeeded");
    let wildcard = stripe.get("/v1/events?type=payment_intent.*").await.body;
    assert_eq!(wildcard["data"].as_array().unwrap().len(), 2);
    let future = stripe.get("/v1/events?created[gt]=99999999999").await.body;
    assert_eq!(future["data"].as_array().unwrap().len(), 0);
    let limited = stripe.get("/v1/events?limit=2").await.body;
    assert_eq!((limited["data"].as_array().unwrap().len(), limited["has_more"].as_bool()), (2, Some(true)));
    assert_eq!(limited["data"][0]["type"], "payment_intent.succeeded");
}

#[tokio::test]
async fn a_request_refused_by_validation_leaves_its_idempotency_key_free() {
    // Stripe saves a result only once an endpoint started executing: the corrected
    // retry under the same key goes through.
    let stripe = emulator().await;
    let token = stripe.token("pm_card_visa").await;
    let missing_amount = [("currency", "eur"), ("confirm", "true"), ("confirmation_token", token.as_str())];
    let refused = stripe.post_as(SECRET_KEY, "/v1/payment_intents", &missing_amount, Some("order-1")).await;
    assert_eq!((refused.status, refused.body["error"]["code"].as_str()), (400, Some("parameter_missing")));
    let corrected = [("amount", "1099"), ("currency", "eur"), ("confirm", "true"), ("confirmation_token", token.as_str())];
    let paid = stripe.post_as(SECRET_KEY, "/v1/payment_intents", &corrected, Some("order-1")).await;
    assert_eq!((paid.status, paid.body["status"].as_str()), (200, Some("succeeded")), "{}", paid.body);
    assert!(!paid.headers.contains_key("idempotent-replayed"));
    // What executed is kept: the same request again is replayed.
    let again = stripe.post_as(SECRET_KEY, "/v1/payment_intents", &corrected, Some("order-1")).await;
    assert_eq!((again.headers["idempotent-replayed"].to_str().unwrap(), again.body["id"].clone()), ("true", paid.body["id"].clone()));
}

#[tokio::test]
async fn the_request_log_shows_what_each_request_sent_and_got() {
    let stripe = emulator().await;
    let form = [("email", "jenny@example.com"), ("metadata[order]", "7")];
    stripe.post_as(SECRET_KEY, "/v1/customers", &form, Some("log-1")).await;
    stripe.post_as(SECRET_KEY, "/v1/customers", &form, Some("log-1")).await;
    stripe.post_as("sk_live_nope", "/v1/customers", &form, None).await;
    stripe.get("/v1/customers?limit=2").await;
    let log = stripe.get("/_emulator/requests?path=/v1/customers").await.body;
    let log = log["data"].as_array().unwrap();
    assert_eq!(log.len(), 4);
    assert_eq!(
        (log[0]["method"].as_str(), log[0]["status"].as_u64(), log[0]["replayed"].as_bool()),
        (Some("POST"), Some(200), Some(false))
    );
    assert_eq!(log[0]["params"], json!({ "email": "jenny@example.com", "metadata": { "order": "7" } }));
    assert_eq!((log[0]["idempotency_key"].as_str(), log[1]["replayed"].as_bool()), (Some("log-1"), Some(true)));
    assert!(log[0]["request_id"].as_str().unwrap().starts_with("req_"));
    assert_eq!((log[2]["status"].as_u64(), log[2]["idempotency_key"].is_null()), (Some(401), true));
    assert_eq!((log[3]["method"].as_str(), log[3]["params"]["limit"].as_str()), (Some("GET"), Some("2")));
    stripe.control("/_emulator/reset", json!({})).await;
    assert_eq!(stripe.get("/_emulator/requests").await.body["data"], json!([]));
}

#[tokio::test]
async fn expand_replaces_ids_by_objects_and_refuses_what_cannot_be_expanded() {
    let stripe = emulator().await;
    let customer = stripe.post("/v1/customers", &[("email", "a@example.com")]).await.body;
    let customer_id = customer["id"].as_str().unwrap();
    let token = stripe.token("pm_card_visa").await;
    let paid = stripe.pay(&token, &[("customer", customer_id), ("expand[]", "payment_method"), ("expand[]", "latest_charge")]).await;
    assert_eq!(
        (paid.body["payment_method"]["object"].as_str(), paid.body["latest_charge"]["object"].as_str()),
        (Some("payment_method"), Some("charge"))
    );
    let id = paid.body["id"].as_str().unwrap();
    let stripe = &stripe;
    let retrieve = |expand: &str| {
        let path = format!("/v1/payment_intents/{id}?expand[]={expand}");
        async move { stripe.get(&path).await }
    };
    let nested = retrieve("latest_charge.customer").await;
    assert_eq!(nested.body["latest_charge"]["customer"]["email"], "a@example.com", "{}", nested.body);

    // What is no id of another object: refused, in Stripe's words.
    for (path, named) in
        [("metadata", "metadata"), ("amount", "amount"), ("status", "status"), ("nope", "nope"), ("latest_charge.nope", "nope")]
    {
        let refused = retrieve(path).await;
        assert_eq!(
            (refused.status, refused.body["error"]["type"].as_str(), refused.body["error"]["message"].as_str()),
            (400, Some("invalid_request_error"), Some(format!("This property cannot be expanded ({named}).").as_str())),
            "{path}"
        );
    }
    let deep = retrieve("latest_charge.customer.invoice_settings.default_payment_method.customer").await;
    assert_eq!(
        (deep.status, deep.body["error"]["message"].as_str()),
        (
            400,
            Some(
                "You cannot expand more than 4 levels of a property. Property: latest_charge.customer.invoice_settings.default_payment_method.customer"
            )
        )
    );

    // A list expands its items' fields through `data.`.
    let listed = stripe.get("/v1/payment_intents?expand[]=data.customer").await.body;
    assert_eq!(listed["data"][0]["customer"]["id"], customer_id, "{listed}");
    let without_data = stripe.get("/v1/payment_intents?expand[]=customer").await.body;
    assert_eq!(
        without_data["error"]["message"],
        "This property cannot be expanded (customer). You may want to try expanding 'data.customer' instead."
    );
    assert_eq!(stripe.get("/v1/payment_intents?expand[]=data").await.status, 400);

    // A write is refused before it is carried out.
    let update = stripe.post(&format!("/v1/customers/{customer_id}"), &[("email", "b@example.com"), ("expand[]", "email")]).await;
    assert_eq!(update.status, 400, "{}", update.body);
    assert_eq!(stripe.get(&format!("/v1/customers/{customer_id}")).await.body["email"], "a@example.com");
}

#[tokio::test]
async fn metadata_is_held_to_stripes_limits_before_anything_is_done() {
    let stripe = emulator().await;
    let long_key = "k".repeat(41);
    let long_value = "v".repeat(501);
    let key_field = format!("metadata[{long_key}]");
    let refused = stripe.post_as(SECRET_KEY, "/v1/customers", &[(key_field.as_str(), "v")], Some("meta-1")).await;
    assert_eq!(
        (refused.status, refused.body["error"]["message"].as_str()),
        (
            400,
            Some(
                format!(
                    "Metadata keys can have up to 40 characters, but you passed in a key that is 41 characters. Invalid key: {long_key}"
                )
                .as_str()
            )
        )
    );
    let token = stripe.token("pm_card_visa").await;
    let value = stripe.pay(&token, &[("metadata[order_id]", long_value.as_str())]).await;
    assert_eq!(
        value.body["error"]["message"],
        format!(
            "Metadata values can have up to 500 characters, but you passed in a value that is 501 characters. Invalid value: {long_value}"
        )
    );
    let many: Vec<(String, String)> = (0..51).map(|n| (format!("metadata[k{n}]"), "v".to_owned())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let refused = stripe.post("/v1/customers", &many).await;
    assert_eq!(refused.body["error"]["message"], "Metadata can have up to 50 keys, but you've set 51");
    // Nothing was made, nothing charged, and the refused request's key is free again.
    assert_eq!(stripe.get("/v1/customers").await.body["data"].as_array().unwrap().len(), 0);
    assert_eq!(stripe.get("/v1/payment_intents").await.body["data"].as_array().unwrap().len(), 0);
    let made = stripe.post_as(SECRET_KEY, "/v1/customers", &[("metadata[k]", "v")], Some("meta-1")).await;
    assert_eq!((made.status, made.body["metadata"]["k"].as_str()), (200, Some("v")), "{}", made.body);
    // Updates count the keys the object already has.
    let id = made.body["id"].as_str().unwrap();
    let fifty: Vec<(String, String)> = (0..50).map(|n| (format!("metadata[n{n}]"), "v".to_owned())).collect();
    let fifty: Vec<(&str, &str)> = fifty.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let over = stripe.post(&format!("/v1/customers/{id}"), &fifty).await;
    assert_eq!(over.body["error"]["message"], "Metadata can have up to 50 keys, but you've set 51");
}

#[tokio::test]
async fn email_addresses_stripe_refuses_are_refused_before_anything_is_done() {
    let stripe = emulator().await;
    for bad in ["otameshi@com", "jenny@gmail", "jenny@.example.com", "jenny", "@example.com", " jenny@example.com", "jenny@example..com"] {
        let refused = stripe.post_as(SECRET_KEY, "/v1/customers", &[("email", bad)], Some("email-1")).await;
        assert_eq!(
            (refused.status, refused.body["error"]["code"].as_str(), refused.body["error"]["param"].as_str()),
            (400, Some("email_invalid"), Some("email")),
            "{bad:?}: {}",
            refused.body
        );
        assert_eq!(refused.body["error"]["message"], format!("Invalid email address: {bad}"));
    }
    let token = stripe.token("pm_card_visa").await;
    let receipt = stripe.pay(&token, &[("receipt_email", "jenny@localhost")]).await;
    assert_eq!((receipt.status, receipt.body["error"]["param"].as_str()), (400, Some("receipt_email")), "{}", receipt.body);
    // Nothing was made or charged, and the refused requests' key is free again.
    assert_eq!(stripe.get("/v1/customers").await.body["data"].as_array().unwrap().len(), 0);
    assert_eq!(stripe.get("/v1/payment_intents").await.body["data"].as_array().unwrap().len(), 0);
    let made = stripe.post_as(SECRET_KEY, "/v1/customers", &[("email", "jenny.rosen+shop@example.co.uk")], Some("email-1")).await;
    assert_eq!((made.status, made.body["email"].as_str()), (200, Some("jenny.rosen+shop@example.co.uk")), "{}", made.body);
    // An update is checked too; an empty value unsets the address.
    let id = made.body["id"].as_str().unwrap();
    assert_eq!(stripe.post(&format!("/v1/customers/{id}"), &[("email", "jenny@gmail")]).await.status, 400);
    let unset = stripe.post(&format!("/v1/customers/{id}"), &[("email", "")]).await;
    assert_eq!((unset.status, &unset.body["email"]), (200, &json!(null)), "{}", unset.body);
}

/// A value outside an enum, in Stripe's words: the parameter named by its whole path,
/// the values listed "a or b" / "a, b, or c", as Stripe's public error reports quote it.
#[tokio::test]
async fn a_value_outside_an_enum_is_refused_in_stripes_words_naming_the_whole_parameter() {
    type Form<'a> = Vec<(&'a str, &'a str)>;
    let stripe = emulator().await;
    let paid = stripe.pay(&stripe.token("pm_card_visa").await, &[]).await.body;
    let customer = stripe.post("/v1/customers", &[]).await.body;
    let (paid, customer) = (paid["id"].as_str().unwrap(), customer["id"].as_str().unwrap());
    let intent = [("amount", "1000"), ("currency", "eur")];
    // (route, form, the parameter refused, the values Stripe lists)
    let cases: [(&str, Form, &str, &str); 5] = [
        (
            "/v1/payment_intents",
            [&intent[..], &[("capture_method", "later")]].concat(),
            "capture_method",
            "automatic, automatic_async, or manual",
        ),
        (
            "/v1/payment_intents",
            [&intent[..], &[("setup_future_usage", "always")]].concat(),
            "setup_future_usage",
            "on_session or off_session",
        ),
        (
            "/v1/payment_intents",
            [&intent[..], &[("automatic_payment_methods[enabled]", "true"), ("automatic_payment_methods[allow_redirects]", "sometimes")]]
                .concat(),
            "automatic_payment_methods[allow_redirects]",
            "always or never",
        ),
        (
            "/v1/refunds",
            vec![("payment_intent", paid), ("reason", "kitchen_out_of_stock")],
            "reason",
            "duplicate, fraudulent, or requested_by_customer",
        ),
        (
            "/v1/customer_sessions",
            vec![
                ("customer", customer),
                ("components[payment_element][enabled]", "true"),
                ("components[payment_element][features][payment_method_save]", "on"),
            ],
            "components[payment_element][features][payment_method_save]",
            "enabled or disabled",
        ),
    ];
    for (path, form, param, allowed) in cases {
        let reply = stripe.post(path, &form).await;
        assert_eq!(
            (reply.status, reply.body["error"]["param"].as_str(), reply.body["error"]["message"].as_str()),
            (400, Some(param), Some(format!("Invalid {param}: must be one of {allowed}").as_str())),
            "{path} {form:?}"
        );
    }
    // Nothing was refunded.
    assert_eq!(stripe.get(&format!("/v1/payment_intents/{paid}")).await.body["status"], "succeeded");
    assert_eq!(stripe.get("/v1/refunds").await.body["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_deleted_customer_is_retrieved_as_deleted_and_cannot_be_changed() {
    let stripe = emulator().await;
    let id = stripe.post("/v1/customers", &[("email", "a@example.com")]).await.body["id"].as_str().unwrap().to_owned();
    let deleted = stripe.delete(&format!("/v1/customers/{id}")).await;
    assert_eq!(deleted.body, json!({ "id": id, "object": "customer", "deleted": true }));
    assert_eq!(stripe.get(&format!("/v1/customers/{id}")).await.body, json!({ "id": id, "object": "customer", "deleted": true }));
    let update = stripe.post(&format!("/v1/customers/{id}"), &[("email", "b@example.com")]).await;
    assert_eq!(
        (update.status, update.body["error"]["code"].as_str(), update.body["error"]["message"].as_str()),
        (404, Some("resource_missing"), Some(format!("No such customer: '{id}'").as_str()))
    );
    let again = stripe.delete(&format!("/v1/customers/{id}")).await;
    assert_eq!(again.status, 404);
    // Nor are its payment methods listed, by either route.
    let listed = stripe.get(&format!("/v1/customers/{id}/payment_methods")).await;
    assert_eq!((listed.status, listed.body["error"]["code"].as_str()), (404, Some("resource_missing")), "{}", listed.body);
    let listed = stripe.get(&format!("/v1/payment_methods?customer={id}")).await;
    assert_eq!((listed.status, listed.body["error"]["param"].as_str()), (400, Some("customer")), "{}", listed.body);
    // The event carries the customer as it was.
    let events = stripe.get("/v1/events?type=customer.deleted").await.body;
    assert_eq!(events["data"][0]["data"]["object"]["email"], "a@example.com");

    // A customer's subscriptions end when it is deleted, each with its event.
    let (subscription, _, confirmed) = subscribe(&stripe, "pm_card_visa").await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let (id, customer) = (subscription["id"].as_str().unwrap(), subscription["customer"].as_str().unwrap());
    assert_eq!(stripe.get(&format!("/v1/subscriptions/{id}")).await.body["status"], "active");
    stripe.delete(&format!("/v1/customers/{customer}")).await;
    let ended = stripe.get(&format!("/v1/subscriptions/{id}")).await.body;
    assert_eq!((ended["status"].as_str(), ended["ended_at"].is_i64()), (Some("canceled"), true), "{ended}");
    let events = stripe.get("/v1/events?type=customer.subscription.deleted").await.body;
    assert_eq!(events["data"][0]["data"]["object"]["id"], id);
}

/// Lists are newest first, and objects made within one second (most of a test's) are
/// listed the last made first, as Stripe lists them: `limit=1` is the latest.
#[tokio::test]
async fn lists_put_the_last_made_first_even_within_one_second() {
    let stripe = emulator().await;
    let mut made = Vec::new();
    for _ in 0..6 {
        made.push(stripe.post("/v1/customers", &[]).await.body["id"].as_str().unwrap().to_owned());
    }
    made.reverse();
    let listed = stripe.get("/v1/customers").await.body;
    let listed: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(listed, made);
    // Paging walks the same order.
    let second = stripe.get(&format!("/v1/customers?limit=2&starting_after={}", made[1])).await.body;
    let second: Vec<&str> = second["data"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(second, &made[2..4]);
    // An update keeps an object's place.
    stripe.post(&format!("/v1/customers/{}", made[5]), &[("name", "Jenny")]).await;
    assert_eq!(stripe.get("/v1/customers?limit=1").await.body["data"][0]["id"], made[0].as_str());
}

#[tokio::test]
async fn a_list_cursor_naming_no_object_or_two_cursors_are_refused_and_only_updates_carry_previous_attributes() {
    let stripe = emulator().await;
    let unknown = stripe.get("/v1/customers?starting_after=cus_nothere").await;
    assert_eq!(
        (unknown.status, unknown.body["error"]["code"].as_str(), unknown.body["error"]["param"].as_str()),
        (400, Some("resource_missing"), Some("starting_after"))
    );
    let before = stripe.get("/v1/events?ending_before=evt_nothere").await;
    assert_eq!((before.status, before.body["error"]["param"].as_str()), (400, Some("ending_before")));
    // Both cursors at once: Stripe refuses them rather than page between the two.
    let (older, newer) = (stripe.post("/v1/customers", &[]).await.body, stripe.post("/v1/customers", &[]).await.body);
    let (older, newer) = (older["id"].as_str().unwrap(), newer["id"].as_str().unwrap());
    let both = stripe.get(&format!("/v1/customers?starting_after={newer}&ending_before={older}")).await;
    assert_eq!(
        (both.status, both.body["error"]["type"].as_str(), both.body["error"]["message"].as_str()),
        (400, Some("invalid_request_error"), Some("Received both starting_after and ending_before parameters. Please pass in only one."))
    );

    let token = stripe.token("pm_card_visa").await;
    stripe.pay(&token, &[]).await;
    let customer = stripe.post("/v1/customers", &[("email", "a@example.com")]).await.body;
    let id = customer["id"].as_str().unwrap();
    stripe.post(&format!("/v1/customers/{id}"), &[("email", "b@example.com")]).await;
    let events = stripe.get("/v1/events?limit=100").await.body;
    for event in events["data"].as_array().unwrap() {
        let kind = event["type"].as_str().unwrap();
        let previous = &event["data"]["previous_attributes"];
        assert_eq!(kind.ends_with(".updated"), !previous.is_null(), "{kind}: {previous}");
        assert_ne!(kind, "payment_intent.updated", "Stripe has no such event");
    }
}

/// A POST whose body says it is 2 MB, of which just past the emulator's 256 KiB is
/// sent, over a raw connection: the reply, read until the emulator closes. It refuses
/// the body once it has read past the limit, so it has read all that was sent: the
/// reply cannot be lost to a reset, as it could to a client still uploading the rest.
async fn just_past_the_body_limit(stripe: &Stripe) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = stripe.url("");
    let mut socket = tokio::net::TcpStream::connect(url.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST /v1/customers HTTP/1.1\r\nHost: stripe\r\nAuthorization: Bearer {SECRET_KEY}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        2 * 1024 * 1024
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(format!("name={}", "x".repeat(256 * 1024)).as_bytes()).await.unwrap();
    let mut reply = String::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_string(&mut reply)).await.expect("a reply within 10 s").unwrap();
    reply
}

#[tokio::test]
async fn bad_input_gets_stripe_shaped_errors_and_never_panics() {
    let stripe = emulator().await;
    let json_body = stripe.send(stripe.http.post(stripe.url("/v1/customers")).bearer_auth(SECRET_KEY).json(&json!({ "email": "x" }))).await;
    assert_eq!(json_body.status, 400);
    let malformed = stripe
        .send(
            stripe
                .http
                .post(stripe.url("/v1/customers"))
                .bearer_auth(SECRET_KEY)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("metadata[a=1&[x]=2"),
        )
        .await;
    assert_eq!((malformed.status, malformed.body["error"]["type"].as_str()), (400, Some("invalid_request_error")));
    let huge = just_past_the_body_limit(&stripe).await;
    assert!(huge.starts_with("HTTP/1.1 413") && huge.contains("The request body is too large."), "{huge}");
    let unknown = stripe.get("/v1/charges_of_the_light_brigade").await;
    assert_eq!((unknown.status, unknown.body["error"]["type"].as_str()), (404, Some("invalid_request_error")));
    let wrong_method = stripe.delete("/v1/payment_intents").await;
    assert_eq!(wrong_method.status, 404);
    let not_utf8 = stripe
        .send(
            stripe
                .http
                .post(stripe.url("/v1/customers"))
                .bearer_auth(SECRET_KEY)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(vec![0xff, 0xfe]),
        )
        .await;
    assert_eq!(not_utf8.status, 400);
    assert_eq!(stripe.get("/v1/customers").await.status, 200, "still serving");
}

/// A webhook receiver on a free port that answers with scripted statuses and keeps
/// what it received.
async fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    use axum::http::StatusCode;
    let received = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(statuses.into_iter()));
    let app = {
        let received = Arc::clone(&received);
        axum::Router::new().route(
            "/webhook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let received = Arc::clone(&received);
                let script = Arc::clone(&script);
                async move {
                    let signature = headers["stripe-signature"].to_str().unwrap().to_owned();
                    received.lock().unwrap().push((signature, body));
                    let status = script.lock().unwrap().next().unwrap_or(200);
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not met in 5 s");
}

#[tokio::test]
async fn events_are_delivered_signed_and_retried_until_accepted() {
    let (url, received) = receiver(vec![500, 503]).await;
    let secret = "whsec_test_delivery";
    let stripe = start(Config {
        webhooks: vec![WebhookEndpoint { url: url.clone(), secret: secret.into() }],
        retry_schedule: vec![Duration::from_millis(50), Duration::from_millis(50), Duration::from_millis(50)],
        ..Config::default()
    })
    .await;
    let customer = stripe.post("/v1/customers", &[("email", "hooks@example.com")]).await.body;

    wait_until(|| received.lock().unwrap().len() >= 3).await;
    let (signature, body) = received.lock().unwrap()[2].clone();
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["type"], "customer.created");
    assert_eq!(event["data"]["object"]["id"], customer["id"]);
    let timestamp: i64 = signature.split(',').next().unwrap().trim_start_matches("t=").parse().unwrap();
    assert_eq!(signature, stripe_emulator::webhooks::signature_header(secret, timestamp, body.as_bytes()));

    let deliveries = stripe.send(stripe.http.get(stripe.url("/_emulator/deliveries"))).await.body;
    let delivery = &deliveries["data"][0];
    assert_eq!(delivery["status"], "succeeded");
    let statuses: Vec<i64> = delivery["attempts"].as_array().unwrap().iter().map(|a| a["status"].as_i64().unwrap()).collect();
    assert_eq!(statuses, [500, 503, 200]);

    let resent = stripe.send(stripe.http.post(stripe.url(&format!("/_emulator/events/{}/resend", event["id"].as_str().unwrap())))).await;
    assert_eq!(resent.status, 200);
    wait_until(|| received.lock().unwrap().len() >= 4).await;
}

#[tokio::test]
async fn a_delivery_gives_up_when_the_schedule_runs_out() {
    let (url, received) = receiver(vec![500, 500, 500]).await;
    let stripe = start(Config {
        webhooks: vec![WebhookEndpoint { url, secret: "whsec_x".into() }],
        retry_schedule: vec![Duration::from_millis(20), Duration::from_millis(20)],
        ..Config::default()
    })
    .await;
    stripe.post("/v1/customers", &[]).await;
    wait_until(|| received.lock().unwrap().len() >= 3).await;
    stripe.until("/_emulator/deliveries", "/data/0/status", "failed").await;
}

#[tokio::test]
async fn a_shipping_address_sent_with_the_payment_is_kept_and_needs_a_name_and_a_street() {
    let stripe = emulator().await;
    let address = [
        ("shipping[name]", "Jenny Rosen"),
        ("shipping[address][line1]", "12 Rue de la Paix"),
        ("shipping[address][city]", "Paris"),
        ("shipping[address][country]", "FR"),
    ];
    let reply = stripe.post("/v1/payment_intents", &[&[("amount", "1000"), ("currency", "eur")][..], &address].concat()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let shipping = &reply.body["shipping"];
    assert_eq!((shipping["name"].as_str(), shipping["address"]["line1"].as_str()), (Some("Jenny Rosen"), Some("12 Rue de la Paix")));
    assert_eq!((shipping["address"]["postal_code"].clone(), shipping["carrier"].clone()), (Value::Null, Value::Null));
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let updated =
        stripe.post(&format!("/v1/payment_intents/{id}"), &[("shipping[name]", "Jenny"), ("shipping[address][line1]", "1 Quai")]).await;
    assert_eq!(updated.body["shipping"]["address"]["line1"], "1 Quai");
    assert_eq!(stripe.post(&format!("/v1/payment_intents/{id}"), &[("shipping", "")]).await.body["shipping"], Value::Null);

    let nameless =
        stripe.post("/v1/payment_intents", &[("amount", "1000"), ("currency", "eur"), ("shipping[address][line1]", "1 Quai")]).await;
    assert_eq!((nameless.status, nameless.body["error"]["param"].as_str()), (400, Some("shipping[name]")));
    let streetless = stripe.post("/v1/payment_intents", &[("amount", "1000"), ("currency", "eur"), ("shipping[name]", "Jenny")]).await;
    assert_eq!((streetless.status, streetless.body["error"]["param"].as_str()), (400, Some("shipping[address][line1]")));
}

fn event_types(received: &Mutex<Vec<(String, String)>>) -> Vec<String> {
    let received = received.lock().unwrap();
    received.iter().map(|(_, body)| serde_json::from_str::<Value>(body).unwrap()["type"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn webhook_endpoints_have_their_own_secret_and_receive_only_what_they_enable() {
    let stripe = start(Config { retry_schedule: Vec::new(), ..Config::default() }).await;
    let (only_success_url, only_success) = receiver(Vec::new()).await;
    let (everything_url, everything) = receiver(Vec::new()).await;

    let created = stripe
        .post(
            "/v1/webhook_endpoints",
            &[
                ("url", only_success_url.as_str()),
                ("enabled_events[]", "payment_intent.succeeded"),
                ("enabled_events[]", "payment_intent.payment_failed"),
                ("description", "fulfilment"),
            ],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let endpoint = created.body;
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!((endpoint["object"].as_str(), endpoint["status"].as_str()), (Some("webhook_endpoint"), Some("enabled")));
    let id = endpoint["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("we_"));
    let all = stripe.post("/v1/webhook_endpoints", &[("url", everything_url.as_str()), ("enabled_events[]", "*")]).await.body;
    assert_ne!(all["secret"], endpoint["secret"], "a secret per endpoint");

    // The secret is shown once; the list is newest first.
    let retrieved = stripe.get(&format!("/v1/webhook_endpoints/{id}")).await.body;
    assert_eq!((retrieved["secret"].clone(), retrieved["description"].as_str()), (Value::Null, Some("fulfilment")));
    let listed = stripe.get("/v1/webhook_endpoints").await.body;
    let ids: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [all["id"].as_str().unwrap(), id.as_str()]);

    stripe.pay(&stripe.token("pm_card_visa").await, &[]).await;
    wait_until(|| event_types(&everything).contains(&"payment_intent.succeeded".to_owned())).await;
    wait_until(|| !only_success.lock().unwrap().is_empty()).await;
    assert_eq!(event_types(&only_success), ["payment_intent.succeeded"]);
    let (signature, body) = only_success.lock().unwrap()[0].clone();
    let timestamp: i64 = signature.split(',').next().unwrap().trim_start_matches("t=").parse().unwrap();
    assert_eq!(signature, stripe_emulator::webhooks::signature_header(&secret, timestamp, body.as_bytes()));
    assert!(event_types(&everything).len() > 2, "`*` gets every event");

    // Disabled: nothing more; deleted: gone.
    let disabled = stripe.post(&format!("/v1/webhook_endpoints/{id}"), &[("disabled", "true")]).await.body;
    assert_eq!(disabled["status"], "disabled");
    let seen = everything.lock().unwrap().len();
    stripe.pay(&stripe.token("pm_card_visa").await, &[]).await;
    wait_until(|| everything.lock().unwrap().len() > seen).await;
    assert_eq!(only_success.lock().unwrap().len(), 1);
    let deleted = stripe.send(stripe.http.delete(stripe.url(&format!("/v1/webhook_endpoints/{id}"))).bearer_auth("sk_test_emulator")).await;
    assert_eq!(deleted.body["deleted"], true);
    assert_eq!(stripe.get(&format!("/v1/webhook_endpoints/{id}")).await.status, 404);

    // Refused: unknown event types, bad URLs, nothing enabled.
    let unknown =
        stripe.post("/v1/webhook_endpoints", &[("url", "https://shop.example/hook"), ("enabled_events[]", "payment_intent.updated")]).await;
    assert_eq!((unknown.status, unknown.body["error"]["param"].as_str()), (400, Some("enabled_events[0]")));
    let bad_url = stripe.post("/v1/webhook_endpoints", &[("url", "not a url"), ("enabled_events[]", "*")]).await;
    assert_eq!(bad_url.body["error"]["code"], "url_invalid");
    let nothing = stripe.post("/v1/webhook_endpoints", &[("url", "https://shop.example/hook")]).await;
    assert_eq!(nothing.body["error"]["code"], "parameter_missing");
}

#[tokio::test]
async fn deliveries_can_be_duplicated_and_shuffled_to_exercise_a_receiver() {
    let (url, received) = receiver(Vec::new()).await;
    let stripe = start(Config {
        webhooks: vec![WebhookEndpoint { url, secret: "whsec_x".into() }],
        delivery: stripe_emulator::DeliveryMode { duplicate: true, shuffle: false },
        ..Config::default()
    })
    .await;
    stripe.post("/v1/customers", &[]).await;
    wait_until(|| received.lock().unwrap().len() >= 2).await;
    let ids: Vec<Value> =
        received.lock().unwrap().iter().map(|(_, body)| serde_json::from_str::<Value>(body).unwrap()["id"].clone()).collect();
    assert_eq!(ids[0], ids[1], "the same event, twice");

    // Switched at run time: each request's events in random order. A paid intent emits
    // payment_intent.created, charge.succeeded, payment_intent.succeeded; twenty payments
    // all delivered in that order would be a 1 in 6^20 chance.
    let mode = stripe.control("/_emulator/delivery_mode", json!({ "shuffle": true })).await.body;
    assert_eq!(mode, json!({ "duplicate": false, "shuffle": true }));
    received.lock().unwrap().clear();
    for _ in 0..20 {
        stripe.pay(&stripe.token("pm_card_visa").await, &[]).await;
    }
    wait_until(|| received.lock().unwrap().len() >= 60).await;
    let mut by_payment: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (_, body) in received.lock().unwrap().iter() {
        let event: Value = serde_json::from_str(body).unwrap();
        let object = &event["data"]["object"];
        let intent = if object["object"] == "charge" { &object["payment_intent"] } else { &object["id"] };
        by_payment.entry(intent.as_str().unwrap().to_owned()).or_default().push(event["type"].as_str().unwrap().to_owned());
    }
    assert_eq!(by_payment.len(), 20);
    let in_order = ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"];
    assert!(by_payment.values().all(|types| types.len() == 3), "each event once: {by_payment:?}");
    assert!(by_payment.values().any(|types| !types.iter().map(String::as_str).eq(in_order)), "{by_payment:?}");
}

#[tokio::test]
async fn parameters_stripe_honours_are_honoured() {
    let stripe = emulator().await;
    // error_on_requires_action: a card that needs 3-D Secure fails instead of waiting.
    let token = stripe.token("pm_card_threeDSecure2Required").await;
    let failed = stripe.pay(&token, &[("error_on_requires_action", "true")]).await;
    assert_eq!(failed.status, 402);
    assert_eq!(failed.body["error"]["code"], "authentication_required");
    assert_eq!(failed.body["error"]["payment_intent"]["status"], "requires_payment_method");

    // payment_method_data: a bank debit made at confirmation; raw card numbers refused.
    let debit = [
        ("amount", "1099"),
        ("currency", "eur"),
        ("confirm", "true"),
        ("return_url", "https://shop.example/done"),
        ("payment_method_data[type]", "sepa_debit"),
        ("payment_method_data[sepa_debit][iban]", "DE89370400440532013000"),
        ("payment_method_data[billing_details][name]", "Jenny Rosen"),
        ("payment_method_data[billing_details][email]", "jenny@example.com"),
    ];
    let debited = stripe.post("/v1/payment_intents", &debit).await;
    assert_eq!(debited.body["status"], "processing", "{}", debited.body);
    let card = [
        ("amount", "1099"),
        ("currency", "eur"),
        ("confirm", "true"),
        ("payment_method_data[type]", "card"),
        ("payment_method_data[card][number]", "4242424242424242"),
    ];
    assert_eq!(stripe.post("/v1/payment_intents", &card).await.body["error"]["code"], "parameter_unknown");
    let both = [&debit[..], &[("payment_method", "pm_card_visa")]].concat();
    assert_eq!(stripe.post("/v1/payment_intents", &both).await.body["error"]["code"], "parameters_exclusive");

    // metadata on capture.
    let held = stripe.pay(&stripe.token("pm_card_visa").await, &[("capture_method", "manual"), ("metadata[order]", "1")]).await.body;
    let id = held["id"].as_str().unwrap();
    let captured = stripe.post(&format!("/v1/payment_intents/{id}/capture"), &[("metadata[shipped]", "partly")]).await.body;
    assert_eq!(captured["metadata"], json!({ "order": "1", "shipped": "partly" }));

    // created[…] filters on lists.
    let first = stripe.post("/v1/customers", &[("email", "early@example.com")]).await.body;
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 100 })).await;
    let second = stripe.post("/v1/customers", &[("email", "late@example.com")]).await.body;
    let after = first["created"].as_i64().unwrap() + 50;
    let listed = stripe.get(&format!("/v1/customers?created[gt]={after}")).await.body;
    let ids: Vec<&Value> = listed["data"].as_array().unwrap().iter().map(|c| &c["id"]).collect();
    assert_eq!(ids, [&second["id"]]);
    let intents = stripe.get(&format!("/v1/payment_intents?created[lte]={after}")).await.body;
    assert!(intents["data"].as_array().unwrap().iter().all(|pi| pi["created"].as_i64().unwrap() <= after));
    assert!(!intents["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_detached_or_once_used_payment_method_cannot_pay_again() {
    let stripe = emulator().await;
    let customer = stripe.post("/v1/customers", &[]).await.body["id"].as_str().unwrap().to_owned();
    let pm = stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", customer.as_str())]).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pay = |pm: String, customer: Option<String>| {
        let stripe = &stripe;
        async move {
            let mut form = vec![("amount", "1000".to_owned()), ("currency", "eur".to_owned()), ("confirm", "true".to_owned())];
            form.push(("payment_method", pm));
            form.push(("return_url", "https://shop.example/done".to_owned()));
            if let Some(customer) = customer {
                form.push(("customer", customer));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            stripe.post("/v1/payment_intents", &form).await
        }
    };
    // Attached: pays as often as needed.
    assert_eq!(pay(pm.clone(), Some(customer.clone())).await.body["status"], "succeeded");
    assert_eq!(pay(pm.clone(), Some(customer.clone())).await.body["status"], "succeeded");
    // Detached: refused.
    stripe.post(&format!("/v1/payment_methods/{pm}/detach"), &[]).await;
    let refused = pay(pm.clone(), None).await;
    assert_eq!((refused.status, refused.body["error"]["param"].as_str()), (400, Some("payment_method")));
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("may not be used again"));

    // Never attached: one payment, then refused.
    let loose = stripe
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4242424242424242"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2040"),
                ("card[cvc]", "123"),
            ],
        )
        .await;
    let loose = loose.body["id"].as_str().unwrap().to_owned();
    assert_eq!(pay(loose.clone(), None).await.body["status"], "succeeded");
    assert_eq!(pay(loose, None).await.status, 400);
}

#[tokio::test]
async fn refunds_in_part_then_in_full_and_never_more_than_was_paid() {
    let stripe = emulator().await;
    let paid = stripe.pay(&stripe.token("pm_card_visa").await, &[]).await.body;
    let intent = paid["id"].as_str().unwrap();
    let charge_id = paid["latest_charge"].as_str().unwrap();
    let charge = stripe.get(&format!("/v1/charges/{charge_id}")).await.body;
    assert_eq!(
        (charge["amount"].as_i64(), charge["amount_refunded"].as_i64(), charge["refunded"].as_bool()),
        (Some(1099), Some(0), Some(false))
    );
    let listed = stripe.get(&format!("/v1/charges?payment_intent={intent}")).await.body;
    assert_eq!(listed["data"][0]["id"], charge_id);

    let part = stripe.post("/v1/refunds", &[("payment_intent", intent), ("amount", "400"), ("reason", "requested_by_customer")]).await;
    assert_eq!(part.status, 200, "{}", part.body);
    assert_eq!((part.body["status"].as_str(), part.body["charge"].as_str()), (Some("succeeded"), Some(charge_id)));
    let charge = stripe.get(&format!("/v1/charges/{charge_id}")).await.body;
    assert_eq!((charge["amount_refunded"].as_i64(), charge["refunded"].as_bool()), (Some(400), Some(false)));

    let too_much = stripe.post("/v1/refunds", &[("charge", charge_id), ("amount", "700")]).await;
    assert_eq!((too_much.status, too_much.body["error"]["param"].as_str()), (400, Some("amount")));
    assert!(too_much.body["error"]["message"].as_str().unwrap().contains("greater than unrefunded amount"), "{}", too_much.body);

    let rest = stripe.post("/v1/refunds", &[("charge", charge_id)]).await.body;
    assert_eq!(rest["amount"], 699);
    let charge = stripe.get(&format!("/v1/charges/{charge_id}")).await.body;
    assert_eq!((charge["amount_refunded"].as_i64(), charge["refunded"].as_bool()), (Some(1099), Some(true)));
    let again = stripe.post("/v1/refunds", &[("payment_intent", intent)]).await;
    assert_eq!(again.body["error"]["code"], "charge_already_refunded");
    let refunds = stripe.get(&format!("/v1/refunds?payment_intent={intent}")).await.body;
    assert_eq!(refunds["data"].as_array().unwrap().len(), 2);

    let events = stripe.get("/v1/events?limit=100").await.body;
    let kinds: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "refund.created").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "charge.refunded").count(), 2);

    // Nothing to refund yet on an uncaptured payment.
    let held = stripe.pay(&stripe.token("pm_card_visa").await, &[("capture_method", "manual")]).await.body;
    let refused = stripe.post("/v1/refunds", &[("payment_intent", held["id"].as_str().unwrap())]).await;
    assert_eq!(refused.status, 400);
}

/// A receipt page, as a browser gets it (no key: its address is its secret).
async fn receipt(stripe: &Stripe, url: &str) -> (u16, String) {
    let response = stripe.http.get(url).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_charge_has_a_receipt_page_that_follows_its_refunds() {
    let stripe = emulator().await;
    let paid = stripe.pay(&stripe.token("pm_card_visa").await, &[]).await.body;
    let charge = stripe.get(&format!("/v1/charges/{}", paid["latest_charge"].as_str().unwrap())).await.body;
    let url = charge["receipt_url"].as_str().unwrap();
    let prefix = stripe.url("/receipts/payment/");
    assert!(url.starts_with(&prefix) && url.len() >= prefix.len() + 32, "{url}");
    let (status, page) = receipt(&stripe, url).await;
    assert_eq!(status, 200);
    assert!(page.contains("Amount paid: <strong>€10.99</strong>") && page.contains("visa •••• 4242"), "{page}");
    assert!(!page.contains("Refunded"), "{page}");

    stripe.post("/v1/refunds", &[("charge", charge["id"].as_str().unwrap()), ("amount", "400")]).await;
    let (_, page) = receipt(&stripe, url).await;
    assert!(page.contains("Refunded: <strong>−€4.00</strong>"), "{page}");

    // Each charge its own address; a made-up one names none.
    let other = stripe.pay(&stripe.token("pm_card_visa").await, &[]).await.body;
    let other = stripe.get(&format!("/v1/charges/{}", other["latest_charge"].as_str().unwrap())).await.body;
    assert_ne!(other["receipt_url"], charge["receipt_url"]);
    assert_eq!(receipt(&stripe, &format!("{prefix}nothing")).await.0, 404);

    // A declined charge's page says so; an authorization's, that nothing is taken yet.
    let declined = stripe.pay(&stripe.token("pm_card_chargeDeclined").await, &[]).await;
    let declined = declined.body["error"]["payment_intent"]["latest_charge"].as_str().unwrap().to_owned();
    let declined = stripe.get(&format!("/v1/charges/{declined}")).await.body;
    assert!(receipt(&stripe, declined["receipt_url"].as_str().unwrap()).await.1.contains("Payment failed: <strong>€10.99</strong>"));
    let held = stripe.pay(&stripe.token("pm_card_visa").await, &[("capture_method", "manual")]).await.body;
    let held = stripe.get(&format!("/v1/charges/{}", held["latest_charge"].as_str().unwrap())).await.body;
    let held_url = held["receipt_url"].as_str().unwrap();
    assert!(receipt(&stripe, held_url).await.1.contains("not charged yet"));
    // Captured in part: what was taken is paid, and the rest released is no refund.
    let captured = stripe
        .post(&format!("/v1/payment_intents/{}/capture", held["payment_intent"].as_str().unwrap()), &[("amount_to_capture", "500")])
        .await;
    assert_eq!(captured.status, 200, "{}", captured.body);
    let (_, page) = receipt(&stripe, held_url).await;
    assert!(page.contains("Amount paid: <strong>€5.00</strong>") && !page.contains("Refunded"), "{page}");

    // A customer who prefers French gets the page in French, as Stripe's follows
    // `preferred_locales`.
    let customer = stripe.post("/v1/customers", &[("email", "jenny@example.com"), ("preferred_locales[0]", "fr")]).await.body;
    let customer = customer["id"].as_str().unwrap();
    let paid = stripe.pay(&stripe.token("pm_card_visa").await, &[("customer", customer)]).await.body;
    let charge = stripe.get(&format!("/v1/charges/{}", paid["latest_charge"].as_str().unwrap())).await.body;
    let (_, page) = receipt(&stripe, charge["receipt_url"].as_str().unwrap()).await;
    assert!(page.contains(r#"<html lang="fr">"#) && page.contains("Montant payé\u{a0}: <strong>10,99\u{a0}€</strong>"), "{page}");
    // Told later that the customer prefers English, Stripe says so in `customer.updated`
    // (the list before in `previous_attributes`), and the same page is in English.
    let updated = stripe.post(&format!("/v1/customers/{customer}"), &[("preferred_locales[0]", "en")]).await;
    assert_eq!(updated.body["preferred_locales"], json!(["en"]), "{}", updated.body);
    let event = &stripe.get("/v1/events?type=customer.updated").await.body["data"][0]["data"];
    assert_eq!(
        (&event["object"]["preferred_locales"], &event["previous_attributes"]),
        (&json!(["en"]), &json!({ "preferred_locales": ["fr"] }))
    );
    let (_, page) = receipt(&stripe, charge["receipt_url"].as_str().unwrap()).await;
    assert!(page.contains(r#"<html lang="en">"#) && page.contains("Amount paid: <strong>€10.99</strong>"), "{page}");
}

#[tokio::test]
async fn a_sepa_refund_or_one_of_the_pending_refund_card_is_pending_then_succeeds() {
    let stripe = start(Config { processing_delay: Duration::from_millis(100), ..Config::default() }).await;
    let sepa = sepa_token(&stripe, "DE89370400440532013000").await;
    let card = stripe.token("pm_card_pendingRefund").await;
    for token in [sepa, card] {
        let id = stripe.pay(&token, &[]).await.body["id"].as_str().unwrap().to_owned();
        stripe.until(&format!("/v1/payment_intents/{id}"), "/status", "succeeded").await;
        let refund = stripe.post("/v1/refunds", &[("payment_intent", id.as_str())]).await.body;
        assert_eq!((refund["status"].as_str(), &refund["balance_transaction"]), (Some("pending"), &Value::Null), "{refund}");
        let done = stripe.until(&format!("/v1/refunds/{}", refund["id"].as_str().unwrap()), "/status", "succeeded").await;
        assert!(done["balance_transaction"].is_string(), "{done}");
        let updated = stripe.get("/v1/events?type=refund.updated").await.body;
        assert_eq!(updated["data"][0]["data"]["object"]["id"], refund["id"]);
        assert_eq!(updated["data"][0]["data"]["previous_attributes"]["status"], "pending");
    }
}

#[tokio::test]
async fn a_refund_of_the_refund_failure_card_succeeds_then_fails_and_gives_the_amount_back() {
    let stripe = emulator().await;
    let paid = stripe.pay(&stripe.token("pm_card_refundFail").await, &[]).await.body;
    assert_eq!(paid["status"], "succeeded", "the payment itself goes through");
    let (intent, charge) = (paid["id"].as_str().unwrap(), format!("/v1/charges/{}", paid["latest_charge"].as_str().unwrap()));
    let refund = stripe.post("/v1/refunds", &[("payment_intent", intent), ("amount", "600")]).await.body;
    assert_eq!((refund["status"].as_str(), refund.get("failure_reason")), (Some("succeeded"), None));
    assert_eq!(stripe.get(&charge).await.body["amount_refunded"], 600);

    let failed = stripe.until(&format!("/v1/refunds/{}", refund["id"].as_str().unwrap()), "/status", "failed").await;
    assert_eq!(failed["failure_reason"], "expired_or_canceled_card");
    assert!(failed["failure_balance_transaction"].as_str().is_some_and(|txn| txn.starts_with("txn_")), "{failed}");
    let charge_now = stripe.get(&charge).await.body;
    assert_eq!((charge_now["amount_refunded"].as_i64(), charge_now["refunded"].as_bool()), (Some(0), Some(false)));
    let updated = stripe.get("/v1/events?type=refund.updated").await.body;
    assert_eq!(updated["data"][0]["data"]["object"]["status"], "failed");
    assert_eq!(updated["data"][0]["data"]["previous_attributes"]["status"], "succeeded");
    let failures = stripe.get("/v1/events?type=refund.failed").await.body;
    assert_eq!(failures["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(failures["data"][0]["data"]["object"]["id"], refund["id"]);

    // All of it can be asked again, since none of it went back.
    let again = stripe.post("/v1/refunds", &[("payment_intent", intent)]).await.body;
    assert_eq!((again["amount"].as_i64(), again["status"].as_str()), (Some(1099), Some("succeeded")));
}

#[tokio::test]
async fn a_partial_capture_releases_the_rest_and_an_old_authorization_expires() {
    let stripe = emulator().await;
    let held = stripe.pay(&stripe.token("pm_card_visa").await, &[("capture_method", "manual")]).await.body;
    let id = held["id"].as_str().unwrap();
    stripe.post(&format!("/v1/payment_intents/{id}/capture"), &[("amount_to_capture", "600")]).await;
    let charge = stripe.get(&format!("/v1/charges/{}", held["latest_charge"].as_str().unwrap())).await.body;
    assert_eq!((charge["amount_captured"].as_i64(), charge["amount_refunded"].as_i64()), (Some(600), Some(499)));
    let refund = stripe.post("/v1/refunds", &[("payment_intent", id), ("amount", "601")]).await;
    assert_eq!(refund.status, 400, "only what was captured can be refunded");

    let waiting = stripe.pay(&stripe.token("pm_card_visa").await, &[("capture_method", "manual")]).await.body;
    let waiting_id = waiting["id"].as_str().unwrap();
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 6 * 24 * 3600 })).await;
    assert_eq!(stripe.get(&format!("/v1/payment_intents/{waiting_id}")).await.body["status"], "requires_capture");
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 24 * 3600 })).await;
    let expired = stripe.get(&format!("/v1/payment_intents/{waiting_id}")).await.body;
    assert_eq!((expired["status"].as_str(), expired["cancellation_reason"].as_str()), (Some("canceled"), Some("automatic")));
    let charge = stripe.get(&format!("/v1/charges/{}", waiting["latest_charge"].as_str().unwrap())).await.body;
    assert_eq!(charge["refunded"], true);
    let events = stripe.get("/v1/events?types[]=charge.expired&types[]=payment_intent.canceled").await.body;
    assert_eq!(events["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_dispute_card_pays_then_is_disputed() {
    let stripe = emulator().await;
    let paid = stripe.pay(&stripe.token("pm_card_createDispute").await, &[]).await.body;
    assert_eq!(paid["status"], "succeeded");
    let charge = stripe.get(&format!("/v1/charges/{}", paid["latest_charge"].as_str().unwrap())).await.body;
    assert_eq!(charge["disputed"], true);
    let created = stripe.get("/v1/events?type=charge.dispute.created").await.body;
    let dispute = &created["data"][0]["data"]["object"];
    assert_eq!((dispute["status"].as_str(), dispute["amount"].as_i64()), (Some("needs_response"), Some(1099)));
    assert_eq!(dispute["payment_intent"], paid["id"]);
    let listed = stripe.get(&format!("/v1/disputes?charge={}", charge["id"].as_str().unwrap())).await.body;
    assert_eq!(listed["data"][0]["id"], dispute["id"]);
    let refund = stripe.post("/v1/refunds", &[("payment_intent", paid["id"].as_str().unwrap())]).await;
    assert_eq!(refund.body["error"]["code"], "charge_disputed");
    assert_eq!(dispute["reason"], "fraudulent");

    // Stripe's other dispute card: the goods never arrived.
    let paid = stripe.pay(&stripe.token("pm_card_createDisputeProductNotReceived").await, &[]).await.body;
    let listed = stripe.get(&format!("/v1/disputes?payment_intent={}", paid["id"].as_str().unwrap())).await.body;
    assert_eq!(
        (listed["data"][0]["reason"].as_str(), listed["data"][0]["status"].as_str()),
        (Some("product_not_received"), Some("needs_response"))
    );
}

/// The merchant answers a dispute: evidence staged, then submitted (`winning_evidence`
/// wins in test mode: closed, funds back), or the dispute closed as lost. A closed
/// dispute takes no more evidence.
#[tokio::test]
async fn a_dispute_is_answered_with_evidence_and_won_or_closed_and_lost() {
    let stripe = emulator().await;
    let dispute_of = |paid: &Value| paid["id"].as_str().unwrap().to_owned();
    let paid = stripe.pay(&stripe.token("pm_card_createDispute").await, &[]).await.body;
    let listed = stripe.get(&format!("/v1/disputes?payment_intent={}", dispute_of(&paid))).await.body;
    let won = listed["data"][0]["id"].as_str().unwrap().to_owned();
    let withdrawn = stripe.get("/v1/events?type=charge.dispute.funds_withdrawn").await.body;
    assert_eq!(withdrawn["data"][0]["data"]["object"]["id"], won.as_str());

    // Staged: nothing submitted yet.
    let staged = stripe.post(&format!("/v1/disputes/{won}"), &[("evidence[product_description]", "A mug"), ("submit", "false")]).await.body;
    assert_eq!((staged["status"].as_str(), staged["evidence_details"]["submission_count"].as_i64()), (Some("needs_response"), Some(0)));
    assert_eq!(
        (staged["evidence"]["product_description"].as_str(), staged["evidence_details"]["has_evidence"].as_bool()),
        (Some("A mug"), Some(true))
    );
    // Submitted with the winning text: under review, then won at once.
    let answered = stripe.post(&format!("/v1/disputes/{won}"), &[("evidence[uncategorized_text]", "winning_evidence")]).await.body;
    assert_eq!((answered["status"].as_str(), answered["evidence_details"]["submission_count"].as_i64()), (Some("won"), Some(1)));
    assert_eq!(answered["balance_transactions"].as_array().unwrap().len(), 2, "withdrawn, then reinstated");
    let closed = stripe.get("/v1/events?type=charge.dispute.closed").await.body;
    assert_eq!(closed["data"][0]["data"]["object"]["status"], "won");
    let reinstated = stripe.get("/v1/events?type=charge.dispute.funds_reinstated").await.body;
    assert_eq!(reinstated["data"][0]["data"]["object"]["id"], won.as_str());
    let late = stripe.post(&format!("/v1/disputes/{won}"), &[("evidence[uncategorized_text]", "more")]).await;
    assert_eq!((late.status, late.body["error"]["param"].as_str()), (400, Some("evidence")), "{}", late.body);
    assert_eq!(stripe.post(&format!("/v1/disputes/{won}/close"), &[]).await.status, 400);
    // Metadata can still be set.
    let noted = stripe.post(&format!("/v1/disputes/{won}"), &[("metadata[case]", "42")]).await.body;
    assert_eq!((noted["status"].as_str(), noted["metadata"]["case"].as_str()), (Some("won"), Some("42")));

    // Another dispute, accepted: lost, and the funds stay withdrawn.
    let paid = stripe.pay(&stripe.token("pm_card_createDispute").await, &[]).await.body;
    let listed = stripe.get(&format!("/v1/disputes?payment_intent={}", dispute_of(&paid))).await.body;
    let lost = listed["data"][0]["id"].as_str().unwrap().to_owned();
    let accepted = stripe.post(&format!("/v1/disputes/{lost}/close"), &[]).await.body;
    assert_eq!((accepted["status"].as_str(), accepted["balance_transactions"].as_array().unwrap().len()), (Some("lost"), 1));
    let closed = stripe.get("/v1/events?type=charge.dispute.closed").await.body;
    assert_eq!(
        (closed["data"][0]["data"]["object"]["id"].as_str(), closed["data"][0]["data"]["object"]["status"].as_str()),
        (Some(lost.as_str()), Some("lost"))
    );
    assert_eq!(stripe.get("/v1/events?type=charge.dispute.funds_reinstated").await.body["data"].as_array().unwrap().len(), 1);
    let unknown = stripe.post("/v1/disputes/dp_nothere/close", &[]).await;
    assert_eq!((unknown.status, unknown.body["error"]["code"].as_str()), (404, Some("resource_missing")));
}

/// The inquiry card: the issuer asks before any chargeback. Nothing is withdrawn and the
/// charge can still be refunded; the winning text closes the inquiry, the losing one
/// turns it into a chargeback, and a full refund resolves it.
#[tokio::test]
async fn the_early_fraud_warning_card_pays_then_is_reported_until_refunded_in_full() {
    let stripe = emulator().await;
    let paid = stripe.pay(&stripe.token("pm_card_createIssuerFraudRecord").await, &[]).await.body;
    assert_eq!(paid["status"], "succeeded");
    let intent = paid["id"].as_str().unwrap();
    let listed = stripe.get(&format!("/v1/radar/early_fraud_warnings?payment_intent={intent}")).await.body;
    assert_eq!(listed["url"], "/v1/radar/early_fraud_warnings");
    let warnings = listed["data"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{listed}");
    let warning = &warnings[0];
    assert_eq!((warning["object"].as_str(), warning["actionable"].as_bool()), (Some("radar.early_fraud_warning"), Some(true)));
    assert_eq!((&warning["charge"], warning["fraud_type"].as_str()), (&paid["latest_charge"], Some("made_with_stolen_card")));
    let id = warning["id"].as_str().unwrap();
    assert!(id.starts_with("issfr_"), "{id}");
    let expanded = stripe.get(&format!("/v1/radar/early_fraud_warnings/{id}?expand[]=charge")).await.body;
    assert_eq!(expanded["charge"]["id"], paid["latest_charge"]);
    let created = stripe.get("/v1/events?type=radar.early_fraud_warning.created").await.body;
    assert_eq!(created["data"][0]["data"]["object"]["id"], id);
    let other = stripe.pay(&stripe.token("pm_card_visa").await, &[]).await.body;
    let none = stripe.get(&format!("/v1/radar/early_fraud_warnings?payment_intent={}", other["id"].as_str().unwrap())).await.body;
    assert_eq!(none["data"].as_array().map(Vec::len), Some(0), "a plain card is not reported");

    // A refund in part leaves it actionable; the rest settles it.
    stripe.post("/v1/refunds", &[("payment_intent", intent), ("amount", "99")]).await;
    assert_eq!(stripe.get(&format!("/v1/radar/early_fraud_warnings/{id}")).await.body["actionable"], true);
    stripe.post("/v1/refunds", &[("payment_intent", intent)]).await;
    assert_eq!(stripe.get(&format!("/v1/radar/early_fraud_warnings/{id}")).await.body["actionable"], false);
    let updated = stripe.get("/v1/events?type=radar.early_fraud_warning.updated").await.body;
    assert_eq!(updated["data"].as_array().map(Vec::len), Some(1), "{updated}");
    assert_eq!(updated["data"][0]["data"]["previous_attributes"]["actionable"], true);
}

#[tokio::test]
async fn an_inquiry_withdraws_nothing_and_is_closed_escalated_or_refunded() {
    let stripe = emulator().await;
    let inquiry_of = |paid: &Value| {
        let url = format!("/v1/disputes?payment_intent={}", paid["id"].as_str().unwrap());
        let stripe = &stripe;
        async move { stripe.get(&url).await.body["data"][0].clone() }
    };
    let events = |kind: &'static str| {
        let stripe = &stripe;
        async move { stripe.get(&format!("/v1/events?type={kind}")).await.body["data"].as_array().unwrap().len() }
    };
    let paid = stripe.pay(&stripe.token("pm_card_createDisputeInquiry").await, &[]).await.body;
    assert_eq!(paid["status"], "succeeded");
    let inquiry = inquiry_of(&paid).await;
    assert_eq!(
        (inquiry["status"].as_str(), inquiry["balance_transactions"].as_array().map(Vec::len), inquiry["is_charge_refundable"].as_bool()),
        (Some("warning_needs_response"), Some(0), Some(true))
    );
    assert_eq!((events("charge.dispute.created").await, events("charge.dispute.funds_withdrawn").await), (1, 0));
    let id = inquiry["id"].as_str().unwrap();
    let answered = stripe.post(&format!("/v1/disputes/{id}"), &[("evidence[uncategorized_text]", "winning_evidence")]).await.body;
    assert_eq!((answered["status"].as_str(), answered["balance_transactions"].as_array().map(Vec::len)), (Some("warning_closed"), Some(0)));
    assert_eq!((events("charge.dispute.closed").await, events("charge.dispute.funds_reinstated").await), (1, 0));

    // Lost: a chargeback now, the funds withdrawn, to be answered again.
    let paid = stripe.pay(&stripe.token("pm_card_createDisputeInquiry").await, &[]).await.body;
    let id = inquiry_of(&paid).await["id"].as_str().unwrap().to_owned();
    let escalated = stripe.post(&format!("/v1/disputes/{id}"), &[("evidence[uncategorized_text]", "losing_evidence")]).await.body;
    assert_eq!(
        (
            escalated["status"].as_str(),
            escalated["balance_transactions"].as_array().map(Vec::len),
            escalated["is_charge_refundable"].as_bool()
        ),
        (Some("needs_response"), Some(1), Some(false))
    );
    assert_eq!(events("charge.dispute.funds_withdrawn").await, 1);
    let refund = stripe.post("/v1/refunds", &[("payment_intent", paid["id"].as_str().unwrap())]).await;
    assert_eq!(refund.body["error"]["code"], "charge_disputed");

    // Refunded in full: the inquiry is resolved.
    let paid = stripe.pay(&stripe.token("pm_card_createDisputeInquiry").await, &[]).await.body;
    let refund = stripe.post("/v1/refunds", &[("payment_intent", paid["id"].as_str().unwrap())]).await;
    assert_eq!((refund.status, refund.body["status"].as_str()), (200, Some("succeeded")), "{}", refund.body);
    assert_eq!(inquiry_of(&paid).await["status"], "warning_closed");
    assert_eq!(events("charge.dispute.closed").await, 2);
}

#[tokio::test]
async fn metadata_updates_follow_stripes_rules_on_every_object() {
    let stripe = emulator().await;
    let intent = stripe
        .post("/v1/payment_intents", &[("amount", "1000"), ("currency", "eur"), ("metadata[a]", "1"), ("metadata[b]", "2")])
        .await
        .body;
    let id = intent["id"].as_str().unwrap();
    // An empty value removes its key (it does not leave a null behind).
    let updated = stripe.post(&format!("/v1/payment_intents/{id}"), &[("metadata[a]", ""), ("metadata[c]", "3")]).await.body;
    assert_eq!(updated["metadata"], json!({ "b": "2", "c": "3" }));
    // `metadata=` empties it.
    let cleared = stripe.post(&format!("/v1/payment_intents/{id}"), &[("metadata", "")]).await.body;
    assert_eq!(cleared["metadata"], json!({}));

    let customer = stripe.post("/v1/customers", &[]).await.body["id"].as_str().unwrap().to_owned();
    let pm = stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", customer.as_str())]).await.body;
    let pm_id = pm["id"].as_str().unwrap();
    stripe.post(&format!("/v1/payment_methods/{pm_id}"), &[("metadata[x]", "1")]).await;
    let pm = stripe.post(&format!("/v1/payment_methods/{pm_id}"), &[("metadata[x]", "")]).await.body;
    assert_eq!(pm["metadata"], json!({}));
}

/// A new customer's subscription to 2 × 12.00 EUR a month, created
/// `default_incomplete` (the method saved on the subscription) with `extra` parameters:
/// Stripe's reply.
async fn new_subscription(stripe: &Stripe, extra: &[(&str, &str)]) -> Reply {
    let customer = stripe.post("/v1/customers", &[("email", "sub@example.com")]).await.body;
    let product = stripe.post("/v1/products", &[("name", "Coffee beans")]).await.body;
    let form = [
        ("customer", customer["id"].as_str().unwrap()),
        ("items[0][price_data][currency]", "eur"),
        ("items[0][price_data][unit_amount]", "1200"),
        ("items[0][price_data][product]", product["id"].as_str().unwrap()),
        ("items[0][price_data][recurring][interval]", "month"),
        ("items[0][quantity]", "2"),
        ("payment_behavior", "default_incomplete"),
        ("payment_settings[save_default_payment_method]", "on_subscription"),
    ];
    stripe.post("/v1/subscriptions", &[&form[..], extra].concat()).await
}

/// A customer subscribed to 2 × 12.00 EUR a month (created `default_incomplete`), its
/// first invoice's PaymentIntent, and the intent as confirmed with a token for `pm`.
async fn subscribe(stripe: &Stripe, pm: &str) -> (Value, String, Reply) {
    subscribe_with(stripe, stripe.token(pm).await).await
}

/// As [`subscribe`], the first invoice's PaymentIntent confirmed with ConfirmationToken `token`.
async fn subscribe_with(stripe: &Stripe, token: String) -> (Value, String, Reply) {
    let subscription = new_subscription(stripe, &[("expand[]", "latest_invoice.payments")]).await;
    assert_eq!(subscription.status, 200, "{}", subscription.body);
    let subscription = subscription.body;
    let invoice = &subscription["latest_invoice"];
    let intent = invoice["payments"]["data"][0]["payment"]["payment_intent"].as_str().unwrap().to_owned();
    let confirmed = stripe
        .post(
            &format!("/v1/payment_intents/{intent}/confirm"),
            &[("confirmation_token", &token), ("return_url", "https://shop.example/done")],
        )
        .await;
    (subscription, intent, confirmed)
}

#[tokio::test]
async fn a_subscription_starts_incomplete_and_paying_its_first_invoice_makes_it_active() {
    let stripe = emulator().await;
    let (subscription, intent, confirmed) = subscribe(&stripe, "pm_card_visa").await;
    assert_eq!(subscription["status"], "incomplete");
    let invoice = &subscription["latest_invoice"];
    assert_eq!((invoice["status"].as_str(), invoice["amount_due"].as_i64()), (Some("open"), Some(2400)));
    assert_eq!(invoice["billing_reason"], "subscription_create");
    assert_eq!(invoice["parent"]["subscription_details"]["subscription"], subscription["id"]);
    let secret = invoice["confirmation_secret"]["client_secret"].as_str().unwrap();
    assert!(secret.starts_with(&format!("{intent}_secret_")), "the confirmation secret is the intent's client secret");
    let item = &subscription["items"]["data"][0];
    let month = item["current_period_end"].as_i64().unwrap() - item["current_period_start"].as_i64().unwrap();
    assert!((28 * 86_400..=31 * 86_400).contains(&month), "a calendar month: {month}");

    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_eq!(confirmed.body["status"], "succeeded");
    assert_eq!(confirmed.body["setup_future_usage"], "off_session");
    let id = subscription["id"].as_str().unwrap();
    let active = stripe.get(&format!("/v1/subscriptions/{id}?expand[]=latest_invoice")).await.body;
    assert_eq!(active["status"], "active");
    assert_eq!(active["latest_invoice"]["status"], "paid");
    assert_eq!(active["latest_invoice"]["amount_paid"], 2400);
    let pm = active["default_payment_method"].as_str().unwrap();
    assert_eq!(stripe.get(&format!("/v1/payment_methods/{pm}")).await.body["customer"], subscription["customer"], "saved to the customer");
    // `payments` is included only when asked for.
    let invoice_id = invoice["id"].as_str().unwrap();
    assert!(stripe.get(&format!("/v1/invoices/{invoice_id}")).await.body.get("payments").is_none());
    let paid = stripe.get(&format!("/v1/invoices/{invoice_id}?expand[]=payments")).await.body;
    assert_eq!(paid["payments"]["data"][0]["status"], "paid");
    let types = stripe.event_types().await;
    for kind in
        ["customer.subscription.created", "invoice.finalized", "payment_intent.succeeded", "invoice.paid", "customer.subscription.updated"]
    {
        assert!(types.contains(&kind.to_owned()), "{kind} in {types:?}");
    }
    let paid_at = types.iter().position(|t| t == "invoice.paid").unwrap();
    assert!(types.iter().position(|t| t == "payment_intent.succeeded").unwrap() < paid_at);
}

#[tokio::test]
async fn a_declined_or_3ds_first_payment_leaves_the_subscription_incomplete_until_it_succeeds() {
    let stripe = emulator().await;
    let (subscription, _, declined) = subscribe(&stripe, "pm_card_visa_chargeDeclined").await;
    assert_eq!(declined.status, 402);
    let id = subscription["id"].as_str().unwrap();
    assert_eq!(stripe.get(&format!("/v1/subscriptions/{id}")).await.body["status"], "incomplete");
    assert!(stripe.event_types().await.contains(&"invoice.payment_failed".to_owned()));

    let (subscription, intent, challenged) = subscribe(&stripe, "pm_card_threeDSecure2Required").await;
    assert_eq!(challenged.body["status"], "requires_action");
    assert!(stripe.event_types().await.contains(&"invoice.payment_action_required".to_owned()));
    let secret = challenged.body["client_secret"].as_str().unwrap();
    let done = stripe.control(&format!("/_emulator/3ds/{intent}"), json!({ "client_secret": secret, "result": "complete" })).await;
    assert_eq!(done.body["status"], "succeeded");
    let id = subscription["id"].as_str().unwrap();
    assert_eq!(stripe.get(&format!("/v1/subscriptions/{id}")).await.body["status"], "active");
}

/// Voiding the first invoice of a subscription waiting for 3-D Secure cancels its
/// PaymentIntent (`void_invoice`): the challenge finished later charges nothing, and
/// the invoice stays void. Only an open (or uncollectible) invoice can be voided.
#[tokio::test]
async fn a_voided_invoice_cannot_be_paid_even_by_a_challenge_finished_later() {
    let stripe = emulator().await;
    let (subscription, intent, challenged) = subscribe(&stripe, "pm_card_threeDSecure2Required").await;
    assert_eq!(challenged.body["status"], "requires_action");
    let invoice = subscription["latest_invoice"]["id"].as_str().unwrap();
    let voided = stripe.post(&format!("/v1/invoices/{invoice}/void"), &[("expand[]", "payments")]).await;
    assert_eq!(voided.status, 200, "{}", voided.body);
    assert_eq!(voided.body["status"], "void");
    assert!(voided.body["status_transitions"]["voided_at"].is_i64());
    assert_eq!(voided.body["payments"]["data"][0]["status"], "canceled");
    let canceled = stripe.get(&format!("/v1/payment_intents/{intent}")).await.body;
    assert_eq!((canceled["status"].as_str(), canceled["cancellation_reason"].as_str()), (Some("canceled"), Some("void_invoice")));
    let secret = challenged.body["client_secret"].as_str().unwrap();
    let late = stripe.control(&format!("/_emulator/3ds/{intent}"), json!({ "client_secret": secret, "result": "complete" })).await;
    assert_eq!(late.status, 400, "{}", late.body);
    let id = subscription["id"].as_str().unwrap();
    assert_eq!(stripe.get(&format!("/v1/subscriptions/{id}")).await.body["status"], "incomplete");
    let types = stripe.event_types().await;
    assert!(types.contains(&"invoice.voided".to_owned()) && types.contains(&"payment_intent.canceled".to_owned()), "{types:?}");
    let again = stripe.post(&format!("/v1/invoices/{invoice}/void"), &[]).await;
    assert_eq!((again.status, again.body["error"]["type"].as_str()), (400, Some("invalid_request_error")));
    assert_eq!(stripe.post("/v1/invoices/in_missing/void", &[]).await.status, 404);
}

/// A 14-day trial: the subscription is `trialing` at once, its first invoice ("Trial
/// period for …") paid for nothing, and the card is set up through its
/// `pending_setup_intent`. Three days before the end Stripe says the trial will end
/// (once); at the end the first period is charged to the card, and the subscription is
/// active, billed monthly from the trial's end.
#[tokio::test]
async fn a_trial_charges_nothing_until_it_ends_then_the_subscription_is_active() {
    let stripe = emulator().await;
    for (days, message) in [("731", "between 0 and 730"), ("-1", "between 0 and 730")] {
        let refused = new_subscription(&stripe, &[("trial_period_days", days)]).await;
        assert_eq!((refused.status, refused.body["error"]["param"].as_str()), (400, Some("trial_period_days")), "{}", refused.body);
        assert!(refused.body["error"]["message"].as_str().unwrap().contains(message), "{}", refused.body);
    }
    let trial = trial_with_a_card(&stripe, 14).await;
    let start = trial["trial_start"].as_i64().unwrap();
    let end = start + 14 * 86_400;
    assert_eq!((trial["status"].as_str(), trial["trial_end"].as_i64()), (Some("trialing"), Some(end)));
    assert_eq!((trial["items"]["data"][0]["current_period_end"].as_i64(), trial["billing_cycle_anchor"].as_i64()), (Some(end), Some(end)));
    let invoice = &trial["latest_invoice"];
    assert_eq!((invoice["status"].as_str(), invoice["amount_due"].as_i64(), invoice["total"].as_i64()), (Some("paid"), Some(0), Some(0)));
    assert_eq!(invoice["lines"]["data"][0]["description"], "Trial period for Coffee beans");
    assert_eq!(invoice["confirmation_secret"], Value::Null, "nothing to pay");
    let id = trial["id"].as_str().unwrap();
    let told = || trials_told(&stripe);
    assert_eq!(told().await, 0);

    stripe.control("/_emulator/clock", json!({ "advance_seconds": 11 * 86_400 })).await;
    assert_eq!(told().await, 1, "three days before its end");
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 86_400 })).await;
    assert_eq!(told().await, 1, "once");
    assert_eq!(stripe.get(&format!("/v1/subscriptions/{id}")).await.body["status"], "trialing");
    assert!(!stripe.event_types().await.iter().any(|t| t.starts_with("payment_intent.")), "nothing charged during the trial");

    stripe.control("/_emulator/clock", json!({ "advance_seconds": 2 * 86_400 })).await;
    let active = stripe.get(&format!("/v1/subscriptions/{id}?expand[]=latest_invoice")).await.body;
    assert_eq!(active["status"], "active");
    assert_first_period_charged(&active, "subscription_cycle", end);
    let updates = stripe.get("/v1/events?type=customer.subscription.updated&limit=1").await.body;
    assert_eq!(updates["data"][0]["data"]["previous_attributes"]["status"], "trialing");
}

/// A trial given by its end (`trial_end`) instead of its days: that end, or no trial
/// for `now`; not both, and not in the past.
#[tokio::test]
async fn a_trial_can_be_given_by_its_end() {
    let stripe = emulator().await;
    let plain = new_subscription(&stripe, &[("trial_end", "now")]).await.body;
    assert_eq!((plain["status"].as_str(), plain["trial_end"].as_i64()), (Some("incomplete"), None), "{plain}");
    let end = plain["created"].as_i64().unwrap() + 5 * 86_400 + 7;
    let trial = new_subscription(&stripe, &[("trial_end", &end.to_string())]).await.body;
    assert_eq!(
        (trial["status"].as_str(), trial["trial_end"].as_i64(), trial["billing_cycle_anchor"].as_i64()),
        (Some("trialing"), Some(end), Some(end))
    );
    for refused in [
        vec![("trial_end", end.to_string()), ("trial_period_days", "3".to_owned())],
        vec![("trial_end", "1".to_owned())],
        vec![("trial_end", (end + 730 * 86_400).to_string())],
    ] {
        let form: Vec<(&str, &str)> = refused.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let reply = new_subscription(&stripe, &form).await;
        assert_eq!(reply.status, 400, "{form:?}: {}", reply.body);
        let error = &reply.body["error"];
        assert!(error["param"] == "trial_end" || error["message"].as_str().unwrap().contains("trial_end, trial_period_days"), "{error}");
    }
}

/// A new subscription in a trial of `days` days (its first invoice expanded), whose
/// card was set up through its `pending_setup_intent` and set as its default.
async fn trial_with_a_card(stripe: &Stripe, days: u32) -> Value {
    let created = new_subscription(stripe, &[("trial_period_days", &days.to_string()), ("expand[]", "latest_invoice")]).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let setup = created.body["pending_setup_intent"].as_str().expect("a SetupIntent for the card");
    let token = stripe.token("pm_card_visa").await;
    let set_up = stripe.post(&format!("/v1/setup_intents/{setup}/confirm"), &[("confirmation_token", &token)]).await.body;
    assert_eq!(set_up["status"], "succeeded", "{set_up}");
    let id = created.body["id"].as_str().unwrap();
    let card = set_up["payment_method"].as_str().unwrap();
    assert_eq!(stripe.post(&format!("/v1/subscriptions/{id}"), &[("default_payment_method", card)]).await.status, 200);
    created.body
}

#[tokio::test]
async fn subscriptions_are_flexible_unless_asked_to_be_classic() {
    let stripe = emulator().await;
    let flexible = new_subscription(&stripe, &[]).await.body;
    assert_eq!(flexible["billing_mode"]["type"], "flexible", "{flexible}");
    assert_eq!(flexible["billing_mode"]["flexible"]["proration_discounts"], "included");
    assert_eq!(flexible["billing_mode"]["updated_at"], flexible["created"]);
    let itemized =
        new_subscription(&stripe, &[("billing_mode[type]", "flexible"), ("billing_mode[flexible][proration_discounts]", "itemized")]).await;
    assert_eq!(itemized.body["billing_mode"]["flexible"]["proration_discounts"], "itemized", "{}", itemized.body);
    let classic = new_subscription(&stripe, &[("billing_mode[type]", "classic")]).await.body;
    assert_eq!(
        (classic["billing_mode"]["type"].as_str(), &classic["billing_mode"]["flexible"]),
        (Some("classic"), &Value::Null),
        "{classic}"
    );
    for (refused, param) in [
        (vec![("billing_mode[type]", "elastic")], "billing_mode[type]"),
        (vec![("billing_mode[type]", "classic"), ("billing_mode[flexible][proration_discounts]", "itemized")], "billing_mode[flexible]"),
        (vec![("billing_mode[flexible][proration_discounts]", "itemized")], "billing_mode[type]"),
    ] {
        let reply = new_subscription(&stripe, &refused).await;
        assert_eq!((reply.status, reply.body["error"]["param"].as_str()), (400, Some(param)), "{refused:?}: {}", reply.body);
    }
}

/// A trial set to pause when it ends with no card (`missing_payment_method=pause`):
/// paused at its end, nothing invoiced, until resumed. Resumed with the default
/// `payment_behavior` (`resume_on_payment_attempt`), it starts a new period whose
/// invoice is finalized and not charged: it stays `paused` until a payment is attempted
/// (Pay invoice), and that attempt failing makes it `past_due`, with no retry.
#[tokio::test]
async fn a_trial_that_ends_without_a_card_pauses_and_resumes_into_a_new_period() {
    let stripe = emulator().await;
    let created = new_subscription(&stripe, &[("trial_period_days", "7")]).await.body;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["trial_settings"]["end_behavior"]["missing_payment_method"], "create_invoice");
    let refused = stripe.post(&format!("/v1/subscriptions/{id}/resume"), &[]).await;
    assert_eq!(refused.status, 400, "only a paused one resumes: {}", refused.body);
    let set = stripe.post(&format!("/v1/subscriptions/{id}"), &[("trial_settings[end_behavior][missing_payment_method]", "pause")]).await;
    assert_eq!(set.body["trial_settings"]["end_behavior"]["missing_payment_method"], "pause", "{}", set.body);
    let cancel =
        stripe.post(&format!("/v1/subscriptions/{id}"), &[("trial_settings[end_behavior][missing_payment_method]", "cancel")]).await;
    assert_eq!(cancel.status, 400, "not emulated, and said so: {}", cancel.body);
    let invoices = || async { stripe.get(&format!("/v1/invoices?subscription={id}")).await.body["data"].as_array().unwrap().len() };
    assert_eq!(invoices().await, 1, "the trial's own invoice");

    stripe.control("/_emulator/clock", json!({ "advance_seconds": 8 * 86_400 })).await;
    let paused = stripe.get(&format!("/v1/subscriptions/{id}")).await.body;
    assert_eq!(paused["status"], "paused", "{paused}");
    let details = &paused["status_details"]["paused"];
    assert_eq!(
        (details["type"].as_str(), details["subscription"]["type"].as_str()),
        (Some("subscription"), Some("trial_end_without_payment_method"))
    );
    assert_eq!(details["transitioned_at"], created["trial_end"]);
    let told = stripe.get("/v1/events?type=customer.subscription.paused").await.body;
    assert_eq!(told["data"][0]["data"]["object"]["id"], id, "{told}");
    let updated = stripe.get("/v1/events?type=customer.subscription.updated&limit=1").await.body;
    assert_eq!(updated["data"][0]["data"]["previous_attributes"]["status"], "trialing", "{updated}");
    // Paused, it neither renews nor invoices, however long.
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 62 * 86_400 })).await;
    assert_eq!(stripe.get(&format!("/v1/subscriptions/{id}")).await.body["status"], "paused");
    assert_eq!(invoices().await, 1);

    for (param, value) in [("billing_cycle_anchor[type]", "unchanged"), ("billing_cycle_anchor", "now"), ("payment_behavior", "later")] {
        let refused = stripe.post(&format!("/v1/subscriptions/{id}/resume"), &[(param, value)]).await;
        assert_eq!((refused.status, refused.body["error"]["param"].as_str()), (400, Some(param)), "{}", refused.body);
    }
    let resumed = stripe
        .post(&format!("/v1/subscriptions/{id}/resume"), &[("billing_cycle_anchor[type]", "now"), ("expand[]", "latest_invoice")])
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let resumed = resumed.body;
    let now = resumed["billing_cycle_anchor"].as_i64().unwrap();
    assert_eq!(resumed["items"]["data"][0]["current_period_start"].as_i64(), Some(now));
    let invoice = &resumed["latest_invoice"];
    assert_eq!(
        (invoice["billing_reason"].as_str(), invoice["amount_due"].as_i64(), invoice["status"].as_str()),
        (Some("subscription_update"), Some(2400), Some("open"))
    );
    // No payment attempted in the request: still paused, the invoice unpaid and untried.
    assert_eq!(resumed["status"], "paused", "{resumed}");
    assert_eq!((invoice["attempt_count"].as_i64(), &invoice["next_payment_attempt"]), (Some(0), &Value::Null), "{invoice}");
    assert!(stripe.event_types().await.iter().all(|t| t != "customer.subscription.resumed"));
    // The attempt, with a card that declines: past due (resumed), and no retry to come.
    let customer = resumed["customer"].as_str().unwrap();
    let card = stripe.post("/v1/payment_methods/pm_card_chargeCustomerFail/attach", &[("customer", customer)]).await.body;
    let invoice_id = invoice["id"].as_str().unwrap();
    let declined = stripe.post(&format!("/v1/invoices/{invoice_id}/pay"), &[("payment_method", card["id"].as_str().unwrap())]).await;
    assert_eq!(declined.status, 402, "{}", declined.body);
    let subscription = stripe.get(&format!("/v1/subscriptions/{id}")).await.body;
    assert_eq!(subscription["status"], "past_due", "{subscription}");
    assert!(subscription.get("status_details").is_none(), "{subscription}");
    assert_eq!(stripe.get("/v1/events?type=customer.subscription.resumed").await.body["data"][0]["data"]["object"]["id"], id);
    let invoice = stripe.get(&format!("/v1/invoices/{invoice_id}")).await.body;
    assert_eq!((invoice["status"].as_str(), &invoice["next_payment_attempt"]), (Some("open"), &Value::Null), "{invoice}");
}

/// Resumed with `payment_behavior=resume_on_payment_success`: refused without a default
/// payment method to charge, or in classic billing mode; with a card that declines, the
/// request's attempt fails and the subscription stays `paused` (the invoice retried as
/// a renewal's); paid, it is `active` and resumed.
#[tokio::test]
async fn a_subscription_resumed_on_the_payments_success_stays_paused_until_it_is_paid() {
    let stripe = emulator().await;
    let on_success = [("payment_behavior", "resume_on_payment_success"), ("expand[]", "latest_invoice")];
    let (classic, customer) = paused_trial(&stripe, &[("billing_mode[type]", "classic")]).await;
    stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", customer.as_str())]).await;
    let refused = stripe.post(&format!("/v1/subscriptions/{classic}/resume"), &on_success).await;
    assert_eq!((refused.status, refused.body["error"]["param"].as_str()), (400, Some("payment_behavior")), "{}", refused.body);

    let (id, customer) = paused_trial(&stripe, &[]).await;
    let refused = stripe.post(&format!("/v1/subscriptions/{id}/resume"), &on_success).await;
    assert_eq!((refused.status, refused.body["error"]["param"].as_str()), (400, Some("payment_behavior")), "no card: {}", refused.body);
    let invoices = stripe.get(&format!("/v1/invoices?subscription={id}")).await.body;
    assert_eq!(invoices["data"].as_array().unwrap().len(), 1, "refused, nothing invoiced: {invoices}");
    let declining = stripe.post("/v1/payment_methods/pm_card_chargeCustomerFail/attach", &[("customer", customer.as_str())]).await.body;
    let set = stripe.post(&format!("/v1/subscriptions/{id}"), &[("default_payment_method", declining["id"].as_str().unwrap())]).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let resuming = stripe.post(&format!("/v1/subscriptions/{id}/resume"), &on_success).await;
    assert_eq!(resuming.status, 200, "{}", resuming.body);
    let invoice = &resuming.body["latest_invoice"];
    assert_eq!(resuming.body["status"], "paused", "{}", resuming.body);
    assert_eq!((invoice["status"].as_str(), invoice["attempt_count"].as_i64()), (Some("open"), Some(1)), "{invoice}");
    assert!(invoice["next_payment_attempt"].as_i64().is_some(), "retried: {invoice}");
    assert!(stripe.event_types().await.iter().all(|t| t != "customer.subscription.resumed"));

    let good = stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", customer.as_str())]).await.body;
    let invoice_id = invoice["id"].as_str().unwrap();
    let paid = stripe.post(&format!("/v1/invoices/{invoice_id}/pay"), &[("payment_method", good["id"].as_str().unwrap())]).await;
    assert_eq!((paid.status, paid.body["status"].as_str()), (200, Some("paid")), "{}", paid.body);
    let subscription = stripe.get(&format!("/v1/subscriptions/{id}")).await.body;
    assert_eq!(subscription["status"], "active", "{subscription}");
    assert!(subscription.get("status_details").is_none(), "{subscription}");
    assert_eq!(stripe.get("/v1/events?type=customer.subscription.resumed").await.body["data"][0]["data"]["object"]["id"], id);
}

/// A resumption whose invoice goes unpaid lapses ("Pending update expiration time"): 23
/// hours after a resume on the payment's attempt, a year after one on its success (whose
/// retries, once spent, end nothing). Its invoice is voided, and the subscription stays
/// paused, to be resumed again.
#[tokio::test]
async fn an_unpaid_resumption_lapses_and_leaves_the_subscription_paused() {
    let stripe = emulator().await;
    let day = 86_400;
    let (id, customer) = paused_trial(&stripe, &[]).await;
    let resuming = stripe.post(&format!("/v1/subscriptions/{id}/resume"), &[("expand[]", "latest_invoice")]).await.body;
    let invoice = resuming["latest_invoice"]["id"].as_str().unwrap().to_owned();
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 22 * 3_600 })).await;
    assert_eq!(stripe.get(&format!("/v1/invoices/{invoice}")).await.body["status"], "open", "not yet");
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 2 * 3_600 })).await;
    assert_eq!(stripe.get(&format!("/v1/invoices/{invoice}")).await.body["status"], "void");
    let subscription = stripe.get(&format!("/v1/subscriptions/{id}")).await.body;
    assert_eq!((subscription["status"].as_str(), subscription["latest_invoice"].as_str()), (Some("paused"), Some(invoice.as_str())));

    // Again, on the payment's success, with a card that declines: retried for two weeks,
    // then left paused with the invoice open, until a year has passed.
    let declining = stripe.post("/v1/payment_methods/pm_card_chargeCustomerFail/attach", &[("customer", customer.as_str())]).await.body;
    stripe.post(&format!("/v1/subscriptions/{id}"), &[("default_payment_method", declining["id"].as_str().unwrap())]).await;
    let on_success = [("payment_behavior", "resume_on_payment_success"), ("expand[]", "latest_invoice")];
    let resuming = stripe.post(&format!("/v1/subscriptions/{id}/resume"), &on_success).await.body;
    let invoice = resuming["latest_invoice"]["id"].as_str().unwrap().to_owned();
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 20 * day })).await;
    let retried = stripe.get(&format!("/v1/invoices/{invoice}")).await.body;
    assert_eq!((retried["status"].as_str(), retried["attempt_count"].as_i64()), (Some("open"), Some(9)), "{retried}");
    assert_eq!(stripe.get(&format!("/v1/subscriptions/{id}")).await.body["status"], "paused", "its spent retries end nothing");
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 346 * day })).await;
    assert_eq!(stripe.get(&format!("/v1/invoices/{invoice}")).await.body["status"], "void");
    assert_eq!(stripe.get(&format!("/v1/subscriptions/{id}")).await.body["status"], "paused");
}

/// The pause endpoint: refused for what Stripe cannot pause (a trial, classic billing
/// mode, a paused one) and, in the emulator, without `bill_for[unused_time_from]=none`
/// (the default credits unused time, a proration); paused, the subscription's period
/// ends now, it invoices nothing however long, and an invoice from before the pause,
/// paid, leaves it paused. Resumed, a new period is invoiced.
#[tokio::test]
async fn the_merchant_pauses_a_subscription_which_invoices_nothing_until_resumed() {
    let stripe = emulator().await;
    let (subscription, _, confirmed) = subscribe(&stripe, "pm_card_visa").await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let id = subscription["id"].as_str().unwrap();
    let path = format!("/v1/subscriptions/{id}/pause");
    let no_credit = ("bill_for[unused_time_from][type]", "none");
    let refused = stripe.post(&path, &[]).await;
    assert_eq!(
        (refused.status, refused.body["error"]["param"].as_str()),
        (400, Some("bill_for[unused_time_from][type]")),
        "{}",
        refused.body
    );
    let refused = stripe.post(&path, &[no_credit, ("type", "collection")]).await;
    assert_eq!((refused.status, refused.body["error"]["param"].as_str()), (400, Some("type")), "{}", refused.body);
    let (trial, _) = paused_trial(&stripe, &[]).await;
    let refused = stripe.post(&format!("/v1/subscriptions/{trial}/pause"), &[no_credit]).await;
    assert_eq!(refused.status, 400, "already paused: {}", refused.body);
    let trialing = new_subscription(&stripe, &[("trial_period_days", "7")]).await.body;
    let refused = stripe.post(&format!("/v1/subscriptions/{}/pause", trialing["id"].as_str().unwrap()), &[no_credit]).await;
    assert_eq!(refused.status, 400, "in a trial: {}", refused.body);

    let paused = stripe.post(&path, &[no_credit, ("invoicing_behavior", "invoice")]).await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    let paused = paused.body;
    let now = paused["status_details"]["paused"]["transitioned_at"].as_i64().unwrap();
    assert_eq!(
        (paused["status"].as_str(), paused["status_details"]["paused"]["subscription"]["type"].as_str()),
        (Some("paused"), Some("pause_requested"))
    );
    assert_eq!(paused["items"]["data"][0]["current_period_end"].as_i64(), Some(now), "its period ends now");
    assert_eq!(stripe.get("/v1/events?type=customer.subscription.paused").await.body["data"][0]["data"]["object"]["id"], id);
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 70 * 86_400 })).await;
    let invoices = stripe.get(&format!("/v1/invoices?subscription={id}")).await.body;
    assert_eq!(invoices["data"].as_array().unwrap().len(), 1, "nothing invoiced while paused: {invoices}");
    let resumed = stripe.post(&format!("/v1/subscriptions/{id}/resume"), &[("payment_behavior", "resume_on_payment_success")]).await.body;
    assert_eq!(resumed["status"], "active", "{resumed}");

    // A past-due one paused: its overdue renewal, paid, leaves it paused.
    let customer = resumed["customer"].as_str().unwrap();
    let declining = stripe.post("/v1/payment_methods/pm_card_chargeCustomerFail/attach", &[("customer", customer)]).await.body;
    stripe.post(&format!("/v1/subscriptions/{id}"), &[("default_payment_method", declining["id"].as_str().unwrap())]).await;
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 32 * 86_400 })).await;
    let overdue = stripe.get(&format!("/v1/subscriptions/{id}")).await.body;
    assert_eq!(overdue["status"], "past_due", "{overdue}");
    assert_eq!(stripe.post(&path, &[no_credit]).await.body["status"], "paused");
    let good = stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", customer)]).await.body;
    let invoice = overdue["latest_invoice"].as_str().unwrap();
    let paid = stripe.post(&format!("/v1/invoices/{invoice}/pay"), &[("payment_method", good["id"].as_str().unwrap())]).await;
    assert_eq!((paid.status, paid.body["status"].as_str()), (200, Some("paid")), "{}", paid.body);
    assert_eq!(stripe.get(&format!("/v1/subscriptions/{id}")).await.body["status"], "paused", "paid, still paused");
}

/// A subscription (`extra` its creation's further parameters) whose trial the merchant
/// ended at once with no card, set to pause then: paused. Its id and customer.
async fn paused_trial(stripe: &Stripe, extra: &[(&str, &str)]) -> (String, String) {
    let trial = [("trial_period_days", "7"), ("trial_settings[end_behavior][missing_payment_method]", "pause")];
    let created = new_subscription(stripe, &[&trial[..], extra].concat()).await.body;
    let id = created["id"].as_str().unwrap().to_owned();
    let ended = stripe.post(&format!("/v1/subscriptions/{id}"), &[("trial_end", "now")]).await.body;
    assert_eq!(ended["status"], "paused", "{ended}");
    (id, created["customer"].as_str().unwrap().to_owned())
}

/// After its trial, `subscription` (its latest invoice expanded) was charged for its
/// first month (2 × 12.00 EUR), on an invoice billed for `reason`, the month from `start`.
fn assert_first_period_charged(subscription: &Value, reason: &str, start: i64) {
    let invoice = &subscription["latest_invoice"];
    assert_eq!(
        (invoice["billing_reason"].as_str(), invoice["status"].as_str(), invoice["amount_paid"].as_i64()),
        (Some(reason), Some("paid"), Some(2400))
    );
    let item = &subscription["items"]["data"][0];
    assert_eq!(item["current_period_start"].as_i64(), Some(start));
    let month = item["current_period_end"].as_i64().unwrap() - start;
    assert!((28 * 86_400..=31 * 86_400).contains(&month), "billed monthly from {start}: {month}");
}

/// How many times Stripe said a trial will end.
async fn trials_told(stripe: &Stripe) -> usize {
    stripe.event_types().await.iter().filter(|t| *t == "customer.subscription.trial_will_end").count()
}

/// The Dashboard's trial changes (`trial_end`): a trial moved to a later end is told of
/// three days before the new end, and billed from it; a trial ended now is told of at
/// once, and its first period starts and is charged now, as an update's invoice. Only a
/// trialing subscription's trial changes, to a time in the future or `now`.
#[tokio::test]
async fn a_trial_moved_or_ended_now_bills_from_its_new_end() {
    let stripe = emulator().await;
    let trial = trial_with_a_card(&stripe, 14).await;
    let id = trial["id"].as_str().unwrap();
    let path = format!("/v1/subscriptions/{id}");
    let start = trial["trial_start"].as_i64().unwrap();
    for (value, message) in [("soon", "Invalid integer"), ("1", "in the future"), (&(start + 731 * 86_400).to_string(), "730 days")] {
        let refused = stripe.post(&path, &[("trial_end", value)]).await;
        assert_eq!((refused.status, refused.body["error"]["param"].as_str()), (400, Some("trial_end")), "{value}: {}", refused.body);
        assert!(refused.body["error"]["message"].as_str().unwrap().contains(message), "{value}: {}", refused.body);
    }

    let later = start + 20 * 86_400;
    let moved = stripe.post(&path, &[("trial_end", &later.to_string())]).await.body;
    assert_eq!(
        (moved["status"].as_str(), moved["trial_end"].as_i64(), moved["billing_cycle_anchor"].as_i64()),
        (Some("trialing"), Some(later), Some(later))
    );
    assert_eq!(moved["items"]["data"][0]["current_period_end"].as_i64(), Some(later));
    let update = stripe.get("/v1/events?type=customer.subscription.updated&limit=1").await.body;
    assert_eq!(update["data"][0]["data"]["previous_attributes"]["trial_end"].as_i64(), Some(start + 14 * 86_400));
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 16 * 86_400 })).await;
    assert_eq!((trials_told(&stripe).await, stripe.get(&path).await.body["status"].as_str()), (0, Some("trialing")), "not at the old end");
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 86_400 })).await;
    assert_eq!(trials_told(&stripe).await, 1, "three days before the new end");

    // "now" is the emulator's clock, the wall clock moved on: read around the request,
    // as the test's own requests take wall time too (a second can pass on a slow machine).
    let clock = || async { stripe.control("/_emulator/clock", json!({ "advance_seconds": 0 })).await.body["now"].as_i64().unwrap() };
    let before = clock().await;
    let ended = stripe.post(&path, &[("trial_end", "now"), ("expand[]", "latest_invoice")]).await.body;
    let after = clock().await;
    assert!(before >= start + 17 * 86_400, "{before}");
    let now = ended["trial_end"].as_i64().unwrap();
    assert!((before..=after).contains(&now), "the trial ended at {now}, not now ({before} to {after})");
    assert_eq!(trials_told(&stripe).await, 2, "told again: the trial ended now");
    assert_eq!(
        (ended["status"].as_str(), ended["trial_end"].as_i64(), ended["billing_cycle_anchor"].as_i64()),
        (Some("active"), Some(now), Some(now))
    );
    assert_first_period_charged(&ended, "subscription_update", now);
    let update = stripe.get("/v1/events?type=customer.subscription.updated&limit=1").await.body;
    let previous = &update["data"][0]["data"]["previous_attributes"];
    assert_eq!((previous["status"].as_str(), previous["trial_end"].as_i64()), (Some("trialing"), Some(later)), "{previous}");

    let again = stripe.post(&path, &[("trial_end", "now")]).await;
    assert_eq!((again.status, again.body["error"]["param"].as_str()), (400, Some("trial_end")), "an active subscription: {}", again.body);
}

/// A trial whose subscription is set to cancel at its period's end ends with the
/// trial: nothing is ever charged.
#[tokio::test]
async fn a_trial_canceled_at_its_end_charges_nothing() {
    let stripe = emulator().await;
    let trial = new_subscription(&stripe, &[("trial_period_days", "2")]).await.body;
    let id = trial["id"].as_str().unwrap();
    assert!(stripe.event_types().await.contains(&"customer.subscription.trial_will_end".to_owned()), "a short trial is told at once");
    let set = stripe.post(&format!("/v1/subscriptions/{id}"), &[("cancel_at_period_end", "true")]).await.body;
    assert_eq!(set["cancel_at"], trial["trial_end"]);
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 3 * 86_400 })).await;
    assert_eq!(stripe.get(&format!("/v1/subscriptions/{id}")).await.body["status"], "canceled");
    assert!(!stripe.event_types().await.iter().any(|t| t.starts_with("payment_intent.")), "nothing charged");
}

/// A first invoice left unpaid for 23 hours: the subscription is `incomplete_expired`,
/// for good. Its invoice is void and its PaymentIntent canceled, so a challenge
/// finished later charges nothing; it is no longer listed by default, and cannot be
/// changed. One whose first payment was made in time, or is a bank debit still on its
/// way, is not touched.
#[tokio::test]
async fn a_first_invoice_unpaid_for_23_hours_expires_the_subscription() {
    let stripe = emulator().await;
    let (declined, _, _) = subscribe(&stripe, "pm_card_visa_chargeDeclined").await;
    let (challenged, intent, waiting) = subscribe(&stripe, "pm_card_threeDSecure2Required").await;
    let (paid, _, _) = subscribe(&stripe, "pm_card_visa").await;
    let status = |subscription: &Value| {
        let id = subscription["id"].as_str().unwrap().to_owned();
        let stripe = &stripe;
        async move { stripe.get(&format!("/v1/subscriptions/{id}?expand[]=latest_invoice")).await.body }
    };
    // The emulator's clock is the wall clock moved on: the test's own requests take wall
    // time too, so it stops short of the 23 hours by more than they can take. The two
    // subscriptions may have been made in different seconds: the first is checked short
    // of its 23 hours, then the clock goes past the last one's.
    const SHORT: i64 = 10;
    let now = stripe.control("/_emulator/clock", json!({ "advance_seconds": 0 })).await.body["now"].as_i64().unwrap();
    let first = declined["created"].as_i64().unwrap();
    let last = challenged["created"].as_i64().unwrap();
    stripe.control("/_emulator/clock", json!({ "advance_seconds": first + 23 * 3_600 - SHORT - now })).await;
    assert_eq!(status(&declined).await["status"], "incomplete", "23 hours are not up yet");

    stripe.control("/_emulator/clock", json!({ "advance_seconds": SHORT + (last - first) })).await;
    for subscription in [&declined, &challenged] {
        let expired = status(subscription).await;
        assert_eq!(expired["status"], "incomplete_expired", "{expired}");
        assert!(expired["ended_at"].is_i64() && expired["canceled_at"] == expired["ended_at"], "{expired}");
        assert_eq!(expired["cancellation_details"]["reason"], Value::Null);
        assert_eq!(expired["latest_invoice"]["status"], "void");
    }
    assert_eq!(status(&paid).await["status"], "active");
    let canceled = stripe.get(&format!("/v1/payment_intents/{intent}")).await.body;
    assert_eq!((canceled["status"].as_str(), canceled["cancellation_reason"].as_str()), (Some("canceled"), Some("void_invoice")));
    let secret = waiting.body["client_secret"].as_str().unwrap();
    let late = stripe.control(&format!("/_emulator/3ds/{intent}"), json!({ "client_secret": secret, "result": "complete" })).await;
    assert_eq!(late.status, 400, "{}", late.body);

    let updates = stripe.get("/v1/events?type=customer.subscription.updated&limit=100").await.body;
    let expiry = updates["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["data"]["object"]["id"] == declined["id"])
        .expect("customer.subscription.updated for the expiry")
        .clone();
    assert_eq!(expiry["data"]["object"]["status"], "incomplete_expired");
    assert_eq!(expiry["data"]["previous_attributes"], json!({ "status": "incomplete", "canceled_at": null, "ended_at": null }));
    assert!(stripe.event_types().await.contains(&"invoice.voided".to_owned()));

    let id = declined["id"].as_str().unwrap();
    let refused = stripe.post(&format!("/v1/subscriptions/{id}"), &[("metadata[a]", "1")]).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("incomplete_expired"), "{}", refused.body);
    let customer = declined["customer"].as_str().unwrap();
    assert_eq!(stripe.get(&format!("/v1/subscriptions?customer={customer}")).await.body["data"], json!([]));
    let listed = stripe.get(&format!("/v1/subscriptions?customer={customer}&status=incomplete_expired")).await.body;
    assert_eq!(listed["data"][0]["id"], declined["id"]);
    let ended = stripe.get(&format!("/v1/subscriptions?customer={customer}&status=ended")).await.body;
    assert_eq!(ended["data"][0]["id"], declined["id"]);
}

/// A first invoice paid by a bank debit still on its way when the 23 hours are up
/// cannot be voided (its payment cannot be canceled): the subscription waits for it.
#[tokio::test]
async fn a_first_payment_still_processing_keeps_the_subscription_waiting() {
    let stripe = start(Config { processing_delay: Duration::from_secs(3600), ..Config::default() }).await;
    let token = sepa_token(&stripe, "DE89370400440532013000").await;
    let (subscription, intent, debit) = subscribe_with(&stripe, token).await;
    assert_eq!(debit.body["status"], "processing", "{}", debit.body);
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 24 * 3_600 })).await;
    let id = subscription["id"].as_str().unwrap();
    let waiting = stripe.get(&format!("/v1/subscriptions/{id}?expand[]=latest_invoice")).await.body;
    assert_eq!((waiting["status"].as_str(), waiting["latest_invoice"]["status"].as_str()), (Some("incomplete"), Some("open")));
    let cleared = stripe.control(&format!("/_emulator/intents/{intent}/settle"), json!({ "result": "succeed" })).await.body;
    assert_eq!(cleared["status"], "succeeded");
    assert_eq!(stripe.get(&format!("/v1/subscriptions/{id}")).await.body["status"], "active");
}

#[tokio::test]
async fn the_clock_renews_subscriptions_and_a_card_that_declines_after_attaching_makes_one_past_due() {
    let stripe = emulator().await;
    let (renewing, _, _) = subscribe(&stripe, "pm_card_visa").await;
    let failing = renewed_a_month_on_with(&stripe, "pm_card_chargeCustomerFail").await;
    let customer = failing["customer"].as_str().unwrap();
    let failing_id = failing["id"].as_str().unwrap();
    let id = renewing["id"].as_str().unwrap();
    let invoices = stripe.get(&format!("/v1/invoices?subscription={id}")).await.body;
    let invoices = invoices["data"].as_array().unwrap();
    assert_eq!(invoices.len(), 2, "one invoice per period");
    assert_eq!((invoices[0]["billing_reason"].as_str(), invoices[0]["status"].as_str()), (Some("subscription_cycle"), Some("paid")));
    assert_eq!(invoices[0]["lines"]["data"][0]["period"]["start"], renewing["items"]["data"][0]["current_period_end"]);
    let renewed = stripe.get(&format!("/v1/subscriptions/{id}")).await.body;
    assert_eq!(renewed["status"], "active");
    assert_eq!(renewed["latest_invoice"], invoices[0]["id"]);
    assert_eq!(renewed["items"]["data"][0]["current_period_start"], renewing["items"]["data"][0]["current_period_end"]);

    let past_due = stripe.get(&format!("/v1/subscriptions/{failing_id}?expand[]=latest_invoice")).await.body;
    assert_eq!(past_due["status"], "past_due");
    assert_eq!(
        (past_due["latest_invoice"]["status"].as_str(), past_due["latest_invoice"]["attempt_count"].as_i64()),
        (Some("open"), Some(1))
    );
    assert!(stripe.event_types().await.contains(&"invoice.payment_failed".to_owned()));

    // The customer pays the open invoice with another card: declined by the same card
    // again, refused for another customer's card, then paid, and the subscription is
    // active. Attempts made by hand after the first do not count (only automatic
    // retries do).
    let pay = format!("/v1/invoices/{}/pay", past_due["latest_invoice"]["id"].as_str().unwrap());
    let declined = stripe.post(&pay, &[]).await;
    assert_eq!((declined.status, declined.body["error"]["code"].as_str()), (402, Some("card_declined")), "{}", declined.body);
    let stranger = stripe.post("/v1/customers", &[]).await.body;
    let strangers = stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", stranger["id"].as_str().unwrap())]).await.body;
    let refused = stripe.post(&pay, &[("payment_method", strangers["id"].as_str().unwrap())]).await;
    assert_eq!((refused.status, refused.body["error"]["param"].as_str()), (400, Some("payment_method")), "{}", refused.body);
    let good = stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", customer)]).await.body;
    let paid = stripe.post(&pay, &[("payment_method", good["id"].as_str().unwrap())]).await;
    assert_eq!(
        (paid.status, paid.body["status"].as_str(), paid.body["attempt_count"].as_i64()),
        (200, Some("paid"), Some(1)),
        "{}",
        paid.body
    );
    let active = stripe.get(&format!("/v1/subscriptions/{failing_id}")).await.body;
    assert_eq!(
        (active["status"].as_str(), &active["default_payment_method"]),
        (Some("active"), &good["id"]),
        "on_subscription: the card that paid"
    );
    let again = stripe.post(&pay, &[]).await;
    assert_eq!((again.status, again.body["error"]["message"].as_str()), (400, Some("Invoice is already paid")));
}

/// A customer subscribed with a Visa whose subscription's renewals are then charged to
/// `card` (a test card's PaymentMethod, attached to the customer), and a month passes:
/// the subscription then, with its latest invoice (the renewal's).
async fn renewed_a_month_on_with(stripe: &Stripe, card: &str) -> Value {
    let (subscription, _, _) = subscribe(stripe, "pm_card_visa").await;
    let customer = subscription["customer"].as_str().unwrap();
    let card = stripe.post(&format!("/v1/payment_methods/{card}/attach"), &[("customer", customer)]).await.body;
    let id = subscription["id"].as_str().unwrap();
    let updated = stripe.post(&format!("/v1/subscriptions/{id}"), &[("default_payment_method", card["id"].as_str().unwrap())]).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 32 * 86_400 })).await;
    with_latest_invoice(stripe, id).await
}

/// `subscription` (an id) with its latest invoice expanded.
async fn with_latest_invoice(stripe: &Stripe, subscription: &str) -> Value {
    stripe.get(&format!("/v1/subscriptions/{subscription}?expand[]=latest_invoice")).await.body
}

#[tokio::test]
async fn a_renewal_that_keeps_failing_is_retried_eight_times_in_two_weeks_then_ends_the_subscription() {
    let stripe = emulator().await;
    let past_due = renewed_a_month_on_with(&stripe, "pm_card_chargeCustomerFail").await;
    let id = past_due["id"].as_str().unwrap();
    let invoice = &past_due["latest_invoice"];
    let first_at = invoice["status_transitions"]["finalized_at"].as_i64().unwrap();
    let step = 14 * 86_400 / 8;
    assert_eq!(
        (past_due["status"].as_str(), invoice["attempt_count"].as_i64(), invoice["next_payment_attempt"].as_i64()),
        (Some("past_due"), Some(1), Some(first_at + step))
    );
    let failures = || async { stripe.event_types().await.iter().filter(|kind| *kind == "invoice.payment_failed").count() };
    assert_eq!(failures().await, 1);

    // A week on: four retries, each declined and told; the next one scheduled.
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 7 * 86_400 })).await;
    let retrying = with_latest_invoice(&stripe, id).await;
    let invoice = &retrying["latest_invoice"];
    assert_eq!(
        (retrying["status"].as_str(), invoice["attempt_count"].as_i64(), invoice["next_payment_attempt"].as_i64()),
        (Some("past_due"), Some(5), Some(first_at + 5 * step))
    );
    assert_eq!(failures().await, 5);

    // Two weeks after the first attempt, the last retry fails too: Stripe's default ends
    // the subscription, and leaves the invoice open with nothing more to come.
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 7 * 86_400 })).await;
    let ended = with_latest_invoice(&stripe, id).await;
    let invoice = &ended["latest_invoice"];
    assert_eq!(
        (ended["status"].as_str(), ended["cancellation_details"]["reason"].as_str(), ended["ended_at"].is_i64()),
        (Some("canceled"), Some("payment_failed"), true)
    );
    assert_eq!(
        (invoice["status"].as_str(), invoice["attempt_count"].as_i64(), &invoice["next_payment_attempt"], &invoice["auto_advance"]),
        (Some("open"), Some(9), &Value::Null, &json!(false))
    );
    assert_eq!(failures().await, 9);
    let types = stripe.event_types().await;
    assert_eq!(types.last().map(String::as_str), Some("customer.subscription.deleted"));
    // Nothing more is attempted, and no further period is billed.
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 40 * 86_400 })).await;
    assert_eq!(stripe.event_types().await, types);
}

#[tokio::test]
async fn a_retry_charges_the_card_the_customer_has_set_since() {
    let stripe = emulator().await;
    let subscription = renewed_a_month_on_with(&stripe, "pm_card_chargeCustomerFail").await;
    let (id, customer) = (subscription["id"].as_str().unwrap(), subscription["customer"].as_str().unwrap());
    // The first retry is declined by the same card.
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 2 * 86_400 })).await;
    let declined = with_latest_invoice(&stripe, id).await;
    assert_eq!((declined["status"].as_str(), declined["latest_invoice"]["attempt_count"].as_i64()), (Some("past_due"), Some(2)));
    // The customer sets another card for the renewals: the next retry charges it.
    let good = stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", customer)]).await.body;
    let path = format!("/v1/subscriptions/{id}");
    assert_eq!(stripe.post(&path, &[("default_payment_method", good["id"].as_str().unwrap())]).await.status, 200);
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 2 * 86_400 })).await;
    let paid = with_latest_invoice(&stripe, id).await;
    let invoice = &paid["latest_invoice"];
    assert_eq!(
        (paid["status"].as_str(), invoice["status"].as_str(), invoice["attempt_count"].as_i64(), &invoice["next_payment_attempt"]),
        (Some("active"), Some("paid"), Some(3), &Value::Null)
    );
    assert_eq!(stripe.event_types().await.iter().filter(|kind| *kind == "invoice.paid").count(), 2, "the first invoice and the retry");
}

#[tokio::test]
async fn a_subscription_canceled_while_its_renewal_is_retried_is_charged_no_more() {
    let stripe = emulator().await;
    let subscription = renewed_a_month_on_with(&stripe, "pm_card_chargeCustomerFail").await;
    let (id, customer) = (subscription["id"].as_str().unwrap(), subscription["customer"].as_str().unwrap());
    // A card that would pay is set, and the subscription is canceled before the retry.
    let good = stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", customer)]).await.body;
    let path = format!("/v1/subscriptions/{id}");
    assert_eq!(stripe.post(&path, &[("default_payment_method", good["id"].as_str().unwrap())]).await.status, 200);
    let canceled = stripe.delete(&format!("{path}?expand[]=latest_invoice")).await.body;
    let invoice = &canceled["latest_invoice"];
    assert_eq!(
        (canceled["status"].as_str(), invoice["status"].as_str(), &invoice["next_payment_attempt"], &invoice["auto_advance"]),
        (Some("canceled"), Some("open"), &Value::Null, &json!(false)),
        "Stripe stops collecting a canceled subscription's invoices"
    );
    let types = stripe.event_types().await;
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 15 * 86_400 })).await;
    assert_eq!(stripe.event_types().await, types, "no retry, no charge");
    assert_eq!(stripe.get(&format!("/v1/invoices/{}", invoice["id"].as_str().unwrap())).await.body["status"], "open");
}

#[tokio::test]
async fn a_card_declined_for_good_is_not_charged_again_and_the_subscription_still_ends() {
    let stripe = emulator().await;
    let past_due = renewed_a_month_on_with(&stripe, "pm_card_chargeDeclinedLostCard").await;
    let id = past_due["id"].as_str().unwrap();
    assert_eq!(past_due["status"], "past_due");
    let charges = || async { stripe.get("/v1/charges?limit=100").await.body["data"].as_array().unwrap().len() };
    let charged = charges().await;
    // The retries come and are counted, but the lost card is not tried again.
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 15 * 86_400 })).await;
    assert_eq!(charges().await, charged);
    let ended = with_latest_invoice(&stripe, id).await;
    assert_eq!(
        (ended["status"].as_str(), ended["cancellation_details"]["reason"].as_str(), ended["latest_invoice"]["attempt_count"].as_i64()),
        (Some("canceled"), Some("payment_failed"), Some(9))
    );
}

/// A subscription whose renewal every retry failed to charge, with the account's
/// settings marking such subscriptions `unpaid`.
async fn unpaid_after_its_retries(stripe: &Stripe) -> Value {
    given_up_on_with(stripe, json!({ "retries_spent": "unpaid" })).await
}

/// A subscription whose renewal every retry failed to charge, under the account's
/// billing `settings`.
async fn given_up_on_with(stripe: &Stripe, settings: Value) -> Value {
    let settings = stripe.control("/_emulator/billing_settings", settings).await;
    assert_eq!(settings.status, 200, "{}", settings.body);
    let past_due = renewed_a_month_on_with(stripe, "pm_card_chargeCustomerFail").await;
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 14 * 86_400 })).await;
    with_latest_invoice(stripe, past_due["id"].as_str().unwrap()).await
}

#[tokio::test]
async fn marked_unpaid_when_its_retries_are_spent_a_subscription_bills_drafts_until_its_latest_invoice_is_paid() {
    let stripe = emulator().await;
    let unpaid = unpaid_after_its_retries(&stripe).await;
    let (id, customer) = (unpaid["id"].as_str().unwrap(), unpaid["customer"].as_str().unwrap());
    let overdue = &unpaid["latest_invoice"];
    assert_eq!(unpaid["status"], "unpaid", "{unpaid}");
    assert_eq!(
        (overdue["status"].as_str(), overdue["attempt_count"].as_i64(), &overdue["next_payment_attempt"], &overdue["auto_advance"]),
        (Some("open"), Some(9), &Value::Null, &json!(false)),
        "the invoice stays open, and no payment is attempted"
    );
    let events = stripe.get("/v1/events?type=customer.subscription.updated&limit=1").await.body;
    assert_eq!(events["data"][0]["data"]["previous_attributes"], json!({ "status": "past_due" }));

    // The next period is billed with a draft that is not advanced: nothing charged.
    let failed_before = stripe.get("/v1/events?type=invoice.payment_failed").await.body["data"].as_array().unwrap().len();
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 17 * 86_400 })).await;
    let renewed = with_latest_invoice(&stripe, id).await;
    let draft = &renewed["latest_invoice"];
    assert_eq!(renewed["status"], "unpaid");
    assert_ne!(draft["id"], overdue["id"]);
    assert_eq!(
        (draft["status"].as_str(), &draft["auto_advance"], &draft["number"], &draft["confirmation_secret"]),
        (Some("draft"), &json!(false), &Value::Null, &Value::Null)
    );
    assert_eq!(stripe.get("/v1/events?type=invoice.payment_failed").await.body["data"].as_array().unwrap().len(), failed_before);
    let created = stripe.get("/v1/events?type=invoice.created&limit=1").await.body;
    assert_eq!(created["data"][0]["data"]["object"]["id"], draft["id"]);
    let finalized = stripe.get("/v1/events?type=invoice.finalized&limit=1").await.body;
    assert_ne!(finalized["data"][0]["data"]["object"]["id"], draft["id"], "a draft is not finalized by itself");

    // The older invoice paid with a new card: still unpaid, as only the latest counts.
    let card = stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", customer)]).await.body;
    let card = card["id"].as_str().unwrap();
    let paid = stripe.post(&format!("/v1/invoices/{}/pay", overdue["id"].as_str().unwrap()), &[("payment_method", card)]).await;
    assert_eq!((paid.status, paid.body["status"].as_str()), (200, Some("paid")), "{}", paid.body);
    assert_eq!(with_latest_invoice(&stripe, id).await["status"], "unpaid");

    // Paying the draft finalizes it first, then charges it: the subscription is active.
    let paid = stripe.post(&format!("/v1/invoices/{}/pay", draft["id"].as_str().unwrap()), &[("payment_method", card)]).await;
    assert_eq!((paid.status, paid.body["status"].as_str()), (200, Some("paid")), "{}", paid.body);
    assert!(paid.body["number"].is_string() && paid.body["status_transitions"]["finalized_at"].is_i64(), "{}", paid.body);
    assert_eq!(paid.body["amount_paid"], draft["amount_due"]);
    let active = with_latest_invoice(&stripe, id).await;
    assert_eq!((active["status"].as_str(), active["default_payment_method"].as_str()), (Some("active"), Some(card)));
    // Renewals are charged again.
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 31 * 86_400 })).await;
    let next = with_latest_invoice(&stripe, id).await;
    assert_eq!((next["status"].as_str(), next["latest_invoice"]["status"].as_str()), (Some("active"), Some("paid")));
}

#[tokio::test]
async fn an_invoice_marked_uncollectible_when_its_retries_are_spent_can_still_be_paid() {
    let stripe = emulator().await;
    let unpaid = given_up_on_with(&stripe, json!({ "retries_spent": "unpaid", "mark_invoice_uncollectible": true })).await;
    let (id, customer) = (unpaid["id"].as_str().unwrap(), unpaid["customer"].as_str().unwrap());
    let invoice = &unpaid["latest_invoice"];
    let path = format!("/v1/invoices/{}/pay", invoice["id"].as_str().unwrap());
    assert_eq!(unpaid["status"], "unpaid", "{unpaid}");
    assert_eq!(
        (invoice["status"].as_str(), invoice["attempt_count"].as_i64(), &invoice["next_payment_attempt"], &invoice["auto_advance"]),
        (Some("uncollectible"), Some(9), &Value::Null, &json!(false)),
    );
    assert!(invoice["status_transitions"]["marked_uncollectible_at"].is_i64(), "{invoice}");
    assert_eq!(invoice["status_details"], json!({ "uncollectible": { "reason": "max_payment_attempts" } }));
    let marked = stripe.get("/v1/events?type=invoice.marked_uncollectible").await.body;
    assert_eq!(marked["data"].as_array().unwrap().len(), 1);
    assert_eq!(marked["data"][0]["data"]["object"]["id"], invoice["id"]);

    // Declined again: still uncollectible, and `invoice.payment_failed` says so.
    let failures = || async { stripe.get("/v1/events?type=invoice.payment_failed").await.body["data"].as_array().unwrap().len() };
    let failed_before = failures().await;
    let declined = stripe.post(&path, &[]).await;
    assert_eq!(declined.status, 402, "{}", declined.body);
    assert_eq!(failures().await, failed_before + 1);
    let invoice = stripe.get(&format!("/v1/invoices/{}", invoice["id"].as_str().unwrap())).await.body;
    assert_eq!((invoice["status"].as_str(), invoice["attempt_count"].as_i64()), (Some("uncollectible"), Some(9)));

    // Paid with another card: paid, and the subscription, whose latest it is, active.
    let card = stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", customer)]).await.body;
    let paid = stripe.post(&path, &[("payment_method", card["id"].as_str().unwrap())]).await;
    assert_eq!((paid.status, paid.body["status"].as_str()), (200, Some("paid")), "{}", paid.body);
    assert_eq!(paid.body["amount_paid"], invoice["amount_due"]);
    assert!(paid.body.get("status_details").is_none(), "only an uncollectible invoice has them: {}", paid.body);
    assert_eq!(with_latest_invoice(&stripe, id).await["status"], "active");
    let again = stripe.post(&path, &[]).await;
    assert_eq!((again.status, again.body["error"]["message"].as_str()), (400, Some("Invoice is already paid")));
}

#[tokio::test]
async fn a_subscription_canceled_when_its_retries_are_spent_can_have_its_invoice_marked_uncollectible() {
    let stripe = emulator().await;
    let ended = given_up_on_with(&stripe, json!({ "retries_spent": "cancel", "mark_invoice_uncollectible": true })).await;
    assert_eq!(ended["status"], "canceled");
    assert_eq!(ended["latest_invoice"]["status"], "uncollectible");
    // By default the invoice is left open.
    let stripe = emulator().await;
    let ended = given_up_on_with(&stripe, json!({ "retries_spent": "cancel" })).await;
    assert_eq!((ended["status"].as_str(), ended["latest_invoice"]["status"].as_str()), (Some("canceled"), Some("open")));
}

#[tokio::test]
async fn while_collection_is_paused_with_mark_uncollectible_a_renewal_is_uncollectible_and_nothing_charged() {
    let stripe = emulator().await;
    let (subscription, _, _) = subscribe(&stripe, "pm_card_visa").await;
    let id = subscription["id"].as_str().unwrap();
    let paused = stripe.post(&format!("/v1/subscriptions/{id}"), &[("pause_collection[behavior]", "mark_uncollectible")]).await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    let charges = || async { stripe.get("/v1/charges?limit=100").await.body["data"].as_array().unwrap().len() };
    let charged = charges().await;
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 32 * 86_400 })).await;
    let renewed = with_latest_invoice(&stripe, id).await;
    let invoice = &renewed["latest_invoice"];
    assert_eq!((renewed["status"].as_str(), invoice["status"].as_str()), (Some("active"), Some("uncollectible")), "{renewed}");
    assert_eq!(invoice["status_details"], json!({ "uncollectible": { "reason": "subscription_paused" } }));
    assert!(invoice["status_transitions"]["marked_uncollectible_at"].is_i64(), "{invoice}");
    assert_eq!(charges().await, charged);
}

/// The merchant writes off a renewal that keeps failing (the Dashboard's "Mark
/// uncollectible"): Stripe tries it no more, the subscription is active again, and the
/// customer can still pay it. Only an open invoice can be written off.
#[tokio::test]
async fn an_invoice_the_merchant_marks_uncollectible_is_tried_no_more_and_can_still_be_paid() {
    let stripe = emulator().await;
    let past_due = renewed_a_month_on_with(&stripe, "pm_card_chargeCustomerFail").await;
    let (id, customer) = (past_due["id"].as_str().unwrap(), past_due["customer"].as_str().unwrap());
    let invoice = past_due["latest_invoice"]["id"].as_str().unwrap();
    let marked = stripe.post(&format!("/v1/invoices/{invoice}/mark_uncollectible"), &[]).await;
    assert_eq!(marked.status, 200, "{}", marked.body);
    let marked = marked.body;
    assert_eq!(
        (marked["status"].as_str(), &marked["next_payment_attempt"], &marked["auto_advance"], marked["attempt_count"].as_i64()),
        (Some("uncollectible"), &Value::Null, &json!(false), Some(1))
    );
    assert_eq!(marked["status_details"], json!({ "uncollectible": { "reason": "user_forgiven" } }));
    assert!(marked["status_transitions"]["marked_uncollectible_at"].is_i64(), "{marked}");
    let told = stripe.get("/v1/events?type=invoice.marked_uncollectible").await.body;
    assert_eq!(told["data"][0]["data"]["object"]["id"], invoice);
    let updated = &stripe.get("/v1/events?type=customer.subscription.updated&limit=1").await.body["data"][0]["data"];
    assert_eq!((&updated["object"]["status"], &updated["previous_attributes"]), (&json!("active"), &json!({ "status": "past_due" })));

    // Two weeks on, where its retries would all have been made: none was.
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 15 * 86_400 })).await;
    let later = with_latest_invoice(&stripe, id).await;
    let latest = &later["latest_invoice"];
    assert_eq!(
        (later["status"].as_str(), latest["status"].as_str(), latest["attempt_count"].as_i64()),
        (Some("active"), Some("uncollectible"), Some(1))
    );
    let again = stripe.post(&format!("/v1/invoices/{invoice}/mark_uncollectible"), &[]).await;
    assert_eq!(
        (again.status, again.body["error"]["message"].as_str()),
        (400, Some("You can only mark an open invoice as uncollectible. This invoice is uncollectible."))
    );

    // Paid all the same with another card.
    let card = stripe.post("/v1/payment_methods/pm_card_visa/attach", &[("customer", customer)]).await.body;
    let paid = stripe.post(&format!("/v1/invoices/{invoice}/pay"), &[("payment_method", card["id"].as_str().unwrap())]).await;
    assert_eq!((paid.status, paid.body["status"].as_str()), (200, Some("paid")), "{}", paid.body);
}

/// An invoice has a page and a PDF once it is finalized (a draft has neither), at
/// unguessable addresses; both say what it is for and follow its payment.
#[tokio::test]
async fn a_finalized_invoice_has_a_page_and_a_pdf_that_follow_its_payment() {
    let stripe = emulator().await;
    let subscription = new_subscription(&stripe, &[("expand[]", "latest_invoice.payments")]).await.body;
    let invoice = &subscription["latest_invoice"];
    let (page_url, pdf_url) = (invoice["hosted_invoice_url"].as_str().unwrap(), invoice["invoice_pdf"].as_str().unwrap());
    let token = page_url.rsplit('/').next().unwrap();
    assert_eq!((token.len(), pdf_url.to_owned()), (40, stripe.url(&format!("/invoice/{token}/pdf"))), "{invoice}");
    let number = invoice["number"].as_str().unwrap();
    let (status, page) = receipt(&stripe, page_url).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("<h1>Invoice {number}</h1>")) && page.contains("<strong>Due</strong>"), "{page}");
    assert!(page.contains("<td>2 × Coffee beans</td><td>€24.00</td>") && page.contains("<td>Amount due: </td><td>€24.00</td>"), "{page}");
    assert!(page.contains(&format!(r#"<a href="{pdf_url}" id="invoice-pdf">"#)), "{page}");

    let intent = invoice["payments"]["data"][0]["payment"]["payment_intent"].as_str().unwrap();
    let token = stripe.token("pm_card_visa").await;
    stripe.post(&format!("/v1/payment_intents/{intent}/confirm"), &[("confirmation_token", token.as_str())]).await;
    let (_, page) = receipt(&stripe, page_url).await;
    assert!(page.contains("<strong>Paid</strong>") && page.contains("<td>Amount paid: </td><td>€24.00</td>"), "{page}");
    assert!(!page.contains("Amount due"), "{page}");
    let pdf = stripe.http.get(pdf_url).send().await.unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let pdf = pdf.bytes().await.unwrap();
    let has = |text: &[u8]| pdf.windows(text.len()).any(|window| window == text);
    assert!(pdf.starts_with(b"%PDF-") && has(format!("(Invoice {number}) Tj").as_bytes()) && has(b"(Paid) Tj"));
    // In PDF's WinAnsi encoding, where `€` is 0x80.
    assert!(has(b"(Amount paid:   \x8024.00) Tj"));

    // Another address names no invoice.
    for url in [stripe.url(&format!("/i/{}", "A".repeat(40))), stripe.url(&format!("/invoice/{}/pdf", "A".repeat(40)))] {
        assert_eq!(receipt(&stripe, &url).await.0, 404, "{url}");
    }
}

#[tokio::test]
async fn a_draft_invoice_is_finalized_once_and_not_charged_until_paid() {
    let stripe = emulator().await;
    let unpaid = unpaid_after_its_retries(&stripe).await;
    let id = unpaid["id"].as_str().unwrap();
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 17 * 86_400 })).await;
    let draft = with_latest_invoice(&stripe, id).await["latest_invoice"].clone();
    // A draft has no page nor PDF yet.
    assert_eq!((&draft["hosted_invoice_url"], &draft["invoice_pdf"]), (&Value::Null, &Value::Null), "{draft}");
    let path = format!("/v1/invoices/{}/finalize", draft["id"].as_str().unwrap());
    let open = stripe.post(&path, &[("auto_advance", "false"), ("expand[]", "payments")]).await;
    assert_eq!(open.status, 200, "{}", open.body);
    let open = open.body;
    assert_eq!(
        (open["status"].as_str(), &open["auto_advance"], open["amount_due"].as_i64()),
        (Some("open"), &json!(false), draft["total"].as_i64())
    );
    assert!(open["number"].is_string() && open["confirmation_secret"]["client_secret"].is_string(), "{open}");
    assert!(open["hosted_invoice_url"].is_string() && open["invoice_pdf"].is_string(), "{open}");
    let intent = open["payments"]["data"][0]["payment"]["payment_intent"].as_str().unwrap();
    assert_eq!(stripe.get(&format!("/v1/payment_intents/{intent}")).await.body["status"], "requires_payment_method", "not charged");
    let finalized = stripe.get("/v1/events?type=invoice.finalized&limit=1").await.body;
    assert_eq!(finalized["data"][0]["data"]["object"]["id"], open["id"]);
    assert_eq!(with_latest_invoice(&stripe, id).await["status"], "unpaid");

    let again = stripe.post(&path, &[]).await;
    assert_eq!(again.status, 400);
    // Without `auto_advance`, a draft keeps its own (off for an unpaid subscription's).
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 31 * 86_400 })).await;
    let next = with_latest_invoice(&stripe, id).await["latest_invoice"].clone();
    assert_eq!((next["status"].as_str(), &next["auto_advance"]), (Some("draft"), &json!(false)));
    let kept = stripe.post(&format!("/v1/invoices/{}/finalize", next["id"].as_str().unwrap()), &[]).await.body;
    assert_eq!((kept["status"].as_str(), &kept["auto_advance"]), (Some("open"), &json!(false)), "{kept}");
    assert_eq!(again.body["error"]["message"], "This invoice is already finalized, you can't re-finalize a non-draft invoice.");
}

#[tokio::test]
async fn left_past_due_when_its_retries_are_spent_a_subscription_is_still_billed_each_period() {
    let stripe = emulator().await;
    stripe.control("/_emulator/billing_settings", json!({ "retries_spent": "past_due" })).await;
    let past_due = renewed_a_month_on_with(&stripe, "pm_card_chargeCustomerFail").await;
    let id = past_due["id"].as_str().unwrap();
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 14 * 86_400 })).await;
    let left = with_latest_invoice(&stripe, id).await;
    assert_eq!(left["status"], "past_due");
    assert_eq!((&left["latest_invoice"]["next_payment_attempt"], &left["latest_invoice"]["auto_advance"]), (&Value::Null, &json!(false)));
    let failures = || async { stripe.get("/v1/events?type=invoice.payment_failed").await.body["data"].as_array().unwrap().len() };
    assert_eq!(failures().await, 9);
    // The next period's invoice is finalized and charged, as any renewal.
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 17 * 86_400 })).await;
    let next = with_latest_invoice(&stripe, id).await;
    assert_ne!(next["latest_invoice"]["id"], left["latest_invoice"]["id"]);
    assert_eq!((next["status"].as_str(), next["latest_invoice"]["status"].as_str()), (Some("past_due"), Some("open")));
    assert_eq!(failures().await, 10);
}

#[tokio::test]
async fn billing_settings_take_only_the_three_outcomes_and_a_reset_restores_cancel() {
    let stripe = emulator().await;
    assert_eq!(stripe.control("/_emulator/billing_settings", json!({ "retries_spent": "pause" })).await.status, 400);
    assert_eq!(stripe.control("/_emulator/billing_settings", json!({ "retry": "unpaid" })).await.status, 400);
    assert_eq!(stripe.control("/_emulator/billing_settings", json!({ "retries_spent": "unpaid" })).await.body["retries_spent"], "unpaid");
    stripe.control("/_emulator/reset", json!({})).await;
    let settings = stripe.get("/_emulator/billing_settings").await.body;
    assert_eq!(settings, json!({ "retries_spent": "cancel", "mark_invoice_uncollectible": false }));
    let invalid = stripe.control("/_emulator/billing_settings", json!({ "mark_invoice_uncollectible": "yes" })).await;
    assert_eq!(invalid.status, 400);
}

#[tokio::test]
async fn cancel_at_period_end_can_be_undone_and_ends_the_subscription_when_the_period_does() {
    let stripe = emulator().await;
    let (subscription, _, _) = subscribe(&stripe, "pm_card_visa").await;
    let id = subscription["id"].as_str().unwrap();
    let end = subscription["items"]["data"][0]["current_period_end"].clone();
    let set = stripe.post(&format!("/v1/subscriptions/{id}"), &[("cancel_at_period_end", "true")]).await.body;
    assert_eq!((set["status"].as_str(), set["cancel_at_period_end"].as_bool()), (Some("active"), Some(true)));
    assert_eq!(set["cancel_at"], end);
    let resumed = stripe.post(&format!("/v1/subscriptions/{id}"), &[("cancel_at_period_end", "false")]).await.body;
    assert_eq!((resumed["cancel_at"].clone(), resumed["canceled_at"].clone()), (Value::Null, Value::Null));
    let update = stripe.get("/v1/events?type=customer.subscription.updated&limit=1").await.body;
    assert_eq!(update["data"][0]["data"]["previous_attributes"]["cancel_at_period_end"], true);

    stripe.post(&format!("/v1/subscriptions/{id}"), &[("cancel_at_period_end", "true")]).await;
    stripe.control("/_emulator/clock", json!({ "advance_seconds": 32 * 86_400 })).await;
    let ended = stripe.get(&format!("/v1/subscriptions/{id}")).await.body;
    assert_eq!(ended["status"], "canceled");
    let invoices = stripe.get(&format!("/v1/invoices?subscription={id}")).await.body;
    assert_eq!(invoices["data"].as_array().unwrap().len(), 1, "no renewal invoice");
    assert!(stripe.event_types().await.contains(&"customer.subscription.deleted".to_owned()));
    let again = stripe.post(&format!("/v1/subscriptions/{id}"), &[("cancel_at_period_end", "false")]).await;
    assert_eq!(again.status, 400, "a canceled subscription stays canceled");
    assert_eq!(
        stripe.get(&format!("/v1/subscriptions?customer={}", subscription["customer"].as_str().unwrap())).await.body["data"],
        json!([])
    );
}

#[tokio::test]
async fn subscriptions_refuse_what_stripe_refuses() {
    let stripe = emulator().await;
    let customer = stripe.post("/v1/customers", &[]).await.body;
    let customer = customer["id"].as_str().unwrap();
    let product = stripe.post("/v1/products", &[("id", "beans"), ("name", "Beans")]).await;
    assert_eq!(product.body["id"], "beans");
    let again = stripe.post("/v1/products", &[("id", "beans"), ("name", "Beans")]).await;
    assert_eq!((again.status, again.body["error"]["code"].as_str()), (400, Some("resource_already_exists")));
    let one_time = stripe.post("/v1/prices", &[("currency", "eur"), ("unit_amount", "500"), ("product", "beans")]).await.body;
    let cases: [(&[(&str, &str)], &str); 4] = [
        (
            &[("customer", customer), ("items[0][price]", one_time["id"].as_str().unwrap()), ("payment_behavior", "default_incomplete")],
            "items[0][price]",
        ),
        (
            &[
                ("customer", customer),
                ("items[0][price_data][currency]", "eur"),
                ("items[0][price_data][unit_amount]", "500"),
                ("items[0][price_data][product]", "nope"),
                ("items[0][price_data][recurring][interval]", "month"),
                ("payment_behavior", "default_incomplete"),
            ],
            "items[0][price_data][product]",
        ),
        (&[("customer", "cus_nope"), ("items[0][price]", one_time["id"].as_str().unwrap())], "customer"),
        (
            &[
                ("customer", customer),
                ("items[0][price_data][currency]", "eur"),
                ("items[0][price_data][unit_amount]", "500"),
                ("items[0][price_data][product]", "beans"),
                ("items[0][price_data][recurring][interval]", "fortnight"),
                ("payment_behavior", "default_incomplete"),
            ],
            "items[0][price_data][recurring][interval]",
        ),
    ];
    for (form, param) in cases {
        let refused = stripe.post("/v1/subscriptions", form).await;
        assert_eq!(refused.status, 400, "{form:?}: {}", refused.body);
        assert_eq!(refused.body["error"]["param"], param, "{form:?}: {}", refused.body);
    }
    let unknown = stripe.post("/v1/subscriptions", &[("customer", customer), ("items[0][plan]", "x")]).await;
    assert_eq!(unknown.body["error"]["param"], "items[0][plan]");
    assert!(stripe.get("/v1/subscriptions").await.body["data"].as_array().unwrap().is_empty(), "nothing was created");
}
