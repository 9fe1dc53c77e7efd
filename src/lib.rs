//! The storefront: one crate built twice, as the server (`ssr`) and as the wasm bundle
//! (`hydrate`). Server-only modules are gated here, at module level, and nowhere else.

// The islands' server-rendered view types nest deeper than the default limit allows.
#![recursion_limit = "256"]
// Its API documentation is the code's own (`make lint` builds it with private items):
// a public item's doc may point at the private one that does the work.
#![allow(rustdoc::private_intra_doc_links)]

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
pub mod subscriptions;

#[cfg(feature = "ssr")]
pub mod address;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod mail;
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

/// Entry point of the wasm bundle, loaded only by pages that have an island: readies
/// the reactive system, after which the page's loader (`app::IslandLoader`) hydrates
/// each `<leptos-island>` through the function the `#[island]` macro exported for it.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
