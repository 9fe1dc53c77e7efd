//! Orders: the status page of an order, to the session that placed it. (Webhook
//! fulfilment arrives with issue 5.)

mod api;
#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
pub mod admin;
#[cfg(feature = "ssr")]
pub mod reconcile;
#[cfg(feature = "ssr")]
pub mod webhook;
mod view;

pub use api::*;
#[cfg(feature = "ssr")]
pub use service::*;
pub use view::*;
