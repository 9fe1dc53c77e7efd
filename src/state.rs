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
}

impl AppState {
    /// The state of the current server function or page render.
    pub fn from_context() -> Result<AppState, crate::error::AppError> {
        leptos::prelude::use_context::<AppState>().ok_or_else(|| {
            tracing::error!("AppState missing from the Leptos context");
            crate::error::AppError::Internal
        })
    }
}
