//! The catalog: products, their prices and availability.

mod api;
#[cfg(feature = "ssr")]
pub mod discounts;
#[cfg(feature = "ssr")]
mod service;
mod view;

pub use api::*;
#[cfg(feature = "ssr")]
pub use service::*;
pub use view::*;
