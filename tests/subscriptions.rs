//! Subscription mode through the storefront's HTTP routes and Stripe's (emulated)
//! webhooks: a signed-in shopper subscribes with a ConfirmationToken (the server
//! creates the Subscription `default_incomplete` and confirms its first invoice), each
//! paid invoice becomes one order with its confirmation, renewals come from the
//! emulator's clock, a renewal that cannot be charged shows `past_due` and is paid from
//! the account page with another saved card (or the same one through 3-D Secure), the account
//! page cancels at the period's end and undoes it, and duplicated, shuffled webhooks
//! change nothing.

use reqwest::Method;
use serde_json::{Value, json};
use storefront::store::{ItemTerms, SubscriptionRecord};

mod support;

use support::Shop;

const KEY: &str = "sk_test_subscriptions";
const ADMIN: &str = "merchant-token-0123456789";

async fn shop() -> Shop {
    Shop::start(&[("ADMIN_TOKEN", ADMIN)]).await
}

/// A shop whose catalog is the repository's with `from` replaced by `to`; the catalog
/// file lives as long as the directory returned.
async fn shop_with_catalog(from: &str, to: &str) -> (Shop, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    let repository = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/catalog.toml")).unwrap();
    assert!(repository.contains(from), "the catalog has {from}");
    std::fs::write(&catalog, repository.replace(from, to)).unwrap();
    let shop = Shop::start(&[("ADMIN_TOKEN", ADMIN), ("STORE_CATALOG_FILE", catalog.to_str().unwrap())]).await;
    (shop, dir)
}

impl Shop {
    async fn api(&self, endpoint: &str, form: &[(&str, &str)]) -> (u16, Value) {
        api_as(&self.shopper, &self.base, endpoint, form).await
    }

    async fn sign_up(&self, email: &str) {
        let (status, body) = self.api("account/sign-up", &[("email", email), ("password", "correct horse battery staple")]).await;
        assert_eq!(status, 200, "{body}");
    }

    async fn add(&self, product: &str) -> (u16, Value) {
        self.api("cart/add", &[("product_id", product), ("quantity", "1")]).await
    }

    async fn confirm(&self, token: &str) -> (u16, Value) {
        self.api("checkout/confirm", &[("confirmation_token", token)]).await
    }

    /// Subscribes to the coffee beans with test card `pm`; the confirmation's reply.
    async fn subscribe(&self, pm: &str) -> Value {
        let (status, cart) = self.add("coffee-beans").await;
        assert_eq!(status, 200, "{cart}");
        let token = support::test_token(&self.shopper, &self.stripe, pm).await;
        let (status, reply) = self.confirm(&token).await;
        assert_eq!(status, 200, "{reply}");
        reply
    }

    /// A signed-up shopper (`email`) whose first payment waits for 3-D Secure, left
    /// there: the confirmation's reply and the subscription as recorded.
    async fn left_at_3_d_secure(&self, email: &str) -> (Value, SubscriptionRecord) {
        self.sign_up(email).await;
        let waiting = self.subscribe("pm_card_threeDSecure2Required").await;
        assert_eq!(waiting["status"], "RequiresAction", "{waiting}");
        (waiting, self.only_subscription().await)
    }

    /// The shopper takes two bags instead of one and subscribes again with a Visa, which pays.
    async fn subscribe_to_two_bags(&self) {
        let (status, cart) = self.api("cart/set", &[("product_id", "coffee-beans"), ("quantity", "2")]).await;
        assert_eq!(status, 200, "{cart}");
        let token = support::test_token(&self.shopper, &self.stripe, "pm_card_visa").await;
        let (status, paid) = self.confirm(&token).await;
        assert_eq!((status, paid["status"].as_str()), (200, Some("Succeeded")), "{paid}");
    }

    async fn only_subscription(&self) -> SubscriptionRecord {
        let mut all = self.store.subscriptions_page(None, 10).await.unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    async fn stripe(&self, method: Method, path: &str, form: &[(&str, &str)]) -> Value {
        support::stripe_call(&support::client(), method, format!("{}{path}", self.stripe), KEY, form).await
    }

    /// Whether the checkout's Payment Element lets the shopper remove saved cards: the
    /// `payment_method_remove` of the CustomerSession made for a checkout page now.
    async fn checkouts_card_removal(&self) -> String {
        assert_eq!(self.add("ceramic-mug").await.0, 200);
        assert!(self.page("/checkout").await.contains("data-testid=\"payment-element\""));
        let url = format!("{}/_emulator/requests?path=/v1/customer_sessions", self.stripe);
        let log: Value = support::client().get(url).send().await.unwrap().json().await.unwrap();
        let made = log["data"].as_array().unwrap().last().expect("a CustomerSession").clone();
        made["params"]["components"]["payment_element"]["features"]["payment_method_remove"].as_str().unwrap_or_default().to_owned()
    }

    /// How many CustomerSessions the shop has asked Stripe for.
    async fn customer_sessions(&self) -> usize {
        let log: Value = support::client().get(format!("{}/_emulator/requests", self.stripe)).send().await.unwrap().json().await.unwrap();
        log["data"].as_array().unwrap().iter().filter(|r| r["method"] == "POST" && r["path"] == "/v1/customer_sessions").count()
    }

    async fn page(&self, path: &str) -> String {
        self.shopper.get(format!("{}{path}", self.base)).send().await.unwrap().text().await.unwrap()
    }

    /// A call to the emulator's control interface (`/_emulator/{what}`), which must succeed.
    async fn control(&self, what: &str, body: Value) {
        let reply = support::client().post(format!("{}/_emulator/{what}", self.stripe)).json(&body).send().await.unwrap();
        assert!(reply.status().is_success(), "{what}: {}", reply.status());
    }

    async fn faults_used(&self) -> bool {
        support::faults_used(&self.stripe).await
    }

    /// A new account (`email`) with the coffee beans in its cart.
    async fn signed_up_with_the_beans(&self, email: &str) {
        self.sign_up(email).await;
        let (status, cart) = self.add("coffee-beans").await;
        assert_eq!(status, 200, "{cart}");
    }

    /// Pays with `token` in the background, Stripe holding back its reply to the
    /// shop's `POST` to `path` (done, but answered 1.5 s later); returns once it is done.
    async fn paying_while_stripe_holds_back(&self, token: String, path: &str) -> tokio::task::JoinHandle<(u16, Value)> {
        self.control("faults", json!({ "path": path, "method": "POST", "phase": "after", "delay_ms": 1500 })).await;
        let paying = tokio::spawn({
            let (shopper, base) = (self.shopper.clone(), self.base.clone());
            async move { api_as(&shopper, &base, "checkout/confirm", &[("confirmation_token", &token)]).await }
        });
        assert!(self.faults_used().await, "{path} never reached Stripe");
        paying
    }

    /// Pays `subscription`'s overdue renewal with the saved `card` from the account page,
    /// in the background, Stripe holding the change of its card for 1.5 s, before
    /// (`phase`) or after doing it; returns once the change has reached Stripe.
    async fn paying_overdue_while_stripe_holds_back(
        &self,
        subscription: &str,
        card: &str,
        phase: &str,
    ) -> tokio::task::JoinHandle<(u16, Value)> {
        let change = format!("/v1/subscriptions/{subscription}");
        self.paying_overdue_while_held(subscription, card, &change, phase, 1500).await
    }

    /// Pays `subscription`'s overdue renewal with the saved `card` from the account page,
    /// in the background, Stripe holding the shop's first request to `path` for
    /// `delay_ms`, before (`phase`) or after doing it; returns once it has reached Stripe.
    async fn paying_overdue_while_held(
        &self,
        subscription: &str,
        card: &str,
        path: &str,
        phase: &str,
        delay_ms: u64,
    ) -> tokio::task::JoinHandle<(u16, Value)> {
        let page = self.page("/account").await;
        self.control("faults", json!({ "path": path, "method": "POST", "phase": phase, "delay_ms": delay_ms })).await;
        let paying = tokio::spawn({
            let (shopper, base, subscription, card) = (self.shopper.clone(), self.base.clone(), subscription.to_owned(), card.to_owned());
            let nonce = attempt_nonce(&page).to_owned();
            async move {
                let form = [("subscription", subscription.as_str()), ("payment_method", card.as_str()), ("attempt", nonce.as_str())];
                api_as(&shopper, &base, "account/subscription/pay", &form).await
            }
        });
        assert!(self.faults_used().await, "{path} never reached Stripe");
        paying
    }

    /// The signed-in shopper, the tea in their cart, pays with `card` and starts its free
    /// trial: the subscription as recorded (`trialing`), and the trial's order.
    async fn starts_the_trial(&self, card: &str) -> (SubscriptionRecord, String) {
        let token = support::test_token(&self.shopper, &self.stripe, card).await;
        let (status, reply) = self.confirm(&token).await;
        assert_eq!((status, reply["status"].as_str()), (200, Some("Succeeded")), "{reply}");
        let trial = self.only_subscription().await;
        assert_eq!(trial.state.status, "trialing");
        (trial, reply["order_id"].as_str().expect("the trial's order").to_owned())
    }

    /// Takes the shop's webhook endpoint away at Stripe: nothing reaches the shop until
    /// it is given back (`self.control("webhook_endpoints", endpoint)`).
    async fn webhooks_away(&self) -> Value {
        let endpoints: Value =
            support::client().get(format!("{}/_emulator/webhook_endpoints", self.stripe)).send().await.unwrap().json().await.unwrap();
        support::client().delete(format!("{}/_emulator/webhook_endpoints", self.stripe)).send().await.unwrap();
        json!({ "url": endpoints["data"][0]["url"], "secret": endpoints["data"][0]["secret"] })
    }

    async fn advance_clock(&self, days: i64) {
        self.control("clock", json!({ "advance_seconds": days * 86_400 })).await;
    }

    /// Sends the account page's (`page`) form that pays `subscription`'s overdue renewal
    /// with the saved card `card`: as a plain form does, or (`island`: its `n`th try) as
    /// the page's island does, saying the browser can authenticate.
    async fn pay_overdue(&self, page: &str, subscription: &str, card: &str, island: Option<u32>) -> (u16, Value) {
        let nonce = attempt_nonce(page);
        let attempt = match island {
            Some(n) if n > 1 => format!("{nonce}_{n}"),
            _ => nonce.to_owned(),
        };
        let mut form = vec![("subscription", subscription), ("payment_method", card), ("attempt", attempt.as_str())];
        if island.is_some() {
            form.push(("authenticate", "1"));
        }
        self.api("account/subscription/pay", &form).await
    }

    /// The shopper answers the 3-D Secure challenge of the PaymentIntent whose client
    /// secret is `secret` (`complete` or `fail`), as the emulator's challenge page does.
    async fn answer_challenge(&self, secret: &str, result: &str) {
        let intent = secret.split("_secret_").next().unwrap();
        self.control(&format!("3ds/{intent}"), json!({ "client_secret": secret, "result": result })).await;
    }

    /// A new account (`email`) subscribed to the coffee beans with a Visa: the
    /// subscription as recorded.
    async fn subscribed(&self, email: &str) -> SubscriptionRecord {
        self.sign_up(email).await;
        self.subscribe("pm_card_visa").await;
        self.only_subscription().await
    }

    /// A signed-up shopper (`email`) subscribed with a Visa whose renewal then fails:
    /// their card was replaced by `failing` (a test card's PaymentMethod: Stripe's 4000
    /// 0000 0000 0341 declines after attaching) and a month passed. The subscription as
    /// recorded (`past_due`), its Customer, and that card.
    async fn past_due(&self, email: &str, failing: &str) -> (SubscriptionRecord, String, String) {
        let subscription = self.subscribed(email).await;
        let path = format!("/v1/subscriptions/{}", subscription.id);
        let customer = self.stripe(Method::GET, &path, &[]).await["customer"].as_str().unwrap().to_owned();
        let card = self.stripe(Method::POST, &format!("/v1/payment_methods/{failing}/attach"), &[("customer", &customer)]).await;
        let card = card["id"].as_str().unwrap().to_owned();
        let updated = self.stripe(Method::POST, &path, &[("default_payment_method", &card)]).await;
        assert_eq!(updated["default_payment_method"], card.as_str());
        self.advance_clock(32).await;
        self.delivered("invoice.payment_failed").await;
        self.delivered("customer.subscription.updated").await;
        let subscription = self.only_subscription().await;
        assert_eq!(subscription.state.status, "past_due");
        (subscription, customer, card)
    }

    /// The amount of each PaymentIntent that Stripe has charged (`succeeded`), newest first.
    async fn charged(&self) -> Vec<i64> {
        let intents = self.stripe(Method::GET, "/v1/payment_intents?limit=100", &[]).await;
        let data = intents["data"].as_array().unwrap();
        data.iter().filter(|pi| pi["status"] == "succeeded").map(|pi| pi["amount"].as_i64().unwrap()).collect()
    }

    /// A subscription whose renewal every retry failed to charge (the card that attaches,
    /// then declines), with the merchant's settings marking such subscriptions `unpaid`
    /// rather than canceling them: recorded on hold. As [`Shop::past_due`] returns.
    async fn on_hold(&self, email: &str) -> (SubscriptionRecord, String, String) {
        self.on_hold_under(email, json!({ "retries_spent": "unpaid" })).await
    }

    /// [`Shop::on_hold`] under the merchant's billing `settings` (which mark it `unpaid`).
    async fn on_hold_under(&self, email: &str, settings: Value) -> (SubscriptionRecord, String, String) {
        self.control("billing_settings", settings).await;
        let (_, customer, card) = self.past_due(email, "pm_card_chargeCustomerFail").await;
        self.advance_clock(15).await;
        let subscription = support::poll_until(100, || self.only_subscription(), |kept| kept.state.status == "unpaid").await;
        (subscription, customer, card)
    }

    /// Subscription `id`, on hold, a period on: its renewal is a draft, nothing charged
    /// and nothing retried. That draft, as Stripe has it.
    async fn draft_renewal(&self, id: &str) -> Value {
        self.advance_clock(17).await;
        let at_stripe = self.stripe(Method::GET, &format!("/v1/subscriptions/{id}?expand[]=latest_invoice"), &[]).await;
        let draft = at_stripe["latest_invoice"].clone();
        assert_eq!((at_stripe["status"].as_str(), draft["status"].as_str()), (Some("unpaid"), Some("draft")), "{at_stripe}");
        draft
    }

    /// A subscription gone `past_due` (its card declined), its customer having saved a
    /// Mastercard since: the subscription and that card's id.
    async fn past_due_with_another_card(&self, email: &str) -> (SubscriptionRecord, String) {
        let (subscription, customer, _) = self.past_due(email, "pm_card_chargeCustomerFail").await;
        let added = self.stripe(Method::POST, "/v1/payment_methods/pm_card_mastercard/attach", &[("customer", customer.as_str())]).await;
        (subscription, added["id"].as_str().unwrap().to_owned())
    }

    /// The merchant sets subscription `id` to end at `at` (a Unix time; empty: never), as
    /// the Dashboard does; the subscription as the shop keeps it once it has heard.
    async fn end_on(&self, id: &str, at: &str) -> SubscriptionRecord {
        self.stripe(Method::POST, &format!("/v1/subscriptions/{id}"), &[("cancel_at", at)]).await;
        let wanted = at.parse::<i64>().ok();
        support::poll_until(200, || self.only_subscription(), |kept| kept.state.cancel_at == wanted).await
    }

    /// Pauses (`pause_collection[…]` fields) or resumes (`pause_collection=""`) the
    /// subscription's payment collection, as the Dashboard does, and waits until the
    /// shop has heard of it.
    async fn pause_payments(&self, id: &str, form: &[(&str, &str)]) -> SubscriptionRecord {
        self.stripe(Method::POST, &format!("/v1/subscriptions/{id}"), form).await;
        let paused = form.iter().any(|(name, _)| name.starts_with("pause_collection["));
        support::poll_until(200, || self.only_subscription(), |kept| kept.state.collection_paused == paused).await
    }

    /// A new account (`email`) whose first payment for the coffee beans, with test card
    /// `pm`, is declined (402): the reply, and the subscription left waiting for it
    /// (`incomplete`).
    async fn first_payment_declined(&self, email: &str, pm: &str) -> (Value, SubscriptionRecord) {
        self.signed_up_with_the_beans(email).await;
        let token = support::test_token(&self.shopper, &self.stripe, pm).await;
        let (status, declined) = self.confirm(&token).await;
        assert_eq!(status, 402, "{declined}");
        let waiting = self.only_subscription().await;
        assert_eq!(waiting.state.status, "incomplete");
        (declined, waiting)
    }

    /// The shop missed Stripe's last word on `subscription`: once every webhook has been
    /// answered, its record is put back to `status`, as read now.
    async fn missed_the_news(&self, subscription: &SubscriptionRecord, status: &str) {
        support::wait_all_delivered(&self.stripe).await;
        let read_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        let stale = storefront::store::SubscriptionState { status: status.into(), ..subscription.state.clone() };
        self.store
            .sync_subscription(&subscription.id, stale, ItemTerms::default(), read_at.as_millis() as i64, read_at.as_secs() as i64)
            .await
            .unwrap();
    }

    /// The checkout offers to pay (the beans in the cart), and a Visa subscribes: the
    /// status of every subscription Stripe has, sorted.
    async fn subscribes_anew(&self) -> Vec<String> {
        let page = self.page("/checkout").await;
        assert!(page.contains("pay-button") && !page.contains("already-subscribed"), "Stripe's word is read: {page}");
        let token = support::test_token(&self.shopper, &self.stripe, "pm_card_visa").await;
        let (status, paid) = self.confirm(&token).await;
        assert_eq!((status, paid["status"].as_str()), (200, Some("Succeeded")), "{paid}");
        let all = self.stripe(Method::GET, "/v1/subscriptions?status=all", &[]).await;
        let mut statuses: Vec<String> = all["data"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap().to_owned()).collect();
        statuses.sort_unstable();
        statuses
    }

    /// The kinds of the messages starting with `kind` queued with `order` (a
    /// subscription's first), once one of them has been sent.
    async fn sent_to_subscriber(&self, order: &str, kind: &str) -> Vec<String> {
        let sent = |messages: &Vec<storefront::store::OutboxEntry>| messages.iter().any(|m| m.kind.starts_with(kind) && m.status == "sent");
        let messages = support::poll_until(100, || async { self.store.outbox_for(order).await.unwrap() }, sent).await;
        messages.into_iter().map(|m| m.kind).filter(|queued| queued.starts_with(kind)).collect()
    }

    /// A new account (`email`) in a free trial of the tea whose card was not kept: its
    /// bank wanted 3-D Secure to keep it, and the shopper failed it. The return page says
    /// the trial has begun and a card will be asked for; the subscription as recorded.
    async fn trial_without_a_card(&self, email: &str) -> SubscriptionRecord {
        self.sign_up(email).await;
        let (status, cart) = self.add("tea-club").await;
        assert_eq!(status, 200, "{cart}");
        let token = support::test_token(&self.shopper, &self.stripe, "pm_card_authenticationRequiredOnSetup").await;
        let (status, reply) = self.confirm(&token).await;
        assert_eq!((status, reply["status"].as_str()), (200, Some("RequiresAction")), "{reply}");
        let secret = reply["client_secret"].as_str().unwrap();
        self.answer_challenge(secret, "fail").await;
        let (status, _, page) = self.setup_returned(&self.shopper, secret).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("your free trial has begun") && page.contains("When the trial ends, your account page will ask"), "{page}");
        let trial = self.only_subscription().await;
        assert_eq!((trial.state.status.as_str(), trial.state.renewal_card.as_deref()), ("trialing", None));
        trial
    }

    /// A new account (`email`) whose free trial of the tea ended without a card, the shop
    /// having set it to pause then: paused at Stripe, and so recorded. Its id.
    async fn paused_trial(&self, email: &str) -> String {
        let id = self.trial_without_a_card(email).await.id;
        let set = self
            .stripe(Method::POST, &format!("/v1/subscriptions/{id}"), &[("trial_settings[end_behavior][missing_payment_method]", "pause")])
            .await;
        assert_eq!(set["trial_settings"]["end_behavior"]["missing_payment_method"], "pause", "{set}");
        self.advance_clock(15).await;
        self.delivered("customer.subscription.paused").await;
        assert_eq!(self.only_subscription().await.state.status, "paused");
        id
    }

    /// A paused trial ([`Shop::paused_trial`], `email`) with Stripe's test card `card`
    /// saved to its customer: the subscription's id and the card's.
    async fn paused_with_card(&self, email: &str, card: &str) -> (String, String) {
        let id = self.paused_trial(email).await;
        let card = self.card_for(&id, card).await;
        (id, card)
    }

    /// Pays to resume subscription `id` (paused or overdue) with the saved `card` from the
    /// account page as it is now, as a plain form does: paid, and active again.
    async fn pays_to_resume(&self, id: &str, card: &str) {
        let (status, paid) = self.pay_overdue(&self.page("/account").await, id, card, None).await;
        assert_eq!((status, &paid), (200, &json!("Paid")));
        assert_eq!(self.only_subscription().await.state.status, "active");
    }

    /// The statuses of subscription `id`'s invoices for a new period (Stripe's
    /// `subscription_update`: a resumption's), sorted, and how many payments succeeded.
    async fn new_periods(&self, id: &str) -> (Vec<String>, usize) {
        let invoices = self.stripe(Method::GET, &format!("/v1/invoices?subscription={id}"), &[]).await;
        let resumptions = invoices["data"].as_array().unwrap().iter().filter(|i| i["billing_reason"] == "subscription_update");
        let mut statuses: Vec<String> = resumptions.map(|i| i["status"].as_str().unwrap().to_owned()).collect();
        statuses.sort();
        (statuses, self.charged().await.len())
    }

    /// Subscription `id` was resumed with one new period, paid (`charged`: the payments
    /// that succeeded in all), and stays active once Stripe's
    /// `customer.subscription.resumed` has reached the shop.
    async fn resumed_once(&self, id: &str, charged: usize) {
        assert_eq!(self.new_periods(id).await, (vec!["paid".to_owned()], charged));
        self.delivered("customer.subscription.resumed").await;
        assert_eq!(self.only_subscription().await.state.status, "active");
    }

    /// The island's `n`th try from the account page (`page`) at paying for subscription
    /// `id` with `card`, whose bank wants 3-D Secure: the challenge is answered with
    /// `result` (`complete` or `fail`). The PaymentIntent's client secret, and the
    /// subscription's status as the shop then reads it again.
    async fn authenticates(&self, page: &str, id: &str, card: &str, n: u32, result: &str) -> (String, String) {
        let (status, reply) = self.pay_overdue(page, id, card, Some(n)).await;
        assert_eq!(status, 200, "{reply}");
        let secret = reply["Authenticate"]["client_secret"].as_str().expect("the PaymentIntent's client secret").to_owned();
        self.answer_challenge(&secret, result).await;
        let (status, now) = self.api("account/subscription/refresh", &[("subscription", id)]).await;
        assert_eq!(status, 200, "{now}");
        (secret, now.as_str().expect("a status").to_owned())
    }

    /// Stripe answers the shop's next resumption of subscription `id` with `status`:
    /// after doing it (a reply told as an error), or refusing it before.
    async fn next_resumption_answered(&self, id: &str, status: u16, after: bool) {
        let phase = if after { "after" } else { "before" };
        let path = format!("/v1/subscriptions/{id}/resume");
        self.control("faults", json!({ "path": path, "method": "POST", "phase": phase, "status": status })).await;
    }

    /// The email of `kind` (a prefix) sent about subscription `id`, with its first order:
    /// the kinds sent, and the first one as the shopper reads it.
    async fn subscriber_email(&self, id: &str, kind: &str) -> (Vec<String>, String) {
        let first_order = self.invoice_orders(id).await.0.into_iter().flatten().next().expect("the first order");
        let told = self.sent_to_subscriber(&first_order, kind).await;
        let email = support::readable(&self.written_email(&first_order, &told[0]).expect("the email, written to MAIL_DIR"));
        (told, email)
    }

    /// Saves Stripe's test card `card` to the customer of subscription `id`, as the
    /// account page's add-card form does: the saved card's id.
    async fn card_for(&self, id: &str, card: &str) -> String {
        let customer = self.stripe(Method::GET, &format!("/v1/subscriptions/{id}"), &[]).await["customer"].as_str().unwrap().to_owned();
        let added = self.stripe(Method::POST, &format!("/v1/payment_methods/{card}/attach"), &[("customer", &customer)]).await;
        added["id"].as_str().expect("a saved card").to_owned()
    }

    /// Waits until the storefront has answered every webhook of `kind` sent so far.
    async fn delivered(&self, kind: &str) {
        support::wait_delivered(&self.stripe, kind).await;
    }

    /// The order each of the subscription's invoices became (newest first), and how
    /// many confirmation emails the outbox holds for them.
    async fn invoice_orders(&self, subscription: &str) -> (Vec<Option<String>>, usize) {
        let invoices = self.stripe(Method::GET, &format!("/v1/invoices?subscription={subscription}"), &[]).await;
        let mut orders = Vec::new();
        let mut confirmations = 0;
        for invoice in invoices["data"].as_array().unwrap() {
            let order = self.store.order_for_invoice(invoice["id"].as_str().unwrap()).await.unwrap();
            if let Some(order) = &order {
                let outbox = self.store.outbox_for(order).await.unwrap();
                confirmations += outbox.iter().filter(|m| m.kind == "order_confirmation").count();
            }
            orders.push(order);
        }
        (orders, confirmations)
    }
}

/// Waits for the shop's answer to a request `sent` in the background, which must be
/// `status` with `words` in its message.
async fn answered(sent: tokio::task::JoinHandle<(u16, Value)>, status: u16, words: &str) {
    let (got, reply) = sent.await.unwrap();
    assert_eq!(got, status, "{reply}");
    assert!(reply.to_string().contains(words), "{reply}");
}

/// The nonce of the account page's form that pays an overdue renewal.
fn attempt_nonce(page: &str) -> &str {
    page.split("name=\"attempt\" value=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a nonce")
}

async fn api_as(client: &reqwest::Client, base: &str, endpoint: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let reply = client.post(format!("{base}/api/{endpoint}")).form(form).send().await.unwrap();
    let status = reply.status().as_u16();
    let text = reply.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_shopper_subscribes_and_each_paid_invoice_becomes_one_order() {
    let shop = shop().await;
    // A guest is asked to sign in first; nothing is created at Stripe.
    let (status, _) = shop.add("coffee-beans").await;
    assert_eq!(status, 200);
    let (_, checkout) = shop.api("checkout/view", &[]).await;
    assert_eq!(checkout["needs_account"], true, "{checkout}");
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, refused) = shop.confirm(&token).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("Sign in"), "{refused}");
    assert!(shop.stripe(Method::GET, "/v1/subscriptions", &[]).await["data"].as_array().unwrap().is_empty());

    // Signed in (the cart comes along): Elements in subscription mode, then paid.
    shop.sign_up("subscriber@example.com").await;
    let (_, checkout) = shop.api("checkout/view", &[]).await;
    assert_eq!(checkout["needs_account"], false);
    assert!(checkout["subscription_terms"].as_str().unwrap().contains("€12.00 / month"), "{checkout}");
    assert_eq!(checkout["setup_future_usage"], Value::Null);
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, reply) = shop.confirm(&token).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], "Succeeded");
    let first_order = reply["order_id"].as_str().unwrap().to_owned();
    assert!(first_order.starts_with("ord_"), "{reply}");
    // The same token again (a double submit): the same subscription, nothing more.
    let (status, again) = shop.confirm(&token).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["order_id"], reply["order_id"]);

    let subscription = shop.only_subscription().await;
    assert_eq!((subscription.state.status.as_str(), subscription.terms.quantity, subscription.terms.unit_amount), ("active", 1, 1200));
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/subscriptions/{}", subscription.id), &[]).await;
    assert_eq!(at_stripe["status"], "active");
    assert!(at_stripe["default_payment_method"].is_string(), "the card pays the renewals: {at_stripe}");
    assert_eq!(at_stripe["items"]["data"][0]["price"]["unit_amount"], 1200, "the catalog's price");
    assert_eq!(subscription.state.current_period_end, at_stripe["items"]["data"][0]["current_period_end"].as_i64());
    let order = shop.store.order_for_merchant(&first_order).await.unwrap().unwrap();
    assert_eq!((order.status.to_string().as_str(), order.amount), ("paid", 1200));
    let (_, cart) = shop.api("cart/get", &[]).await;
    assert_eq!(cart["item_count"], 0, "the subscription left the cart: {cart}");
    let account = shop.page("/account").await;
    assert!(account.contains(&format!("data-testid=\"subscription-{}\"", subscription.id)), "{account}");
    assert!(account.contains("data-status=\"active\"") && account.contains("Renews on"), "{account}");

    // A month later Stripe bills the renewal: a second order, a second confirmation.
    shop.advance_clock(32).await;
    shop.delivered("invoice.paid").await;
    let (orders, confirmations) = shop.invoice_orders(&subscription.id).await;
    assert_eq!(orders.len(), 2);
    assert!(orders.iter().all(Option::is_some), "{orders:?}");
    assert_eq!(orders[1].as_deref(), Some(first_order.as_str()));
    assert_eq!(confirmations, 2);
    shop.delivered("customer.subscription.updated").await;
    let renewed = shop.only_subscription().await;
    assert!(renewed.state.current_period_end > subscription.state.current_period_end, "{renewed:?}");
    assert_eq!(renewed.state.status, "active");
    // The merchant sees it, and both orders.
    let admin = support::admin_page(&format!("{}/admin/subscriptions", shop.base), ADMIN).await;
    assert!(admin.contains(&format!("data-testid=\"admin-subscription-{}\"", subscription.id)), "{admin}");
    assert!(admin.contains("subscriber@example.com") && admin.contains("€12.00 / month") && admin.contains(">active<"), "{admin}");
    let orders_page = support::admin_page(&format!("{}/admin/orders", shop.base), ADMIN).await;
    assert!(orders.iter().flatten().all(|order| orders_page.contains(order.as_str())), "{orders_page}");
    let (_, cart) = shop.api("cart/get", &[]).await;
    assert_eq!(cart["item_count"], 0, "a renewal touches no cart");

    // The merchant refunds the renewal from its page, as any order: Stripe refunds the
    // renewal invoice's own PaymentIntent, and the order shows it refunded.
    let renewal = orders[0].as_deref().unwrap();
    let page = support::admin_page(&format!("{}/admin/orders/{renewal}", shop.base), ADMIN).await;
    assert!(page.contains(&format!(r#"of subscription <a href="/admin/orders?subscription={0}">{0}</a>"#, subscription.id)), "{page}");
    let nonce = support::form_nonce(&page, &format!("/admin/orders/{renewal}/refunds"));
    let refunds_url = format!("{}/admin/orders/{renewal}/refunds", shop.base);
    let location = support::admin_post(refunds_url, ADMIN, &[("amount", "12.00"), ("request", nonce.as_str())]).await;
    assert!(location.contains("refunded=re_"), "{location}");
    let intent = shop.store.order_for_merchant(renewal).await.unwrap().unwrap().payment_intent_id.unwrap();
    let refunds = shop.stripe(Method::GET, &format!("/v1/refunds?payment_intent={intent}"), &[]).await;
    assert_eq!(refunds["data"][0]["amount"], 1200, "{refunds}");
    let refunded = support::poll_until(
        100,
        || async { shop.store.order_for_merchant(renewal).await.unwrap().unwrap().shown_status() },
        |status| *status == "refunded",
    )
    .await;
    assert_eq!(refunded, "refunded");
    let first = shop.store.order_for_merchant(&first_order).await.unwrap().unwrap();
    assert_eq!(first.shown_status(), "paid", "only the renewal");

    // The merchant's list of the subscription's orders, linked from its row: its two,
    // and not the shopper's one-off order.
    let (status, _) = shop.add("walnut-board").await;
    assert_eq!(status, 200);
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, one_off) = shop.confirm(&token).await;
    assert_eq!(status, 200, "{one_off}");
    let link = format!("/admin/orders?subscription={}", subscription.id);
    assert!(admin.contains(&format!(r#"href="{link}""#)), "{admin}");
    let of = support::admin_page(&format!("{}{link}", shop.base), ADMIN).await;
    let at = |order: &str| of.find(&format!("admin-order-{order}"));
    assert!(at(renewal).is_some() && at(&first_order).is_some(), "{of}");
    assert_eq!(at(one_off["order_id"].as_str().unwrap()), None, "{of}");
    let one_off_page = support::admin_page(&format!("{}/admin/orders/{}", shop.base, one_off["order_id"].as_str().unwrap()), ADMIN).await;
    assert!(!one_off_page.contains("admin-order-invoice"), "{one_off_page}");
    assert!(of.contains("admin-orders-of"), "{of}");
    let none = support::admin_page(&format!("{}/admin/orders?subscription=sub_0000000000000000", shop.base), ADMIN).await;
    assert!(none.contains("No orders here."), "{none}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_that_cannot_be_charged_shows_past_due_and_another_saved_card_pays_it() {
    let shop = shop().await;
    let (subscription, customer, card) = shop.past_due("past-due@example.com", "pm_card_chargeCustomerFail").await;
    let account = shop.page("/account").await;
    assert!(account.contains("data-status=\"past_due\""), "{account}");
    assert!(account.contains("the last renewal could not be charged"), "{account}");
    // Stripe's next retry of it, as its invoice says.
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/subscriptions/{}?expand[]=latest_invoice", subscription.id), &[]).await;
    let retry = shown_date(at_stripe["latest_invoice"]["next_payment_attempt"].as_i64().expect("a retry to come"));
    assert!(account.contains(&format!("Next payment attempt on {retry}")), "{account}");
    let admin = support::admin_page(&format!("{}/admin/subscriptions", shop.base), ADMIN).await;
    assert!(admin.contains(">past_due<") && admin.contains("next payment attempt "), "the merchant's list says it too: {admin}");
    let (orders, _) = shop.invoice_orders(&subscription.id).await;
    assert_eq!(orders.iter().filter(|order| order.is_some()).count(), 1, "only the paid invoice is an order");
    // The subscriber is told by email, with its first order's address, once.
    let first_order = orders.iter().flatten().next().unwrap().clone();
    let told = shop.sent_to_subscriber(&first_order, "renewal_failed.").await;
    assert_eq!(told.len(), 1, "{told:?}");
    let email = support::readable(&shop.written_email(&first_order, &told[0]).expect("the email, written to MAIL_DIR"));
    assert!(email.contains("Subject: Your subscription could not be renewed") && email.contains("1 × Coffee beans"), "{email}");
    assert!(email.contains(&format!("Your card will be tried again on {retry}; to pay it now, go to your account")), "{email}");
    assert!(email.contains("where your bank can ask you to confirm it") && email.contains("/account"), "{email}");

    // The account page offers to pay it with a saved card. The same card is declined
    // again, and a card that is not the shopper's is refused before Stripe is asked.
    assert!(account.contains("data-testid=\"pay-overdue-form\""), "{account}");
    let (status, declined) = shop.pay_overdue(&account, &subscription.id, &card, None).await;
    assert_eq!(status, 402, "{declined}");
    assert!(declined.to_string().contains("declined"), "{declined}");
    let (status, refused) = shop.pay_overdue(&account, &subscription.id, "pm_1NotTheShoppers", None).await;
    assert_eq!(status, 404, "{refused}");
    assert_eq!(shop.only_subscription().await.state.status, "past_due");

    // A new card (added on this page) pays it: active again, the invoice an order, and
    // the new card is what the next renewals are charged to.
    let added = shop.stripe(Method::POST, "/v1/payment_methods/pm_card_mastercard/attach", &[("customer", customer.as_str())]).await;
    let account = shop.page("/account").await;
    let (status, paid) = shop.pay_overdue(&account, &subscription.id, added["id"].as_str().unwrap(), None).await;
    assert_eq!((status, &paid), (200, &json!("Paid")));
    assert_eq!(shop.only_subscription().await.state.status, "active");
    let (orders, confirmations) = shop.invoice_orders(&subscription.id).await;
    assert_eq!((orders.iter().filter(|order| order.is_some()).count(), confirmations), (2, 2));
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/subscriptions/{}", subscription.id), &[]).await;
    assert_eq!((at_stripe["status"].as_str(), &at_stripe["default_payment_method"]), (Some("active"), &added["id"]));
    // The same form sent again pays nothing more; the page offers nothing to pay.
    let (status, again) = shop.pay_overdue(&account, &subscription.id, added["id"].as_str().unwrap(), None).await;
    assert_eq!(status, 400, "{again}");
    assert!(!shop.page("/account").await.contains("pay-overdue-form"));
    shop.delivered("invoice.paid").await;
    assert_eq!(shop.invoice_orders(&subscription.id).await, (orders, 2), "its webhook finds it done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_renewal_whose_bank_wants_3_d_secure_is_authenticated_by_the_shopper() {
    let shop = shop().await;
    // Stripe's 4000 0027 6000 3184: its bank asks for 3-D Secure on every payment, so
    // the renewal, off session, failed.
    let (subscription, _, card) = shop.past_due("authenticates@example.com", "pm_card_authenticationRequired").await;
    let account = shop.page("/account").await;
    // A plain form (no JavaScript) pays off session, which that bank refuses: the words
    // say what to do, and nothing changed.
    let (status, refused) = shop.pay_overdue(&account, &subscription.id, &card, None).await;
    assert_eq!(status, 402, "{refused}");
    assert!(refused.to_string().contains("needs JavaScript"), "{refused}");
    // The island says the shopper is there: the invoice's PaymentIntent waits for them.
    let (status, reply) = shop.pay_overdue(&account, &subscription.id, &card, Some(1)).await;
    assert_eq!(status, 200, "{reply}");
    let secret = reply["Authenticate"]["client_secret"].as_str().expect("the PaymentIntent's client secret").to_owned();
    let intent = shop.stripe(Method::GET, &format!("/v1/payment_intents/{}", secret.split("_secret_").next().unwrap()), &[]).await;
    assert_eq!(intent["status"], "requires_action", "{intent}");
    let invoice = shop.stripe(Method::GET, &format!("/v1/subscriptions/{}", subscription.id), &[]).await["latest_invoice"].clone();
    let invoice = shop.stripe(Method::GET, &format!("/v1/invoices/{}?expand[]=payments", invoice.as_str().unwrap()), &[]).await;
    assert_eq!(invoice["payments"]["data"][0]["payment"]["payment_intent"], intent["id"], "the renewal's own PaymentIntent");

    // The challenge failed: nothing charged, still overdue.
    shop.answer_challenge(&secret, "fail").await;
    let (status, now) = shop.api("account/subscription/refresh", &[("subscription", &subscription.id)]).await;
    assert_eq!((status, now.as_str()), (200, Some("past_due")));
    // Tried again from the same page (its second try, a new key): the same payment
    // waits again, and this time the shopper confirms it.
    let (status, reply) = shop.pay_overdue(&account, &subscription.id, &card, Some(2)).await;
    assert_eq!((status, reply["Authenticate"]["client_secret"].as_str()), (200, Some(secret.as_str())), "{reply}");
    shop.answer_challenge(&secret, "complete").await;
    let (status, now) = shop.api("account/subscription/refresh", &[("subscription", &subscription.id)]).await;
    assert_eq!((status, now.as_str()), (200, Some("active")));
    assert_eq!(shop.only_subscription().await.state.status, "active");
    let (orders, confirmations) = shop.invoice_orders(&subscription.id).await;
    assert_eq!((orders.iter().filter(|order| order.is_some()).count(), confirmations), (2, 2));
    assert!(!shop.page("/account").await.contains("pay-overdue-form"));

    // Another shopper can neither read nor pay it.
    let stranger = support::shopper();
    let (status, _) = api_as(
        &stranger,
        &shop.base,
        "account/sign-up",
        &[("email", "stranger@example.com"), ("password", "correct horse battery staple")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = api_as(&stranger, &shop.base, "account/subscription/refresh", &[("subscription", &subscription.id)]).await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_cancels_at_the_period_end_and_can_undo_it() {
    let shop = shop().await;
    let subscription = shop.subscribed("cancel@example.com").await;
    let id = subscription.id.as_str();

    // Nobody else can touch it.
    let stranger = support::shopper();
    api_as(&stranger, &shop.base, "account/sign-up", &[("email", "stranger@example.com"), ("password", "correct horse battery staple")])
        .await;
    let (status, _) = api_as(&stranger, &shop.base, "account/subscription/cancel", &[("subscription", id)]).await;
    assert_eq!(status, 404);
    assert!(!shop.only_subscription().await.state.cancel_at_period_end);

    let (status, body) = shop.api("account/subscription/cancel", &[("subscription", id)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(shop.only_subscription().await.state.cancel_at_period_end);
    assert_eq!(shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}"), &[]).await["cancel_at_period_end"], true);
    let account = shop.page("/account").await;
    assert!(account.contains("Ends on") && account.contains("data-testid=\"resume-subscription\""), "{account}");

    let (status, _) = shop.api("account/subscription/resume", &[("subscription", id)]).await;
    assert_eq!(status, 200);
    assert!(!shop.only_subscription().await.state.cancel_at_period_end);
    assert!(shop.page("/account").await.contains("data-testid=\"cancel-subscription\""));

    // Canceled again, the period ends: no renewal, the subscription is over.
    shop.api("account/subscription/cancel", &[("subscription", id)]).await;
    shop.advance_clock(32).await;
    shop.delivered("customer.subscription.deleted").await;
    assert_eq!(shop.only_subscription().await.state.status, "canceled");
    let (orders, _) = shop.invoice_orders(id).await;
    assert_eq!(orders.len(), 1, "no renewal was billed");
    let (status, refused) = shop.api("account/subscription/resume", &[("subscription", id)]).await;
    assert_eq!(status, 400, "{refused}");
    let account = shop.page("/account").await;
    assert!(account.contains("data-status=\"canceled\"") && !account.contains("data-testid=\"resume-subscription\""), "{account}");

    // The subscriber is emailed that it ended, once, however often Stripe says so.
    let first_order = orders[0].clone().expect("the first invoice's order");
    let told = shop.sent_to_subscriber(&first_order, "subscription_ended.").await;
    assert_eq!(told, [format!("subscription_ended.{id}")]);
    let email = support::readable(&shop.written_email(&first_order, &told[0]).expect("the email, written to MAIL_DIR"));
    assert!(email.contains("Subject: Your subscription has ended"), "{email}");
    assert!(email.contains("Your subscription (1 × Coffee beans, monthly) has ended: nothing more will be charged for it"), "{email}");
    let events = shop.stripe(Method::GET, "/v1/events?type=customer.subscription.deleted", &[]).await;
    let resend = format!("{}/_emulator/events/{}/resend", shop.stripe, events["data"][0]["id"].as_str().unwrap());
    assert!(support::client().post(resend).send().await.unwrap().status().is_success());
    support::wait_all_delivered(&shop.stripe).await;
    assert_eq!(shop.sent_to_subscriber(&first_order, "subscription_ended.").await.len(), 1);
}

/// A subscriber charges the renewals to another of their saved cards from the account
/// page: the page shows the card they go to, the next renewal is charged to the one
/// chosen, and going back to an earlier card takes effect (a fresh key each time, not
/// Stripe's replay of the first choice). Another account, or a card that is not the
/// shopper's, changes nothing; nothing is charged when the card changes. The card the
/// renewals go to cannot be removed while a renewal is to come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_charges_the_renewals_to_another_saved_card() {
    let shop = shop().await;
    let subscription = shop.subscribed("renewal-card@example.com").await;
    let id = subscription.id.as_str();
    let first = shop.default_payment_method(id).await.as_str().unwrap().to_owned();
    assert_eq!(subscription.state.renewal_card.as_deref(), Some(first.as_str()), "kept from Stripe's reply");
    let customer = shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}"), &[]).await["customer"].as_str().unwrap().to_owned();
    let added = shop.stripe(Method::POST, "/v1/payment_methods/pm_card_mastercard/attach", &[("customer", customer.as_str())]).await;
    let added = added["id"].as_str().unwrap().to_owned();
    assert_eq!(renewal_card_shown(&shop.page("/account").await).as_deref(), Some(first.as_str()));

    let stranger = support::shopper();
    api_as(&stranger, &shop.base, "account/sign-up", &[("email", "stranger@example.com"), ("password", "correct horse battery staple")])
        .await;
    let choose = |client: &reqwest::Client, card: &str| {
        let form = [("subscription", id.to_owned()), ("payment_method", card.to_owned())];
        let (client, base) = (client.clone(), shop.base.clone());
        async move { api_as(&client, &base, "account/subscription/card", &[(form[0].0, &form[0].1), (form[1].0, &form[1].1)]).await }
    };
    let (status, _) = choose(&stranger, &added).await;
    assert_eq!(status, 404, "another account's subscription");
    let (status, refused) = choose(&shop.shopper, "pm_1NotTheShoppers").await;
    assert_eq!(status, 404, "{refused}");
    assert_eq!(shop.default_payment_method(id).await, first.as_str());

    let (status, body) = choose(&shop.shopper, &added).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(shop.default_payment_method(id).await, added.as_str());
    assert_eq!(shop.only_subscription().await.state.renewal_card.as_deref(), Some(added.as_str()));
    assert_eq!(renewal_card_shown(&shop.page("/account").await).as_deref(), Some(added.as_str()));
    // Back to the first card, then to the new one again: each choice reaches Stripe.
    for card in [&first, &added] {
        let (status, body) = choose(&shop.shopper, card).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(shop.default_payment_method(id).await, card.as_str());
    }
    assert_eq!(shop.charged().await.len(), 1, "only the first invoice was charged");
    // The card the renewals go to stays until another takes its place.
    let (status, refused) = shop.api("account/remove-payment-method", &[("payment_method", &added)]).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("This card pays the renewals of “Coffee beans, monthly”"), "{refused}");
    let attached = shop.stripe(Method::GET, &format!("/v1/payment_methods/{added}"), &[]).await;
    assert_eq!(attached["customer"], customer.as_str());
    // Nor can the Payment Element remove it at checkout: its remove is off meanwhile.
    assert_eq!(shop.checkouts_card_removal().await, "disabled");

    // The next renewal is charged to the card chosen.
    shop.advance_clock(32).await;
    let intents = shop.stripe(Method::GET, "/v1/payment_intents?limit=100", &[]).await;
    let renewal = &intents["data"][0];
    assert_eq!((renewal["status"].as_str(), renewal["payment_method"].as_str()), (Some("succeeded"), Some(added.as_str())), "{renewal}");
    shop.delivered("invoice.paid").await;
    assert_eq!(shop.invoice_orders(id).await.0.len(), 2);

    // A card removed in another tab once the shop has listed it, before Stripe changes
    // the subscription: said to be gone, and the renewals stay where they were.
    let path = format!("/v1/subscriptions/{id}");
    shop.control("faults", json!({ "path": path, "method": "POST", "phase": "before", "delay_ms": 1500 })).await;
    let choosing = tokio::spawn(choose(&shop.shopper, &first));
    assert!(shop.faults_used().await, "the card's change never reached Stripe");
    shop.stripe(Method::POST, &format!("/v1/payment_methods/{first}/detach"), &[]).await;
    answered(choosing, 404, "no such saved card").await;
    assert_eq!(shop.default_payment_method(id).await, added.as_str());

    // Set to end with its period, it renews no more: its card can go.
    assert_eq!(shop.api("account/subscription/cancel", &[("subscription", id)]).await.0, 200);
    let (status, body) = shop.api("account/remove-payment-method", &[("payment_method", &added)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(shop.checkouts_card_removal().await, "enabled");
}

/// The card the account page says renewals are charged to (the option selected in
/// `renewal-card`), if it shows one.
fn renewal_card_shown(page: &str) -> Option<String> {
    let select = page.split("data-testid=\"renewal-card\"").nth(1)?.split("</select>").next()?;
    let option = select
        .split("<option")
        .find(|option| option.split('>').next().is_some_and(|tag| tag.contains("selected") && !tag.contains("disabled")))?;
    option.split("value=\"").nth(1)?.split('"').next().map(str::to_owned)
}

/// The merchant sets a subscription to end on a date of their choosing (the
/// Dashboard's "cancel on a custom date": `cancel_at`). The account page says when it
/// ends instead of a renewal that will not come, offers nothing that would change that
/// end, and the subscription ends then. A date after the next renewal leaves that
/// renewal, and the shopper's own cancel, in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_date_set_in_the_dashboard_is_shown_and_kept() {
    let shop = shop().await;
    let subscription = shop.subscribed("dated@example.com").await;
    let (id, period_end) = (subscription.id.as_str(), subscription.state.current_period_end.unwrap());

    let within = period_end - 5 * 86_400;
    assert_eq!(shop.end_on(id, &within.to_string()).await.state.cancel_at, Some(within));
    let account = shop.page("/account").await;
    assert!(account.contains(&format!("Ends on {}", shown_date(within))) && !account.contains("Renews on"), "{account}");
    for offered in ["cancel-subscription", "resume-subscription", "subscription-quantity"] {
        assert!(!account.contains(&format!("data-testid=\"{offered}\"")), "{offered}: {account}");
    }

    let later = period_end + 10 * 86_400;
    shop.end_on(id, &later.to_string()).await;
    let account = shop.page("/account").await;
    assert!(account.contains(&format!("Renews on {} · Ends on {}", shown_date(period_end), shown_date(later))), "{account}");
    assert!(account.contains("data-testid=\"cancel-subscription\"") && account.contains("data-testid=\"subscription-quantity\""));

    assert_eq!(shop.end_on(id, "").await.state.cancel_at, None);
    let account = shop.page("/account").await;
    assert!(account.contains(&format!("Renews on {}", shown_date(period_end))) && !account.contains("Ends on"), "{account}");

    // Set within the period again, it ends on that date: no renewal is billed.
    shop.end_on(id, &within.to_string()).await;
    shop.advance_clock(28).await;
    shop.delivered("customer.subscription.deleted").await;
    assert_eq!(shop.only_subscription().await.state.status, "canceled");
    let (orders, _) = shop.invoice_orders(id).await;
    assert_eq!(orders.len(), 1, "no renewal was billed");
}

/// The merchant pauses the subscription's payments in the Dashboard ("pause payment
/// collection"): it stays active, and its renewals come without being charged. The
/// account page says so, rather than a renewal to be paid; the renewal that comes
/// meanwhile is no order; once payments resume, the next renewal is charged and
/// fulfilled as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_the_merchant_paused_are_shown_and_no_renewal_is_charged_meanwhile() {
    let shop = shop().await;
    let subscription = shop.subscribed("paused@example.com").await;
    let (id, period_end) = (subscription.id.as_str(), subscription.state.current_period_end.unwrap());

    let resumes = period_end + 10 * 86_400;
    let paused =
        shop.pause_payments(id, &[("pause_collection[behavior]", "void"), ("pause_collection[resumes_at]", &resumes.to_string())]).await;
    assert_eq!((paused.state.status.as_str(), paused.state.collection_resumes_at), ("active", Some(resumes)));
    let account = shop.page("/account").await;
    assert!(account.contains(&format!("Payments paused until {}", shown_date(resumes))) && !account.contains("Renews on"), "{account}");
    assert!(account.contains("data-testid=\"cancel-subscription\""), "the shopper can still cancel: {account}");
    let admin = support::admin_page(&format!("{}/admin/subscriptions", shop.base), ADMIN).await;
    assert!(admin.contains("payments paused until "), "the merchant's list says it too: {admin}");

    // A month on, within the pause: renewed, not charged, no order.
    shop.advance_clock(32).await;
    shop.delivered("customer.subscription.updated").await;
    let renewed = shop.only_subscription().await;
    assert!(renewed.state.current_period_end > Some(period_end) && renewed.state.collection_paused, "{renewed:?}");
    assert_eq!(shop.invoice_orders(id).await.0.iter().map(Option::is_some).collect::<Vec<_>>(), [false, true]);
    assert!(shop.page("/account").await.contains(&format!("Payments paused until {}", shown_date(resumes))));

    // Another month on: payments resumed before this renewal, which is charged.
    shop.advance_clock(31).await;
    shop.delivered("invoice.paid").await;
    shop.delivered("customer.subscription.updated").await;
    let resumed = shop.only_subscription().await;
    assert!(!resumed.state.collection_paused && resumed.state.collection_resumes_at.is_none(), "{resumed:?}");
    assert_eq!(shop.invoice_orders(id).await.0.iter().map(Option::is_some).collect::<Vec<_>>(), [true, false, true]);
    let account = shop.page("/account").await;
    assert!(account.contains(&format!("Renews on {}", shown_date(resumed.state.current_period_end.unwrap()))), "{account}");
    assert!(!account.contains("Payments paused"), "{account}");

    // Paused until the merchant resumes it: no date to give. Then resumed.
    shop.pause_payments(id, &[("pause_collection[behavior]", "keep_as_draft")]).await;
    let account = shop.page("/account").await;
    assert!(account.contains("Payments paused<") || account.contains("Payments paused ·"), "{account}");
    assert!(!account.contains("Payments paused until"), "{account}");
    shop.pause_payments(id, &[("pause_collection", "")]).await;
    assert!(!shop.page("/account").await.contains("Payments paused"));
}

/// The merchant credits the subscriber's balance in the Dashboard ("adjust balance"): the
/// next renewal is paid from the credit, nothing charged (`amount_paid` 0), and is
/// fulfilled all the same, an order of 0 with its confirmation; the renewal after it
/// charges the card what the credit left. Each order's line is what the period costs, and
/// its page, email and merchant page show the credit taken off before the total. (An
/// order of 0 was refused by the database: the renewal was never fulfilled, and its
/// webhook, like every later one of the subscription, failed on each retry. Then its
/// line was priced at what was charged, 0 for the bag.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_paid_by_the_customers_credit_is_fulfilled_and_the_rest_is_charged_next() {
    let shop = shop().await;
    let subscription = shop.subscribed("credit@example.com").await;
    let path = format!("/v1/subscriptions/{}", subscription.id);
    let customer = shop.stripe(Method::GET, &path, &[]).await["customer"].as_str().unwrap().to_owned();
    let period = subscription.terms.unit_amount * subscription.terms.quantity;
    let credit = period + period / 4;
    shop.stripe(Method::POST, &format!("/v1/customers/{customer}"), &[("balance", &(-credit).to_string())]).await;

    shop.advance_clock(32).await;
    shop.delivered("invoice.paid").await;
    support::wait_all_delivered(&shop.stripe).await;
    let (orders, confirmations) = shop.invoice_orders(&subscription.id).await;
    assert_eq!((orders.len(), confirmations), (2, 2), "{orders:?}");
    let renewal = shop.store.order_for_merchant(orders[0].as_deref().unwrap()).await.unwrap().unwrap();
    assert_eq!((renewal.status.as_str(), renewal.amount, renewal.payment_intent_id.as_deref()), ("paid", 0, None));
    assert_eq!(shop.charged().await.len(), 1, "only the first invoice was charged");
    assert_eq!((renewal.lines[0].unit_amount, renewal.credit_amount), (period, period));
    let page = shop.page(&format!("/orders/{}", renewal.id)).await;
    assert!(page.contains(&subscription.terms.name) && page.contains("data-testid=\"order-status\""), "{page}");
    let credit_line = page.split("data-testid=\"order-credit\"").nth(1).unwrap_or_default();
    assert!(page.contains("<span>€12.00</span></li>") && credit_line.contains("Paid from your credit"), "{page}");
    assert!(credit_line.contains("−€12.00") && page.contains("<strong>€0.00</strong>"), "{page}");
    // No receipt (nothing was charged), but the invoice's page, which says the credit paid it.
    assert!(page.contains("data-testid=\"order-invoice\"") && !page.contains("data-testid=\"order-receipt\""), "{page}");
    let invoice = shop.shopper.get(format!("{}/orders/{}/invoice", shop.base, renewal.id)).send().await.unwrap();
    let invoice_id = &renewal.invoice.as_ref().unwrap().1;
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/invoices/{invoice_id}"), &[]).await;
    assert_eq!((invoice.status().as_u16(), invoice.url().as_str()), (200, at_stripe["hosted_invoice_url"].as_str().unwrap()));
    let invoice = invoice.text().await.unwrap();
    assert!(invoice.contains("<strong>Paid</strong>") && invoice.contains("<td>Applied balance: </td><td>−€12.00</td>"), "{invoice}");
    let merchant = support::admin_page(&format!("{}/admin/orders/{}", shop.base, renewal.id), ADMIN).await;
    assert!(merchant.contains(&renewal.id) && !merchant.contains("data-testid=\"admin-refund-form\""), "nothing to refund: {merchant}");
    assert!(merchant.contains("Paid from the customer's credit: −€12.00"), "{merchant}");
    let email = support::poll_until(200, || async { shop.written_email(&renewal.id, "order_confirmation") }, Option::is_some).await;
    let email = support::readable(&email.unwrap());
    let line = format!("1 × {}: €12.00", subscription.terms.name);
    assert!(email.contains(&line) && email.contains("Paid from your credit: −€12.00"), "{email}");
    // And it leads to the invoice's page, which a business keeps for its accounts.
    let key = renewal.view_key.as_deref().unwrap();
    assert!(email.contains(&format!("View your invoice: {}/orders/{}/invoice?key={key}", shop.base, renewal.id)), "{email}");

    shop.advance_clock(31).await;
    shop.delivered("invoice.paid").await;
    support::wait_all_delivered(&shop.stripe).await;
    assert_eq!(shop.charged().await[0], period - period / 4, "the card pays what the credit left");
    let (orders, _) = shop.invoice_orders(&subscription.id).await;
    let next = shop.store.order_for_merchant(orders[0].as_deref().unwrap()).await.unwrap().unwrap();
    assert_eq!((orders.len(), next.amount, next.credit_amount, next.lines[0].unit_amount), (3, period - period / 4, period / 4, period));
}

/// A date as the account page shows it, in English.
fn shown_date(at: i64) -> String {
    storefront::i18n::Locale::En.date(at)
}

/// A signed-up shopper (`email`) with the subscription in their cart, whose Customer the
/// merchant has credited with one period's price: that price.
async fn credited_for_one_period(shop: &Shop, email: &str) -> i64 {
    shop.sign_up(email).await;
    let (status, cart) = shop.add("coffee-beans").await;
    assert_eq!(status, 200, "{cart}");
    // The checkout page makes the account's Customer.
    assert!(shop.page("/checkout").await.contains("data-testid=\"pay-button\""));
    let customers = shop.stripe(Method::GET, &format!("/v1/customers?email={email}"), &[]).await;
    let customer = customers["data"][0]["id"].as_str().unwrap().to_owned();
    let period = cart["lines"][0]["line_total"]["amount"].as_i64().unwrap();
    shop.stripe(Method::POST, &format!("/v1/customers/{customer}"), &[("balance", &(-period).to_string())]).await;
    period
}

/// The shopper's credit pays the first invoice in full: Stripe makes the subscription
/// active at once, with nothing to charge and a SetupIntent for the card. The shop
/// keeps the subscription and its order of 0, sets the card up through that SetupIntent
/// and makes it the subscription's: paid, the reply names the order (there is no
/// PaymentIntent), and the same request again answers the same. Once the credit is spent,
/// the renewal is charged to that card. (An internal error before.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_invoice_the_credit_pays_subscribes_and_keeps_the_card_for_the_renewals() {
    let shop = shop().await;
    let period = credited_for_one_period(&shop, "credit-first@example.com").await;
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, reply) = shop.confirm(&token).await;
    assert_eq!((status, reply["status"].as_str(), reply["payment_intent"].as_str()), (200, Some("Succeeded"), Some("")), "{reply}");
    let subscription = shop.only_subscription().await;
    assert_eq!(subscription.state.status, "active");
    let (orders, confirmations) = shop.invoice_orders(&subscription.id).await;
    assert_eq!((orders.len(), confirmations, orders[0].as_deref()), (1, 1, reply["order_id"].as_str()));
    let order = shop.store.order_for_merchant(orders[0].as_deref().unwrap()).await.unwrap().unwrap();
    assert_eq!((order.status.as_str(), order.amount, order.credit_amount, order.lines[0].unit_amount), ("paid", 0, period, period));
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/subscriptions/{}", subscription.id), &[]).await;
    assert!(at_stripe["default_payment_method"].as_str().is_some_and(|pm| pm.starts_with("pm_")), "{at_stripe}");
    assert!(at_stripe["pending_setup_intent"].is_null(), "{at_stripe}");
    assert_eq!(shop.confirm(&token).await, (200, reply.clone()), "the same request again: the same answer");
    assert!(shop.charged().await.is_empty(), "nothing was charged");

    // A month on, the credit is spent: the renewal is charged to the card kept.
    shop.advance_clock(32).await;
    shop.delivered("invoice.paid").await;
    support::wait_all_delivered(&shop.stripe).await;
    assert_eq!(shop.charged().await, [period]);
    assert_eq!(shop.only_subscription().await.state.status, "active");
    assert_eq!(shop.invoice_orders(&subscription.id).await.0.len(), 2);
}

impl Shop {
    /// A first invoice the credit pays (see [`credited_for_one_period`]), with a card
    /// whose bank wants 3-D Secure to set it up: the reply asks the browser to
    /// authenticate the subscription's SetupIntent. The subscription, and the reply.
    async fn credited_card_to_authenticate(&self, email: &str) -> (SubscriptionRecord, Value) {
        credited_for_one_period(self, email).await;
        // Stripe's 4000 0025 0000 3155: authenticated once set up, charged off session.
        let token = support::test_token(&self.shopper, &self.stripe, "pm_card_authenticationRequiredOnSetup").await;
        let (status, reply) = self.confirm(&token).await;
        assert_eq!(
            (status, reply["status"].as_str(), reply["payment_intent"].as_str()),
            (200, Some("RequiresAction"), Some("")),
            "{reply}"
        );
        assert!(reply["client_secret"].as_str().is_some_and(|secret| secret.starts_with("seti_")), "{reply}");
        assert_eq!(self.confirm(&token).await, (200, reply.clone()), "the same request again: the same answer");
        let subscription = self.only_subscription().await;
        assert_eq!(subscription.state.status, "active");
        assert_eq!(self.invoice_orders(&subscription.id).await.0.len(), 1);
        (subscription, reply)
    }

    /// Pays with a Visa while Stripe's answers to every `POST` under `path` are lost, on
    /// each retry too (Stripe acts, the shop hears nothing): the reply says the outcome
    /// is unknown. The token, to ask again with once Stripe answers again.
    async fn confirmed_with_answers_lost(&self, path: &str) -> String {
        let fault = json!({ "path": path, "method": "POST", "drop": true, "phase": "after", "count": 20 });
        self.control("faults", fault).await;
        let token = support::test_token(&self.shopper, &self.stripe, "pm_card_visa").await;
        let (status, unknown) = self.confirm(&token).await;
        assert_eq!(status, 504, "{unknown}");
        assert!(unknown.get("PaymentUnknown").is_some(), "{unknown}");
        support::client().delete(format!("{}/_emulator/faults", self.stripe)).send().await.unwrap();
        token
    }

    /// Subscription `id`'s default payment method at Stripe.
    async fn default_payment_method(&self, id: &str) -> Value {
        self.stripe(Method::GET, &format!("/v1/subscriptions/{id}"), &[]).await["default_payment_method"].clone()
    }

    /// The card is `subscription`'s, and charged for the renewal once the credit is spent
    /// (nothing charged before).
    async fn renewal_charged_to_the_card_kept(&self, subscription: &SubscriptionRecord) {
        assert!(self.default_payment_method(&subscription.id).await.as_str().is_some_and(|pm| pm.starts_with("pm_")));
        assert!(self.charged().await.is_empty(), "nothing was charged");
        self.advance_clock(32).await;
        assert_eq!(self.charged().await, [subscription.terms.unit_amount]);
    }

    /// `/checkout/complete` for the SetupIntent whose client secret is `secret`, as the
    /// checkout goes there once authenticated (and Stripe's redirect does): its status
    /// and where it led.
    async fn setup_returned(&self, client: &reqwest::Client, secret: &str) -> (u16, String, String) {
        let setup = secret.split("_secret_").next().unwrap();
        let url = format!("{}/checkout/complete?setup_intent={setup}", self.base);
        let response = client.get(url).send().await.unwrap();
        let (status, path) = (response.status().as_u16(), response.url().path().to_owned());
        (status, path, response.text().await.unwrap())
    }
}

/// The same, with Stripe's answer to setting the card up lost on every retry: the reply
/// says the outcome is unknown, and the page's asking again with the same token finds
/// the card kept, once. (Before: a 503, "unavailable", which the page does not ask
/// again for, though Stripe may have set the card up.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_invoice_the_credit_pays_whose_card_setup_answer_is_lost_is_resolved_by_the_same_token() {
    let shop = shop().await;
    credited_for_one_period(&shop, "credit-lost@example.com").await;
    let token = shop.confirmed_with_answers_lost("/v1/setup_intents/").await;
    let (status, reply) = shop.confirm(&token).await;
    assert_eq!((status, reply["status"].as_str(), reply["payment_intent"].as_str()), (200, Some("Succeeded"), Some("")), "{reply}");
    let subscription = shop.only_subscription().await;
    assert!(shop.default_payment_method(&subscription.id).await.as_str().is_some_and(|pm| pm.starts_with("pm_")));
    let customer = shop.stripe(Method::GET, &format!("/v1/subscriptions/{}", subscription.id), &[]).await["customer"].clone();
    let cards = shop.stripe(Method::GET, &format!("/v1/payment_methods?customer={}&type=card", customer.as_str().unwrap()), &[]).await;
    assert_eq!(cards["data"].as_array().map(Vec::len), Some(1), "set up once: {cards}");
}

/// The same, with a card whose bank wants 3-D Secure to set it up: the checkout
/// authenticates the subscription's SetupIntent, and its return keeps the card for the
/// renewals and goes on to the order; nobody else's return does. Once the credit is
/// spent, the renewal is charged to that card. (The card was not kept before.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_invoice_the_credit_pays_keeps_a_card_the_shopper_authenticates() {
    let shop = shop().await;
    let (subscription, reply) = shop.credited_card_to_authenticate("credit-3ds@example.com").await;
    // No webhook comes (see the next test): the return alone keeps the card.
    support::miss_webhooks_from_now_on(&shop.stripe).await;
    let secret = reply["client_secret"].as_str().unwrap();
    shop.answer_challenge(secret, "complete").await;
    // Another browser (no session), or another account: no such payment of theirs.
    assert_eq!(shop.setup_returned(&support::shopper(), secret).await.0, 404);
    let stranger = support::shopper();
    let form = [("email", "stranger@example.com"), ("password", "correct horse battery staple")];
    api_as(&stranger, &shop.base, "account/sign-up", &form).await;
    assert_eq!(shop.setup_returned(&stranger, secret).await.0, 404);
    assert!(shop.default_payment_method(&subscription.id).await.is_null());

    let order = reply["order_id"].as_str().unwrap();
    for _ in 0..2 {
        let (status, path, _) = shop.setup_returned(&shop.shopper, secret).await;
        assert_eq!((status, path), (200, format!("/orders/{order}")), "the return goes on to the order, as often as it is loaded");
    }
    shop.renewal_charged_to_the_card_kept(&subscription).await;
}

/// The same, the shopper never coming back from the challenge (the tab closed in the
/// bank's app): Stripe's `setup_intent.succeeded` keeps the card all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_authenticated_by_a_shopper_who_never_comes_back_is_kept_by_its_webhook() {
    let shop = shop().await;
    let (subscription, reply) = shop.credited_card_to_authenticate("credit-3ds-gone@example.com").await;
    support::wait_all_delivered(&shop.stripe).await;
    assert!(shop.default_payment_method(&subscription.id).await.is_null());
    shop.answer_challenge(reply["client_secret"].as_str().unwrap(), "complete").await;
    shop.delivered("setup_intent.succeeded").await;
    shop.renewal_charged_to_the_card_kept(&subscription).await;
}

/// The same, with the authentication failed: the shopper is subscribed and told that
/// the first renewal will ask for a card, and so it is: once the credit is spent, the
/// renewal is overdue and the account page asks for a card to pay it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_invoice_the_credit_pays_with_a_card_not_kept_says_the_renewal_will_ask_for_one() {
    let shop = shop().await;
    let (_, reply) = shop.credited_card_to_authenticate("credit-3ds-failed@example.com").await;
    let secret = reply["client_secret"].as_str().unwrap();
    shop.answer_challenge(secret, "fail").await;
    let (status, path, page) = shop.setup_returned(&shop.shopper, secret).await;
    assert_eq!((status, path.as_str()), (200, "/checkout/complete"), "{page}");
    assert!(page.contains("You are subscribed") && page.contains("your account page will ask"), "{page}");
    support::wait_all_delivered(&shop.stripe).await;
    assert!(shop.page("/account").await.contains("Renews on"));

    shop.advance_clock(32).await;
    shop.delivered("invoice.payment_failed").await;
    support::wait_all_delivered(&shop.stripe).await;
    assert_eq!(shop.only_subscription().await.state.status, "past_due");
    let account = shop.page("/account").await;
    assert!(account.contains("data-testid=\"pay-overdue-add-card\""), "{account}");
    assert!(shop.charged().await.is_empty(), "nothing was charged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reply_of_an_older_state_does_not_overwrite_a_newer_one() {
    let shop = shop().await;
    let subscription = shop.subscribed("slow-reply@example.com").await;
    let path = format!("/v1/subscriptions/{}", subscription.id);
    support::wait_all_delivered(&shop.stripe).await;

    // The account page asks Stripe for the subscription: Stripe reads it (active) and
    // its reply is slow.
    shop.control("faults", json!({ "path": path, "method": "GET", "phase": "after", "delay_ms": 2000 })).await;
    let slow = tokio::spawn({
        let (shopper, base, id) = (shop.shopper.clone(), shop.base.clone(), subscription.id.clone());
        async move { api_as(&shopper, &base, "account/subscription/refresh", &[("subscription", &id)]).await }
    });
    assert!(shop.faults_used().await, "the account page's read never reached Stripe");

    // Meanwhile the subscription is canceled (in the Dashboard, say) and its webhook answered.
    assert_eq!(shop.stripe(Method::DELETE, &path, &[]).await["status"], "canceled");
    shop.delivered("customer.subscription.deleted").await;
    assert_eq!(shop.only_subscription().await.state.status, "canceled");

    // The slow reply still says active; it was asked for before the cancellation, so it
    // is not kept.
    let (status, now) = slow.await.unwrap();
    assert_eq!((status, now.as_str()), (200, Some("canceled")));
    assert_eq!(shop.only_subscription().await.state.status, "canceled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_quantity_is_billed_from_the_next_renewal_on_and_nothing_is_charged_meanwhile() {
    let shop = shop().await;
    let subscription = shop.subscribed("quantity@example.com").await;
    let (id, unit) = (subscription.id.as_str(), subscription.terms.unit_amount);
    assert_eq!(subscription.terms.quantity, 1);
    let account = shop.page("/account").await;
    assert!(account.contains("data-testid=\"subscription-quantity\"") && account.contains("1 × "), "{account}");

    // Nobody else can change it; a quantity outside 1–99 (or none) changes nothing.
    let stranger = support::shopper();
    api_as(&stranger, &shop.base, "account/sign-up", &[("email", "other@example.com"), ("password", "correct horse battery staple")]).await;
    let (status, _) = api_as(&stranger, &shop.base, "account/subscription/quantity", &[("subscription", id), ("quantity", "3")]).await;
    assert_eq!(status, 404);
    for bad in ["0", "100", "two", "", "-1", "2.5"] {
        let (status, body) = shop.api("account/subscription/quantity", &[("subscription", id), ("quantity", bad)]).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.to_string().contains("Choose a quantity from 1 to 99"), "{bad}: {body}");
    }
    assert_eq!(shop.only_subscription().await.terms.quantity, 1);

    // No webhook comes meanwhile (its endpoint is taken away, then given back): the
    // account shows the new quantity from the change's own reply.
    let endpoint = shop.webhooks_away().await;
    let (status, body) = shop.api("account/subscription/quantity", &[("subscription", id), ("quantity", "3")]).await;
    assert_eq!(status, 200, "{body}");
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}"), &[]).await;
    assert_eq!(at_stripe["items"]["data"][0]["quantity"], 3);
    assert_eq!(shop.only_subscription().await.terms.quantity, 3);
    let account = shop.page("/account").await;
    assert!(account.contains("3 × "), "the account shows the new quantity: {account}");
    // Nothing was charged for the period under way: still the first invoice alone.
    let (orders, _) = shop.invoice_orders(id).await;
    assert_eq!(orders.len(), 1);
    shop.control("webhook_endpoints", endpoint).await;

    // The renewal bills three for the whole period, and its order says so.
    shop.advance_clock(32).await;
    shop.delivered("invoice.paid").await;
    let renewal = shop.stripe(Method::GET, &format!("/v1/invoices?subscription={id}&limit=1"), &[]).await;
    assert_eq!(renewal["data"][0]["amount_paid"], unit * 3, "{renewal}");
    let (orders, _) = shop.invoice_orders(id).await;
    let order = shop.store.order_for_merchant(orders[0].as_deref().expect("the renewal's order")).await.unwrap().unwrap();
    assert_eq!((order.amount, order.lines[0].quantity, order.lines[0].unit_amount), (unit * 3, 3, unit));

    // A change made in Stripe's Dashboard reaches the shop through its webhook.
    let item = at_stripe["items"]["data"][0]["id"].as_str().unwrap();
    shop.stripe(
        Method::POST,
        &format!("/v1/subscriptions/{id}"),
        &[("items[0][id]", item), ("items[0][quantity]", "2"), ("proration_behavior", "none")],
    )
    .await;
    let kept = support::poll_until(200, || shop.only_subscription(), |kept| kept.terms.quantity == 2).await;
    assert_eq!(kept.terms.quantity, 2, "the Dashboard's change is kept");

    // So does a new price (the merchant's "update subscription", billed from the next
    // renewal on): the account shows it, and the renewal's order is at that price.
    let product = at_stripe["items"]["data"][0]["price"]["product"].as_str().unwrap();
    let form = [("product", product), ("currency", "eur"), ("unit_amount", "1500"), ("recurring[interval]", "month")];
    let dearer = shop.stripe(Method::POST, "/v1/prices", &form).await["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/subscriptions/{id}");
    shop.stripe(Method::POST, &path, &[("items[0][id]", item), ("items[0][price]", &dearer), ("proration_behavior", "none")]).await;
    let kept = support::poll_until(200, || shop.only_subscription(), |kept| kept.terms.unit_amount == 1500).await;
    assert_eq!((kept.terms.unit_amount, kept.terms.quantity), (1500, 2), "the Dashboard's new price is kept");
    let account = shop.page("/account").await;
    assert!(account.contains("€30.00 / month"), "the account shows the new price: {account}");
    shop.advance_clock(32).await;
    let orders =
        support::poll_until(200, || async { shop.invoice_orders(id).await.0 }, |orders| orders.len() == 3 && orders[0].is_some()).await;
    let order = shop.store.order_for_merchant(orders[0].as_deref().expect("the renewal's order")).await.unwrap().unwrap();
    assert_eq!((order.amount, order.lines[0].quantity, order.lines[0].unit_amount), (3000, 2, 1500));

    // Once it is set to end, its quantity is no longer offered.
    shop.api("account/subscription/cancel", &[("subscription", id)]).await;
    assert!(!shop.page("/account").await.contains("data-testid=\"subscription-quantity\""));
}

/// Each renewal is one payment: a quantity whose renewal Stripe could not charge (over
/// eight digits) is refused, and nothing changes at Stripe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quantity_whose_renewal_stripe_could_not_charge_is_refused() {
    // The coffee beans at €20,000 a month: 50 bags, €1,000,000, are more than one payment takes.
    let (shop, _catalog) = shop_with_catalog("unit_amount = 1200", "unit_amount = 2000000").await;
    let subscription = shop.subscribed("dear@example.com").await;
    let (id, path) = (subscription.id.as_str(), format!("/v1/subscriptions/{}", subscription.id));
    let (status, body) = shop.api("account/subscription/quantity", &[("subscription", id), ("quantity", "50")]).await;
    let said = "We cannot charge more than €999,999.99 in one payment: please choose a smaller quantity.";
    assert_eq!((status, body["Invalid"].as_str()), (400, Some(said)), "{body}");
    assert_eq!(shop.stripe(Method::GET, &path, &[]).await["items"]["data"][0]["quantity"], 1);
    let (status, body) = shop.api("account/subscription/quantity", &[("subscription", id), ("quantity", "49")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(shop.stripe(Method::GET, &path, &[]).await["items"]["data"][0]["quantity"], 49);
}

/// The merchant writes off a renewal that could not be charged (the Dashboard's "Mark
/// uncollectible"): Stripe makes the subscription active again and tries that renewal
/// no more. The account page shows it active, with nothing overdue to pay; the invoice
/// written off becomes no order (nothing was paid).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_the_merchant_writes_off_leaves_the_subscription_active_and_asks_nothing_more() {
    let shop = shop().await;
    let (subscription, _, _) = shop.past_due("written-off@example.com", "pm_card_chargeCustomerFail").await;
    let id = subscription.id.as_str();
    assert!(shop.page("/account").await.contains("data-testid=\"pay-overdue-form\""));
    let invoice = shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}"), &[]).await["latest_invoice"].as_str().unwrap().to_owned();
    let marked = shop.stripe(Method::POST, &format!("/v1/invoices/{invoice}/mark_uncollectible"), &[]).await;
    assert_eq!(marked["status"], "uncollectible", "{marked}");
    support::poll_until(100, || shop.only_subscription(), |kept| kept.state.status == "active").await;
    let account = shop.page("/account").await;
    assert!(account.contains("data-status=\"active\"") && !account.contains("pay-overdue-form"), "{account}");

    // Where Stripe's retries would all have been made, none was, and no order was made of it.
    shop.advance_clock(15).await;
    support::wait_all_delivered(&shop.stripe).await;
    let failed = shop.stripe(Method::GET, "/v1/events?type=invoice.payment_failed", &[]).await;
    assert_eq!(failed["data"].as_array().unwrap().len(), 1, "the first attempt only");
    assert_eq!(shop.store.order_for_invoice(&invoice).await.unwrap(), None);
    assert_eq!(shop.only_subscription().await.state.status, "active");
}

/// Stripe retries a renewal it could not charge (its Smart Retries: eight times in two
/// weeks, by default); when every retry is declined, it ends the subscription. The
/// subscriber hears once that the renewal failed, however many retries fail, and once
/// that the subscription has ended and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_never_paid_ends_the_subscription_and_the_subscriber_is_told_why() {
    let shop = shop().await;
    let (subscription, _, _) = shop.past_due("never-paid@example.com", "pm_card_chargeCustomerFail").await;
    let id = subscription.id.as_str();
    shop.advance_clock(15).await;
    shop.delivered("customer.subscription.deleted").await;
    let ended = support::poll_until(100, || shop.only_subscription(), |kept| kept.state.status == "canceled").await;
    assert_eq!(ended.state.cancellation_reason.as_deref(), Some("payment_failed"));
    let retried = shop.stripe(Method::GET, "/v1/events?type=invoice.payment_failed", &[]).await;
    assert_eq!(retried["data"].as_array().unwrap().len(), 9, "the first attempt and eight retries");
    let account = shop.page("/account").await;
    assert!(account.contains("data-status=\"canceled\"") && !account.contains("data-testid=\"pay-overdue-form\""), "{account}");
    assert!(account.contains("Ended: its renewal could not be charged"), "{account}");
    let admin = support::admin_page(&format!("{}/admin/subscriptions", shop.base), ADMIN).await;
    assert!(admin.contains(">canceled<") && admin.contains("ended: payment_failed"), "the merchant's list says why: {admin}");

    let (orders, _) = shop.invoice_orders(id).await;
    let first_order = orders.iter().flatten().next().expect("the first invoice's order").clone();
    let told = shop.sent_to_subscriber(&first_order, "subscription_ended.").await;
    assert_eq!(told, [format!("subscription_ended.{id}")]);
    let email = support::readable(&shop.written_email(&first_order, &told[0]).expect("the email, written to MAIL_DIR"));
    assert!(email.contains("Subject: Your subscription has ended"), "{email}");
    assert!(email.contains("Your subscription (1 × Coffee beans, monthly) has ended because its renewal could not be charged"), "{email}");
    support::wait_all_delivered(&shop.stripe).await;
    assert_eq!(shop.sent_to_subscriber(&first_order, "renewal_failed.").await.len(), 1, "one email for the renewal, not one per retry");
}

/// The merchant's settings mark a subscription `unpaid` once Stripe's retries are spent
/// (instead of canceling it): its renewals are drafts, charged to no one. The account
/// page says it is on hold and offers to pay; paying finalizes the latest draft and
/// charges it, which makes the subscription active again. Meanwhile it cannot be bought
/// a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_subscription_is_resumed_by_paying_its_latest_renewal() {
    let shop = shop().await;
    let subscription = shop.on_hold("on-hold@example.com").await.0;
    let id = subscription.id.as_str();
    let draft = shop.draft_renewal(id).await;
    support::wait_all_delivered(&shop.stripe).await;
    let account = shop.page("/account").await;
    assert!(account.contains("data-status=\"unpaid\"") && account.contains("On hold: its renewal could not be charged"), "{account}");
    assert!(account.contains("data-testid=\"pay-overdue-form\""), "{account}");
    // The subscriber was told, once (not again for the draft), how to resume it.
    let (orders, _) = shop.invoice_orders(id).await;
    let first_order = orders.iter().flatten().next().expect("the first invoice's order").clone();
    let told = shop.sent_to_subscriber(&first_order, "subscription_on_hold.").await;
    assert_eq!(told, [format!("subscription_on_hold.{id}.{}", at_stripe_overdue(&shop, id).await)]);
    let email = support::readable(&shop.written_email(&first_order, &told[0]).expect("the email, written to MAIL_DIR"));
    assert!(email.contains("Subject: Your subscription is on hold"), "{email}");
    assert!(email.contains("Your subscription (1 × Coffee beans, monthly) is on hold: its renewal could not be charged"), "{email}");
    assert!(email.contains("/account"), "{email}");

    // Bought again instead: refused, with where to resume it.
    assert_eq!(shop.add("coffee-beans").await.0, 200);
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, refused) = shop.confirm(&token).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("its renewal is overdue: pay it from your account"), "{refused}");

    let card = shop.card_for(id, "pm_card_mastercard").await;
    let (status, paid) = shop.pay_overdue(&account, id, &card, None).await;
    assert_eq!((status, &paid), (200, &json!("Paid")));
    let invoice = shop.stripe(Method::GET, &format!("/v1/invoices/{}", draft["id"].as_str().unwrap()), &[]).await;
    assert_eq!((invoice["status"].as_str(), invoice["amount_paid"].as_i64()), (Some("paid"), draft["amount_due"].as_i64()));
    let kept = shop.only_subscription().await;
    assert_eq!((kept.state.status.as_str(), kept.state.renewal_card.is_some()), ("active", true));
    // The draft it paid is the renewal's order; the one Stripe gave up on stays unpaid.
    let (orders, _) = support::poll_until(200, || shop.invoice_orders(id), |(orders, _)| orders[0].is_some()).await;
    assert_eq!(orders.len(), 3, "the first invoice, the one given up on, the draft paid");
    assert!(orders[1].is_none(), "{orders:?}");
    let account = shop.page("/account").await;
    assert!(account.contains("data-status=\"active\"") && !account.contains("data-testid=\"pay-overdue-form\""), "{account}");
}

/// Two tabs pay an on-hold subscription's draft at once: the second read it a draft and
/// finalizes it after the first did, while the first's payment is still under way. The
/// second is given the first's finalized invoice (the same idempotency key) and pays it,
/// rather than failing (a 500); the first is then told there is nothing left to pay.
/// Charged once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tabs_paying_an_on_hold_subscriptions_draft_at_once_charge_it_once() {
    let shop = shop().await;
    let subscription = shop.on_hold("on-hold-two-tabs@example.com").await.0;
    let id = subscription.id.as_str();
    let draft = shop.draft_renewal(id).await["id"].as_str().unwrap().to_owned();
    let card = shop.card_for(id, "pm_card_mastercard").await;
    let card = card.as_str();
    let charged_before = shop.charged().await.len();
    // The second tab's change of card is made, its reply (the draft) held for a second...
    let second_tab = shop.paying_overdue_while_held(id, card, &format!("/v1/subscriptions/{id}"), "after", 1000).await;
    // ...while the first tab's goes through, finalizes the draft, and is slow to pay it.
    let first_tab = shop.paying_overdue_while_held(id, card, &format!("/v1/invoices/{draft}/pay"), "before", 2000).await;
    // One pays (the second, unless this machine took a second over the first's steps)...
    let mut answers = [first_tab.await.unwrap(), second_tab.await.unwrap()];
    answers.sort_by_key(|(status, _)| *status);
    let [paid, told] = answers;
    assert_eq!(paid, (200, json!("Paid")));
    // ...and the other is told the renewal is paid.
    assert_eq!(told.0, 400, "{told:?}");
    assert!(told.1.to_string().contains("nothing left to pay"), "{told:?}");
    assert_eq!(shop.charged().await.len(), charged_before + 1, "charged once");
    assert_eq!(shop.only_subscription().await.state.status, "active");
}

/// The merchant's settings also mark the renewal Stripe gave up on uncollectible (the
/// Dashboard's "mark the invoice as uncollectible"). Such an invoice can still be paid,
/// and paying it, the latest, resumes the subscription; the shop no longer says there is
/// nothing to pay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_subscription_whose_renewal_was_marked_uncollectible_is_resumed_by_paying_it() {
    let shop = shop().await;
    let settings = json!({ "retries_spent": "unpaid", "mark_invoice_uncollectible": true });
    let (subscription, customer, _) = shop.on_hold_under("written-off@example.com", settings).await;
    let id = subscription.id.as_str();
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}?expand[]=latest_invoice"), &[]).await;
    let invoice = at_stripe["latest_invoice"].clone();
    assert_eq!((at_stripe["status"].as_str(), invoice["status"].as_str()), (Some("unpaid"), Some("uncollectible")), "{at_stripe}");
    support::wait_all_delivered(&shop.stripe).await;
    let account = shop.page("/account").await;
    assert!(
        account.contains("On hold: its renewal could not be charged") && account.contains("data-testid=\"pay-overdue-form\""),
        "{account}"
    );
    let (orders, _) = shop.invoice_orders(id).await;
    let first_order = orders.iter().flatten().next().expect("the first invoice's order").clone();
    let told = shop.sent_to_subscriber(&first_order, "subscription_on_hold.").await;
    assert_eq!(told, [format!("subscription_on_hold.{id}.{}", invoice["id"].as_str().unwrap())]);

    let added = shop.stripe(Method::POST, "/v1/payment_methods/pm_card_mastercard/attach", &[("customer", customer.as_str())]).await;
    let (status, paid) = shop.pay_overdue(&account, id, added["id"].as_str().unwrap(), None).await;
    assert_eq!((status, &paid), (200, &json!("Paid")));
    let paid = shop.stripe(Method::GET, &format!("/v1/invoices/{}", invoice["id"].as_str().unwrap()), &[]).await;
    assert_eq!((paid["status"].as_str(), paid["amount_paid"].as_i64()), (Some("paid"), invoice["amount_due"].as_i64()));
    assert_eq!(shop.only_subscription().await.state.status, "active");
    // The renewal it paid is an order.
    let (orders, _) = support::poll_until(200, || shop.invoice_orders(id), |(orders, _)| orders[0].is_some()).await;
    assert_eq!(orders.len(), 2, "the first invoice, and the renewal paid");
}

/// An `unpaid` subscription whose customer has a credit (the Dashboard's "adjust
/// balance") covering its next renewal: paying from the account page finalizes the draft,
/// which the credit pays; nothing is charged and the subscription is active again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_subscription_whose_renewal_the_customers_credit_covers_is_resumed_with_nothing_charged() {
    let shop = shop().await;
    let (subscription, customer, failing) = shop.on_hold("on-hold-credit@example.com").await;
    let id = subscription.id.as_str();
    shop.stripe(Method::POST, &format!("/v1/customers/{customer}"), &[("balance", "-5000")]).await;
    shop.advance_clock(17).await;
    support::wait_all_delivered(&shop.stripe).await;
    let account = shop.page("/account").await;
    // Even with the card that declines: the credit pays it all.
    let (status, paid) = shop.pay_overdue(&account, id, &failing, None).await;
    assert_eq!((status, &paid), (200, &json!("Paid")));
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}?expand[]=latest_invoice"), &[]).await;
    let invoice = &at_stripe["latest_invoice"];
    assert_eq!(
        (at_stripe["status"].as_str(), invoice["status"].as_str(), invoice["amount_paid"].as_i64()),
        (Some("active"), Some("paid"), Some(0))
    );
    assert_eq!(shop.only_subscription().await.state.status, "active");
    let (orders, _) = shop.invoice_orders(id).await;
    let renewal = shop.store.order_for_merchant(orders[0].as_deref().expect("the renewal's order")).await.unwrap().unwrap();
    assert_eq!((renewal.amount, renewal.credit_amount), (0, subscription.terms.unit_amount), "paid from the credit");
}

/// A subscriber who will not pay the renewal of a subscription on hold ends it from the
/// account page: Stripe cancels it now, nothing more is billed, and the end is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_on_hold_is_ended_now_from_the_account_page() {
    let shop = shop().await;
    let (subscription, _, _) = shop.on_hold("ends-on-hold@example.com").await;
    let id = subscription.id.as_str();
    support::wait_all_delivered(&shop.stripe).await;
    let account = shop.page("/account").await;
    assert!(account.contains("data-testid=\"end-subscription\"") && account.contains("End it now"), "{account}");
    let (status, body) = shop.api("account/subscription/end", &[("subscription", id)]).await;
    assert_eq!(status, 200, "{body}");
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}"), &[]).await;
    assert_eq!(
        (at_stripe["status"].as_str(), at_stripe["cancellation_details"]["reason"].as_str()),
        (Some("canceled"), Some("cancellation_requested"))
    );
    assert_eq!(shop.only_subscription().await.state.status, "canceled");
    let (orders, _) = shop.invoice_orders(id).await;
    let first_order = orders.iter().flatten().next().expect("the first invoice's order").clone();
    assert_eq!(shop.sent_to_subscriber(&first_order, "subscription_ended.").await, [format!("subscription_ended.{id}")]);
    let account = shop.page("/account").await;
    assert!(!account.contains("data-testid=\"end-subscription\"") && !account.contains("data-testid=\"pay-overdue-form\""), "{account}");
    // Sent again (a double click): it has ended, and says so.
    let (status, body) = shop.api("account/subscription/end", &[("subscription", id)]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("This subscription has ended"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_not_on_hold_is_not_ended_at_once() {
    let shop = shop().await;
    let id = shop.subscribed("ends-active@example.com").await.id;
    assert!(!shop.page("/account").await.contains("data-testid=\"end-subscription\""));
    let (status, body) = shop.api("account/subscription/end", &[("subscription", &id)]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("Only a subscription on hold can be ended at once"), "{body}");
    assert_eq!(shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}"), &[]).await["status"], "active");
    // Another account's is not found.
    shop.sign_up("someone-else@example.com").await;
    let (status, _) = shop.api("account/subscription/end", &[("subscription", &id)]).await;
    assert_eq!(status, 404);
    assert_eq!(shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}"), &[]).await["status"], "active");
}

/// The id of subscription `id`'s open invoice at Stripe (the renewal it gave up on).
async fn at_stripe_overdue(shop: &Shop, id: &str) -> String {
    let open = shop.stripe(Method::GET, &format!("/v1/invoices?subscription={id}&status=open"), &[]).await;
    let open = open["data"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    open[0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_renewal_paid_after_a_new_quantity_is_the_order_of_what_it_billed() {
    let shop = shop().await;
    let (subscription, customer, _) = shop.past_due("overdue-quantity@example.com", "pm_card_chargeCustomerFail").await;
    let (id, unit) = (subscription.id.as_str(), subscription.terms.unit_amount);
    // The overdue invoice billed one; the shopper now wants three from the next renewal.
    let (status, body) = shop.api("account/subscription/quantity", &[("subscription", id), ("quantity", "3")]).await;
    assert_eq!(status, 200, "{body}");
    let added = shop.stripe(Method::POST, "/v1/payment_methods/pm_card_mastercard/attach", &[("customer", customer.as_str())]).await;
    let (status, paid) = shop.pay_overdue(&shop.page("/account").await, id, added["id"].as_str().unwrap(), None).await;
    assert_eq!((status, &paid), (200, &json!("Paid")));
    let (orders, _) = shop.invoice_orders(id).await;
    let overdue = shop.store.order_for_merchant(orders[0].as_deref().expect("the overdue invoice's order")).await.unwrap().unwrap();
    assert_eq!((overdue.amount, overdue.lines[0].quantity, overdue.lines[0].unit_amount), (unit, 1, unit), "what the invoice billed");
    shop.advance_clock(32).await;
    let (orders, _) = support::poll_until(200, || shop.invoice_orders(id), |(orders, _)| orders.len() == 3 && orders[0].is_some()).await;
    let next = shop.store.order_for_merchant(orders[0].as_deref().expect("the next renewal's order")).await.unwrap().unwrap();
    assert_eq!((next.amount, next.lines[0].quantity, next.lines[0].unit_amount), (unit * 3, 3, unit));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_cannot_make_the_shop_call_stripe_without_end() {
    let shop = shop().await;
    let id = shop.subscribed("busy@example.com").await.id;
    // Twenty changes in ten minutes are fine: cancel, keep, cancel, …
    for n in 0..20 {
        let endpoint = if n % 2 == 0 { "account/subscription/cancel" } else { "account/subscription/resume" };
        let (status, body) = shop.api(endpoint, &[("subscription", &id)]).await;
        assert_eq!(status, 200, "change {n}: {body}");
    }
    // The next one is refused before Stripe is asked, and says when to come back.
    let reply =
        shop.shopper.post(format!("{}/api/account/subscription/cancel", shop.base)).form(&[("subscription", &id)]).send().await.unwrap();
    assert_eq!(reply.status().as_u16(), 429);
    let retry_after: u64 = reply.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}"), &[]).await;
    assert_eq!(at_stripe["cancel_at_period_end"], false, "the refused change was not made");
    let (status, _) = shop.api("account/subscription/quantity", &[("subscription", &id), ("quantity", "2")]).await;
    assert_eq!(status, 429, "every change counts alike");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_shuffled_webhooks_change_nothing() {
    let shop = shop().await;
    shop.control("delivery_mode", json!({ "duplicate": true, "shuffle": true })).await;
    let subscription = shop.subscribed("twice@example.com").await;
    shop.advance_clock(32).await;
    shop.delivered("invoice.paid").await;
    shop.delivered("customer.subscription.updated").await;
    // Every event once more, newest first.
    let events = shop.stripe(Method::GET, "/v1/events?limit=100", &[]).await;
    for event in events["data"].as_array().unwrap() {
        let url = format!("{}/_emulator/events/{}/resend", shop.stripe, event["id"].as_str().unwrap());
        assert!(support::client().post(url).send().await.unwrap().status().is_success());
    }
    shop.delivered("invoice.paid").await;
    shop.delivered("customer.subscription.created").await;
    let (orders, confirmations) = shop.invoice_orders(&subscription.id).await;
    assert_eq!((orders.iter().filter(|order| order.is_some()).count(), confirmations), (2, 2));
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/subscriptions/{}", subscription.id), &[]).await;
    let kept = shop.only_subscription().await;
    assert_eq!(kept.state.status, "active");
    assert_eq!(kept.state.current_period_end, at_stripe["items"]["data"][0]["current_period_end"].as_i64(), "the newest period");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_is_bought_on_its_own_at_the_catalogs_price() {
    let shop = shop().await;
    assert_eq!(shop.add("ceramic-mug").await.0, 200);
    let (status, refused) = shop.add("coffee-beans").await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("on its own"), "{refused}");
    let (_, cart) = shop.api("cart/set", &[("product_id", "ceramic-mug"), ("quantity", "0")]).await;
    assert_eq!(cart["item_count"], 0, "{cart}");
    assert_eq!(shop.add("coffee-beans").await.0, 200);
    let (status, refused) = shop.add("ceramic-mug").await;
    assert_eq!(status, 400, "{refused}");
    let (status, refused) = shop.api("cart/discount", &[("code", "WELCOME10")]).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("subscriptions"), "{refused}");
    // The catalog shows the period with the price, in each language.
    let page = shop.page("/").await;
    assert!(page.contains("€12.00 / month"), "the catalog names the period");
    let french = shop.shopper.get(format!("{}/", shop.base)).header("accept-language", "fr").send().await.unwrap().text().await.unwrap();
    assert!(french.contains("12,00\u{a0}€ / mois"), "and in French");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_payment_whose_reply_is_lost_is_said_to_be_unknown_and_the_same_token_resolves_it() {
    let shop = shop().await;
    shop.sign_up("lost-reply@example.com").await;
    assert_eq!(shop.add("coffee-beans").await.0, 200);
    // Stripe charges, but the reply is lost, on every retry too.
    let token = shop.confirmed_with_answers_lost("/v1/payment_intents").await;
    // The page asks again with the same token: what Stripe did, and nothing more.
    let (status, reply) = shop.confirm(&token).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["status"], "Succeeded");
    let subscriptions = shop.stripe(Method::GET, "/v1/subscriptions?status=all", &[]).await;
    assert_eq!(subscriptions["data"].as_array().unwrap().len(), 1, "one subscription: {subscriptions}");
    let charges = shop.stripe(Method::GET, "/v1/charges", &[]).await;
    assert_eq!(charges["data"].as_array().unwrap().len(), 1, "charged once");
    assert_eq!(shop.only_subscription().await.state.status, "active");
}

/// The email about a failed renewal waits while the mail server is down; the renewal
/// paid from the account page meanwhile, the email is dropped, saying why, rather than
/// telling a paid-up subscriber to pay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_paid_before_its_email_goes_out_is_not_told_as_failed() {
    let nobody = support::net::free_port();
    let smtp = format!("smtp://127.0.0.1:{nobody}");
    let shop = Shop::start(&[("ADMIN_TOKEN", ADMIN), ("SMTP_URL", smtp.as_str()), ("MAIL_RETRY_SECS", "1")]).await;
    let (subscription, customer, _) = shop.past_due("paid-meanwhile@example.com", "pm_card_chargeCustomerFail").await;
    let first_order = shop.invoice_orders(&subscription.id).await.0.into_iter().flatten().next().unwrap();
    let renewal_email = || async {
        let outbox = shop.store.outbox_for(&first_order).await.unwrap();
        outbox.into_iter().find(|m| m.kind.starts_with("renewal_failed."))
    };
    let tried = support::poll_until(100, renewal_email, |m| m.as_ref().is_some_and(|m| m.last_error.is_some())).await.unwrap();
    assert_eq!(tried.status, "waiting", "{tried:?}");

    let added = shop.stripe(Method::POST, "/v1/payment_methods/pm_card_mastercard/attach", &[("customer", &customer)]).await;
    let (status, paid) = shop.pay_overdue(&shop.page("/account").await, &subscription.id, added["id"].as_str().unwrap(), None).await;
    assert_eq!(status, 200, "{paid}");
    let dropped = support::poll_until(300, renewal_email, |m| m.as_ref().is_some_and(|m| m.status != "waiting")).await.unwrap();
    assert_eq!(
        (dropped.status, dropped.last_error.as_deref()),
        ("failed", Some("the renewal was paid, or the subscription paused or ended, meanwhile"))
    );
}

/// A first payment waits for 3-D Secure; the shopper leaves it, takes two bags instead of
/// one and subscribes again. The first subscription is given up at Stripe (its first
/// invoice void, which cancels its payment, and it canceled), so finishing its challenge
/// later in another tab charges nothing: one subscription, of two bags, paid once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_left_waiting_for_authentication_is_given_up_for_another_quantity() {
    let shop = shop().await;
    let (waiting, first) = shop.left_at_3_d_secure("changed-mind@example.com").await;
    shop.subscribe_to_two_bags().await;

    let secret = waiting["client_secret"].as_str().unwrap();
    let intent = waiting["payment_intent"].as_str().unwrap();
    let late = support::client()
        .post(format!("{}/_emulator/3ds/{intent}", shop.stripe))
        .json(&json!({ "client_secret": secret, "result": "complete" }))
        .send()
        .await
        .unwrap();
    assert_eq!(late.status(), 400, "the old challenge can no longer charge");
    let old_intent = shop.stripe(Method::GET, &format!("/v1/payment_intents/{intent}"), &[]).await;
    assert_eq!((old_intent["status"].as_str(), old_intent["cancellation_reason"].as_str()), (Some("canceled"), Some("void_invoice")));
    let old = shop.stripe(Method::GET, &format!("/v1/subscriptions/{}?expand[]=latest_invoice", first.id), &[]).await;
    assert_eq!((old["status"].as_str(), old["latest_invoice"]["status"].as_str()), (Some("canceled"), Some("void")), "{old}");

    let all = shop.stripe(Method::GET, "/v1/subscriptions?status=all", &[]).await;
    let live: Vec<&Value> = all["data"].as_array().unwrap().iter().filter(|s| s["status"] != "canceled").collect();
    assert_eq!(live.len(), 1, "{all}");
    assert_eq!((live[0]["status"].as_str(), live[0]["items"]["data"][0]["quantity"].as_i64()), (Some("active"), Some(2)));
    assert_eq!(shop.charged().await, vec![2400], "one payment, for two bags");
    let recorded = shop.store.subscription(&first.id).await.unwrap().unwrap();
    assert_eq!(recorded.state.status, "canceled", "the shop keeps what Stripe says of the first one");
}

/// The waiting subscription ends at Stripe just as the shop gives it up (its 23 hours
/// up, or canceled in the Dashboard), so Stripe will not cancel it: the new quantity is
/// subscribed to all the same, and the old one, its first invoice void, charges nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_subscription_ended_as_it_is_given_up_does_not_stop_the_new_one() {
    let shop = shop().await;
    let (_, first) = shop.left_at_3_d_secure("ended-meanwhile@example.com").await;
    let path = format!("/v1/subscriptions/{}", first.id);
    shop.control("faults", json!({ "path": path, "method": "DELETE", "status": 404 })).await;
    shop.subscribe_to_two_bags().await;
    assert!(shop.faults_used().await, "Stripe was not asked to cancel the old subscription");

    let old = shop.stripe(Method::GET, &format!("{path}?expand[]=latest_invoice"), &[]).await;
    assert_eq!(old["latest_invoice"]["status"], "void", "{old}");
    let all = shop.stripe(Method::GET, "/v1/subscriptions?status=active", &[]).await;
    let active = all["data"].as_array().unwrap();
    assert_eq!(active.len(), 1, "{all}");
    assert_eq!(active[0]["items"]["data"][0]["quantity"], 2);
}

/// The demo's tea offers a 14-day free trial. An account's first subscription to it
/// charges nothing today: the checkout takes the month off (`order-total` €0.00) and
/// says when the first charge comes; Stripe makes the subscription `trialing`, and the
/// card is set up for the renewals. The trial's order is of nothing. Stripe's
/// `trial_will_end` is answered; at the trial's end the first month is charged, an
/// order of its own. The account gets no second trial: subscribing again is charged at
/// once, and a checkout page that still offered the trial charges nothing (its quote no
/// longer matches).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_trial_charges_nothing_until_it_ends_and_is_offered_once() {
    let shop = shop().await;
    let catalog = shop.page("/").await;
    assert!(catalog.contains("First 14 days free for new subscribers"), "{catalog}");
    // A guest is shown what a new subscriber gets, and asked to sign in.
    let (status, cart) = shop.add("tea-club").await;
    assert_eq!(status, 200, "{cart}");
    let page = shop.page("/checkout").await;
    assert!(page.contains("subscribe-needs-account") && page.contains("Nothing is charged today"), "{page}");
    shop.sign_up("trial@example.com").await;
    let page = shop.page("/checkout").await;
    assert!(page.contains("First 14 days free") && page.contains(r#"data-testid="order-total">€0.00<"#), "{page}");
    assert!(page.contains("the first 14 days are free, then €9.50 / month") && page.contains("Nothing is charged today"), "{page}");
    let (_, view) = shop.api("checkout/view", &[]).await;
    assert_eq!(view["cart"]["total"]["amount"], 0, "{view}");
    let trial_quote = view["cart"]["quote"].as_str().unwrap().to_owned();

    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, reply) = shop.api("checkout/confirm", &[("confirmation_token", &token), ("quote", &trial_quote)]).await;
    assert_eq!((status, reply["status"].as_str(), reply["payment_intent"].as_str()), (200, Some("Succeeded"), Some("")), "{reply}");
    let trial = shop.only_subscription().await;
    assert_eq!(trial.state.status, "trialing");
    assert!(shop.charged().await.is_empty(), "nothing charged today");
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/subscriptions/{}", trial.id), &[]).await;
    let (start, end) = (at_stripe["trial_start"].as_i64().unwrap(), at_stripe["trial_end"].as_i64().unwrap());
    assert_eq!(end - start, 14 * 86_400, "{at_stripe}");
    assert!(at_stripe["default_payment_method"].is_string(), "the card pays the renewals: {at_stripe}");
    let first = shop.store.order_for_merchant(reply["order_id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!((first.status.to_string().as_str(), first.amount), ("paid", 0));
    let account = shop.page("/account").await;
    assert!(account.contains("data-status=\"trialing\"") && account.contains("Free trial"), "{account}");
    assert!(account.contains(&format!("First charge on {}", shown_date(end))), "{account}");

    // Three days before its end Stripe says the trial will end: the subscriber is told
    // by email when, and what is charged then. At the end the month is charged.
    shop.advance_clock(12).await;
    shop.delivered("customer.subscription.trial_will_end").await;
    let first_order = first.id.clone();
    let told = shop.sent_to_subscriber(&first_order, "trial_ending.").await;
    assert_eq!(told, [format!("trial_ending.{}.{end}", trial.id)]);
    let email = support::readable(&shop.written_email(&first_order, &told[0]).expect("the email, written to MAIL_DIR"));
    let ends = shown_date(end);
    assert!(email.contains(&format!("Subject: Your free trial ends on {ends}")), "{email}");
    assert!(
        email.contains(&format!("Your free trial of 1 × Tea of the month ends on {ends}. From then, €9.50 / month is charged")),
        "{email}"
    );
    assert!(email.contains("cancel it from your account before then") && email.contains("/account"), "{email}");
    shop.advance_clock(3).await;
    shop.delivered("invoice.paid").await;
    let (orders, _) = shop.invoice_orders(&trial.id).await;
    assert_eq!(orders.len(), 2, "{orders:?}");
    assert_eq!(shop.charged().await, vec![950]);
    shop.delivered("customer.subscription.updated").await;
    assert_eq!(shop.only_subscription().await.state.status, "active");

    // Ended, then bought again: no second trial, even from the page that offered it.
    assert_eq!(shop.stripe(Method::DELETE, &format!("/v1/subscriptions/{}", trial.id), &[]).await["status"], "canceled");
    shop.delivered("customer.subscription.deleted").await;
    let (status, cart) = shop.add("tea-club").await;
    assert_eq!(status, 200, "{cart}");
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, changed) = shop.api("checkout/confirm", &[("confirmation_token", &token), ("quote", &trial_quote)]).await;
    assert_eq!(status, 409, "{changed}");
    assert!(changed.to_string().contains("€9.50"), "{changed}");
    assert_eq!(shop.charged().await, vec![950], "nothing charged for a page that offered the trial");
    let page = shop.page("/checkout").await;
    assert!(!page.contains("First 14 days free") && page.contains(r#"data-testid="order-total">€9.50<"#), "{page}");
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, paid) = shop.confirm(&token).await;
    assert_eq!((status, paid["status"].as_str()), (200, Some("Succeeded")), "{paid}");
    assert_eq!(shop.charged().await, vec![950, 950], "charged today");
    let again = shop.store.subscriptions_page(None, 10).await.unwrap();
    let statuses: Vec<&str> = again.iter().map(|record| record.state.status.as_str()).collect();
    assert!(statuses.contains(&"active") && !statuses.contains(&"trialing"), "{statuses:?}");
}

/// A free trial of three days or less: Stripe says at once that it will end, while the
/// shop is still making the subscription and its order, so that word finds nothing to
/// go with (here it reaches the shop only afterwards, as Stripe may send an event
/// twice). The trial's order queues the reminder itself: the subscriber gets it once.
/// The merchant then gives a longer trial (the Dashboard's new `trial_end`): its new end
/// is told three days before it, once more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_trial_of_two_days_is_reminded_once_and_again_of_a_later_end() {
    let (shop, _catalog) = shop_with_catalog("trial_days = 14", "trial_days = 2").await;
    shop.sign_up("short-trial@example.com").await;
    let (status, cart) = shop.add("tea-club").await;
    assert_eq!(status, 200, "{cart}");
    assert!(shop.page("/checkout").await.contains("First 2 days free"));
    let endpoint = shop.webhooks_away().await;
    let (trial, order) = shop.starts_the_trial("pm_card_visa").await;
    let order = order.as_str();

    let end = trial.state.current_period_end.expect("the trial's end");
    let told = shop.sent_to_subscriber(order, "trial_ending.").await;
    assert_eq!(told, [format!("trial_ending.{}.{end}", trial.id)]);
    let email = support::readable(&shop.written_email(order, &told[0]).expect("the email, written to MAIL_DIR"));
    assert!(email.contains(&format!("Subject: Your free trial ends on {}", shown_date(end))), "{email}");

    // Stripe's word, delivered now, sends nothing more.
    shop.control("webhook_endpoints", endpoint).await;
    let events = shop.stripe(Method::GET, "/v1/events?type=customer.subscription.trial_will_end", &[]).await;
    assert_eq!(events["data"][0]["data"]["object"]["id"], trial.id.as_str(), "{events}");
    let resend = format!("{}/_emulator/events/{}/resend", shop.stripe, events["data"][0]["id"].as_str().unwrap());
    assert!(support::client().post(resend).send().await.unwrap().status().is_success());
    shop.delivered("customer.subscription.trial_will_end").await;
    let outbox = shop.store.outbox_for(order).await.unwrap();
    assert_eq!(outbox.iter().filter(|m| m.kind.starts_with("trial_ending.")).count(), 1, "{outbox:?}");

    let later = end + 8 * 86_400;
    shop.stripe(Method::POST, &format!("/v1/subscriptions/{}", trial.id), &[("trial_end", &later.to_string())]).await;
    shop.advance_clock(7).await;
    let again = format!("trial_ending.{}.{later}", trial.id);
    let outbox = support::poll_until(
        100,
        || async { shop.store.outbox_for(order).await.unwrap() },
        |messages: &Vec<storefront::store::OutboxEntry>| messages.iter().any(|m| m.kind == again && m.status != "waiting"),
    )
    .await;
    assert!(outbox.iter().any(|m| m.kind == again && m.status == "sent"), "{outbox:?}");
    let email = support::readable(&shop.written_email(order, &again).expect("the email, written to MAIL_DIR"));
    assert!(email.contains(&format!("Subject: Your free trial ends on {}", shown_date(later))), "{email}");
    let account = shop.page("/account").await;
    assert!(account.contains(&format!("First charge on {}", shown_date(later))), "the new end: {account}");
}

/// The merchant ends a free trial early from the Dashboard (`trial_end=now`): Stripe
/// says the trial ends and charges the first period at once, as an update's invoice
/// (`subscription_update`), not a period's renewal. Its card declines the charge: the
/// subscription is `past_due`, and the subscriber is emailed as for any renewal that
/// failed, not reminded of a trial that is over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_the_merchant_ends_early_whose_charge_fails_is_told_as_a_failed_renewal() {
    let shop = shop().await;
    shop.sign_up("ended-early@example.com").await;
    let (status, cart) = shop.add("tea-club").await;
    assert_eq!(status, 200, "{cart}");
    let (trial, order) = shop.starts_the_trial("pm_card_chargeCustomerFail").await;
    let order = order.as_str();

    let ended = shop
        .stripe(Method::POST, &format!("/v1/subscriptions/{}", trial.id), &[("trial_end", "now"), ("expand[]", "latest_invoice")])
        .await;
    assert_eq!(ended["latest_invoice"]["billing_reason"], "subscription_update", "{ended}");
    shop.delivered("invoice.payment_failed").await;
    shop.delivered("customer.subscription.trial_will_end").await;
    let past_due = support::poll_until(100, || shop.only_subscription(), |kept| kept.state.status == "past_due").await;
    assert_eq!(past_due.state.status, "past_due");
    let told = shop.sent_to_subscriber(order, "renewal_failed.").await;
    assert_eq!(told, [format!("renewal_failed.{}.{}", trial.id, ended["latest_invoice"]["id"].as_str().unwrap())]);
    let email = support::readable(&shop.written_email(order, &told[0]).expect("the email, written to MAIL_DIR"));
    assert!(email.contains("Subject: Your subscription could not be renewed") && email.contains("1 × Tea of the month"), "{email}");
    let outbox = support::poll_until(
        100,
        || async { shop.store.outbox_for(order).await.unwrap() },
        |messages: &Vec<storefront::store::OutboxEntry>| {
            messages.iter().any(|m| m.kind.starts_with("trial_ending.") && m.status != "waiting")
        },
    )
    .await;
    let reminder = outbox.iter().find(|m| m.kind.starts_with("trial_ending.")).expect("Stripe's word queued it");
    assert_eq!(reminder.status, "failed", "the trial is over: no reminder, {outbox:?}");
    assert!(shop.page("/account").await.contains("data-status=\"past_due\""));
}

/// A free trial whose card's bank wanted 3-D Secure to keep it, and the shopper failed
/// it: the subscription is in its trial all the same, and the shopper is told the
/// account page will ask for a card when it ends. Canceled at the period's end from the
/// account page, it ends with the trial: nothing is ever charged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_trial_without_a_card_says_so_and_canceled_ends_with_nothing_charged() {
    let shop = shop().await;
    let trial = shop.trial_without_a_card("trial-no-card@example.com").await;

    let (status, canceled) = shop.api("account/subscription/cancel", &[("subscription", &trial.id)]).await;
    assert_eq!(status, 200, "{canceled}");
    // Nothing is to be charged: no email says otherwise.
    shop.advance_clock(12).await;
    shop.delivered("customer.subscription.trial_will_end").await;
    let order = shop.invoice_orders(&trial.id).await.0.into_iter().flatten().next().expect("the trial's order");
    let outbox = support::poll_until(
        100,
        || async { shop.store.outbox_for(&order).await.unwrap() },
        |messages: &Vec<storefront::store::OutboxEntry>| {
            messages.iter().any(|m| m.kind.starts_with("trial_ending.") && m.status != "waiting")
        },
    )
    .await;
    let reminder = outbox.iter().find(|m| m.kind.starts_with("trial_ending.")).expect("queued, then not sent");
    assert_eq!(reminder.status, "failed", "{outbox:?}");
    assert!(reminder.last_error.as_deref().is_some_and(|why| why.contains("nothing charged")), "{outbox:?}");
    shop.advance_clock(3).await;
    shop.delivered("customer.subscription.deleted").await;
    assert_eq!(shop.only_subscription().await.state.status, "canceled");
    assert!(shop.charged().await.is_empty(), "nothing was charged");
}

/// A free trial whose card was not kept, which the shop set to pause if it ends without
/// one (Stripe's `trial_settings[end_behavior][missing_payment_method]=pause`): at its
/// end it is `paused`, nothing charged. The account page says so and offers to end it;
/// the checkout does not sell it a second time meanwhile. Resumed by the shop (with
/// Stripe's default `payment_behavior`, nothing is charged in the request: it stays
/// paused, its new period's invoice open), the page asks for a card, and the subscriber
/// pays that invoice with one: active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_paused_for_want_of_a_card_and_resumed_by_the_shop_is_paid_by_its_subscriber() {
    let shop = shop().await;
    let id = shop.paused_trial("trial-paused@example.com").await;
    assert!(shop.charged().await.is_empty(), "nothing was charged");
    let account = shop.page("/account").await;
    assert!(account.contains("Paused: nothing is charged until it resumes"), "{account}");
    // With no saved card, the page says how to resume it.
    assert!(account.contains("Add a card below, then resume it here with that card."), "{account}");
    assert!(!account.contains("First charge on") && !account.contains("Renews on"), "{account}");
    assert!(account.contains("data-testid=\"end-subscription\""), "{account}");
    // Not sold a second time while it is paused.
    let (status, cart) = shop.add("tea-club").await;
    assert_eq!(status, 200, "{cart}");
    let page = shop.page("/checkout").await;
    assert!(page.contains("data-testid=\"already-subscribed\"") && page.contains("and it is paused"), "{page}");

    // Resumed by the shop: a new period from now, its invoice open, nothing charged.
    let resumed = shop.stripe(Method::POST, &format!("/v1/subscriptions/{id}/resume"), &[("expand[]", "latest_invoice")]).await;
    assert_eq!((resumed["status"].as_str(), resumed["latest_invoice"]["status"].as_str()), (Some("paused"), Some("open")), "{resumed}");
    shop.delivered("customer.subscription.updated").await;
    assert_eq!(shop.only_subscription().await.state.status, "paused");
    let account = shop.page("/account").await;
    assert!(account.contains("pay-overdue-add-card") && account.contains("data-testid=\"end-subscription\""), "{account}");
    // A card added, the subscriber pays that invoice (not a second new period): active.
    shop.pays_to_resume(&id, &shop.card_for(&id, "pm_card_visa").await).await;
    let invoice = resumed["latest_invoice"]["id"].as_str().unwrap();
    assert_eq!(shop.stripe(Method::GET, &format!("/v1/invoices/{invoice}"), &[]).await["status"], "paid");
    shop.resumed_once(&id, 1).await;
}

/// A card added to a paused subscription's account: the account page offers to resume it
/// with that card, which starts a new period now and charges it. Active again, that
/// period's invoice is an order, and its renewals are charged to the card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_subscription_is_resumed_by_its_subscriber_with_a_card_they_add() {
    let shop = shop().await;
    let (id, card) = shop.paused_with_card("trial-paused-resumes@example.com", "pm_card_visa").await;
    let account = shop.page("/account").await;
    assert!(account.contains("data-testid=\"pay-overdue-form\"") && account.contains("Resume and pay"), "{account}");
    assert!(account.contains("data-testid=\"end-subscription\""), "it can still be ended instead: {account}");

    // A plain form: resumed, its new period charged off session.
    let (status, paid) = shop.pay_overdue(&account, &id, &card, None).await;
    assert_eq!((status, &paid), (200, &json!("Paid")));
    assert_eq!(shop.only_subscription().await.state.status, "active");
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}?expand[]=latest_invoice"), &[]).await;
    assert_eq!((at_stripe["status"].as_str(), at_stripe["default_payment_method"].as_str()), (Some("active"), Some(card.as_str())));
    let invoice = &at_stripe["latest_invoice"];
    assert_eq!((invoice["billing_reason"].as_str(), invoice["status"].as_str()), (Some("subscription_update"), Some("paid")), "{invoice}");
    assert_eq!(shop.charged().await, vec![invoice["amount_paid"].as_i64().unwrap()], "one charge: the new period");
    let now = shop.page("/account").await;
    assert!(now.contains("Renews on") && !now.contains("pay-overdue-form"), "{now}");
    assert!(!now.contains("data-testid=\"end-subscription\""), "{now}");
    // The new period is an order, confirmed once, also when its webhooks arrive.
    shop.delivered("customer.subscription.resumed").await;
    shop.delivered("invoice.paid").await;
    let (orders, confirmations) = shop.invoice_orders(&id).await;
    assert!(orders[0].is_some(), "the new period's invoice is an order: {orders:?}");
    assert_eq!(confirmations, orders.iter().flatten().count());
    assert_eq!(shop.only_subscription().await.state.status, "active");
    // The same form sent again charges nothing more.
    let (status, again) = shop.pay_overdue(&account, &id, &card, None).await;
    assert_eq!(status, 400, "{again}");
    assert!(again.to_string().contains("nothing left to pay"), "{again}");
    assert_eq!(shop.charged().await.len(), 1);
}

/// A paused subscription resumed with a card that is declined stays paused, nothing
/// charged, and the shopper is told why. Another card then pays that same new period:
/// one invoice, not a second resumption.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_subscription_resumed_with_a_declined_card_stays_paused_until_another_card_pays() {
    let shop = shop().await;
    let (id, declining) = shop.paused_with_card("trial-paused-declined@example.com", "pm_card_chargeCustomerFail").await;
    let account = shop.page("/account").await;
    let (status, declined) = shop.pay_overdue(&account, &id, &declining, None).await;
    assert_eq!(status, 402, "{declined}");
    assert!(declined.to_string().contains("declined"), "{declined}");
    assert_eq!(shop.only_subscription().await.state.status, "paused");
    assert!(shop.charged().await.is_empty());
    let account = shop.page("/account").await;
    assert!(account.contains("Paused: nothing is charged until it resumes") && account.contains("pay-overdue-form"), "{account}");

    shop.pays_to_resume(&id, &shop.card_for(&id, "pm_card_mastercard").await).await;
    // One new period, paid by the second card.
    shop.resumed_once(&id, 1).await;
}

/// Two tabs click "Resume and pay" at once, Stripe still busy with the first when the
/// second's resumption arrives, and the card is declined: one new period, its invoice
/// open, nothing charged (Stripe gives the second click the first's reply). Another card
/// then pays that invoice: a second open one would be charged by Stripe's retries later,
/// for the same period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tabs_resuming_a_paused_subscription_at_once_make_one_new_period() {
    let shop = shop().await;
    let (id, declining) = shop.paused_with_card("trial-paused-two-tabs@example.com", "pm_card_chargeCustomerFail").await;
    // Under the shop's retries of a 409 (0.5 s, then 0.5–1 s more): the second tab's
    // resumption waits for the first one's reply rather than failing.
    let resumption = format!("/v1/subscriptions/{id}/resume");
    let first_tab = shop.paying_overdue_while_held(&id, &declining, &resumption, "before", 700).await;
    let second_tab = shop.pay_overdue(&shop.page("/account").await, &id, &declining, None).await;
    for (status, declined) in [first_tab.await.unwrap(), second_tab] {
        assert_eq!(status, 402, "{declined}");
        assert!(declined.to_string().contains("declined"), "{declined}");
    }
    assert_eq!(shop.new_periods(&id).await, (vec!["open".to_owned()], 0));
    assert_eq!(shop.only_subscription().await.state.status, "paused");

    shop.pays_to_resume(&id, &shop.card_for(&id, "pm_card_mastercard").await).await;
    shop.resumed_once(&id, 1).await;
}

/// Resuming with a card whose bank wants 3-D Secure: a plain form is told it needs
/// JavaScript; the island gets the new period's PaymentIntent to authenticate, and once
/// the shopper has, the subscription is active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_subscription_resumed_with_a_card_that_wants_3_d_secure_is_authenticated_by_the_shopper() {
    let shop = shop().await;
    let (id, card) = shop.paused_with_card("trial-paused-3ds@example.com", "pm_card_authenticationRequired").await;
    let account = shop.page("/account").await;
    let (status, refused) = shop.pay_overdue(&account, &id, &card, None).await;
    assert_eq!(status, 402, "{refused}");
    assert!(refused.to_string().contains("needs JavaScript"), "{refused}");
    assert_eq!(shop.only_subscription().await.state.status, "paused");
    assert_eq!(shop.authenticates(&account, &id, &card, 1, "complete").await.1, "active");
    shop.resumed_once(&id, 1).await;
}

/// Stripe may tell a resumption's decline as the request's error (402) rather than in
/// its reply: the shop reads the subscription again and says the same as for a reply
/// (declined: still paused; the bank wanting 3-D Secure: the island authenticates it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumption_declined_as_the_requests_error_is_said_as_a_reply_would_be() {
    let shop = shop().await;
    let (id, declining) = shop.paused_with_card("trial-paused-402@example.com", "pm_card_chargeCustomerFail").await;
    shop.next_resumption_answered(&id, 402, true).await;
    let account = shop.page("/account").await;
    let (status, declined) = shop.pay_overdue(&account, &id, &declining, None).await;
    assert!(shop.faults_used().await, "the resumption was answered with a 402");
    assert_eq!(status, 402, "{declined}");
    assert!(declined.to_string().contains("declined"), "{declined}");
    assert_eq!(shop.only_subscription().await.state.status, "paused");
}

/// Stripe refuses to resume on the payment's success when it finds no default payment
/// method to charge (its guide ties that to the customer; the shop sets the card on the
/// subscription): the shop then resumes on the payment's attempt and pays the new
/// period's invoice with the card. Paid once, active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumption_refused_on_the_payments_success_is_made_on_its_attempt_and_paid_with_the_card() {
    let shop = shop().await;
    let (id, card) = shop.paused_with_card("trial-paused-400@example.com", "pm_card_visa").await;
    shop.next_resumption_answered(&id, 400, false).await;
    shop.pays_to_resume(&id, &card).await;
    assert!(shop.faults_used().await, "the first resumption was refused");
    let url = format!("{}/_emulator/requests?path=/v1/subscriptions/{id}/resume", shop.stripe);
    let log: Value = support::client().get(url).send().await.unwrap().json().await.unwrap();
    let tries: Vec<_> =
        log["data"].as_array().unwrap().iter().map(|r| (r["status"].clone(), r["params"]["payment_behavior"].clone())).collect();
    assert_eq!(
        tries,
        [(json!(400), Value::Null), (json!(200), json!("resume_on_payment_attempt"))],
        "the refused one, then on the attempt: {log}"
    );
    shop.resumed_once(&id, 1).await;
}

/// Stripe made the resumption (declined, its invoice open) but the shop was told a 400:
/// the shop reads the subscription again and charges that invoice to the card, rather
/// than resuming again or failing. Declined again, the shopper is told so; another card
/// then pays that same new period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumption_refused_after_stripe_made_it_pays_the_invoice_it_made() {
    let shop = shop().await;
    let (id, declining) = shop.paused_with_card("trial-paused-400-after@example.com", "pm_card_chargeCustomerFail").await;
    shop.next_resumption_answered(&id, 400, true).await;
    let (status, declined) = shop.pay_overdue(&shop.page("/account").await, &id, &declining, None).await;
    assert!(shop.faults_used().await, "the resumption was answered with a 400");
    assert_eq!(status, 402, "{declined}");
    assert!(declined.to_string().contains("declined"), "{declined}");
    assert_eq!(shop.new_periods(&id).await, (vec!["open".to_owned()], 0));

    shop.pays_to_resume(&id, &shop.card_for(&id, "pm_card_mastercard").await).await;
    shop.resumed_once(&id, 1).await;
}

/// The same, the card's bank wanting 3-D Secure, from the island.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumption_told_as_the_requests_error_to_need_3_d_secure_is_authenticated_from_the_island() {
    let shop = shop().await;
    let (id, card) = shop.paused_with_card("trial-paused-402-3ds@example.com", "pm_card_authenticationRequired").await;
    shop.next_resumption_answered(&id, 402, true).await;
    let (_, now) = shop.authenticates(&shop.page("/account").await, &id, &card, 1, "complete").await;
    assert!(shop.faults_used().await, "the resumption was answered with a 402");
    assert_eq!(now, "active");
}

/// The same, from the island first (a browser with JavaScript, as most are): the
/// resumption's charge waits for the bank, the shopper fails the challenge (still paused,
/// nothing charged), then passes it on a second try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_subscription_resumed_from_the_island_asks_for_3_d_secure_until_it_is_passed() {
    let shop = shop().await;
    let (id, card) = shop.paused_with_card("trial-paused-island@example.com", "pm_card_authenticationRequired").await;
    let account = shop.page("/account").await;
    let (first, now) = shop.authenticates(&account, &id, &card, 1, "fail").await;
    assert_eq!(now, "paused");
    assert!(shop.charged().await.is_empty());
    let (again, now) = shop.authenticates(&account, &id, &card, 2, "complete").await;
    assert_eq!((again, now.as_str()), (first, "active"), "the same payment, authenticated this time");
    shop.resumed_once(&id, 1).await;
}

/// The shop's resumption, on the payment's attempt, lapses unpaid after 23 hours: its
/// invoice void, the subscription still paused. The subscriber then resumes it afresh:
/// a new period, charged once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumption_that_lapsed_unpaid_is_resumed_afresh_by_the_subscriber() {
    let shop = shop().await;
    let id = shop.paused_trial("trial-paused-lapsed@example.com").await;
    let resumed = shop.stripe(Method::POST, &format!("/v1/subscriptions/{id}/resume"), &[("expand[]", "latest_invoice")]).await;
    let lapsed = resumed["latest_invoice"]["id"].as_str().unwrap().to_owned();
    shop.advance_clock(1).await;
    assert_eq!(shop.stripe(Method::GET, &format!("/v1/invoices/{lapsed}"), &[]).await["status"], "void");
    assert_eq!(shop.only_subscription().await.state.status, "paused");
    shop.pays_to_resume(&id, &shop.card_for(&id, "pm_card_visa").await).await;
    assert_eq!(shop.new_periods(&id).await, (vec!["paid".to_owned(), "void".to_owned()], 1));
}

/// The shop pauses a subscription (Stripe's pause endpoint, with no credit for the
/// period's unused time): the subscriber is told by email, the account page shows it
/// paused, and the subscriber resumes it with the card it had: a new period, charged
/// at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_the_shop_paused_is_told_and_resumed_by_its_subscriber() {
    let shop = shop().await;
    let id = shop.subscribed("paused-by-the-shop@example.com").await.id;
    let form = [("bill_for[unused_time_from][type]", "none")];
    let paused = shop.stripe(Method::POST, &format!("/v1/subscriptions/{id}/pause"), &form).await;
    assert_eq!(paused["status"], "paused", "{paused}");
    shop.delivered("customer.subscription.paused").await;
    assert_eq!(shop.only_subscription().await.state.status, "paused");
    let (told, email) = shop.subscriber_email(&id, "subscription_paused.").await;
    assert!(told.len() == 1 && told[0].ends_with(".pause_requested"), "{told:?}");
    assert!(
        email.contains("Your subscription (1 × Coffee beans, monthly) is paused: nothing is charged or sent until it resumes"),
        "{email}"
    );

    let account = shop.page("/account").await;
    assert!(account.contains("Paused: nothing is charged until it resumes") && account.contains("Resume and pay"), "{account}");
    shop.pays_to_resume(&id, paused["default_payment_method"].as_str().expect("the card it had")).await;
    // The first period's payment, then the new one's.
    shop.resumed_once(&id, 2).await;
}

/// A renewal overdue when the shop paused the subscription is not what "Resume and pay"
/// pays: that would leave it paused. The click resumes it, its new period charged to the
/// card; the old invoice stays Stripe's to retry, as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_subscription_the_shop_paused_is_resumed_by_its_subscriber_its_old_invoice_left_to_stripe() {
    let shop = shop().await;
    let (subscription, card) = shop.past_due_with_another_card("overdue-then-paused@example.com").await;
    let id = subscription.id;
    let overdue = shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}"), &[]).await["latest_invoice"].as_str().unwrap().to_owned();
    let form = [("bill_for[unused_time_from][type]", "none")];
    assert_eq!(shop.stripe(Method::POST, &format!("/v1/subscriptions/{id}/pause"), &form).await["status"], "paused");
    support::poll_until(200, || shop.only_subscription(), |kept| kept.state.status == "paused").await;

    shop.pays_to_resume(&id, &card).await;
    // The first period's payment, then the new one's; the overdue renewal still open.
    shop.resumed_once(&id, 2).await;
    assert_eq!(shop.stripe(Method::GET, &format!("/v1/invoices/{overdue}"), &[]).await["status"], "open");
}

/// A trial paused for want of a card is told to the subscriber by email, once: nothing
/// is charged meanwhile, and the account page resumes it with a card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trial_paused_for_want_of_a_card_is_told_to_the_subscriber_by_email() {
    let shop = shop().await;
    let id = shop.paused_trial("trial-paused-told@example.com").await;
    let (told, email) = shop.subscriber_email(&id, "subscription_paused.").await;
    assert!(told.len() == 1 && told[0].ends_with(".trial_end_without_payment_method"), "{told:?}");
    assert!(
        email.contains("Subject: Your subscription is paused") && email.contains("Your free trial (1 × Tea of the month) has ended"),
        "{email}"
    );
    assert!(email.contains("resume it from your account with a card") && email.contains("/account"), "{email}");
    // The same event again tells nothing more.
    let event = shop.stripe(Method::GET, "/v1/events?type=customer.subscription.paused", &[]).await;
    let url = format!("{}/_emulator/events/{}/resend", shop.stripe, event["data"][0]["id"].as_str().unwrap());
    assert!(support::client().post(url).send().await.unwrap().status().is_success());
    shop.delivered("customer.subscription.paused").await;
    assert_eq!(shop.subscriber_email(&id, "subscription_paused.").await.0, told);
}

/// A pause whose email could not go out before the subscriber resumed the subscription
/// is not told: it would say what is no longer so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_resumed_before_its_email_goes_out_is_not_told() {
    let nobody = support::net::free_port();
    let smtp = format!("smtp://127.0.0.1:{nobody}");
    let shop = Shop::start(&[("ADMIN_TOKEN", ADMIN), ("SMTP_URL", smtp.as_str()), ("MAIL_RETRY_SECS", "1")]).await;
    let id = shop.paused_trial("trial-paused-resumed-first@example.com").await;
    let first_order = shop.invoice_orders(&id).await.0.into_iter().flatten().next().expect("the trial's order");
    let paused_email = || async {
        let outbox = shop.store.outbox_for(&first_order).await.unwrap();
        outbox.into_iter().find(|m| m.kind.starts_with("subscription_paused."))
    };
    let tried = support::poll_until(100, paused_email, |m| m.as_ref().is_some_and(|m| m.last_error.is_some())).await.unwrap();
    assert_eq!(tried.status, "waiting", "{tried:?}");
    shop.pays_to_resume(&id, &shop.card_for(&id, "pm_card_visa").await).await;
    let dropped = support::poll_until(300, paused_email, |m| m.as_ref().is_some_and(|m| m.status != "waiting")).await.unwrap();
    assert_eq!((dropped.status, dropped.last_error.as_deref()), ("failed", Some("the subscription was resumed, or ended, meanwhile")));
}

/// A paused subscription is on hold: its subscriber can end it now, from the account page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_subscription_is_ended_now_from_the_account_page() {
    let shop = shop().await;
    let id = shop.paused_trial("trial-paused-ends@example.com").await;
    let (status, body) = shop.api("account/subscription/end", &[("subscription", &id)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(shop.stripe(Method::GET, &format!("/v1/subscriptions/{id}"), &[]).await["status"], "canceled");
    assert_eq!(shop.only_subscription().await.state.status, "canceled");
    assert!(shop.charged().await.is_empty(), "nothing was charged");
}

/// Three days before the end of a free trial whose card was not kept, the reminder says
/// there is no card to charge, and that the account page will ask for one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reminder_of_a_free_trial_without_a_card_says_a_card_will_be_asked_for() {
    let shop = shop().await;
    let trial = shop.trial_without_a_card("trial-no-card-reminder@example.com").await;
    shop.advance_clock(12).await;
    shop.delivered("customer.subscription.trial_will_end").await;
    let order = shop.invoice_orders(&trial.id).await.0.into_iter().flatten().next().expect("the trial's order");
    let told = shop.sent_to_subscriber(&order, "trial_ending.").await;
    let email = support::readable(&shop.written_email(&order, &told[0]).expect("the email, written to MAIL_DIR"));
    assert!(email.contains("is due, and we have no card to charge it to: your account page will ask you to pay it with a card"), "{email}");
}

/// A first payment declined leaves the subscription waiting for it (`incomplete`), the
/// beans still in the cart. Paying again with another card pays that subscription's
/// first invoice: one subscription, charged once, not a second one beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_first_payment_paid_again_pays_the_same_subscription() {
    let shop = shop().await;
    let (declined, waiting) = shop.first_payment_declined("declined-first@example.com", "pm_card_chargeDeclinedInsufficientFunds").await;
    assert!(declined.to_string().contains("insufficient"), "{declined}");
    let (_, cart) = shop.api("cart/get", &[]).await;
    assert_eq!(cart["item_count"], 1, "the beans stay in the cart: {cart}");
    let page = shop.page("/checkout").await;
    assert!(page.contains("pay-button") && !page.contains("already-subscribed"), "{page}");

    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, paid) = shop.confirm(&token).await;
    assert_eq!((status, paid["status"].as_str()), (200, Some("Succeeded")), "{paid}");
    assert_eq!(paid["payment_intent"].as_str(), waiting.first_payment_intent_id.as_deref(), "the first invoice's own payment");
    let all = shop.stripe(Method::GET, "/v1/subscriptions?status=all", &[]).await;
    let ids: Vec<&str> = all["data"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [waiting.id.as_str()], "{all}");
    assert_eq!(shop.only_subscription().await.state.status, "active");
    assert_eq!(shop.charged().await, vec![1200], "charged once");
}

/// A first payment declined, and the shopper away for a day: Stripe gives the
/// subscription up once its first invoice has waited 23 hours (`incomplete_expired`,
/// that invoice void). The account page says it expired, not that it waits for a
/// payment; back at the checkout, the shopper subscribes again, even when the shop
/// missed Stripe's word of the expiry: a new subscription, paid once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_payment_never_made_expires_and_the_shopper_subscribes_again() {
    let shop = shop().await;
    let (_, first) = shop.first_payment_declined("back-tomorrow@example.com", "pm_card_chargeDeclined").await;

    shop.control("clock", json!({ "advance_seconds": 23 * 3_600 })).await;
    let expired = support::poll_until(200, || shop.only_subscription(), |kept| kept.state.status == "incomplete_expired").await;
    assert_eq!(expired.state.status, "incomplete_expired", "{expired:?}");
    let account = shop.page("/account").await;
    let row = account.split(&format!("data-testid=\"subscription-{}\"", first.id)).nth(1).expect("the subscription listed");
    let row = &row[..row.find("</li>").unwrap_or(row.len())];
    assert!(row.contains("data-status=\"incomplete_expired\"") && row.contains("Expired"), "{row}");
    assert!(!row.contains("Waiting for the first payment") && !row.contains("Renews on"), "{row}");

    // The shop missed that webhook: its record still says the subscription waits.
    shop.missed_the_news(&expired, "incomplete").await;
    assert_eq!(shop.subscribes_anew().await, ["active", "incomplete_expired"]);
    assert_eq!(shop.charged().await, vec![1200], "paid once");
    let kept = shop.store.subscription(&first.id).await.unwrap().unwrap();
    assert_eq!(kept.state.status, "incomplete_expired", "Stripe's word is kept");
}

/// Two windows of one account press Pay on the subscription at once, with two tokens.
/// While the first is being created at Stripe (its reply slowed down), the second is
/// told that it is being paid in another window: one subscription, paid once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_windows_paying_for_a_subscription_at_once_make_one() {
    let shop = shop().await;
    shop.signed_up_with_the_beans("two-windows@example.com").await;
    let first = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let second = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let slow = shop.paying_while_stripe_holds_back(first, "/v1/subscriptions").await;

    let (status, refused) = shop.confirm(&second).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("another window"), "{refused}");
    let (status, paid) = slow.await.unwrap();
    assert_eq!((status, paid["status"].as_str()), (200, Some("Succeeded")), "{paid}");
    let all = shop.stripe(Method::GET, "/v1/subscriptions?status=all", &[]).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 1, "{all}");
    assert_eq!(shop.only_subscription().await.state.status, "active");
    // The claim ends with its request: the account can subscribe again later.
    assert!(shop.store.claim_subscription(&shop.only_subscription().await.account_id, "coffee-beans", "ctoken_later", 0, 1).await.unwrap());
}

/// An account that subscribes to the coffee beans already is refused a second
/// subscription to them (both would bill every month) and told where to change the one
/// it has. Once that one has ended at Stripe, it subscribes again, even if the shop
/// missed the webhook that said so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_already_subscribed_is_not_subscribed_twice() {
    let shop = shop().await;
    let first = shop.subscribed("twice@example.com").await;
    let (status, cart) = shop.add("coffee-beans").await;
    assert_eq!(status, 200, "{cart}");
    // The checkout says so, and where to change it, instead of offering to pay (nor
    // asks Stripe for a CustomerSession for a form it does not show).
    let sessions = shop.customer_sessions().await;
    let page = shop.page("/checkout").await;
    assert!(page.contains("data-testid=\"already-subscribed\"") && page.contains("Coffee beans, monthly"), "{page}");
    assert!(!page.contains("pay-button") && !page.contains("<leptos-island"), "{page}");
    assert_eq!(shop.customer_sessions().await, sessions);
    // Paying anyway (a page opened before) is refused.
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, refused) = shop.confirm(&token).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("You already subscribe to “Coffee beans, monthly”"), "{refused}");
    let all = shop.stripe(Method::GET, "/v1/subscriptions?status=all", &[]).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 1, "{all}");

    // Canceled at Stripe (in the Dashboard, say), and the shop never heard: its record
    // still says active.
    support::wait_all_delivered(&shop.stripe).await;
    assert_eq!(shop.stripe(Method::DELETE, &format!("/v1/subscriptions/{}", first.id), &[]).await["status"], "canceled");
    shop.missed_the_news(&first, "active").await;
    assert_eq!(shop.only_subscription().await.state.status, "active");
    assert_eq!(shop.subscribes_anew().await, ["active", "canceled"]);
    assert_eq!(shop.store.subscription(&first.id).await.unwrap().unwrap().state.status, "canceled", "Stripe's word is kept");
}

/// A first payment waited for 3-D Secure and the shopper finished the challenge (in
/// another tab, say), but the shop has not heard yet: its record still says
/// `incomplete`. Paying again, for the same bag or for two, would make a second
/// subscription billing every month beside the one now active. Stripe's word is read
/// first: the checkout says the shopper subscribes already, and paying is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_payment_authenticated_before_the_shop_heard_is_not_subscribed_again() {
    let shop = shop().await;
    let (waiting, first) = shop.left_at_3_d_secure("finished-elsewhere@example.com").await;
    let intent = waiting["payment_intent"].as_str().unwrap();
    let done = support::client()
        .post(format!("{}/_emulator/3ds/{intent}", shop.stripe))
        .json(&json!({ "client_secret": waiting["client_secret"], "result": "complete" }))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), 200);
    support::wait_all_delivered(&shop.stripe).await;
    // The webhooks that said so were missed: the record is as it was.
    let read_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    shop.store
        .sync_subscription(&first.id, first.state.clone(), ItemTerms::default(), read_at.as_millis() as i64, read_at.as_secs() as i64)
        .await
        .unwrap();
    assert_eq!(shop.only_subscription().await.state.status, "incomplete");

    let (status, cart) = shop.add("coffee-beans").await;
    assert_eq!(status, 200, "{cart}");
    let page = shop.page("/checkout").await;
    assert!(page.contains("data-testid=\"already-subscribed\"") && !page.contains("pay-button"), "{page}");
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, refused) = shop.confirm(&token).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("You already subscribe to “Coffee beans, monthly”"), "{refused}");
    // Nor for another quantity, with the record stale again.
    let read_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    shop.store
        .sync_subscription(&first.id, first.state.clone(), ItemTerms::default(), read_at.as_millis() as i64, read_at.as_secs() as i64)
        .await
        .unwrap();
    assert_eq!(shop.only_subscription().await.state.status, "incomplete");
    let (status, cart) = shop.api("cart/set", &[("product_id", "coffee-beans"), ("quantity", "2")]).await;
    assert_eq!(status, 200, "{cart}");
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, refused) = shop.confirm(&token).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("You already subscribe to “Coffee beans, monthly”"), "{refused}");

    let all = shop.stripe(Method::GET, "/v1/subscriptions?status=all", &[]).await;
    let statuses: Vec<&str> = all["data"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["active"], "{all}");
    assert_eq!(shop.only_subscription().await.state.status, "active", "Stripe's word is kept");
}

/// The overdue renewal is paid at Stripe (a retry of Stripe's, another tab) just as the
/// shopper's form replaces the card: Stripe refuses to pay it again. The shopper is told
/// there is nothing left to pay, and the subscription is kept active, not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_renewal_paid_elsewhere_as_the_shopper_pays_it_is_nothing_left_to_pay() {
    let shop = shop().await;
    let (subscription, added) = shop.past_due_with_another_card("paid-elsewhere@example.com").await;
    // Stripe's reply to the card's change is held back while the invoice is paid.
    let paying = shop.paying_overdue_while_stripe_holds_back(&subscription.id, &added, "after").await;
    let path = format!("/v1/subscriptions/{}", subscription.id);
    let latest = shop.stripe(Method::GET, &path, &[]).await["latest_invoice"].as_str().unwrap().to_owned();
    let paid = shop.stripe(Method::POST, &format!("/v1/invoices/{latest}/pay"), &[("payment_method", &added)]).await;
    assert_eq!(paid["status"], "paid", "{paid}");

    answered(paying, 400, "nothing left to pay").await;
    assert_eq!(shop.only_subscription().await.state.status, "active");
    assert_eq!(shop.charged().await.len(), 2, "the first invoice and the renewal, once");
}

/// The shopper pays an overdue renewal with a saved card just as another tab removes
/// that card: Stripe refuses to make it the subscription's card, and the shopper is told
/// the card is gone (and may pick another), not shown an internal error. Nothing is charged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_removed_in_another_tab_as_it_pays_an_overdue_renewal_is_said_to_be_gone() {
    let shop = shop().await;
    let (subscription, added) = shop.past_due_with_another_card("card-gone@example.com").await;
    // The shop has listed the card as the shopper's; Stripe has yet to change the card.
    let paying = shop.paying_overdue_while_stripe_holds_back(&subscription.id, &added, "before").await;
    let detached = shop.stripe(Method::POST, &format!("/v1/payment_methods/{added}/detach"), &[]).await;
    assert_eq!(detached["customer"], Value::Null, "{detached}");

    answered(paying, 404, "no such saved card").await;
    assert_eq!(shop.only_subscription().await.state.status, "past_due");
    assert_eq!(shop.charged().await.len(), 1, "the first invoice only");
}

/// Stripe's last retry gives an overdue subscription up (it ends) just as the shopper
/// pays it with another card: the shopper is told there is nothing left to pay, and
/// the account shows the subscription ended, not an internal error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_subscription_ended_as_the_shopper_pays_it_is_nothing_left_to_pay() {
    let shop = shop().await;
    let (subscription, added) = shop.past_due_with_another_card("ended-meanwhile@example.com").await;
    let paying = shop.paying_overdue_while_stripe_holds_back(&subscription.id, &added, "before").await;
    let ended = shop.stripe(Method::DELETE, &format!("/v1/subscriptions/{}", subscription.id), &[]).await;
    assert_eq!(ended["status"], "canceled", "{ended}");

    answered(paying, 400, "nothing left to pay").await;
    assert_eq!(shop.only_subscription().await.state.status, "canceled");
    assert_eq!(shop.charged().await.len(), 1, "the first invoice only");
}

/// The merchant deletes an overdue subscriber's Customer in the Dashboard, and the
/// webhooks that would tell the shop are missed. Stripe ended the subscription with
/// the Customer: the shopper's "pay now" is told there is nothing left to pay, the
/// account shows the subscription ended and no saved cards, and the account gets a new
/// Customer when it next needs one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_subscription_whose_customer_was_deleted_at_stripe_is_nothing_left_to_pay() {
    let shop = shop().await;
    let (subscription, added) = shop.past_due_with_another_card("customer-gone@example.com").await;
    let page = shop.page("/account").await;
    support::miss_webhooks_from_now_on(&shop.stripe).await;
    let customer = shop.stripe(Method::GET, &format!("/v1/payment_methods/{added}"), &[]).await["customer"].as_str().unwrap().to_owned();
    assert_eq!(shop.stripe(Method::DELETE, &format!("/v1/customers/{customer}"), &[]).await["deleted"], true);

    let (status, reply) = shop.pay_overdue(&page, &subscription.id, &added, None).await;
    assert_eq!(status, 400, "{reply}");
    assert!(reply.to_string().contains("nothing left to pay"), "{reply}");
    assert_eq!(shop.only_subscription().await.state.status, "canceled");
    let account = shop.page("/account").await;
    assert!(account.contains(r#"data-testid="no-saved-cards""#), "{account}");
    assert_eq!(shop.charged().await.len(), 1, "the first invoice only");
}

/// The merchant empties their test account ("Delete all test data" in the Dashboard,
/// which sends no webhooks): the subscription the shop recorded is no longer at Stripe.
/// Changing it tells the shopper it has ended, and buying it again is not refused: the
/// first try makes the account a new Customer (Stripe has none by the old id), the next
/// one subscribes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_no_longer_at_stripe_is_ended_and_can_be_bought_again() {
    let shop = shop().await;
    let old = shop.subscribed("wiped@example.com").await;
    support::wait_all_delivered(&shop.stripe).await;
    shop.control("reset", json!({})).await;

    // The result page of its first payment: no such payment, as for any other.
    let paid_with = old.first_payment_intent_id.clone().unwrap();
    let page = shop.shopper.get(format!("{}/checkout/complete?payment_intent={paid_with}", shop.base)).send().await.unwrap();
    assert_eq!(page.status(), 404);
    assert!(page.text().await.unwrap().contains("There is no such payment."));
    let (status, ended) = shop.api("account/subscription/cancel", &[("subscription", &old.id)]).await;
    assert_eq!(status, 400, "{ended}");
    assert!(ended.to_string().contains("has ended"), "{ended}");
    assert_eq!(shop.only_subscription().await.state.status, "canceled");

    let (status, cart) = shop.add("coffee-beans").await;
    assert_eq!(status, 200, "{cart}");
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, renewed) = shop.confirm(&token).await;
    assert_eq!(status, 400, "{renewed}");
    assert!(renewed.to_string().contains("had to be set up again"), "{renewed}");
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, paid) = shop.confirm(&token).await;
    assert_eq!((status, paid["status"].as_str()), (200, Some("Succeeded")), "{paid}");
    let subscriptions = shop.store.subscriptions_page(None, 10).await.unwrap();
    let statuses: Vec<&str> = subscriptions.iter().map(|record| record.state.status.as_str()).collect();
    assert_eq!(statuses.iter().filter(|status| **status == "active").count(), 1, "{statuses:?}");
}

/// A window's purchase waits on a slow Stripe (its product's request held up) for so
/// long that its claim lapses, and another window takes the claim over. When the first
/// one goes on, it finds its claim gone and stops before making a subscription: the
/// other window's is the one paid for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_taken_over_while_stripe_was_slow_stops_the_request_that_lost_it() {
    let shop = shop().await;
    shop.signed_up_with_the_beans("slow-stripe@example.com").await;
    let token = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let slow = shop.paying_while_stripe_holds_back(token, "/v1/products").await;
    // Its claim has lapsed (as after minutes of a slow Stripe), and another window's
    // request has claimed the purchase since.
    let account = shop.store.account_by_email("slow-stripe@example.com").await.unwrap().unwrap().id;
    assert!(shop.store.claim_subscription(&account, "coffee-beans", "ctoken_other_window", i64::MAX - 1, i64::MAX).await.unwrap());

    answered(slow, 400, "another window").await;
    let all = shop.stripe(Method::GET, "/v1/subscriptions?status=all", &[]).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 0, "{all}");
}

/// A bank debit (SEPA) pays the first invoice: Stripe takes days to say whether it
/// cleared, and the subscription stays `incomplete` meanwhile, the beans in the cart.
/// Back at the checkout, the shopper is told the payment is on its way, not asked to pay
/// again (Stripe would not confirm it twice); nor does a new quantity give it up (a
/// debit on its way cannot be called back, and both would bill). Once it clears, the
/// subscription is active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_payment_by_bank_debit_on_its_way_is_neither_paid_again_nor_given_up() {
    let shop = shop().await;
    shop.signed_up_with_the_beans("sepa@example.com").await;
    let sepa = support::sepa_token(&shop.shopper, &shop.stripe, "DE89370400440532013000").await;
    let (status, processing) = shop.confirm(&sepa).await;
    assert_eq!((status, processing["status"].as_str()), (200, Some("Processing")), "{processing}");
    let debit = processing["payment_intent"].as_str().unwrap().to_owned();

    let page = shop.page("/checkout").await;
    assert!(page.contains("data-testid=\"already-subscribed\"") && page.contains("still being processed"), "{page}");
    assert!(!page.contains("pay-button"), "{page}");
    let on_its_way = |reply: &Value| reply.to_string().contains("still being processed");
    let card = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, refused) = shop.confirm(&card).await;
    assert!(status == 400 && on_its_way(&refused), "{status} {refused}");
    let (status, cart) = shop.api("cart/set", &[("product_id", "coffee-beans"), ("quantity", "2")]).await;
    assert_eq!(status, 200, "{cart}");
    let card = support::test_token(&shop.shopper, &shop.stripe, "pm_card_visa").await;
    let (status, refused) = shop.confirm(&card).await;
    assert!(status == 400 && on_its_way(&refused), "{status} {refused}");

    let all = shop.stripe(Method::GET, "/v1/subscriptions?status=all", &[]).await;
    let statuses: Vec<&str> = all["data"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["incomplete"], "{all}");
    assert_eq!(shop.stripe(Method::GET, &format!("/v1/payment_intents/{debit}"), &[]).await["status"], "processing");

    let settled = support::client()
        .post(format!("{}/_emulator/intents/{debit}/settle", shop.stripe))
        .json(&json!({ "result": "succeed" }))
        .send()
        .await;
    assert!(settled.unwrap().status().is_success());
    shop.delivered("invoice.paid").await;
    let subscription = shop.only_subscription().await;
    assert_eq!((subscription.state.status.as_str(), subscription.terms.quantity), ("active", 1));
}

/// The shop's endpoint is on an API version older than the one its requests are pinned
/// to (an endpoint made before 2025-03-31.basil, or `stripe listen` on an account whose
/// default version is older): Stripe renders its invoices as that version had them,
/// naming their subscription in `subscription`, with no `parent`. A renewal paid and
/// one that fails, heard only that way, do what they do in the pinned version: the paid
/// one becomes an order, the failed one shows `past_due` and tells the subscriber, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_rendered_for_an_older_api_version_are_applied_alike() {
    const SECRET: &str = "whsec_older_endpoint";
    let shop = Shop::start(&[("ADMIN_TOKEN", ADMIN), ("STRIPE_WEBHOOK_SECRET", SECRET)]).await;
    let subscription = shop.subscribed("older-endpoint@example.com").await;
    let (orders, _) = shop.invoice_orders(&subscription.id).await;
    let first_order = orders.into_iter().flatten().next().expect("the first invoice's order");
    support::miss_webhooks_from_now_on(&shop.stripe).await;
    shop.advance_clock(32).await;
    assert_eq!(delivered_as_older_version(&shop, SECRET, "invoice.paid").await, subscription.id);
    let (orders, _) = shop.invoice_orders(&subscription.id).await;
    assert_eq!(orders.iter().flatten().count(), 2, "the renewal is an order: {orders:?}");

    let path = format!("/v1/subscriptions/{}", subscription.id);
    let customer = shop.stripe(Method::GET, &path, &[]).await["customer"].as_str().unwrap().to_owned();
    let failing = shop.stripe(Method::POST, "/v1/payment_methods/pm_card_chargeCustomerFail/attach", &[("customer", &customer)]).await;
    shop.stripe(Method::POST, &path, &[("default_payment_method", failing["id"].as_str().unwrap())]).await;
    shop.advance_clock(32).await;
    assert_eq!(delivered_as_older_version(&shop, SECRET, "invoice.payment_failed").await, subscription.id);
    assert_eq!(shop.only_subscription().await.state.status, "past_due");
    let outbox = shop.store.outbox_for(&first_order).await.unwrap();
    assert_eq!(outbox.iter().filter(|m| m.kind.starts_with("renewal_failed.")).count(), 1, "{outbox:?}");
}

/// Delivers Stripe's newest event of `kind`, an invoice's, to the shop as an endpoint on
/// 2024-06-20 would get it (the invoice's subscription in `subscription`, no `parent`),
/// signed with `secret`, and checks it is answered 200; that subscription's id.
async fn delivered_as_older_version(shop: &Shop, secret: &str, kind: &str) -> String {
    let events = shop.stripe(Method::GET, &format!("/v1/events?type={kind}&limit=1"), &[]).await;
    let mut event = events["data"][0].clone();
    event["api_version"] = json!("2024-06-20");
    let invoice = event["data"]["object"].as_object_mut().expect("an invoice");
    let parent = invoice.remove("parent").expect("the pinned version's parent");
    let subscription = parent["subscription_details"]["subscription"].as_str().expect("its subscription").to_owned();
    invoice.insert("subscription".into(), json!(subscription));
    assert_eq!(support::deliver_signed(&shop.base, secret, &event).await, 200);
    subscription
}
