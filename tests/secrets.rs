//! The Stripe secret key and the webhook signing secret never leave the server: not in
//! any page, server-function reply, header or asset, and not in any log line, through
//! a whole purchase with its webhooks, a declined card, and refused requests.

mod support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_in_no_reply_asset_or_log_line() {
    let logs = support::Captured::logs("trace,hyper=info,h2=info,reqwest=trace");

    let suffix: String = (0..24).map(|n| char::from(b'a' + (n * 7 % 26) as u8)).collect();
    let secret_key = format!("sk_test_{suffix}SECRETKEY");
    let webhook_secret = format!("whsec_{suffix}HOOKSECRET");
    let port = support::net::free_port();
    let emulator = stripe_emulator::spawn(stripe_emulator::Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        webhooks: vec![stripe_emulator::WebhookEndpoint {
            url: format!("http://127.0.0.1:{port}/webhook"),
            secret: webhook_secret.clone(),
        }],
        ..Default::default()
    })
    .await
    .unwrap();
    let stripe = emulator.base_url().to_owned();
    let site = format!("127.0.0.1:{port}");
    let (config, _, _db) = support::config(&[
        ("LEPTOS_SITE_ADDR", &site),
        ("STRIPE_SECRET_KEY", &secret_key),
        ("STRIPE_PUBLISHABLE_KEY", "pk_test_public"),
        ("STRIPE_API_BASE", &stripe),
        ("STRIPE_JS_URL", &format!("{stripe}/v3/")),
        ("STRIPE_WEBHOOK_SECRET", &webhook_secret),
    ]);
    let running = support::serve(config).await;
    let base = running.base.clone();
    let shopper = support::shopper();
    let mut seen = String::new();
    let mut fetch = async |request: reqwest::RequestBuilder| {
        let reply = request.send().await.unwrap();
        for (name, value) in reply.headers() {
            seen.push_str(&format!("{name}: {}\n", value.to_str().unwrap_or_default()));
        }
        seen.push_str(&reply.text().await.unwrap());
    };

    for path in
        ["/", "/cart", "/checkout", "/account", "/orders/ord_x", "/checkout/complete?payment_intent=pi_x", "/health", "/no-such-page"]
    {
        fetch(shopper.get(format!("{base}{path}"))).await;
    }
    fetch(shopper.post(format!("{base}/api/cart/add")).form(&[("product_id", "ceramic-mug"), ("quantity", "1")])).await;
    fetch(shopper.get(format!("{base}/checkout"))).await;
    fetch(shopper.post(format!("{base}/api/checkout/view"))).await;
    // A decline, then a payment whose webhooks arrive, signed with the secret.
    let declined = support::test_token(&shopper, &stripe, "pm_card_chargeDeclinedInsufficientFunds").await;
    fetch(shopper.post(format!("{base}/api/checkout/confirm")).form(&[("confirmation_token", declined.as_str())])).await;
    let token = support::test_token(&shopper, &stripe, "pm_card_visa").await;
    fetch(shopper.post(format!("{base}/api/checkout/confirm")).form(&[("confirmation_token", token.as_str())])).await;
    // Refused requests: a forged webhook, malformed input.
    fetch(shopper.post(format!("{base}/webhook")).header("stripe-signature", "t=1,v1=00").body("{}")).await;
    fetch(shopper.post(format!("{base}/api/checkout/confirm")).form(&[("confirmation_token", "ctoken_")])).await;
    // Wait (bounded) until the paid order's webhook has been applied and logged.
    support::poll_until(200, || async { logs.text().contains("payment_intent.succeeded") }, |seen| *seen).await;
    let log = logs.text();
    assert!(log.contains("webhook applied") && log.contains("payment_intent.succeeded"), "the flow did not run: {log}");

    for secret in [&secret_key, &webhook_secret, &suffix] {
        assert!(!seen.contains(secret.as_str()), "a reply carries {secret}");
        assert!(!log.contains(secret.as_str()), "the log carries {secret}");
    }
    assert!(seen.contains("pk_test_public"), "the publishable key is meant for the browser");
}
