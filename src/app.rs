//! The HTML document (`shell`) and the application: page chrome, shared cart state and
//! the router of pages.

use crate::account::AccountPage;
use crate::cart::{CartCount, CartPage, CartState};
use crate::catalog::{CatalogPage, get_shop_info};
use crate::checkout::{CheckoutCompletePage, CheckoutPage, ReturnedPayment};
use crate::error::AppError;
use crate::orders::OrderPage;
use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// What every page's document carries besides the app; fixed for the server's life.
#[derive(Clone, Debug)]
pub struct Document {
    /// Stripe.js, loaded on every page, as Stripe recommends (fraud signals).
    pub stripe_js_url: String,
    /// The Content-Security-Policy, with `{nonce}` for this response's nonce: the page
    /// runs only the scripts the server marked with it, and what they load.
    pub csp: Option<std::sync::Arc<str>>,
    /// The wasm bundle, for the pages with an island.
    pub bundle: Bundle,
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
    /// A script expression: the bundle fetched, compiled and instantiated (a promise of
    /// its module). The module and the wasm are fetched at once, and the wasm compiles
    /// as its bytes arrive, not once the JS module has loaded.
    pub fn loading(&self) -> String {
        format!(
            "Promise.all([import({:?}), WebAssembly.compileStreaming(fetch({:?}))])\
             .then(async ([bundle, wasm]) => {{ await bundle.default({{ module_or_path: wasm }}); return bundle; }})",
            self.js, self.wasm
        )
    }
}

/// Put on a page beside its island: a script in the `<head>` starts loading the bundle
/// (the module, and the wasm compiled as it streams in) before Stripe.js and the rest
/// of the page, and the loader at the end of the page awaits it. (Only the page knows
/// it has an island, so it adds the script through `leptos_meta`.)
#[component]
pub fn IslandAssets() -> impl IntoView {
    let bundle = use_context::<Bundle>()?;
    let nonce = leptos::nonce::use_nonce();
    // The lazy islands' loader, which the bundle's module imports.
    let split = bundle.split_js.clone().map(|js| view! { <link rel="modulepreload" href=js nonce=nonce/> });
    Some(view! {
        <leptos_meta::Script>{format!("window.__islands = {};", bundle.loading())}</leptos_meta::Script>
        {split}
    })
}

/// The whole HTML document, rendered on the server only.
pub fn shell(options: LeptosOptions, document: Document) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    let Document { stripe_js_url, csp, bundle } = document;
    #[cfg(feature = "ssr")]
    if let (Some(csp), Some(nonce), Some(response)) = (csp, &nonce, use_context::<leptos_axum::ResponseOptions>())
        && let Ok(value) = http::HeaderValue::from_str(&csp.replace("{nonce}", nonce))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
    #[cfg(not(feature = "ssr"))]
    let _ = csp;
    // Islands: the page is not hydrated, so nothing of it is serialised for the browser
    // but what an island (which turns hydration back on for itself) needs. Leptos'
    // `HydrationScripts` would say so; `IslandLoader` stands in for it.
    if let Some(shared) = Owner::current_shared_context() {
        shared.set_is_hydrating(false);
    }
    let lang = crate::i18n::use_locale().tag();
    provide_context(bundle.clone());
    view! {
        <!DOCTYPE html>
        <html lang=lang>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // First (an inline script waits for the stylesheets above it): an island
                // page's script that starts loading the bundle.
                <MetaTags/>
                <HashedStylesheet options=options.clone() id="leptos"/>
                <script src=stripe_js_url nonce=nonce.clone()></script>
                <AutoReload options/>
            </head>
            <body>
                <App/>
                <IslandLoader bundle/>
            </body>
        </html>
    }
}

/// Hydrates the page's islands, if it has any, then marks `<body data-hydrated="true">`
/// (the contract's signal that the page is interactive). A page without an island loads
/// no wasm at all. (Leptos' own `HydrationScripts` loads the bundle on every page and
/// says nothing once the islands are hydrated.) A module script, for its top-level `await`.
#[component]
fn IslandLoader(bundle: Bundle) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    let script = format!(
        "const islands = document.querySelectorAll('leptos-island');\
         if (islands.length) {{\
           const bundle = await (window.__islands ?? {});\
           bundle.hydrate();\
           for (const island of islands) await bundle[island.dataset.component]?.(island);\
         }}\
         document.body.dataset.hydrated = 'true';",
        bundle.loading()
    );
    // `async`: it runs when the parser reaches it (the end of the body, every island
    // above it), not after the document's first layout and paint as a deferred module
    // script would.
    view! { <script type="module" async nonce=nonce>{script}</script> }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Router>
            <Page/>
        </Router>
    }
}

/// The page chrome around the routes, with what the pages share.
#[component]
fn Page() -> impl IntoView {
    let returned = ReturnedPayment::on_result_page();
    if let Some(returned) = returned {
        provide_context(returned);
    }
    provide_context(CartState::new(returned));
    view! {
            <a class="skip-link" href="#main">{crate::i18n::use_locale().texts().skip_to_content()}</a>
            <Header/>
            <main id="main">
                // Async: each page is sent whole once its data is ready, so it is
                // complete and usable before (and without) the wasm bundle.
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=CatalogPage ssr=SsrMode::Async/>
                    <Route path=path!("/cart") view=CartPage ssr=SsrMode::Async/>
                    <Route path=path!("/checkout") view=CheckoutPage ssr=SsrMode::Async/>
                    <Route path=path!("/checkout/complete") view=CheckoutCompletePage ssr=SsrMode::Async/>
                    <Route path=path!("/orders/:id") view=OrderPage ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                </Routes>
            </main>
    }
}

#[component]
fn Header() -> impl IntoView {
    let shop = OnceResource::new(get_shop_info());
    let t = crate::i18n::use_locale().texts();
    view! {
        <header class="site-header">
            <Suspense fallback=move || view! { <A href="/" attr:class="brand">{t.shop()}</A> }>
                {move || Suspend::new(async move {
                    let name = shop.await.map(|info| info.name).unwrap_or_else(|_| t.shop().into());
                    view! {
                        <Title text=name.clone()/>
                        <A href="/" attr:class="brand">{name}</A>
                    }
                })}
            </Suspense>
            <nav aria-label=t.nav_main()>
                <A href="/account">{t.account()}</A>
                <A href="/cart" attr:class="cart-link">{t.cart()} " " <CartCount/></A>
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

#[component]
fn NotFound() -> impl IntoView {
    crate::ui::set_not_found_status();
    let t = crate::i18n::use_locale().texts();
    view! {
        <h1>{t.not_found_title()}</h1>
        <p><A href="/">{t.back_to_shop()}</A></p>
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
