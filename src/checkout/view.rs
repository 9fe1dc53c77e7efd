//! Checkout pages: `/checkout` (order summary, Payment Element, pay button) and
//! `/checkout/complete` (the outcome, after a redirect or 3-D Secure).

use super::{CheckoutView, PaymentResult, PaymentStatus, ShippingAddress, confirm_payment, confirm_payment_method, payment_outcome};
use crate::account::SavedMethod;
use crate::cart::{ApplyDiscount, DiscountAction, DiscountForm, Totals, apply_discount, get_cart};
use crate::error::AppError;
use crate::money::Money;
use crate::stripe_js::{
    AddressElement, AddressElementOptions, ConfirmationTokenParams, ElementsCardOptions, ElementsOptions, ElementsPaymentMethodOptions,
    Storage, StripeJsError, element_by_id, input_value,
};
use crate::ui::{MountedPaymentElement, mount_payment_element};
use leptos::prelude::*;

/// The checkout: the order summary, then the form island, or why there is nothing to pay.
#[component]
pub fn CheckoutPage(
    checkout: Result<CheckoutView, AppError>,
    /// Shown again because a payment found the cart changed (`?cart_changed=1`).
    cart_changed: bool,
) -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let body = match checkout {
        Ok(checkout) if checkout.cart.lines.is_empty() => view! {
            <p class="empty">{t.cart_empty()} " " <a href="/">{t.browse_shop()}</a></p>
        }
        .into_any(),
        // A subscription is bought from an account (where it is managed): what it costs
        // (a free trial as a new subscriber gets it), then the way to sign in.
        Ok(checkout) if checkout.needs_account => view! {
            {checkout.subscription_terms.map(|terms| view! { <p class="notice" data-testid="subscription-terms">{terms}</p> })}
            <p class="notice" data-testid="subscribe-needs-account">{t.subscribe_needs_account()}</p>
            <p><a href="/account" class="button primary">{t.sign_in_to_subscribe()}</a></p>
        }
        .into_any(),
        // A subscription the shopper has, or whose first payment is on its way, is not
        // bought twice: the notice says which, and the account is where it is managed.
        Ok(CheckoutView { cannot_subscribe: Some(why), .. }) => view! {
            <p class="notice" role="status" data-testid="already-subscribed">{why}</p>
            <p><a href="/account" class="button primary">{t.your_account()}</a></p>
        }
        .into_any(),
        // Stripe could not charge the total in one payment: said before any card is typed.
        Ok(checkout) => match checkout.cart.charge_limit.clone() {
            Some(reason) => view! {
                <p class="notice" role="status" data-testid="charge-limit">{reason}</p>
                <p><a href="/cart" class="button primary">{t.back_to_cart()}</a></p>
            }
            .into_any(),
            None => {
                let fields = view! {
                    <PaymentFields
                        email=checkout.email.clone().unwrap_or_default()
                        keeps_card=checkout.setup_future_usage.clone()
                        charged_later=checkout.capture_method.is_some()
                        subscription_terms=checkout.subscription_terms.clone()
                    />
                };
                view! { <CheckoutForm checkout>{fields}</CheckoutForm> }.into_any()
            }
        },
        Err(error) => view! { <p class="error" role="alert">{error.message(locale)}</p> }.into_any(),
    };
    view! {
        <h1>{t.checkout()}</h1>
        <noscript>
            <p class="notice" data-testid="needs-javascript">{t.needs_javascript()}</p>
        </noscript>
        {cart_changed.then(|| view! { <p class="notice" role="status" data-testid="cart-changed">{t.cart_changed_shown_again()}</p> })}
        {body}
    }
}

/// Whether the checkout page shows its island (the document then loads the bundle).
pub fn has_form(checkout: &Result<CheckoutView, AppError>) -> bool {
    checkout.as_ref().is_ok_and(|checkout| {
        !checkout.cart.lines.is_empty()
            && !checkout.needs_account
            && checkout.cannot_subscribe.is_none()
            && checkout.cart.charge_limit.is_none()
    })
}

/// Whether a payment with this Stripe status went through (or is on its way).
fn went_through(status: &str) -> bool {
    matches!(status, "succeeded" | "processing" | "requires_capture")
}

/// The order summary with its discount field, the Address and Payment Elements and the
/// Pay button: the checkout page's one island (the rest of the page is server-rendered
/// HTML). A discount reprices the cart in place, so Stripe's iframes keep what the
/// shopper typed. `children`: the form's fields ([`PaymentFields`]), rendered by the
/// server and never hydrated; the island finds Elements' containers and the email in
/// them by id.
#[island]
fn CheckoutForm(checkout: CheckoutView, children: Children) -> impl IntoView {
    let discount = DiscountAction::new(|input: &ApplyDiscount| apply_discount(input.code.clone()));
    // The cart as last priced by the server: what the page shows, and what Pay pays for.
    let cart = RwSignal::new(checkout.cart.clone());
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let error = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    // The page is asking again whether Stripe took the payment.
    let checking = RwSignal::new(false);
    // The order whose page will show an outcome that is still unknown.
    let unknown_order = RwSignal::new(None::<String>);
    let address = StoredValue::<_, Storage>::new_with_storage(None::<AddressElement>);
    let CheckoutView {
        publishable_key,
        layout,
        return_url,
        customer_session_client_secret,
        saved_methods,
        require_cvc_recollection,
        manual_payment_method_creation: manual,
        capture_method,
        setup_future_usage,
        payment_method_types,
        subscription_terms,
        shipping_defaults,
        ..
    } = checkout.clone();
    let subscribing = subscription_terms.is_some();
    // The saved payment method the shopper picked in the Payment Element, if any.
    let picked = RwSignal::new(None::<String>);
    let saved_methods = StoredValue::new(saved_methods);

    // In the browser only: the Address and Payment Elements, before any PaymentIntent
    // exists, in the containers the server rendered.
    let options = move || ElementsOptions {
        // `subscription`: the server creates the Subscription and confirms its first
        // invoice (the amount is that invoice's).
        mode: if subscribing { "subscription" } else { "payment" }.into(),
        amount: Some(cart.with_untracked(|cart| cart.total.amount)),
        currency: cart.with_untracked(|cart| cart.total.currency.to_string()),
        appearance: crate::ui::appearance(),
        locale: locale.tag().into(),
        customer_session_client_secret: customer_session_client_secret.clone(),
        // Set together with the intent's payment_method_options (server).
        payment_method_options: require_cvc_recollection
            .then_some(ElementsPaymentMethodOptions { card: ElementsCardOptions { require_cvc_recollection: true } }),
        payment_method_creation: manual.then(|| "manual".to_owned()),
        // Each of these equals what the server puts on the intent.
        capture_method: capture_method.clone(),
        setup_future_usage: setup_future_usage.clone(),
        allowed_payment_method_types: payment_method_types.clone(),
    };
    let MountedPaymentElement { stripe, ready } = mount_payment_element(
        publishable_key,
        options,
        layout,
        || element_by_id(PAYMENT_ELEMENT),
        error,
        move |elements, element| {
            let node = element_by_id(ADDRESS_ELEMENT).ok_or_else(|| StripeJsError::new("invalid_request_error", t.form_loading()))?;
            let options = AddressElementOptions { mode: "shipping".into(), default_values: shipping_defaults.clone() };
            address.set_value(Some(elements.create_address_element(&options, &node)?));
            Ok(vec![element.on_change(move |change| picked.set(change.saved_payment_method))])
        },
    );

    // The server reprices on a discount, and when a payment finds the cart changed
    // since the page showed it. Elements shows the new amount (display only: the server
    // decides what is charged), and so does the Pay button. `shown` is that amount:
    // until it is the server's new total, Pay waits.
    let shown = RwSignal::new(checkout.cart.total);
    // A total as repriced that Stripe could not charge (a discount under its minimum,
    // another tab's cart over its maximum) is said beside Pay, which waits for another.
    let chargeable = move || cart.with(|cart| cart.charge_limit.is_none());
    Effect::new(move |_| {
        if let Some(Ok(priced)) = discount.value().get() {
            cart.set(priced);
        }
    });
    Effect::new(move |_| {
        let total: Money = cart.with(|cart| cart.total);
        if total != shown.get_untracked() {
            if let Some((_, elements)) = stripe.get_value()
                && chargeable()
            {
                elements.update_amount(total.amount);
            }
            shown.set(total);
        }
    });
    let repricing = move || discount.pending().get() || cart.with(|cart| cart.total) != shown.get();

    // What the form says beside Pay while it waits: the server asking Stripe again, or
    // why Stripe could not charge the total as repriced.
    let notice = move || match checking.get() {
        true => Some(("payment-checking", t.checking_unknown_outcome().to_owned())),
        false => cart.with(|cart| cart.charge_limit.clone()).map(|reason| ("charge-limit", reason)),
    };

    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() || repricing() || !chargeable() {
            return;
        }
        let Some((js, elements)) = stripe.get_value() else {
            error.set(t.form_loading().into());
            return;
        };
        busy.set(true);
        error.set(String::new());
        unknown_order.set(None);
        // Stripe.js requires elements.submit() synchronously in the handler, before any
        // other await.
        let submitted = elements.submit();
        let return_url = return_url.clone();
        // Where the confirmation goes: typed by a guest, prefilled from the account or
        // the session's last payment.
        let email = input_value(RECEIPT_EMAIL).filter(|email| !email.trim().is_empty());
        // What the shopper is paying for: the server charges nothing if the cart has
        // changed since (another tab).
        let quote = Some(cart.with_untracked(|cart| cart.quote.clone()));
        leptos::task::spawn_local(async move {
            let paid = async {
                submitted.await.map_err(|e| e.message)?;
                let confirmed = if manual {
                    let shipping = match address.with_value(|a| a.as_ref().map(|a| a.value())) {
                        Some(value) => value.await.map_err(|e| e.message)?.map(ShippingAddress::from),
                        None => None,
                    };
                    let method = js.create_payment_method(&elements).await.map_err(|e| e.message)?;
                    crate::ui::ask_until_known(
                        || confirm_payment_method(method.clone(), shipping.clone(), email.clone(), quote.clone()),
                        checking,
                    )
                    .await
                } else {
                    let params = ConfirmationTokenParams { return_url, payment_method_data: None };
                    let token = js.create_confirmation_token(&elements, &params).await.map_err(|e| e.message)?;
                    crate::ui::ask_until_known(|| confirm_payment(token.clone(), email.clone(), quote.clone()), checking).await
                };
                if let Err(AppError::CartChanged(_)) = &confirmed
                    && let Ok(now) = get_cart().await
                {
                    if subscribing || now.subscription().is_some() {
                        // A subscription's terms are the page's (what is charged every
                        // period, shown before the shopper agrees), and a purchase that
                        // became one, or the reverse, needs Elements made again for its
                        // mode: the page is made again for the cart as it is now, and
                        // says why (the address is replaced: Back leads where it did).
                        drop(window().location().replace("/checkout?cart_changed=1"));
                    }
                    // The page shows the cart as it is now: the next Pay is for that.
                    cart.set(now);
                }
                let reply = confirmed.map_err(|failure| {
                    if let AppError::PaymentUnknown { order_id } = &failure {
                        // (A subscription has no order before it is paid.)
                        unknown_order.set(Some(order_id.clone()).filter(|id| !id.is_empty()));
                    }
                    failure.message(locale)
                })?;
                if reply.status == PaymentStatus::RequiresAction {
                    // Whatever the browser says of the authentication, the server asks
                    // Stripe what became of the payment, and that is what the shopper sees.
                    let authenticated = js.handle_next_action(&reply.client_secret).await;
                    if reply.payment_intent.is_empty() {
                        // The card of a subscription the shopper's credit paid (a
                        // SetupIntent): the return page keeps it, as after a redirect.
                        let setup = reply.client_secret.split("_secret_").next().unwrap_or_default();
                        return Ok(format!("/checkout/complete?setup_intent={setup}"));
                    }
                    match payment_outcome(reply.payment_intent.clone()).await {
                        Ok(result) if went_through(&result.status) => {}
                        Ok(result) => {
                            let said = authenticated.err().map(|e| e.message);
                            return Err(said.or(result.failure).unwrap_or_else(|| t.payment_failed().to_owned()));
                        }
                        // The server could not tell now: the result page asks again.
                        Err(_) => {}
                    }
                }
                Ok::<_, String>(match reply.payment_intent.as_str() {
                    // A subscription the shopper's credit paid (no PaymentIntent): its order.
                    "" => format!("/orders/{}", reply.order_id),
                    // The result page, loaded whole (its header counts the cart the
                    // payment emptied).
                    intent => format!("/checkout/complete?payment_intent={intent}"),
                })
            };
            match paid.await {
                // (A same-origin address: nothing refuses it.)
                Ok(next) => drop(window().location().set_href(&next)),
                Err(message) => {
                    error.set(message);
                    busy.set(false);
                }
            }
        });
    };

    view! {
        <div class="checkout-layout">
        <section class="summary" aria-labelledby="summary-title">
            <h2 id="summary-title">{t.your_order()}</h2>
            {move || {
                let cart = cart.get();
                view! {
                    <ul class="summary-lines">
                        {cart.lines.iter().map(|line| view! {
                            <li>
                                <span>{format!("{} × {}", line.quantity, line.name)}</span>
                                <span>{locale.money(line.line_total)}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                    <Totals cart/>
                }
            }}
            {(!subscribing).then(|| view! { <DiscountForm discount/> })}
        </section>
        <form class="payment" on:submit=on_submit>
            {children()}
            {move || picked.get().map(|id| view! { <PickedMethod method=saved_methods.with_value(|saved| saved.iter().find(|m| m.id == id).cloned())/> })}
            {move || notice().map(|(id, text)| view! { <p class="notice" data-testid=id role="status">{text}</p> })}
            <p class="error" data-testid="payment-error" role="alert" aria-live="assertive">{move || error.get()}</p>
            {move || unknown_order.get().map(|order| view! { <p><a href=format!("/orders/{order}")>{t.view_order()}</a></p> })}
            <button
                type="submit"
                class="primary"
                data-testid="pay-button"
                disabled=move || busy.get() || !ready.get() || repricing() || !chargeable()
                aria-busy=move || (busy.get() || repricing()).to_string()
            >
                {move || (busy.get() || repricing()).then(|| view! { <span class="spinner" aria-hidden="true"></span> })}
                {move || if busy.get() {
                    t.processing().to_owned()
                } else {
                    crate::i18n::fill(if subscribing { t.subscribe_amount() } else { t.pay_amount() }, &[&locale.money(shown.get())])
                }}
            </button>
        </form>
        </div>
    }
}

/// Where Elements mount and the receipt email's field, in the checkout form.
const ADDRESS_ELEMENT: &str = "address-element";
const PAYMENT_ELEMENT: &str = "payment-element";
const RECEIPT_EMAIL: &str = "receipt-email";

/// The checkout form's fields: the shipping address and payment (Elements' containers),
/// the receipt email, and what the shopper agrees to. The server renders them inside the
/// island, which does not hydrate them.
#[component]
fn PaymentFields(
    /// The receipt address as known (the account's, or the session's last payment's).
    email: String,
    /// `on_session` / `off_session`: the card is kept for later.
    keeps_card: Option<String>,
    /// Manual capture: the card is authorised now and charged later.
    charged_later: bool,
    /// A subscription's terms.
    subscription_terms: Option<String>,
) -> impl IntoView {
    let t = crate::i18n::use_locale().texts();
    view! {
        <h2>{t.shipping_address()}</h2>
        <div id=ADDRESS_ELEMENT data-testid="address-element"></div>
        <div class="stacked receipt-email">
            <label for=RECEIPT_EMAIL>{t.email_for_receipt()}</label>
            <input id=RECEIPT_EMAIL name="email" type="email" autocomplete="email" maxlength="254"
                data-testid="email-input" aria-describedby="receipt-email-hint" value=email/>
            <p class="hint" id="receipt-email-hint">{t.email_hint()}</p>
        </div>
        <h2>{t.payment()}</h2>
        <div id=PAYMENT_ELEMENT data-testid="payment-element"></div>
        // What the guide asks to tell the shopper when their card is kept, or
        // charged later.
        {keeps_card.map(|usage| view! {
            <p class="notice" data-testid="save-notice">
                {if usage == "off_session" { t.card_kept_off_session() } else { t.card_kept_on_session() }}
            </p>
        })}
        {charged_later.then(|| view! { <p class="notice" data-testid="capture-notice">{t.capture_notice()}</p> })}
        {subscription_terms.map(|terms| view! { <p class="notice" data-testid="subscription-terms">{terms}</p> })}
    }
}

/// Which saved card will be charged (the Payment Element shows no card fields then).
#[component]
fn PickedMethod(method: Option<SavedMethod>) -> impl IntoView {
    let t = crate::i18n::use_locale().texts();
    match method {
        Some(method) => view! {
            <p class="picked-method" data-testid=format!("saved-method-{}", method.last4) role="status">
                {crate::i18n::fill(t.paying_with_saved(), &[&method.label(), &method.expiry()])}
            </p>
        }
        .into_any(),
        None => view! { <p class="picked-method" role="status">{t.paying_with_saved_method()}</p> }.into_any(),
    }
}

/// The return page (`/checkout/complete`): the outcome of the payment the shopper came
/// back with, read from Stripe before the page renders (`None`: the address names none).
#[component]
pub fn CheckoutCompletePage(outcome: Result<Option<PaymentResult>, AppError>) -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let body = match outcome {
        Ok(Some(result)) => view! { <Outcome result/> }.into_any(),
        Ok(None) => view! { <p>{t.no_payment()} " " <a href="/">{t.back_to_shop()}</a></p> }.into_any(),
        Err(error) => view! { <p class="error" role="alert">{error.message(locale)}</p> }.into_any(),
    };
    view! {
        <h1>{t.payment()}</h1>
        {body}
    }
}

#[component]
fn Outcome(result: PaymentResult) -> impl IntoView {
    let t = crate::i18n::use_locale().texts();
    let message = match result.status.as_str() {
        "succeeded" => t.paid_thanks().to_owned(),
        "processing" => t.payment_processing().to_owned(),
        "requires_capture" => t.payment_authorised().to_owned(),
        "requires_action" => t.payment_needs_action().to_owned(),
        _ => match result.failure.as_deref() {
            Some(reason) => crate::i18n::fill(t.payment_failed_because(), &[&reason]),
            None => t.payment_failed().to_owned(),
        },
    };
    let failed = !matches!(result.status.as_str(), "succeeded" | "processing" | "requires_capture");
    let message = if result.subscription && !failed { t.subscribed_thanks().to_owned() } else { message };
    // Seen from a browser that did not pay (a redirect came back elsewhere): its cart and
    // order are in the other one.
    let elsewhere = result.order_id.is_empty() && !result.subscription;
    view! {
        <p data-testid="payment-result" data-status=result.status.clone() role="status">{message}</p>
        {elsewhere.then(|| view! { <p data-testid="payment-elsewhere">{t.paid_in_another_browser()}</p> })}
        {(failed && !elsewhere).then(|| view! { <p><a href="/checkout">{t.try_again()}</a></p> })}
        {result.subscription.then(|| view! { <p><a href="/account" data-testid="manage-subscriptions">{t.manage_subscriptions()}</a></p> })}
        {(!result.order_id.is_empty()).then(|| view! { <p><a href=format!("/orders/{}", result.order_id)>{t.view_order()}</a></p> })}
    }
}
