//! The shopper's cart: kept on the server, keyed by the session, priced only there.

mod api;
mod model;
#[cfg(feature = "ssr")]
mod service;
mod view;

pub use api::*;
pub use model::*;
#[cfg(feature = "ssr")]
pub use service::*;
pub use view::*;
