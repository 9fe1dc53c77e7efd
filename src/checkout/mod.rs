//! Checkout: the Payment Element, ConfirmationToken and server-side confirmation
//! (issue 4). Only the pages exist so far.

mod view;

pub use view::*;
