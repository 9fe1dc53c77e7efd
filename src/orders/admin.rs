//! `/admin/orders`: the merchant's view of orders (list, filter by status, detail with
//! attempts and events), behind `ADMIN_TOKEN` given as the password of HTTP Basic auth
//! (any user name), compared in constant time. Without `ADMIN_TOKEN` it does not exist
//! (404). Plain server-rendered HTML: a tool, not part of the shop.

use crate::money::{Currency, Money};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::headers::HeaderMapExt;
use axum_extra::headers::authorization::{Authorization, Basic};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

const STATUSES: [&str; 5] = ["pending", "confirming", "failed", "paid", "canceled"];

/// `None` when allowed; otherwise the reply to send.
fn check(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = &state.config.admin_token else {
        return Some(StatusCode::NOT_FOUND.into_response());
    };
    let given = headers.typed_get::<Authorization<Basic>>();
    let password = given.as_ref().map_or("", |basic| basic.password());
    // Digests first, so that the comparison takes as long whatever the lengths.
    let same: bool = Sha256::digest(password.as_bytes()).ct_eq(&Sha256::digest(token.expose().as_bytes())).into();
    if same {
        None
    } else {
        Some(
            (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic realm=\"orders\"")], "Sign in with ADMIN_TOKEN as the password.")
                .into_response(),
        )
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn money(amount: i64, currency: &str) -> String {
    Currency::parse(currency).map(|c| Money::new(amount, c).to_string()).unwrap_or_else(|_| format!("{amount} {currency}"))
}

fn page(title: &str, body: &str) -> Response {
    Html(format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><title>{title}</title><link rel="stylesheet" href="/pkg/storefront.css"></head><body><main>{body}</main></body></html>"#,
        title = escape(title)
    ))
    .into_response()
}

fn internal(error: crate::store::StoreError) -> Response {
    tracing::error!(error = ?error, "merchant view failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "The database did not answer; try again.").into_response()
}

pub async fn list(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    if let Some(refused) = check(&state, &headers) {
        return refused;
    }
    let status = query.get("status").map(String::as_str).filter(|s| STATUSES.contains(s));
    let orders = match state.store.list_orders(status, 200).await {
        Ok(orders) => orders,
        Err(error) => return internal(error),
    };
    let filters: String = std::iter::once(("all", None))
        .chain(STATUSES.iter().map(|s| (*s, Some(*s))))
        .map(|(label, value)| match value {
            Some(value) => format!(r#" <a href="/admin/orders?status={value}">{label}</a>"#),
            None => format!(r#" <a href="/admin/orders">{label}</a>"#),
        })
        .collect();
    let rows: String = orders
        .iter()
        .map(|order| {
            format!(
                r#"<tr data-testid="admin-order-{id}"><td><a href="/admin/orders/{id}">{id}</a></td><td>{status}</td><td>{total}</td><td>{flag}</td><td>{created}</td></tr>"#,
                id = escape(&order.id),
                status = escape(&order.status),
                total = escape(&money(order.amount, &order.currency)),
                flag = escape(order.flag.as_deref().unwrap_or("")),
                created = order.created_at,
            )
        })
        .collect();
    page(
        "Orders",
        &format!(
            "<h1>Orders</h1><p>Show:{filters}</p><table><thead><tr><th>Order</th><th>Status</th><th>Total</th><th>Flag</th><th>Created (unix)</th></tr></thead><tbody>{rows}</tbody></table>"
        ),
    )
}

pub async fn detail(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(refused) = check(&state, &headers) {
        return refused;
    }
    let order = match state.store.order_for_merchant(&id).await {
        Ok(Some(order)) => order,
        Ok(None) => return (StatusCode::NOT_FOUND, "No such order.").into_response(),
        Err(error) => return internal(error),
    };
    let (attempts, events, flag, outbox) = match (
        state.store.attempts(&id).await,
        state.store.order_events(&id).await,
        state.store.order_flag(&id).await,
        state.store.outbox_for(&id).await,
    ) {
        (Ok(a), Ok(e), Ok(f), Ok(o)) => (a, e, f, o),
        (Err(error), ..) | (_, Err(error), ..) | (_, _, Err(error), _) | (.., Err(error)) => return internal(error),
    };
    let lines: String = order
        .lines
        .iter()
        .map(|l| {
            format!(
                "<li>{} × {} — {}</li>",
                l.quantity,
                escape(&l.name),
                escape(&money(l.unit_amount * i64::from(l.quantity), &order.currency))
            )
        })
        .collect();
    let attempts: String = attempts
        .iter()
        .map(|a| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                a.number,
                escape(a.payment_intent_id.as_deref().unwrap_or("")),
                escape(a.outcome.as_deref().unwrap_or("unknown")),
                escape(&money(a.amount, &a.currency))
            )
        })
        .collect();
    let ship_to = order.details.shipping.as_deref().map(super::service::address_lines).unwrap_or_default();
    let ship_to = if ship_to.is_empty() {
        "<p>No shipping address was given.</p>".to_owned()
    } else {
        format!(
            "<address data-testid=\"admin-shipping\">{}</address>",
            ship_to.iter().map(|line| escape(line)).collect::<Vec<_>>().join("<br>")
        )
    };
    let details = &order.details;
    let paid_with = match (&details.payment_method_id, &details.payment_method_type) {
        (Some(id), kind) => format!(
            "<p data-testid=\"admin-payment-method\">{} {} {} <code>{}</code></p>",
            escape(kind.as_deref().unwrap_or("")),
            escape(details.card_brand.as_deref().unwrap_or("")),
            details.last4.as_deref().map(|last4| format!("•••• {}", escape(last4))).unwrap_or_default(),
            escape(id)
        ),
        (None, _) => "<p>No payment method yet.</p>".to_owned(),
    };
    let discount = match &order.discount_code {
        Some(code) if order.discount_amount > 0 => {
            format!("<p>Discount {}: −{}</p>", escape(code), escape(&money(order.discount_amount, &order.currency)))
        }
        _ => String::new(),
    };
    let outbox: String = outbox
        .iter()
        .map(|(kind, body)| format!("<tr data-testid=\"admin-outbox\"><td>{}</td><td>{}</td></tr>", escape(kind), escape(body)))
        .collect();
    let events: String =
        events.iter().map(|(id, kind, at)| format!("<tr><td>{}</td><td>{}</td><td>{at}</td></tr>", escape(id), escape(kind))).collect();
    page(
        &format!("Order {id}"),
        &format!(
            "<p><a href=\"/admin/orders\">All orders</a></p><h1>Order {id}</h1><p>Status: <strong data-testid=\"admin-status\">{status}</strong> · Total {total}{flag}</p><ul>{lines}</ul>{discount}\
             <h2>Ship to</h2>{ship_to}<h2>Paid with</h2>{paid_with}\
             <h2>Payment attempts</h2><table><tr><th>#</th><th>PaymentIntent</th><th>Outcome</th><th>Amount</th></tr>{attempts}</table>\
             <h2>Events</h2><table><tr><th>Event</th><th>Type</th><th>Received (unix)</th></tr>{events}</table>\
             <h2>Messages to the shopper</h2><table><tr><th>Kind</th><th>Message</th></tr>{outbox}</table>",
            id = escape(&order.id),
            status = escape(&order.status),
            total = escape(&money(order.amount, &order.currency)),
            flag = flag.map(|f| format!(" · <strong>flagged: {}</strong>", escape(&f))).unwrap_or_default(),
        ),
    )
}
