//! Checkout pages: `/checkout` (order summary, Payment Element, pay button) and
//! `/checkout/complete` (the outcome, after a redirect or 3-D Secure).

use super::{
    CheckoutView, PaymentReply, PaymentResult, PaymentStatus, ShippingAddress, confirm_payment, confirm_payment_method, get_checkout,
    payment_outcome,
};
use crate::account::SavedMethod;
use crate::cart::CartState;
use crate::cart::{DiscountForm, Totals};
use crate::error::AppError;
use crate::money::Money;
use crate::stripe_js::{
    AddressElement, AddressElementOptions, ConfirmationTokenParams, Elements, ElementsCardOptions, ElementsOptions,
    ElementsPaymentMethodOptions, Listener, PaymentElementOptions, Storage, Stripe,
};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

#[component]
pub fn CheckoutPage() -> impl IntoView {
    let checkout = Resource::new(|| (), |_| get_checkout());
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <h1>{t.checkout}</h1>
        <noscript>
            <p class="notice" data-testid="needs-javascript">{t.needs_javascript}</p>
        </noscript>
        // A Transition, not a Suspense: when the cart is repriced (a discount), the form
        // stays in place. Under a Suspense it would be taken out and put back, which
        // reloads Stripe's iframes and loses what the shopper typed.
        <Transition fallback=move || view! { <p>{t.loading_order}</p> }>
            {move || Suspend::new(async move {
                match checkout.await {
                    Ok(checkout) if checkout.cart.lines.is_empty() => view! {
                        <p class="empty">{t.cart_empty} " " <A href="/">{t.browse_shop}</A></p>
                    }
                    .into_any(),
                    Ok(checkout) => view! { <CheckoutForm checkout/> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.message(locale)}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Whether a payment with this Stripe status went through (or is on its way).
fn went_through(status: &str) -> bool {
    matches!(status, "succeeded" | "processing" | "requires_capture")
}

/// Confirms, asking again (the same details: the same attempt, under its idempotency
/// key) while the server cannot tell whether Stripe took the payment, for about 15
/// seconds; `checking` is on meanwhile.
async fn confirm_until_known<F, Fut>(confirm: F, checking: RwSignal<bool>) -> Result<PaymentReply, AppError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<PaymentReply, AppError>>,
{
    let mut delay_ms = 1_000;
    loop {
        match confirm().await {
            Err(AppError::PaymentUnknown { .. }) if delay_ms <= 8_000 => {
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

#[component]
fn CheckoutForm(checkout: CheckoutView) -> impl IntoView {
    let CartState { cart, discount, .. } = expect_context();
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let error = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let ready = RwSignal::new(false);
    // The server could not tell yet whether Stripe took the payment.
    let checking = RwSignal::new(false);
    // The order whose page will show an outcome that is still unknown.
    let unknown_order = RwSignal::new(None::<String>);
    let stripe = StoredValue::<_, Storage>::new_with_storage(None::<(Stripe, Elements)>);
    let listeners = StoredValue::<_, Storage>::new_with_storage(Vec::<Listener>::new());
    let address = StoredValue::<_, Storage>::new_with_storage(None::<AddressElement>);
    let navigate = use_navigate();
    let total: Money = checkout.cart.total;
    let CheckoutView {
        publishable_key,
        layout,
        return_url,
        customer_session_client_secret,
        saved_methods,
        require_cvc_recollection,
        manual_payment_method_creation: manual,
        ..
    } = checkout.clone();
    // The saved payment method the shopper picked in the Payment Element, if any.
    let picked = RwSignal::new(None::<String>);
    let saved_methods = StoredValue::new(saved_methods);

    // The server reprices on a discount or quantity change; Elements shows the new
    // amount (display only: the server decides what is charged), and so does the Pay
    // button. `shown` is that amount: until it is the server's new total, Pay waits.
    let shown = RwSignal::new(total);
    let show = move |total: Money| {
        if let Some((_, elements)) = stripe.get_value() {
            elements.update_amount(total.amount);
        }
        shown.set(total);
    };
    Effect::new(move |_| {
        if let Some(Ok(cart)) = cart.get() {
            show(cart.total);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(cart)) = discount.value().get() {
            show(cart.total);
        }
    });
    let repricing =
        move || discount.pending().get() || discount.value().with(|priced| matches!(priced, Some(Ok(cart)) if cart.total != shown.get()));

    // In the browser only: load the Payment Element before any PaymentIntent exists,
    // once both containers exist (after a client-side navigation they exist before
    // they are in the document, so they are passed as nodes, not selectors).
    let payment_target = NodeRef::<leptos::html::Div>::new();
    let address_target = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        let (Some(payment_node), Some(address_node)) = (payment_target.get(), address_target.get()) else { return };
        if stripe.with_value(Option::is_some) {
            return;
        }
        let mounted = Stripe::new(&publishable_key).and_then(|js| {
            let options = ElementsOptions {
                mode: "payment".into(),
                amount: Some(total.amount),
                currency: total.currency.to_string(),
                appearance: crate::ui::appearance(),
                locale: locale.tag().into(),
                customer_session_client_secret: customer_session_client_secret.clone(),
                // Set together with the intent's payment_method_options (server).
                payment_method_options: require_cvc_recollection
                    .then_some(ElementsPaymentMethodOptions { card: ElementsCardOptions { require_cvc_recollection: true } }),
                payment_method_creation: manual.then(|| "manual".to_owned()),
            };
            let elements = js.elements(&options)?;
            address.set_value(Some(elements.create_address_element(&AddressElementOptions { mode: "shipping".into() }, &address_node)?));
            let element = elements.create_payment_element(&PaymentElementOptions { layout: layout.clone() })?;
            element.mount(&payment_node)?;
            listeners.set_value(vec![
                element.on_ready(move || ready.set(true)),
                element.on_load_error(move |failure| error.set(failure.message)),
                element.on_change(move |change| picked.set(change.saved_payment_method)),
            ]);
            Ok((js, elements))
        });
        match mounted {
            Ok(pair) => stripe.set_value(Some(pair)),
            Err(failure) => error.set(failure.message),
        }
    });

    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() || repricing() {
            return;
        }
        let Some((js, elements)) = stripe.get_value() else {
            error.set(t.form_loading.into());
            return;
        };
        busy.set(true);
        error.set(String::new());
        unknown_order.set(None);
        // Stripe.js requires elements.submit() synchronously in the handler, before any
        // other await.
        let submitted = elements.submit();
        let navigate = navigate.clone();
        let return_url = return_url.clone();
        leptos::task::spawn_local(async move {
            let paid = async {
                submitted.await.map_err(|e| e.message)?;
                let confirmed = if manual {
                    let shipping = match address.with_value(|a| a.as_ref().map(|a| a.value())) {
                        Some(value) => value.await.map_err(|e| e.message)?.map(ShippingAddress::from),
                        None => None,
                    };
                    let method = js.create_payment_method(&elements).await.map_err(|e| e.message)?;
                    confirm_until_known(|| confirm_payment_method(method.clone(), shipping.clone()), checking).await
                } else {
                    let params = ConfirmationTokenParams { return_url, payment_method_data: None };
                    let token = js.create_confirmation_token(&elements, &params).await.map_err(|e| e.message)?;
                    confirm_until_known(|| confirm_payment(token.clone()), checking).await
                };
                let reply = confirmed.map_err(|failure| {
                    if let AppError::PaymentUnknown { order_id } = &failure {
                        unknown_order.set(Some(order_id.clone()));
                    }
                    failure.message(locale)
                })?;
                if reply.status == PaymentStatus::RequiresAction {
                    // Whatever the browser says of the authentication, the server asks
                    // Stripe what became of the payment, and that is what the shopper sees.
                    let authenticated = js.handle_next_action(&reply.client_secret).await;
                    match payment_outcome(reply.payment_intent.clone()).await {
                        Ok(result) if went_through(&result.status) => {}
                        Ok(result) => {
                            let said = authenticated.err().map(|e| e.message);
                            return Err(said.or(result.failure).unwrap_or_else(|| t.payment_failed.to_owned()));
                        }
                        // The server could not tell now: the result page asks again.
                        Err(_) => {}
                    }
                }
                Ok::<_, String>(reply.payment_intent)
            };
            let ended = paid.await;
            // A payment that went through took the order's lines out of the cart.
            cart.refetch();
            match ended {
                Ok(intent) => navigate(&format!("/checkout/complete?payment_intent={intent}"), Default::default()),
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
            <h2 id="summary-title">{t.your_order}</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    cart.await.ok().map(|cart| view! {
                        <ul class="summary-lines">
                            {cart.lines.iter().map(|line| view! {
                                <li>
                                    <span>{format!("{} × {}", line.quantity, line.name)}</span>
                                    <span>{locale.money(line.line_total)}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                        <Totals cart/>
                    })
                })}
            </Transition>
            <DiscountForm/>
        </section>
        <form class="payment" on:submit=on_submit>
            <h2>{t.shipping_address}</h2>
            <div id="address-element" data-testid="address-element" node_ref=address_target></div>
            <h2>{t.payment}</h2>
            <div id="payment-element" data-testid="payment-element" node_ref=payment_target></div>
            {move || picked.get().map(|id| view! { <PickedMethod method=saved_methods.with_value(|saved| saved.iter().find(|m| m.id == id).cloned())/> })}
            {move || checking.get().then(|| view! { <p class="notice" data-testid="payment-checking" role="status">{t.checking_unknown_outcome}</p> })}
            <p class="error" data-testid="payment-error" role="alert" aria-live="assertive">{move || error.get()}</p>
            {move || unknown_order.get().map(|order| view! { <p><A href=format!("/orders/{order}")>{t.view_order}</A></p> })}
            <button
                type="submit"
                class="primary"
                data-testid="pay-button"
                disabled=move || busy.get() || !ready.get() || repricing()
                aria-busy=move || (busy.get() || repricing()).to_string()
            >
                {move || (busy.get() || repricing()).then(|| view! { <span class="spinner" aria-hidden="true"></span> })}
                {move || if busy.get() {
                    t.processing.to_owned()
                } else {
                    crate::i18n::fill(t.pay_amount, &[&locale.money(shown.get())])
                }}
            </button>
        </form>
        </div>
    }
}

/// Which saved card will be charged (the Payment Element shows no card fields then).
#[component]
fn PickedMethod(method: Option<SavedMethod>) -> impl IntoView {
    let t = crate::i18n::use_locale().texts();
    match method {
        Some(method) => view! {
            <p class="picked-method" data-testid=format!("saved-method-{}", method.last4) role="status">
                {crate::i18n::fill(t.paying_with_saved, &[&method.label(), &method.expiry()])}
            </p>
        }
        .into_any(),
        None => view! { <p class="picked-method" role="status">{t.paying_with_saved_method}</p> }.into_any(),
    }
}

/// The return page: reads the payment's outcome from Stripe through the server.
#[component]
pub fn CheckoutCompletePage() -> impl IntoView {
    let query = use_query_map();
    let outcome = Resource::new(
        move || query.read().get("payment_intent"),
        |intent| async move {
            match intent {
                Some(intent) => payment_outcome(intent).await.map(Some),
                None => Ok(None),
            }
        },
    );
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    // Reading the outcome may have turned the cart into the order (a payment that
    // succeeded after 3-D Secure): the header's count follows.
    let CartState { cart, .. } = expect_context();
    Effect::new(move |_| {
        if outcome.get().is_some() {
            cart.refetch();
        }
    });
    view! {
        <h1>{t.payment}</h1>
        <Suspense fallback=move || view! { <p>{t.checking_payment}</p> }>
            {move || Suspend::new(async move {
                match outcome.await {
                    Ok(Some(result)) => view! { <Outcome result/> }.into_any(),
                    Ok(None) => view! { <p>{t.no_payment} " " <A href="/">{t.back_to_shop}</A></p> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.message(locale)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Outcome(result: PaymentResult) -> impl IntoView {
    let t = crate::i18n::use_locale().texts();
    let message = match result.status.as_str() {
        "succeeded" => t.paid_thanks.to_owned(),
        "processing" => t.payment_processing.to_owned(),
        "requires_capture" => t.payment_authorised.to_owned(),
        "requires_action" => t.payment_needs_action.to_owned(),
        _ => match result.failure.as_deref() {
            Some(reason) => crate::i18n::fill(t.payment_failed_because, &[&reason]),
            None => t.payment_failed.to_owned(),
        },
    };
    let failed = !matches!(result.status.as_str(), "succeeded" | "processing" | "requires_capture");
    view! {
        <p data-testid="payment-result" data-status=result.status.clone() role="status">{message}</p>
        {failed.then(|| view! { <p><A href="/checkout">{t.try_again}</A></p> })}
        <p><A href=format!("/orders/{}", result.order_id)>{t.view_order}</A></p>
    }
}
