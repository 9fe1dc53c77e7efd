//! Loading the catalog file and answering catalog questions (server only).

use super::discounts::{Discount, DiscountEntry};
use super::{CatalogItem, CatalogListing, Interval, PAGE_SIZE, Product, ProductId, Recurring};
use crate::error::AppError;
use crate::money::{Currency, Money};
use crate::store::Store;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::Path;

/// The longest free trial Stripe takes (`trial_period_days`), two years.
const MAX_TRIAL_DAYS: u32 = 730;

/// The products on sale, read once at start-up. Prices live here; stock lives in the
/// database.
#[derive(Debug)]
pub struct Catalog {
    products: Vec<Product>,
    index: HashMap<ProductId, usize>,
    initial_stock: Vec<u32>,
    /// Each product's name and description in French, when the file gives them.
    french: Vec<Option<ProductText>>,
    discounts: HashMap<String, Discount>,
}

/// Why the catalog file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read the catalog file {path}")]
    Read { path: String, source: std::io::Error },
    #[error("the catalog file is not valid: {0}")]
    Syntax(String),
    #[error("product `{product}`: {problem}")]
    Product { product: String, problem: String },
    #[error("discount `{code}`: {problem}")]
    Discount { code: String, problem: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    products: Vec<ProductEntry>,
    #[serde(default)]
    discounts: Vec<DiscountEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductEntry {
    id: String,
    name: String,
    description: String,
    unit_amount: i64,
    currency: String,
    image: String,
    stock: u32,
    /// A subscription: billed every `interval_count` (default 1) `interval`s
    /// (`day`, `week`, `month` or `year`).
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    interval_count: Option<u32>,
    /// A subscription's free trial for accounts that never subscribed to it: 1 to 730
    /// days (Stripe's longest).
    #[serde(default)]
    trial_days: Option<u32>,
    /// `[products.fr]`: the name and description in French.
    #[serde(default)]
    fr: Option<ProductText>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductText {
    name: String,
    description: String,
}

impl Catalog {
    pub fn load(path: &Path, currency: Currency) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text, currency)
    }

    /// Parses a catalog whose prices must all be in `currency`, the store's.
    pub fn parse(text: &str, currency: Currency) -> Result<Catalog, CatalogError> {
        let file: CatalogFile = toml::from_str(text).map_err(|error| CatalogError::Syntax(error.to_string()))?;
        let mut catalog = Catalog {
            products: Vec::new(),
            index: HashMap::new(),
            initial_stock: Vec::new(),
            french: Vec::new(),
            discounts: HashMap::new(),
        };
        for entry in file.discounts {
            let code = entry.code.clone();
            let discount = Discount::parse(entry, currency).map_err(|problem| CatalogError::Discount { code: code.clone(), problem })?;
            if catalog.discounts.insert(discount.code.clone(), discount).is_some() {
                return Err(CatalogError::Discount { code, problem: "the code is listed twice".into() });
            }
        }
        for entry in file.products {
            let problem = |problem: String| CatalogError::Product { product: entry.id.clone(), problem };
            let id = ProductId::parse(&entry.id).map_err(|_| problem("ids are 1–64 characters of a-z, 0-9 and -".into()))?;
            let product_currency = Currency::parse(&entry.currency).map_err(|error| problem(error.to_string()))?;
            if product_currency != currency {
                return Err(problem(format!("priced in {product_currency}, but the store sells in {currency}")));
            }
            if !(1..=crate::money::MAXIMUM_CHARGE).contains(&entry.unit_amount) {
                // More could never be charged in one payment.
                return Err(problem(format!("unit_amount must be 1 to {} minor units", crate::money::MAXIMUM_CHARGE)));
            }
            if !entry.image.starts_with('/') {
                return Err(problem("image must be a path under public/, starting with /".into()));
            }
            let recurring = match (entry.interval.as_deref(), entry.interval_count) {
                (None, None) => None,
                (None, Some(_)) => return Err(problem("interval_count needs an interval (day, week, month or year)".into())),
                (Some(interval), count) => {
                    let interval = Interval::parse(interval)
                        .ok_or_else(|| problem(format!("interval is day, week, month or year, not `{interval}`")))?;
                    let count = count.unwrap_or(1);
                    if !(1..=interval.most()).contains(&count) {
                        return Err(problem(format!(
                            "interval_count is 1 to {} for a {}ly price (Stripe bills at least every three years)",
                            interval.most(),
                            interval.as_str()
                        )));
                    }
                    Some(Recurring { interval, count })
                }
            };
            match entry.trial_days {
                Some(_) if recurring.is_none() => return Err(problem("trial_days is for a subscription: give it an interval".into())),
                Some(days) if !(1..=MAX_TRIAL_DAYS).contains(&days) => {
                    return Err(problem(format!("trial_days is 1 to {MAX_TRIAL_DAYS} (Stripe's longest trial)")));
                }
                _ => {}
            }
            if catalog.index.insert(id.clone(), catalog.products.len()).is_some() {
                return Err(problem("the id is used twice".into()));
            }
            catalog.initial_stock.push(entry.stock);
            catalog.french.push(entry.fr);
            catalog.products.push(Product {
                id,
                name: entry.name,
                description: entry.description,
                unit_price: Money::new(entry.unit_amount, currency),
                image: entry.image,
                recurring,
                trial_days: entry.trial_days,
            });
        }
        Ok(catalog)
    }

    pub fn products(&self) -> &[Product] {
        &self.products
    }

    pub fn get(&self, id: &ProductId) -> Option<&Product> {
        self.index.get(id).map(|&i| &self.products[i])
    }

    /// A product as shoppers of `locale` read it (English when no translation is given).
    pub fn localized(&self, product: &Product, locale: crate::i18n::Locale) -> Product {
        let text = self.index.get(&product.id).and_then(|&i| self.french[i].as_ref()).filter(|_| locale == crate::i18n::Locale::Fr);
        match text {
            Some(text) => Product { name: text.name.clone(), description: text.description.clone(), ..product.clone() },
            None => product.clone(),
        }
    }

    /// Looks a product up by its raw id, as stored in the database.
    pub fn find(&self, id: &str) -> Option<&Product> {
        ProductId::parse(id).ok().and_then(|id| self.get(&id))
    }

    /// The discount with this code (as typed: case and spaces do not matter).
    pub fn discount(&self, code: &str) -> Option<&Discount> {
        self.discounts.get(&super::discounts::normalize(code))
    }

    /// `(product id, starting stock)` for every product, to seed the database.
    pub fn initial_stock(&self) -> impl Iterator<Item = (&str, u32)> {
        self.products.iter().zip(&self.initial_stock).map(|(p, &stock)| (p.id.as_str(), stock))
    }
}

/// One page of the catalog (`page` from 1; past the end: the last page), each product
/// with its current stock, named in `locale`. Costs the same whatever the catalog's size: the page is a
/// slice, and stock is read for its products only.
pub async fn list(store: &Store, catalog: &Catalog, page: u32, locale: crate::i18n::Locale) -> Result<CatalogListing, AppError> {
    let page = catalog.page(page);
    let stock = store.stock_of_products(&page.product_ids().iter().map(String::as_str).collect::<Vec<_>>()).await?;
    Ok(page.listing(catalog, locale, &stock))
}

/// A page of the catalog, before its stock is read.
pub struct CatalogPageRef<'a> {
    products: &'a [Product],
    page: u32,
    pages: u32,
}

impl Catalog {
    /// Page `page` (from 1; past the end: the last page) of `PAGE_SIZE` products.
    pub fn page(&self, page: u32) -> CatalogPageRef<'_> {
        let products = self.products();
        let pages = u32::try_from(products.len().div_ceil(PAGE_SIZE)).unwrap_or(u32::MAX).max(1);
        let page = page.clamp(1, pages);
        let start = (page as usize - 1) * PAGE_SIZE;
        let shown = &products[start.min(products.len())..(start + PAGE_SIZE).min(products.len())];
        CatalogPageRef { products: shown, page, pages }
    }
}

impl CatalogPageRef<'_> {
    /// The products whose stock the page shows.
    pub fn product_ids(&self) -> Vec<String> {
        self.products.iter().map(|product| product.id.to_string()).collect()
    }

    /// The page with `stock` (products missing from it are out of stock), in `locale`.
    pub fn listing(&self, catalog: &Catalog, locale: crate::i18n::Locale, stock: &HashMap<String, u32>) -> CatalogListing {
        let items = self
            .products
            .iter()
            .map(|product| CatalogItem {
                product: catalog.localized(product, locale),
                in_stock: stock.get(product.id.as_str()).copied().unwrap_or(0),
            })
            .collect();
        CatalogListing { items, page: self.page, pages: self.pages }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_named_and_its_cause_given_once() {
        let error = Catalog::load(Path::new("/nonexistent/catalog.toml"), Currency::EUR).err().unwrap();
        let report = format!("{:#}", anyhow::Error::from(error).context("the catalog file cannot be used"));
        assert!(report.contains("/nonexistent/catalog.toml"), "{report}");
        assert_eq!(report.matches("No such file or directory").count(), 1, "{report}");
    }

    const ONE: &str = r#"
        [[products]]
        id = "mug"
        name = "Mug"
        description = "A mug."
        unit_amount = 1800
        currency = "eur"
        image = "/images/mug.svg"
        stock = 3
    "#;

    #[test]
    fn a_valid_catalog_loads_with_prices_in_minor_units() {
        let catalog = Catalog::parse(ONE, Currency::EUR).unwrap();
        let mug = catalog.find("mug").unwrap();
        assert_eq!(mug.unit_price, Money::new(1800, Currency::EUR));
        assert_eq!(catalog.initial_stock().collect::<Vec<_>>(), vec![("mug", 3)]);
    }

    #[test]
    fn a_product_in_another_currency_is_refused_by_name() {
        let error = Catalog::parse(ONE, Currency::USD).unwrap_err().to_string();
        assert!(error.contains("`mug`") && error.contains("usd"), "{error}");
    }

    #[test]
    fn duplicate_ids_bad_ids_and_free_or_unchargeable_products_are_refused() {
        let twice = format!("{ONE}{ONE}");
        assert!(Catalog::parse(&twice, Currency::EUR).unwrap_err().to_string().contains("twice"));
        assert!(Catalog::parse(&ONE.replace("\"mug\"", "\"Big Mug\""), Currency::EUR).is_err());
        assert!(Catalog::parse(&ONE.replace("1800", "0"), Currency::EUR).is_err());
        // More than Stripe charges in one payment: the product could never be sold.
        let dear = Catalog::parse(&ONE.replace("1800", "100000000"), Currency::EUR).unwrap_err().to_string();
        assert!(dear.contains("`mug`") && dear.contains("99999999"), "{dear}");
        assert!(Catalog::parse(&ONE.replace("1800", "99999999"), Currency::EUR).is_ok());
    }

    #[test]
    fn a_trial_is_for_a_subscription_of_1_to_730_days() {
        let trial = |extra: &str| Catalog::parse(&ONE.replace("stock = 3", &format!("stock = 3\n{extra}")), Currency::EUR);
        let monthly = trial("interval = \"month\"\ntrial_days = 14").unwrap();
        assert_eq!(monthly.find("mug").unwrap().trial_days, Some(14));
        assert_eq!(trial("interval = \"month\"").unwrap().find("mug").unwrap().trial_days, None);
        let one_off = trial("trial_days = 14").unwrap_err().to_string();
        assert!(one_off.contains("`mug`") && one_off.contains("give it an interval"), "{one_off}");
        for days in ["0", "731"] {
            let error = trial(&format!("interval = \"month\"\ntrial_days = {days}")).unwrap_err().to_string();
            assert!(error.contains("trial_days is 1 to 730"), "{days}: {error}");
        }
        assert!(trial("interval = \"month\"\ntrial_days = 730").is_ok());
    }

    #[test]
    fn the_repository_catalog_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog.toml");
        let catalog = Catalog::load(&path, Currency::EUR).unwrap();
        assert!(catalog.products().len() >= 3);
        for product in catalog.products() {
            let image = Path::new(env!("CARGO_MANIFEST_DIR")).join("public").join(&product.image[1..]);
            assert!(image.exists(), "missing image {}", image.display());
        }
    }

    #[test]
    fn a_product_reads_in_french_when_the_file_translates_it() {
        let text = format!("{ONE}\n[products.fr]\nname = \"Tasse\"\ndescription = \"Une tasse.\"\n");
        let catalog = Catalog::parse(&text, Currency::EUR).unwrap();
        let mug = &catalog.products()[0];
        let french = catalog.localized(mug, crate::i18n::Locale::Fr);
        assert_eq!((french.name.as_str(), french.description.as_str(), french.unit_price), ("Tasse", "Une tasse.", mug.unit_price));
        assert_eq!(catalog.localized(mug, crate::i18n::Locale::En).name, "Mug");
        let untranslated = Catalog::parse(ONE, Currency::EUR).unwrap();
        assert_eq!(untranslated.localized(&untranslated.products()[0], crate::i18n::Locale::Fr).name, "Mug", "English when no translation");
    }
}
