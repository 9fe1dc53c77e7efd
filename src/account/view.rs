//! The account page (`/account`).

use leptos::prelude::*;

#[component]
pub fn AccountPage() -> impl IntoView {
    view! {
        <h1>"Your account"</h1>
        <p>"Accounts and saved cards are not built yet (issue 6). You can shop as a guest."</p>
    }
}
