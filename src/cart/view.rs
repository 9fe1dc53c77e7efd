//! The cart page (`/cart`) and the cart count in the header.

use super::{Cart, CartLine, MAX_QUANTITY};
use crate::app::{ActionError, CartState};
use leptos::prelude::*;
use leptos_router::components::A;

/// The number of items in the cart, for the header.
#[component]
pub fn CartCount() -> impl IntoView {
    let CartState { cart, .. } = expect_context();
    view! {
        <Transition fallback=|| view! { <span class="count" data-testid="cart-count">"0"</span> }>
            {move || Suspend::new(async move {
                let count = cart.await.map(|cart| cart.item_count).unwrap_or(0);
                view! { <span class="count" data-testid="cart-count">{count}</span> }
            })}
        </Transition>
    }
}

/// The cart's lines with quantity controls, the subtotal and the way to checkout.
#[component]
pub fn CartPage() -> impl IntoView {
    let CartState { cart, set, .. } = expect_context();
    view! {
        <h1>"Your cart"</h1>
        <ActionError action=set/>
        <Transition fallback=|| view! { <p>"Loading your cart…"</p> }>
            {move || Suspend::new(async move {
                match cart.await {
                    Ok(cart) if cart.lines.is_empty() => view! {
                        <p class="empty">"Your cart is empty. " <A href="/">"Browse the shop"</A></p>
                    }
                    .into_any(),
                    Ok(cart) => view! { <CartLines cart/> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CartLines(cart: Cart) -> impl IntoView {
    view! {
        <ul class="cart-lines">
            {cart.lines.clone().into_iter().map(|line| view! { <CartLineRow line/> }).collect_view()}
        </ul>
        <Totals cart/>
        <DiscountForm/>
        <A href="/checkout" attr:class="button primary">"Go to checkout"</A>
    }
}

/// Subtotal, discount and total, as the server priced them.
#[component]
pub fn Totals(cart: Cart) -> impl IntoView {
    view! {
        {cart.discount.map(|discount| view! {
            <p class="subtotal">"Subtotal " <span>{cart.subtotal.to_string()}</span></p>
            <p class="discount" data-testid="discount-line">{discount.label} " " <span>{format!("−{}", discount.amount)}</span></p>
        })}
        {cart.discount_note.map(|note| view! { <p class="note">{note}</p> })}
        <p class="total">"Total " <strong data-testid="order-total">{cart.total.to_string()}</strong></p>
    }
}

/// The discount code field; works as a plain form without JavaScript.
#[component]
pub fn DiscountForm() -> impl IntoView {
    let CartState { discount, .. } = expect_context();
    let message = move || match discount.value().get() {
        Some(Ok(cart)) => cart.discount.map(|d| format!("{} applied.", d.code)).unwrap_or_else(|| "Discount removed.".into()),
        Some(Err(error)) => error.to_string(),
        None => String::new(),
    };
    view! {
        <ActionForm action=discount attr:class="discount-form">
            <label for="discount-code">"Discount code"</label>
            <input id="discount-code" name="code" data-testid="discount-code" autocomplete="off" maxlength="64"/>
            <button type="submit" data-testid="apply-discount" disabled=move || discount.pending().get()>"Apply"</button>
            <p data-testid="discount-message" role="status" aria-live="polite">{message}</p>
        </ActionForm>
    }
}

#[component]
fn CartLineRow(line: CartLine) -> impl IntoView {
    let CartState { set, .. } = expect_context();
    let id = line.product_id.to_string();
    let name = line.name.clone();
    let stepper = move |quantity: u32, label: &'static str, aria: String, disabled: bool| {
        let id = id.clone();
        view! {
            <ActionForm action=set>
                <input type="hidden" name="product_id" value=id/>
                <input type="hidden" name="quantity" value=quantity.to_string()/>
                <button type="submit" class="stepper" aria-label=aria disabled=move || disabled || set.pending().get()>
                    {label}
                </button>
            </ActionForm>
        }
    };
    let quantity = line.quantity;
    view! {
        <li class="cart-line" data-testid=format!("cart-line-{}", line.product_id)>
            <img src=line.image alt="" width="64" height="64"/>
            <span class="name">{line.name.clone()}</span>
            <span class="unit-price">{line.unit_price.to_string()}</span>
            <span class="quantity">
                {stepper(quantity - 1, "−", format!("One fewer {name}"), quantity <= 1)}
                <output aria-label=format!("Quantity of {name}")>{quantity}</output>
                {stepper(quantity + 1, "+", format!("One more {name}"), quantity >= MAX_QUANTITY)}
            </span>
            <span class="line-total">{line.line_total.to_string()}</span>
            {stepper(0, "Remove", format!("Remove {name} from the cart"), false)}
        </li>
    }
}
