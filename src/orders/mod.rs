//! Orders: the status page of an order, to the session that placed it. (Webhook
//! fulfilment arrives with issue 5.)

#[cfg(feature = "ssr")]
pub mod admin;
mod api;
#[cfg(feature = "ssr")]
pub mod reconcile;
#[cfg(feature = "ssr")]
mod service;
mod view;
#[cfg(feature = "ssr")]
pub mod webhook;

pub use api::*;
#[cfg(feature = "ssr")]
pub use service::*;
pub use view::*;
