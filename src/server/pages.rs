//! The pages. Each route reads what its page shows first (the session, the cart, the
//! catalog page, the order, …), then renders the page to a string in one synchronous
//! pass inside `app::document`. With islands nothing of a page is hydrated but its
//! islands, so a page is a plain function of its data: no router, resources or
//! `Suspense` on the server, and no reads while rendering.

use crate::app::{NotFoundPage, PageHead, document};
use crate::error::AppError;
use crate::request::{Reading, Request};
use crate::session::Visit;
use crate::state::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::{HeaderValue, StatusCode, header};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use std::collections::HashMap;

/// A page request, read at the edge: the shopper's request, where the reply's headers
/// (a session cookie) go, and the address's query.
pub struct Page {
    request: Request,
    reply: ResponseOptions,
    query: HashMap<String, String>,
}

impl FromRequestParts<AppState> for Page {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &AppState) -> Result<Page, Self::Rejection> {
        let reply = ResponseOptions::default();
        let request = Request::read(parts, Reading::of(state), Some(reply.clone()));
        // An address whose query does not decode reads as one without a query.
        let query = Query::<HashMap<String, String>>::try_from_uri(&parts.uri).map(|query| query.0).unwrap_or_default();
        Ok(Page { request, reply, query })
    }
}

impl Page {
    /// A parameter of the address's query.
    fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// The shopper as the store knows them, in one read (`session::visit`), with the
    /// stock of `products`.
    async fn visit(&self, state: &AppState, products: Vec<String>) -> Result<Visit, AppError> {
        Ok(crate::session::visit(&state.store, &self.request.session, products).await?)
    }

    /// The head of a page without an island: the header's count of the visitor's cart
    /// (none when it could not be read: the page still renders and says why).
    fn head(&self, state: &AppState, visit: Option<&Visit>) -> PageHead {
        let cart_count =
            visit.and_then(|visit| crate::cart::priced(state, self.request.locale, &visit.cart).ok()).map_or(0, |cart| cart.item_count);
        PageHead { cart_count, ..PageHead::default() }
    }

    /// The reply: `page` rendered in the document, with this request's nonce in the
    /// Content-Security-Policy and its scripts, and the headers the reads set.
    fn render<V: IntoView>(self, state: &AppState, status: StatusCode, head: PageHead, page: impl FnOnce() -> V) -> Response {
        let nonce = leptos::nonce::Nonce::new().to_string();
        // A plain form post that failed comes back here with its error in the address;
        // the page's action of that server function shows it (`ActionError`) if the
        // server sealed it.
        let action_error = state.form_errors.open(&self.query);
        let Page { request, reply, .. } = self;
        // An islands-mode shared context, as Leptos' own rendering gives pages: an
        // island's server-rendered children are rendered in it.
        let owner = Owner::new_root(Some(std::sync::Arc::new(hydration_context::SsrSharedContext::new_islands())));
        let html = owner.with(|| {
            provide_context(request.locale);
            if let Some(error) = action_error {
                provide_context(error);
            }
            document(&state.document, &head, &nonce, page())
        });
        drop(owner);
        let mut response = (status, Html(html)).into_response();
        let headers = response.headers_mut();
        if let Ok(policy) = HeaderValue::from_str(&state.document.csp.replace("{nonce}", &nonce)) {
            headers.insert(header::CONTENT_SECURITY_POLICY, policy);
        }
        let set = std::mem::take(&mut reply.0.write().unwrap_or_else(|e| e.into_inner()).headers);
        for (name, value) in set.iter() {
            headers.append(name, value.clone());
        }
        response
    }
}

/// `/`: a page of the catalog (`?page=`), with its stock.
pub async fn catalog(State(state): State<AppState>, page: Page) -> Response {
    let shown = state.catalog.page(page.param("page").and_then(|page| page.parse::<u32>().ok()).unwrap_or(1));
    let visit = page.visit(&state, shown.product_ids()).await;
    let head = page.head(&state, visit.as_ref().ok());
    let listing = visit.map(|visit| shown.listing(&state.catalog, page.request.locale, &visit.stock));
    page.render(&state, status_of(&listing), head, move || view! { <crate::catalog::CatalogPage listing/> })
}

/// `/cart`: the cart, priced now.
pub async fn cart(State(state): State<AppState>, page: Page) -> Response {
    let visit = page.visit(&state, Vec::new()).await;
    let head = page.head(&state, visit.as_ref().ok());
    let cart = visit.and_then(|visit| crate::cart::priced(&state, page.request.locale, &visit.cart));
    page.render(&state, status_of(&cart), head, move || view! { <crate::cart::CartPage cart/> })
}

/// `/checkout`: the order summary and the checkout form's island.
pub async fn checkout(State(state): State<AppState>, page: Page) -> Response {
    let visit = page.visit(&state, Vec::new()).await;
    let head = page.head(&state, visit.as_ref().ok());
    let checkout = match visit {
        Ok(visit) => crate::checkout::view(&state, &page.request, &visit).await,
        Err(error) => Err(error),
    };
    let cart_changed = page.param("cart_changed") == Some("1");
    let shown_address = cart_changed.then_some("/checkout");
    let head = PageHead { island: crate::checkout::has_form(&checkout), shown_address, ..head };
    page.render(&state, status_of(&checkout), head, move || view! { <crate::checkout::CheckoutPage checkout cart_changed/> })
}

/// `/checkout/complete?payment_intent=…`: where Stripe sends the shopper back. Reading
/// the outcome may turn the cart into the order, so the visitor is read after it.
/// `?setup_intent=…`: back from authenticating the card of a subscription the
/// customer's credit paid, which goes on to its order once the card is kept.
pub async fn checkout_complete(State(state): State<AppState>, page: Page) -> Response {
    let no_such_payment = || AppError::NotFound(page.request.texts().no_such_payment().into());
    // The shopper is subscribed, the card not kept: the page says so, and what happens
    // next; the request itself was no error.
    let mut subscribed = false;
    let outcome = match (page.param("payment_intent"), page.param("setup_intent")) {
        (None, Some(setup)) => {
            let returned = match crate::stripe::ids::SetupIntentId::parse(setup.trim()) {
                Ok(setup) => crate::subscriptions::setup_return(&state, &page.request, &setup).await,
                Err(_) => Ok(None),
            };
            match returned {
                Ok(Some(order)) if !order.is_empty() => return Redirect::to(&format!("/orders/{order}")).into_response(),
                // Kept, its order not yet made: the account shows the subscription.
                Ok(Some(_)) => return Redirect::to("/account").into_response(),
                Ok(None) => Err(no_such_payment()),
                Err(error) => {
                    subscribed = matches!(error, AppError::Invalid(_));
                    Err(error)
                }
            }
        }
        (None, None) => Ok(None),
        (Some(intent), _) => match crate::stripe::ids::PaymentIntentId::parse(intent.trim()) {
            Ok(intent) => {
                let secret = page.param("payment_intent_client_secret");
                crate::checkout::outcome(&state, &page.request, &intent, secret.map(str::trim)).await.map(Some)
            }
            Err(_) => Err(no_such_payment()),
        },
    };
    let visit = page.visit(&state, Vec::new()).await;
    let head = page.head(&state, visit.as_ref().ok());
    let status = if subscribed { StatusCode::OK } else { status_of(&outcome) };
    page.render(&state, status, head, move || view! { <crate::checkout::CheckoutCompletePage outcome/> })
}

/// `/orders/{id}`: the order, to whoever placed it; reloading itself while it settles.
pub async fn order(State(state): State<AppState>, id: Result<Path<String>, PathRejection>, page: Page) -> Response {
    // An address that is not even text (`/orders/%FF`) names no order either.
    let Ok(Path(id)) = id else { return not_found(State(state), page).await };
    let visit = page.visit(&state, Vec::new()).await;
    let head = page.head(&state, visit.as_ref().ok());
    let order = match visit {
        Ok(_) => crate::orders::view(&state, &page.request, &id, page.param("key")).await,
        Err(error) => Err(error),
    };
    let head = PageHead { refresh_secs: order.as_ref().ok().and_then(|order| order.refresh_in_secs), ..head };
    page.render(&state, status_of(&order), head, move || view! { <crate::orders::OrderPage order/> })
}

/// `/orders/{id}/receipt`: on to Stripe's receipt for the order's payment (a 303), asked
/// for now so that it shows the refunds made since; or the order page's error (404 for
/// anyone else's order or one without a receipt, 503 when Stripe does not answer).
pub async fn receipt(state: State<AppState>, id: Result<Path<String>, PathRejection>, page: Page) -> Response {
    order_document(state, id, page, crate::orders::Document::Receipt).await
}

/// `/orders/{id}/invoice`: on to Stripe's page for the invoice a subscription's order
/// paid (a 303), or the order page's error, as [`receipt`].
pub async fn invoice(state: State<AppState>, id: Result<Path<String>, PathRejection>, page: Page) -> Response {
    order_document(state, id, page, crate::orders::Document::Invoice).await
}

async fn order_document(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    page: Page,
    document: crate::orders::Document,
) -> Response {
    let Ok(Path(id)) = id else { return not_found(State(state), page).await };
    match crate::orders::document(&state, &page.request, &id, page.param("key"), document).await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(error) => {
            let visit = page.visit(&state, Vec::new()).await;
            let head = page.head(&state, visit.as_ref().ok());
            let order = Err(error);
            page.render(&state, status_of(&order), head, move || view! { <crate::orders::OrderPage order/> })
        }
    }
}

/// A page's status: 200 when what it is about is shown; else the error's own (404 when
/// it names none of the visitor's, 503 when Stripe or the database is unavailable, …),
/// the page saying what went wrong.
fn status_of<T>(shown: &Result<T, AppError>) -> StatusCode {
    match shown {
        Ok(_) => StatusCode::OK,
        Err(error) => StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// `/account`: sign in or up; signed in, the account with its saved cards' island.
pub async fn account(State(state): State<AppState>, page: Page) -> Response {
    let visit = page.visit(&state, Vec::new()).await;
    let head = page.head(&state, visit.as_ref().ok());
    let account = match visit {
        Ok(visit) => crate::account::summary(&state, page.request.locale, visit.account, page.param("orders_after")).await,
        Err(error) => Err(error),
    };
    let cards = match &account {
        Ok(Some(_)) => {
            let locale = page.request.locale;
            // Back from a card setup's redirect: Stripe names the SetupIntent.
            let returned = async {
                match page.param("setup_intent") {
                    Some(id) => crate::account::setup_return(&state, &page.request, id).await,
                    None => None,
                }
            };
            let (cards, setup, returned) = tokio::join!(
                crate::account::saved_methods(&state, &page.request),
                crate::account::card_setup(&state, &page.request),
                returned
            );
            Some(crate::account::CardsData {
                cards: cards.map_err(|error| error.message(locale)),
                setup: setup.map_err(|error| error.message(locale)),
                returned,
            })
        }
        _ => None,
    };
    // Back from a card setup's redirect, the notice shows once.
    let returning = page.param("setup_intent").is_some() || page.param("redirect_status").is_some();
    let shown_address = returning.then_some("/account");
    let head = PageHead { island: cards.is_some(), shown_address, ..head };
    let typed_email = crate::account::typed_email(&page.request);
    page.render(&state, status_of(&account), head, move || view! { <crate::account::AccountPage account cards typed_email/> })
}

/// Any other address (no page, no file): 404.
pub async fn not_found(State(state): State<AppState>, page: Page) -> Response {
    let visit = page.visit(&state, Vec::new()).await;
    let head = page.head(&state, visit.as_ref().ok());
    page.render(&state, StatusCode::NOT_FOUND, head, NotFoundPage)
}
