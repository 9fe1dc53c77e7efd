//! Checkout: the Payment Element before any PaymentIntent, a ConfirmationToken from the
//! browser, and one create-and-confirm request on the server (`FLOW.md` steps 1–8).

mod api;
mod model;
#[cfg(feature = "ssr")]
mod outcomes;
#[cfg(feature = "ssr")]
mod page;
#[cfg(feature = "ssr")]
mod service;
mod view;

pub use api::*;
pub use model::*;
#[cfg(feature = "ssr")]
pub use outcomes::*;
#[cfg(feature = "ssr")]
pub use page::*;
#[cfg(feature = "ssr")]
pub use service::*;
pub use view::*;
