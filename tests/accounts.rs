//! Accounts and saved payment methods over HTTP, as a browser (or an attacker) calls
//! the server functions: sign-up and sign-in rotate the session, the guest cart comes
//! along, failures are rate-limited, and no shopper can see, use or remove another's
//! payment methods, whatever ids they put in a request.

use reqwest::Method;
use serde_json::{Value, json};
mod support;

const PASSWORD: &str = "correct horse battery staple";

struct Shop {
    base: String,
    stripe: String,
    http: reqwest::Client,
    /// The shop's database, for a test that plays an earlier release's rows.
    db_url: String,
    _db: tempfile::TempDir,
}

/// A browser: a session cookie and a device cookie, each replaced whenever the server
/// sets a new one (the device cookie is sent to the sign-in endpoint only, as its
/// `Path` says).
#[derive(Default, Clone)]
struct Browser {
    cookie: Option<String>,
    device: Option<String>,
    /// The client address a trusted proxy would say (`X-Forwarded-For`).
    forwarded_for: Option<String>,
}

async fn shop_with(extra: &[(&str, &str)]) -> Shop {
    let (config, db_url, db) = support::config(extra);
    let running = support::serve(config).await;
    Shop { base: running.base, stripe: running.stripe.unwrap(), http: support::client(), db_url, _db: db }
}

/// Where a shopper ships to, as the Address Element gives it.
struct Address {
    name: &'static str,
    phone: &'static str,
    line1: &'static str,
    city: &'static str,
    postal_code: &'static str,
    country: &'static str,
}

impl Address {
    /// The ConfirmationToken's `shipping[…]` fields.
    fn form(&self) -> [(&'static str, &'static str); 6] {
        [
            ("shipping[name]", self.name),
            ("shipping[phone]", self.phone),
            ("shipping[address][line1]", self.line1),
            ("shipping[address][city]", self.city),
            ("shipping[address][postal_code]", self.postal_code),
            ("shipping[address][country]", self.country),
        ]
    }

    /// What the next checkout fills in: the name and the address, not the phone (the
    /// form does not ask for it).
    fn filled_in(&self) -> Value {
        let address = json!({ "line1": self.line1, "city": self.city, "postal_code": self.postal_code, "country": self.country });
        json!({ "name": self.name, "address": address })
    }
}

impl Shop {
    /// `browser` pays for its cart, shipped to `address`, puts a mug in its cart again
    /// and opens the checkout: the Address Element's `defaultValues` there.
    async fn pay_shipped_to_then_check_out(&self, browser: &mut Browser, address: &Address) -> Value {
        let token = support::test_token_with(&self.http, &self.stripe, "pm_card_visa", &address.form()).await;
        self.ok(browser, "checkout/confirm", &[("confirmation_token", &token)]).await;
        self.ok(browser, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
        let view = self.ok(browser, "checkout/view", &[]).await;
        serde_json::from_str(view["shipping_defaults"].as_str().unwrap()).unwrap()
    }

    /// Jenny, signed up as jenny@example.com, with a mug in her cart.
    async fn jenny_with_a_mug(&self) -> Browser {
        let mut jenny = Browser::default();
        self.sign_up(&mut jenny, "jenny@example.com").await;
        self.ok(&mut jenny, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
        jenny
    }

    /// Jenny, who paid for her mug with a Visa she kept (her account's first Customer).
    async fn jenny_who_saved_a_card(&self) -> Browser {
        let mut jenny = self.jenny_with_a_mug().await;
        let token = self.saving_card_token("4242424242424242").await;
        self.ok(&mut jenny, "checkout/confirm", &[("confirmation_token", &token)]).await;
        jenny
    }

    async fn call(&self, browser: &mut Browser, endpoint: &str, form: &[(&str, &str)]) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut request = self.http.post(format!("{}/api/{endpoint}", self.base)).form(form);
        let device = browser.device.as_ref().filter(|_| endpoint == "account/sign-in").map(|device| format!("sf_device={device}"));
        let cookies: Vec<_> = browser.cookie.iter().map(|cookie| format!("sf_session={cookie}")).chain(device).collect();
        if !cookies.is_empty() {
            request = request.header("cookie", cookies.join("; "));
        }
        if let Some(address) = &browser.forwarded_for {
            request = request.header("x-forwarded-for", address);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        for value in headers.get_all("set-cookie") {
            let (name, value) = value.to_str().unwrap().split(';').next().unwrap().split_once('=').unwrap();
            let value = (!value.is_empty()).then(|| value.to_owned());
            match name {
                "sf_session" => browser.cookie = value,
                "sf_device" => browser.device = value,
                // The account page's, for its plain forms (tested on its own below).
                "sf_typed_email" => {}
                other => panic!("an unknown cookie: {other}"),
            }
        }
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)), headers)
    }

    async fn ok(&self, browser: &mut Browser, endpoint: &str, form: &[(&str, &str)]) -> Value {
        let (status, body, _) = self.call(browser, endpoint, form).await;
        assert_eq!(status, 200, "{endpoint}: {body}");
        body
    }

    async fn sign_up(&self, browser: &mut Browser, email: &str) {
        self.ok(browser, "account/sign-up", &[("email", email), ("password", PASSWORD)]).await;
    }

    /// A page as the browser's session sees it.
    async fn page(&self, browser: &Browser, path: &str) -> String {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = &browser.cookie {
            request = request.header("cookie", format!("sf_session={cookie}"));
        }
        request.send().await.unwrap().text().await.unwrap()
    }

    async fn cart_count(&self, browser: &mut Browser) -> u64 {
        self.ok(browser, "cart/get", &[]).await["item_count"].as_u64().unwrap()
    }

    async fn stripe(&self, method: Method, path: &str, key: &str, form: &[(&str, &str)]) -> Value {
        support::stripe_call(&self.http, method, format!("{}{path}", self.stripe), key, form).await
    }

    /// A ConfirmationToken as Stripe.js makes it for a new card, ticking "save".
    async fn saving_card_token(&self, number: &str) -> String {
        let form = [
            ("payment_method_data[type]", "card"),
            ("payment_method_data[card][number]", number),
            ("payment_method_data[card][exp_month]", "12"),
            ("payment_method_data[card][exp_year]", "2040"),
            ("payment_method_data[allow_redisplay]", "always"),
            ("setup_future_usage", "off_session"),
        ];
        self.stripe(Method::POST, "/v1/confirmation_tokens", "pk_test_tests", &form).await["id"].as_str().unwrap().to_owned()
    }

    async fn intent(&self, id: &str) -> Value {
        self.stripe(Method::GET, &format!("/v1/payment_intents/{id}"), "sk_test_tests", &[]).await
    }

    /// Deletes Jenny's Customer at Stripe (her one that is not deleted yet); its id.
    async fn delete_jennys_customer(&self) -> String {
        let found = self.stripe(Method::GET, "/v1/customers?email=jenny@example.com", "sk_test_tests", &[]).await;
        let found = found["data"].as_array().unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        let id = found[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(self.stripe(Method::DELETE, &format!("/v1/customers/{id}"), "sk_test_tests", &[]).await["deleted"], true);
        id
    }

    async fn fault(&self, rule: Value) {
        let response = self.http.post(format!("{}/_emulator/faults", self.stripe)).json(&rule).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_up_rotates_the_session_and_brings_the_guest_cart() {
    let shop = shop_with(&[]).await;
    let mut browser = Browser::default();
    shop.ok(&mut browser, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "2")]).await;
    let guest_cookie = browser.cookie.clone().unwrap();

    shop.sign_up(&mut browser, "Jenny.Rosen@example.com").await;
    let signed_in_cookie = browser.cookie.clone().unwrap();
    assert_ne!(guest_cookie, signed_in_cookie, "signing in must issue a new session token");
    assert_eq!(shop.cart_count(&mut browser).await, 2, "the guest cart carries over");
    let account = shop.ok(&mut browser, "account/summary", &[]).await;
    assert_eq!(account["email"], "Jenny.Rosen@example.com");

    // The guest token is worth nothing now: it neither sees the cart nor the account.
    let mut old = Browser { cookie: Some(guest_cookie), ..Browser::default() };
    assert_eq!(shop.ok(&mut old, "account/summary", &[]).await, Value::Null);
    assert_eq!(shop.cart_count(&mut old).await, 0);

    // Signing out ends the session for good, even for someone who kept the cookie.
    shop.ok(&mut browser, "account/sign-out", &[]).await;
    assert_eq!(browser.cookie, None, "the cookie is cleared");
    let mut kept = Browser { cookie: Some(signed_in_cookie), ..Browser::default() };
    assert_eq!(shop.ok(&mut kept, "account/summary", &[]).await, Value::Null);

    // Signing in again (email in another case) finds the account.
    let mut again = Browser::default();
    shop.ok(&mut again, "account/sign-in", &[("email", "jenny.rosen@EXAMPLE.com"), ("password", PASSWORD)]).await;
    assert_eq!(shop.ok(&mut again, "account/summary", &[]).await["email"], "Jenny.Rosen@example.com");
}

/// Back from a card setup's redirect, the page says what Stripe says became of the
/// SetupIntent it names, once; not what `redirect_status` claims, which anyone can type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notice_of_a_card_set_up_through_a_redirect_is_stripes_and_shows_once() {
    let shop = shop_with(&[]).await;
    let mut jenny = shop.jenny_with_a_mug().await;
    let setup = |seti: &str| format!("/account?setup_intent={seti}&setup_intent_client_secret={seti}_secret_x&redirect_status=succeeded");
    // A SetupIntent of Jenny's, saved.
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_visa").await;
    let saved = shop.ok(&mut jenny, "account/confirm-setup", &[("confirmation_token", &token)]).await;
    let saved = saved["client_secret"].as_str().unwrap().split("_secret_").next().unwrap().to_owned();
    let back = shop.page(&jenny, &setup(&saved)).await;
    assert!(back.contains("Your card was saved."), "{back}");
    // The page has the browser show its plain address, so a reload says it no more.
    assert!(back.contains(r#"history.replaceState(history.state, '', "/account");"#), "{back}");
    let plain = shop.page(&jenny, "/account").await;
    assert!(!plain.contains("Your card was saved.") && !plain.contains("replaceState"), "{plain}");

    // One whose bank's challenge failed: not saved, whatever the address says.
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_threeDSecureRequired").await;
    let waiting = shop.ok(&mut jenny, "account/confirm-setup", &[("confirmation_token", &token)]).await;
    let client_secret = waiting["client_secret"].as_str().unwrap();
    let failed = client_secret.split("_secret_").next().unwrap().to_owned();
    let challenge = shop
        .http
        .post(format!("{}/_emulator/3ds/{failed}", shop.stripe))
        .json(&json!({ "client_secret": client_secret, "result": "fail" }))
        .send()
        .await
        .unwrap();
    assert!(challenge.status().is_success(), "{}", challenge.text().await.unwrap());
    let back = shop.page(&jenny, &setup(&failed)).await;
    assert!(back.contains("Your card could not be saved.") && !back.contains("Your card was saved."), "{back}");

    // A made-up SetupIntent, and another account's: nothing said.
    let mut ada = Browser::default();
    shop.sign_up(&mut ada, "ada@example.com").await;
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_mastercard").await;
    shop.ok(&mut ada, "account/confirm-setup", &[("confirmation_token", &token)]).await;
    for (who, seti) in [(&jenny, "seti_madeup123"), (&ada, saved.as_str())] {
        let page = shop.page(who, &setup(seti)).await;
        assert!(!page.contains("Your card was saved.") && !page.contains("could not be saved"), "{seti}: {page}");
    }
}

/// A returning shopper's checkout fills the Address Element in with where their latest
/// order shipped (its `defaultValues`): name and address, not the phone; nobody else's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_shopper_finds_where_their_last_order_shipped_filled_in() {
    let shop = shop_with(&[]).await;
    let mut jenny = shop.jenny_with_a_mug().await;
    let view = shop.ok(&mut jenny, "checkout/view", &[]).await;
    assert!(view.get("shipping_defaults").is_none(), "nothing shipped yet: {view}");
    let paris = Address {
        name: "Jenny Rosen",
        phone: "+33 1 23 45 67 89",
        line1: "1 Rue de Rivoli",
        city: "Paris",
        postal_code: "75001",
        country: "FR",
    };
    assert_eq!(shop.pay_shipped_to_then_check_out(&mut jenny, &paris).await, paris.filled_in());

    // Another account, and a guest: nothing of Jenny's.
    let mut ada = Browser::default();
    shop.sign_up(&mut ada, "ada@example.com").await;
    let mut guest = Browser::default();
    for browser in [&mut ada, &mut guest] {
        let view = shop.ok(browser, "checkout/view", &[]).await;
        assert!(view.get("shipping_defaults").is_none(), "{view}");
    }
}

/// A guest's next checkout in the same session finds where they last shipped to filled
/// in, as their email is: name and address, not the phone; no other session's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_finds_where_their_session_last_shipped_to_filled_in() {
    let shop = shop_with(&[]).await;
    let mut guest = Browser::default();
    shop.ok(&mut guest, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let view = shop.ok(&mut guest, "checkout/view", &[]).await;
    assert!(view.get("shipping_defaults").is_none(), "nothing shipped yet: {view}");
    let london = Address {
        name: "Ada Lovelace",
        phone: "+44 20 7946 0000",
        line1: "12 St James's Square",
        city: "London",
        postal_code: "SW1Y 4JH",
        country: "GB",
    };
    assert_eq!(shop.pay_shipped_to_then_check_out(&mut guest, &london).await, london.filled_in());

    let mut other = Browser::default();
    shop.ok(&mut other, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let view = shop.ok(&mut other, "checkout/view", &[]).await;
    assert!(view.get("shipping_defaults").is_none(), "another session's address: {view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_refuses_bad_input_and_a_taken_email() {
    let shop = shop_with(&[]).await;
    let mut browser = Browser::default();
    for (email, password, says) in [
        ("not-an-email", PASSWORD, "email address"),
        // An address Stripe would refuse as the account's Customer's `email`.
        ("jenny@example..com", PASSWORD, "email address"),
        ("jenny@example.com", "short", "at least 8"),
        ("jenny@example.com", &"x".repeat(129), "at most 128"),
    ] {
        let (status, body, _) = shop.call(&mut browser, "account/sign-up", &[("email", email), ("password", password)]).await;
        assert_eq!(status, 400);
        assert!(body.to_string().contains(says), "{body}");
    }
    assert_eq!(browser.cookie, None, "nothing was started");
    shop.sign_up(&mut browser, "jenny@example.com").await;
    let (status, body, _) =
        shop.call(&mut Browser::default(), "account/sign-up", &[("email", "JENNY@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("already exists"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_get_one_answer_and_repeated_failures_are_refused() {
    let shop = shop_with(&[]).await;
    shop.sign_up(&mut Browser::default(), "jenny@example.com").await;
    let mut attacker = Browser::default();
    let (status, unknown, _) =
        shop.call(&mut attacker, "account/sign-in", &[("email", "nobody@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(status, 400);
    let (status, wrong, _) =
        shop.call(&mut attacker, "account/sign-in", &[("email", "jenny@example.com"), ("password", "guess-1234")]).await;
    assert_eq!(status, 400);
    assert_eq!(unknown, wrong, "an unknown email and a wrong password must look the same");

    for attempt in 2..=5 {
        let password = format!("guess-{attempt}-xyz");
        let (status, _, _) = shop.call(&mut attacker, "account/sign-in", &[("email", "jenny@example.com"), ("password", &password)]).await;
        assert_eq!(status, 400, "attempt {attempt}");
    }
    // Five failures on the account: refused for a while, even with the right password.
    let (status, body, headers) =
        shop.call(&mut attacker, "account/sign-in", &[("email", "jenny@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(status, 429, "{body}");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(body["RateLimited"]["retry_after_secs"], retry_after, "{body}");
    assert_eq!(attacker.cookie, None, "no session was granted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_sent_together_get_no_more_tries_than_guesses_sent_one_by_one() {
    let shop = shop_with(&[]).await;
    shop.sign_up(&mut Browser::default(), "jenny@example.com").await;
    // Thirty guesses at once, each from a fresh browser: were the failures counted only
    // once each password was checked, all thirty would be checked.
    let shop = &shop;
    let guesses = (0..30).map(|n| async move {
        let password = format!("guess-{n}-xyz");
        let (status, body, _) =
            shop.call(&mut Browser::default(), "account/sign-in", &[("email", "jenny@example.com"), ("password", &password)]).await;
        (status, body)
    });
    let answers = futures_util::future::join_all(guesses).await;
    let checked = answers.iter().filter(|(status, _)| *status == 400).count();
    let refused = answers.iter().filter(|(status, _)| *status == 429).count();
    assert_eq!((checked, refused), (5, 25), "{answers:?}");
    let (status, _, _) =
        shop.call(&mut Browser::default(), "account/sign-in", &[("email", "jenny@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(status, 429, "the account is locked for a while, even to the right password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_passwords_are_not_counted_as_failures() {
    let shop = shop_with(&[]).await;
    shop.sign_up(&mut Browser::default(), "jenny@example.com").await;
    // More sign-ins from one address than the failures it is allowed, with one wrong
    // password among them, which the next right one forgets for the account.
    for n in 0..24 {
        let password = if n == 10 { "wrong-password" } else { PASSWORD };
        let (status, body, _) =
            shop.call(&mut Browser::default(), "account/sign-in", &[("email", "jenny@example.com"), ("password", password)]).await;
        assert_eq!(status, if n == 10 { 400 } else { 200 }, "sign-in {n}: {body}");
    }
}

/// The `value` of the input with id `id` on `page`, if it has one.
fn input_value(page: &str, id: &str) -> Option<String> {
    let tag = &page[page.find(&format!(r#"<input id="{id}""#))?..];
    let tag = &tag[..tag.find('>')?];
    let value = &tag[tag.find(r#"value=""#)? + 7..];
    Some(value[..value.find('"')?].to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sign_in_or_sign_up_form_comes_back_with_the_email_as_typed() {
    let shop = shop_with(&[]).await;
    shop.sign_up(&mut Browser::default(), "jenny@example.com").await;
    // A browser posting the plain forms, as without JavaScript (the page has none there).
    let browser = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let refusals = [
        ("account/sign-in", "Jenny@Example.com", "wrong-password", "sign-in-email"),
        ("account/sign-up", "jenny.rosen+shop@example.com", "short", "sign-up-email"),
    ];
    for (endpoint, email, password, field) in refusals {
        let reply = browser
            .post(format!("{}/api/{endpoint}", shop.base))
            .header("accept", "text/html")
            .header("referer", format!("{}/account", shop.base))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 302, "{endpoint}");
        let location = reply.headers()["location"].to_str().unwrap().to_owned();
        assert!(!location.contains("example"), "the email stays out of the address: {location}");
        let page = browser.get(&location).send().await.unwrap().text().await.unwrap();
        assert!(page.contains(r#"role="alert""#), "{endpoint}: the refusal is shown");
        assert_eq!(input_value(&page, field).as_deref(), Some(email), "{endpoint}: {page}");
        // Shown once: the page told the browser to forget it.
        let again = browser.get(format!("{}/account", shop.base)).send().await.unwrap().text().await.unwrap();
        assert_eq!(input_value(&again, field).as_deref().filter(|value| !value.is_empty()), None, "{endpoint}");
    }
}

/// Signs in with `password`: the reply's status.
async fn sign_in_status(shop: &Shop, browser: &mut Browser, email: &str, password: &str) -> u16 {
    shop.call(browser, "account/sign-in", &[("email", email), ("password", password)]).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_guesses_do_not_lock_the_shopper_out_of_their_own_browser() {
    let shop = shop_with(&[]).await;
    let mut jenny = Browser::default();
    shop.sign_up(&mut jenny, "jenny@example.com").await;
    assert!(jenny.device.is_some(), "signing up vouches for the browser");
    shop.ok(&mut jenny, "account/sign-out", &[]).await;
    // A stranger spends the account's five failures: the account is locked to strangers,
    for n in 0..5 {
        assert_eq!(sign_in_status(&shop, &mut Browser::default(), "jenny@example.com", &format!("guess-{n}-xyz")).await, 400);
    }
    assert_eq!(sign_in_status(&shop, &mut Browser::default(), "jenny@example.com", PASSWORD).await, 429);
    // not to Jenny on the browser she signed up on.
    assert_eq!(sign_in_status(&shop, &mut jenny, "jenny@example.com", PASSWORD).await, 200);
    assert!(shop.page(&jenny, "/account").await.contains("jenny@example.com"), "signed in");
    // Her sign-in leaves the stranger's failures counted: no fresh guesses for them.
    assert_eq!(sign_in_status(&shop, &mut Browser::default(), "jenny@example.com", PASSWORD).await, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_browser_has_five_failures_of_its_own_and_vouches_for_its_account_only() {
    let shop = shop_with(&[]).await;
    let mut jenny = Browser::default();
    shop.sign_up(&mut jenny, "jenny@example.com").await;
    shop.sign_up(&mut Browser::default(), "john@example.com").await;
    shop.ok(&mut jenny, "account/sign-out", &[]).await;
    // Jenny's device cookie, copied onto another browser, does not vouch for John's
    // account: failures there are the account's, as anyone's.
    let mut thief = Browser { device: jenny.device.clone(), ..Browser::default() };
    for n in 0..5 {
        assert_eq!(sign_in_status(&shop, &mut thief, "john@example.com", &format!("guess-{n}-xyz")).await, 400);
    }
    assert_eq!(sign_in_status(&shop, &mut Browser::default(), "john@example.com", PASSWORD).await, 429, "John's account is locked");
    // Nor does a cookie the shop did not make, even one with Jenny's nonce.
    let (nonce, mac) = jenny.device.as_deref().unwrap().split_once('.').unwrap();
    let forged = format!("{nonce}.{}", mac.chars().rev().collect::<String>());
    let mut forger = Browser { device: Some(forged), ..Browser::default() };
    for n in 0..5 {
        assert_eq!(sign_in_status(&shop, &mut forger, "jenny@example.com", &format!("forged-{n}-xyz")).await, 400);
    }
    assert_eq!(sign_in_status(&shop, &mut forger, "jenny@example.com", PASSWORD).await, 429, "counted on the account");
    // Jenny's own browser has five failures of its own, then waits as anyone would.
    for n in 0..5 {
        assert_eq!(sign_in_status(&shop, &mut jenny, "jenny@example.com", &format!("typo-{n}-xyz")).await, 400);
    }
    let (status, _, headers) = shop.call(&mut jenny, "account/sign-in", &[("email", "jenny@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(status, 429, "the browser's own failures are limited");
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_failures_from_one_address_are_refused_across_accounts() {
    let shop = shop_with(&[]).await;
    let mut attacker = Browser::default();
    // 20 failures spread over many accounts (never 5 on one) from one address.
    for n in 0..20 {
        let email = format!("victim{}@example.com", n % 5);
        let (status, _, _) = shop.call(&mut attacker, "account/sign-in", &[("email", &email), ("password", "wrong-password")]).await;
        assert_eq!(status, 400, "failure {n}");
    }
    let (status, _, headers) =
        shop.call(&mut attacker, "account/sign-in", &[("email", "victim9@example.com"), ("password", "x-wrong-x")]).await;
    assert_eq!(status, 429);
    assert!(headers.contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_from_one_ipv6_network_count_as_one_address() {
    let shop = shop_with(&[("TRUST_X_FORWARDED_FOR", "true")]).await;
    let from = |address: String| Browser { forwarded_for: Some(address), ..Browser::default() };
    // 20 failures, each from another address of one /64 (what one subscriber is given).
    for n in 0..20 {
        let email = format!("victim{}@example.com", n % 5);
        let (status, _, _) = shop
            .call(&mut from(format!("2001:db8:5:6::{:x}", n + 1)), "account/sign-in", &[("email", &email), ("password", "wrong-password")])
            .await;
        assert_eq!(status, 400, "failure {n}");
    }
    let (status, _, _) = shop
        .call(&mut from("2001:db8:5:6:ffff::1".into()), "account/sign-in", &[("email", "victim9@example.com"), ("password", "x-wrong-x")])
        .await;
    assert_eq!(status, 429, "a fresh address of the same network");
    let (status, _, _) = shop
        .call(&mut from("2001:db8:5:7::1".into()), "account/sign-in", &[("email", "victim9@example.com"), ("password", "x-wrong-x")])
        .await;
    assert_eq!(status, 400, "another network");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_reloading_the_checkout_cannot_spend_the_shops_stripe_rate_limit() {
    let shop = shop_with(&[]).await;
    let mut jenny = shop.jenny_who_saved_a_card().await;
    shop.ok(&mut jenny, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    // Each checkout view asks Stripe for a CustomerSession and the saved cards: sixty
    // in ten minutes do.
    for view in 0..60 {
        let page = shop.ok(&mut jenny, "checkout/view", &[]).await;
        assert!(page["customer_session_client_secret"].is_string(), "view {view}: {page}");
    }
    // Then the checkout goes on without saved cards.
    let page = shop.ok(&mut jenny, "checkout/view", &[]).await;
    assert!(page.get("customer_session_client_secret").is_none_or(Value::is_null), "{page}");
    assert_eq!(page["cart"]["item_count"], 1, "the checkout itself is shown: {page}");
    let (status, body, headers) = shop.call(&mut jenny, "account/payment-methods", &[]).await;
    assert_eq!(status, 429, "{body}");
    assert!(headers.contains_key("retry-after"));
    // Another shopper is not held back.
    let mut joe = Browser::default();
    shop.sign_up(&mut joe, "joe@example.com").await;
    shop.ok(&mut joe, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let token = shop.saving_card_token("4242424242424242").await;
    shop.ok(&mut joe, "checkout/confirm", &[("confirmation_token", &token)]).await;
    shop.ok(&mut joe, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    assert!(shop.ok(&mut joe, "checkout/view", &[]).await["customer_session_client_secret"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_payment_carries_the_customer_and_saves_the_card_for_that_account_only() {
    let shop = shop_with(&[]).await;
    let mut jenny = shop.jenny_with_a_mug().await;

    // Checkout for a signed-in shopper: a CustomerSession for the Payment Element.
    let view = shop.ok(&mut jenny, "checkout/view", &[]).await;
    let secret = view["customer_session_client_secret"].as_str().unwrap();
    assert!(secret.starts_with("cuss_secret_"), "{secret}");
    // The save box says how a card is kept (payment_method_save_usage): Elements gets no
    // setupFutureUsage, which Stripe refuses beside it.
    assert_eq!(view["setup_future_usage"], Value::Null);
    let session =
        shop.stripe(Method::GET, &format!("/v1/elements/sessions?customer_session_client_secret={secret}"), "pk_test_tests", &[]).await;
    assert_eq!(session["features"]["payment_method_save_usage"], "off_session", "{session}");

    // A forged customer in the request is ignored: the intent is for Jenny's Customer.
    let token = shop.saving_card_token("4242424242424242").await;
    let reply = shop.ok(&mut jenny, "checkout/confirm", &[("confirmation_token", &token), ("customer", "cus_forged")]).await;
    let intent = shop.intent(reply["payment_intent"].as_str().unwrap()).await;
    let customer = intent["customer"].as_str().unwrap().to_owned();
    assert!(customer.starts_with("cus_"));
    assert_eq!(intent["setup_future_usage"], "off_session");
    // Made in the language Jenny shops in: Stripe's receipts and invoices for her are too.
    let at_stripe = shop.stripe(Method::GET, &format!("/v1/customers/{customer}"), "sk_test_tests", &[]).await;
    assert_eq!(at_stripe["preferred_locales"], json!(["en"]), "{at_stripe}");

    let saved = shop.ok(&mut jenny, "account/payment-methods", &[]).await;
    assert_eq!(saved.as_array().unwrap().len(), 1, "{saved}");
    assert_eq!(saved[0]["last4"], "4242");
    assert_eq!(saved[0]["brand"], "visa");
    let jenny_card = saved[0]["id"].as_str().unwrap().to_owned();
    // Her order is listed on her account, with the day it was placed.
    let summary = shop.ok(&mut jenny, "account/summary", &[]).await;
    assert_eq!(summary["orders"][0]["id"], reply["order_id"]);
    let placed_at = summary["orders"][0]["placed_at"].as_i64().expect("when it was placed");
    let page = shop.page(&jenny, "/account").await;
    let day = storefront::i18n::Locale::En.date(placed_at);
    let row = format!(r#"<li data-testid="account-order-{}"><span class="placed">{day}</span>"#, reply["order_id"].as_str().unwrap());
    assert!(page.contains(&row), "{row} in {page}");

    // Next time, checkout shows the saved card (the CustomerSession is for her Customer).
    shop.ok(&mut jenny, "cart/add", &[("product_id", "linen-tote"), ("quantity", "1")]).await;
    let view = shop.ok(&mut jenny, "checkout/view", &[]).await;
    assert_eq!(view["saved_methods"][0]["id"], jenny_card);
    let secret = view["customer_session_client_secret"].as_str().unwrap();
    let session =
        shop.stripe(Method::GET, &format!("/v1/elements/sessions?customer_session_client_secret={secret}"), "pk_test_tests", &[]).await;
    assert_eq!(session["saved_payment_methods"][0]["id"], jenny_card, "{session}");

    // Another account sees none of it, and cannot remove or use Jenny's card.
    let mut mallory = Browser::default();
    shop.sign_up(&mut mallory, "mallory@example.com").await;
    assert_eq!(shop.ok(&mut mallory, "account/payment-methods", &[]).await, json!([]));
    assert_eq!(shop.ok(&mut mallory, "account/summary", &[]).await["orders"], json!([]));
    let (status, _, _) = shop.call(&mut mallory, "account/remove-payment-method", &[("payment_method", &jenny_card)]).await;
    assert_eq!(status, 404);
    let (status, _, _) = shop.call(&mut mallory, "orders/get", &[("id", reply["order_id"].as_str().unwrap())]).await;
    assert_eq!(status, 404, "another account's order");
    assert_eq!(shop.ok(&mut jenny, "account/payment-methods", &[]).await.as_array().unwrap().len(), 1);

    // Jenny removes her card: it is detached from her Customer.
    shop.ok(&mut jenny, "account/remove-payment-method", &[("payment_method", &jenny_card)]).await;
    assert_eq!(shop.ok(&mut jenny, "account/payment-methods", &[]).await, json!([]));
    let method = shop.stripe(Method::GET, &format!("/v1/payment_methods/{jenny_card}"), "sk_test_tests", &[]).await;
    assert_eq!(method["customer"], Value::Null);
    let _ = customer;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_deleted_at_stripe_is_replaced_and_the_shopper_can_still_pay() {
    let shop = shop_with(&[]).await;
    let mut jenny = shop.jenny_with_a_mug().await;
    let token = shop.saving_card_token("4242424242424242").await;
    let first = shop.ok(&mut jenny, "checkout/confirm", &[("confirmation_token", &token)]).await;
    let deleted = shop.intent(first["payment_intent"].as_str().unwrap()).await["customer"].as_str().unwrap().to_owned();

    // The merchant deletes her Customer in the Dashboard; Stripe says so.
    shop.stripe(Method::DELETE, &format!("/v1/customers/{deleted}"), "sk_test_tests", &[]).await;
    support::wait_delivered(&shop.stripe, "customer.deleted").await;

    // Her next checkout gets a new Customer (with a session for saved cards) and pays.
    shop.ok(&mut jenny, "cart/add", &[("product_id", "linen-tote"), ("quantity", "1")]).await;
    let view = shop.ok(&mut jenny, "checkout/view", &[]).await;
    assert!(view["customer_session_client_secret"].as_str().is_some_and(|s| s.starts_with("cuss_secret_")), "{view}");
    assert_eq!(view["saved_methods"], json!([]), "the deleted Customer's cards went with it");
    let token = shop.saving_card_token("4242424242424242").await;
    let second = shop.ok(&mut jenny, "checkout/confirm", &[("confirmation_token", &token)]).await;
    let intent = shop.intent(second["payment_intent"].as_str().unwrap()).await;
    assert_eq!(intent["status"], "succeeded");
    let customer = intent["customer"].as_str().unwrap();
    assert_ne!(customer, deleted);
    let replacement = shop.stripe(Method::GET, &format!("/v1/customers/{customer}"), "sk_test_tests", &[]).await;
    assert_eq!((replacement["email"].as_str(), replacement["deleted"].as_bool()), (Some("jenny@example.com"), None), "{replacement}");
}

/// Jenny's Customer is deleted at Stripe (in the Dashboard, or with "Delete all test
/// data") and the shop never hears: no webhook reaches it, as on a developer's machine
/// without `stripe listen`. Wherever the shop next uses that Customer — a payment from a
/// page opened before, the checkout page's CustomerSession, adding a card, a
/// subscription — Stripe's "No such customer" makes the account forget it: nothing is
/// charged, Jenny is asked to try again (or, on the checkout page, gets a new Customer at
/// once), and the next try pays with a new Customer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_deleted_at_stripe_unbeknown_to_the_shop_is_replaced_where_it_is_next_used() {
    let shop = shop_with(&[]).await;
    let mut jenny = shop.jenny_who_saved_a_card().await;
    support::miss_webhooks_from_now_on(&shop.stripe).await;
    let renewed = |body: &Value| body.to_string().contains("had to be set up again");

    // A payment from a page opened before the deletion.
    let first = shop.delete_jennys_customer().await;
    shop.ok(&mut jenny, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let token = shop.saving_card_token("4242424242424242").await;
    let (status, refused, _) = shop.call(&mut jenny, "checkout/confirm", &[("confirmation_token", &token)]).await;
    assert!(status == 400 && renewed(&refused), "{status} {refused}");
    let token = shop.saving_card_token("4242424242424242").await;
    let paid = shop.ok(&mut jenny, "checkout/confirm", &[("confirmation_token", &token)]).await;
    let intent = shop.intent(paid["payment_intent"].as_str().unwrap()).await;
    assert_eq!(intent["status"], "succeeded");
    assert_ne!(intent["customer"].as_str(), Some(first.as_str()));
    let charged = shop.stripe(Method::GET, "/v1/payment_intents?limit=100", "sk_test_tests", &[]).await;
    assert_eq!(charged["data"].as_array().unwrap().iter().filter(|pi| pi["status"] == "succeeded").count(), 2, "{charged}");

    // The checkout page: a new Customer at once, with a session for its (no) saved cards.
    let second = shop.delete_jennys_customer().await;
    shop.ok(&mut jenny, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let view = shop.ok(&mut jenny, "checkout/view", &[]).await;
    assert!(view["customer_session_client_secret"].as_str().is_some_and(|s| s.starts_with("cuss_secret_")), "{view}");
    assert_eq!(view["saved_methods"], json!([]));
    let token = shop.saving_card_token("4242424242424242").await;
    let paid = shop.ok(&mut jenny, "checkout/confirm", &[("confirmation_token", &token)]).await;
    let customer = shop.intent(paid["payment_intent"].as_str().unwrap()).await["customer"].as_str().unwrap().to_owned();
    assert_ne!(customer, second);

    // Adding a card.
    shop.delete_jennys_customer().await;
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_visa").await;
    let (status, refused, _) = shop.call(&mut jenny, "account/confirm-setup", &[("confirmation_token", &token)]).await;
    assert!(status == 400 && renewed(&refused), "{status} {refused}");
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_visa").await;
    assert_eq!(shop.ok(&mut jenny, "account/confirm-setup", &[("confirmation_token", &token)]).await["status"], "succeeded");

    // A subscription.
    shop.delete_jennys_customer().await;
    shop.ok(&mut jenny, "cart/add", &[("product_id", "coffee-beans"), ("quantity", "1")]).await;
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_visa").await;
    let (status, refused, _) = shop.call(&mut jenny, "checkout/confirm", &[("confirmation_token", &token)]).await;
    assert!(status == 400 && renewed(&refused), "{status} {refused}");
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_visa").await;
    assert_eq!(shop.ok(&mut jenny, "checkout/confirm", &[("confirmation_token", &token)]).await["status"], "Succeeded");

    // The account page: no saved cards (they went with the Customer), not an error; and
    // the next card she adds is saved to a new Customer at once.
    let fourth = shop.delete_jennys_customer().await;
    let page = shop.page(&jenny, "/account").await;
    assert!(page.contains(r#"data-testid="no-saved-cards""#), "{page}");
    assert_eq!(shop.ok(&mut jenny, "account/payment-methods", &[]).await, json!([]));
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_visa").await;
    let added = shop.ok(&mut jenny, "account/confirm-setup", &[("confirmation_token", &token)]).await;
    assert_eq!(added["status"], "succeeded", "{added}");
    let saved = shop.ok(&mut jenny, "account/payment-methods", &[]).await;
    assert_eq!(saved.as_array().map(Vec::len), Some(1), "{saved}");
    let method = shop.stripe(Method::GET, &format!("/v1/payment_methods/{}", saved[0]["id"].as_str().unwrap()), "sk_test_tests", &[]).await;
    assert_ne!(method["customer"].as_str(), Some(fourth.as_str()));
}

/// Jenny's "Remove" is sent twice at once (a double click before the page disables it,
/// two tabs): both requests find the card hers, and the first detaches it while the
/// second waits on Stripe. The second's detach is refused by Stripe (nothing left to
/// detach): the card is removed, as asked, not an internal error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_removed_twice_at_once_is_removed_without_an_error() {
    let shop = shop_with(&[]).await;
    let mut jenny = shop.jenny_who_saved_a_card().await;
    let card = shop.ok(&mut jenny, "account/payment-methods", &[]).await[0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/payment_methods/{card}/detach");
    shop.fault(json!({ "path": path, "method": "POST", "phase": "before", "delay_ms": 1500 })).await;
    let first = tokio::spawn({
        let url = format!("{}/api/account/remove-payment-method", shop.base);
        let (cookie, card) = (format!("sf_session={}", jenny.cookie.clone().unwrap()), card.clone());
        async move { support::client().post(url).header("cookie", cookie).form(&[("payment_method", card)]).send().await.unwrap().status() }
    });
    assert!(support::faults_used(&shop.stripe).await, "the first removal never reached Stripe");

    shop.ok(&mut jenny, "account/remove-payment-method", &[("payment_method", &card)]).await;
    assert_eq!(first.await.unwrap(), 200);
    assert_eq!(shop.ok(&mut jenny, "account/payment-methods", &[]).await, json!([]));
}

/// An account made before sign-up held addresses to what Stripe takes may keep one Stripe
/// refuses as a Customer's `email` or a `receipt_email` (`jenny@example..com`). Its
/// shopper still pays: the Customer is made without the address, and no receipt asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_whose_address_stripe_refuses_still_pays() {
    let shop = shop_with(&[]).await;
    let mut jenny = shop.jenny_with_a_mug().await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&shop.db_url).await.unwrap();
    sqlx::query("UPDATE accounts SET email = 'jenny@example..com'").execute(&pool).await.unwrap();
    pool.close().await;

    let token = shop.saving_card_token("4242424242424242").await;
    let paid = shop.ok(&mut jenny, "checkout/confirm", &[("confirmation_token", &token)]).await;
    let intent = shop.intent(paid["payment_intent"].as_str().unwrap()).await;
    assert_eq!((intent["status"].as_str(), &intent["receipt_email"]), (Some("succeeded"), &Value::Null), "{intent}");
    let customer = shop.stripe(Method::GET, &format!("/v1/customers/{}", intent["customer"].as_str().unwrap()), "sk_test_tests", &[]).await;
    assert_eq!(customer["email"], Value::Null, "{customer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_get_no_customer_session_and_account_calls_need_a_sign_in() {
    let shop = shop_with(&[]).await;
    let mut guest = Browser::default();
    shop.ok(&mut guest, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let view = shop.ok(&mut guest, "checkout/view", &[]).await;
    assert_eq!(view["customer_session_client_secret"], Value::Null);
    for (endpoint, form) in [
        ("account/payment-methods", vec![]),
        ("account/remove-payment-method", vec![("payment_method", "pm_123")]),
        ("account/card-setup", vec![]),
        ("account/confirm-setup", vec![("confirmation_token", "ctoken_123")]),
    ] {
        let (status, _, _) = shop.call(&mut guest, endpoint, &form).await;
        assert_eq!(status, 404, "{endpoint}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_goes_on_without_saved_cards_when_the_customer_session_fails() {
    let shop = shop_with(&[]).await;
    let mut jenny = shop.jenny_with_a_mug().await;
    shop.fault(json!({ "path": "/v1/customer_sessions", "method": "POST", "status": 500, "count": 10 })).await;
    let view = shop.ok(&mut jenny, "checkout/view", &[]).await;
    assert_eq!(view["customer_session_client_secret"], Value::Null);
    assert_eq!(view["cart"]["item_count"], 1);
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_visa").await;
    let reply = shop.ok(&mut jenny, "checkout/confirm", &[("confirmation_token", &token)]).await;
    assert_eq!(reply["status"], "Succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_is_added_with_a_setup_intent_and_3ds_cards_ask_for_authentication() {
    let shop = shop_with(&[]).await;
    let mut jenny = Browser::default();
    shop.sign_up(&mut jenny, "jenny@example.com").await;
    let setup = shop.ok(&mut jenny, "account/card-setup", &[]).await;
    assert_eq!(setup["currency"], "eur");

    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_visa").await;
    let reply = shop.ok(&mut jenny, "account/confirm-setup", &[("confirmation_token", &token)]).await;
    assert_eq!(reply["status"], "succeeded");
    // The same token again (a retried request) replays the same SetupIntent.
    let again = shop.ok(&mut jenny, "account/confirm-setup", &[("confirmation_token", &token)]).await;
    assert_eq!(again, reply);
    assert_eq!(shop.ok(&mut jenny, "account/payment-methods", &[]).await.as_array().unwrap().len(), 1);

    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_threeDSecureRequired").await;
    let reply = shop.ok(&mut jenny, "account/confirm-setup", &[("confirmation_token", &token)]).await;
    assert_eq!(reply["status"], "requires_action");
    assert!(reply["client_secret"].as_str().unwrap().starts_with("seti_"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_setup_whose_answer_never_came_is_said_unknown_and_the_same_token_saves_it_once() {
    let shop = shop_with(&[]).await;
    let mut jenny = Browser::default();
    shop.sign_up(&mut jenny, "jenny@example.com").await;
    shop.ok(&mut jenny, "account/card-setup", &[]).await;
    // Stripe saves the card, but the connection drops on the reply, on every retry too.
    shop.fault(json!({ "path": "/v1/setup_intents", "method": "POST", "drop": true, "phase": "after", "count": 20 })).await;
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_visa").await;
    let (status, unknown, _) = shop.call(&mut jenny, "account/confirm-setup", &[("confirmation_token", &token)]).await;
    assert_eq!(status, 504, "{unknown}");
    assert!(unknown.get("PaymentUnknown").is_some(), "the page is told to ask again: {unknown}");
    shop.http.delete(format!("{}/_emulator/faults", shop.stripe)).send().await.unwrap();
    // The page asks again with the same token: Stripe answers what it did.
    let reply = shop.ok(&mut jenny, "account/confirm-setup", &[("confirmation_token", &token)]).await;
    assert_eq!(reply["status"], "succeeded");
    assert_eq!(shop.ok(&mut jenny, "account/payment-methods", &[]).await.as_array().unwrap().len(), 1, "saved once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_path_confirms_a_payment_method_and_refuses_anyone_elses() {
    let shop = shop_with(&[("STORE_PAYMENT_METHOD_CREATION", "manual")]).await;
    // Jenny saves a card through a SetupIntent: it is attached to her Customer.
    let mut jenny = Browser::default();
    shop.sign_up(&mut jenny, "jenny@example.com").await;
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_visa").await;
    shop.ok(&mut jenny, "account/confirm-setup", &[("confirmation_token", &token)]).await;
    let jenny_card = shop.ok(&mut jenny, "account/payment-methods", &[]).await[0]["id"].as_str().unwrap().to_owned();

    // A guest pays with a PaymentMethod made by createPaymentMethod.
    let mut guest = Browser::default();
    shop.ok(&mut guest, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let fresh = shop
        .stripe(
            Method::POST,
            "/v1/payment_methods",
            "pk_test_tests",
            &[("type", "card"), ("card[number]", "4242424242424242"), ("card[exp_month]", "12"), ("card[exp_year]", "2040")],
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The ConfirmationToken endpoint is not the one this shop uses.
    let (status, _, _) = shop.call(&mut guest, "checkout/confirm", &[("confirmation_token", "ctoken_123")]).await;
    assert_eq!(status, 400);
    let reply = shop.ok(&mut guest, "checkout/confirm-payment-method", &[("payment_method", &fresh)]).await;
    assert_eq!(reply["status"], "Succeeded");
    let intent = shop.intent(reply["payment_intent"].as_str().unwrap()).await;
    assert_eq!(intent["payment_method"], fresh.as_str());

    // Mallory names Jenny's saved card: refused before anything is charged.
    let mut mallory = Browser::default();
    shop.sign_up(&mut mallory, "mallory@example.com").await;
    shop.ok(&mut mallory, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let intents_before =
        shop.stripe(Method::GET, "/v1/payment_intents?limit=100", "sk_test_tests", &[]).await["data"].as_array().unwrap().len();
    let (status, body, _) = shop.call(&mut mallory, "checkout/confirm-payment-method", &[("payment_method", &jenny_card)]).await;
    assert_eq!(status, 400, "{body}");
    let intents_after =
        shop.stripe(Method::GET, "/v1/payment_intents?limit=100", "sk_test_tests", &[]).await["data"].as_array().unwrap().len();
    assert_eq!(intents_before, intents_after, "no PaymentIntent was made with another's card");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_cards_is_rate_limited_before_stripe_checks_them() {
    let shop = shop_with(&[]).await;
    let mut jenny = Browser::default();
    shop.sign_up(&mut jenny, "jenny@example.com").await;
    // Ten card checks in ten minutes are allowed (these use unknown tokens and fail).
    for n in 0..10 {
        let (status, body, _) =
            shop.call(&mut jenny, "account/confirm-setup", &[("confirmation_token", &format!("ctoken_made_up_{n}"))]).await;
        assert_eq!(status, 400, "check {n}: {body}");
    }
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_visa").await;
    let (status, body, headers) = shop.call(&mut jenny, "account/confirm-setup", &[("confirmation_token", &token)]).await;
    assert_eq!(status, 429, "{body}");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(shop.ok(&mut jenny, "account/payment-methods", &[]).await, json!([]), "the card was not checked nor saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_create_accounts_without_end() {
    let shop = shop_with(&[]).await;
    for n in 0..10 {
        shop.sign_up(&mut Browser::default(), &format!("shopper{n}@example.com")).await;
    }
    let mut eleventh = Browser::default();
    let (status, body, headers) =
        shop.call(&mut eleventh, "account/sign-up", &[("email", "shopper10@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(status, 429, "{body}");
    assert!(headers.contains_key("retry-after"));
    // Nothing was made: the address is still free once the hour has passed.
    let (status, _, _) = shop.call(&mut eleventh, "account/sign-in", &[("email", "shopper10@example.com"), ("password", PASSWORD)]).await;
    assert_ne!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_keeps_every_card_sets_setup_future_usage_for_signed_in_shoppers_only() {
    let shop = shop_with(&[("STORE_SETUP_FUTURE_USAGE", "on_session")]).await;

    // A guest: nothing to keep the card on, so nothing is asked (or said) at all.
    let mut guest = Browser::default();
    shop.ok(&mut guest, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let view = shop.ok(&mut guest, "checkout/view", &[]).await;
    assert_eq!(view["setup_future_usage"], Value::Null);
    let token = support::test_token(&shop.http, &shop.stripe, "pm_card_visa").await;
    let reply = shop.ok(&mut guest, "checkout/confirm", &[("confirmation_token", &token)]).await;
    let intent = shop.intent(reply["payment_intent"].as_str().unwrap()).await;
    assert_eq!((intent["setup_future_usage"].clone(), intent["customer"].clone()), (Value::Null, Value::Null));

    // Signed in: Elements and the intent both say on_session, and the CustomerSession
    // leaves payment_method_save_usage out (Stripe refuses both).
    let mut jenny = Browser::default();
    shop.sign_up(&mut jenny, "jenny@example.com").await;
    shop.ok(&mut jenny, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let view = shop.ok(&mut jenny, "checkout/view", &[]).await;
    assert_eq!(view["setup_future_usage"], "on_session");
    let secret = view["customer_session_client_secret"].as_str().unwrap();
    let session =
        shop.stripe(Method::GET, &format!("/v1/elements/sessions?customer_session_client_secret={secret}"), "pk_test_tests", &[]).await;
    assert_eq!(session["features"]["payment_method_save"], "enabled", "{session}");
    assert_eq!(session["features"]["payment_method_save_usage"], Value::Null, "{session}");
    // The page tells her the card is kept.
    let html = shop.page(&jenny, "/checkout").await;
    assert!(html.contains("data-testid=\"save-notice\"") && html.contains("saved to your account"), "{html}");

    // A card typed in without ticking the box (so no allow_redisplay): kept anyway.
    let form = [
        ("payment_method_data[type]", "card"),
        ("payment_method_data[card][number]", "4242424242424242"),
        ("payment_method_data[card][exp_month]", "12"),
        ("payment_method_data[card][exp_year]", "2040"),
        ("setup_future_usage", "on_session"),
    ];
    let token = shop.stripe(Method::POST, "/v1/confirmation_tokens", "pk_test_tests", &form).await["id"].as_str().unwrap().to_owned();
    let reply = shop.ok(&mut jenny, "checkout/confirm", &[("confirmation_token", &token)]).await;
    let intent = shop.intent(reply["payment_intent"].as_str().unwrap()).await;
    assert_eq!(intent["setup_future_usage"], "on_session");
    let customer = intent["customer"].as_str().unwrap();
    let method = shop
        .stripe(Method::GET, &format!("/v1/payment_methods/{}", intent["payment_method"].as_str().unwrap()), "sk_test_tests", &[])
        .await;
    assert_eq!(method["customer"], customer, "{method}");
}

/// An account's first Customer asked for by two requests at once in two languages (two
/// tabs, or a phone and a laptop): each is made in its own language under a key of its
/// own, so neither request fails with Stripe's `idempotency_error` (one key, two sets of
/// parameters), and the account keeps the first stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_customer_asked_for_in_two_languages_at_once_fails_neither() {
    let shop = shop_with(&[]).await;
    let jenny = shop.jenny_with_a_mug().await;
    // Stripe slow to make the first Customer: the other request asks while it is at work.
    shop.fault(json!({ "path": "/v1/customers", "method": "POST", "delay_ms": 500, "count": 1 })).await;
    let view = |language: &'static str| {
        let cookie = format!("sf_session={}; sf_locale={language}", jenny.cookie.as_deref().unwrap());
        let request = shop.http.post(format!("{}/api/checkout/view", shop.base)).header("cookie", cookie);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let (english, french) = tokio::join!(view("en"), view("fr"));
    for view in [&english, &french] {
        assert!(view["customer_session_client_secret"].as_str().is_some_and(|s| s.starts_with("cuss_secret_")), "{view}");
    }
    let customers = shop.stripe(Method::GET, "/v1/customers?limit=10", "sk_test_tests", &[]).await;
    let mut languages: Vec<&str> =
        customers["data"].as_array().unwrap().iter().map(|customer| customer["preferred_locales"][0].as_str().unwrap()).collect();
    languages.sort();
    assert_eq!(languages, ["en", "fr"]);
    // From then on both languages use the one the account stored.
    view("en").await;
    view("fr").await;
    let url = format!("{}/_emulator/requests?path=/v1/customer_sessions", shop.stripe);
    let sessions: Value = shop.http.get(url).send().await.unwrap().json().await.unwrap();
    let asked: Vec<&Value> = sessions["data"].as_array().unwrap().iter().map(|request| &request["params"]["customer"]).collect();
    assert_eq!(asked.len(), 4, "{sessions}");
    assert_eq!(asked[2], asked[3], "{sessions}");
}

/// A signed-in shopper who switches language: Stripe is told before their Customer is
/// next used, once, so that what Stripe writes to them (receipts, invoices, their pages)
/// is in it. If Stripe does not take it, the checkout goes on as before, and Stripe is
/// told again the next time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_follows_the_language_the_shopper_switches_to() {
    let shop = shop_with(&[]).await;
    let mut jenny = shop.jenny_with_a_mug().await;
    let session = jenny.cookie.clone().unwrap();
    let view = |language: &'static str| {
        let cookie = format!("sf_session={session}; sf_locale={language}");
        let request = shop.http.post(format!("{}/api/checkout/view", shop.base)).header("cookie", cookie);
        async move {
            let view = request.send().await.unwrap().json::<Value>().await.unwrap();
            assert!(view["customer_session_client_secret"].as_str().is_some_and(|s| s.starts_with("cuss_secret_")), "{view}");
        }
    };
    view("en").await;
    let customers = shop.stripe(Method::GET, "/v1/customers", "sk_test_tests", &[]).await;
    let customer = customers["data"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/customers/{customer}");
    let preferred = async || shop.stripe(Method::GET, &path, "sk_test_tests", &[]).await["preferred_locales"].clone();
    // The statuses of the updates Stripe was asked for.
    let updates = async || {
        let log: Value =
            shop.http.get(format!("{}/_emulator/requests?path={path}", shop.stripe)).send().await.unwrap().json().await.unwrap();
        log["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|request| request["method"] == "POST")
            .map(|request| request["status"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!((preferred().await, updates().await), (json!(["en"]), vec![]));

    // Stripe down for the update: the checkout is the same, the Customer still English.
    shop.fault(json!({ "path": path, "method": "POST", "status": 500, "should_retry": false, "count": 1 })).await;
    view("fr").await;
    assert_eq!((preferred().await, updates().await), (json!(["en"]), vec![json!(500)]));
    // Told the next time, and only then.
    view("fr").await;
    view("fr").await;
    assert_eq!((preferred().await, updates().await), (json!(["fr"]), vec![json!(500), json!(200)]));

    // Paying in French asks nothing more; back in English, told once more.
    let token = shop.saving_card_token("4242424242424242").await;
    let cookie = format!("sf_session={session}; sf_locale=fr");
    let paid =
        shop.http.post(format!("{}/api/checkout/confirm", shop.base)).header("cookie", cookie).form(&[("confirmation_token", &token)]);
    let paid: Value = paid.send().await.unwrap().json().await.unwrap();
    assert_eq!(shop.intent(paid["payment_intent"].as_str().unwrap()).await["customer"], customer.as_str(), "{paid}");
    assert_eq!(updates().await.len(), 2);
    shop.ok(&mut jenny, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    view("en").await;
    assert_eq!((preferred().await, updates().await.len()), (json!(["en"]), 3));

    // Deleted at Stripe, and the webhook missed: the update finds the Customer gone, and
    // the account gets a new one at once, in the new language.
    support::miss_webhooks_from_now_on(&shop.stripe).await;
    shop.delete_jennys_customer().await;
    view("fr").await;
    let found = shop.stripe(Method::GET, "/v1/customers?email=jenny@example.com", "sk_test_tests", &[]).await;
    assert_eq!(found["data"][0]["preferred_locales"], json!(["fr"]), "{found}");
    assert_eq!(updates().await, vec![json!(500), json!(200), json!(200), json!(404)]);
}
