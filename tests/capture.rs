//! Manual capture (`[store] capture-method = "manual"`): a payment is authorised at
//! checkout and the order waits `authorized`, its stock reserved; the merchant captures
//! it in full or in part from the order view (the order is then paid for what was
//! captured, and refunds stop there), or cancels it; an authorisation left to expire
//! on Stripe's clock cancels the order. Every step goes through the storefront's HTTP
//! routes and Stripe's (emulated) webhooks.

use reqwest::Method;
use serde_json::{Value, json};

mod support;

use support::Shop;

const ADMIN: &str = "merchant-token-0123456789";

async fn shop() -> Shop {
    Shop::start(&[("STORE_CAPTURE_METHOD", "manual"), ("ADMIN_TOKEN", ADMIN)]).await
}

impl Shop {
    /// A walnut board (69.00 EUR; stock 8) paid with a Visa: `(order id, PaymentIntent)`
    /// once the order is `authorized`.
    async fn authorized_order(&self) -> (String, String) {
        let added =
            support::post_form(&self.shopper, format!("{}/api/cart/add", self.base), &[("product_id", "walnut-board"), ("quantity", "1")])
                .await;
        assert!(added.is_object(), "{added}");
        let token = support::test_token(&self.shopper, &self.stripe, "pm_card_visa").await;
        let reply =
            support::post_form(&self.shopper, format!("{}/api/checkout/confirm", self.base), &[("confirmation_token", token.as_str())])
                .await;
        assert_eq!(reply["status"], "RequiresCapture", "{reply}");
        let order_id = reply["order_id"].as_str().unwrap().to_owned();
        assert_eq!(self.status(&order_id).await, "authorized");
        (order_id, reply["payment_intent"].as_str().unwrap().to_owned())
    }

    async fn status(&self, order_id: &str) -> String {
        self.store.order_for_merchant(order_id).await.unwrap().unwrap().status.to_string()
    }

    async fn intent(&self, id: &str) -> Value {
        support::stripe_call(&support::client(), Method::GET, format!("{}/v1/payment_intents/{id}", self.stripe), "sk_test_capture", &[])
            .await
    }

    async fn admin_page(&self, order_id: &str) -> String {
        support::admin_page(&format!("{}/admin/orders/{order_id}", self.base), ADMIN).await
    }

    /// The nonce of the form posting to `action` on the order's page.
    async fn nonce(&self, order_id: &str, action: &str) -> String {
        support::form_nonce(&self.admin_page(order_id).await, &format!("/admin/orders/{order_id}/{action}"))
    }

    /// Posts a form of the order's page; the redirect's `Location`.
    async fn post(&self, order_id: &str, action: &str, form: &[(&str, &str)]) -> String {
        support::admin_post(format!("{}/admin/orders/{order_id}/{action}", self.base), ADMIN, form).await
    }

    /// Waits until the storefront has answered every webhook of `kind` sent so far.
    async fn delivered(&self, kind: &str) {
        support::wait_delivered(&self.stripe, kind).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merchant_captures_less_than_authorised_and_the_order_is_paid_for_that() {
    let shop = shop().await;
    let (order_id, payment_intent) = shop.authorized_order().await;
    let intent = shop.intent(&payment_intent).await;
    assert_eq!((intent["status"].as_str(), intent["capture_method"].as_str()), (Some("requires_capture"), Some("manual")));
    assert_eq!(intent["payment_method_types"], json!(["card"]), "only cards can be captured later");
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), 7, "reserved while authorised");
    let page = shop.admin_page(&order_id).await;
    assert!(page.contains("admin-capture-form") && !page.contains("admin-refund-form"), "{page}");

    // A body that is no capture form: the page says to reload; nothing is captured.
    let garbled = shop.post(&order_id, "capture", &[("amount", "50.00")]).await;
    assert!(garbled.contains("capture_error=The+form+has+expired"), "{garbled}");
    let garbled = shop.post(&order_id, "cancel", &[]).await;
    assert!(garbled.contains("capture_error=The+form+has+expired"), "{garbled}");
    assert_eq!(shop.intent(&payment_intent).await["status"], "requires_capture");

    // More than was authorised: refused before Stripe is asked.
    let nonce = shop.nonce(&order_id, "capture").await;
    let too_much = shop.post(&order_id, "capture", &[("amount", "69.01"), ("request", nonce.as_str())]).await;
    assert!(too_much.contains("capture_error=") && too_much.contains("69"), "{too_much}");
    assert_eq!(shop.intent(&payment_intent).await["status"], "requires_capture");

    // A double click on Capture: one capture of 50.00.
    let nonce = shop.nonce(&order_id, "capture").await;
    let form = [("amount", "50.00"), ("request", nonce.as_str())];
    let (first, second) = tokio::join!(shop.post(&order_id, "capture", &form), shop.post(&order_id, "capture", &form));
    assert!(first.contains("captured=pi_") && second.contains("captured=pi_"), "{first} {second}");
    let intent = shop.intent(&payment_intent).await;
    assert_eq!((intent["status"].as_str(), intent["amount_received"].as_i64()), (Some("succeeded"), Some(5000)));
    assert_eq!(shop.status(&order_id).await, "paid");
    // Stripe's webhook arrives after the reply recorded the capture: nothing changes.
    shop.delivered("payment_intent.succeeded").await;
    let order = shop.store.order_for_merchant(&order_id).await.unwrap().unwrap();
    assert_eq!((order.status.as_str(), order.amount, order.charged), ("paid", 6900, 5000));
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), 7, "the goods are sold");
    let page = shop.admin_page(&order_id).await;
    assert!(page.contains("data-testid=\"admin-charged\">€50.00"), "{page}");
    assert!(!page.contains("admin-capture-form"), "nothing left to capture");

    // The shopper's page: paid, charged 50.00 of 69.00.
    let view = support::post_form(&shop.shopper, format!("{}/api/orders/get", shop.base), &[("id", order_id.as_str())]).await;
    assert_eq!((view["status"].as_str(), view["charged"]["amount"].as_i64()), (Some("paid"), Some(5000)), "{view}");

    // Refunds stop at what was captured; all of it refunded shows as `refunded`.
    let nonce = shop.nonce(&order_id, "refunds").await;
    let over = shop.post(&order_id, "refunds", &[("amount", "50.01"), ("request", nonce.as_str())]).await;
    assert!(over.contains("error=") && over.contains("50.00"), "{over}");
    let nonce = shop.nonce(&order_id, "refunds").await;
    let partial = shop.post(&order_id, "refunds", &[("amount", "20.00"), ("request", nonce.as_str())]).await;
    assert!(partial.contains("refunded=re_"), "{partial}");
    let view = support::post_form(&shop.shopper, format!("{}/api/orders/get", shop.base), &[("id", order_id.as_str())]).await;
    assert_eq!(view["status"], "partially_refunded", "{view}");
    let nonce = shop.nonce(&order_id, "refunds").await;
    let rest = shop.post(&order_id, "refunds", &[("amount", "30.00"), ("request", nonce.as_str())]).await;
    assert!(rest.contains("refunded=re_"), "{rest}");
    let view = support::post_form(&shop.shopper, format!("{}/api/orders/get", shop.base), &[("id", order_id.as_str())]).await;
    assert_eq!(view["status"], "refunded", "{view}");
    assert!(shop.admin_page(&order_id).await.contains("data-testid=\"admin-status\">refunded<"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canceled_or_expired_authorisation_cancels_the_order_and_releases_its_stock() {
    let shop = shop().await;
    // The merchant cancels one.
    let (canceled, canceled_intent) = shop.authorized_order().await;
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), 7);
    let nonce = shop.nonce(&canceled, "cancel").await;
    let location = shop.post(&canceled, "cancel", &[("request", nonce.as_str())]).await;
    assert!(location.contains("canceled=pi_"), "{location}");
    assert_eq!(shop.intent(&canceled_intent).await["status"], "canceled");
    assert_eq!(shop.status(&canceled).await, "canceled");
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), 8, "stock back");
    // Nothing is left to capture or refund.
    let page = shop.admin_page(&canceled).await;
    assert!(!page.contains("admin-capture-form") && !page.contains("admin-refund-form"), "{page}");
    let refused = shop.post(&canceled, "capture", &[("amount", "69.00"), ("request", "capture-0123456789abcdef")]).await;
    assert!(refused.contains("capture_error="), "{refused}");

    // Another is left alone for 8 days: Stripe cancels the authorisation, and its
    // webhook cancels the order.
    let (expired, expired_intent) = shop.authorized_order().await;
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), 7);
    let advanced =
        support::client().post(format!("{}/_emulator/clock", shop.stripe)).json(&json!({ "advance_seconds": 8 * 86_400 })).send().await;
    assert!(advanced.unwrap().status().is_success());
    let intent = shop.intent(&expired_intent).await;
    assert_eq!((intent["status"].as_str(), intent["cancellation_reason"].as_str()), (Some("canceled"), Some("automatic")));
    let status = support::poll_until(200, || async { shop.status(&expired).await }, |status: &String| status == "canceled").await;
    assert_eq!(status, "canceled");
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), 8, "stock back");
    let view = support::post_form(&shop.shopper, format!("{}/api/orders/get", shop.base), &[("id", expired.as_str())]).await;
    assert_eq!(view["status"], "canceled", "{view}");
}

/// The payment was canceled in Stripe's Dashboard and its webhook never reached the
/// shop, whose order still says `authorized`. The merchant's capture is refused by
/// Stripe: the shop then records what Stripe says (canceled, the stock back), and the
/// order's page offers no capture of a payment that is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_refused_for_a_payment_settled_at_stripe_records_what_stripe_says() {
    let shop = shop().await;
    let (order, intent) = shop.authorized_order().await;
    support::miss_webhooks_from_now_on(&shop.stripe).await;
    let canceled = support::stripe_call(
        &support::client(),
        Method::POST,
        format!("{}/v1/payment_intents/{intent}/cancel", shop.stripe),
        "sk_test_capture",
        &[],
    )
    .await;
    assert_eq!(canceled["status"], "canceled", "{canceled}");
    assert_eq!(shop.status(&order).await, "authorized", "the shop has not heard");

    let nonce = shop.nonce(&order, "capture").await;
    let location = shop.post(&order, "capture", &[("amount", "69.00"), ("request", nonce.as_str())]).await;
    assert!(location.contains("capture_error="), "{location}");
    assert_eq!(shop.status(&order).await, "canceled");
    assert_eq!(shop.store.stock_of("walnut-board").await.unwrap(), 8, "stock back");
    let page = shop.admin_page(&order).await;
    assert!(!page.contains("admin-capture-form"), "{page}");
}
