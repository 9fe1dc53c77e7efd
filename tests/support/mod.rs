//! What the integration tests share: a storefront on port 0 with a temporary database,
//! HTTP clients that time out instead of hanging, and calls to the Stripe emulator.
#![allow(dead_code)] // each test file uses a part of it

pub mod net;

use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use storefront::config::Config;
use storefront::server::Application;
use storefront::store::{AttemptStart, NewOrder, OrderLine, Store};

/// A configuration for tests: `Leptos.toml` with a temporary database, the
/// repository's catalog, port 0 for the storefront and its embedded emulator; `extra`
/// adds or overrides variables. Keep the returned directory alive with the server.
///
/// The database is a SQLite file, or with `TEST_DATABASE=postgres` a fresh schema in the
/// PostgreSQL named by `TEST_POSTGRES_URL` (`make test` runs these suites both ways).
pub fn config(extra: &[(&str, &str)]) -> (Config, String, tempfile::TempDir) {
    let root = env!("CARGO_MANIFEST_DIR");
    let db = tempfile::tempdir().unwrap();
    let db_url = match std::env::var("TEST_DATABASE").as_deref() {
        Ok("postgres") => postgres_schema(),
        Ok("sqlite") | Err(_) => format!("sqlite://{}", db.path().join("shop.db").display()),
        Ok(other) => panic!("TEST_DATABASE={other}: use sqlite or postgres"),
    };
    let mut vars: HashMap<String, String> = HashMap::from([
        ("LEPTOS_SITE_ADDR".into(), "127.0.0.1:0".into()),
        ("DATABASE_URL".into(), db_url.clone()),
        ("STORE_CATALOG_FILE".into(), format!("{root}/catalog.toml")),
        ("STRIPE_EMULATOR_ADDR".into(), "127.0.0.1:0".into()),
        // No build has written hash.txt beside a test binary: plain /pkg names.
        ("LEPTOS_HASH_FILES".into(), "false".into()),
        // Order emails (no SMTP server unless a test sets one) beside the database.
        ("MAIL_DIR".into(), db.path().join("mail").display().to_string()),
    ]);
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let file = std::fs::read_to_string(format!("{root}/Leptos.toml")).unwrap();
    let config = Config::from_sources(&file, &|key| vars.get(key).cloned()).unwrap();
    (config, db_url, db)
}

/// A storefront serving in the background: its base URL and, with no Stripe key, its
/// embedded emulator's.
pub struct Running {
    pub base: String,
    pub stripe: Option<String>,
}

pub async fn serve(config: Config) -> Running {
    let app = Application::build(config).await.unwrap();
    let base = format!("http://{}", app.addr());
    let stripe = app.emulator_url().map(str::to_owned);
    tokio::spawn(app.run_until_stopped());
    Running { base, stripe }
}

/// A storefront serving in the background with its embedded emulator, its database open
/// beside it and a shopper to browse it.
pub struct Shop {
    pub base: String,
    pub stripe: String,
    pub shopper: reqwest::Client,
    pub store: Store,
    pub db_url: String,
    _db: tempfile::TempDir,
}

impl Shop {
    /// A shop configured as [`config`] does, with `extra`.
    pub async fn start(extra: &[(&str, &str)]) -> Shop {
        let (config, db_url, db) = config(extra);
        let running = serve(config).await;
        let store = Store::connect(&db_url).await.unwrap();
        Shop { base: running.base, stripe: running.stripe.unwrap(), shopper: shopper(), store, db_url, _db: db }
    }

    /// The email a message of the outbox became, as written to `MAIL_DIR` (the shop's
    /// emails go there unless a test sets `SMTP_URL`).
    pub fn written_email(&self, order_id: &str, kind: &str) -> Option<String> {
        std::fs::read_to_string(self._db.path().join("mail").join(format!("{order_id}.{kind}.eml"))).ok()
    }
}

/// A client that keeps cookies (a shopper) and fails a test instead of hanging it.
pub fn shopper() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(30)).build().unwrap()
}

/// A client without cookies that fails a test instead of hanging it.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// A Stripe API call (form-encoded, key as bearer) to the emulator; its JSON reply.
pub async fn stripe_call(client: &reqwest::Client, method: reqwest::Method, url: String, key: &str, form: &[(&str, &str)]) -> Value {
    client.request(method, url).bearer_auth(key).form(form).send().await.unwrap().json().await.unwrap()
}

/// A ConfirmationToken for a test PaymentMethod such as `pm_card_visa` (the
/// emulator's test helper); its id.
pub async fn test_token(client: &reqwest::Client, emulator: &str, payment_method: &str) -> String {
    test_token_with(client, emulator, payment_method, &[]).await
}

/// A ConfirmationToken as Stripe.js makes it for a SEPA Direct Debit from `iban` (Jenny
/// Rosen's, as Stripe's examples name her): `DE89370400440532013000` clears once
/// processing ends, `DE62370400440532013001` fails then.
pub async fn sepa_token(client: &reqwest::Client, emulator: &str, iban: &str) -> String {
    let form = [
        ("payment_method_data[type]", "sepa_debit"),
        ("payment_method_data[sepa_debit][iban]", iban),
        ("payment_method_data[billing_details][name]", "Jenny Rosen"),
        ("payment_method_data[billing_details][email]", "jenny@example.com"),
    ];
    let url = format!("{emulator}/v1/confirmation_tokens");
    stripe_call(client, reqwest::Method::POST, url, "pk_test_tests", &form).await["id"].as_str().unwrap().to_owned()
}

/// [`test_token`] with more of the helper's parameters, such as the `shipping[…]` that
/// an Address Element would give.
pub async fn test_token_with(client: &reqwest::Client, emulator: &str, payment_method: &str, more: &[(&str, &str)]) -> String {
    let url = format!("{emulator}/v1/test_helpers/confirmation_tokens");
    let mut form = vec![("payment_method", payment_method)];
    form.extend_from_slice(more);
    let reply = stripe_call(client, reqwest::Method::POST, url, "sk_test_tests", &form).await;
    reply["id"].as_str().unwrap().to_owned()
}

/// A URL of the test PostgreSQL whose search path is a new, empty schema.
pub fn postgres_schema() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let url = std::env::var("TEST_POSTGRES_URL").expect("TEST_DATABASE=postgres needs TEST_POSTGRES_URL (scripts/with-postgres sets it)");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let schema = format!("it{}_{nanos}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let admin_url = url.clone();
    let create = format!("CREATE SCHEMA {schema}");
    // Callers may be inside a runtime: create the schema on a thread of its own.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
            sqlx::any::install_default_drivers();
            let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url).await.unwrap();
            sqlx::Executor::execute(&mut admin, create.as_str()).await.unwrap();
        })
    })
    .join()
    .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

/// `TEST_POSTGRES_URL`, when set.
pub fn postgres_url() -> Option<String> {
    std::env::var("TEST_POSTGRES_URL").ok().filter(|url| !url.is_empty())
}

/// Asks `probe` again every 50 ms until its answer satisfies `done` (at most `attempts`
/// times); the last answer. Waits for a condition, never for a fixed time.
pub async fn poll_until<T, F>(attempts: u32, mut probe: impl FnMut() -> F, done: impl Fn(&T) -> bool) -> T
where
    F: std::future::Future<Output = T>,
{
    let mut answer = probe().await;
    for _ in 1..attempts {
        if done(&answer) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        answer = probe().await;
    }
    answer
}

/// The merchant's page at `url` (HTTP Basic with `admin_token`), as text.
pub async fn admin_page(url: &str, admin_token: &str) -> String {
    client().get(url).basic_auth("merchant", Some(admin_token)).send().await.unwrap().text().await.unwrap()
}

/// The nonce (`request`) that the form posting to `action` carries on a merchant's `page`
/// (one per rendering of the page).
pub fn form_nonce(page: &str, action: &str) -> String {
    let form = &page[page.find(&format!("action=\"{action}\"")).unwrap_or_else(|| panic!("a form to {action}"))..];
    let start = form.find("name=\"request\" value=\"").expect("its nonce") + "name=\"request\" value=\"".len();
    form[start..].split('"').next().unwrap().to_owned()
}

/// Posts a merchant's form to `url` (HTTP Basic with `admin_token`), as the browser
/// would; the redirect's `Location`, where the page says what happened.
pub async fn admin_post(url: String, admin_token: &str, form: &[(&str, &str)]) -> String {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let reply = client.post(url).basic_auth("merchant", Some(admin_token)).form(form).send().await.unwrap();
    assert_eq!(reply.status(), 303, "{:?}", reply.text().await);
    reply.headers()["location"].to_str().unwrap().to_owned()
}

/// Posts a hand-made event to the storefront's `/webhook`, signed with `secret` by the
/// emulator's (independent) signer, as Stripe would send it; the reply's status.
pub async fn deliver_signed(base: &str, secret: &str, event: &Value) -> u16 {
    let payload = serde_json::to_vec(event).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let signature = stripe_emulator::webhooks::signature_header(secret, now, &payload);
    let response = client()
        .post(format!("{base}/webhook"))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(payload)
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

/// Waits until the storefront has answered 200 to the emulator's delivery of every
/// event of `kind` sent so far (there must be one).
pub async fn wait_delivered(emulator: &str, kind: &str) {
    let events =
        stripe_call(&client(), reqwest::Method::GET, format!("{emulator}/v1/events?type={kind}&limit=100"), "sk_test_wait", &[]).await;
    let events = events["data"].as_array().unwrap().clone();
    assert!(!events.is_empty(), "no {kind} event");
    for event in events {
        let url = format!("{emulator}/_emulator/deliveries?event_id={}", event["id"].as_str().unwrap());
        let answered = poll_until(
            200,
            || async {
                let deliveries: Value = client().get(&url).send().await.unwrap().json().await.unwrap();
                deliveries["data"].as_array().unwrap().iter().any(|d| d["status"] == "succeeded")
            },
            |done| *done,
        )
        .await;
        assert!(answered, "the {kind} webhook was not answered 200");
    }
}

/// Waits until the storefront has answered 200 to every webhook the emulator has sent
/// so far; the deliveries, each with its attempts.
pub async fn wait_all_delivered(emulator: &str) -> Vec<Value> {
    let url = format!("{emulator}/_emulator/deliveries");
    let deliveries = poll_until(
        200,
        || async {
            let deliveries: Value = client().get(&url).send().await.unwrap().json().await.unwrap();
            deliveries["data"].as_array().unwrap().clone()
        },
        |deliveries: &Vec<Value>| deliveries.iter().all(|d| d["status"] == "succeeded"),
    )
    .await;
    assert!(deliveries.iter().all(|d| d["status"] == "succeeded"), "a webhook was not answered 200: {deliveries:?}");
    deliveries
}

/// Waits until every fault rule set on the emulator has been used: the requests they
/// slow down or fail have reached it. False if one never was.
pub async fn faults_used(emulator: &str) -> bool {
    let url = format!("{emulator}/_emulator/faults");
    poll_until(
        100,
        || async {
            let rules: Value = client().get(&url).send().await.unwrap().json().await.unwrap();
            rules["data"].as_array().is_some_and(Vec::is_empty)
        },
        |used| *used,
    )
    .await
}

/// From now on the storefront misses Stripe's webhooks (as when its endpoint is
/// misconfigured): every one sent so far answered, the emulator's endpoints are removed.
pub async fn miss_webhooks_from_now_on(emulator: &str) {
    wait_all_delivered(emulator).await;
    let cleared = client().delete(format!("{emulator}/_emulator/webhook_endpoints")).send().await.unwrap();
    assert!(cleared.status().is_success(), "{}", cleared.status());
}

/// Posts a form with `client` (a shopper's cookies) and reads the JSON reply.
pub async fn post_form(client: &reqwest::Client, url: String, form: &[(&str, &str)]) -> Value {
    client.post(url).form(form).send().await.unwrap().json().await.unwrap()
}

/// Every log line the process writes, kept for inspection: install it as the global
/// subscriber (`logs`), once per test binary.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// The process's log at `filter` from now on, without colours.
    pub fn logs(filter: &str) -> Captured {
        let logs = Captured::default();
        let writer = logs.clone();
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(move || writer.clone()).with_ansi(false).init();
        logs
    }

    /// What was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Places one order of one `product` (18.00 EUR) for each `(order id, unix time)`
/// straight in the store, as checkout does before it calls Stripe (a session, its cart,
/// the order with its first attempt): for tests that need many orders fast. The
/// product gets a million in stock unless the store already knows it.
pub async fn place_orders(store: &Store, product: &str, orders: impl IntoIterator<Item = (String, i64)>) {
    store.seed_inventory([(product, 1_000_000)]).await.unwrap();
    for (id, at) in orders {
        let session = format!("session-{id}");
        store.create_session(&session, at).await.unwrap();
        store.add_to_cart(&session, product, 1, 99, at).await.unwrap();
        let order = NewOrder {
            id: id.clone(),
            amount: 1800,
            discount_amount: 0,
            discount_code: None,
            currency: "eur".into(),
            lines: vec![OrderLine { product_id: product.into(), name: product.into(), unit_amount: 1800, quantity: 1 }],
            email: None,
            locale: "en".into(),
        };
        let started = store.start_attempt(&session, &order, &format!("ctoken_{id}"), None, at, |_| None).await.unwrap();
        assert!(matches!(started, AttemptStart::New(_)), "{started:?}");
    }
}

/// Folded header lines joined, quoted-printable soft line breaks and `=XX` escapes
/// undone: enough to read a message.
pub fn readable(message: &str) -> String {
    let joined = message.replace("\r\n ", " ").replace("\n ", " ").replace("=\r\n", "").replace("=\n", "");
    let mut out = Vec::new();
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
