//! Middleware around every route: request ids (accepted from a proxy or generated,
//! echoed in `x-request-id` and present on every log line of the request), request
//! tracing, writes (from the shop's own pages, their bodies read whole within a size
//! limit and a deadline), baseline security headers, the HTTP status of
//! server-function errors, and `Retry-After` on every 503.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::i18n::{Locale, Texts};

use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Largest request body for pages and server functions (forms are tiny).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest webhook delivery accepted.
pub const MAX_WEBHOOK_BYTES: usize = 512 * 1024;

/// The pages' Content-Security-Policy, with `{nonce}` where each response's nonce goes:
/// scripts only with the nonce (and what they load: `strict-dynamic`), WebAssembly, and
/// Stripe.js's own origins for frames and API calls; no plugins, no framing of the shop.
/// The Stripe origins follow Stripe's published list when Stripe.js comes from
/// js.stripe.com, and the configured origin otherwise (the emulator).
pub fn content_security_policy(stripe_js_url: &str, site: &leptos::config::LeptosOptions) -> String {
    let origin = |url: &str| -> String {
        url.parse::<http::Uri>().ok().and_then(|uri| Some(format!("{}://{}", uri.scheme_str()?, uri.authority()?))).unwrap_or_default()
    };
    let js = origin(stripe_js_url);
    let (scripts, frames, connect, images) = if js == "https://js.stripe.com" {
        (
            "https://js.stripe.com https://*.js.stripe.com".to_owned(),
            "https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com".to_owned(),
            "https://api.stripe.com".to_owned(),
            "https://*.stripe.com".to_owned(),
        )
    } else {
        (js.clone(), js.clone(), js.clone(), js)
    };
    // `cargo leptos watch` (which sets LEPTOS_WATCH) injects a live-reload script that
    // opens a websocket to the page's host on the reload port.
    let reload = if site.env == leptos::config::Env::DEV || std::env::var_os("LEPTOS_WATCH").is_some() {
        let port = site.reload_external_port.unwrap_or(site.reload_port);
        let mut hosts = vec![site.site_addr.ip().to_string(), "127.0.0.1".to_owned(), "localhost".to_owned()];
        hosts.dedup();
        hosts.iter().map(|host| format!(" ws://{host}:{port}")).collect::<String>()
    } else {
        String::new()
    };
    format!(
        "default-src 'self'; script-src 'nonce-{{nonce}}' 'strict-dynamic' 'wasm-unsafe-eval' {scripts}; \
         frame-src {frames}; connect-src 'self' {connect}{reload}; img-src 'self' data: {images}; \
         style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Files of the site root (favicon, images; their names carry no hash): kept by the
/// browser for an hour, then revalidated (a 304 while unchanged).
pub async fn static_file_caching<B>(mut response: Response<B>) -> Response<B> {
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(super::assets::SITE_FILE_CACHING));
    }
    response
}

/// How long a client is asked to wait before trying again after a 503 (Stripe or the
/// database unavailable). Stripe's own client has already retried by then, so the outage
/// is more than a blip; a few seconds is what a shopper waits before pressing again.
pub const RETRY_UNAVAILABLE_AFTER_SECS: u32 = 5;

/// Every 503 says when to try again (RFC 9110, 10.2.3): clients, proxies and load
/// balancers that honour it wait instead of hammering a shop that is waiting for
/// Stripe or its database. A reply that already says (none does today) keeps its own.
pub async fn retry_after_unavailable<B>(mut response: Response<B>) -> Response<B> {
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().entry(header::RETRY_AFTER).or_insert(HeaderValue::from(RETRY_UNAVAILABLE_AFTER_SECS));
    }
    response
}

/// What the shop takes from a write (a POST, PUT, PATCH or DELETE): where it may come
/// from, and how its body may arrive.
#[derive(Clone, Debug)]
pub struct Writes {
    /// `scheme://host[:port]` of the shop's public URL.
    public_origin: std::sync::Arc<str>,
    max_body_bytes: usize,
    body_within: std::time::Duration,
    /// The language of a refusal to a request that asks for none we speak.
    default_locale: Locale,
}

impl Writes {
    /// Bodies of at most `max_body_bytes`, all of it within 30 s (Node's HTTP server
    /// allows a request 300 s).
    pub fn new(public_origin: std::sync::Arc<str>, max_body_bytes: usize, default_locale: Locale) -> Writes {
        Writes { public_origin, max_body_bytes, body_within: std::time::Duration::from_secs(30), default_locale }
    }
}

/// How a request is refused before its handler runs, in the language it asks for. A
/// server function's caller (`/api/…`) reads every error of its replies as a JSON
/// [`AppError`], so it gets one here too, with the refusal's status; other writes (the
/// merchant's forms, Stripe's webhooks) get the sentence as text.
#[derive(Clone, Copy, Debug)]
pub struct Refusal {
    locale: Locale,
    server_function: bool,
}

impl Refusal {
    /// For a request with this head (made only to refuse it: it reads the headers).
    pub fn of(headers: &http::HeaderMap, uri: &http::Uri, default_locale: Locale) -> Refusal {
        Refusal { locale: crate::i18n::locale_of(headers, default_locale), server_function: uri.path().starts_with("/api/") }
    }

    /// The reply: `NotFound` for a 404, `Invalid` for any other status.
    pub fn reply(self, status: StatusCode, message: fn(&Texts) -> &'static str) -> Response {
        let message = message(self.locale.texts());
        if !self.server_function {
            return (status, message).into_response();
        }
        let error = if status == StatusCode::NOT_FOUND { AppError::NotFound(message.into()) } else { AppError::invalid(message) };
        (status, axum::Json(error)).into_response()
    }
}

/// Whether a request's body can be a server function's arguments: form-encoded, or
/// none. (A JSON body would otherwise be read as a form with no fields, and refused
/// for the first field it lacks.)
pub fn form_encoded<B>(request: &Request<B>) -> bool {
    request.headers().get(header::CONTENT_TYPE).is_none_or(|value| {
        let media_type = value.to_str().unwrap_or_default().split(';').next().unwrap_or_default();
        media_type.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")
    })
}

/// A write, before its handler runs (reads pass untouched):
///
/// - Refused (403) when a browser says it comes from another site
///   ([`from_another_site`]); clients that say nothing (scripts, Stripe's webhooks, the
///   tests) are not browsers carrying a shopper's cookies, and pass. Against login CSRF
///   above all: `SameSite=Lax` keeps the session cookie off cross-site posts, but
///   signing in needs no cookie, so another site could otherwise sign a shopper in to
///   its own account.
/// - Its body read whole: a 413 when it is larger than allowed (said by
///   `Content-Length` or found while reading), a 408 when it has not all arrived in
///   time. Without a deadline a client that sends a body a byte at a time holds its
///   connection for as long as it likes; and every handler here reads the whole body
///   anyway (forms, JSON, a webhook's signed bytes).
pub async fn writes(
    axum::extract::State(writes): axum::extract::State<Writes>,
    request: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    use http_body_util::BodyExt;
    if matches!(*request.method(), http::Method::GET | http::Method::HEAD | http::Method::OPTIONS) {
        return next.run(request).await;
    }
    if from_another_site(request.headers(), &writes.public_origin) {
        let origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("?");
        tracing::warn!(%origin, "refused a cross-site request");
        return Refusal::of(request.headers(), request.uri(), writes.default_locale)
            .reply(StatusCode::FORBIDDEN, Texts::request_cross_site);
    }
    let declared = request.headers().get(header::CONTENT_LENGTH).and_then(|length| length.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > writes.max_body_bytes as u64) {
        return Refusal::of(request.headers(), request.uri(), writes.default_locale)
            .reply(StatusCode::PAYLOAD_TOO_LARGE, Texts::request_too_large);
    }
    let (parts, body) = request.into_parts();
    let refuse = |status, message| Refusal::of(&parts.headers, &parts.uri, writes.default_locale).reply(status, message);
    match tokio::time::timeout(writes.body_within, http_body_util::Limited::new(body, writes.max_body_bytes).collect()).await {
        Ok(Ok(body)) => next.run(Request::from_parts(parts, Body::from(body.to_bytes()))).await,
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => refuse(StatusCode::PAYLOAD_TOO_LARGE, Texts::request_too_large),
        Ok(Err(_)) => refuse(StatusCode::BAD_REQUEST, Texts::request_unreadable),
        Err(_) => refuse(StatusCode::REQUEST_TIMEOUT, Texts::request_too_slow),
    }
}

/// Whether a browser says this write comes from a page of another site. Its own word
/// first (Fetch Metadata's `Sec-Fetch-Site`, which compares the page's origin with the
/// request's, so it holds behind a proxy too): anything but `same-origin` (or `none`, a
/// request the user made, not a page) is another site's. A browser too old to send it
/// still sends `Origin`, which must then name this request's host or the shop's public
/// URL. A client with neither is no browser carrying a shopper's cookies.
fn from_another_site(headers: &http::HeaderMap, public_origin: &str) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return false };
    let origin = origin.to_str().unwrap_or_default();
    let authority = origin.split_once("://").map(|(_, rest)| rest);
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let same_host = authority.is_some() && authority == host;
    !same_host && origin != public_origin
}

pub fn apply(router: Router) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", id = %id, method = %request.method(), path = %request.uri().path())
        }))
        .layer(PropagateRequestIdLayer::new(request_id))
        .layer(axum::middleware::map_response(retry_after_unavailable))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("strict-origin-when-cross-origin")))
        // Pages and replies are about a shopper (their cart, their order, a client
        // secret): no browser or proxy keeps a copy. Static files say otherwise.
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        // Pages and server-function replies compressed for browsers that ask (`/pkg`
        // files arrive already compressed and pass through untouched).
        .layer(CompressionLayer::new());
    router.layer(layers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Bytes;
    use futures_util::StreamExt;
    use tower::ServiceExt;

    /// A route that echoes its body, behind `writes` (10 bytes, within 200 ms).
    async fn post(body: Body, content_length: Option<&str>) -> (StatusCode, String) {
        post_to("/", body, &[(header::CONTENT_LENGTH, content_length)]).await
    }

    /// The same at `path` (a server function's, `/api/…`, or another), with these headers.
    async fn post_to(path: &str, body: Body, headers: &[(HeaderName, Option<&str>)]) -> (StatusCode, String) {
        let limits = Writes {
            public_origin: "http://shop".into(),
            max_body_bytes: 10,
            body_within: std::time::Duration::from_millis(200),
            default_locale: Locale::En,
        };
        let echo = Router::new()
            .route("/", axum::routing::post(|body: Bytes| async move { body }))
            .route("/api/echo", axum::routing::post(|body: Bytes| async move { body }))
            .layer(axum::middleware::from_fn_with_state(limits, writes));
        let mut request = Request::post(path).body(body).unwrap();
        for (name, value) in headers {
            if let Some(value) = value {
                request.headers_mut().insert(name, HeaderValue::from_str(value).unwrap());
            }
        }
        let response = echo.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A body sent in pieces, as a client does with chunked encoding (no size known).
    fn in_pieces(pieces: &[&'static str]) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + use<> {
        futures_util::stream::iter(pieces.iter().map(|piece| Ok(Bytes::from_static(piece.as_bytes()))).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn a_body_arrives_whole_or_is_refused_clearly() {
        assert_eq!(post(Body::from("0123456789"), None).await, (StatusCode::OK, "0123456789".to_owned()));
        assert_eq!(post(Body::from_stream(in_pieces(&["01234", "56789"])), None).await, (StatusCode::OK, "0123456789".to_owned()));
        // Too large, as declared or as it turns out.
        assert_eq!(post(Body::from("0"), Some("11")).await.0, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(post(Body::from_stream(in_pieces(&["01234", "56789", "x"])), None).await.0, StatusCode::PAYLOAD_TOO_LARGE);
        // A body that stops arriving: refused once the time is up.
        let stalled = in_pieces(&["012"]).chain(futures_util::stream::pending());
        let (status, message) = post(Body::from_stream(stalled), None).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{message}");
    }

    #[tokio::test]
    async fn a_server_functions_caller_is_refused_in_json_in_its_language() {
        let too_large = [(header::CONTENT_LENGTH, Some("11")), (header::ACCEPT_LANGUAGE, Some("fr-FR,fr;q=0.9"))];
        let (status, body) = post_to("/api/echo", Body::from("0"), &too_large).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let error: AppError = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert!(matches!(&error, AppError::Invalid(message) if message == crate::i18n::FR.request_too_large()), "{error:?}");
        let cross_site = [(header::ORIGIN, Some("https://evil.example"))];
        let (status, body) = post_to("/api/echo", Body::from("0"), &cross_site).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let error: AppError = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert!(matches!(&error, AppError::Invalid(message) if message == crate::i18n::EN.request_cross_site()), "{error:?}");
        // Anything else (the merchant's forms, webhooks): the sentence, as text.
        assert_eq!(
            post_to("/", Body::from("0"), &cross_site).await,
            (StatusCode::FORBIDDEN, crate::i18n::EN.request_cross_site().to_owned())
        );
    }

    #[tokio::test]
    async fn every_unavailable_reply_says_when_to_try_again() {
        let shop = apply(
            Router::new()
                .route("/down", axum::routing::get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
                .route("/up", axum::routing::get(|| async { StatusCode::OK }))
                .route("/busy", axum::routing::get(|| async { (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "60")]) })),
        );
        let retry_after = |path: &'static str| {
            let shop = shop.clone();
            async move {
                let response = shop.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
                response.headers().get(header::RETRY_AFTER).map(|value| value.to_str().unwrap().to_owned())
            }
        };
        assert_eq!(retry_after("/down").await.as_deref(), Some("5"));
        assert_eq!(retry_after("/busy").await.as_deref(), Some("60"), "a reply's own is kept");
        assert_eq!(retry_after("/up").await, None);
    }

    #[test]
    fn a_write_is_another_sites_when_the_browser_says_so() {
        let says = |pairs: &[(&'static str, &'static str)]| {
            let mut headers = http::HeaderMap::new();
            for (name, value) in pairs {
                headers.insert(*name, HeaderValue::from_static(value));
            }
            from_another_site(&headers, "https://shop.example")
        };
        // Fetch Metadata, whatever `Origin` says.
        assert!(says(&[("sec-fetch-site", "cross-site")]));
        assert!(says(&[("sec-fetch-site", "same-site"), ("origin", "https://shop.example")]));
        assert!(!says(&[("sec-fetch-site", "same-origin"), ("origin", "https://shop.example")]));
        assert!(!says(&[("sec-fetch-site", "none")]));
        // Without it: `Origin`, this request's host or the public URL.
        assert!(says(&[("origin", "https://evil.example"), ("host", "shop.example")]));
        assert!(says(&[("origin", "null"), ("host", "shop.example")]));
        assert!(!says(&[("origin", "http://10.0.0.5:3000"), ("host", "10.0.0.5:3000")]));
        assert!(!says(&[("origin", "https://shop.example"), ("host", "10.0.0.5:3000")]));
        // Neither: not a browser.
        assert!(!says(&[("host", "shop.example")]));
    }

    #[test]
    fn server_function_arguments_are_form_encoded_or_absent() {
        let with = |content_type: Option<&str>| {
            let mut request = Request::post("/api/cart/add").body(()).unwrap();
            if let Some(value) = content_type {
                request.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            }
            form_encoded(&request)
        };
        assert!(with(None));
        assert!(with(Some("application/x-www-form-urlencoded")));
        assert!(with(Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8")));
        assert!(!with(Some("application/json")));
        assert!(!with(Some("multipart/form-data; boundary=x")));
        assert!(!with(Some("text/plain")));
    }

    #[test]
    fn with_real_stripe_the_policy_lists_stripes_published_origins() {
        let site = leptos::config::LeptosOptions::builder().output_name("storefront").build();
        let csp = content_security_policy("https://js.stripe.com/endive/stripe.js", &site);
        assert!(
            csp.contains("script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval' https://js.stripe.com https://*.js.stripe.com;"),
            "{csp}"
        );
        assert!(csp.contains("frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com;"), "{csp}");
        // The builder's default is development: the live-reload socket is allowed too.
        assert!(csp.contains("connect-src 'self' https://api.stripe.com ws://127.0.0.1:3001 ws://localhost:3001;"), "{csp}");
        let emulated = content_security_policy("http://127.0.0.1:12111/v3/", &site);
        assert!(emulated.contains("frame-src http://127.0.0.1:12111;") && !emulated.contains("stripe.com"), "{emulated}");
    }
}
