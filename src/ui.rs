//! Pieces of interface every feature's pages use.

use crate::error::AppError;
use crate::stripe_js::{Elements, ElementsOptions, Listener, PaymentElement, PaymentElementOptions, Storage, Stripe, StripeJsError};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// Shows the error of an action's last run, if it failed, in an alert region. It
/// stands above a list or a form and takes no room while empty (`.action-error`).
#[component]
pub fn ActionError<S>(action: ServerAction<S>) -> impl IntoView
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let locale = crate::i18n::use_locale();
    view! { <p class="error action-error" role="alert" aria-live="assertive">{move || failure(action, locale).unwrap_or_default()}</p> }
}

/// Why an action's last run failed, in the shopper's language; `None` if it did not.
/// Several actions of one list share an alert region through it.
pub fn failure<S>(action: ServerAction<S>, locale: crate::i18n::Locale) -> Option<String>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    match action.value().get() {
        Some(Err(error)) => Some(error.message(locale)),
        _ => None,
    }
}

/// Sends a confirmation (a payment, a card setup) again with the same details, under
/// the same idempotency key, while the page cannot know its outcome, for about 15
/// seconds: the server could not tell whether Stripe acted, or its reply never reached
/// the page (the connection dropped, perhaps once the card was charged or saved; new
/// details would then pay or save a second time). `checking` is on meanwhile.
pub async fn ask_until_known<T, F, Fut>(confirm: F, checking: RwSignal<bool>) -> Result<T, AppError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    let mut delay_ms = 1_000;
    loop {
        match confirm().await {
            Err(AppError::PaymentUnknown { .. } | AppError::Transport(_)) if delay_ms <= 8_000 => {
                checking.set(true);
                crate::stripe_js::wait(delay_ms).await;
                delay_ms *= 2;
            }
            other => {
                checking.set(false);
                return other;
            }
        }
    }
}

/// A form island's Stripe.js and Elements, with its Payment Element mounted.
#[derive(Clone, Copy)]
pub struct MountedPaymentElement {
    /// Set once mounted.
    pub stripe: StoredValue<Option<(Stripe, Elements)>, Storage>,
    /// The Payment Element said it is ready.
    pub ready: RwSignal<bool>,
}

/// Mounts the Payment Element in the element `target` finds, in the browser, once the
/// island has rendered it (or the server did, in the island's children):
/// `stripe.elements(options())` (before any intent exists), `create('payment')`,
/// then `also` for what else the form shows with the same Elements (the checkout's
/// Address Element), then `mount`. A load failure lands in `error`. Elements take the
/// page's look again when the browser's colour scheme changes. The checkout and
/// "add a card" both use it.
pub fn mount_payment_element(
    publishable_key: String,
    options: impl Fn() -> ElementsOptions + 'static,
    layout: String,
    target: impl Fn() -> Option<leptos::web_sys::Element> + 'static,
    error: RwSignal<String>,
    also: impl Fn(&Elements, &PaymentElement) -> Result<Vec<Listener>, StripeJsError> + 'static,
) -> MountedPaymentElement {
    let stripe = StoredValue::<_, Storage>::new_with_storage(None::<(Stripe, Elements)>);
    // Stripe.js calls these for as long as the page lives.
    let listeners = StoredValue::<_, Storage>::new_with_storage(Vec::<Listener>::new());
    let ready = RwSignal::new(false);
    let locale = crate::i18n::use_locale();
    Effect::new(move |_| {
        let Some(node) = target() else { return };
        if stripe.with_value(Option::is_some) {
            return;
        }
        let mounted = Stripe::new(&publishable_key).and_then(|js| {
            let elements = js.elements(&options())?;
            let element = elements.create_payment_element(&PaymentElementOptions { layout: layout.clone() })?;
            let mut kept = also(&elements, &element)?;
            element.mount(&node)?;
            // The page's stylesheet follows a change of scheme at once; Elements too.
            let restyled = elements.clone();
            crate::stripe_js::on_color_scheme_change(move || restyled.update_appearance(&appearance()));
            kept.push(element.on_ready(move || ready.set(true)));
            kept.push(element.on_load_error(move |failure| error.set(failure.message)));
            listeners.set_value(kept);
            Ok((js, elements))
        });
        match mounted {
            Ok(pair) => stripe.set_value(Some(pair)),
            Err(failure) => error.set(failure.message_in(locale)),
        }
    });
    MountedPaymentElement { stripe, ready }
}

/// The Payment Element's look: the design values of `style/main.css` (its custom
/// properties `--accent`, `--surface`, `--text`, `--muted`, `--danger`, `--font`,
/// `--radius`) in the colour scheme the browser prefers, as the page shows them. They are
/// copied here rather than read from the page's computed style, which the browser would
/// have to compute before the page's first layout, on the way to a usable Pay button;
/// `end2end/tests/checkout.spec.ts` ("Elements look like the page") checks them against
/// the page in both schemes.
pub fn appearance() -> crate::stripe_js::Appearance {
    let (theme, colors) = if crate::stripe_js::prefers_dark_scheme() { ("night", DARK) } else { ("stripe", LIGHT) };
    crate::stripe_js::Appearance {
        theme,
        variables: crate::stripe_js::AppearanceVariables {
            color_primary: colors.accent,
            color_background: colors.surface,
            color_text: colors.text,
            color_text_secondary: colors.muted,
            color_danger: colors.danger,
            font_family: r#"system-ui, -apple-system, "Segoe UI", Roboto, sans-serif"#,
            border_radius: "10px",
        },
    }
}

/// One colour scheme of `style/main.css`.
struct Colors {
    accent: &'static str,
    surface: &'static str,
    text: &'static str,
    muted: &'static str,
    danger: &'static str,
}

const LIGHT: Colors = Colors { accent: "#3f5f4f", surface: "#ffffff", text: "#1f2a24", muted: "#5b665f", danger: "#a4282b" };
const DARK: Colors = Colors { accent: "#8fbfa6", surface: "#1d231f", text: "#eef1ec", muted: "#a6b0a9", danger: "#ff8a8a" };
