//! Pieces of interface every feature's pages use.

use crate::error::AppError;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Shows the error of an action's last run, if it failed, in an alert region.
#[component]
pub fn ActionError<S>(action: ServerAction<S>) -> impl IntoView
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let locale = crate::i18n::use_locale();
    let message = move || match action.value().get() {
        Some(Err(error)) => error.message(locale),
        _ => String::new(),
    };
    view! { <p class="error" role="alert" aria-live="assertive">{message}</p> }
}

/// Makes the server's reply a 404 (no-op in the browser).
#[cfg(feature = "ssr")]
pub fn set_not_found_status() {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
}

/// Makes the server's reply a 404 (no-op in the browser).
#[cfg(not(feature = "ssr"))]
pub fn set_not_found_status() {}

/// The Payment Element's look, from the page's own design values: the CSS custom
/// properties of `style/main.css` as the browser computed them, so Elements follows the
/// light or dark scheme the page is in. (The fallbacks are the light scheme's values.)
pub fn appearance() -> crate::stripe_js::Appearance {
    let value = |name: &str, fallback: &str| crate::stripe_js::css_custom_property(name).unwrap_or_else(|| fallback.to_owned());
    let dark = crate::stripe_js::css_custom_property("--scheme").as_deref() == Some("dark");
    crate::stripe_js::Appearance {
        theme: if dark { "night" } else { "stripe" }.into(),
        variables: crate::stripe_js::AppearanceVariables {
            color_primary: value("--accent", "#3f5f4f"),
            color_background: value("--surface", "#ffffff"),
            color_text: value("--text", "#1f2a24"),
            color_text_secondary: value("--muted", "#5b665f"),
            color_danger: value("--danger", "#a4282b"),
            font_family: value("--font", "system-ui, sans-serif"),
            border_radius: value("--radius", "10px"),
        },
    }
}
