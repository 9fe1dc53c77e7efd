//! `AppState`: what every handler and server function shares. Axum extracts parts of
//! it (`FromRef`), and the Leptos integration puts it in each server function's
//! context.

use crate::catalog::Catalog;
use crate::config::Config;
use crate::store::Store;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone, Debug, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub store: Store,
    pub catalog: Arc<Catalog>,
    pub payments: Arc<Payments>,
    /// Where shoppers reach the shop (`PUBLIC_URL`, or the bound address).
    pub public_url: Arc<str>,
    /// `/pkg/…`, kept in memory, compressed once.
    pub assets: crate::server::assets::Assets,
    /// The site root's other files (favicon, images), the same way.
    #[from_ref(skip)]
    pub site_files: crate::server::assets::Assets,
    /// What every page's document carries besides the page.
    pub document: Arc<crate::app::Document>,
    /// Seals the errors a refused form post carries back to its page in the address.
    pub form_errors: crate::server::FormErrors,
    /// Vouches for the browsers a shopper signed in on (`account::DeviceCookies`).
    pub devices: crate::account::DeviceCookies,
}

/// Stripe as this process talks to it: real Stripe when a secret key is configured,
/// the embedded emulator otherwise (the code cannot tell the difference).
#[derive(Debug)]
pub struct Payments {
    pub stripe: crate::stripe::Client,
    pub publishable_key: String,
    /// Where the browser loads Stripe.js from.
    pub js_url: String,
    /// Every secret accepted on `POST /webhook` (several while one is being rolled).
    pub webhook_secrets: Vec<crate::secret::Secret>,
}

impl AppState {
    /// Whether cookies must carry `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The state of the current server function.
    pub fn from_context() -> Result<AppState, crate::error::AppError> {
        leptos::prelude::use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from the Leptos context");
            crate::error::AppError::Internal
        })
    }
}
