//! Shopper accounts and saved payment methods (issue 6).

mod view;

pub use view::*;
