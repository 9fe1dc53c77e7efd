//! Orders: status pages and, later, webhook fulfilment (issue 5).

mod view;

pub use view::*;
