//! `/admin/orders`: the merchant's view of orders (list, filter by status, detail with
//! attempts and events), behind `ADMIN_TOKEN` given as the password of HTTP Basic auth
//! (any user name), compared in constant time. Without `ADMIN_TOKEN` it does not exist
//! (404). Plain server-rendered HTML: a tool, not part of the shop.

use crate::money::{Currency, Money};
use crate::state::AppState;
use crate::store::{DisputeStage, Handled, OrderFilter, OrderFlags, OrderStatus, RefundStatus};
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum_extra::headers::HeaderMapExt;
use axum_extra::headers::authorization::{Authorization, Basic};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

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
    Money::shown(amount, currency)
}

/// A merchant's page, with the shop's stylesheet (at the build's address: with
/// `hash-files`, a plain `/pkg/storefront.css` is no file).
fn page(state: &AppState, title: &str, body: &str) -> Response {
    Html(format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex"><link rel="icon" href="/favicon.svg" type="image/svg+xml"><title>{title}</title><link rel="stylesheet" href="{stylesheet}"></head><body><main>{body}</main></body></html>"#,
        title = escape(title),
        stylesheet = escape(&state.document.stylesheet),
    ))
    .into_response()
}

/// An order's address, even one that is not UTF-8 (no order's: a 404).
type OrderPath = Result<Path<String>, PathRejection>;
/// A merchant's form as posted, even one that is no such form.
type Posted<T> = Result<Form<T>, FormRejection>;

fn no_such_order() -> Response {
    (StatusCode::NOT_FOUND, "No such order.").into_response()
}

/// A merchant's posted form, once the request is known to be the merchant's: the
/// origin (by `server::middleware::writes`, for every write) and the credentials are
/// checked before the body is looked at, so that nobody
/// else learns anything from how a body is refused. A body that is no such form (not
/// one this view rendered) gets the form's defaults, which its nonce check refuses
/// with a message saying to reload the page. `None` for an order address that is not
/// UTF-8 (so no order's).
fn posted<T: Default>(id: &OrderPath, form: Posted<T>) -> Option<(&str, T)> {
    let Ok(Path(id)) = id else { return None };
    Some((id, form.map_or_else(|_| T::default(), |Form(form)| form)))
}

fn internal(error: crate::store::StoreError) -> Response {
    tracing::error!(error = ?error, "merchant view failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "The database did not answer; try again.").into_response()
}

/// Orders on one page of the merchant's list.
const PAGE: i64 = 100;

/// `GET /admin/orders[?status=…|?flagged=1|?subscription=sub_…][&after=…]`: every
/// order, newest first, a page at a time; `after` is the last order of the page before
/// (`{created_at}.{id}`), so a page shows the same orders however many arrive meanwhile.
pub async fn list(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    if let Some(refused) = check(&state, &headers) {
        return refused;
    }
    let subscription = query.get("subscription").and_then(|id| crate::stripe::ids::SubscriptionId::parse(id).ok());
    let filter = match (query.get("flagged"), query.get("status").and_then(|status| OrderStatus::parse(status)), subscription) {
        (Some(_), ..) => OrderFilter::Flagged,
        (None, Some(status), _) => OrderFilter::Status(status),
        (None, None, Some(subscription)) => OrderFilter::Subscription(subscription.as_str().to_owned()),
        (None, None, None) => OrderFilter::All,
    };
    let after = after_of(&query);
    let (orders, waiting) =
        match (state.store.orders_page(filter.clone(), after.clone(), PAGE).await, state.store.waiting_orders(PAGE + 1).await) {
            (Ok(orders), Ok(waiting)) => (orders, waiting),
            (Err(error), _) | (_, Err(error)) => return internal(error),
        };
    // The filter's own query, which the paging links keep.
    let filter_query = |filter: &OrderFilter| match filter {
        OrderFilter::All => None,
        OrderFilter::Status(status) => Some(("status", status.as_str().to_owned())),
        OrderFilter::Flagged => Some(("flagged", "1".to_owned())),
        OrderFilter::Subscription(id) => Some(("subscription", id.clone())),
    };
    let filters: String = [("all", OrderFilter::All), ("flagged", OrderFilter::Flagged)]
        .into_iter()
        .chain(OrderStatus::ALL.iter().map(|&s| (s.as_str(), OrderFilter::Status(s))))
        .map(|(label, shown)| {
            let href =
                filter_query(&shown).map_or_else(|| "/admin/orders".to_owned(), |(key, value)| format!("/admin/orders?{key}={value}"));
            let current = if shown == filter { r#" aria-current="page""# } else { "" };
            let count = match (shown, waiting) {
                (OrderFilter::Flagged, waiting) if waiting > PAGE => format!(" ({PAGE}+)"),
                (OrderFilter::Flagged, waiting) => format!(" ({waiting})"),
                _ => String::new(),
            };
            format!(r#" <a href="{href}" data-testid="admin-filter-{label}"{current}>{label}{count}</a>"#)
        })
        .collect();
    let rows: String = orders
        .iter()
        .map(|order| {
            format!(
                r#"<tr data-testid="admin-order-{id}"><td><a href="/admin/orders/{id}">{id}</a></td><td>{status}</td><td>{total}</td><td>{flag}</td><td>{created}</td></tr>"#,
                id = escape(&order.id),
                status = escape(order.shown_status()),
                total = escape(&money(order.amount, &order.currency)),
                flag = match (order.flags.is_empty(), order.waiting) {
                    (true, _) => String::new(),
                    (false, true) => format!(r#"{} · <strong data-testid="admin-waiting">needs you</strong>"#, escape(&order.flags.join(", "))),
                    (false, false) => format!("{} (handled)", escape(&order.flags.join(", "))),
                },
                created = moment(order.created_at),
            )
        })
        .collect();
    // Paging links keep the filter.
    let kept: Vec<_> = filter_query(&filter).into_iter().collect();
    let paging = paging("/admin/orders", &kept, after.is_some(), &orders, |order| (order.created_at, &order.id), "orders");
    let empty = if orders.is_empty() { "<p>No orders here.</p>" } else { "" };
    // One subscription's: its paid invoices (its id is a well-formed `sub_…`).
    let of = match &filter {
        OrderFilter::Subscription(id) => {
            format!(r#"<p data-testid="admin-orders-of">The orders of subscription <code>{}</code>, one per paid invoice.</p>"#, escape(id))
        }
        _ => String::new(),
    };
    page(
        &state,
        "Orders",
        &format!(
            "<h1>Orders</h1><p><a href=\"/admin/subscriptions\">Subscriptions</a></p><p>Show:{filters}</p>{of}<table><thead><tr><th>Order</th><th>Status</th><th>Total</th><th>Flag</th><th>Created</th></tr></thead><tbody>{rows}</tbody></table>{empty}{paging}",
        ),
    )
}

/// A moment, for people and machines: `<time datetime="2026-12-02T21:40:05Z">2026-12-02 21:40 UTC</time>`.
fn moment(unix: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let (date, hour, minute) = (format!("{}-{:02}-{:02}", at.year(), u8::from(at.month()), at.day()), at.hour(), at.minute());
    format!(r#"<time datetime="{date}T{hour:02}:{minute:02}:{:02}Z">{date} {hour:02}:{minute:02} UTC</time>"#, at.second())
}

/// A page's `after`: `{created_at}.{id}` of the last row of the page before.
fn after_of(query: &HashMap<String, String>) -> Option<(i64, String)> {
    let (at, id) = query.get("after")?.split_once('.')?;
    Some((at.parse().ok()?, id.to_owned()))
}

/// The links from one page of a list to the newest and to the next, older, one.
fn paging<T>(base: &str, query: &[(&str, String)], after: bool, shown: &[T], last: impl Fn(&T) -> (i64, &str), noun: &str) -> String {
    let link = |after: Option<String>| {
        let pairs: std::collections::BTreeMap<&str, String> = query.iter().cloned().chain(after.map(|after| ("after", after))).collect();
        match pairs.is_empty() {
            true => base.to_owned(),
            false => format!("{base}?{}", serde_qs::to_string(&pairs).unwrap_or_default()),
        }
    };
    let mut links = Vec::new();
    if after {
        links.push(format!(r#"<a href="{}" data-testid="admin-newest">Newest {noun}</a>"#, escape(&link(None))));
    }
    if let Some(row) = shown.last().filter(|_| shown.len() as i64 == PAGE) {
        let (created_at, id) = last(row);
        let next = link(Some(format!("{created_at}.{id}")));
        links.push(format!(r#"<a href="{}" data-testid="admin-older" rel="next">Older {noun}</a>"#, escape(&next)));
    }
    format!("<p>{}</p>", links.join(" "))
}

/// `GET /admin/subscriptions[?after=…]`: every subscription, newest first, a page at a
/// time (`after` as for orders): the shopper, what and at what price, Stripe's status,
/// the period's end and whether it ends then, Stripe's next retry of an overdue renewal,
/// and why one ended (Stripe's `cancellation_details.reason`). Each paid invoice is an order of the list
/// above.
pub async fn subscriptions(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<HashMap<String, String>>) -> Response {
    if let Some(refused) = check(&state, &headers) {
        return refused;
    }
    let after = after_of(&query);
    let subscriptions = match state.store.subscriptions_page(after.clone(), PAGE).await {
        Ok(subscriptions) => subscriptions,
        Err(error) => return internal(error),
    };
    let paging = paging("/admin/subscriptions", &[], after.is_some(), &subscriptions, |s| (s.created_at, &s.id), "subscriptions");
    let empty = if subscriptions.is_empty() { "<p>No subscriptions here.</p>" } else { "" };
    let rows: String = subscriptions
        .iter()
        .map(|subscription| {
            let terms = &subscription.terms;
            let every = match terms.interval_count {
                1 => terms.interval.clone(),
                n => format!("{n} {}s", terms.interval),
            };
            format!(
                r#"<tr data-testid="admin-subscription-{id}"><td><a href="/admin/orders?subscription={id}" data-testid="admin-subscription-orders">{id}</a></td><td>{email}</td><td>{quantity} × {name}</td><td>{price} / {every}</td><td data-testid="admin-subscription-status">{status}</td><td>{end}</td><td>{ending}</td></tr>"#,
                id = escape(&subscription.id),
                email = escape(&subscription.account_email),
                quantity = terms.quantity,
                name = escape(&terms.name),
                price = escape(&money(terms.unit_amount.saturating_mul(terms.quantity), &terms.currency)),
                every = escape(&every),
                status = escape(&subscription.state.status),
                end = subscription.state.current_period_end.map(moment).unwrap_or_default(),
                ending = {
                    let state = &subscription.state;
                    let paused = match (state.collection_paused, state.collection_resumes_at) {
                        (true, Some(at)) => Some(format!("payments paused until {}", moment(at))),
                        (true, None) => Some("payments paused".to_owned()),
                        (false, _) => None,
                    };
                    let ending = match (state.cancel_at_period_end, state.cancel_at) {
                        (true, _) => Some("cancels at period end".to_owned()),
                        (false, Some(at)) => Some(format!("cancels on {}", moment(at))),
                        (false, None) => None,
                    };
                    // Stripe's retries of an overdue renewal, and why one ended.
                    let retry = state.next_payment_attempt.map(|at| format!("next payment attempt {}", moment(at)));
                    let ended = state.cancellation_reason.as_ref().filter(|_| !state.is_live()).map(|why| format!("ended: {}", escape(why)));
                    [paused, ending, retry, ended].into_iter().flatten().collect::<Vec<_>>().join("; ")
                },
            )
        })
        .collect();
    page(
        &state,
        "Subscriptions",
        &format!(
            "<p><a href=\"/admin/orders\">All orders</a></p><h1>Subscriptions</h1><table><thead><tr><th>Subscription</th><th>Shopper</th><th>What</th><th>Price</th><th>Status</th><th>Period ends</th><th></th></tr></thead><tbody>{rows}</tbody></table>{empty}{paging}"
        ),
    )
}

pub async fn detail(
    State(state): State<AppState>,
    headers: HeaderMap,
    id: OrderPath,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = check(&state, &headers) {
        return refused;
    }
    let Ok(Path(id)) = id else { return no_such_order() };
    let order = match state.store.order_for_merchant(&id).await {
        Ok(Some(order)) => order,
        Ok(None) => return no_such_order(),
        Err(error) => return internal(error),
    };
    // What a form of this page did, as its redirect said (and sealed); nothing else.
    let query = state.form_errors.open_notice(&format!("/admin/orders/{}", order.id), &query);
    let (attempts, events, flag, outbox) = match (
        state.store.attempts(&id).await,
        state.store.order_events(&id).await,
        state.store.order_flags(&id).await,
        state.store.outbox_for(&id).await,
    ) {
        (Ok(a), Ok(e), Ok(f), Ok(o)) => (a, e, f, o),
        (Err(error), ..) | (_, Err(error), ..) | (_, _, Err(error), _) | (.., Err(error)) => return internal(error),
    };
    let refunds = match state.store.refunds_of(&id).await {
        Ok(refunds) => refunds,
        Err(error) => return internal(error),
    };
    let attention_section = attention_section(&order.id, &flag, &outbox, &query);
    let refunds_section = refunds_section(&order, &refunds, &flag.flags, &query);
    let capture_section = capture_section(&order, &query);
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
                escape(a.outcome.as_ref().map_or("unknown", |outcome| outcome.as_str())),
                escape(&money(a.amount, &a.currency))
            )
        })
        .collect();
    let ship_to = order.details.shipping.as_deref().map(|json| crate::address::lines(json, crate::i18n::Locale::En)).unwrap_or_default();
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
    let invoice = match &order.invoice {
        Some((subscription, invoice)) => format!(
            r#"<p data-testid="admin-order-invoice">Invoice <code>{invoice}</code> of subscription <a href="/admin/orders?subscription={subscription}">{subscription}</a>.</p>"#,
            invoice = escape(invoice),
            subscription = escape(subscription),
        ),
        None => String::new(),
    };
    let discount = match &order.discount_code {
        Some(code) if order.discount_amount > 0 => {
            format!("<p>Discount {}: −{}</p>", escape(code), escape(&money(order.discount_amount, &order.currency)))
        }
        _ => String::new(),
    };
    let credit = match order.credit_amount {
        0 => String::new(),
        credit => format!(
            "<p data-testid=\"admin-order-credit\">Paid from the customer's credit: −{}</p>",
            escape(&money(credit, &order.currency))
        ),
    };
    let outbox: String = outbox
        .iter()
        .map(|message| {
            format!(
                "<tr data-testid=\"admin-outbox\" data-status=\"{status}\"><td>{}</td><td>{}</td><td>{status}{}</td></tr>",
                escape(&message.kind),
                escape(&message.body),
                message.last_error.as_deref().map(|error| format!(": {}", escape(error))).unwrap_or_default(),
                status = message.status,
            )
        })
        .collect();
    let events: String = events
        .iter()
        .map(|(id, kind, at)| format!("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", escape(id), escape(kind), moment(*at)))
        .collect();
    page(
        &state,
        &format!("Order {id}"),
        &format!(
            "<p><a href=\"/admin/orders\">All orders</a></p><h1>Order {id}</h1><p>Status: <strong data-testid=\"admin-status\">{status}</strong> · Total {total}{charged}{flag}</p>{attention_section}{invoice}<ul>{lines}</ul>{discount}{credit}\
             <h2>Ship to</h2>{ship_to}<h2>Paid with</h2>{paid_with}{capture_section}{refunds_section}\
             <h2>Payment attempts</h2><table><tr><th>#</th><th>PaymentIntent</th><th>Outcome</th><th>Amount</th></tr>{attempts}</table>\
             <h2>Events</h2><table><tr><th>Event</th><th>Type</th><th>Received</th></tr>{events}</table>\
             <h2>Messages</h2><p>To the shopper at {email}; those whose kind starts with <code>merchant.</code> to you \
             (<code>MERCHANT_EMAIL</code>). The shopper's emails link to the order's page at \
             <a href=\"{link}\" data-testid=\"admin-shopper-link\">{link}</a>, {opens}</p>\
             <table><tr><th>Kind</th><th>Message</th><th>Sent</th></tr>{outbox}</table>",
            link = escape(&super::shopper_link(&state.public_url, &order)),
            opens = match order.view_key {
                Some(_) => "which opens it for whoever has the address: give it to a shopper who lost them.",
                None => "which opens it only where it was placed (an order made before the links carried a key).",
            },
            id = escape(&order.id),
            email = escape(order.email.as_deref().unwrap_or("nobody (no email address given)")),
            status = escape(order.shown_status()),
            total = escape(&money(order.amount, &order.currency)),
            charged = if order.status == OrderStatus::Paid && order.charged < order.amount {
                format!(" · Charged <strong data-testid=\"admin-charged\">{}</strong>", escape(&money(order.charged, &order.currency)))
            } else {
                String::new()
            },
            flag = if flag.flags.is_empty() {
                String::new()
            } else {
                format!(" · <strong>flagged: {}</strong>", escape(&flag.flags.join(", ")))
            },
        ),
    )
}

/// Whether the order waits for the merchant (they were emailed about it), with the form
/// that takes it out of the flagged list once they have dealt with it; or when they
/// did.
fn attention_section(id: &str, flags: &OrderFlags, outbox: &[crate::store::OutboxEntry], query: &HashMap<String, String>) -> String {
    let message = match (query.get("handled"), query.get("handled_error")) {
        (_, Some(error)) => format!("<p class=\"error\" role=\"alert\" data-testid=\"admin-handled-error\">{}</p>", escape(error)),
        (Some(_), None) => "<p role=\"status\" data-testid=\"admin-handled-done\">Marked handled: the order left the flagged list. \
                            A new message about it brings it back.</p>"
            .to_owned(),
        _ => String::new(),
    };
    match (flags.flagged_at, flags.handled_at) {
        (Some(since), _) => {
            // What this page shows the merchant was told: a message queued after it
            // makes the form stale.
            let told = outbox.iter().filter(|message| message.kind.starts_with("merchant.")).count();
            format!(
                "{message}<p data-testid=\"admin-needs-you\">You were emailed about this order (flagged {since}). Once you have dealt \
                 with it, mark it handled: it leaves the flagged list until something new happens to it.</p>\
                 <form method=\"post\" action=\"/admin/orders/{id}/handled\" data-testid=\"admin-handled-form\">\
                 <input type=\"hidden\" name=\"seen\" value=\"{told}\">\
                 <p><button type=\"submit\" data-testid=\"admin-handled-submit\">Mark handled</button></p></form>",
                since = moment(since),
                id = escape(id),
            )
        }
        (None, Some(at)) => format!("{message}<p data-testid=\"admin-handled\">Marked handled {}.</p>", moment(at)),
        (None, None) => message,
    }
}

#[derive(serde::Deserialize, Default)]
pub struct HandledForm {
    /// How many messages to the merchant the page showed.
    seen: String,
}

/// `POST /admin/orders/{id}/handled`: the merchant has dealt with what they were told
/// about the order; it leaves the flagged list until a new message about it.
pub async fn handled(State(state): State<AppState>, headers: HeaderMap, id: OrderPath, form: Posted<HandledForm>) -> Response {
    if let Some(refused) = check(&state, &headers) {
        return refused;
    }
    let Some((id, form)) = posted(&id, form) else { return no_such_order() };
    let Ok(seen) = form.seen.parse::<i64>() else {
        return match state.store.order_for_merchant(id).await {
            Ok(Some(_)) => back_to(&state, id, "handled_error", "The form has expired: reload the page and mark it again."),
            Ok(None) => no_such_order(),
            Err(error) => internal(error),
        };
    };
    match state.store.mark_handled(id, seen, crate::session::now()).await {
        Ok(Handled::Done) => {
            tracing::info!(order = %id, "the merchant marked an order handled");
            back_to(&state, id, "handled", "1")
        }
        Ok(Handled::Already) => back_to(&state, id, "handled", "1"),
        Ok(Handled::NewsSince) => back_to(
            &state,
            id,
            "handled_error",
            "Something new happened to this order since you opened it: read it below, then mark it handled again.",
        ),
        Ok(Handled::NothingToHandle) => {
            back_to(&state, id, "handled_error", "Nothing on this order waits for you: you were never told about it.")
        }
        Ok(Handled::NoOrder) => no_such_order(),
        Err(error) => internal(error),
    }
}

/// Reasons Stripe records with a refund (empty: none given).
const REASONS: [(&str, &str); 4] =
    [("", "—"), ("requested_by_customer", "Requested by the customer"), ("duplicate", "Duplicate payment"), ("fraudulent", "Fraudulent")];

/// The order's refunds, and the form to refund more (a paid order with money left).
fn refunds_section(
    order: &crate::store::OrderRecord,
    refunds: &crate::store::Refunds,
    flags: &[String],
    query: &HashMap<String, String>,
) -> String {
    let rows: String = refunds
        .refunds
        .iter()
        .map(|r| {
            format!(
                "<tr data-testid=\"admin-refund\" data-status=\"{status}\"><td><code>{id}</code></td><td>{amount}</td><td>{status}{why}</td><td>{reason}</td></tr>",
                id = escape(&r.id),
                amount = escape(&money(r.amount, &r.currency)),
                status = r.status.as_str(),
                why = r.failure_reason.as_deref().map(|why| format!(" ({})", escape(why))).unwrap_or_default(),
                reason = escape(r.reason.as_deref().unwrap_or("")),
            )
        })
        .collect();
    // Stripe puts the money of a failed refund back in the balance, and says to return
    // it to the customer some other way.
    let failed = if refunds.refunds.iter().any(|r| r.status == RefundStatus::Failed) {
        "<p class=\"error\" role=\"alert\" data-testid=\"admin-refund-failed\">A refund failed: Stripe put its money back in \
         your balance and the shopper has not received it. Give it back to them another way.</p>"
    } else {
        ""
    };
    let message = match (query.get("refunded"), query.get("error")) {
        (_, Some(error)) => format!("<p class=\"error\" role=\"alert\" data-testid=\"admin-refund-error\">{}</p>", escape(error)),
        (Some(refund), None) => {
            format!("<p role=\"status\" data-testid=\"admin-refund-done\">Refund <code>{}</code> sent to Stripe.</p>", escape(refund))
        }
        _ => String::new(),
    };
    let remaining = order.charged - refunds.committed;
    let can_refund = order.status == OrderStatus::Paid && remaining > 0;
    // Stripe's advice on an early fraud warning: refund (as `fraudulent`, which also
    // teaches Radar) before the cardholder disputes, which would cost a fee as well.
    let warned = flags.iter().any(|flag| flag == DisputeStage::FraudWarning.as_str());
    let fraud_warning = if warned && can_refund {
        "<p class=\"error\" role=\"alert\" data-testid=\"admin-fraud-warning\">The card's issuer reported this payment as \
         fraud. A dispute often follows, with a fee; refunding it now, as fraudulent, avoids both.</p>"
    } else {
        ""
    };
    let form = if can_refund {
        let currency = crate::money::Currency::parse(&order.currency).ok();
        let digits = currency.map_or(2, |c| c.exponent());
        let options: String = REASONS
            .iter()
            .map(|(value, label)| {
                let selected = if warned && *value == "fraudulent" { " selected" } else { "" };
                format!("<option value=\"{value}\"{selected}>{}</option>", escape(label))
            })
            .collect();
        let restock = if refunds.restocked {
            "<p>The goods of this order are back in stock already.</p>".to_owned()
        } else {
            "<p><label><input type=\"checkbox\" name=\"restock\" value=\"yes\" data-testid=\"admin-refund-restock\"> \
             Put this order's goods back in stock when the refund succeeds</label></p>"
                .to_owned()
        };
        format!(
            "<form method=\"post\" action=\"/admin/orders/{id}/refunds\" data-testid=\"admin-refund-form\">\
             <input type=\"hidden\" name=\"request\" value=\"{request}\">\
             <p><label>Amount ({currency}) <input name=\"amount\" inputmode=\"decimal\" required value=\"{amount}\" data-testid=\"admin-refund-amount\"></label> \
             at most {remaining_text}</p>\
             <p><label>Reason <select name=\"reason\" data-testid=\"admin-refund-reason\">{options}</select></label></p>{restock}\
             <p><button type=\"submit\" data-testid=\"admin-refund-submit\">Refund</button></p></form>",
            id = escape(&order.id),
            request = crate::session::random_id("refund"),
            currency = escape(&order.currency.to_uppercase()),
            amount = decimal(remaining, digits),
            remaining_text = escape(&money(remaining, &order.currency)),
        )
    } else {
        String::new()
    };
    // No table of refunds before the first (a header row over nothing).
    let table = if rows.is_empty() {
        String::new()
    } else {
        format!("<table><tr><th>Refund</th><th>Amount</th><th>Status</th><th>Reason</th></tr>{rows}</table>")
    };
    format!(
        "<h2>Refunds</h2>{message}{failed}{fraud_warning}<p>Refunded <strong data-testid=\"admin-refunded\">{refunded}</strong> of {total}.</p>\
         {table}{form}",
        refunded = escape(&money(refunds.refunded, &order.currency)),
        total = escape(&money(order.charged, &order.currency)),
    )
}

/// For an authorised order (manual capture): the form to capture it, in full or in
/// part, and the one to cancel it.
fn capture_section(order: &crate::store::OrderRecord, query: &HashMap<String, String>) -> String {
    let message = match (query.get("captured"), query.get("canceled"), query.get("capture_error")) {
        (.., Some(error)) => format!("<p class=\"error\" role=\"alert\" data-testid=\"admin-capture-error\">{}</p>", escape(error)),
        (Some(_), ..) => "<p role=\"status\" data-testid=\"admin-capture-done\">Captured.</p>".to_owned(),
        (_, Some(_), _) => "<p role=\"status\" data-testid=\"admin-cancel-done\">Canceled: the authorisation is released.</p>".to_owned(),
        _ => String::new(),
    };
    if order.status != OrderStatus::Authorized {
        return message;
    }
    let digits = Currency::parse(&order.currency).map_or(2, |c| c.exponent());
    format!(
        "<h2>Capture</h2>{message}<p>The payment is authorised, not yet taken. Capture what you ship (Stripe releases the rest), \
         or cancel the order. Stripe cancels an authorisation that is not captured within 7 days.</p>\
         <form method=\"post\" action=\"/admin/orders/{id}/capture\" data-testid=\"admin-capture-form\">\
         <input type=\"hidden\" name=\"request\" value=\"{request}\">\
         <p><label>Amount ({currency}) <input name=\"amount\" inputmode=\"decimal\" required value=\"{amount}\" data-testid=\"admin-capture-amount\"></label> \
         at most {authorized}</p>\
         <p><button type=\"submit\" data-testid=\"admin-capture-submit\">Capture</button></p></form>\
         <form method=\"post\" action=\"/admin/orders/{id}/cancel\" data-testid=\"admin-cancel-form\">\
         <input type=\"hidden\" name=\"request\" value=\"{cancel_request}\">\
         <p><button type=\"submit\" data-testid=\"admin-cancel-submit\">Cancel the order</button></p></form>",
        id = escape(&order.id),
        request = crate::session::random_id("capture"),
        cancel_request = crate::session::random_id("cancel"),
        currency = escape(&order.currency.to_uppercase()),
        amount = decimal(order.amount, digits),
        authorized = escape(&money(order.amount, &order.currency)),
    )
}

/// `amount` minor units written with `digits` decimals (`1250` → `12.50`).
fn decimal(amount: i64, digits: u32) -> String {
    if digits == 0 {
        return amount.to_string();
    }
    let scale = 10_i64.pow(digits);
    format!("{}.{:0width$}", amount / scale, amount % scale, width = digits as usize)
}

/// A decimal amount as typed (`12.5`, `12,50`, `12`) in minor units; `None` unless it
/// is a positive number with at most `digits` decimals.
fn minor_units(text: &str, digits: u32) -> Option<i64> {
    let text = text.trim().replace(',', ".");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let valid = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 12 || !valid(whole) || !valid(fraction) || fraction.len() > digits as usize {
        return None;
    }
    let scale = 10_i64.pow(digits);
    let fraction_units: i64 = if fraction.is_empty() { 0 } else { format!("{fraction:0<width$}", width = digits as usize).parse().ok()? };
    let amount = whole.parse::<i64>().ok()?.checked_mul(scale)?.checked_add(fraction_units)?;
    (amount > 0).then_some(amount)
}

#[derive(serde::Deserialize, Default)]
pub struct RefundForm {
    amount: String,
    #[serde(default)]
    reason: String,
    restock: Option<String>,
    /// A nonce rendered with the form: the refund's idempotency key, so that a double
    /// submit (or a resubmitted page) refunds once.
    request: String,
}

/// Back to the order's page (its id is a stored order's: URL-safe), saying what happened
/// in a notice the page shows only with its seal ([`crate::server::FormErrors`]).
fn back_to(state: &AppState, id: &str, key: &str, value: &str) -> Response {
    let path = format!("/admin/orders/{id}");
    let query = state.form_errors.notice_query(&path, key, value);
    (StatusCode::SEE_OTHER, [(header::LOCATION, format!("{path}?{query}"))]).into_response()
}

/// A form's nonce as rendered by this view (random id characters only).
fn well_formed_nonce(request: &str) -> bool {
    (16..=64).contains(&request.len()) && request.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `POST /admin/orders/{id}/refunds`: asks Stripe to refund part or all of a paid
/// order; the refund is recorded from Stripe's answer and its webhooks.
pub async fn refund(State(state): State<AppState>, headers: HeaderMap, id: OrderPath, form: Posted<RefundForm>) -> Response {
    if let Some(refused) = check(&state, &headers) {
        return refused;
    }
    let Some((id, form)) = posted(&id, form) else { return no_such_order() };
    let id = id.to_owned();
    let back = |key: &str, value: &str| back_to(&state, &id, key, value);
    let refused = |message: &str| back("error", message);
    let order = match state.store.order_for_merchant(&id).await {
        Ok(Some(order)) => order,
        Ok(None) => return no_such_order(),
        Err(error) => return internal(error),
    };
    let (Some(payment_intent), true) = (order.payment_intent_id.clone(), order.status == OrderStatus::Paid) else {
        return refused("Only a paid order can be refunded.");
    };
    if !well_formed_nonce(&form.request) {
        return refused("The form has expired: reload the page and refund again.");
    }
    let digits = crate::money::Currency::parse(&order.currency).map_or(2, |c| c.exponent());
    let Some(amount) = minor_units(&form.amount, digits) else {
        return refused("Write the amount to refund as a number, like 12.50.");
    };
    let refunds = match state.store.refunds_of(&id).await {
        Ok(refunds) => refunds,
        Err(error) => return internal(error),
    };
    let remaining = order.charged - refunds.committed;
    if amount > remaining {
        return refused(&format!("At most {} can still be refunded.", money(remaining.max(0), &order.currency)));
    }
    let reason = match form.reason.as_str() {
        "" => None,
        reason if REASONS.iter().any(|(value, _)| *value == reason) => Some(reason),
        _ => return refused("Choose one of the reasons offered."),
    };
    let restock = form.restock.is_some();
    let Ok(payment_intent) = crate::stripe::ids::PaymentIntentId::parse(&payment_intent) else {
        return refused("This order's payment is not one Stripe can refund.");
    };
    let params = crate::stripe::types::CreateRefund {
        payment_intent: &payment_intent,
        amount,
        reason,
        metadata: [("order_id", id.as_str()), ("restock", if restock { "true" } else { "false" })].into_iter().collect(),
    };
    let key = format!("refund-{id}-{}", form.request);
    match state.payments.stripe.create_refund(&params, &key).await {
        Ok(refund) => {
            if let Err(error) = record_refund(&state, &id, &payment_intent, &refund).await {
                // Stripe has it; its webhook records it.
                tracing::error!(error = ?error, refund = %refund.id, "recording a refund failed; its webhook will record it");
            }
            tracing::info!(order = %id, refund = %refund.id, amount, "refund requested");
            back("refunded", &refund.id)
        }
        Err(crate::stripe::Error::Api(error)) if error.status < 500 && error.status != 429 && error.status != 409 => {
            if error.status == 400 {
                catch_up_refunds(&state, &id, &payment_intent).await;
            }
            refused(&format!("Stripe refused the refund: {}", error.message))
        }
        Err(error) => {
            tracing::error!(error = %error, order = %id, "a refund request got no answer");
            refused(
                "Stripe did not answer. The refund may or may not have been made: reload this page in a minute (Stripe's webhook records it) before trying again.",
            )
        }
    }
}

/// Records `refund` of the order's payment as Stripe answered it (its webhook, later,
/// finds it recorded). `restock` is what the form that made it asked (its metadata).
async fn record_refund(
    state: &AppState,
    order_id: &str,
    payment_intent: &crate::stripe::ids::PaymentIntentId,
    refund: &crate::stripe::types::Refund,
) -> Result<crate::store::RefundEffect, crate::store::StoreError> {
    let report = crate::store::RefundReport {
        id: &refund.id,
        order_id: Some(order_id),
        payment_intent_id: payment_intent.as_str(),
        amount: refund.amount,
        currency: &refund.currency,
        reason: refund.reason.as_deref(),
        status: RefundStatus::parse(refund.status.as_deref().unwrap_or("pending")),
        failure_reason: refund.failure_reason.as_deref(),
        restock: refund.metadata.get("restock").is_some_and(|restock| restock == "true"),
    };
    state.store.record_refund(&report, crate::session::now()).await
}

/// After Stripe refused a refund (most often: refunded already, from the Dashboard, and
/// the webhooks not in yet), the payment's refunds as Stripe lists them are recorded,
/// so that the page shows what is left to refund.
async fn catch_up_refunds(state: &AppState, order_id: &str, payment_intent: &crate::stripe::ids::PaymentIntentId) {
    let refunds = match state.payments.stripe.list_refunds(payment_intent).await {
        Ok(refunds) => refunds,
        Err(error) => return tracing::warn!(error = %error, order = %order_id, "could not list the refunds of a refused refund's payment"),
    };
    for refund in &refunds.data {
        if let Err(error) = record_refund(state, order_id, payment_intent, refund).await {
            tracing::error!(error = ?error, refund = %refund.id, "recording a refund made elsewhere failed; its webhook will record it");
        }
    }
}

#[derive(serde::Deserialize, Default)]
pub struct CaptureForm {
    /// What to capture (capture form only); at most what was authorised.
    #[serde(default)]
    amount: String,
    /// The form's nonce: the capture's (or cancel's) idempotency key.
    request: String,
}

/// `POST /admin/orders/{id}/capture`: captures an authorised order, in full or in part
/// (Stripe releases the rest); the order is paid for what was captured.
pub async fn capture(State(state): State<AppState>, headers: HeaderMap, id: OrderPath, form: Posted<CaptureForm>) -> Response {
    settle_authorization(&state, &headers, id, form, Settle::Capture).await
}

/// `POST /admin/orders/{id}/cancel`: cancels an authorised order; Stripe releases the
/// authorisation and the order's stock goes back.
pub async fn cancel(State(state): State<AppState>, headers: HeaderMap, id: OrderPath, form: Posted<CaptureForm>) -> Response {
    settle_authorization(&state, &headers, id, form, Settle::Cancel).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Settle {
    Capture,
    Cancel,
}

async fn settle_authorization(state: &AppState, headers: &HeaderMap, id: OrderPath, form: Posted<CaptureForm>, action: Settle) -> Response {
    if let Some(refused) = check(state, headers) {
        return refused;
    }
    let Some((id, form)) = posted(&id, form) else { return no_such_order() };
    let refused = |message: &str| back_to(state, id, "capture_error", message);
    let order = match state.store.order_for_merchant(id).await {
        Ok(Some(order)) => order,
        Ok(None) => return no_such_order(),
        Err(error) => return internal(error),
    };
    let payment_intent = order.payment_intent_id.as_deref().and_then(|pi| crate::stripe::ids::PaymentIntentId::parse(pi).ok());
    // Authorised, or already settled by this very form (a double click whose first
    // request won): Stripe replays that answer under the form's key, and refuses a new
    // capture or cancel of a settled payment in its own words.
    let settled_by_now = match action {
        Settle::Capture => order.status == OrderStatus::Paid,
        Settle::Cancel => order.status == OrderStatus::Canceled,
    };
    let (Some(payment_intent), true) = (payment_intent, order.status == OrderStatus::Authorized || settled_by_now) else {
        return refused("Only an authorised payment that is not captured yet can be captured or canceled.");
    };
    if !well_formed_nonce(&form.request) {
        return refused("The form has expired: reload the page and try again.");
    }
    let stripe = &state.payments.stripe;
    let replied = match action {
        Settle::Capture => {
            let digits = Currency::parse(&order.currency).map_or(2, |c| c.exponent());
            let Some(amount) = minor_units(&form.amount, digits) else {
                return refused("Write the amount to capture as a number, like 12.50.");
            };
            if amount > order.amount {
                return refused(&format!("At most {} was authorised.", money(order.amount, &order.currency)));
            }
            stripe.capture_payment_intent(&payment_intent, Some(amount), &format!("capture-{id}-{}", form.request)).await
        }
        Settle::Cancel => stripe.cancel_payment_intent(&payment_intent, None, &format!("cancel-{id}-{}", form.request)).await,
    };
    match replied {
        Ok(intent) => {
            // Recorded now from Stripe's answer; its webhook finds it done.
            if let Err(error) = super::reconcile::apply_intent(state, id, &intent).await {
                tracing::error!(error = ?error, order = %id, "recording a capture failed; its webhook will record it");
            }
            tracing::info!(order = %id, intent = %intent.id, status = ?intent.status, received = intent.amount_received, "authorisation settled");
            match action {
                Settle::Capture => back_to(state, id, "captured", intent.id.as_str()),
                Settle::Cancel => back_to(state, id, "canceled", intent.id.as_str()),
            }
        }
        Err(crate::stripe::Error::Api(error)) if error.status < 500 && error.status != 429 && error.status != 409 => {
            // Most often settled at Stripe already (captured or canceled in the
            // Dashboard, its authorisation expired) and the webhook not in yet: what
            // Stripe says is recorded, so that the page shows it rather than a form.
            if error.status == 400 {
                match stripe.retrieve_payment_intent(&payment_intent).await {
                    Ok(intent) => {
                        if let Err(error) = super::reconcile::apply_intent(state, id, &intent).await {
                            tracing::error!(error = ?error, order = %id, "recording a settled authorisation failed");
                        }
                    }
                    Err(error) => tracing::warn!(error = %error, order = %id, "could not read a payment Stripe would not settle"),
                }
            }
            refused(&format!("Stripe refused: {}", error.message))
        }
        Err(error) => {
            tracing::error!(error = %error, order = %id, "a capture or cancel got no answer");
            refused("Stripe did not answer. Reload this page in a minute (Stripe's webhook records what happened) before trying again.")
        }
    }
}
