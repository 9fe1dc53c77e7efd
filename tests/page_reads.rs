//! A page reads what it shows before it renders, in as few units of work as it can:
//! the visitor (session, account, cart, last email) and the catalog page's stock in one
//! read, and only the order page, the account page and a signed-in checkout a second
//! (the order; the account's orders and subscriptions; where the account last shipped
//! and whether a card of its pays renewals). Rendering reads nothing. Counted from the
//! store's own `store::unit` events, attributed to the request that ran them through
//! the server's request span (a read runs on the request's task).

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Units of work (`read`, `write`) per request id.
#[derive(Clone, Default)]
struct Units(Arc<Mutex<HashMap<String, Vec<String>>>>);

/// A request span's id, kept in the span's extensions.
struct RequestId(String);

#[derive(Default)]
struct Fields {
    id: Option<String>,
    kind: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record_debug(field, &value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let value = format!("{value:?}").trim_matches('"').to_owned();
        match field.name() {
            "id" => self.id = Some(value),
            "kind" => self.kind = Some(value),
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Units {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attributes.metadata().name() != "request" {
            return;
        }
        let mut fields = Fields::default();
        attributes.record(&mut fields);
        if let (Some(span), Some(request)) = (ctx.span(id), fields.id) {
            span.extensions_mut().insert(RequestId(request));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if event.metadata().target() != "store::unit" {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let request = ctx
            .event_scope(event)
            .and_then(|scope| scope.from_root().find_map(|span| span.extensions().get::<RequestId>().map(|id| id.0.clone())));
        if let (Some(request), Some(kind)) = (request, fields.kind) {
            self.0.lock().unwrap().entry(request).or_default().push(kind);
        }
    }
}

impl Units {
    fn of(&self, request: &str) -> (usize, usize) {
        let units = self.0.lock().unwrap().get(request).cloned().unwrap_or_default();
        (units.iter().filter(|kind| *kind == "read").count(), units.iter().filter(|kind| *kind == "write").count())
    }
}

/// The header's cart count in a page.
fn cart_count(html: &str) -> Option<&str> {
    let tag = &html[html.find(r#"data-testid="cart-count""#)?..];
    let text = &tag[tag.find('>')? + 1..];
    Some(&text[..text.find('<')?])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_page_reads_once_before_it_renders() {
    let units = Units::default();
    let subscriber = tracing_subscriber::registry().with(
        units.clone().with_filter(
            tracing_subscriber::filter::Targets::new()
                .with_target("store::unit", tracing::Level::TRACE)
                .with_target("storefront", tracing::Level::INFO),
        ),
    );
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let (config, _, _dir) = support::config(&[]);
    let shop = support::serve(config).await;
    let shopper = support::shopper();
    let added =
        support::post_form(&shopper, format!("{}/api/cart/add", shop.base), &[("product_id", "ceramic-mug"), ("quantity", "2")]).await;
    assert_eq!(added["item_count"], 2, "{added}");

    let calls = std::sync::atomic::AtomicU32::new(0);
    let page = async |path: &str, status: u16| {
        let request = format!("page-{}", calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let response = shopper.get(format!("{}{path}", shop.base)).header("x-request-id", &request).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let html = response.text().await.unwrap();
        assert_eq!(cart_count(&html), Some("2"), "{path} shows the cart's count: {html}");
        units.of(&request)
    };
    // The visitor and, on the catalog, the page's stock: one read, nothing written.
    assert_eq!(page("/", 200).await, (1, 0), "the catalog");
    assert_eq!(page("/?page=2", 200).await, (1, 0), "the catalog's second page");
    assert_eq!(page("/cart", 200).await, (1, 0), "the cart");
    assert_eq!(page("/checkout", 200).await, (1, 0), "the checkout");
    assert_eq!(page("/checkout/complete", 200).await, (1, 0), "the result page without a payment");
    assert_eq!(page("/no-such-page", 404).await, (1, 0), "the 404 page");
    // Then what the page is about.
    assert_eq!(page("/orders/ord_0123456789abcdef01234567", 404).await, (2, 0), "an order page: the visitor, then the order");

    let signed_up = support::post_form(
        &shopper,
        format!("{}/api/account/sign-up", shop.base),
        &[("email", "reads@example.com"), ("password", "a long enough password")],
    )
    .await;
    assert!(signed_up.is_null(), "{signed_up}");
    let (reads, _) = page("/account", 200).await;
    assert_eq!(reads, 2, "the account page: the visitor with the account, then its orders and subscriptions");
    // The account comes with the visitor; where it last shipped, and whether a card of
    // its pays a subscription's renewals (its CustomerSession's remove), in one more.
    assert_eq!(
        page("/checkout", 200).await.0,
        2,
        "a signed-in checkout: the visitor with the account, then its last shipping address and renewing cards"
    );
}
