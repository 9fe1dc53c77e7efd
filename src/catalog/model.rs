//! Catalog types that cross the wire.

use crate::money::Money;
use serde::{Deserialize, Serialize};

/// A product's id: 1 to 64 characters of `a-z`, `0-9` and `-`, so it is safe in URLs,
/// test ids and Stripe metadata.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProductId(String);

impl ProductId {
    pub fn parse(id: &str) -> Result<Self, NotAProductId> {
        let valid = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid { Ok(Self(id.to_owned())) } else { Err(NotAProductId) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Text that cannot name a product (so no product of the catalog).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a product id: 1–64 characters of a-z, 0-9 and -")]
pub struct NotAProductId;

impl TryFrom<String> for ProductId {
    type Error = NotAProductId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ProductId> for String {
    fn from(value: ProductId) -> Self {
        value.0
    }
}

impl std::fmt::Display for ProductId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A product as shoppers see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub name: String,
    pub description: String,
    pub unit_price: Money,
    /// Path of the image under the site root, e.g. `/images/mug.svg`.
    pub image: String,
}

/// A product and how many are in stock now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogItem {
    pub product: Product,
    pub in_stock: u32,
}

/// Products per catalog page.
pub const PAGE_SIZE: usize = 24;

/// A page of the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogListing {
    pub items: Vec<CatalogItem>,
    /// This page's number, from 1.
    pub page: u32,
    /// How many pages there are (at least 1).
    pub pages: u32,
}

/// What the page chrome shows about the shop.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShopInfo {
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any text is either refused or becomes an id of lowercase ASCII, digits and
        /// dashes (what the database and the catalog are keyed by), unchanged.
        #[test]
        fn product_ids_are_plain_or_refused(text in "\\PC{0,80}") {
            if let Ok(id) = ProductId::parse(&text) {
                proptest::prop_assert_eq!(id.as_str(), text.as_str());
                proptest::prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            }
        }
    }
}
