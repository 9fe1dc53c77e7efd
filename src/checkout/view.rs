//! Checkout pages (`/checkout`, `/checkout/complete`).

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn CheckoutPage() -> impl IntoView {
    view! {
        <h1>"Checkout"</h1>
        <p>"Payment is not built yet: the Payment Element arrives with the checkout work (issue 4)."</p>
        <p><A href="/cart">"Back to your cart"</A></p>
    }
}

#[component]
pub fn CheckoutCompletePage() -> impl IntoView {
    view! {
        <h1>"Payment result"</h1>
        <p>"This page will show the outcome of a payment once checkout is built (issue 4)."</p>
    }
}
