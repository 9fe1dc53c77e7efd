//! The cart page (`/cart`).

use super::{ApplyDiscount, Cart, CartLine, MAX_QUANTITY, SetCartQuantity};
use crate::error::AppError;
use crate::ui::ActionError;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

/// The cart's lines with quantity controls, the subtotal and the way to checkout. The
/// forms that change it are plain posts: the server sends the browser back here, with a
/// failed post's error in the address, which the page's actions read back
/// (`ActionError` shows it).
#[component]
pub fn CartPage(cart: Result<Cart, AppError>) -> impl IntoView {
    let set = ServerAction::<SetCartQuantity>::new();
    let discount = ServerAction::<ApplyDiscount>::new();
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let lines = match cart {
        Ok(cart) if cart.lines.is_empty() => view! {
            <p class="empty" data-testid="cart-empty">{t.cart_empty()} " " <a href="/">{t.browse_shop()}</a></p>
        }
        .into_any(),
        Ok(cart) => view! { <CartLines cart set discount/> }.into_any(),
        Err(error) => view! { <p class="error" role="alert">{error.message(locale)}</p> }.into_any(),
    };
    view! {
        <h1>{t.your_cart()}</h1>
        <ActionError action=set/>
        {lines}
    }
}

#[component]
fn CartLines(cart: Cart, set: ServerAction<SetCartQuantity>, discount: ServerAction<ApplyDiscount>) -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    // A total Stripe could not charge in one payment: no way to the checkout, and why.
    let to_checkout = match cart.charge_limit.clone() {
        Some(reason) => view! { <p class="notice" role="status" data-testid="charge-limit">{reason}</p> }.into_any(),
        None => view! { <a href="/checkout" class="button primary">{t.go_to_checkout()}</a> }.into_any(),
    };
    view! {
        <ul class="cart-lines">
            {cart.lines.clone().into_iter().map(|line| view! { <CartLineRow line set/> }).collect_view()}
        </ul>
        <Totals cart/>
        <DiscountForm discount=discount.into()/>
        {to_checkout}
    }
}

/// Subtotal, discount and total, as the server priced them.
#[component]
pub fn Totals(cart: Cart) -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    view! {
        {cart.discount.map(|discount| view! {
            <p class="subtotal">{t.subtotal()} " " <span>{locale.money(cart.subtotal)}</span></p>
            <p class="discount" data-testid="discount-line">{discount.label} " " <span>{format!("−{}", locale.money(discount.amount))}</span></p>
        })}
        {cart.discount_note.map(|note| view! { <p class="note">{note}</p> })}
        <p class="total">{t.total()} " " <strong data-testid="order-total">{locale.money(cart.total)}</strong></p>
    }
}

/// Applying a discount code: on the cart page the `ServerAction` (which also reads a
/// refusal sent back in the address to a browser without JavaScript), in the checkout
/// island a plain action calling the server function (nothing comes back in the
/// address there, and decoding it is code the bundle need not carry).
pub type DiscountAction = Action<ApplyDiscount, Result<Cart, AppError>>;

/// The discount code field: a plain form that posts to the server function (the cart
/// page, which loads no wasm), and in the checkout island a request that reprices the
/// form in place. Not an `ActionForm`: that decodes the form's fields in the browser
/// (`serde_qs`, a tenth of the bundle), where one field is read directly.
#[component]
pub fn DiscountForm(discount: DiscountAction) -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let code = NodeRef::<leptos::html::Input>::new();
    let message = move || match discount.value().get() {
        Some(Ok(cart)) => {
            cart.discount.map(|d| crate::i18n::fill(t.discount_applied(), &[&d.code])).unwrap_or_else(|| t.discount_removed().into())
        }
        Some(Err(error)) => error.message(locale),
        None => String::new(),
    };
    let on_submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if let Some(input) = code.get_untracked() {
            discount.dispatch(ApplyDiscount { code: input.value() });
        }
    };
    view! {
        <form class="discount-form" action=ApplyDiscount::url() method="post" on:submit=on_submit>
            <label for="discount-code">{t.discount_code()}</label>
            <input id="discount-code" name="code" data-testid="discount-code" autocomplete="off" maxlength="64" node_ref=code/>
            <button type="submit" data-testid="apply-discount" disabled=move || discount.pending().get()>{t.apply()}</button>
            <p data-testid="discount-message" role="status" aria-live="polite">{message}</p>
        </form>
    }
}

#[component]
fn CartLineRow(line: CartLine, set: ServerAction<SetCartQuantity>) -> impl IntoView {
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
            <span class="unit-price">{crate::catalog::price_label(line.unit_price, line.recurring, locale)}</span>
            <span class="quantity">
                {stepper(quantity - 1, "−", crate::i18n::fill(t.one_fewer(), &[&name]), quantity <= 1)}
                <output aria-label=crate::i18n::fill(t.quantity_of(), &[&name])>{quantity}</output>
                {stepper(quantity + 1, "+", crate::i18n::fill(t.one_more(), &[&name]), quantity >= MAX_QUANTITY)}
            </span>
            <span class="line-total">{locale.money(line.line_total)}</span>
            {stepper(0, t.remove(), crate::i18n::fill(t.remove_from_cart(), &[&name]), false)}
        </li>
    }
}
