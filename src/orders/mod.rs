//! Orders: the status page of an order, to the session that placed it; fulfilment from
//! Stripe's signed events; reconciliation; the merchant's view.

#[cfg(feature = "ssr")]
pub mod admin;
mod api;
mod model;
#[cfg(feature = "ssr")]
pub mod reconcile;
#[cfg(feature = "ssr")]
mod service;
mod view;
#[cfg(feature = "ssr")]
pub mod webhook;

pub use api::*;
pub use model::*;
#[cfg(feature = "ssr")]
pub use service::*;
pub use view::*;
