//! The storefront: one crate built twice, as the server (`ssr`) and as the wasm bundle
//! (`hydrate`). Server-only modules are gated here, at module level, and nowhere else.

pub mod app;
pub mod error;
pub mod i18n;
pub mod money;
pub mod stripe_js;
pub mod ui;

pub mod account;
pub mod cart;
pub mod catalog;
pub mod checkout;
pub mod orders;

#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod rate_limit;
#[cfg(feature = "ssr")]
pub mod request;
#[cfg(feature = "ssr")]
pub mod secret;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod session;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod stripe;

/// Entry point of the wasm bundle: hydrates the server-rendered page, then marks
/// `<body data-hydrated="true">` so tests and scripts can wait for interactivity.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    if let Some(body) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.body()) {
        // Cannot fail for a valid attribute name; nothing useful to do if it did.
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
