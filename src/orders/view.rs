//! The order status page (`/orders/{id}`).

use super::OrderView;
use crate::error::AppError;
use leptos::prelude::*;

/// The order, or why it cannot be shown (a 404's reply status is the handler's).
#[component]
pub fn OrderPage(order: Result<OrderView, AppError>) -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    match order {
        Ok(order) => view! { <Order order/> }.into_any(),
        // Where to go from here: the account's orders (or signing in to see them), the shop.
        Err(AppError::NotFound(message)) => view! {
            <h1>{t.order_not_found()}</h1>
            <p>{message}</p>
            <p><a href="/account">{t.your_orders()}</a> " · " <a href="/">{t.back_to_shop()}</a></p>
        }
        .into_any(),
        Err(error) => view! { <p class="error" role="alert">{error.message(locale)}</p> }.into_any(),
    }
}

#[component]
fn Order(order: OrderView) -> impl IntoView {
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let status = t.order_status(&order.status);
    // Until Stripe's webhook settles the payment, the page reloads itself (with or
    // without JavaScript: `refresh_in_secs` in the document's head), less and less
    // often, and then stops and says so.
    let settling = matches!(order.status.as_str(), "confirming" | "pending");
    let (title_before, title_after) = t.order_title().split_once("{0}").unwrap_or((t.order_title(), ""));
    view! {
        {settling.then(|| view! {
            <p class="notice" data-testid="order-waiting" role="status">
                {if order.refresh_in_secs.is_some() { t.order_refreshing() } else { t.order_still_waiting() }}
            </p>
        })}
        <h1 class="order-title">{title_before} <span class="order-number">{order.id.clone()}</span>{title_after}</h1>
        <p class="placed-on">{crate::i18n::fill(t.placed_on(), &[&locale.date(order.placed_at)])}</p>
        <p>{t.status()} {t.colon()} " " <strong data-testid="order-status" data-status=order.status.clone()>{status}</strong></p>
        <ul class="summary-lines">
            {order.lines.into_iter().map(|line| view! {
                <li><span>{format!("{} × {}", line.quantity, line.name)}</span><span>{locale.money(line.line_total)}</span></li>
            }).collect_view()}
        </ul>
        {order.discount.map(|(code, amount)| view! {
            <p class="discount" data-testid="order-discount">
                {crate::i18n::fill(t.discount_with_code(), &[&code])} " " <span>{format!("−{}", locale.money(amount))}</span>
            </p>
        })}
        {order.credit.map(|credit| view! {
            <p class="discount" data-testid="order-credit">
                {t.paid_from_credit()} " " <span>{format!("−{}", locale.money(credit))}</span>
            </p>
        })}
        <p class="total">{t.total()} " " <strong>{locale.money(order.total)}</strong></p>
        {order.charged.map(|charged| view! {
            <p class="total">{t.charged()} " " <strong data-testid="order-charged">{locale.money(charged)}</strong></p>
        })}
        {(!order.refunds.is_empty()).then(|| view! {
            <h2>{t.refunds()}</h2>
            <ul class="summary-lines" data-testid="order-refunds">
                {order.refunds.into_iter().map(|(amount, done)| view! {
                    <li data-testid="order-refund" data-done=done.to_string()>
                        <span>{if done { t.refund_done() } else { t.refund_pending() }}</span>
                        <span>{format!("−{}", locale.money(amount))}</span>
                    </li>
                }).collect_view()}
            </ul>
            <p class="total">{t.refunded_total()} " " <strong data-testid="order-refunded">{locale.money(order.refunded)}</strong></p>
        })}
        {order.receipt.then(|| view! {
            <p><a href=document_link(&order.id, "receipt", order.key.as_deref()) data-testid="order-receipt">{t.view_receipt()}</a></p>
        })}
        {order.invoice.then(|| view! {
            <p><a href=document_link(&order.id, "invoice", order.key.as_deref()) data-testid="order-invoice">{t.view_invoice()}</a></p>
        })}
        {(!order.ship_to.is_empty()).then(|| view! {
            <h2>{t.ship_to()}</h2>
            <address data-testid="order-shipping">
                {order.ship_to.into_iter().map(|line| view! { <span class="address-line">{line}</span> }).collect_view()}
            </address>
        })}
    }
}

/// The address on the shop of the order's `document` (`receipt`, `invoice`), with the
/// key the page was opened with.
fn document_link(order_id: &str, document: &str, key: Option<&str>) -> String {
    match key {
        Some(key) => format!("/orders/{order_id}/{document}?key={key}"),
        None => format!("/orders/{order_id}/{document}"),
    }
}
