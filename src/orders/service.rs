//! Reading orders (server only).

use super::{OrderLineView, OrderView};
use crate::error::AppError;
use crate::money::{Currency, Money};
use crate::request::Request;
use crate::session;
use crate::state::AppState;
use crate::store::{OrderRecord, OrderStatus, RefundStatus};
use crate::stripe::ids::{InvoiceId, PaymentIntentId};
use subtle::ConstantTimeEq;

/// The order `id` as this request may see it, and the request's session: the session's
/// own (placed in it, or by the account signed in to it), or anyone's whose `key` is
/// its view key (the link in its emails, opened on another device). Not found for a
/// missing order and for anyone else's.
async fn owned(
    state: &AppState,
    request: &Request,
    id: &str,
    key: Option<&str>,
) -> Result<(OrderRecord, Option<session::SessionId>), AppError> {
    let not_found = || AppError::NotFound(request.texts().no_such_order().into());
    // Order numbers are `ord_` and lowercase letters or digits; anything else names no order.
    let well_formed = id
        .strip_prefix("ord_")
        .is_some_and(|rest| (1..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    if !well_formed {
        return Err(not_found());
    }
    let session = session::current(&state.store, &request.session).await?;
    if let Some(session) = &session
        && let Some(order) = state.store.order_of_session(id, session.as_str()).await?
    {
        return Ok((order, Some(session.clone())));
    }
    let Some(key) = key else { return Err(not_found()) };
    let order = state
        .store
        .order_for_merchant(id)
        .await?
        .filter(|order| order.view_key.as_deref().is_some_and(|known| bool::from(known.as_bytes().ct_eq(key.as_bytes()))));
    order.map(|order| (order, session)).ok_or_else(not_found)
}

/// The address of the order's page for its shopper, wherever they open it: with its view
/// key (the link of its emails), or bare for an order made before the keys.
pub fn shopper_link(public_url: &str, order: &OrderRecord) -> String {
    shopper_link_below(public_url, order, "")
}

/// As [`shopper_link`], to the page at `below` the order's (`/invoice`).
fn shopper_link_below(public_url: &str, order: &OrderRecord, below: &str) -> String {
    match &order.view_key {
        Some(key) => format!("{public_url}/orders/{}{below}?key={key}", order.id),
        None => format!("{public_url}/orders/{}{below}", order.id),
    }
}

/// The address that leads the shopper to Stripe's page for the invoice the order paid,
/// wherever they open it (as [`shopper_link`]); none for an order that paid no invoice.
pub fn shopper_invoice_link(public_url: &str, order: &OrderRecord) -> Option<String> {
    at_stripe(order, Document::Invoice).map(|_| shopper_link_below(public_url, order, "/invoice"))
}

/// A page Stripe hosts about an order, for its shopper, which the order's page links to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// The receipt of the charge that paid it (`receipt_url`), with the refunds made since.
    Receipt,
    /// The invoice a subscription's order paid (`hosted_invoice_url`), with its PDF.
    Invoice,
}

/// What Stripe is asked about for an order's [`Document`].
enum AtStripe {
    Payment(PaymentIntentId),
    Invoice(InvoiceId),
}

/// What `document` of `order` is of, if it has one: the payment Stripe charged (none
/// when the customer's credit paid it all), or the invoice it paid.
fn at_stripe(order: &OrderRecord, document: Document) -> Option<AtStripe> {
    match document {
        Document::Receipt => {
            let paid = order.status == OrderStatus::Paid && order.charged > 0;
            PaymentIntentId::parse(order.payment_intent_id.as_deref().filter(|_| paid)?).ok().map(AtStripe::Payment)
        }
        Document::Invoice => InvoiceId::parse(&order.invoice.as_ref()?.1).ok().map(AtStripe::Invoice),
    }
}

/// Where `document` of the order `id` is, for whoever may see the order ([`owned`]):
/// Stripe's page, whose address is asked for when the shopper follows the link (a
/// receipt then shows the refunds made since).
pub async fn document(state: &AppState, request: &Request, id: &str, key: Option<&str>, document: Document) -> Result<String, AppError> {
    let (order, session) = owned(state, request, id, key).await?;
    let t = request.texts();
    let none = || AppError::NotFound(if document == Document::Receipt { t.no_receipt() } else { t.no_invoice() }.into());
    let target = at_stripe(&order, document).ok_or_else(none)?;
    let session = session.as_ref().map(session::SessionId::as_str);
    crate::rate_limit::check(state, request, crate::rate_limit::DOCUMENT, session).await?;
    let stripe = &state.payments.stripe;
    let url = match target {
        AtStripe::Payment(payment) => stripe.receipt_url(&payment).await,
        AtStripe::Invoice(invoice) => stripe.retrieve_invoice(&invoice).await.map(|invoice| invoice.hosted_invoice_url),
    };
    match url {
        Ok(url) => url.ok_or_else(none),
        // The merchant deleted their test data: Stripe has no such payment or invoice.
        Err(crate::stripe::Error::Api(api)) if api.status == 404 => Err(none()),
        Err(error) => Err(error.into()),
    }
}

/// The order `id`, as its page shows it to this request ([`owned`]: `key` is the
/// address's, if any).
pub async fn view(state: &AppState, request: &Request, id: &str, key: Option<&str>) -> Result<OrderView, AppError> {
    let (order, _) = owned(state, request, id, key).await?;
    let currency = Currency::parse(&order.currency).map_err(|_| AppError::Internal)?;
    let refunds = state.store.refunds_of(&order.id).await?;
    let settling = order.status.is_settling();
    let receipt = at_stripe(&order, Document::Receipt).is_some();
    let invoice = at_stripe(&order, Document::Invoice).is_some();
    let status = order.shown_status().to_owned();
    Ok(OrderView {
        id: order.id,
        placed_at: order.created_at,
        refunds: refunds
            .refunds
            .iter()
            .filter(|refund| !refund.status.is_void())
            .map(|refund| (Money::new(refund.amount, currency), refund.status == RefundStatus::Succeeded))
            .collect(),
        refunded: Money::new(refunds.refunded, currency),
        receipt,
        invoice,
        // The page's own links keep the key it was opened with (none when it was not).
        key: key.filter(|key| order.view_key.as_deref() == Some(*key)).map(str::to_owned),
        refresh_in_secs: if settling { refresh_after(session::now() - order.updated_at) } else { None },
        // Taken in part (a partial capture): say how much.
        charged: (order.status == OrderStatus::Paid && order.charged < order.amount).then(|| Money::new(order.charged, currency)),
        status,
        total: Money::new(order.amount, currency),
        discount: order.discount_code.filter(|_| order.discount_amount > 0).map(|code| (code, Money::new(order.discount_amount, currency))),
        credit: (order.credit_amount > 0).then(|| Money::new(order.credit_amount, currency)),
        ship_to: order.details.shipping.as_deref().map(|json| crate::address::lines(json, request.locale)).unwrap_or_default(),
        lines: order
            .lines
            .into_iter()
            .map(|line| OrderLineView {
                line_total: Money::new(line.unit_amount.saturating_mul(i64::from(line.quantity)), currency),
                name: line.name,
                quantity: line.quantity,
            })
            .collect(),
    })
}

/// How long the order page waits before it reloads, for an order whose status last
/// changed `age` seconds ago: often at first, then less and less, then not at all (the
/// page says so; reconciliation keeps checking with Stripe meanwhile).
fn refresh_after(age: i64) -> Option<u32> {
    match age {
        ..30 => Some(3),
        30..120 => Some(10),
        120..600 => Some(30),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_page_reloads_less_often_then_stops() {
        assert_eq!(refresh_after(0), Some(3));
        assert_eq!(refresh_after(45), Some(10));
        assert_eq!(refresh_after(300), Some(30));
        assert_eq!(refresh_after(600), None);
    }
}
