//! The order status page (`/orders/{id}`).

use leptos::prelude::*;

/// No orders can exist before checkout is built, so every id is unknown: the same
/// "not found" any other shopper's order will get.
#[component]
pub fn OrderPage() -> impl IntoView {
    crate::app::set_not_found_status();
    view! {
        <h1>"Order not found"</h1>
        <p>"There is no order with this number for you."</p>
    }
}
