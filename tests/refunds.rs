//! Refunds from the merchant's order view: part, then the rest; a double submit refunds
//! once; more than remains is refused before Stripe is asked; the stock goes back only
//! when the merchant says so, once; Stripe's refund webhooks, redelivered or out of
//! order, count each refund once; the shopper's order page shows them.

use serde_json::{Value, json};
use storefront::store::{OrderStatus, RefundStatus};

mod support;

use support::Shop;

const SECRET: &str = "whsec_refund_tests";
const ADMIN: &str = "merchant-token-0123456789";

async fn shop() -> Shop {
    Shop::start(&[("STRIPE_WEBHOOK_SECRET", SECRET), ("ADMIN_TOKEN", ADMIN)]).await
}

impl Shop {
    /// A paid order of one walnut board (69.00 EUR; stock 8 → 7).
    async fn paid_order(&self) -> (String, String) {
        self.order_paid_with("pm_card_visa").await
    }

    /// One walnut board bought with the test PaymentMethod `card`: the checkout's reply.
    async fn buy_with(&self, card: &str) -> Value {
        self.shopper
            .post(format!("{}/api/cart/add", self.base))
            .form(&[("product_id", "walnut-board"), ("quantity", "1")])
            .send()
            .await
            .unwrap();
        let token = support::test_token(&self.shopper, &self.stripe, card).await;
        support::post_form(&self.shopper, format!("{}/api/checkout/confirm", self.base), &[("confirmation_token", token.as_str())]).await
    }

    /// A paid order of one walnut board, paid with the test PaymentMethod `card`.
    async fn order_paid_with(&self, card: &str) -> (String, String) {
        let reply = self.buy_with(card).await;
        let order_id = reply["order_id"].as_str().unwrap().to_owned();
        let paid = support::poll_until(
            100,
            || async { self.store.order_for_merchant(&order_id).await.unwrap().map(|o| o.status) },
            |status: &Option<OrderStatus>| *status == Some(OrderStatus::Paid),
        )
        .await;
        assert_eq!(paid, Some(OrderStatus::Paid));
        (order_id, reply["payment_intent"].as_str().unwrap().to_owned())
    }

    async fn admin_page(&self, order_id: &str) -> String {
        support::admin_page(&format!("{}/admin/orders/{order_id}", self.base), ADMIN).await
    }

    /// The nonce the refund form carries (one per rendering of the page).
    async fn form_nonce(&self, order_id: &str) -> String {
        support::form_nonce(&self.admin_page(order_id).await, &format!("/admin/orders/{order_id}/refunds"))
    }

    /// Posts the refund form; the redirect's `Location` (where the page says what happened).
    async fn refund(&self, order_id: &str, form: &[(&str, &str)]) -> String {
        support::admin_post(format!("{}/admin/orders/{order_id}/refunds", self.base), ADMIN, form).await
    }

    /// The refunds Stripe holds for the PaymentIntent.
    async fn stripe_refunds(&self, payment_intent: &str) -> Vec<Value> {
        let url = format!("{}/v1/refunds?payment_intent={payment_intent}", self.stripe);
        let list = support::stripe_call(&support::client(), reqwest::Method::GET, url, "sk_test_refunds", &[]).await;
        list["data"].as_array().unwrap().clone()
    }

    /// How many requests Stripe has had for `path`.
    async fn requests_to(&self, path: String) -> usize {
        let url = format!("{}/_emulator/requests?path={path}", self.stripe);
        let requests: Value = support::client().get(url).send().await.unwrap().json().await.unwrap();
        requests["data"].as_array().unwrap().len()
    }

    async fn refunded(&self, order_id: &str) -> i64 {
        self.store.refunds_of(order_id).await.unwrap().refunded
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merchant_refunds_part_then_the_rest_and_the_shopper_sees_it() {
    let shop = shop().await;
    let (order_id, payment_intent) = shop.paid_order().await;
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), 7);

    // A double click: the same form sent twice refunds once.
    let nonce = shop.form_nonce(&order_id).await;
    let form = [("amount", "20.00"), ("reason", "requested_by_customer"), ("request", nonce.as_str())];
    let (first, second) = tokio::join!(shop.refund(&order_id, &form), shop.refund(&order_id, &form));
    assert!(first.contains("refunded=re_") && second.contains("refunded=re_"), "{first} {second}");
    let at_stripe = shop.stripe_refunds(&payment_intent).await;
    assert_eq!(at_stripe.len(), 1, "{at_stripe:?}");
    assert_eq!(at_stripe[0]["metadata"]["order_id"], order_id.as_str());
    assert_eq!(shop.refunded(&order_id).await, 2000);
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), 7, "no restock unless asked");

    // More than remains is refused before Stripe is asked, and says how much is left.
    let nonce = shop.form_nonce(&order_id).await;
    let too_much = shop.refund(&order_id, &[("amount", "49.01"), ("request", nonce.as_str())]).await;
    assert!(too_much.contains("error=") && too_much.contains("49"), "{too_much}");
    let page = support::admin_page(&format!("{}{too_much}", shop.base), ADMIN).await;
    assert!(page.contains("admin-refund-error") && page.contains("At most"), "{page}");
    assert_eq!(shop.stripe_refunds(&payment_intent).await.len(), 1);
    // A link made by anyone else shows no notice: no refund that was never made, no
    // words of its own in the page's error style.
    for forged in
        ["refunded=re_forged", "error=Stripe+closed+your+account%3A+call+us", "refunded=re_forged&seal=00ff", "captured=pi_forged"]
    {
        let page = support::admin_page(&format!("{}/admin/orders/{order_id}?{forged}", shop.base), ADMIN).await;
        assert!(page.contains("admin-refund-form"), "the page itself is shown: {page}");
        for shown in ["forged", "call us", "admin-refund-done", "admin-refund-error", "admin-capture-done"] {
            assert!(!page.contains(shown), "{forged}: {shown} in {page}");
        }
    }
    // Not a number: refused, nothing sent.
    let nonce = shop.form_nonce(&order_id).await;
    assert!(shop.refund(&order_id, &[("amount", "twelve"), ("request", nonce.as_str())]).await.contains("error="));

    // The rest, with the goods back in stock.
    let nonce = shop.form_nonce(&order_id).await;
    let rest = shop.refund(&order_id, &[("amount", "49,00"), ("restock", "yes"), ("request", nonce.as_str())]).await;
    assert!(rest.contains("refunded=re_"), "{rest}");
    assert_eq!(shop.refunded(&order_id).await, 6900);
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), 8);
    let page = shop.admin_page(&order_id).await;
    assert!(!page.contains("admin-refund-form"), "nothing left to refund");

    // The shopper's order page lists both refunds.
    let order = support::post_form(&shop.shopper, format!("{}/api/orders/get", shop.base), &[("id", order_id.as_str())]).await;
    assert_eq!(order["refunds"].as_array().unwrap().len(), 2, "{order}");
    assert_eq!(order["refunded"]["amount"], 6900, "{order}");
    let html = shop.shopper.get(format!("{}/orders/{order_id}", shop.base)).send().await.unwrap().text().await.unwrap();
    assert_eq!(html.matches("data-testid=\"order-refund\"").count(), 2);

    // Stripe's webhooks for these refunds, delivered again: nothing counted twice.
    let events = support::stripe_call(
        &support::client(),
        reqwest::Method::GET,
        format!("{}/v1/events?type=refund.created", shop.stripe),
        "sk_test_refunds",
        &[],
    )
    .await;
    for event in events["data"].as_array().unwrap() {
        let url = format!("{}/_emulator/events/{}/resend", shop.stripe, event["id"].as_str().unwrap());
        assert!(support::client().post(url).send().await.unwrap().status().is_success());
    }
    let settled = support::poll_until(
        100,
        || async {
            let deliveries: Value =
                support::client().get(format!("{}/_emulator/deliveries", shop.stripe)).send().await.unwrap().json().await.unwrap();
            deliveries["data"].as_array().unwrap().iter().all(|d| d["status"] == "succeeded")
        },
        |done| *done,
    )
    .await;
    assert!(settled);
    assert_eq!(shop.refunded(&order_id).await, 6900);
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), 8, "restocked once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_that_fails_at_the_bank_is_given_back_and_flagged_for_the_merchant() {
    let shop = shop().await;
    // Stripe's refund-failure card: the refund succeeds, then fails a little later.
    let (order_id, _) = shop.order_paid_with("pm_card_refundFail").await;
    let nonce = shop.form_nonce(&order_id).await;
    let refunded = shop.refund(&order_id, &[("amount", "69.00"), ("request", nonce.as_str())]).await;
    assert!(refunded.contains("refunded=re_"), "{refunded}");
    assert_eq!(shop.refunded(&order_id).await, 6900, "succeeded, as Stripe first says");

    let failed = support::poll_until(
        200,
        || async { shop.store.refunds_of(&order_id).await.unwrap() },
        |refunds: &storefront::store::Refunds| refunds.refunds[0].status == RefundStatus::Failed,
    )
    .await;
    assert_eq!(failed.refunds[0].status, RefundStatus::Failed, "refund.failed recorded");
    assert_eq!(failed.refunds[0].failure_reason.as_deref(), Some("expired_or_canceled_card"));
    assert_eq!(failed.refunded, 0, "the money did not go back");

    // The merchant sees that the shopper still waits for it, in the list and the order.
    assert_eq!(shop.store.order_flags(&order_id).await.unwrap().flags, ["refund_failed"]);
    let list = support::admin_page(&format!("{}/admin/orders", shop.base), ADMIN).await;
    let row = list.split("<tr").find(|row| row.contains(&format!("admin-order-{order_id}"))).expect("the order's row");
    assert!(row.contains("refund_failed") && row.contains(">paid<"), "{row}");
    let page = shop.admin_page(&order_id).await;
    assert!(page.contains("data-testid=\"admin-refund-failed\""), "{page}");
    assert!(page.contains("failed (expired_or_canceled_card)"), "{page}");
    // The merchant's email about it has nowhere to go in this shop, and says why.
    let outbox = support::poll_until(
        100,
        || async { shop.store.outbox_for(&order_id).await.unwrap() },
        |messages: &Vec<storefront::store::OutboxEntry>| messages.iter().any(|m| m.kind.starts_with("merchant.") && m.status != "waiting"),
    )
    .await;
    let alert = outbox.iter().find(|m| m.kind.starts_with("merchant.refund_failed.re_")).expect("a message to the merchant");
    assert_eq!((alert.status, alert.last_error.as_deref()), ("failed", Some("MERCHANT_EMAIL is not set")), "{outbox:?}");
    // The shopper's page no longer says it was refunded.
    let order = support::post_form(&shop.shopper, format!("{}/api/orders/get", shop.base), &[("id", order_id.as_str())]).await;
    assert_eq!((order["status"].as_str(), order["refunds"].as_array().map(Vec::len)), (Some("paid"), Some(0)), "{order}");
}

async fn deliver(shop: &Shop, event: &Value) -> u16 {
    support::deliver_signed(&shop.base, SECRET, event).await
}

fn refund_event(id: &str, kind: &str, refund: &str, payment_intent: &str, order: Option<&str>, status: &str) -> Value {
    json!({
        "id": id, "object": "event", "type": kind, "created": 1, "livemode": false, "api_version": "2026-10-28.endive",
        "pending_webhooks": 1, "request": { "id": null, "idempotency_key": null },
        "data": { "object": {
            "id": refund, "object": "refund", "amount": 1500, "currency": "eur", "status": status, "reason": null,
            "payment_intent": payment_intent, "metadata": order.map_or(json!({}), |order| json!({ "order_id": order })),
        } },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_webhooks_in_any_order_count_each_refund_once_and_a_failure_gives_it_back() {
    let shop = shop().await;
    let (order_id, payment_intent) = shop.paid_order().await;
    // A refund made in the Dashboard (no order in its metadata): found by its PaymentIntent.
    let succeeded = refund_event("evt_r1", "refund.updated", "re_dash_1", &payment_intent, None, "succeeded");
    let pending = refund_event("evt_r0", "refund.created", "re_dash_1", &payment_intent, None, "pending");
    assert_eq!(deliver(&shop, &succeeded).await, 200);
    assert_eq!(deliver(&shop, &pending).await, 200, "late and stale");
    assert_eq!(deliver(&shop, &succeeded).await, 200, "again");
    assert_eq!(shop.refunded(&order_id).await, 1500);
    let refunds = shop.store.refunds_of(&order_id).await.unwrap();
    assert_eq!(refunds.refunds[0].status, RefundStatus::Succeeded);

    // Stripe later says the refund failed (the card account was closed): the money did
    // not go back after all.
    let failed = refund_event("evt_r2", "refund.failed", "re_dash_1", &payment_intent, Some(&order_id), "failed");
    assert_eq!(deliver(&shop, &failed).await, 200);
    assert_eq!(shop.refunded(&order_id).await, 0);
    // Failed is final: a report of its success delivered late (`refund.created`, sent
    // when it succeeded) is stale.
    let created = refund_event("evt_r1b", "refund.created", "re_dash_1", &payment_intent, None, "succeeded");
    assert_eq!(deliver(&shop, &created).await, 200, "late and stale");
    assert_eq!(shop.refunded(&order_id).await, 0);
    assert_eq!(shop.store.refunds_of(&order_id).await.unwrap().refunds[0].status, RefundStatus::Failed);

    // A refund for no order of this shop is acknowledged and changes nothing.
    let stranger = refund_event("evt_r3", "refund.created", "re_other", "pi_not_ours", None, "succeeded");
    assert_eq!(deliver(&shop, &stranger).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_are_refused_from_other_sites_for_unpaid_orders_and_without_the_token() {
    let shop = shop().await;
    let (order_id, _) = shop.paid_order().await;
    let nonce = shop.form_nonce(&order_id).await;
    let form = [("amount", "1.00"), ("request", nonce.as_str())];
    let url = format!("{}/admin/orders/{order_id}/refunds", shop.base);
    let no_token = support::client().post(&url).form(&form).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    // A page of another site posting with the merchant's remembered credentials.
    let cross_site = support::client()
        .post(&url)
        .basic_auth("m", Some(ADMIN))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let fetch_site =
        support::client().post(&url).basic_auth("m", Some(ADMIN)).header("sec-fetch-site", "cross-site").form(&form).send().await.unwrap();
    assert_eq!(fetch_site.status(), 403);
    // A forged or missing nonce: refused.
    assert!(shop.refund(&order_id, &[("amount", "1.00"), ("request", "x")]).await.contains("error="));
    // A body that is no refund form: without the token it is refused as any request
    // without the token is (nothing about the body first); with it, the page says to
    // reload, as for an expired form.
    let json = support::client().post(&url).header("content-type", "application/json").body("{}").send().await.unwrap();
    assert_eq!(json.status(), 401);
    let missing = support::client().post(&url).form(&[("amount", "1.00")]).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert!(shop.refund(&order_id, &[("amount", "1.00")]).await.contains("error=The+form+has+expired"));
    let not_utf8 = support::client()
        .post(format!("{}/admin/orders/%FF/refunds", shop.base))
        .basic_auth("m", Some(ADMIN))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(not_utf8.status(), 404);
    assert_eq!(shop.refunded(&order_id).await, 0);
}

/// The payment was refunded in Stripe's Dashboard and its webhooks never reached the
/// shop, whose order still shows all of it refundable. The merchant's refund is refused
/// by Stripe: the shop then records the payment's refunds as Stripe lists them, and the
/// page says so instead of offering a refund of money already given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_refused_for_money_refunded_elsewhere_records_what_stripe_lists() {
    let shop = shop().await;
    let (order_id, payment_intent) = shop.paid_order().await;
    support::miss_webhooks_from_now_on(&shop.stripe).await;
    let url = format!("{}/v1/refunds", shop.stripe);
    let elsewhere =
        support::stripe_call(&support::client(), reqwest::Method::POST, url, "sk_test_refunds", &[("payment_intent", &payment_intent)])
            .await;
    assert_eq!(elsewhere["amount"], 6900, "{elsewhere}");
    assert_eq!(shop.refunded(&order_id).await, 0, "the shop has not heard");

    let nonce = shop.form_nonce(&order_id).await;
    let refused = shop.refund(&order_id, &[("amount", "10.00"), ("request", nonce.as_str())]).await;
    assert!(refused.contains("error="), "{refused}");
    assert_eq!(shop.refunded(&order_id).await, 6900);
    assert_eq!(shop.stripe_refunds(&payment_intent).await.len(), 1, "nothing refunded twice");
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), 7, "a refund from the Dashboard restocks nothing");
    let page = shop.admin_page(&order_id).await;
    assert!(!page.contains("admin-refund-form") && page.contains(elsewhere["id"].as_str().unwrap()), "{page}");
}

/// The order page links to Stripe's receipt for the payment, asked for when the shopper
/// follows the link: it then shows the refunds made since. Anyone else's order has none
/// to follow, nor does an order that was not paid, and a Stripe that does not answer
/// is said as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_page_links_to_stripes_receipt_which_shows_the_refunds_made_since() {
    let shop = shop().await;
    let (order_id, payment_intent) = shop.paid_order().await;
    let page = shop.shopper.get(format!("{}/orders/{order_id}", shop.base)).send().await.unwrap().text().await.unwrap();
    let link = format!("/orders/{order_id}/receipt");
    assert!(page.contains(&format!("href=\"{link}\" data-testid=\"order-receipt\"")), "{page}");
    // Only a subscription's orders have an invoice.
    assert!(!page.contains("order-invoice"), "{page}");
    let none = shop.shopper.get(format!("{}/orders/{order_id}/invoice", shop.base)).send().await.unwrap();
    assert_eq!(none.status(), 404);
    assert!(none.text().await.unwrap().contains("This order has no invoice"));

    let url = format!("{}/v1/payment_intents/{payment_intent}?expand[]=latest_charge", shop.stripe);
    let intent = support::stripe_call(&support::client(), reqwest::Method::GET, url, "sk_test_refunds", &[]).await;
    let at_stripe = intent["latest_charge"]["receipt_url"].as_str().unwrap().to_owned();
    let follow = || async {
        let reply = shop.shopper.get(format!("{}{link}", shop.base)).send().await.unwrap();
        (reply.status().as_u16(), reply.url().to_string(), reply.text().await.unwrap())
    };
    let (status, landed, receipt) = follow().await;
    assert_eq!((status, landed.as_str()), (200, at_stripe.as_str()));
    assert!(receipt.contains("Amount paid: <strong>€69.00</strong>") && !receipt.contains("Refunded"), "{receipt}");

    let nonce = shop.form_nonce(&order_id).await;
    assert!(shop.refund(&order_id, &[("amount", "20.00"), ("request", nonce.as_str())]).await.contains("refunded=re_"));
    let (_, landed, receipt) = follow().await;
    assert_eq!(landed, at_stripe);
    assert!(receipt.contains("Refunded: <strong>−€20.00</strong>"), "{receipt}");

    // Stripe not answering: the shopper is told, in the page, to try again.
    let rule = json!({ "path": format!("/v1/payment_intents/{payment_intent}"), "method": "GET", "status": 503, "should_retry": false, "count": 1 });
    assert!(support::client().post(format!("{}/_emulator/faults", shop.stripe)).json(&rule).send().await.unwrap().status().is_success());
    let (status, _, page) = follow().await;
    assert_eq!(status, 503);
    assert!(page.contains("not answering right now"), "{page}");

    // Another shopper: no such order for them, and Stripe is not asked.
    let asked = || shop.requests_to(format!("/v1/payment_intents/{payment_intent}"));
    let before = asked().await;
    let stranger = support::shopper().get(format!("{}{link}", shop.base)).send().await.unwrap();
    assert_eq!(stranger.status(), 404);
    assert!(stranger.text().await.unwrap().contains("There is no order with this number for you."));
    assert_eq!(asked().await, before);

    // A declined payment's order: no link, and no receipt at its address.
    let declined = shop.buy_with("pm_card_chargeDeclined").await;
    assert!(declined["Declined"].is_object(), "{declined}");
    let failed = shop.store.list_orders(Some(OrderStatus::Failed), 10).await.unwrap();
    let failed = &failed.first().expect("the declined payment's order").id;
    let page = shop.shopper.get(format!("{}/orders/{failed}", shop.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("data-testid=\"order-status\"") && !page.contains("order-receipt"), "{page}");
    let none = shop.shopper.get(format!("{}/orders/{failed}/receipt", shop.base)).send().await.unwrap();
    assert_eq!(none.status(), 404);
    assert!(none.text().await.unwrap().contains("This order has no receipt"));

    // Once the merchant has deleted their test data, Stripe has no such payment: no
    // receipt (404), rather than a fault.
    support::wait_all_delivered(&shop.stripe).await;
    assert!(support::client().post(format!("{}/_emulator/reset", shop.stripe)).send().await.unwrap().status().is_success());
    let (status, _, page) = follow().await;
    assert_eq!(status, 404);
    assert!(page.contains("This order has no receipt"), "{page}");
}

/// Each receipt looked up is a call to Stripe, whose rate limit the whole shop shares: a
/// session gets 20 in ten minutes, then a 429 that says when to come back, and Stripe is
/// not asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_looked_up_again_and_again_are_limited_before_stripe_is_asked() {
    let shop = shop().await;
    let (order_id, payment_intent) = shop.paid_order().await;
    let link = format!("{}/orders/{order_id}/receipt", shop.base);
    for _ in 0..20 {
        assert_eq!(shop.shopper.get(&link).send().await.unwrap().status(), 200);
    }
    let path = format!("/v1/payment_intents/{payment_intent}");
    let asked = shop.requests_to(path.clone()).await;
    let refused = shop.shopper.get(&link).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().get("retry-after").is_some_and(|after| after.to_str().unwrap().parse::<u64>().unwrap() > 0));
    let page = refused.text().await.unwrap();
    assert!(page.contains("Too many attempts"), "{page}");
    assert_eq!(shop.requests_to(path).await, asked);
    // The order page itself is still there, receipt link and all.
    let order = shop.shopper.get(format!("{}/orders/{order_id}", shop.base)).send().await.unwrap();
    assert_eq!(order.status(), 200);
    assert!(order.text().await.unwrap().contains("order-receipt"));
}
