//! Stripe's events reaching the storefront: signed deliveries from the embedded
//! emulator, and hand-made ones (signed by the emulator's independent signer) sent
//! twice, fifty times at once, out of order, or forged.

use serde_json::{Value, json};
use storefront::store::Store;

mod support;

use support::Shop;

const SECRET: &str = "whsec_webhook_tests";
const ADMIN: &str = "merchant-token-0123456789";

async fn shop() -> Shop {
    Shop::start(&[("STRIPE_WEBHOOK_SECRET", SECRET), ("ADMIN_TOKEN", ADMIN)]).await
}

impl Shop {
    async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self.shopper.post(format!("{}/api/{endpoint}", self.base)).form(form).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// An order for one walnut board (stock 8), paid with `payment_method`.
    async fn order(&self, payment_method: &str) -> Value {
        self.call("cart/add", &[("product_id", "walnut-board"), ("quantity", "1")]).await;
        let token = support::test_token(&self.shopper, &self.stripe, payment_method).await;
        let (status, reply) = self.call("checkout/confirm", &[("confirmation_token", token.as_str())]).await;
        assert_eq!(status, 200, "{reply}");
        reply
    }

    async fn order_status(&self, order_id: &str) -> String {
        self.call("orders/get", &[("id", order_id)]).await.1["status"].as_str().unwrap_or_default().to_owned()
    }

    /// The order's flags once they are `want` (or the last ones read, if they never are).
    async fn flags_once(&self, order_id: &str, want: &[&str]) -> Vec<String> {
        support::poll_until(100, || async { self.store.order_flags(order_id).await.unwrap().flags }, |flags| flags == want).await
    }

    /// Checks what the merchant was told of the order: one message for each `(what,
    /// says)` (kind `merchant.{what}`, its text saying `says`), and no other.
    async fn told_merchant(&self, order_id: &str, expected: &[(&str, &str)]) {
        let outbox = self.store.outbox_for(order_id).await.unwrap();
        let told: Vec<_> = outbox.iter().filter_map(|m| Some((m.kind.strip_prefix("merchant.")?, m.body.as_str()))).collect();
        assert_eq!(told.len(), expected.len(), "{told:?}");
        for (what, says) in expected {
            assert!(told.iter().any(|(kind, body)| kind == what && body.contains(says)), "{what}, {says}: {told:?}");
        }
    }

    /// An order paid with a dispute test card (`card`), once its dispute shows as
    /// `flag`: the reply of `checkout/confirm`, and the order's id.
    async fn disputed_order(&self, card: &str, flag: &str) -> (Value, String) {
        let paid = self.order(card).await;
        let order_id = paid["order_id"].as_str().unwrap().to_owned();
        assert_eq!(self.flags_once(&order_id, &[flag]).await, [flag], "{card}");
        (paid, order_id)
    }

    /// The id of the dispute of the order `paid` (a reply of `checkout/confirm`).
    async fn dispute_of(&self, paid: &Value) -> String {
        let url = format!("{}/v1/disputes?payment_intent={}", self.stripe, paid["payment_intent"].as_str().unwrap());
        let listed = support::stripe_call(&self.shopper, reqwest::Method::GET, url, "sk_test_tests", &[]).await;
        listed["data"][0]["id"].as_str().unwrap().to_owned()
    }

    /// The merchant submits `evidence` (Stripe's test texts decide at once).
    async fn answer_dispute(&self, dispute: &str, evidence: &str) {
        let url = format!("{}/v1/disputes/{dispute}", self.stripe);
        support::stripe_call(&self.shopper, reqwest::Method::POST, url, "sk_test_tests", &[("evidence[uncategorized_text]", evidence)])
            .await;
    }

    /// The merchant accepts the dispute as lost.
    async fn close_dispute(&self, dispute: &str) {
        let url = format!("{}/v1/disputes/{dispute}/close", self.stripe);
        support::stripe_call(&self.shopper, reqwest::Method::POST, url, "sk_test_tests", &[]).await;
    }

    /// The shopper answers the 3-D Secure challenge of PaymentIntent `intent` (`complete`
    /// or `fail`), as the emulator's challenge page does.
    async fn answer_challenge(&self, intent: &str, client_secret: &Value, result: &str) {
        let reply = self
            .shopper
            .post(format!("{}/_emulator/3ds/{intent}", self.stripe))
            .json(&json!({ "client_secret": client_secret, "result": result }))
            .send()
            .await
            .unwrap();
        assert!(reply.status().is_success(), "{}", reply.status());
    }

    async fn deliver(&self, event: &Value) -> u16 {
        support::deliver_signed(&self.base, SECRET, event).await
    }

    async fn merchant_page(&self, order_id: &str) -> String {
        support::admin_page(&format!("{}/admin/orders/{order_id}", self.base), ADMIN).await
    }

    /// The "mark handled" form's `seen` on the merchant's page of the order, if it has
    /// the form.
    async fn handled_form(&self, order_id: &str) -> Option<String> {
        let page = self.merchant_page(order_id).await;
        let start = page.find(r#"name="seen" value=""#)? + r#"name="seen" value=""#.len();
        page[start..].split('"').next().map(str::to_owned)
    }

    /// Posts the "mark handled" form with `seen`, as the merchant's browser does; where
    /// the reply sends the merchant.
    async fn mark_handled(&self, order_id: &str, seen: &str) -> String {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let reply = client
            .post(format!("{}/admin/orders/{order_id}/handled", self.base))
            .basic_auth("merchant", Some(ADMIN))
            .header("sec-fetch-site", "same-origin")
            .form(&[("seen", seen)])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 303, "{:?}", reply.text().await);
        reply.headers()["location"].to_str().unwrap().to_owned()
    }

    async fn flagged_list(&self) -> String {
        support::admin_page(&format!("{}/admin/orders?flagged=1", self.base), ADMIN).await
    }
}

/// A `charge.dispute.created` for the charge of `intent`, as Stripe sends it.
fn dispute_opened(id: &str, dispute: &str, intent: &str) -> Value {
    json!({
        "id": id, "object": "event", "type": "charge.dispute.created", "created": 1, "livemode": false,
        "api_version": "2026-10-28.endive", "pending_webhooks": 1, "request": { "id": null, "idempotency_key": null },
        "data": { "object": { "id": dispute, "object": "dispute", "status": "needs_response", "payment_intent": intent } },
    })
}

fn event(id: &str, kind: &str, order_id: &str, intent: &str, amount: i64) -> Value {
    json!({
        "id": id, "object": "event", "type": kind, "created": 1, "livemode": false, "api_version": "2026-10-28.endive",
        "pending_webhooks": 1, "request": { "id": null, "idempotency_key": null },
        "data": { "object": { "id": intent, "object": "payment_intent", "amount": amount, "currency": "eur", "status": "succeeded",
                               "metadata": { "order_id": order_id } } },
    })
}

async fn stock(store: &Store) -> u32 {
    store.stock_of("walnut-board").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_becomes_a_paid_order_through_the_emulators_signed_webhooks() {
    let shop = shop().await;
    let paid = shop.order("pm_card_visa").await;
    let order_id = paid["order_id"].as_str().unwrap();
    let status = support::poll_until(100, || shop.order_status(order_id), |status: &String| status == "paid").await;
    assert_eq!(status, "paid");
    assert_eq!(stock(&shop.store).await, 7);
    let outbox = shop.store.outbox_for(order_id).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert!(outbox[0].body.contains("1 × Walnut serving board"), "{outbox:?}");
    // Each of the payment's events was answered 200 the first time (once all are in:
    // the order is paid as soon as its own event is, while others may still be on the way).
    let deliveries = support::wait_all_delivered(&shop.stripe).await;
    assert!(deliveries.iter().all(|d| d["attempts"][0]["status"] == 200), "{deliveries:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_report_of_a_failed_payment_waiting_for_the_shopper_does_not_reopen_its_order() {
    let shop = shop().await;
    let waiting = shop.order("pm_card_threeDSecure2Required").await;
    assert_eq!(waiting["status"], "RequiresAction", "{waiting}");
    let (order_id, intent) = (waiting["order_id"].as_str().unwrap(), waiting["payment_intent"].as_str().unwrap());
    // The shopper fails the bank's challenge: Stripe says the payment failed.
    shop.answer_challenge(intent, &waiting["client_secret"], "fail").await;
    support::wait_delivered(&shop.stripe, "payment_intent.payment_failed").await;
    assert_eq!(shop.order_status(order_id).await, "failed");

    // The event that said it waited for the shopper comes now (Stripe promises no
    // order), as does one of processing: the order stays failed, its stock released.
    for (id, kind) in [("evt_late_action", "payment_intent.requires_action"), ("evt_late_processing", "payment_intent.processing")] {
        assert_eq!(shop.deliver(&event(id, kind, order_id, intent, 4500)).await, 200);
        assert_eq!(shop.order_status(order_id).await, "failed", "{kind}");
    }
    assert_eq!(stock(&shop.store).await, 8);

    // Paid again (a new attempt, its own PaymentIntent): the late reports of the first
    // attempt do not touch it either.
    let paid = shop.order("pm_card_visa").await;
    assert_eq!(paid["order_id"], order_id, "the same order, paid by its second attempt");
    let status = support::poll_until(100, || shop.order_status(order_id), |status: &String| status == "paid").await;
    assert_eq!(status, "paid");
    assert_eq!(shop.deliver(&event("evt_later_action", "payment_intent.requires_action", order_id, intent, 4500)).await, 200);
    assert_eq!(shop.order_status(order_id).await, "paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_copies_of_one_event_fulfil_once() {
    let shop = shop().await;
    // 3-D Secure pending: Stripe has sent no success yet; we deliver it ourselves.
    let waiting = shop.order("pm_card_threeDSecure2Required").await;
    let (order_id, intent) = (waiting["order_id"].as_str().unwrap(), waiting["payment_intent"].as_str().unwrap());
    let succeeded = event("evt_concurrent", "payment_intent.succeeded", order_id, intent, 6900);
    let statuses = futures_util::future::join_all((0..50).map(|_| shop.deliver(&succeeded))).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(shop.order_status(order_id).await, "paid");
    assert_eq!(stock(&shop.store).await, 7, "stock taken once");
    assert_eq!(shop.store.outbox_for(order_id).await.unwrap().len(), 1, "one confirmation");

    // Late and out of order: a `processing` after `succeeded` leaves it paid.
    let late = event("evt_late", "payment_intent.processing", order_id, intent, 6900);
    assert_eq!(shop.deliver(&late).await, 200);
    let failed = event("evt_failed", "payment_intent.payment_failed", order_id, intent, 6900);
    assert_eq!(shop.deliver(&failed).await, 200);
    assert_eq!(shop.order_status(order_id).await, "paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charge_for_another_amount_is_flagged_not_fulfilled() {
    let shop = shop().await;
    let waiting = shop.order("pm_card_threeDSecure2Required").await;
    let (order_id, intent) = (waiting["order_id"].as_str().unwrap(), waiting["payment_intent"].as_str().unwrap());
    assert_eq!(shop.deliver(&event("evt_cheap", "payment_intent.succeeded", order_id, intent, 100)).await, 200);
    assert_ne!(shop.order_status(order_id).await, "paid");
    assert_eq!(shop.store.order_flags(order_id).await.unwrap().flags, ["amount_mismatch"]);
    let outbox = shop.store.outbox_for(order_id).await.unwrap();
    let kinds: Vec<&str> = outbox.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["merchant.amount_mismatch"], "no confirmation; the merchant is told");
    assert!(outbox[0].body.contains("costs €69.00, but its payment") && outbox[0].body.contains("took €1.00"), "{outbox:?}");
    assert_eq!(stock(&shop.store).await, 7, "still only reserved for the payment in progress");
    // That charge is then disputed: the merchant sees both, the mismatch not hidden.
    assert_eq!(shop.deliver(&dispute_opened("evt_cheap_disputed", "dp_cheap", intent)).await, 200);
    assert_eq!(shop.store.order_flags(order_id).await.unwrap().flags, ["amount_mismatch", "disputed"]);
    let list = support::admin_page(&format!("{}/admin/orders", shop.base), ADMIN).await;
    assert!(list.contains("<td>amount_mismatch, disputed · <strong"), "{list}");
    let detail = support::admin_page(&format!("{}/admin/orders/{order_id}", shop.base), ADMIN).await;
    assert!(detail.contains("flagged: amount_mismatch, disputed"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_unsigned_and_stale_deliveries_are_refused_and_change_nothing() {
    let shop = shop().await;
    let waiting = shop.order("pm_card_threeDSecure2Required").await;
    let (order_id, intent) = (waiting["order_id"].as_str().unwrap(), waiting["payment_intent"].as_str().unwrap());
    let payload = serde_json::to_vec(&event("evt_forged", "payment_intent.succeeded", order_id, intent, 6900)).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let cases = [
        None,
        Some(stripe_emulator::webhooks::signature_header("whsec_wrong", now, &payload)),
        Some(stripe_emulator::webhooks::signature_header(SECRET, now - 600, &payload)),
        Some("t=1,v1=zz".to_owned()),
    ];
    for header in cases {
        let mut request = support::client().post(format!("{}/webhook", shop.base)).body(payload.clone());
        if let Some(header) = &header {
            request = request.header("stripe-signature", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 400, "{header:?}");
        assert_eq!(response.text().await.unwrap(), "invalid signature", "no reason in the reply");
    }
    assert_ne!(shop.order_status(order_id).await, "paid");
    // Just over the webhook's 512 KiB, announced: refused before a byte of it is read.
    assert_eq!(support::net::announce_body(&shop.base, "/webhook", 600 * 1024).await.0, 413);
    let other = json!({ "id": "evt_other", "object": "event", "type": "customer.created", "data": { "object": {} } });
    assert_eq!(shop.deliver(&other).await, 200, "unknown types are acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merchant_sees_orders_and_their_events_behind_the_admin_token() {
    let shop = shop().await;
    let waiting = shop.order("pm_card_threeDSecure2Required").await;
    let (order_id, intent) = (waiting["order_id"].as_str().unwrap(), waiting["payment_intent"].as_str().unwrap());
    assert_eq!(shop.deliver(&event("evt_admin", "payment_intent.succeeded", order_id, intent, 6900)).await, 200);

    let admin = support::client();
    let url = format!("{}/admin/orders", shop.base);
    assert_eq!(admin.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(admin.get(&url).basic_auth("merchant", Some("wrong-token-0123456789")).send().await.unwrap().status(), 401);
    let list = admin.get(&url).basic_auth("merchant", Some(ADMIN)).send().await.unwrap();
    assert_eq!(list.status(), 200);
    assert!(list.text().await.unwrap().contains(&format!("admin-order-{order_id}")));
    let failed_only = admin.get(format!("{url}?status=failed")).basic_auth("m", Some(ADMIN)).send().await.unwrap().text().await.unwrap();
    assert!(!failed_only.contains(order_id));
    let detail = admin.get(format!("{url}/{order_id}")).basic_auth("m", Some(ADMIN)).send().await.unwrap().text().await.unwrap();
    assert!(detail.contains(r#"data-testid="admin-status">paid"#), "{detail}");
    assert!(detail.contains("evt_admin") && detail.contains("requires_action"), "{detail}");
    assert!(
        detail.contains("admin-outbox") && detail.contains("Thank you for your order"),
        "the confirmation queued for the shopper: {detail}"
    );
    // Without a token, or with a missing Basic header, the answer is the same refusal.
    let unauthorised = admin.get(format!("{url}/{order_id}")).header("authorization", "Bearer x").send().await.unwrap();
    assert_eq!(unauthorised.status(), 401);
}

/// Checks out one walnut board in a session of its own, paying with the
/// ConfirmationToken that `form` creates (with the publishable key, as Stripe.js does).
async fn checkout_in_new_session(shop: &Shop, form: &[(&str, &str)]) -> Value {
    let client = support::shopper();
    let add = [("product_id", "walnut-board"), ("quantity", "1")];
    client.post(format!("{}/api/cart/add", shop.base)).form(&add).send().await.unwrap();
    let mut token_form = vec![("return_url", "https://shop.example/checkout/complete")];
    token_form.extend_from_slice(form);
    let token = support::stripe_call(
        &client,
        reqwest::Method::POST,
        format!("{}/v1/confirmation_tokens", shop.stripe),
        "pk_test_tests",
        &token_form,
    )
    .await;
    let token = token["id"].as_str().unwrap();
    let reply = client.post(format!("{}/api/checkout/confirm", shop.base)).form(&[("confirmation_token", token)]).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    reply.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_delivered_twice_and_out_of_order_still_fulfils_each_order_once() {
    let shop = shop().await;
    let mode = json!({ "duplicate": true, "shuffle": true });
    let set = shop.shopper.post(format!("{}/_emulator/delivery_mode", shop.stripe)).json(&mode).send().await.unwrap();
    assert!(set.status().is_success());

    let card = [
        ("payment_method_data[type]", "card"),
        ("payment_method_data[card][number]", "4242424242424242"),
        ("payment_method_data[card][exp_month]", "12"),
        ("payment_method_data[card][exp_year]", "2040"),
        ("payment_method_data[card][cvc]", "123"),
    ];
    let three_ds = [("payment_method_data[card][number]", "4000000000003220")];
    let three_ds: Vec<(&str, &str)> =
        card.iter().map(|(k, v)| three_ds.iter().find(|(key, _)| key == k).copied().unwrap_or((*k, *v))).collect();
    let sepa = |iban| {
        [
            ("payment_method_data[type]", "sepa_debit"),
            ("payment_method_data[sepa_debit][iban]", iban),
            ("payment_method_data[billing_details][name]", "Jenny Rosen"),
            ("payment_method_data[billing_details][email]", "jenny@example.com"),
        ]
    };
    let paid_now = checkout_in_new_session(&shop, &card).await;
    let authenticated = checkout_in_new_session(&shop, &three_ds).await;
    let debited = checkout_in_new_session(&shop, &sepa("DE89370400440532013000")).await;
    let bounced = checkout_in_new_session(&shop, &sepa("DE62370400440532013001")).await;

    let intent = authenticated["payment_intent"].as_str().unwrap();
    let secret = support::stripe_call(
        &shop.shopper,
        reqwest::Method::GET,
        format!("{}/v1/payment_intents/{intent}", shop.stripe),
        "sk_test_tests",
        &[],
    )
    .await;
    shop.answer_challenge(intent, &secret["client_secret"], "complete").await;

    for (order, expected) in [(&paid_now, "paid"), (&authenticated, "paid"), (&debited, "paid"), (&bounced, "failed")] {
        let order_id = order["order_id"].as_str().unwrap();
        let status_of =
            || async { shop.store.order_for_merchant(order_id).await.unwrap().map(|o| o.status.as_str().to_owned()).unwrap_or_default() };
        let status = support::poll_until(300, status_of, |status: &String| status == expected).await;
        assert_eq!(status, expected, "{order}");
        // One confirmation per paid order; the debit that bounced after the shopper left
        // is told by email instead.
        let messages = shop.store.outbox_for(order_id).await.unwrap();
        let kinds: Vec<&str> = messages.iter().map(|message| message.kind.as_str()).collect();
        assert_eq!(kinds, [if expected == "paid" { "order_confirmation" } else { "payment_failed" }], "{messages:?}");
    }
    // Every delivery, each twice, has been answered 2xx; the stock went down by the
    // three boards paid for, once each.
    let all_answered = support::poll_until(
        200,
        || async {
            let deliveries: Value =
                shop.shopper.get(format!("{}/_emulator/deliveries", shop.stripe)).send().await.unwrap().json().await.unwrap();
            deliveries["data"].as_array().unwrap().iter().all(|d| d["status"] == "succeeded")
        },
        |done| *done,
    )
    .await;
    assert!(all_answered);
    assert_eq!(stock(&shop.store).await, 8 - 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disputed_payment_flags_its_order_for_the_merchant_once_and_then_its_outcome() {
    let shop = shop().await;
    let (paid, order_id) = shop.disputed_order("pm_card_createDispute", "disputed").await;
    let order_id = order_id.as_str();
    assert_eq!(shop.order_status(order_id).await, "paid", "a dispute does not undo the payment");
    // The merchant's list shows the flag.
    let list = support::admin_page(&format!("{}/admin/orders", shop.base), ADMIN).await;
    assert!(list.contains(&format!("admin-order-{order_id}")) && list.contains("disputed"), "{list}");
    // Delivered again: recorded once.
    let events = shop.store.order_events(order_id).await.unwrap();
    let (event_id, _, _) = events.iter().find(|(_, kind, _)| kind == "charge.dispute.created").unwrap().clone();
    let resent = shop.shopper.post(format!("{}/_emulator/events/{event_id}/resend", shop.stripe)).send().await.unwrap();
    assert!(resent.status().is_success());
    let delivered = support::poll_until(
        100,
        || async {
            let url = format!("{}/_emulator/deliveries?event_id={event_id}", shop.stripe);
            let deliveries: Value = shop.shopper.get(url).send().await.unwrap().json().await.unwrap();
            deliveries["data"].as_array().unwrap().iter().filter(|d| d["status"] == "succeeded").count()
        },
        |succeeded| *succeeded >= 2,
    )
    .await;
    assert_eq!(delivered, 2);
    let events = shop.store.order_events(order_id).await.unwrap();
    assert_eq!(events.iter().filter(|(_, kind, _)| kind == "charge.dispute.created").count(), 1, "{events:?}");

    // The merchant answers in the Dashboard and wins: the order says so.
    let won = shop.dispute_of(&paid).await;
    shop.answer_dispute(&won, "winning_evidence").await;
    assert_eq!(shop.flags_once(order_id, &["dispute_won"]).await, ["dispute_won"]);
    shop.told_merchant(order_id, &[("disputed", "is disputed"), ("dispute_won", "and you won it")]).await;
    // An opening event that arrives only now (Stripe does not promise order): the
    // outcome stays.
    let late = dispute_opened("evt_late_dispute", &won, paid["payment_intent"].as_str().unwrap());
    assert_eq!(shop.deliver(&late).await, 200);
    assert_eq!(shop.store.order_flags(order_id).await.unwrap().flags, ["dispute_won"]);
    assert_eq!(shop.order_status(order_id).await, "paid");

    // Another disputed order whose dispute the merchant accepts: lost.
    let (paid, lost_order) = shop.disputed_order("pm_card_createDispute", "disputed").await;
    let lost_order = lost_order.as_str();
    shop.close_dispute(&shop.dispute_of(&paid).await).await;
    assert_eq!(shop.flags_once(lost_order, &["dispute_lost"]).await, ["dispute_lost"]);
    shop.told_merchant(lost_order, &[("disputed", "is disputed"), ("dispute_lost", "and you lost it")]).await;
    let list = support::admin_page(&format!("{}/admin/orders", shop.base), ADMIN).await;
    assert!(list.contains("dispute_won") && list.contains("dispute_lost"), "{list}");
    // The merchant's flagged orders: both, and not an order nobody had to look at.
    let calm = shop.order("pm_card_visa").await;
    let calm = calm["order_id"].as_str().unwrap();
    let all = support::admin_page(&format!("{}/admin/orders", shop.base), ADMIN).await;
    assert!(all.contains(&format!("admin-order-{calm}")), "{all}");
    let flagged = support::admin_page(&format!("{}/admin/orders?flagged=1", shop.base), ADMIN).await;
    for shown in [order_id, lost_order] {
        assert!(flagged.contains(&format!("admin-order-{shown}")), "{shown}: {flagged}");
    }
    assert!(!flagged.contains(&format!("admin-order-{calm}")), "{flagged}");
    assert!(flagged.contains(r#"data-testid="admin-filter-flagged" aria-current="page">flagged (2)<"#), "{flagged}");
    assert_eq!(shop.handled_form(calm).await, None, "nothing to mark on an order nobody was told about");
    assert!(shop.mark_handled(calm, "0").await.contains("handled_error="), "and a hand-made form is told so");

    // The merchant has dealt with the won dispute and marks it handled: it leaves the
    // flagged list, the lost one stays, and its page says when.
    let seen = shop.handled_form(order_id).await.expect("a flagged order's page offers to mark it handled");
    assert_eq!(seen, "2", "the page showed both messages");
    assert!(shop.mark_handled(order_id, &seen).await.contains("?handled=1&seal="));
    let flagged = shop.flagged_list().await;
    assert!(!flagged.contains(&format!("admin-order-{order_id}")), "{flagged}");
    assert!(flagged.contains(&format!("admin-order-{lost_order}")), "{flagged}");
    assert!(flagged.contains(">flagged (1)<"), "{flagged}");
    // The whole list tells the two apart.
    let all = support::admin_page(&format!("{}/admin/orders", shop.base), ADMIN).await;
    let row = |id: &str| all.split("<tr").find(|row| row.contains(&format!("admin-order-{id}"))).unwrap_or_default().to_owned();
    assert!(row(order_id).contains("dispute_won (handled)"), "{all}");
    assert!(row(lost_order).contains("dispute_lost · <strong data-testid=\"admin-waiting\">needs you</strong>"), "{all}");
    assert!(!row(calm).contains("needs you") && !row(calm).contains("handled"), "{all}");
    let page = shop.merchant_page(order_id).await;
    assert!(page.contains(r#"data-testid="admin-handled""#) && !page.contains("admin-handled-form"), "{page}");
    assert!(page.contains("flagged: dispute_won"), "what happened stays on the order's page: {page}");
    // The same form sent again (a double click) changes nothing more.
    assert!(shop.mark_handled(order_id, &seen).await.contains("?handled=1&seal="));
    // Stripe reports the same outcome again (another event: the funds reinstated,
    // then the dispute closed): no news, so the order stays handled.
    let intent = shop.store.order_for_merchant(order_id).await.unwrap().unwrap().payment_intent_id.unwrap();
    let mut closed = dispute_opened("evt_won_again", &won, &intent);
    closed["type"] = json!("charge.dispute.closed");
    closed["data"]["object"]["status"] = json!("won");
    assert_eq!(shop.deliver(&closed).await, 200);
    assert_eq!(shop.store.order_events(order_id).await.unwrap().iter().filter(|(id, ..)| id == "evt_won_again").count(), 1);
    assert!(!shop.flagged_list().await.contains(&format!("admin-order-{order_id}")));
}

/// The issuer asks before any chargeback (Stripe's inquiry test card): the merchant sees
/// an inquiry, not a chargeback; answered well it closes, answered badly it becomes a
/// chargeback, which then closes as any dispute does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inquiry_shows_as_one_until_it_closes_or_becomes_a_chargeback() {
    let shop = shop().await;
    let (paid, order_id) = shop.disputed_order("pm_card_createDisputeInquiry", "inquiry").await;
    let order_id = order_id.as_str();
    shop.answer_dispute(&shop.dispute_of(&paid).await, "winning_evidence").await;
    assert_eq!(shop.flags_once(order_id, &["inquiry_closed"]).await, ["inquiry_closed"]);
    assert_eq!(shop.order_status(order_id).await, "paid");
    shop.told_merchant(order_id, &[("inquiry", "asks about the payment"), ("inquiry_closed", "without a chargeback")]).await;

    let (paid, order_id) = shop.disputed_order("pm_card_createDisputeInquiry", "inquiry").await;
    let (order_id, intent) = (order_id.as_str(), paid["payment_intent"].as_str().unwrap());
    let dispute = shop.dispute_of(&paid).await;
    // The merchant answers the inquiry and marks the order handled.
    let seen = shop.handled_form(order_id).await.expect("the inquiry's order offers to mark it handled");
    assert!(shop.mark_handled(order_id, &seen).await.contains("?handled=1&seal="));
    assert!(!shop.flagged_list().await.contains(&format!("admin-order-{order_id}")));
    shop.answer_dispute(&dispute, "losing_evidence").await;
    assert_eq!(shop.flags_once(order_id, &["disputed"]).await, ["disputed"], "the inquiry became a chargeback");
    // News: the order waits for the merchant again.
    assert!(shop.flagged_list().await.contains(&format!("admin-order-{order_id}")));
    let read = shop.handled_form(order_id).await.expect("flagged again");
    assert_eq!(read, "2");
    // The inquiry's opening event, delivered again only now, does not take it back.
    let mut late = dispute_opened("evt_late_inquiry", &dispute, intent);
    late["data"]["object"]["status"] = json!("warning_needs_response");
    assert_eq!(shop.deliver(&late).await, 200);
    assert_eq!(shop.store.order_flags(order_id).await.unwrap().flags, ["disputed"]);
    shop.close_dispute(&dispute).await;
    assert_eq!(shop.flags_once(order_id, &["dispute_lost"]).await, ["dispute_lost"]);
    // The page read before the dispute was lost is stale: marking from it changes
    // nothing, and says why; from the page as it is now, it is handled.
    let stale = shop.mark_handled(order_id, &read).await;
    assert!(stale.contains("handled_error="), "{stale}");
    assert!(shop.flagged_list().await.contains(&format!("admin-order-{order_id}")));
    let page = support::admin_page(&format!("{}{stale}", shop.base), ADMIN).await;
    assert!(page.contains("admin-handled-error") && page.contains("Something new happened"), "{page}");
    assert!(page.contains("and you lost it"), "the news is on the page: {page}");
    let seen = shop.handled_form(order_id).await.unwrap();
    assert_eq!(seen, "3");
    assert!(shop.mark_handled(order_id, &seen).await.contains("?handled=1&seal="));
    assert!(!shop.flagged_list().await.contains(&format!("admin-order-{order_id}")));
    // A form that is no such form; one from another site; one without the password.
    assert!(shop.mark_handled(order_id, "x").await.contains("handled_error="));
    let url = format!("{}/admin/orders/{order_id}/handled", shop.base);
    let forged = support::client().post(&url).basic_auth("m", Some(ADMIN)).header("sec-fetch-site", "cross-site").form(&[("seen", "3")]);
    assert_eq!(forged.send().await.unwrap().status(), 403);
    assert_eq!(support::client().post(&url).form(&[("seen", "3")]).send().await.unwrap().status(), 401);
}

/// The issuer reports a payment as fraud before any dispute (Stripe's early fraud
/// warning card): the merchant is asked to refund it, as fraudulent, while a refund can
/// still avoid a dispute; a warning delivered after a dispute does not hide it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_fraud_warning_asks_the_merchant_to_refund_before_a_dispute() {
    let shop = shop().await;
    let (paid, order_id) = shop.disputed_order("pm_card_createIssuerFraudRecord", "fraud_warning").await;
    let order_id = order_id.as_str();
    assert_eq!(shop.order_status(order_id).await, "paid");
    let list = support::admin_page(&format!("{}/admin/orders", shop.base), ADMIN).await;
    let row = list.split("<tr").find(|row| row.contains(&format!("admin-order-{order_id}"))).expect("the order's row");
    assert!(row.contains("fraud_warning"), "{row}");
    let page_url = format!("{}/admin/orders/{order_id}", shop.base);
    let page = support::admin_page(&page_url, ADMIN).await;
    assert!(page.contains("data-testid=\"admin-fraud-warning\""), "{page}");
    assert!(page.contains("<option value=\"fraudulent\" selected>"), "{page}");

    // Refunded in full (here in Stripe, as from the Dashboard): nothing left to advise.
    let url = format!("{}/v1/refunds", shop.stripe);
    let form = [("payment_intent", paid["payment_intent"].as_str().unwrap()), ("reason", "fraudulent")];
    support::stripe_call(&shop.shopper, reqwest::Method::POST, url, "sk_test_tests", &form).await;
    let refunded = support::poll_until(100, || shop.order_status(order_id), |status| status == "refunded").await;
    assert_eq!(refunded, "refunded");
    assert!(!support::admin_page(&page_url, ADMIN).await.contains("admin-fraud-warning"));
    assert_eq!(shop.store.order_flags(order_id).await.unwrap().flags, ["fraud_warning"], "what happened stays shown");

    // A chargeback, then a warning about the same payment delivered late: still a chargeback.
    let (paid, order_id) = shop.disputed_order("pm_card_createDispute", "disputed").await;
    let mut warning = dispute_opened("evt_late_warning", "issfr_late", paid["payment_intent"].as_str().unwrap());
    warning["type"] = json!("radar.early_fraud_warning.created");
    warning["data"]["object"] = json!({
        "id": "issfr_late", "object": "radar.early_fraud_warning", "actionable": false, "charge": "ch_late", "created": 1,
        "fraud_type": "made_with_stolen_card", "livemode": false, "payment_intent": paid["payment_intent"],
    });
    assert_eq!(shop.deliver(&warning).await, 200);
    assert_eq!(shop.store.order_events(&order_id).await.unwrap().iter().filter(|(id, ..)| id == "evt_late_warning").count(), 1);
    assert_eq!(shop.store.order_flags(&order_id).await.unwrap().flags, ["disputed"]);
}
