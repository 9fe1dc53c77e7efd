//! Paying over HTTP: the confirm server function posted directly (as an attacker or a
//! flaky network would), against the app's embedded Stripe emulator, with faults
//! injected through the emulator's control API.

use serde_json::{Value, json};
mod support;

use support::Shop;

async fn shop_with(extra: &[(&str, &str)]) -> Shop {
    Shop::start(extra).await
}

async fn shop() -> Shop {
    shop_with(&[]).await
}

impl Shop {
    async fn call(&self, client: &reqwest::Client, endpoint: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = client.post(format!("{}/api/{endpoint}", self.base)).form(form).send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn add(&self, product: &str, quantity: &str) {
        let (status, body) = self.call(&self.shopper, "cart/add", &[("product_id", product), ("quantity", quantity)]).await;
        assert_eq!(status, 200, "{body}");
    }

    async fn pay(&self, token: &str, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut form = vec![("confirmation_token", token)];
        form.extend_from_slice(extra);
        self.call(&self.shopper, "checkout/confirm", &form).await
    }

    /// A ConfirmationToken for a test PaymentMethod (the emulator's test helper).
    async fn token(&self, payment_method: &str) -> String {
        support::test_token(&self.shopper, &self.stripe, payment_method).await
    }

    /// A ConfirmationToken for a card number, as Stripe.js makes it.
    async fn card_token(&self, number: &str) -> String {
        let form = [
            ("payment_method_data[type]", "card"),
            ("payment_method_data[card][number]", number),
            ("payment_method_data[card][exp_month]", "12"),
            ("payment_method_data[card][exp_year]", "2040"),
        ];
        let url = format!("{}/v1/confirmation_tokens", self.stripe);
        support::stripe_call(&self.shopper, reqwest::Method::POST, url, "pk_test_tests", &form).await["id"].as_str().unwrap().to_owned()
    }

    async fn payment_intents(&self) -> Vec<Value> {
        let url = format!("{}/v1/payment_intents?limit=100", self.stripe);
        let list = support::stripe_call(&self.shopper, reqwest::Method::GET, url, "sk_test_tests", &[]).await;
        list["data"].as_array().unwrap().clone()
    }

    /// The shopper completes the 3-D Secure challenge of `intent` (as listed by Stripe):
    /// the status the emulator's challenge page gets.
    async fn complete_challenge(&self, intent: &Value) -> u16 {
        let url = format!("{}/_emulator/3ds/{}", self.stripe, intent["id"].as_str().unwrap());
        let body = json!({ "client_secret": intent["client_secret"], "result": "complete" });
        self.shopper.post(url).json(&body).send().await.unwrap().status().as_u16()
    }

    async fn fault(&self, rule: Value) {
        let response = self.shopper.post(format!("{}/_emulator/faults", self.stripe)).json(&rule).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_amount_charged_is_the_servers_price_whatever_the_browser_sends() {
    let shop = shop().await;
    shop.add("ceramic-mug", "2").await;
    let token = shop.token("pm_card_visa").await;
    let (status, reply) = shop.pay(&token, &[("amount", "1"), ("currency", "usd"), ("order_id", "ord_forged")]).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], "Succeeded");
    let intents = shop.payment_intents().await;
    assert_eq!(intents.len(), 1);
    assert_eq!((intents[0]["amount"].as_i64(), intents[0]["currency"].as_str()), (Some(3600), Some("eur")));
    assert_eq!(intents[0]["metadata"]["order_id"], reply["order_id"]);
    assert!(intents[0]["id"].as_str() == reply["payment_intent"].as_str());
}

/// A total Stripe would refuse (under €0.50, over eight digits) is said on the cart and
/// checkout pages, which offer no way to pay it, and a payment posted anyway is refused
/// before anything reaches Stripe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_stripe_cannot_charge_is_refused_before_any_card_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    let product = |id: &str, amount: i64| {
        format!(
            "[[products]]\nid = \"{id}\"\nname = \"{id}\"\ndescription = \"{id}\"\nunit_amount = {amount}\ncurrency = \"eur\"\nimage = \"/images/notebook.svg\"\nstock = 99\n\n"
        )
    };
    std::fs::write(&catalog, product("sticker", 30) + &product("yacht", 9_000_000)).unwrap();
    let shop = shop_with(&[("STORE_CATALOG_FILE", catalog.to_str().unwrap())]).await;
    for (product, quantity, said) in [
        ("sticker", "1", "The smallest order we can charge is €0.50."),
        // 12 × €90,000: €1,080,000.
        ("yacht", "12", "We cannot charge more than €999,999.99 in one payment: please take something out of your cart."),
    ] {
        shop.add(product, quantity).await;
        for page in ["cart", "checkout"] {
            let html = shop.shopper.get(format!("{}/{page}", shop.base)).send().await.unwrap().text().await.unwrap();
            assert!(html.contains("data-testid=\"charge-limit\"") && html.contains(said), "/{page}: {html}");
            assert!(!html.contains("href=\"/checkout\"") && !html.contains("<leptos-island"), "/{page} offers to pay: {html}");
        }
        let token = shop.token("pm_card_visa").await;
        let (status, error) = shop.pay(&token, &[]).await;
        assert_eq!((status, error["Invalid"].as_str()), (400, Some(said)), "{error}");
        let (status, _) = shop.call(&shop.shopper, "cart/set", &[("product_id", product), ("quantity", "0")]).await;
        assert_eq!(status, 200);
    }
    assert!(shop.payment_intents().await.is_empty(), "nothing reached Stripe");

    // Within the limits, the same shop takes the payment.
    shop.add("sticker", "2").await;
    let html = shop.shopper.get(format!("{}/checkout", shop.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<leptos-island") && !html.contains("charge-limit"), "{html}");
    let (status, reply) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    assert_eq!((status, reply["status"].as_str()), (200, Some("Succeeded")), "{reply}");
}

/// What Stripe received, from the emulator's request log: every write carries an
/// idempotency key, and the amount asked for is the server's price.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_to_stripe_carries_an_idempotency_key_and_the_servers_amount() {
    let shop = shop().await;
    // A signed-in shopper: a Customer and a CustomerSession besides the payment.
    let (status, body) =
        shop.call(&shop.shopper, "account/sign-up", &[("email", "log@example.com"), ("password", "correct horse battery")]).await;
    assert_eq!(status, 200, "{body}");
    shop.add("ceramic-mug", "2").await;
    assert_eq!(shop.call(&shop.shopper, "checkout/view", &[]).await.0, 200);
    let (status, _) = shop.pay(&shop.token("pm_card_visa_chargeDeclined").await, &[("amount", "1")]).await;
    assert_eq!(status, 402);
    let (status, reply) = shop.pay(&shop.token("pm_card_visa").await, &[("amount", "1")]).await;
    assert_eq!(status, 200, "{reply}");

    let log: Value = shop.shopper.get(format!("{}/_emulator/requests", shop.stripe)).send().await.unwrap().json().await.unwrap();
    // The storefront's writes (the test's own test-helper tokens aside).
    let writes: Vec<&Value> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "POST" && !r["path"].as_str().unwrap().starts_with("/v1/test_helpers/"))
        .collect();
    let paths: Vec<&str> = writes.iter().map(|r| r["path"].as_str().unwrap()).collect();
    for path in ["/v1/customers", "/v1/customer_sessions", "/v1/payment_intents"] {
        assert!(paths.contains(&path), "no {path} among {paths:?}");
    }
    for write in &writes {
        assert!(write["idempotency_key"].as_str().is_some_and(|key| !key.is_empty()), "a write without a key: {write}");
    }
    let payments: Vec<&&Value> = writes.iter().filter(|r| r["path"] == "/v1/payment_intents").collect();
    assert_eq!(payments.len(), 2, "the declined attempt and the paid one");
    for payment in payments {
        assert_eq!((payment["params"]["amount"].as_str(), payment["params"]["currency"].as_str()), (Some("3600"), Some("eur")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_token_returns_the_same_payment_and_charges_once() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    let token = shop.token("pm_card_visa").await;
    let (first, a) = shop.pay(&token, &[]).await;
    let (second, b) = shop.pay(&token, &[]).await;
    assert_eq!((first, second), (200, 200));
    assert_eq!(a["payment_intent"], b["payment_intent"]);
    assert_eq!(shop.payment_intents().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_confirmations_of_one_cart_make_one_payment() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    let mut tokens = Vec::new();
    for _ in 0..6 {
        tokens.push(shop.token("pm_card_visa").await);
    }
    let replies = futures_util::future::join_all(tokens.iter().map(|token| shop.pay(token, &[]))).await;
    assert!(replies.iter().any(|(status, _)| *status == 200), "{replies:?}");
    for (status, body) in &replies {
        assert!(*status == 200 || (*status == 400 && body.to_string().contains("cart is empty")), "{status} {body}");
    }
    let paid: Vec<_> = shop.payment_intents().await.into_iter().filter(|pi| pi["status"] == "succeeded").collect();
    assert_eq!(paid.len(), 1, "exactly one charge");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_shoppers_token_cannot_be_used_and_their_order_is_not_found() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    let token = shop.token("pm_card_visa").await;
    let (_, paid) = shop.pay(&token, &[]).await;

    let stranger = support::shopper();
    shop.call(&stranger, "cart/add", &[("product_id", "linen-tote"), ("quantity", "1")]).await;
    let (status, error) = shop.call(&stranger, "checkout/confirm", &[("confirmation_token", &token)]).await;
    assert_eq!(status, 400, "{error}");
    let (status, _) = shop.call(&stranger, "orders/get", &[("id", paid["order_id"].as_str().unwrap())]).await;
    assert_eq!(status, 404);
    let (status, _) = shop.call(&stranger, "checkout/outcome", &[("payment_intent", paid["payment_intent"].as_str().unwrap())]).await;
    assert_eq!(status, 404);
    assert_eq!(shop.payment_intents().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_clearly_and_charge_nothing() {
    let shop = shop().await;
    let token = shop.token("pm_card_visa").await;
    let (status, error) = shop.pay(&token, &[]).await;
    assert_eq!(status, 400);
    assert!(error.to_string().contains("cart is empty"), "{error}");
    shop.add("ceramic-mug", "1").await;
    for bad in ["", "pm_card_visa", "ctoken_../../v1/customers", "ctoken_missing"] {
        let (status, _) = shop.pay(bad, &[]).await;
        assert_eq!(status, 400, "{bad:?}");
    }
    let (status, _) = shop.call(&shop.shopper, "checkout/confirm", &[]).await;
    assert_eq!(status, 400);
    assert!(shop.payment_intents().await.iter().all(|pi| pi["status"] != "succeeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decline_carries_stripes_message_and_leaves_the_order_payable() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    let (status, error) = shop.pay(&shop.token("pm_card_visa_chargeDeclinedInsufficientFunds").await, &[]).await;
    assert_eq!(status, 402);
    assert_eq!(error, json!({ "Declined": { "message": "Your card has insufficient funds.", "decline_code": "insufficient_funds" } }));
    let (status, paid) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    assert_eq!(status, 200);
    let intents = shop.payment_intents().await;
    assert_eq!(intents.len(), 2);
    assert!(intents.iter().all(|pi| pi["metadata"]["order_id"] == paid["order_id"]), "both attempts belong to one order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepaid_cards_are_refused_before_any_charge() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    let (status, error) = shop.pay(&shop.card_token("5105105105105100").await, &[]).await;
    assert_eq!(status, 402, "{error}");
    assert!(error.to_string().contains("prepaid"), "{error}");
    assert!(shop.payment_intents().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_errors_that_retries_absorb_leave_exactly_one_payment() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    shop.fault(json!({ "path": "/v1/payment_intents", "method": "POST", "status": 503, "should_retry": true })).await;
    shop.fault(json!({ "path": "/v1/payment_intents", "method": "POST", "status": 500, "phase": "after" })).await;
    let (status, reply) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(shop.payment_intents().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_stripe_stays_down_nothing_is_charged_and_the_next_try_charges_once() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    // 429 is not retried; every attempt is refused before Stripe does anything.
    shop.fault(json!({ "path": "/v1/payment_intents", "method": "POST", "status": 429, "count": 3 })).await;
    let (status, error) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    assert_eq!((status, error), (503, json!("PaymentUnavailable")));
    assert!(shop.payment_intents().await.is_empty());
    shop.shopper.delete(format!("{}/_emulator/faults", shop.stripe)).send().await.unwrap();
    let (status, _) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(shop.payment_intents().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_lost_on_every_retry_is_said_to_be_unknown_and_the_same_details_resolve_it() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    // Stripe charges, but the connection drops on the reply, on every retry too.
    shop.fault(json!({ "path": "/v1/payment_intents", "method": "POST", "drop": true, "phase": "after", "count": 20 })).await;
    let token = shop.token("pm_card_visa").await;
    let (status, unknown) = shop.pay(&token, &[]).await;
    assert_eq!(status, 504, "{unknown}");
    let order_id = unknown["PaymentUnknown"]["order_id"].as_str().expect("the reply names the order").to_owned();
    assert!(!unknown.to_string().contains("charged"), "nothing is claimed about the charge: {unknown}");
    shop.shopper.delete(format!("{}/_emulator/faults", shop.stripe)).send().await.unwrap();
    // The page asks again with the same details: the attempt's own key returns what
    // Stripe did, whether or not the webhook came first.
    let (status, reply) = shop.pay(&token, &[]).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!((reply["status"].as_str(), reply["order_id"].as_str()), (Some("Succeeded"), Some(order_id.as_str())));
    let intents = shop.payment_intents().await;
    assert_eq!(intents.len(), 1, "one PaymentIntent, charged once");
    assert_eq!((intents[0]["status"].as_str(), intents[0]["id"].as_str()), (Some("succeeded"), reply["payment_intent"].as_str()));
    let (_, cart) = shop.call(&shop.shopper, "cart/get", &[]).await;
    assert_eq!(cart["item_count"], 0, "the paid mug left the cart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_resolves_a_payment_whose_answer_never_came() {
    let admin = "merchant-token-0123456789";
    let shop = shop_with(&[("RECONCILE_AFTER_SECS", "0"), ("RECONCILE_EVERY_SECS", "1"), ("ADMIN_TOKEN", admin)]).await;
    shop.add("ceramic-mug", "1").await;
    shop.fault(json!({ "path": "/v1/payment_intents", "method": "POST", "drop": true, "phase": "after", "count": 20 })).await;
    let (status, unknown) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    assert_eq!(status, 504, "{unknown}");
    let order_id = unknown["PaymentUnknown"]["order_id"].as_str().unwrap().to_owned();
    shop.shopper.delete(format!("{}/_emulator/faults", shop.stripe)).send().await.unwrap();
    // The shopper never comes back. Reconciliation asks Stripe again under the attempt's
    // key: the answer records what paid (the webhook alone does not carry it).
    let url = format!("{}/admin/orders/{order_id}", shop.base);
    let page = support::poll_until(200, || support::admin_page(&url, admin), |page: &String| page.contains("admin-payment-method")).await;
    assert!(page.contains("4242"), "{page}");
    assert_eq!(shop.payment_intents().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_stripe_refuses_as_the_shop_made_it_is_not_blamed_on_the_shopper() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    // An invalid_request_error that is not about the payment details (a parameter, the
    // currency, the account's settings): the merchant must fix it.
    shop.fault(json!({ "path": "/v1/payment_intents", "method": "POST", "status": 400 })).await;
    let token = shop.token("pm_card_visa").await;
    let (status, error) = shop.pay(&token, &[]).await;
    assert_eq!((status, error), (500, json!("PaymentSetupFault")));
    // Payment details Stripe refuses are the shopper's to replace.
    let used = shop.token("pm_card_visa").await;
    let url = format!("{}/v1/payment_intents", shop.stripe);
    let form = [
        ("amount", "500"),
        ("currency", "eur"),
        ("confirm", "true"),
        ("confirmation_token", used.as_str()),
        ("return_url", "https://shop.example/done"),
    ];
    let direct = support::stripe_call(&shop.shopper, reqwest::Method::POST, url, "sk_test_tests", &form).await;
    assert_eq!(direct["status"], "succeeded", "{direct}");
    let (status, error) = shop.pay(&used, &[]).await;
    assert_eq!(status, 400, "{error}");
    assert!(error.to_string().contains("could not be used (they may have expired)"), "{error}");
    // Nothing is stuck: new details pay.
    let (status, reply) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    assert_eq!(status, 200, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_keeps_where_to_ship_what_paid_and_the_discount() {
    let admin = "merchant-token-0123456789";
    let shop = shop_with(&[("ADMIN_TOKEN", admin)]).await;
    shop.add("ceramic-mug", "1").await;
    let (status, _) = shop.call(&shop.shopper, "cart/discount", &[("code", "WELCOME10")]).await;
    assert_eq!(status, 200);
    let form = [
        ("payment_method_data[type]", "card"),
        ("payment_method_data[card][number]", "4242424242424242"),
        ("payment_method_data[card][exp_month]", "12"),
        ("payment_method_data[card][exp_year]", "2040"),
        ("shipping[name]", "Jenny Rosen"),
        ("shipping[address][line1]", "12 Rue de la Paix"),
        ("shipping[address][postal_code]", "75002"),
        ("shipping[address][city]", "Paris"),
        ("shipping[address][country]", "FR"),
    ];
    let url = format!("{}/v1/confirmation_tokens", shop.stripe);
    let token =
        support::stripe_call(&shop.shopper, reqwest::Method::POST, url, "pk_test_tests", &form).await["id"].as_str().unwrap().to_owned();
    let (status, reply) = shop.pay(&token, &[]).await;
    assert_eq!(status, 200, "{reply}");
    let order_id = reply["order_id"].as_str().unwrap();

    let (_, order) = shop.call(&shop.shopper, "orders/get", &[("id", order_id)]).await;
    assert_eq!(order["discount"][0], "WELCOME10", "{order}");
    assert_eq!(order["discount"][1]["amount"], 180);
    assert_eq!(order["total"]["amount"], 1620);
    assert_eq!(order["ship_to"], json!(["Jenny Rosen", "12 Rue de la Paix", "75002 Paris", "France"]));
    let page = support::admin_page(&format!("{}/admin/orders/{order_id}", shop.base), admin).await;
    assert!(page.contains("Jenny Rosen") && page.contains("12 Rue de la Paix"), "{page}");
    let method = &page[page.find("admin-payment-method").unwrap()..];
    assert!(method.contains("4242") && method.to_lowercase().contains("visa"), "{method}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_path_replays_exactly_what_it_sent_and_keeps_the_address() {
    let shop = shop_with(&[("STORE_PAYMENT_METHOD_CREATION", "manual")]).await;
    shop.add("ceramic-mug", "1").await;
    let form = [("type", "card"), ("card[number]", "4242424242424242"), ("card[exp_month]", "12"), ("card[exp_year]", "2040")];
    let url = format!("{}/v1/payment_methods", shop.stripe);
    let method =
        support::stripe_call(&shop.shopper, reqwest::Method::POST, url, "pk_test_tests", &form).await["id"].as_str().unwrap().to_owned();
    let pay = |user_agent: &'static str| {
        let form = [
            ("payment_method", method.as_str()),
            ("shipping[name]", "Jenny Rosen"),
            ("shipping[line1]", "12 Rue de la Paix"),
            ("shipping[city]", "Paris"),
            ("shipping[postal_code]", "75002"),
            ("shipping[country]", "FR"),
        ];
        let request =
            shop.shopper.post(format!("{}/api/checkout/confirm-payment-method", shop.base)).header("user-agent", user_agent).form(&form);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // A page that showed another cart (the quote of an empty one) charges nothing.
    let (status, changed) =
        shop.call(&shop.shopper, "checkout/confirm-payment-method", &[("payment_method", &method), ("quote", "0")]).await;
    assert_eq!(status, 409, "{changed}");
    assert!(shop.payment_intents().await.is_empty());
    shop.fault(json!({ "path": "/v1/payment_intents", "method": "POST", "drop": true, "phase": "after", "count": 20 })).await;
    let (status, unknown) = pay("Browser/1").await;
    assert_eq!(status, 504, "{unknown}");
    shop.shopper.delete(format!("{}/_emulator/faults", shop.stripe)).send().await.unwrap();
    // The retry comes from a browser that has been updated meanwhile: the mandate sent
    // the first time is replayed, not a new one (Stripe would refuse a different body
    // under the same idempotency key).
    let (status, reply) = pay("Browser/2").await;
    assert_eq!(status, 200, "{reply}");
    let intents = shop.payment_intents().await;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["shipping"]["address"]["line1"], "12 Rue de la Paix");
    let (_, order) = shop.call(&shop.shopper, "orders/get", &[("id", reply["order_id"].as_str().unwrap())]).await;
    assert_eq!(order["ship_to"][0], "Jenny Rosen", "{order}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_slower_than_the_timeout_never_leads_to_two_charges() {
    let shop = shop_with(&[("STRIPE_TIMEOUT_SECS", "0.5")]).await;
    shop.add("ceramic-mug", "1").await;
    // Every request takes 1.5 s on Stripe's side; the storefront gives up after 0.5 s
    // and retries with the same key (Stripe answers 409 while the first is running, then
    // replays its result).
    shop.fault(json!({ "path": "/v1/payment_intents", "method": "POST", "delay_ms": 1500, "count": 20 })).await;
    let token = shop.token("pm_card_visa").await;
    let (status, reply) = shop.pay(&token, &[]).await;
    assert!(status == 200 || (status == 504 && reply["PaymentUnknown"].is_object()), "{status} {reply}");
    shop.shopper.delete(format!("{}/_emulator/faults", shop.stripe)).send().await.unwrap();
    if status != 200 {
        // Asking again with the same details replays the slow attempt under its key.
        let (status, reply) = shop.pay(&token, &[]).await;
        assert_eq!(status, 200, "{reply}");
    }
    let intents = shop.payment_intents().await;
    assert_eq!(intents.len(), 1, "one PaymentIntent");
    assert_eq!(intents[0]["status"], "succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discount_code_lowers_what_is_charged_and_bad_codes_change_nothing() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    for (code, message) in [("NOPE", "not valid"), ("summer24", "expired on 2024-09-01"), ("FIVEOFF50", "at least €50.00")] {
        let (status, error) = shop.call(&shop.shopper, "cart/discount", &[("code", code)]).await;
        assert_eq!(status, 400, "{code}");
        assert!(error.to_string().contains(message), "{code}: {error}");
    }
    let (_, cart) = shop.call(&shop.shopper, "cart/get", &[]).await;
    assert_eq!((cart["total"]["amount"].as_i64(), cart["discount"].is_null()), (Some(1800), true));

    let (status, cart) = shop.call(&shop.shopper, "cart/discount", &[("code", " welcome10 ")]).await;
    assert_eq!(status, 200, "{cart}");
    assert_eq!(cart["total"]["amount"], 1620);
    let (status, _) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(shop.payment_intents().await[0]["amount"], 1620);
}

/// The checkout page shows a mug; another tab then adds a tote. The page's Pay sends
/// the quote it showed: nothing is charged, and the shopper is told the new total.
/// Paying for the cart as it is now works, and the same details sent again after
/// that (a retry) still find the payment they made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cart_changed_since_the_page_showed_it_is_not_charged() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    let (status, page) = shop.call(&shop.shopper, "checkout/view", &[]).await;
    assert_eq!(status, 200, "{page}");
    let shown = page["cart"]["quote"].as_str().unwrap().to_owned();
    shop.add("linen-tote", "1").await;

    let token = shop.token("pm_card_visa").await;
    let (status, error) = shop.pay(&token, &[("quote", &shown)]).await;
    assert_eq!(status, 409, "{error}");
    assert!(
        error.to_string().contains("Your cart changed since this page was shown, so nothing was charged. It now comes to €42.50"),
        "{error}"
    );
    assert!(shop.payment_intents().await.is_empty());
    let (_, cart) = shop.call(&shop.shopper, "cart/get", &[]).await;
    assert_eq!(cart["item_count"], 2, "the cart is left as it is");

    // The page reads the cart again (as the island does) and pays for that.
    let now = cart["quote"].as_str().unwrap();
    assert_ne!(now, shown);
    let (status, paid) = shop.pay(&token, &[("quote", now)]).await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(shop.payment_intents().await[0]["amount"], 1800 + 2450);
    let (status, again) = shop.pay(&token, &[("quote", now)]).await;
    assert_eq!((status, &again["payment_intent"]), (200, &paid["payment_intent"]));
    assert_eq!(shop.payment_intents().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_authentication_is_canceled_before_the_next_attempt() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    let (status, waiting) = shop.pay(&shop.token("pm_card_threeDSecure2Required").await, &[]).await;
    assert_eq!((status, waiting["status"].as_str()), (200, Some("RequiresAction")));
    // The shopper reloads and pays with another card instead of authenticating.
    let (status, paid) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    assert_eq!(status, 200, "{paid}");
    let intents = shop.payment_intents().await;
    let status_of = |id: &Value| intents.iter().find(|pi| pi["id"] == *id).unwrap()["status"].clone();
    assert_eq!(status_of(&waiting["payment_intent"]), "canceled");
    assert_eq!(status_of(&paid["payment_intent"]), "succeeded");
    // Completing the old challenge now fails: it can no longer charge.
    let old = shop.payment_intents().await.into_iter().find(|pi| pi["id"] == waiting["payment_intent"]).unwrap();
    assert_eq!(shop.complete_challenge(&old).await, 400);
}

/// A shopper leaves a payment waiting for 3-D Secure and never comes back. Once it has
/// waited `ABANDON_AFTER_SECS` (here at once), reconciliation cancels it at Stripe as
/// `abandoned`: the order fails and its stock is back on sale, the challenge can no
/// longer charge, and the cart, still full, pays with another card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_cancels_a_payment_left_waiting_for_authentication_and_puts_its_stock_back() {
    let shop = shop_with(&[("RECONCILE_AFTER_SECS", "0"), ("RECONCILE_EVERY_SECS", "1"), ("ABANDON_AFTER_SECS", "0")]).await;
    let before = shop.store.stock_of("walnut-board").await.unwrap();
    shop.add("walnut-board", "2").await;
    let (status, waiting) = shop.pay(&shop.token("pm_card_threeDSecure2Required").await, &[]).await;
    assert_eq!((status, waiting["status"].as_str()), (200, Some("RequiresAction")), "{waiting}");
    let order_id = waiting["order_id"].as_str().unwrap();
    let status_of = || async {
        let (_, order) = shop.call(&shop.shopper, "orders/get", &[("id", order_id)]).await;
        order["status"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(support::poll_until(200, status_of, |status: &String| status == "failed").await, "failed");
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), before, "the stock is back");
    let intents = shop.payment_intents().await;
    assert_eq!(intents.len(), 1);
    let intent = &intents[0];
    assert_eq!((intent["status"].as_str(), intent["cancellation_reason"].as_str()), (Some("canceled"), Some("abandoned")));
    assert_eq!(shop.complete_challenge(intent).await, 400, "the challenge can no longer charge");
    let (status, paid) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    assert_eq!((status, paid["status"].as_str()), (200, Some("Succeeded")), "{paid}");
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), before - 2, "taken once, by the payment that went through");
}

/// A payment waits for 3-D Secure; meanwhile another tab adds to the cart, and the
/// page that still shows the old cart pays again. The refusal (the cart changed)
/// changes nothing: the waiting payment is not given up for a payment not made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_for_a_changed_cart_leaves_a_payment_waiting_for_authentication_alone() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    let (_, cart) = shop.call(&shop.shopper, "cart/get", &[]).await;
    let shown = cart["quote"].as_str().unwrap().to_owned();
    let (status, waiting) = shop.pay(&shop.token("pm_card_threeDSecure2Required").await, &[("quote", &shown)]).await;
    assert_eq!((status, waiting["status"].as_str()), (200, Some("RequiresAction")));
    shop.add("linen-tote", "1").await;
    let (status, changed) = shop.pay(&shop.token("pm_card_visa").await, &[("quote", &shown)]).await;
    assert_eq!(status, 409, "{changed}");
    let intents = shop.payment_intents().await;
    assert_eq!(intents.len(), 1);
    assert_eq!((&intents[0]["id"], intents[0]["status"].as_str()), (&waiting["payment_intent"], Some("requires_action")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_testing_and_code_guessing_are_rate_limited_per_session() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    // Twenty confirmations in ten minutes are allowed (these use unknown tokens and fail).
    for n in 0..20 {
        let (status, reply) = shop.pay(&format!("ctoken_made_up_{n}"), &[]).await;
        assert_eq!(status, 400, "attempt {n}: {reply}");
    }
    let response = shop
        .shopper
        .post(format!("{}/api/checkout/confirm", shop.base))
        .form(&[("confirmation_token", "ctoken_made_up_x")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry_after));
    // Refused before Stripe: even a good card waits.
    let token = shop.token("pm_card_visa").await;
    assert_eq!(shop.pay(&token, &[]).await.0, 429);
    assert!(shop.payment_intents().await.is_empty(), "no PaymentIntent was made");

    for n in 0..20 {
        let (status, _) = shop.call(&shop.shopper, "cart/discount", &[("code", &format!("GUESS{n}"))]).await;
        assert_eq!(status, 400, "guess {n}");
    }
    let (status, reply) = shop.call(&shop.shopper, "cart/discount", &[("code", "WELCOME10")]).await;
    assert_eq!(status, 429, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_list_of_payment_method_types_reaches_elements_and_the_intent() {
    let shop = shop_with(&[("STORE_PAYMENT_METHOD_TYPES", "card")]).await;
    shop.add("ceramic-mug", "1").await;
    let (status, view) = shop.call(&shop.shopper, "checkout/view", &[]).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["payment_method_types"], json!(["card"]), "Elements' allowedPaymentMethodTypes");

    // SEPA Debit (which Elements would not even offer): refused, the shopper told why.
    let sepa = support::sepa_token(&shop.shopper, &shop.stripe, "DE89370400440532013000").await;
    let (status, error) = shop.pay(&sepa, &[]).await;
    assert_eq!(status, 400, "{error}");
    assert!(error.to_string().contains("does not accept that payment method"), "{error}");

    // A card pays; the intent carries the list instead of automatic payment methods.
    let (status, paid) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    assert_eq!(status, 200, "{paid}");
    let intents = shop.payment_intents().await;
    let intent = intents.iter().find(|pi| pi["id"] == paid["payment_intent"]).unwrap();
    assert_eq!(intent["allowed_payment_method_types"], json!(["card"]));
    assert_eq!(intent["payment_method_types"], json!(["card"]));
    assert_eq!(intent["status"], "succeeded");

    // Without the setting, the Dashboard's methods (automatic payment methods).
    let shop = shop_with(&[]).await;
    shop.add("ceramic-mug", "1").await;
    let (_, view) = shop.call(&shop.shopper, "checkout/view", &[]).await;
    assert_eq!(view["payment_method_types"], Value::Null);
    let (_, paid) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    let intent = shop.payment_intents().await.into_iter().find(|pi| pi["id"] == paid["payment_intent"]).unwrap();
    assert_eq!(
        (intent["allowed_payment_method_types"].clone(), intent["automatic_payment_methods"]["enabled"].clone()),
        (Value::Null, json!(true))
    );
}

/// A redirect can come back in another browser than the one that paid (a bank's app
/// opens `return_url` in the phone's default browser), without the shop's cookie. The
/// client secret Stripe puts in `return_url` shows that browser the payment's outcome,
/// and nothing of the order; a wrong secret, or none, shows nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_returning_to_another_browser_shows_its_outcome_by_its_client_secret_only() {
    let shop = shop().await;
    shop.add("ceramic-mug", "1").await;
    let (status, reply) = shop.pay(&shop.token("pm_card_visa").await, &[]).await;
    assert_eq!(status, 200, "{reply}");
    let intent = reply["payment_intent"].as_str().unwrap();
    let url = format!("{}/v1/payment_intents/{intent}", shop.stripe);
    let secret = support::stripe_call(&support::client(), reqwest::Method::GET, url, "sk_test_tests", &[]).await["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let complete = |secret: &str| {
        format!("{}/checkout/complete?payment_intent={intent}&payment_intent_client_secret={secret}&redirect_status=succeeded", shop.base)
    };
    let other_browser = support::client();
    let page = other_browser.get(complete(&secret)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(r#"data-status="succeeded""#) && page.contains("Thank you! Your payment was received."), "{page}");
    assert!(page.contains("started in another browser") && !page.contains("/orders/"), "the order stays the session's: {page}");

    // A secret one character off (never the same one: the secret may end in either).
    let (kept, last) = secret.split_at(secret.len() - 1);
    let wrong = format!("{kept}{}", if last == "x" { "y" } else { "x" });
    for url in [complete(&wrong), complete(""), format!("{}/checkout/complete?payment_intent={intent}", shop.base)] {
        let page = other_browser.get(&url).send().await.unwrap();
        assert_eq!(page.status(), 404, "{url}");
        assert!(!page.text().await.unwrap().contains("payment-result"), "{url}");
    }
    // The browser that paid sees its order, as before.
    let own = shop.shopper.get(complete(&secret)).send().await.unwrap().text().await.unwrap();
    assert!(own.contains(&format!("/orders/{}", reply["order_id"].as_str().unwrap())) && !own.contains("another browser"), "{own}");
    // Once the merchant has deleted their test data, Stripe has no such payment: the
    // page says so (404), as for any other, rather than failing.
    support::wait_all_delivered(&shop.stripe).await;
    assert!(support::client().post(format!("{}/_emulator/reset", shop.stripe)).send().await.unwrap().status().is_success());
    let gone = shop.shopper.get(complete(&secret)).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    assert!(gone.text().await.unwrap().contains("There is no such payment."));
}
