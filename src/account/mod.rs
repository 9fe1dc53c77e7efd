//! Shopper accounts (email and password), their saved payment methods, and adding a
//! card with a SetupIntent confirmed on the server.

mod api;
#[cfg(feature = "ssr")]
mod device;
mod model;
#[cfg(feature = "ssr")]
pub mod password;
#[cfg(feature = "ssr")]
mod service;
mod view;

pub use api::*;
#[cfg(feature = "ssr")]
pub use device::{COOKIE_NAME as DEVICE_COOKIE, DeviceCookies};
pub use model::*;
#[cfg(feature = "ssr")]
pub use service::{
    card_setup, current_account, customer_of, forget_customer, forget_if_gone, keep_typed_email, list_saved, saved_methods, setup_return,
    summary, typed_email,
};
pub use view::*;
