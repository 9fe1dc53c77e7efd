//! The catalog: products, their prices and availability.

mod api;
#[cfg(feature = "ssr")]
pub mod discounts;
mod model;
#[cfg(feature = "ssr")]
mod service;
mod view;

pub use api::*;
pub use model::*;
#[cfg(feature = "ssr")]
pub use service::*;
pub use view::*;
