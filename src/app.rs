//! The HTML document around every page and the page chrome (header, language switch),
//! rendered on the server only. Each page's data is read before it renders
//! (`server::pages`); nothing here waits or reads.

use crate::error::AppError;
use leptos::prelude::*;

/// What every page's document carries besides the page; fixed for the server's life.
#[derive(Clone, Debug)]
pub struct Document {
    /// Stripe.js, loaded on every page, as Stripe recommends (fraud signals).
    pub stripe_js_url: String,
    /// The Content-Security-Policy, with `{nonce}` for this response's nonce: the page
    /// runs only the scripts the server marked with it, and what they load.
    pub csp: String,
    /// `/pkg/…css`, content-hashed when built so.
    pub stylesheet: String,
    /// The wasm bundle, for the pages with an island.
    pub bundle: Bundle,
    /// `cargo leptos watch`'s live-reload script, when it runs the server.
    pub auto_reload: Option<String>,
    /// The shop's name: the pages' title and the header's brand.
    pub shop_name: String,
}

/// The wasm bundle's JS glue and module (`/pkg/…`, content-hashed names when built so),
/// and the script that loads the lazy islands' modules (`#[island(lazy)]`, built with
/// `cargo leptos --split`).
#[derive(Clone, Debug)]
pub struct Bundle {
    pub js: String,
    pub wasm: String,
    pub split_js: Option<String>,
}

impl Bundle {
    /// A script expression: the promise of the wasm compiled as its bytes arrive (from
    /// the head, while the rest of the page loads; `IslandLoader` instantiates it).
    pub fn compiling(&self) -> String {
        format!("WebAssembly.compileStreaming(fetch({:?}))", self.wasm)
    }
}

/// What a page tells its document: the head's extras and the header's cart count.
#[derive(Clone, Debug, Default)]
pub struct PageHead {
    /// The page has an island: the `<head>` starts loading the bundle (the module, and
    /// the wasm compiled as it streams in) before Stripe.js and the rest of the page.
    pub island: bool,
    /// `<meta http-equiv="refresh">` after this many seconds.
    pub refresh_secs: Option<u32>,
    /// The number of items in the shopper's cart, for the header.
    pub cart_count: u32,
    /// The address the browser shows instead of the one requested, whose query asked
    /// for a notice once (`/checkout?cart_changed=1`): reloading the page or coming back
    /// to it later then shows it without.
    pub shown_address: Option<&'static str>,
}

/// The whole HTML document: `page` inside the chrome, rendered to a string.
pub fn document(document: &Document, head: &PageHead, nonce: &str, page: impl IntoView) -> String {
    let locale = crate::i18n::use_locale();
    let lang = locale.tag();
    let bundle = &document.bundle;
    let island = head.island.then(|| {
        let split = bundle.split_js.clone().map(|js| view! { <link rel="modulepreload" href=js nonce=nonce.to_owned()/> });
        // The preload scanner fetches both before the inline script below runs; its
        // `import` and `fetch` then take these responses.
        view! {
            <link rel="modulepreload" href=bundle.js.clone() nonce=nonce.to_owned()/>
            <link rel="preload" href=bundle.wasm.clone() r#as="fetch" r#type="application/wasm" crossorigin="anonymous"/>
            <script nonce=nonce.to_owned()>{format!("window.__wasm = {};{}", bundle.compiling(), unfinished(locale))}</script>
            {split}
        }
    });
    let refresh = head.refresh_secs.map(|secs| view! { <meta http-equiv="refresh" content=secs.to_string()/> });
    let reload = document.auto_reload.clone().map(|script| view! { <script nonce=nonce.to_owned()>{script}</script> });
    let address = head.shown_address.map(
        |address| view! { <script nonce=nonce.to_owned()>{format!("history.replaceState(history.state, '', {address:?});")}</script> },
    );
    view! {
        <!DOCTYPE html>
        <html lang=lang>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // First (an inline script waits for the stylesheets above it): an island
                // page's script that starts loading the bundle.
                {island}
                {refresh}
                <title>{document.shop_name.clone()}</title>
                <link id="leptos" rel="stylesheet" href=document.stylesheet.clone()/>
                // Parser-blocking only where an island calls it as it hydrates; elsewhere
                // it loads (for Stripe's fraud signals) without holding up the page.
                <script src=document.stripe_js_url.clone() r#async=!head.island nonce=nonce.to_owned()></script>
                {head.island.then(|| view! { <IslandLoader bundle=bundle.clone() nonce=nonce.to_owned()/> })}
                {reload}
                {address}
            </head>
            <body>
                <a class="skip-link" href="#main">{locale.texts().skip_to_content()}</a>
                <Header shop=document.shop_name.clone() cart_count=head.cart_count/>
                <main id="main">{page}</main>
                // A page without an island is interactive once it is parsed: its forms
                // work then. Said from its end, as the parser gets there.
                {(!head.island).then(|| view! { <script nonce=nonce.to_owned()>"document.body.dataset.hydrated = 'true';"</script> })}
            </body>
        </html>
    }
    .to_html()
}

/// A script defining `window.__unfinished(error)`, which says at the top of the page, in
/// the shopper's language, that it could not finish loading and what to do: the
/// islands' loader calls it when the wasm did not arrive or hydrating failed, and so
/// does a failed `import` of the bundle's JS (an `error` event at the loader's module
/// script, caught here before it happens). The page's forms that need no JavaScript
/// still work; Stripe's do not.
fn unfinished(locale: crate::i18n::Locale) -> String {
    let text = locale.texts().page_unfinished();
    format!(
        "window.__unfinished = (error) => {{\
           console.error(error);\
           const said = document.createElement('p');\
           said.className = 'error';\
           said.setAttribute('role', 'alert');\
           said.dataset.testid = 'page-unfinished';\
           said.textContent = {text:?};\
           document.getElementById('main').prepend(said);\
         }};\
         addEventListener('error', (event) => {{\
           if (event.target.type === 'module') window.__unfinished(new Error('the bundle did not load'));\
         }}, true);"
    )
}

/// On a page with islands: hydrates them, then marks `<body data-hydrated="true">` (the
/// contract's signal that the page is interactive). A page without an island loads no
/// wasm at all, and its end says it is interactive (see [`document`]). (Leptos' own
/// `HydrationScripts` loads the bundle on every page and says nothing once the islands
/// are hydrated.)
///
/// A module script in the head: deferred, it runs once the document is parsed, every
/// island in it. It imports the bundle's JS statically, so the parser has it before it
/// runs the script (a dynamic `import()` settled a task or more later, sometimes after
/// the first layout and paint), and it is render-blocking until then. When the wasm has
/// compiled by the end of parsing too, the islands hydrate (and Elements mount) before
/// the page's first layout, as the reference's inline script does. An island the bundle
/// has no function for (the page and `/pkg` from different builds), a wasm that did not
/// arrive or a failed hydration is said on the page ([`unfinished`]) and in the console,
/// and the page is then never marked hydrated.
#[component]
fn IslandLoader(bundle: Bundle, nonce: String) -> impl IntoView {
    let script = format!(
        "import * as bundle from {:?};\
         try {{\
           bundle.initSync({{ module: await window.__wasm }});\
           bundle.hydrate();\
           for (const island of document.querySelectorAll('leptos-island')) {{\
             const hydrate = bundle[island.dataset.component];\
             if (!hydrate) throw new Error(`no island ${{island.dataset.component}} in the bundle: the page and /pkg are from different builds`);\
             await hydrate(island);\
           }}\
           document.body.dataset.hydrated = 'true';\
         }} catch (error) {{\
           window.__unfinished(error);\
         }}",
        bundle.js
    );
    view! { <script type="module" blocking="render" nonce=nonce>{script}</script> }
}

#[component]
fn Header(shop: String, cart_count: u32) -> impl IntoView {
    let t = crate::i18n::use_locale().texts();
    view! {
        <header class="site-header">
            <a href="/" class="brand">{shop}</a>
            <nav aria-label=t.nav_main()>
                <a href="/account">{t.account()}</a>
                <a href="/cart" class="cart-link">{t.cart()} " " <span class="count" data-testid="cart-count">{cart_count}</span></a>
                <LanguageSwitch/>
            </nav>
        </header>
    }
}

/// A button to the other language: a plain form; the server sends the browser back to
/// the page, which loads again in that language.
#[component]
fn LanguageSwitch() -> impl IntoView {
    let current = crate::i18n::use_locale();
    let set = ServerAction::<SetLocale>::new();
    crate::i18n::Locale::ALL
        .into_iter()
        .filter(|locale| *locale != current)
        .map(|locale| {
            view! {
                <ActionForm action=set attr:class="language-switch">
                    <input type="hidden" name="locale" value=locale.tag()/>
                    <button type="submit" lang=locale.tag() data-testid=format!("language-{}", locale.tag())
                        aria-label=format!("{}: {}", current.texts().language(), locale.name())>
                        {locale.name()}
                    </button>
                </ActionForm>
            }
        })
        .collect_view()
}

/// The page of an address that names nothing.
#[component]
pub fn NotFoundPage() -> impl IntoView {
    let t = crate::i18n::use_locale().texts();
    view! {
        <h1>{t.not_found_title()}</h1>
        <p><a href="/">{t.back_to_shop()}</a></p>
    }
}

/// Remembers the shopper's language for a year. A plain form post works without
/// JavaScript (the server sends the browser back to the page it came from).
#[server(endpoint = "locale/set", output = crate::error::JsonReply)]
pub async fn set_locale(locale: String) -> Result<(), AppError> {
    let locale = crate::i18n::Locale::parse(&locale).ok_or_else(|| AppError::invalid("Unknown language / langue inconnue."))?;
    let cookie = format!("{}={}; Path=/; Max-Age=31536000; SameSite=Lax", crate::i18n::COOKIE, locale.tag());
    if let (Some(response), Ok(value)) = (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(&cookie)) {
        response.append_header(http::header::SET_COOKIE, value);
    }
    Ok(())
}
