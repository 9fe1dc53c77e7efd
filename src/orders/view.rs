//! The order status page (`/orders/{id}`).

use super::{OrderView, get_order};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Meta;
use leptos_router::hooks::use_params_map;

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let order = Resource::new(move || params.read().get("id").unwrap_or_default(), get_order);
    view! {
        <Suspense fallback=|| view! { <p>"Loading your order…"</p> }>
            {move || Suspend::new(async move {
                match order.await {
                    Ok(order) => view! { <Order order/> }.into_any(),
                    Err(AppError::NotFound(message)) => {
                        crate::app::set_not_found_status();
                        view! { <h1>"Order not found"</h1> <p>{message}</p> }.into_any()
                    }
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Order(order: OrderView) -> impl IntoView {
    let status = match order.status.as_str() {
        "paid" => "Paid",
        "confirming" => "Payment submitted — awaiting Stripe's confirmation",
        "failed" => "Payment failed — you can pay again from checkout",
        "canceled" => "Canceled",
        _ => "Awaiting payment",
    };
    // Until Stripe's webhook settles the payment, the page reloads itself (with or
    // without JavaScript).
    let settling = matches!(order.status.as_str(), "confirming" | "pending");
    view! {
        {settling.then(|| view! { <Meta http_equiv="refresh" content="3"/> })}
        <h1>{format!("Order {}", order.id)}</h1>
        <p>"Status: " <strong data-testid="order-status" data-status=order.status.clone()>{status}</strong></p>
        <ul class="summary-lines">
            {order.lines.into_iter().map(|line| view! {
                <li><span>{format!("{} × {}", line.quantity, line.name)}</span><span>{line.line_total.to_string()}</span></li>
            }).collect_view()}
        </ul>
        <p class="total">"Total " <strong>{order.total.to_string()}</strong></p>
    }
}
