//! The catalog page (`/`).

use super::{CatalogItem, list_products};
use crate::app::{ActionError, CartState};
use leptos::prelude::*;

/// Every product, server-rendered, each with an "Add to cart" form that works before
/// (and without) hydration.
#[component]
pub fn CatalogPage() -> impl IntoView {
    let products = Resource::new(|| (), |_| list_products());
    let CartState { add, .. } = expect_context();
    view! {
        <h1>"Shop"</h1>
        <ActionError action=add/>
        <Suspense fallback=|| view! { <p>"Loading the catalog…"</p> }>
            {move || Suspend::new(async move {
                match products.await {
                    Ok(items) => view! {
                        <ul class="products">
                            {items.into_iter().map(|item| view! { <ProductCard item/> }).collect_view()}
                        </ul>
                    }
                    .into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ProductCard(item: CatalogItem) -> impl IntoView {
    let CartState { add, .. } = expect_context();
    let product = item.product;
    let id = product.id.to_string();
    let card_test_id = format!("product-{id}");
    let button_test_id = format!("add-to-cart-{id}");
    let sold_out = item.in_stock == 0;
    let availability = match item.in_stock {
        0 => "Sold out".to_owned(),
        n @ 1..=5 => format!("Only {n} left"),
        _ => "In stock".to_owned(),
    };
    view! {
        <li class="product" data-testid=card_test_id>
            <img src=product.image alt="" width="240" height="240"/>
            <h2>{product.name.clone()}</h2>
            <p class="description">{product.description}</p>
            <p class="price">{product.unit_price.to_string()}</p>
            <p class="availability" class:sold-out=sold_out>{availability}</p>
            <ActionForm action=add>
                <input type="hidden" name="product_id" value=id/>
                <input type="hidden" name="quantity" value="1"/>
                <button
                    type="submit"
                    data-testid=button_test_id
                    aria-label=format!("Add {} to cart", product.name)
                    disabled=move || sold_out || add.pending().get()
                >
                    "Add to cart"
                </button>
            </ActionForm>
        </li>
    }
}
