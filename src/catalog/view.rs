//! The catalog page (`/`).

use super::{CatalogItem, CatalogListing};
use crate::cart::AddToCart;
use crate::error::AppError;
use crate::ui::ActionError;
use leptos::prelude::*;

/// A page of products (`?page=`, 24 a page), read before it renders, each with an "Add to cart" form that works before
/// (and without) hydration.
#[component]
pub fn CatalogPage(listing: Result<CatalogListing, AppError>) -> impl IntoView {
    let add = ServerAction::<AddToCart>::new();
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let listing = match listing {
        Ok(CatalogListing { items, page, pages }) => view! {
            <ul class="products">
                {items.into_iter().map(|item| view! { <ProductCard item add/> }).collect_view()}
            </ul>
            {(pages > 1).then(|| view! {
                <nav class="pages" aria-label=t.catalog_pages()>
                    {(page > 1).then(|| view! { <a href=format!("/?page={}", page - 1) rel="prev">{t.previous()}</a> })}
                    <span>{crate::i18n::fill(t.page_of(), &[&page, &pages])}</span>
                    {(page < pages).then(|| view! { <a href=format!("/?page={}", page + 1) rel="next">{t.next()}</a> })}
                </nav>
            })}
        }
        .into_any(),
        Err(error) => view! { <p class="error" role="alert">{error.message(locale)}</p> }.into_any(),
    };
    view! {
        <h1>{t.shop()}</h1>
        <ActionError action=add/>
        {listing}
    }
}

#[component]
fn ProductCard(item: CatalogItem, add: ServerAction<AddToCart>) -> impl IntoView {
    let product = item.product;
    let id = product.id.to_string();
    let card_test_id = format!("product-{id}");
    let button_test_id = format!("add-to-cart-{id}");
    let sold_out = item.in_stock == 0;
    let locale = crate::i18n::use_locale();
    let t = locale.texts();
    let availability = match item.in_stock {
        0 => t.sold_out().to_owned(),
        n @ 1..=5 => crate::i18n::fill(t.only_left(), &[&n]),
        _ => t.in_stock().to_owned(),
    };
    view! {
        <li class="product" data-testid=card_test_id>
            <img src=product.image alt="" width="240" height="240"/>
            <h2>{product.name.clone()}</h2>
            <p class="description">{product.description}</p>
            <p class="price" class:recurring=product.recurring.is_some()>{super::price_label(product.unit_price, product.recurring, locale)}</p>
            {product.trial_days.map(|days| view! { <p class="trial" data-testid="trial-offer">{crate::i18n::fill(t.trial_offer(), &[&days])}</p> })}
            <p class="availability" class:sold-out=sold_out>{availability}</p>
            <ActionForm action=add>
                <input type="hidden" name="product_id" value=id/>
                <input type="hidden" name="quantity" value="1"/>
                <button
                    type="submit"
                    data-testid=button_test_id
                    aria-label=crate::i18n::fill(t.add_named_to_cart(), &[&product.name])
                    disabled=move || sold_out || add.pending().get()
                >
                    {t.add_to_cart()}
                </button>
            </ActionForm>
        </li>
    }
}
