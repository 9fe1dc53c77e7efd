//! Order emails against a real SMTP server (Debian's aiosmtpd, `make smtp`, writing
//! what it receives to a maildir): one confirmation per paid order however often
//! Stripe repeats its webhook and however many instances send, in the order's
//! language, with a link to the order; the server down, then up: the message arrives
//! later; a bad address refused before anything is charged; without SMTP, `.eml`
//! files.

use serde_json::Value;
use std::io::{BufRead, BufReader, Lines, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

mod support;

use support::Shop;

/// Debian's aiosmtpd on a port it holds from the start: it binds `127.0.0.1:0` and
/// says which port it got, then refuses connections (bound, not listening) until it
/// reads a line, and then serves SMTP on that same socket, keeping what it receives in
/// the maildir given as its argument, and says `listening`. The port is never free for
/// another test's server to take between being chosen and being served, as it was when
/// the test chose a port, let it go, and asked aiosmtpd to bind it.
const SMTP_SERVER: &str = r#"
import asyncio, socket, sys
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP

held = socket.socket()
held.bind(("127.0.0.1", 0))
print(held.getsockname()[1], flush=True)
sys.stdin.readline()

async def serve():
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(Mailbox(sys.argv[1])), sock=held)
    print("listening", flush=True)
    await server.serve_forever()

asyncio.run(serve())
"#;

/// A test's mail server: a port nobody listens on until `up` starts serving it (a test
/// may send while it is down first), and the maildir it will keep messages in (in a
/// directory removed with the test). It stops with the test.
struct MailServer {
    maildir: PathBuf,
    url: String,
    server: Child,
    said: std::sync::Mutex<Lines<BufReader<ChildStdout>>>,
    _place: tempfile::TempDir,
}

impl MailServer {
    fn new() -> MailServer {
        let place = tempfile::tempdir().unwrap();
        let maildir = place.path().join("maildir");
        let mut server = Command::new("/usr/bin/python3")
            .args(["-c", SMTP_SERVER])
            .arg(&maildir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("aiosmtpd (`make smtp` installs Debian's python3-aiosmtpd)");
        let mut said = BufReader::new(server.stdout.take().unwrap()).lines();
        let port: u16 = said.next().and_then(Result::ok).and_then(|line| line.parse().ok()).expect("aiosmtpd says which port it holds");
        MailServer { maildir, url: format!("smtp://127.0.0.1:{port}"), server, said: std::sync::Mutex::new(said), _place: place }
    }

    /// Starts serving SMTP; returns once the server says it does.
    async fn up(&self) {
        let mut stdin = self.server.stdin.as_ref().unwrap();
        stdin.write_all(b"up\n").unwrap();
        let said = tokio::task::block_in_place(|| self.said.lock().unwrap().next().and_then(Result::ok));
        assert_eq!(said.as_deref(), Some("listening"), "aiosmtpd did not start serving");
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// The messages received so far, as text.
fn received(dir: &Path) -> Vec<String> {
    let mut messages: Vec<String> = std::fs::read_dir(dir.join("new"))
        .map(|entries| entries.filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok()).collect())
        .unwrap_or_default();
    messages.sort();
    messages
}

async fn wait_for_messages(dir: &Path, count: usize) -> Vec<String> {
    support::poll_until(300, || async { received(dir) }, |messages: &Vec<String>| messages.len() >= count).await
}

async fn shop(extra: &[(&str, &str)]) -> Shop {
    Shop::start(extra).await
}

/// A shopper whose browser asks for `language`.
fn shopper(language: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("accept-language", language.parse().unwrap());
    reqwest::Client::builder().cookie_store(true).default_headers(headers).timeout(std::time::Duration::from_secs(30)).build().unwrap()
}

impl Shop {
    /// Pays for a walnut board with a Visa, giving `email`; the reply.
    async fn pay(&self, shopper: &reqwest::Client, email: &str) -> (u16, Value) {
        self.pay_with(shopper, email, "pm_card_visa").await
    }

    /// Pays for a walnut board with the test PaymentMethod `card`, giving `email`.
    async fn pay_with(&self, shopper: &reqwest::Client, email: &str, card: &str) -> (u16, Value) {
        let added =
            support::post_form(shopper, format!("{}/api/cart/add", self.base), &[("product_id", "walnut-board"), ("quantity", "1")]).await;
        assert!(added.is_object(), "{added}");
        // The token ships to New York, as the Address Element would give it.
        let shipping = [
            ("shipping[name]", "Jenny Rosen"),
            ("shipping[address][line1]", "350 Fifth Avenue"),
            ("shipping[address][city]", "New York"),
            ("shipping[address][state]", "NY"),
            ("shipping[address][postal_code]", "10118"),
            ("shipping[address][country]", "US"),
        ];
        let token = support::test_token_with(shopper, &self.stripe, card, &shipping).await;
        let response = shopper
            .post(format!("{}/api/checkout/confirm", self.base))
            .form(&[("confirmation_token", token.as_str()), ("email", email)])
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    }

    async fn outbox_status(&self, order_id: &str) -> Vec<&'static str> {
        self.store.outbox_for(order_id).await.unwrap().iter().map(|message| message.status).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_gets_one_confirmation_in_its_language_whatever_stripe_repeats() {
    let mail = MailServer::new();
    let (maildir, smtp_url) = (&mail.maildir, &mail.url);
    mail.up().await;
    let shop = shop(&[("SMTP_URL", smtp_url.as_str())]).await;

    let french = shopper("fr-FR,fr;q=0.9");
    let (status, reply) = shop.pay(&french, " Jenny.Rosen@example.com ").await;
    assert_eq!(status, 200, "{reply}");
    let order_id = reply["order_id"].as_str().unwrap().to_owned();
    let intent = support::stripe_call(
        &support::client(),
        reqwest::Method::GET,
        format!("{}/v1/payment_intents/{}", shop.stripe, reply["payment_intent"].as_str().unwrap()),
        "sk_test_mail",
        &[],
    )
    .await;
    assert_eq!(intent["receipt_email"], "Jenny.Rosen@example.com", "Stripe's receipt goes there too");

    let messages = wait_for_messages(maildir, 1).await;
    assert_eq!(messages.len(), 1, "{:?}", shop.store.outbox_for(&order_id).await.unwrap());
    let message = support::readable(&messages[0]);
    assert!(message.contains("To: Jenny.Rosen@example.com"), "{message}");
    assert!(message.contains(&format!("Message-ID: <order_confirmation.{order_id}@127.0.0.1>")), "{message}");
    assert!(message.contains("multipart/alternative") && message.contains("text/html"), "{message}");
    assert!(message.contains(&format!("{}/orders/{order_id}", shop.base)), "{message}");
    assert!(!message.contains("/invoice") && !message.contains("facture"), "a one-off buy has no invoice: {message}");
    assert!(message.contains("1 × Planche de service en noyer") && message.contains("69,00"), "French money: {message}");
    assert!(message.contains("Merci"), "in French: {message}");
    assert!(message.contains("Total\u{a0}: 69,00"), "French puts a space before a colon: {message}");
    assert!(message.contains("New York, NY 10118") && message.contains("États-Unis"), "a US address, its country in French: {message}");

    // Stripe delivers the success again (and again): nothing more is queued or sent.
    let events = support::stripe_call(
        &support::client(),
        reqwest::Method::GET,
        format!("{}/v1/events?type=payment_intent.succeeded", shop.stripe),
        "sk_test_mail",
        &[],
    )
    .await;
    for event in events["data"].as_array().unwrap() {
        for _ in 0..2 {
            let url = format!("{}/_emulator/events/{}/resend", shop.stripe, event["id"].as_str().unwrap());
            assert!(support::client().post(url).send().await.unwrap().status().is_success());
        }
        let url = format!("{}/_emulator/deliveries?event_id={}", shop.stripe, event["id"].as_str().unwrap());
        let answered = support::poll_until(
            200,
            || async {
                let deliveries: Value = support::client().get(&url).send().await.unwrap().json().await.unwrap();
                deliveries["data"].as_array().unwrap().iter().filter(|d| d["status"] == "succeeded").count()
            },
            |count| *count >= 3,
        )
        .await;
        assert!(answered >= 3, "the repeated webhooks were answered");
    }
    let sent = support::poll_until(100, || async { shop.outbox_status(&order_id).await }, |s: &Vec<&str>| s == &["sent"]).await;
    assert_eq!(sent, ["sent"]);
    assert_eq!(received(maildir).len(), 1);

    // In English for an English shopper.
    let english = shopper("en-GB,en;q=0.8");
    let (status, reply) = shop.pay(&english, "ada@example.com").await;
    assert_eq!(status, 200, "{reply}");
    let messages = wait_for_messages(maildir, 2).await;
    let message = support::readable(messages.iter().find(|m| m.contains("To: ada@example.com")).unwrap());
    assert!(message.contains("Thank you") && message.contains("€69.00"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_mail_server_down_the_confirmation_arrives_once_it_is_back() {
    let mail = MailServer::new();
    let (maildir, smtp_url) = (&mail.maildir, &mail.url);
    let shop = shop(&[("SMTP_URL", smtp_url.as_str()), ("MAIL_RETRY_SECS", "1")]).await;
    let (status, reply) = shop.pay(&shopper("en"), "jenny@example.com").await;
    assert_eq!(status, 200, "{reply}");
    let order_id = reply["order_id"].as_str().unwrap().to_owned();
    // Tried, refused by nobody listening, kept for later.
    let tried = support::poll_until(
        300,
        || async { shop.store.outbox_for(&order_id).await.unwrap() },
        |messages: &Vec<storefront::store::OutboxEntry>| messages.iter().any(|m| m.last_error.is_some()),
    )
    .await;
    assert_eq!(tried[0].status, "waiting", "{tried:?}");

    mail.up().await;
    let messages = wait_for_messages(maildir, 1).await;
    assert_eq!(messages.len(), 1);
    assert!(support::readable(&messages[0]).contains(&order_id));
    let sent = support::poll_until(100, || async { shop.outbox_status(&order_id).await }, |s: &Vec<&str>| s == &["sent"]).await;
    assert_eq!(sent, ["sent"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_send_each_confirmation_once() {
    let mail = MailServer::new();
    let (maildir, smtp_url) = (&mail.maildir, &mail.url);
    mail.up().await;
    let first = shop(&[("SMTP_URL", smtp_url.as_str())]).await;
    // A second instance on the same database, sending too.
    let (mut config, _, _db2) = support::config(&[("SMTP_URL", smtp_url.as_str())]);
    config.database_url = first.db_url.clone();
    let _second = support::serve(config).await;

    let mut orders = Vec::new();
    for n in 0..4 {
        let (status, reply) = first.pay(&shopper("en"), &format!("shopper{n}@example.com")).await;
        assert_eq!(status, 200, "{reply}");
        orders.push(reply["order_id"].as_str().unwrap().to_owned());
    }
    let messages = wait_for_messages(maildir, 4).await;
    for order in &orders {
        let sent = support::poll_until(100, || async { first.outbox_status(order).await }, |s: &Vec<&str>| s == &["sent"]).await;
        assert_eq!(sent, ["sent"]);
    }
    assert_eq!(received(maildir).len(), 4, "one each: {messages:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_address_is_refused_before_anything_is_charged() {
    let shop = shop(&[]).await;
    let shopper = shopper("en");
    let too_long = format!("{}@example.com", "j".repeat(250));
    let injected = "jenny@example.com\r\nBcc: everyone@example.com";
    // Also what mail would carry but Stripe's `receipt_email` refuses: a domain literal,
    // a quoted local part, empty or hyphenated labels.
    let odd = ["jenny@[127.0.0.1]", "\"jen ny\"@example.com", "jenny@example..com", "jenny@-example.com"];
    for bad in ["jenny", "jenny@", "@example.com", "jenny@example", "jen ny@example.com", "jenny@exa mple.com", &too_long, injected]
        .iter()
        .chain(&odd)
    {
        let (status, reply) = shop.pay(&shopper, bad).await;
        assert_eq!(status, 400, "{bad}: {reply}");
        assert!(reply.to_string().contains("name@example.com"), "says what is expected: {reply}");
    }
    let intents =
        support::stripe_call(&support::client(), reqwest::Method::GET, format!("{}/v1/payment_intents", shop.stripe), "sk_test_mail", &[])
            .await;
    assert_eq!(intents["data"].as_array().unwrap().len(), 0, "nothing charged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_smtp_messages_are_written_as_files_and_an_order_without_address_says_so() {
    // The process's log lines, to see how an order without an address is logged. (The
    // only test here that installs a subscriber; the others' lines land here too.)
    let logs = support::Captured::logs("storefront=info");
    let dir = tempfile::tempdir().unwrap();
    let mail_dir: PathBuf = dir.path().join("mail");
    let shop = shop(&[("MAIL_DIR", mail_dir.to_str().unwrap()), ("ADMIN_TOKEN", "merchant-token-0123456789")]).await;
    let (status, reply) = shop.pay(&shopper("en"), "jenny@example.com").await;
    assert_eq!(status, 200, "{reply}");
    let order_id = reply["order_id"].as_str().unwrap().to_owned();
    // Each message appears whole, under a name of its own: the first `.eml` file there
    // is complete, whenever it is read.
    let files = support::poll_until(
        300,
        || async {
            let entries = std::fs::read_dir(&mail_dir).map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect::<Vec<_>>());
            entries.unwrap_or_default().into_iter().filter(|path| path.extension().is_some_and(|ext| ext == "eml")).collect::<Vec<_>>()
        },
        |files: &Vec<PathBuf>| !files.is_empty(),
    )
    .await;
    assert_eq!(files, [mail_dir.join(format!("{order_id}.order_confirmation.eml"))]);
    assert!(support::readable(&std::fs::read_to_string(&files[0]).unwrap()).contains(&format!("/orders/{order_id}")));

    // A guest who gives no address: nothing can be sent, and the merchant sees why.
    let (status, reply) = shop.pay(&shopper("en"), "").await;
    assert_eq!(status, 200, "{reply}");
    let silent = reply["order_id"].as_str().unwrap().to_owned();
    let failed = support::poll_until(100, || async { shop.outbox_status(&silent).await }, |s: &Vec<&str>| s == &["failed"]).await;
    assert_eq!(failed, ["failed"]);
    let page = support::admin_page(&format!("{}/admin/orders/{silent}", shop.base), "merchant-token-0123456789").await;
    assert!(page.contains("data-status=\"failed\"") && page.contains("no email address"), "{page}");
    // A guest may give no address: nothing went wrong, so no ERROR for operators.
    let logged = logs.text();
    let about: Vec<&str> =
        logged.lines().filter(|line| line.contains(&format!("order={silent}")) && line.contains("storefront::mail")).collect();
    assert!(about.iter().any(|line| line.contains(" INFO ") && line.contains("gave no email address")), "{about:?}");
    assert!(!about.iter().any(|line| line.contains("ERROR")), "{about:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_debit_that_fails_days_later_is_told_by_email() {
    let mail = MailServer::new();
    let (maildir, smtp_url) = (&mail.maildir, &mail.url);
    mail.up().await;
    let shop = shop(&[("SMTP_URL", smtp_url.as_str())]).await;
    let shopper = shopper("en");
    support::post_form(&shopper, format!("{}/api/cart/add", shop.base), &[("product_id", "walnut-board"), ("quantity", "1")]).await;
    // Stripe's SEPA test IBAN whose debit fails once processing ends.
    let token = support::sepa_token(&shopper, &shop.stripe, "DE62370400440532013001").await;
    let reply = shopper
        .post(format!("{}/api/checkout/confirm", shop.base))
        .form(&[("confirmation_token", token.as_str()), ("email", "jenny@example.com")])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(reply["status"], "Processing", "{reply}");
    let order_id = reply["order_id"].as_str().unwrap().to_owned();
    let settle = format!("{}/_emulator/intents/{}/settle", shop.stripe, reply["payment_intent"].as_str().unwrap());
    assert!(support::client().post(settle).json(&serde_json::json!({ "result": "fail" })).send().await.unwrap().status().is_success());

    let messages = wait_for_messages(maildir, 1).await;
    let message = support::readable(&messages[0]);
    assert!(message.contains(&format!("Subject: Your payment for order {order_id} did not go through")), "{message}");
    assert!(message.contains("Nothing was charged") && message.contains(&format!("/orders/{order_id}")), "{message}");
    // The sender marks the message sent once the SMTP server has taken it: the file can
    // be in the maildir a moment before that commit. Only that one message, no
    // confirmation: it was never paid.
    let sent = support::poll_until(100, || async { shop.outbox_status(&order_id).await }, |s: &Vec<&str>| s == &["sent"]).await;
    assert_eq!(sent, ["sent"], "no confirmation: it was never paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refund_is_told_once() {
    let mail = MailServer::new();
    let (maildir, smtp_url) = (&mail.maildir, &mail.url);
    mail.up().await;
    let shop = shop(&[("SMTP_URL", smtp_url.as_str())]).await;
    let (status, reply) = shop.pay(&shopper("en"), "jenny@example.com").await;
    assert_eq!(status, 200, "{reply}");
    let order_id = reply["order_id"].as_str().unwrap().to_owned();
    wait_for_messages(maildir, 1).await;

    // Two refunds made in Stripe (the Dashboard, say): their webhooks record them.
    for amount in ["2000", "1500"] {
        let form = [("payment_intent", reply["payment_intent"].as_str().unwrap()), ("amount", amount)];
        let refund =
            support::stripe_call(&support::client(), reqwest::Method::POST, format!("{}/v1/refunds", shop.stripe), "sk_test_mail", &form)
                .await;
        assert_eq!(refund["status"], "succeeded", "{refund}");
    }
    let messages = wait_for_messages(maildir, 3).await;
    let refunds: Vec<String> =
        messages.iter().map(|m| support::readable(m)).filter(|m| m.contains("Subject: A refund for your order")).collect();
    assert_eq!(refunds.len(), 2, "{messages:#?}");
    assert!(
        refunds.iter().any(|m| m.contains("We refunded €20.00")) && refunds.iter().any(|m| m.contains("We refunded €15.00")),
        "{refunds:#?}"
    );
    let sent =
        support::poll_until(100, || async { shop.outbox_status(&order_id).await }, |s: &Vec<&str>| s == &["sent", "sent", "sent"]).await;
    assert_eq!(sent, ["sent", "sent", "sent"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_that_fails_before_its_message_goes_out_is_not_told_as_done() {
    let mail = MailServer::new();
    let (maildir, smtp_url) = (&mail.maildir, &mail.url);
    let shop = shop(&[("SMTP_URL", smtp_url.as_str()), ("MAIL_RETRY_SECS", "1")]).await;
    let (status, reply) = shop.pay_with(&shopper("en"), "jenny@example.com", "pm_card_refundFail").await;
    assert_eq!(status, 200, "{reply}");
    let order_id = reply["order_id"].as_str().unwrap().to_owned();
    // Refunded in Stripe while the mail server is down: "we refunded" waits in the outbox.
    let form = [("payment_intent", reply["payment_intent"].as_str().unwrap())];
    let refund =
        support::stripe_call(&support::client(), reqwest::Method::POST, format!("{}/v1/refunds", shop.stripe), "sk_test_mail", &form).await;
    assert_eq!(refund["status"], "succeeded", "{refund}");
    // Then the bank sends it back (the refund-failure card).
    let failed = support::poll_until(
        200,
        || async { shop.store.refunds_of(&order_id).await.unwrap().refunds },
        |refunds: &Vec<storefront::store::RefundRecord>| refunds.iter().any(|r| r.status == storefront::store::RefundStatus::Failed),
    )
    .await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let outbox = shop.store.outbox_for(&order_id).await.unwrap();
    let to_shopper: Vec<&str> = outbox.iter().filter(|m| !m.kind.starts_with("merchant.")).map(|m| m.status).collect();
    assert_eq!(to_shopper, ["waiting", "waiting"], "the confirmation and the refund's message, not sent yet");

    // The server is back: the confirmation goes; the refund's message is dropped, saying why.
    mail.up().await;
    let settled = support::poll_until(
        300,
        || async { shop.store.outbox_for(&order_id).await.unwrap() },
        |messages: &Vec<storefront::store::OutboxEntry>| messages.iter().all(|m| m.status != "waiting"),
    )
    .await;
    let mut outcome: Vec<(&str, &str, Option<&str>)> =
        settled.iter().map(|m| (m.kind.split('.').next().unwrap(), m.status, m.last_error.as_deref())).collect();
    outcome.sort();
    assert_eq!(
        outcome,
        [
            ("merchant", "failed", Some("MERCHANT_EMAIL is not set")),
            ("order_confirmation", "sent", None),
            ("refund", "failed", Some("the refund did not go through after all"))
        ],
        "{settled:?}"
    );
    let messages = received(maildir);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(!support::readable(&messages[0]).contains("We refunded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merchant_is_told_when_an_order_needs_them() {
    let mail = MailServer::new();
    let (maildir, smtp_url) = (&mail.maildir, &mail.url);
    mail.up().await;
    let shop = shop(&[("SMTP_URL", smtp_url.as_str()), ("MERCHANT_EMAIL", "Walnut & Co <merchant@shop.example>")]).await;
    // A chargeback, an early fraud warning, a refund that fails at the bank, an inquiry.
    let mut orders = Vec::new();
    for card in ["pm_card_createDispute", "pm_card_createIssuerFraudRecord", "pm_card_refundFail", "pm_card_createDisputeInquiry"] {
        let (status, reply) = shop.pay_with(&shopper("fr"), "jenny@example.com", card).await;
        assert_eq!(status, 200, "{reply}");
        orders.push(reply);
    }
    let form = [("payment_intent", orders[2]["payment_intent"].as_str().unwrap())];
    support::stripe_call(&support::client(), reqwest::Method::POST, format!("{}/v1/refunds", shop.stripe), "sk_test_mail", &form).await;

    // Four confirmations and a refund to the shopper; four messages to the merchant.
    let messages: Vec<String> = wait_for_messages(maildir, 9).await.iter().map(|m| support::readable(m)).collect();
    // (The envelope's recipients, as aiosmtpd records them: the confirmations' blind copy
    // goes to the merchant too.)
    let only_to_merchant = |m: &&String| m.lines().any(|line| line.trim_end() == "X-RcptTo: merchant@shop.example");
    let to_merchant: Vec<&String> = messages.iter().filter(only_to_merchant).collect();
    assert_eq!(to_merchant.len(), 4, "{messages:#?}");
    for (order, what, says) in [
        // Why, and the dispute's deadline, from its event (the emulator's: a week on).
        (&orders[0], "disputed", "is disputed (fraudulent): its amount"),
        (&orders[0], "disputed", "Answer with evidence in the Stripe Dashboard before 20"),
        (&orders[1], "fraud warning", "as fraud (made with stolen card). A dispute often follows"),
        (&orders[1], "fraud warning", "refunding it now, as fraudulent, avoids both"),
        (&orders[2], "refund failed", "Give it back to them another way"),
        (&orders[3], "inquiry", "asks about the payment of order"),
    ] {
        let order_id = order["order_id"].as_str().unwrap();
        let subject = format!("Subject: Order {order_id}: {what}");
        let message = to_merchant.iter().find(|m| m.contains(&subject)).unwrap_or_else(|| panic!("{subject}: {to_merchant:#?}"));
        assert!(message.contains(says) && message.contains(&format!("/admin/orders/{order_id}")), "{message}");
        assert!(!message.contains("the deadline shown there"), "{message}");
        assert!(message.contains("<html lang=\"en\">"), "the merchant's language, not the order's: {message}");
    }
    // Nothing more for the merchant: each is told once, and a dispute's later events
    // (the funds withdrawn) add nothing.
    let mut kinds: Vec<String> =
        shop.store.outbox_for(orders[0]["order_id"].as_str().unwrap()).await.unwrap().into_iter().map(|m| m.kind).collect();
    kinds.sort();
    assert_eq!(kinds, ["merchant.disputed", "order_confirmation"]);
    assert_eq!(received(maildir).len(), 9);
}

/// The link of `order_id`'s page in its confirmation email, as written to `MAIL_DIR`.
async fn emailed_link(shop: &Shop, order_id: &str) -> String {
    let email =
        support::poll_until(300, || async { shop.written_email(order_id, "order_confirmation") }, |email: &Option<String>| email.is_some())
            .await;
    let message = support::readable(&email.expect("the confirmation was written"));
    let start = message.find(&format!("{}/orders/{order_id}?key=", shop.base)).unwrap_or_else(|| panic!("a link with a key: {message}"));
    message[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || ":/?=_-.".contains(*c)).collect()
}

/// The link in an order's emails opens its page on any device: a guest's phone, which has
/// no session of the browser that paid, sees the order and its receipt; the merchant's
/// page of the order gives the same link. The key is that
/// order's alone: without it, with a wrong one, or with another order's, nothing opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_in_an_order_email_opens_the_order_on_another_device() {
    let shop = shop(&[("ADMIN_TOKEN", "merchant-token-0123456789")]).await;
    let (status, reply) = shop.pay(&shopper("en"), "jenny@example.com").await;
    assert_eq!(status, 200, "{reply}");
    let order_id = reply["order_id"].as_str().unwrap().to_owned();
    let link = emailed_link(&shop, &order_id).await;
    let key = link.rsplit_once("?key=").unwrap().1.to_owned();
    assert!(key.len() >= 43, "256 bits: {link}");
    // The merchant can give it again to a shopper who lost the email.
    let admin = support::admin_page(&format!("{}/admin/orders/{order_id}", shop.base), "merchant-token-0123456789").await;
    assert!(admin.contains(&format!(r#"<a href="{link}" data-testid="admin-shopper-link">"#)), "{admin}");

    let phone = support::shopper();
    let page = phone.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(&order_id) && page.contains("data-status=\"paid\"") && page.contains("Jenny Rosen"), "{page}");
    let receipt = format!("/orders/{order_id}/receipt?key={key}");
    assert!(page.contains(&format!("href=\"{receipt}\"")), "the receipt link keeps the key: {page}");
    let followed = phone.get(format!("{}{receipt}", shop.base)).send().await.unwrap();
    assert_eq!(followed.status(), 200);
    assert!(followed.url().path().starts_with("/receipts/payment/"), "{}", followed.url());

    // The same order without its key, or with a key one letter off: not found.
    let mut wrong = key.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    for address in [
        format!("{}/orders/{order_id}", shop.base),
        format!("{}/orders/{order_id}?key={wrong}", shop.base),
        format!("{}/orders/{order_id}?key=", shop.base),
        format!("{}/orders/{order_id}/receipt?key={wrong}", shop.base),
    ] {
        let reply = phone.get(&address).send().await.unwrap();
        assert_eq!(reply.status(), 404, "{address}");
        assert!(reply.text().await.unwrap().contains("There is no order with this number for you."));
    }
    // Another order's key opens that order, not this one.
    let (_, other) = shop.pay(&shopper("en"), "ada@example.com").await;
    let other = emailed_link(&shop, other["order_id"].as_str().unwrap()).await;
    let other_key = other.rsplit_once("?key=").unwrap().1;
    assert_eq!(phone.get(&other).send().await.unwrap().status(), 200);
    assert_eq!(phone.get(format!("{}/orders/{order_id}?key={other_key}", shop.base)).send().await.unwrap().status(), 404);
}
