//! The cart page (`/cart`) and the cart count in the header.

use super::{AddToCart, ApplyDiscount, Cart, CartLine, MAX_QUANTITY, SetCartQuantity, get_cart};
use crate::error::AppError;
use crate::ui::ActionError;
use leptos::prelude::*;
use leptos_router::components::A;

/// The cart and the actions that change it, shared by the header and the pages.
#[derive(Clone, Copy)]
pub struct CartState {
    pub cart: Resource<Result<Cart, AppError>>,
    pub add: ServerAction<AddToCart>,
    pub set: ServerAction<SetCartQuantity>,
    pub discount: ServerAction<ApplyDiscount>,
}

impl CartState {
    /// The cart, refetched whenever one of its actions completes, or someone signs in
    /// (a guest cart comes along) or out (an empty one is left).
    pub fn new(account: crate::account::AccountState) -> CartState {
        let add = ServerAction::<AddToCart>::new();
        let set = ServerAction::<SetCartQuantity>::new();
        let discount = ServerAction::<ApplyDiscount>::new();
        let cart =
            Resource::new(move || (add.version().get(), set.version().get(), discount.version().get(), account.version()), |_| get_cart());
        CartState { cart, add, set, discount }
    }
}

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
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        <h1>{t.your_cart}</h1>
        <ActionError action=set/>
        <Transition fallback=move || view! { <p>{t.loading_cart}</p> }>
            {move || Suspend::new(async move {
                match cart.await {
                    Ok(cart) if cart.lines.is_empty() => view! {
                        <p class="empty" data-testid="cart-empty">{t.cart_empty} " " <A href="/">{t.browse_shop}</A></p>
                    }
                    .into_any(),
                    Ok(cart) => view! { <CartLines cart/> }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.message(locale)}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CartLines(cart: Cart) -> impl IntoView {
    let t = crate::i18n::use_locale().texts();
    view! {
        <ul class="cart-lines">
            {cart.lines.clone().into_iter().map(|line| view! { <CartLineRow line/> }).collect_view()}
        </ul>
        <Totals cart/>
        <DiscountForm/>
        <A href="/checkout" attr:class="button primary">{t.go_to_checkout}</A>
    }
}

/// Subtotal, discount and total, as the server priced them.
#[component]
pub fn Totals(cart: Cart) -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        {cart.discount.map(|discount| view! {
            <p class="subtotal">{t.subtotal} " " <span>{locale.money(cart.subtotal)}</span></p>
            <p class="discount" data-testid="discount-line">{discount.label} " " <span>{format!("−{}", locale.money(discount.amount))}</span></p>
        })}
        {cart.discount_note.map(|note| view! { <p class="note">{note}</p> })}
        <p class="total">{t.total} " " <strong data-testid="order-total">{locale.money(cart.total)}</strong></p>
    }
}

/// The discount code field; works as a plain form without JavaScript.
#[component]
pub fn DiscountForm() -> impl IntoView {
    let CartState { discount, .. } = expect_context();
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let message = move || match discount.value().get() {
        Some(Ok(cart)) => {
            cart.discount.map(|d| crate::i18n::fill(t.discount_applied, &[&d.code])).unwrap_or_else(|| t.discount_removed.into())
        }
        Some(Err(error)) => error.message(locale),
        None => String::new(),
    };
    view! {
        <ActionForm action=discount attr:class="discount-form">
            <label for="discount-code">{t.discount_code}</label>
            <input id="discount-code" name="code" data-testid="discount-code" autocomplete="off" maxlength="64"/>
            <button type="submit" data-testid="apply-discount" disabled=move || discount.pending().get()>{t.apply}</button>
            <p data-testid="discount-message" role="status" aria-live="polite">{message}</p>
        </ActionForm>
    }
}

#[component]
fn CartLineRow(line: CartLine) -> impl IntoView {
    let CartState { set, .. } = expect_context();
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
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
            <span class="unit-price">{locale.money(line.unit_price)}</span>
            <span class="quantity">
                {stepper(quantity - 1, "−", crate::i18n::fill(t.one_fewer, &[&name]), quantity <= 1)}
                <output aria-label=crate::i18n::fill(t.quantity_of, &[&name])>{quantity}</output>
                {stepper(quantity + 1, "+", crate::i18n::fill(t.one_more, &[&name]), quantity >= MAX_QUANTITY)}
            </span>
            <span class="line-total">{locale.money(line.line_total)}</span>
            {stepper(0, t.remove, crate::i18n::fill(t.remove_from_cart, &[&name]), false)}
        </li>
    }
}
