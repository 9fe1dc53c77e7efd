//! Subscription mode: a recurring product bought with the same Payment Element and
//! ConfirmationToken as a one-off payment. The server creates the Subscription
//! (`default_incomplete`) and confirms its first invoice's PaymentIntent; Stripe bills
//! the renewals; each paid invoice becomes an order. A product with a free trial starts
//! an account's first subscription to it `trialing`, nothing charged until the trial
//! ends. The shopper's account lists them, with cancel at the period's end and its
//! undoing.

mod api;
#[cfg(feature = "ssr")]
mod changes;
mod model;
#[cfg(feature = "ssr")]
mod service;
#[cfg(feature = "ssr")]
mod sync;

pub use api::*;
pub use model::*;
#[cfg(feature = "ssr")]
pub use service::{cannot_subscribe, outcome, setup_return, setup_succeeded, subscribe, trial_offered, with_any_trial};
#[cfg(feature = "ssr")]
pub use sync::{on_event, refresh};
