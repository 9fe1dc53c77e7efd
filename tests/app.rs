//! The real application on port 0 with a temporary database, driven over HTTP the way
//! a browser (with or without JavaScript) drives it.

mod support;

struct TestApp {
    base: String,
    client: reqwest::Client,
    _db_dir: tempfile::TempDir,
}

async fn spawn_app() -> TestApp {
    let (config, _, db_dir) = support::config(&[]);
    let running = support::serve(config).await;
    TestApp { base: running.base, client: support::shopper(), _db_dir: db_dir }
}

impl TestApp {
    async fn call(&self, endpoint: &str, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
        let response = self.client.post(format!("{}/api/{endpoint}", self.base)).form(form).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)))
    }

    async fn cart(&self) -> serde_json::Value {
        let (status, cart) = self.call("cart/get", &[]).await;
        assert_eq!(status, 200, "{cart}");
        cart
    }

    /// Adds to the cart from the catalog page as a browser without JavaScript does (a
    /// plain form post, HTML accepted): the server's redirect, and the browser-like client
    /// (cookies kept, redirects not followed) to go on with.
    async fn add_without_javascript(&self, form: &[(&str, &str)]) -> (reqwest::Client, String) {
        let client = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let response = client
            .post(format!("{}/api/cart/add", self.base))
            .header("accept", "text/html")
            .header("referer", format!("{}/", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        (client, location)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_ok_when_the_database_is_usable() {
    let app = spawn_app().await;
    let response = support::client().get(format!("{}/health", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.text().await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_is_server_rendered_with_prices_and_stock() {
    let app = spawn_app().await;
    let html = support::client().get(format!("{}/", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"data-testid="product-ceramic-mug""#), "{html}");
    assert!(html.contains("€18.00"));
    assert!(html.contains(r#"data-testid="add-to-cart-linen-tote""#));
    assert!(html.contains("Sold out"), "the notebook has no stock");
    assert!(html.contains(r#"rel="icon""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_to_the_cart_starts_a_session_in_a_safe_cookie() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/api/cart/add", app.base))
        .form(&[("product_id", "ceramic-mug"), ("quantity", "2")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.starts_with("sf_session="));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");

    let cart = app.cart().await;
    assert_eq!(cart["item_count"], 2);
    assert_eq!(cart["subtotal"]["amount"], 3600);
    assert_eq!(cart["subtotal"]["currency"], "eur");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_total_is_computed_by_the_server_from_catalog_prices() {
    let app = spawn_app().await;
    app.call("cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    // Extra fields (a price, a total) are not part of the function: ignored, they cannot matter.
    let (status, reply) =
        app.call("cart/add", &[("product_id", "linen-tote"), ("quantity", "3"), ("unit_amount", "1"), ("total", "1")]).await;
    assert_eq!(status, 200, "{reply}");
    app.call("cart/add", &[("product_id", "linen-tote"), ("quantity", "3")]).await;
    let cart = app.cart().await;
    let totes: Vec<_> = cart["lines"].as_array().unwrap().iter().filter(|l| l["product_id"] == "linen-tote").collect();
    assert_eq!(totes.len(), 1, "one line per product");
    assert_eq!(totes[0]["quantity"], 6);
    // €18.00 + 6 × €24.50, from catalog.toml.
    assert_eq!(cart["subtotal"]["amount"], 16_500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_product_is_refused_with_a_clear_error_and_the_cart_is_unchanged() {
    let app = spawn_app().await;
    app.call("cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let before = app.cart().await;
    for id in ["no-such-thing", "../../etc/passwd", "", "Ceramic-Mug"] {
        let (status, error) = app.call("cart/add", &[("product_id", id), ("quantity", "1")]).await;
        assert_eq!(status, 400, "{id:?}: {error}");
        assert!(error.to_string().contains("not in our catalog"), "{error}");
    }
    assert_eq!(app.cart().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quantities_outside_the_rules_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.call("cart/add", &[("product_id", "walnut-board"), ("quantity", "2")]).await;
    let before = app.cart().await;
    let cases = [
        ("ceramic-mug", "0", "from 1 to 99"),
        ("ceramic-mug", "100", "from 1 to 99"),
        ("ceramic-mug", "-1", "from 1 to 99"),
        ("ceramic-mug", "two", "from 1 to 99"),
        ("ceramic-mug", "1.5", "from 1 to 99"),
        ("ceramic-mug", "99999999999999999999", "from 1 to 99"),
        ("walnut-board", "7", "Only 8 in stock"),
        ("notebook", "1", "sold out"),
    ];
    for (product, quantity, message) in cases {
        let (status, error) = app.call("cart/add", &[("product_id", product), ("quantity", quantity)]).await;
        assert_eq!(status, 400, "{product} × {quantity}: {error}");
        assert!(error.to_string().contains(message), "{product} × {quantity}: {error}");
    }
    // Setting a line's quantity says the same (0 removes the line, below).
    for quantity in ["-1", "two", "100"] {
        let (status, error) = app.call("cart/set", &[("product_id", "walnut-board"), ("quantity", quantity)]).await;
        assert_eq!(status, 400, "{quantity}: {error}");
        assert!(error.to_string().contains("from 1 to 99"), "{quantity}: {error}");
    }
    assert_eq!(app.cart().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_a_quantity_to_zero_removes_the_line() {
    let app = spawn_app().await;
    app.call("cart/add", &[("product_id", "ceramic-mug"), ("quantity", "2")]).await;
    let (status, cart) = app.call("cart/set", &[("product_id", "ceramic-mug"), ("quantity", "5")]).await;
    assert_eq!((status, cart["item_count"].as_i64()), (200, Some(5)));
    let (status, cart) = app.call("cart/set", &[("product_id", "ceramic-mug"), ("quantity", "0")]).await;
    assert_eq!((status, cart["item_count"].as_i64()), (200, Some(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cookie_the_server_never_issued_is_ignored() {
    let app = spawn_app().await;
    app.call("cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let forged = support::client()
        .post(format!("{}/api/cart/get", app.base))
        .header("cookie", format!("sf_session={}", "A".repeat(43)))
        .send()
        .await
        .unwrap();
    let cart: serde_json::Value = forged.json().await.unwrap();
    assert_eq!(cart["item_count"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_form_post_without_javascript_redirects_back() {
    let app = spawn_app().await;
    let (client, location) = app.add_without_javascript(&[("product_id", "linen-tote"), ("quantity", "1")]).await;
    assert!(location.starts_with(&format!("{}/", app.base)), "back to the page the form was on: {location}");
    let html = client.get(format!("{}/cart", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains(r#"data-testid="cart-line-linen-tote""#), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_pages_and_unknown_orders_are_404() {
    let app = spawn_app().await;
    // (A result page naming a payment this visitor never made, or no payment id at all.)
    for path in [
        "/no-such-page",
        "/orders/ord_123",
        "/orders/%FF",
        "/admin/orders",
        "/checkout/complete?payment_intent=pi_123",
        "/checkout/complete?payment_intent=%00",
    ] {
        let response = support::client().get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    // An unknown order's page leads on: to the account's orders, and to the shop.
    let page = support::client().get(format!("{}/orders/ord_123", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"<a href="/account">Your orders</a>"#) && page.contains(r#"<a href="/">Back to the shop</a>"#), "{page}");
    // The result page without a payment says so, and is no error.
    assert_eq!(support::client().get(format!("{}/checkout/complete", app.base)).send().await.unwrap().status(), 200);
    // Names longer than a file system allows (255 bytes) name no file either: the 404
    // page, not an error from the file system.
    let long = "a".repeat(256);
    let encoded = "%C3%A9".repeat(128);
    for path in [format!("/{long}"), format!("/images/{long}"), format!("/{encoded}"), format!("/pkg/{long}")] {
        let response = support::client().get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused() {
    let app = spawn_app().await;
    // A megabyte announced: refused on its length alone, before a byte of it is read.
    let (status, reply) = support::net::announce_body(&app.base, "/api/cart/add", 1 << 20).await;
    assert_eq!(status, 413, "{reply}");
    // In JSON, as a server function's every reply: the island and API clients read it.
    assert!(reply.contains(r#"{"Invalid":"The request is too large."}"#), "{reply}");
    // The same without a length given: chunked, found too large while it arrives. Just
    // over the 64 KiB is sent, and no more, so that the server has read all of it when
    // it answers and closes.
    let head = "POST /api/cart/add HTTP/1.1\r\nHost: shop\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    let data = format!("product_id={}", "x".repeat(64 * 1024));
    let chunk = format!("{:x}\r\n{data}\r\n", data.len());
    let (status, reply) = support::net::raw_request(&app.base, head, chunk.as_bytes()).await;
    assert_eq!(status, 413, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_caller_that_gets_the_call_wrong_is_told_in_json() {
    let app = spawn_app().await;
    let reply = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let kind = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        let body = response.text().await.unwrap();
        (status, kind, serde_json::from_str::<serde_json::Value>(&body).unwrap_or_else(|e| panic!("{e}: {body}")))
    };
    // Arguments sent as JSON: refused for their encoding, not for a field they carry.
    let json = app.client.post(format!("{}/api/cart/add", app.base)).json(&serde_json::json!({"product_id": "ceramic-mug", "quantity": 1}));
    let (status, kind, error) = reply(json).await;
    assert_eq!((status, kind.as_str()), (415, "application/json"), "{error}");
    assert!(error["Invalid"].as_str().unwrap().contains("application/x-www-form-urlencoded"), "{error}");
    assert_eq!(app.cart().await["item_count"], 0, "nothing was added");
    // In the shopper's language, as every error of a server function.
    let french = app.client.post(format!("{}/api/cart/add", app.base)).header("accept-language", "fr").body("{}");
    let french = reply(french.header("content-type", "application/json")).await.2;
    assert!(french["Invalid"].as_str().unwrap().starts_with("Appelez"), "{french}");
    // Another method than the function's: 405 with the one it takes.
    let response = app.client.get(format!("{}/api/cart/add", app.base)).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    let (status, kind, error) = reply(app.client.get(format!("{}/api/cart/add", app.base))).await;
    assert_eq!((status, kind.as_str()), (405, "application/json"), "{error}");
    assert!(error["Invalid"].as_str().unwrap().contains("POST"), "{error}");
    // An address that names no server function, whatever the method: JSON, not the 404 page.
    for request in [app.client.post(format!("{}/api/cart/no-such-call", app.base)), app.client.get(format!("{}/api/nope", app.base))] {
        let (status, kind, error) = reply(request).await;
        assert_eq!((status, kind.as_str()), (404, "application/json"), "{error}");
        assert!(error["NotFound"].is_string(), "{error}");
    }
    // A form-encoded call still works (with a charset, as some clients send it).
    let form = app
        .client
        .post(format!("{}/api/cart/add", app.base))
        .header("content-type", "application/x-www-form-urlencoded; charset=UTF-8")
        .body("product_id=ceramic-mug&quantity=1");
    assert_eq!(reply(form).await.0, 200);
    assert_eq!(app.cart().await["item_count"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkout_page_renders_under_concurrent_requests() {
    // A page render may start on one server thread and end on another; nothing it keeps
    // may be tied to its first thread.
    let app = spawn_app().await;
    app.call("cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let pages = (0..60).map(|_| {
        let client = app.client.clone();
        let url = format!("{}/checkout", app.base);
        async move { client.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    let statuses = futures_util::future::join_all(pages).await;
    let failed: Vec<_> = statuses.iter().filter(|s| !matches!(s, Ok(200))).collect();
    assert!(failed.is_empty(), "{} of 60 renders failed: {failed:?}", failed.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_catalog_is_served_a_page_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.toml");
    let products: String = (1..=30)
        .map(|n| {
            format!(
                "[[products]]\nid = \"item-{n:02}\"\nname = \"Item {n}\"\ndescription = \"Number {n}.\"\nunit_amount = {}\ncurrency = \"eur\"\nimage = \"/images/notebook.svg\"\nstock = {n}\n\n",
                100 * n
            )
        })
        .collect();
    std::fs::write(&catalog, products).unwrap();
    let (config, _, _db) = support::config(&[("STORE_CATALOG_FILE", catalog.to_str().unwrap())]);
    let running = support::serve(config).await;
    let client = support::client();
    let list = |page: &'static str| {
        let (client, base) = (client.clone(), running.base.clone());
        async move {
            let reply = client.post(format!("{base}/api/catalog/list")).form(&[("page", page)]).send().await.unwrap();
            assert_eq!(reply.status(), 200);
            reply.json::<serde_json::Value>().await.unwrap()
        }
    };
    let first = list("1").await;
    assert_eq!((first["items"].as_array().unwrap().len(), first["pages"].as_u64()), (24, Some(2)));
    assert_eq!(first["items"][0]["product"]["id"], "item-01");
    let second = list("2").await;
    assert_eq!(second["items"].as_array().unwrap().len(), 6);
    assert_eq!(second["items"][5]["in_stock"], 30, "stock read for the page's products");
    assert_eq!(list("99").await["page"], 2, "past the end: the last page");
    assert_eq!(list("0").await["page"], 1);

    let html = client.get(format!("{}/?page=2", running.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-testid=\"product-item-30\"") && !html.contains("data-testid=\"product-item-01\""));
    assert!(html.contains("Page 2 of 2") && html.contains("href=\"/?page=1\""));
}

/// The merchant's password on the servers that show their pages.
const ADMIN: &str = "merchant-token-0123456789";

/// A build's `/pkg`: the stylesheet, the bundle's JS and wasm (wasm-bindgen's plain
/// names, as a build without `hash-files` leaves them) and the JS's bytes.
fn pkg_site(js: &str) -> tempfile::TempDir {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/storefront.css"), "body { color: teal }").unwrap();
    std::fs::write(site.path().join("pkg/storefront.js"), js).unwrap();
    std::fs::write(site.path().join("pkg/storefront_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    site
}

/// The `/pkg/<version>` that a checkout page (which has an island) loads its stylesheet,
/// JS and wasm from.
async fn pkg_version(base: &str) -> String {
    let shopper = support::shopper();
    let added =
        shopper.post(format!("{base}/api/cart/add")).form(&[("product_id", "ceramic-mug"), ("quantity", "1")]).send().await.unwrap();
    assert_eq!(added.status(), 200);
    let html = shopper.get(format!("{base}/checkout")).send().await.unwrap().text().await.unwrap();
    let version = html.split("href=\"/pkg/").nth(1).and_then(|rest| rest.split_once('/')).map(|(version, _)| version.to_owned()).unwrap();
    for file in ["storefront.css", "storefront.js", "storefront_bg.wasm"] {
        assert!(html.contains(&format!("\"/pkg/{version}/{file}\"")), "{file} below /pkg/{version}: {html}");
    }
    version
}

/// Pages address `/pkg` below the build's version, a digest of its files: there a file
/// is kept by browsers for good, and another build's bytes get another address, even
/// under the same name. (cargo-leptos names the bundle's JS and wasm before it writes
/// the lazy islands' loader's name into them: a JS kept for good under its name alone
/// imported a loader the next build no longer had.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_is_kept_for_good_below_the_builds_version_and_another_build_gets_another() {
    let client = support::client();
    let site = pkg_site("export function hydrate() {}");
    let (config, _, _db) = support::config(&[("LEPTOS_SITE_ROOT", site.path().to_str().unwrap()), ("ADMIN_TOKEN", ADMIN)]);
    let running = support::serve(config).await;
    let version = pkg_version(&running.base).await;
    // The merchant's pages link the same stylesheet as the shop's.
    let admin = support::admin_page(&format!("{}/admin/orders", running.base), ADMIN).await;
    assert!(admin.contains(&format!("href=\"/pkg/{version}/storefront.css\"")), "{admin}");
    let kept = client.get(format!("{}/pkg/{version}/storefront.js", running.base)).send().await.unwrap();
    assert_eq!(kept.status(), 200);
    assert_eq!(kept.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(kept.text().await.unwrap(), "export function hydrate() {}");
    // The plain address (no page uses it) is revalidated; another version is not here.
    let plain = client.get(format!("{}/pkg/storefront.js", running.base)).send().await.unwrap();
    assert_eq!((plain.status().as_u16(), plain.headers()["cache-control"].to_str().unwrap()), (200, "no-cache"));
    let other = client.get(format!("{}/pkg/0123456789abcdef/storefront.js", running.base)).send().await.unwrap();
    assert_eq!(other.status(), 404);
    assert_eq!(client.get(format!("{}/pkg/{version}/.env", running.base)).send().await.unwrap().status(), 404);

    // The next build: the same names, one file's bytes changed (not its length).
    let next = pkg_site("export function hydrant() {}");
    let (config, _, _db) = support::config(&[("LEPTOS_SITE_ROOT", next.path().to_str().unwrap())]);
    let redeployed = support::serve(config).await;
    let next_version = pkg_version(&redeployed.base).await;
    assert_ne!(next_version, version, "changed bytes under an unchanged name get a new address");
    let gone = client.get(format!("{}/pkg/{version}/storefront.js", redeployed.base)).send().await.unwrap();
    assert_eq!(gone.status(), 404, "the previous build's address is not served the next build's bytes");
    // The same files, byte for byte: the same version (a restart keeps browsers' copies).
    let again = pkg_site("export function hydrate() {}");
    let (config, _, _db) = support::config(&[("LEPTOS_SITE_ROOT", again.path().to_str().unwrap())]);
    assert_eq!(pkg_version(&support::serve(config).await.base).await, version);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_is_served_compressed_from_memory_with_an_etag() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    let wasm: Vec<u8> = (0..200_000_u32).map(|n| (n % 7) as u8).collect();
    std::fs::write(site.path().join("pkg/storefront.wasm"), &wasm).unwrap();
    // The copies `cargo leptos build --release --precompress` writes beside each file
    // (the brotli one stands in: the server sends what the build wrote, unread).
    std::fs::write(site.path().join("pkg/storefront.wasm.gz"), gzip(&wasm)).unwrap();
    std::fs::write(site.path().join("pkg/storefront.wasm.br"), b"the build's brotli copy").unwrap();
    // A file the build did not compress.
    std::fs::write(site.path().join("pkg/storefront.css"), "body { margin: 0 }").unwrap();
    let (config, _, _db) = support::config(&[("LEPTOS_SITE_ROOT", site.path().to_str().unwrap())]);
    let running = support::serve(config).await;
    let client = reqwest::Client::builder().no_gzip().no_brotli().timeout(std::time::Duration::from_secs(10)).build().unwrap();
    let url = format!("{}/pkg/storefront.wasm", running.base);
    // Served from disk until the compressed copies are ready, then compressed: wait
    // for that (bounded), never sleep a fixed time.
    let reply = support::poll_until(
        200,
        || async {
            let reply = client.get(&url).header("accept-encoding", "gzip").send().await.unwrap();
            assert_eq!(reply.status(), 200);
            reply
        },
        // From memory, with an ETag (the disk copy has none).
        |reply: &reqwest::Response| {
            reply.headers().get("content-encoding").is_some_and(|v| v == "gzip") && reply.headers().contains_key("etag")
        },
    )
    .await;
    assert!(reply.headers().contains_key("etag"), "the bundle was never served compressed");
    assert_eq!(reply.headers()["content-type"], "application/wasm");
    assert_eq!(reply.headers()["vary"], "accept-encoding");
    assert_eq!(reply.headers()["cache-control"], "no-cache", "a name without a hash is revalidated");
    let etag = reply.headers()["etag"].to_str().unwrap().to_owned();
    let body = reply.bytes().await.unwrap();
    assert!(body.len() < wasm.len() / 10, "{} bytes", body.len());
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut unzipped).unwrap();
    assert_eq!(unzipped, wasm);

    let brotli = client.get(&url).header("accept-encoding", "gzip, deflate, br").send().await.unwrap();
    assert_eq!(brotli.headers()["content-encoding"], "br");
    assert_eq!(&brotli.bytes().await.unwrap()[..], b"the build's brotli copy");
    let css = client.get(format!("{}/pkg/storefront.css", running.base)).header("accept-encoding", "gzip, br").send().await.unwrap();
    assert!(css.headers().get("content-encoding").is_none() && css.headers().get("vary").is_none());
    assert_eq!(css.text().await.unwrap(), "body { margin: 0 }");
    let plain = client.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.bytes().await.unwrap().len(), wasm.len());
    let again = client.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(client.get(format!("{}/pkg/missing.js", running.base)).send().await.unwrap().status(), 404);
    assert_eq!(client.get(format!("{}/pkg/.env", running.base)).send().await.unwrap().status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_without_islands_sends_no_data_for_hydration_and_no_wasm() {
    let app = spawn_app().await;
    let html = app.client.get(format!("{}/", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-testid=\"product-ceramic-mug\""));
    // Islands mode: the catalog's data is in the HTML once, not again for a hydration
    // that never happens, and no island means nothing for the bundle to do.
    assert!(!html.contains("__RESOLVED_RESOURCES["), "resources serialised: {html}");
    assert!(!html.contains("<leptos-island"));
    // Interactive once parsed: its end says so, as the parser gets there, with no
    // module script to wait for.
    assert!(!html.contains("type=\"module\""), "{html}");
    let end = html.split("</main>").nth(1).unwrap();
    assert!(end.contains("document.body.dataset.hydrated = 'true';"), "{html}");
    // Stripe.js is loaded (Stripe's fraud signals) without holding up the parser: no
    // island here calls it.
    assert!(stripe_js_tag(&html).contains(" async"), "{html}");
}

/// The `<script>` tag that loads Stripe.js on a page.
fn stripe_js_tag(html: &str) -> &str {
    let start = html.find("<script src=\"").expect("a script with a src");
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    assert!(tag.contains("/v3/"), "{tag}");
    tag
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkout_loads_stripe_js_before_its_island_hydrates() {
    let app = spawn_app().await;
    app.call("cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    let html = app.client.get(format!("{}/checkout", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<leptos-island"), "{html}");
    // Parser-blocking, before the module that hydrates the island: `Stripe` exists when
    // the island calls it.
    let tag = stripe_js_tag(&html);
    assert!(!tag.contains("async") && !tag.contains("defer"), "{tag}");
    let loader = html.find("type=\"module\"").expect("the island loader");
    assert!(html.find(tag).unwrap() < loader, "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_compressed_for_browsers_that_ask() {
    let app = spawn_app().await;
    let client = reqwest::Client::builder().no_gzip().no_brotli().build().unwrap();
    let reply = client.get(format!("{}/", app.base)).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-encoding"], "gzip");
    let reply = client.get(format!("{}/", app.base)).send().await.unwrap();
    assert!(reply.headers().get("content-encoding").is_none());
    assert!(reply.text().await.unwrap().contains("data-testid=\"product-ceramic-mug\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_carry_a_strict_content_security_policy_with_a_fresh_nonce() {
    let app = spawn_app().await;
    let page = |path: &'static str| {
        let (client, base) = (support::client(), app.base.clone());
        async move {
            let reply = client.get(format!("{base}{path}")).send().await.unwrap();
            let csp = reply.headers()["content-security-policy"].to_str().unwrap().to_owned();
            (csp, reply.text().await.unwrap())
        }
    };
    let (csp, html) = page("/").await;
    let nonce = csp.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).unwrap().to_owned();
    assert!(nonce.len() >= 16, "{csp}");
    for directive in
        ["default-src 'self'", "'strict-dynamic'", "'wasm-unsafe-eval'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'self'"]
    {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("'unsafe-eval'") && !csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
    // Every script the page carries has this response's nonce.
    let scripts = html.matches("<script").count();
    assert!(scripts >= 2, "{html}");
    assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "{html}");
    // The embedded emulator's origin is allowed for Stripe.js, its frames and its API.
    let stripe_origin = html.split("<script src=\"").nth(1).unwrap().split("/v3").next().unwrap();
    assert!(csp.contains(&format!("frame-src {stripe_origin}")), "{csp}");
    assert!(csp.contains(&format!("connect-src 'self' {stripe_origin}")), "{csp}");
    // A new nonce on every response; and the 404 page too.
    let (again, _) = page("/").await;
    assert_ne!(again, csp);
    let (missing, _) = page("/no-such-page").await;
    assert!(missing.contains("'nonce-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_posts_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let post = |origin: Option<&'static str>, endpoint: &'static str, form: &'static [(&'static str, &'static str)]| {
        let (client, base) = (app.client.clone(), app.base.clone());
        async move {
            let mut request = client.post(format!("{base}/api/{endpoint}")).form(form);
            if let Some(origin) = origin {
                request = request.header("origin", origin.replace("{base}", &base));
            }
            request.send().await.unwrap().status().as_u16()
        }
    };
    // Another site's page posting a form with the shopper's browser: refused.
    assert_eq!(post(Some("https://evil.example"), "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await, 403);
    assert_eq!(post(Some("null"), "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await, 403);
    assert_eq!(
        post(Some("https://evil.example"), "account/sign-up", &[("email", "a@example.com"), ("password", "long enough pw")]).await,
        403
    );
    // A browser's own word that the page is another site's, whatever else it sends.
    let fetch_site = |site: &'static str| {
        let request = app.client.post(format!("{}/api/cart/add", app.base)).header("sec-fetch-site", site);
        async move { request.form(&[("product_id", "ceramic-mug"), ("quantity", "1")]).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(fetch_site("cross-site").await, 403);
    assert_eq!(fetch_site("same-site").await, 403);
    assert_eq!(app.cart().await["item_count"], 0, "nothing was added");
    assert_eq!(fetch_site("same-origin").await, 200);
    // The shop's own pages, and clients that are not browsers (no Origin): accepted.
    assert_eq!(post(Some("{base}"), "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await, 200);
    assert_eq!(post(None, "cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await, 200);
    assert_eq!(app.cart().await["item_count"], 3);
}

/// The repository's `public/` as the site root: the favicon and the product images.
async fn spawn_app_with_files() -> TestApp {
    let public = concat!(env!("CARGO_MANIFEST_DIR"), "/public");
    let (config, _, db_dir) = support::config(&[("LEPTOS_SITE_ROOT", public)]);
    let running = support::serve(config).await;
    TestApp { base: running.base, client: support::shopper(), _db_dir: db_dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_about_a_shopper_are_never_stored_and_plain_files_are() {
    let app = spawn_app_with_files().await;
    let (status, _) = app.call("cart/add", &[("product_id", "ceramic-mug"), ("quantity", "1")]).await;
    assert_eq!(status, 200);
    for path in ["/", "/cart", "/checkout", "/account", "/orders/ord_unknown", "/checkout/complete?payment_intent=pi_123", "/no-such-page"]
    {
        let reply = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(reply.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{path}");
    }
    let reply = app.client.post(format!("{}/api/cart/get", app.base)).send().await.unwrap();
    assert_eq!(reply.headers()["cache-control"], "no-store");
    let favicon = app.client.get(format!("{}/favicon.svg", app.base)).send().await.unwrap();
    assert_eq!(favicon.status(), 200);
    assert_eq!(favicon.headers()["cache-control"], "public, max-age=3600");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_favicon_is_served_under_concurrent_page_loads_when_revalidated_too() {
    let app = spawn_app_with_files().await;
    let url = format!("{}/favicon.svg", app.base);
    let first = support::client().get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let modified = first.headers()["last-modified"].to_str().unwrap().to_owned();
    // What a browser does on a reload: the page, and the favicon revalidated.
    let loads = (0..32).map(|n| {
        let (base, url, modified) = (app.base.clone(), url.clone(), modified.clone());
        tokio::spawn(async move {
            let client = support::client();
            let (page, favicon) = tokio::join!(client.get(format!("{base}/checkout")).send(), async {
                let request = client.get(&url);
                if n % 2 == 0 { request.header("if-modified-since", modified).send().await } else { request.send().await }
            });
            (page.unwrap().status().as_u16(), favicon.unwrap().status().as_u16())
        })
    });
    for load in futures_util::future::join_all(loads).await {
        let (page, favicon) = load.unwrap();
        assert_eq!(page, 200);
        assert!(favicon == 200 || favicon == 304, "the favicon answered {favicon}");
    }
    let revalidated = support::client().get(&url).header("if-modified-since", &modified).send().await.unwrap();
    let st = revalidated.status();
    let hd = format!("{:?}", revalidated.headers());
    let tx = revalidated.text().await.unwrap();
    assert_eq!(st, 304, "{hd} {}", &tx[..tx.len().min(300)]);
    assert_eq!(support::client().get(format!("{}/images/no-such.svg", app.base)).send().await.unwrap().status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn site_files_are_served_from_memory_compressed_and_revalidated() {
    // The site root as a release build leaves it: each file with its gzip copy.
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("images")).unwrap();
    let svg = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/public/images/ceramic-mug.svg")).unwrap();
    std::fs::write(site.path().join("images/ceramic-mug.svg"), &svg).unwrap();
    std::fs::write(site.path().join("images/ceramic-mug.svg.gz"), gzip(&svg)).unwrap();
    let (config, _, _db) = support::config(&[("LEPTOS_SITE_ROOT", site.path().to_str().unwrap())]);
    let app = support::serve(config).await;
    let client = reqwest::Client::builder().no_gzip().no_brotli().timeout(std::time::Duration::from_secs(10)).build().unwrap();
    let url = format!("{}/images/ceramic-mug.svg", app.base);
    // From disk until the files are read (no ETag there), then from memory: wait for
    // that (bounded), never sleep a fixed time.
    let reply = support::poll_until(
        200,
        || async { client.get(&url).header("accept-encoding", "gzip").send().await.unwrap() },
        |reply: &reqwest::Response| reply.headers().contains_key("etag"),
    )
    .await;
    assert_eq!(reply.status(), 200);
    let on_disk = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/public/images/ceramic-mug.svg")).unwrap();
    let headers = reply.headers().clone();
    assert_eq!((headers["content-type"].to_str().unwrap(), headers["content-encoding"].to_str().unwrap()), ("image/svg+xml", "gzip"));
    assert_eq!(headers["cache-control"], "public, max-age=3600");
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&reply.bytes().await.unwrap()[..]), &mut unzipped).unwrap();
    assert_eq!(unzipped, on_disk);
    let etag = headers["etag"].to_str().unwrap();
    // RFC 9110 §13.1.2: the tag itself, weak or in a list, or `*`; another tag is no match.
    for (if_none_match, status) in [
        (etag.to_owned(), 304),
        (format!("W/{etag}"), 304),
        (format!("\"other\", {etag}"), 304),
        ("*".to_owned(), 304),
        ("\"other\"".to_owned(), 200),
    ] {
        let reply = client.get(&url).header("if-none-match", &if_none_match).send().await.unwrap();
        assert_eq!(reply.status(), status, "If-None-Match: {if_none_match}");
    }
    let by_date = client.get(&url).header("if-modified-since", &headers["last-modified"]).send().await.unwrap();
    assert_eq!(by_date.status(), 304);
    let head = client.head(&url).send().await.unwrap();
    assert_eq!((head.status().as_u16(), head.headers()["content-type"].to_str().unwrap()), (200, "image/svg+xml"));
    assert!(head.bytes().await.unwrap().is_empty());
    assert_eq!(client.get(format!("{}/images/no-such.svg", app.base)).send().await.unwrap().status(), 404);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Sends `GET path` on `stream` (HTTP/1.1, kept alive) and reads the whole reply;
/// returns its status line and how long it took.
async fn get_on(stream: &mut tokio::net::TcpStream, host: &str, path: &str) -> (String, std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let started = std::time::Instant::now();
    stream.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n\r\n").as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let mut buffer = [0_u8; 16 * 1024];
    loop {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the server closed the connection");
        reply.extend_from_slice(&buffer[..read]);
        let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&reply[..end]).to_lowercase();
        let length: usize =
            head.lines().find_map(|line| line.strip_prefix("content-length:")).expect("a content-length").trim().parse().unwrap();
        if reply.len() >= end + 4 + length {
            return (head.lines().next().unwrap().to_owned(), started.elapsed());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_on_a_reused_connection_are_not_held_back() {
    // A reply written as headers then body on a socket without TCP_NODELAY waits for
    // the client's delayed ACK of the headers: 40 ms, on a good part of the requests
    // that reuse a connection (a quarter to a third of them here). Once replies go out
    // as written, none of twenty waits anywhere near that; one slow answer is allowed
    // for a busy machine, the stall makes several.
    let app = spawn_app_with_files().await;
    let host = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    for path in ["/favicon.svg", "/images/ceramic-mug.svg", "/health"] {
        let mut times = Vec::new();
        for _ in 0..20 {
            let (status, took) = get_on(&mut stream, &host, path).await;
            assert_eq!(status, "http/1.1 200 ok", "{path}");
            times.push(took);
        }
        let stalled = times.iter().filter(|took| **took >= std::time::Duration::from_millis(30)).count();
        assert!(stalled <= 1, "{path}: {stalled} of 20 requests on one connection took 30 ms or more: {times:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_post_shows_its_error_but_a_forged_one_is_not_shown() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE;
    let app = spawn_app().await;
    // Without JavaScript: an unknown product is refused, back to the page with the error.
    let (client, location) = app.add_without_javascript(&[("product_id", "no-such-thing"), ("quantity", "1")]).await;
    assert!(location.contains("__err=") && location.contains("__seal="), "{location}");
    let page = client.get(&location).send().await.unwrap().text().await.unwrap();
    let refusal = storefront::i18n::Locale::En.texts().not_in_catalog();
    assert!(page.contains(refusal), "the page shows the refusal: {page}");

    // The same address with other words in it, sealed or not: the page shows nothing.
    let url = url::Url::parse(&location).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let error = &query.iter().find(|(key, _)| key == "__err").unwrap().1;
    let json = String::from_utf8(URL_SAFE.decode(error).unwrap()).unwrap();
    assert!(json.contains(refusal), "{json}");
    let forged = URL_SAFE.encode(json.replace(refusal, "Call +1 555 0100 to finish paying"));
    for keep_seal in [true, false] {
        let mut address = url.clone();
        address.query_pairs_mut().clear().extend_pairs(
            query
                .iter()
                .filter(|(key, _)| keep_seal || key != "__seal")
                .map(|(key, value)| (key.as_str(), if key == "__err" { forged.as_str() } else { value.as_str() })),
        );
        let page = client.get(address.as_str()).send().await.unwrap().text().await.unwrap();
        assert!(!page.contains("555 0100"), "a forged error is shown (seal kept: {keep_seal}): {page}");
        assert!(page.contains(r#"data-testid="product-ceramic-mug""#), "the page itself still renders");
    }
}

/// The address of the link with test id `testid` on `page`.
fn href(page: &str, testid: &str) -> Option<String> {
    let at = page.find(&format!("data-testid=\"{testid}\""))?;
    let link = &page[page[..at].rfind("href=\"")? + 6..];
    Some(link[..link.find('"')?].replace("&amp;", "&"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merchant_pages_through_every_subscription() {
    use storefront::store::{NewSubscription, SubscriptionState, SubscriptionTerms};
    let shop = support::Shop::start(&[("ADMIN_TOKEN", ADMIN)]).await;
    let start = 1_796_202_000;
    shop.store.create_session("sess_subscriber", start).await.unwrap();
    assert!(shop.store.create_account("acct_subscriber", "sub@example.com", "sub@example.com", "hash", start).await.unwrap());
    // 101 subscriptions, four to a second: one more than a page, with ties in time.
    for n in 0..101_i64 {
        let subscription = NewSubscription {
            id: format!("sub_page{n:03}"),
            account_id: "acct_subscriber".into(),
            session_id: "sess_subscriber".into(),
            terms: SubscriptionTerms {
                product_id: "coffee-beans".into(),
                name: "Coffee beans".into(),
                quantity: 1,
                unit_amount: 1_400,
                currency: "eur".into(),
                interval: "month".into(),
                interval_count: 1,
            },
            first_invoice_id: format!("in_page{n:03}"),
            first_payment_intent_id: None,
            email: None,
            locale: "en".into(),
            state: SubscriptionState {
                status: "active".into(),
                current_period_end: None,
                cancel_at_period_end: false,
                cancel_at: None,
                collection_paused: false,
                collection_resumes_at: None,
                renewal_card: None,
                cancellation_reason: None,
                next_payment_attempt: None,
            },
        };
        shop.store.insert_subscription(subscription, 0, start + n / 4).await.unwrap();
    }
    let rows = |page: &str| page.matches("data-testid=\"admin-subscription-sub_").count();
    let first = support::admin_page(&format!("{}/admin/subscriptions", shop.base), ADMIN).await;
    assert_eq!(rows(&first), 100);
    assert!(first.contains("sub_page100") && !first.contains("sub_page000"), "newest first");
    assert_eq!(href(&first, "admin-newest"), None);
    let older = href(&first, "admin-older").expect("a link to older subscriptions");
    let second = support::admin_page(&format!("{}{older}", shop.base), ADMIN).await;
    assert_eq!(rows(&second), 1, "{second}");
    assert!(second.contains("data-testid=\"admin-subscription-sub_page000\""), "{second}");
    assert_eq!((href(&second, "admin-older"), href(&second, "admin-newest").as_deref()), (None, Some("/admin/subscriptions")));
    // An unreadable cursor is the first page.
    let garbled = support::admin_page(&format!("{}/admin/subscriptions?after=yesterday", shop.base), ADMIN).await;
    assert_eq!(rows(&garbled), 100);
}

/// A shopper with more orders than the account page lists at a time pages back through
/// them, by a cursor (the last order shown), as the merchant does through theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_page_pages_through_the_shoppers_orders() {
    let shop = support::Shop::start(&[]).await;
    let form = [("email", "pages@example.com"), ("password", "correct horse battery staple")];
    support::post_form(&shop.shopper, format!("{}/api/account/sign-up", shop.base), &form).await;
    // 21 orders, a second apart: one more than a page.
    let start = 1_796_202_000;
    support::place_orders(&shop.store, "page-test", (0..21_i64).map(|n| (format!("ord_mine{n:02}"), start + n))).await;
    let account = shop.store.account_by_email("pages@example.com").await.unwrap().expect("the account").id;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&shop.db_url).await.unwrap();
    sqlx::query(&format!("UPDATE orders SET account_id = '{account}'")).execute(&pool).await.unwrap();
    pool.close().await;
    let shop = &shop;
    let page = |path: String| async move { shop.shopper.get(format!("{}{path}", shop.base)).send().await.unwrap().text().await.unwrap() };
    let rows = |page: &str| page.matches("data-testid=\"account-order-").count();

    let first = page("/account".into()).await;
    assert_eq!(rows(&first), 20, "{first}");
    assert!(first.contains("ord_mine20") && !first.contains("ord_mine00"), "newest first");
    assert_eq!(href(&first, "account-newest-orders"), None);
    let older = href(&first, "account-older-orders").expect("a link to older orders");
    let second = page(older).await;
    assert_eq!(rows(&second), 1, "{second}");
    assert!(second.contains("data-testid=\"account-order-ord_mine00\"") && second.contains("data-testid=\"signed-in-as\""), "{second}");
    assert_eq!((href(&second, "account-older-orders"), href(&second, "account-newest-orders").as_deref()), (None, Some("/account")));
    // An unreadable cursor is the latest page.
    assert_eq!(rows(&page("/account?orders_after=yesterday".into()).await), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_merchant_pages_through_every_order() {
    let shop = support::Shop::start(&[("ADMIN_TOKEN", ADMIN)]).await;
    // 101 orders, four to a second (2026-12-02 from 09:00 UTC): one more than a page.
    let start = 1_796_202_000;
    support::place_orders(&shop.store, "page-test", (0..101_i64).map(|n| (format!("ord_page{n:03}"), start + n / 4))).await;
    let rows = |page: &str| page.matches("data-testid=\"admin-order-").count();
    let first = support::admin_page(&format!("{}/admin/orders", shop.base), ADMIN).await;
    assert_eq!(rows(&first), 100);
    assert!(first.contains("ord_page100") && !first.contains("ord_page000"), "newest first");
    assert!(first.contains(r#"<time datetime="2026-12-02T09:00:25Z">2026-12-02 09:00 UTC</time>"#), "{first}");
    assert_eq!(href(&first, "admin-newest"), None);
    let older = href(&first, "admin-older").expect("a link to older orders");
    let second = support::admin_page(&format!("{}{older}", shop.base), ADMIN).await;
    assert_eq!(rows(&second), 1);
    assert!(second.contains("data-testid=\"admin-order-ord_page000\""), "{second}");
    assert_eq!((href(&second, "admin-older"), href(&second, "admin-newest").as_deref()), (None, Some("/admin/orders")));
    // The filter is kept from page to page; an unreadable cursor is the first page.
    let status = shop.store.list_orders(None, 1).await.unwrap()[0].status.as_str();
    let filtered = support::admin_page(&format!("{}/admin/orders?status={status}", shop.base), ADMIN).await;
    assert!(href(&filtered, "admin-older").is_some_and(|link| link.contains(&format!("status={status}"))), "{filtered}");
    let garbled = support::admin_page(&format!("{}/admin/orders?after=yesterday", shop.base), ADMIN).await;
    assert_eq!(rows(&garbled), 100);
}
