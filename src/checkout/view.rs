//! Checkout pages: `/checkout` (order summary, Payment Element, pay button) and
//! `/checkout/complete` (the outcome, after a redirect or 3-D Secure).

use super::{CheckoutView, PaymentReply, PaymentResult, PaymentStatus, confirm_payment, confirm_payment_method, get_checkout, payment_outcome};
use crate::account::SavedMethod;
use crate::app::CartState;
use crate::cart::{DiscountForm, Totals};
use crate::money::Money;
use crate::stripe_js::{
    AddressElement, AddressElementOptions, Appearance, AppearanceVariables, ConfirmationTokenParams, Elements, ElementsCardOptions,
    ElementsOptions, ElementsPaymentMethodOptions, Listener, PaymentElementOptions, Storage, Stripe,
};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

#[component]
pub fn CheckoutPage() -> impl IntoView {
    let checkout = Resource::new(|| (), |_| get_checkout());
    view! {
        <h1>"Checkout"</h1>
        <noscript>
            <p class="notice">"Paying needs JavaScript: card details are entered in Stripe's secure payment form."</p>
        </noscript>
        // A Transition, not a Suspense: when the cart is repriced (a discount), the form
        // stays in place. Under a Suspense it would be taken out and put back, which
        // reloads Stripe's iframes and loses what the shopper typed.
        <Transition fallback=|| view! { <p>"Loading your order…"</p> }>
            {move || Suspend::new(async move {
                match checkout.await {
                    Ok(checkout) if checkout.cart.lines.is_empty() => view! {
                        <p class="empty">"Your cart is empty. " <A href="/">"Browse the shop"</A></p>
                    }
                    .into_any(),
                    Ok(checkout) => view! { <CheckoutForm checkout/> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The Payment Element's look, from the same values as `style/main.css`.
pub fn appearance() -> Appearance {
    Appearance {
        theme: "stripe".into(),
        variables: AppearanceVariables {
            color_primary: "#3f5f4f".into(),
            color_text: "#1f2a24".into(),
            color_danger: "#a4282b".into(),
            font_family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif".into(),
            border_radius: "10px".into(),
        },
    }
}

#[component]
fn CheckoutForm(checkout: CheckoutView) -> impl IntoView {
    let CartState { cart, .. } = expect_context();
    let error = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let ready = RwSignal::new(false);
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
    // amount (display only: the server decides what is charged).
    Effect::new(move |_| {
        if let Some(Ok(cart)) = cart.get() {
            if let Some((_, elements)) = stripe.get_value() {
                elements.update_amount(cart.total.amount);
            }
        }
    });

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
                appearance: appearance(),
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
        if busy.get_untracked() {
            return;
        }
        let Some((js, elements)) = stripe.get_value() else {
            error.set("The payment form is still loading; please wait a moment.".into());
            return;
        };
        busy.set(true);
        error.set(String::new());
        // Stripe.js requires elements.submit() synchronously in the handler, before any
        // other await.
        let submitted = elements.submit();
        let navigate = navigate.clone();
        let return_url = return_url.clone();
        leptos::task::spawn_local(async move {
            let paid = async {
                submitted.await.map_err(|e| e.message)?;
                let reply: PaymentReply = if manual {
                    let method = js.create_payment_method(&elements).await.map_err(|e| e.message)?;
                    confirm_payment_method(method).await.map_err(|e| e.to_string())?
                } else {
                    let params = ConfirmationTokenParams { return_url, payment_method_data: None };
                    let token = js.create_confirmation_token(&elements, &params).await.map_err(|e| e.message)?;
                    confirm_payment(token).await.map_err(|e| e.to_string())?
                };
                if reply.status == PaymentStatus::RequiresAction {
                    if let Err(failure) = js.handle_next_action(&reply.client_secret).await {
                        // Record the failed authentication so the order can be paid again.
                        let _ = payment_outcome(reply.payment_intent.clone()).await;
                        return Err(failure.message);
                    }
                }
                Ok::<_, String>(reply.payment_intent)
            };
            match paid.await {
                Ok(intent) => {
                    cart.refetch();
                    navigate(&format!("/checkout/complete?payment_intent={intent}"), Default::default());
                }
                Err(message) => {
                    error.set(message);
                    busy.set(false);
                }
            }
        });
    };

    view! {
        <section class="summary" aria-labelledby="summary-title">
            <h2 id="summary-title">"Your order"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    cart.await.ok().map(|cart| view! {
                        <ul class="summary-lines">
                            {cart.lines.iter().map(|line| view! {
                                <li>
                                    <span>{format!("{} × {}", line.quantity, line.name)}</span>
                                    <span>{line.line_total.to_string()}</span>
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
            <h2>"Shipping address"</h2>
            <div id="address-element" data-testid="address-element" node_ref=address_target></div>
            <h2>"Payment"</h2>
            <div id="payment-element" data-testid="payment-element" node_ref=payment_target></div>
            {move || picked.get().map(|id| view! { <PickedMethod method=saved_methods.with_value(|saved| saved.iter().find(|m| m.id == id).cloned())/> })}
            <p class="error" data-testid="payment-error" role="alert" aria-live="assertive">{move || error.get()}</p>
            <button type="submit" class="primary" data-testid="pay-button" disabled=move || busy.get() || !ready.get() aria-busy=move || busy.get().to_string()>
                {move || if busy.get() {
                    "Processing…".to_owned()
                } else {
                    let now = cart.get().and_then(Result::ok).map_or(total, |cart| cart.total);
                    format!("Pay {now}")
                }}
            </button>
        </form>
    }
}

/// Which saved card will be charged (the Payment Element shows no card fields then).
#[component]
fn PickedMethod(method: Option<SavedMethod>) -> impl IntoView {
    match method {
        Some(method) => view! {
            <p class="picked-method" data-testid=format!("saved-method-{}", method.last4) role="status">
                "Paying with your saved " {method.label()} " (expires " {method.expiry()} ")."
            </p>
        }
        .into_any(),
        None => view! { <p class="picked-method" role="status">"Paying with a saved payment method."</p> }.into_any(),
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
    view! {
        <h1>"Payment"</h1>
        <Suspense fallback=|| view! { <p>"Checking your payment…"</p> }>
            {move || Suspend::new(async move {
                match outcome.await {
                    Ok(Some(result)) => view! { <Outcome result/> }.into_any(),
                    Ok(None) => view! { <p>"There is no payment to show. " <A href="/">"Back to the shop"</A></p> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Outcome(result: PaymentResult) -> impl IntoView {
    let message = match result.status.as_str() {
        "succeeded" => "Thank you! Your payment was received.".to_owned(),
        "processing" => "Your payment is processing; your order page will show when it completes.".to_owned(),
        "requires_capture" => "Your payment is authorised.".to_owned(),
        "requires_action" => "Your payment still needs your bank's confirmation.".to_owned(),
        _ => format!(
            "The payment did not go through{}. Nothing was charged.",
            result.failure.as_deref().map(|f| format!(": {f}")).unwrap_or_default()
        ),
    };
    let failed = !matches!(result.status.as_str(), "succeeded" | "processing" | "requires_capture");
    view! {
        <p data-testid="payment-result" data-status=result.status.clone() role="status">{message}</p>
        {failed.then(|| view! { <p><A href="/checkout">"Try again"</A></p> })}
        <p><A href=format!("/orders/{}", result.order_id)>"View your order"</A></p>
    }
}
