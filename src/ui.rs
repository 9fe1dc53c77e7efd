//! Pieces of interface every feature's pages use.

use crate::error::AppError;
use crate::stripe_js::{Elements, ElementsOptions, Listener, PaymentElement, PaymentElementOptions, Storage, Stripe, StripeJsError};
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

/// A form island's Stripe.js and Elements, with its Payment Element mounted.
#[derive(Clone, Copy)]
pub struct MountedPaymentElement {
    /// Set once mounted.
    pub stripe: StoredValue<Option<(Stripe, Elements)>, Storage>,
    /// The Payment Element said it is ready.
    pub ready: RwSignal<bool>,
}

/// Mounts the Payment Element in `target`, in the browser, once the island has rendered
/// it: `stripe.elements(options())` (before any intent exists), `create('payment')`,
/// then `also` for what else the form shows with the same Elements (the checkout's
/// Address Element), then `mount`. A load failure lands in `error`. The checkout and
/// "add a card" both use it.
pub fn mount_payment_element(
    publishable_key: String,
    options: impl Fn() -> ElementsOptions + 'static,
    layout: String,
    target: NodeRef<leptos::html::Div>,
    error: RwSignal<String>,
    also: impl Fn(&Elements, &PaymentElement) -> Result<Vec<Listener>, StripeJsError> + 'static,
) -> MountedPaymentElement {
    let stripe = StoredValue::<_, Storage>::new_with_storage(None::<(Stripe, Elements)>);
    // Stripe.js calls these for as long as the page lives.
    let listeners = StoredValue::<_, Storage>::new_with_storage(Vec::<Listener>::new());
    let ready = RwSignal::new(false);
    Effect::new(move |_| {
        let Some(node) = target.get() else { return };
        if stripe.with_value(Option::is_some) {
            return;
        }
        let mounted = Stripe::new(&publishable_key).and_then(|js| {
            let elements = js.elements(&options())?;
            let element = elements.create_payment_element(&PaymentElementOptions { layout: layout.clone() })?;
            let mut kept = also(&elements, &element)?;
            element.mount(&node)?;
            kept.push(element.on_ready(move || ready.set(true)));
            kept.push(element.on_load_error(move |failure| error.set(failure.message)));
            listeners.set_value(kept);
            Ok((js, elements))
        });
        match mounted {
            Ok(pair) => stripe.set_value(Some(pair)),
            Err(failure) => error.set(failure.message),
        }
    });
    MountedPaymentElement { stripe, ready }
}

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
