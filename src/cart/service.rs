//! Cart logic (server only): pricing from the catalog, and changes under the rules of
//! quantity and stock. Amounts come from the catalog, never from the caller.

use super::{AppliedDiscount, Cart, CartLine, MAX_QUANTITY, Quantity, TRIAL_CODE};
use crate::catalog::discounts::DiscountRefusal;
use crate::catalog::{Catalog, ProductId};
use crate::error::AppError;
use crate::i18n::{Locale, fill};
use crate::money::{Currency, MAXIMUM_CHARGE, Money, MoneyError};
use crate::request::Request;
use crate::session::{self, SessionId};
use crate::state::AppState;
use crate::store::{CartAdd, CartContents};

/// Prices stored cart lines with the catalog, and the discount `code` if it applies at
/// time `now`, named in `locale`. Lines whose product left the catalog are dropped: they cannot be bought.
pub fn price(
    catalog: &Catalog,
    currency: Currency,
    stored: &[(String, u32)],
    code: Option<&str>,
    now: i64,
    locale: Locale,
) -> Result<Cart, MoneyError> {
    let mut lines = Vec::with_capacity(stored.len());
    for (product_id, quantity) in stored {
        let Some(product) = catalog.find(product_id) else { continue };
        lines.push(CartLine {
            product_id: product.id.clone(),
            name: catalog.localized(product, locale).name,
            image: product.image.clone(),
            unit_price: product.unit_price,
            quantity: *quantity,
            line_total: product.unit_price.checked_mul(*quantity)?,
            recurring: product.recurring,
        });
    }
    let subtotal = Money::sum(currency, lines.iter().map(|line| line.line_total))?;
    let item_count = lines.iter().map(|line| line.quantity).sum();
    let (mut discount, mut discount_note) = (None, None);
    let subscription = lines.iter().any(|line| line.recurring.is_some());
    if subscription && code.is_some() {
        // A subscription is billed at its price every period; codes are for one-off buys.
        discount_note = Some(locale.texts().discount_not_for_subscriptions().to_owned());
    } else if let Some(code) = code.filter(|_| !lines.is_empty()) {
        match catalog.discount(code).ok_or(DiscountRefusal::Unknown).and_then(|d| d.amount_off(subtotal, now).map(|off| (d, off))) {
            Ok((found, amount)) => {
                discount = Some(AppliedDiscount { code: found.code.clone(), label: found.describe(currency, locale), amount });
            }
            Err(refusal) => discount_note = Some(refusal_message(&refusal, locale)),
        }
    }
    let off = discount.as_ref().map_or(0, |d| d.amount.amount);
    let total = Money::new(subtotal.amount.checked_sub(off).ok_or(MoneyError::Overflow)?, currency);
    let quote = quote(&lines, discount.as_ref(), total);
    // (An empty cart asks for no charge: it says so itself.)
    let charge_limit = if lines.is_empty() { None } else { charge_limit(total, locale) };
    Ok(Cart { lines, item_count, subtotal, discount, discount_note, total, charge_limit, quote })
}

/// A subscription's cart whose first `days` are a free trial (an account's first
/// subscription to a product that offers one): nothing is charged today. The summary
/// shows it as the period's price taken off ([`TRIAL_CODE`]), as Stripe's first
/// invoice has it (a "Trial period" line for nothing); the quote then covers it, so a
/// page that offered the trial charges nothing if it no longer applies.
pub fn with_trial(cart: Cart, days: u32, locale: Locale) -> Cart {
    if cart.subscription().is_none() {
        return cart;
    }
    let label = fill(locale.texts().free_trial(), &[&days]);
    let discount = AppliedDiscount { code: TRIAL_CODE.to_owned(), label, amount: cart.subtotal };
    let total = Money::new(0, cart.subtotal.currency);
    let quote = quote(&cart.lines, Some(&discount), total);
    // The cart's own `charge_limit` stays: it is about the renewals, each charged at the
    // full price, which Stripe must be able to charge when the trial ends.
    Cart { discount: Some(discount), discount_note: None, total, quote, ..cart }
}

/// Why Stripe would refuse to charge `total` in one payment (under the currency's
/// minimum, over the eight-digit maximum), in `locale`; `None` when it can be paid. Said
/// where a cart is priced ([`Cart::charge_limit`]), so the pages and the checkout island
/// only show it.
pub fn charge_limit(total: Money, locale: Locale) -> Option<String> {
    let (limit, text) = match total.amount {
        amount if amount > MAXIMUM_CHARGE => (MAXIMUM_CHARGE, locale.texts().maximum_charge()),
        amount if amount < total.currency.minimum_charge() => (total.currency.minimum_charge(), locale.texts().minimum_charge()),
        _ => return None,
    };
    Some(fill(text, &[&locale.money(Money::new(limit, total.currency))]))
}

/// [`Cart::quote`]: what is charged and for what, not how it is named (the language,
/// product names and images play no part), in 32 hex digits.
fn quote(lines: &[CartLine], discount: Option<&AppliedDiscount>, total: Money) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    let mut text = String::new();
    for line in lines {
        let _ = write!(text, "{}\t{}\t{}\t{}", line.product_id, line.quantity, line.unit_price.amount, line.unit_price.currency);
        if let Some(recurring) = line.recurring {
            let _ = write!(text, "\tevery {} {:?}", recurring.count, recurring.interval);
        }
        text.push('\n');
    }
    if let Some(discount) = discount {
        let _ = writeln!(text, "{}\t-{}", discount.code, discount.amount.amount);
    }
    let _ = write!(text, "{}\t{}", total.amount, total.currency);
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

/// The current session's cart (empty when there is no session yet).
#[tracing::instrument(name = "view the cart", skip_all, err(level = "info", Debug))]
pub async fn view_current(state: &AppState, request: &Request) -> Result<Cart, AppError> {
    let session = session::current(&state.store, &request.session).await?;
    view(state, request, session.as_ref()).await
}

/// The cart of `session`, priced now.
pub async fn view(state: &AppState, request: &Request, session: Option<&SessionId>) -> Result<Cart, AppError> {
    let contents = match session {
        Some(id) => state.store.cart(id.as_str()).await?,
        None => CartContents::default(),
    };
    priced(state, request.locale, &contents)
}

/// Stored cart lines and discount code, priced now in `locale`.
pub fn priced(state: &AppState, locale: Locale, (stored, code): &CartContents) -> Result<Cart, AppError> {
    price(&state.catalog, state.config.store.currency, stored, code.as_deref(), session::now(), locale).map_err(|error| {
        tracing::error!(%error, "pricing the cart failed");
        AppError::Internal
    })
}

/// Adds to the current session's cart, within the quantity cap and the stock.
#[tracing::instrument(name = "add to the cart", skip_all, fields(product = %product_id, quantity = quantity.get()), err(level = "info", Debug))]
pub async fn add(state: &AppState, request: &Request, product_id: &ProductId, quantity: Quantity) -> Result<Cart, AppError> {
    let t = request.texts();
    let product = state.catalog.get(product_id).ok_or_else(|| AppError::invalid(t.not_in_catalog()))?;
    let stock = state.store.stock_of(product_id.as_str()).await?;
    if stock == 0 {
        return Err(AppError::invalid(t.product_sold_out()));
    }
    let session = session::current_or_start(&state.store, &request.session).await?;
    // A subscription is bought on its own: not beside other products, nor another one.
    let (stored, _) = state.store.cart(session.as_str()).await?;
    let mixes = stored
        .iter()
        .filter(|(other, _)| other != product_id.as_str())
        .any(|(other, _)| product.recurring.is_some() || state.catalog.find(other).is_some_and(|other| other.recurring.is_some()));
    if mixes {
        return Err(AppError::invalid(t.subscription_alone()));
    }
    let cap = stock.min(MAX_QUANTITY);
    let added = state.store.add_to_cart(session.as_str(), product_id.as_str(), quantity.get(), cap, session::now()).await?;
    match added {
        CartAdd::Added(_) => view(state, request, Some(&session)).await,
        CartAdd::OverCap if cap < MAX_QUANTITY => Err(AppError::invalid(fill(t.cart_cannot_hold_more(), &[&stock]))),
        CartAdd::OverCap => Err(AppError::invalid(fill(t.at_most_per_product(), &[&MAX_QUANTITY]))),
    }
}

/// Sets (or with `None` removes) a line of the current session's cart.
#[tracing::instrument(name = "change a cart line", skip_all, fields(product = %product_id), err(level = "info", Debug))]
pub async fn set_quantity(
    state: &AppState,
    request: &Request,
    product_id: &ProductId,
    quantity: Option<Quantity>,
) -> Result<Cart, AppError> {
    let t = request.texts();
    state.catalog.get(product_id).ok_or_else(|| AppError::invalid(t.not_in_catalog()))?;
    let Some(quantity) = quantity else {
        if let Some(session) = session::current(&state.store, &request.session).await? {
            state.store.remove_cart_line(session.as_str(), product_id.as_str()).await?;
            return view(state, request, Some(&session)).await;
        }
        return view(state, request, None).await;
    };
    let stock = state.store.stock_of(product_id.as_str()).await?;
    if quantity.get() > stock {
        return Err(AppError::invalid(fill(t.only_in_stock(), &[&stock])));
    }
    let session = session::current_or_start(&state.store, &request.session).await?;
    state.store.set_cart_quantity(session.as_str(), product_id.as_str(), quantity.get(), session::now()).await?;
    view(state, request, Some(&session)).await
}

/// Applies (or with an empty code removes) a discount code; refuses one that does not
/// apply to the cart as it is, changing nothing.
#[tracing::instrument(name = "apply a discount code", skip_all, err(level = "info", Debug))]
pub async fn apply_discount_code(state: &AppState, request: &Request, code: &str) -> Result<Cart, AppError> {
    let code = code.trim();
    if code.len() > 64 {
        return Err(AppError::invalid(refusal_message(&DiscountRefusal::Unknown, request.locale)));
    }
    let session = session::current_or_start(&state.store, &request.session).await?;
    if code.is_empty() {
        state.store.set_session_discount(session.as_str(), None).await?;
        return view(state, request, Some(&session)).await;
    }
    crate::rate_limit::check(state, request, crate::rate_limit::DISCOUNT, Some(session.as_str())).await?;
    let discount =
        state.catalog.discount(code).ok_or_else(|| AppError::invalid(refusal_message(&DiscountRefusal::Unknown, request.locale)))?;
    let cart = view(state, request, Some(&session)).await?;
    if cart.lines.is_empty() {
        return Err(AppError::invalid(request.texts().discount_needs_cart()));
    }
    if cart.subscription().is_some() {
        return Err(AppError::invalid(request.texts().discount_not_for_subscriptions()));
    }
    discount.amount_off(cart.subtotal, session::now()).map_err(|refusal| AppError::invalid(refusal_message(&refusal, request.locale)))?;
    state.store.set_session_discount(session.as_str(), Some(&discount.code)).await?;
    view(state, request, Some(&session)).await
}

/// Why a discount code does not apply, in the shopper's language.
fn refusal_message(refusal: &DiscountRefusal, locale: Locale) -> String {
    let t = locale.texts();
    match refusal {
        DiscountRefusal::Unknown => t.discount_unknown().to_owned(),
        DiscountRefusal::Expired(date) => fill(t.discount_expired(), &[date]),
        DiscountRefusal::BelowMinimum(minimum) => fill(t.discount_minimum(), &[&locale.money(*minimum)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur(total: i64) -> Option<String> {
        in_currency(total, Currency::EUR)
    }

    fn in_currency(total: i64, currency: Currency) -> Option<String> {
        charge_limit(Money::new(total, currency), Locale::En)
    }

    #[test]
    fn a_total_stripe_cannot_charge_in_one_payment_is_named_with_its_limit() {
        for chargeable in [50, 1800, 99_999_999] {
            assert_eq!(eur(chargeable), None, "{chargeable}");
        }
        for small in [0, 49] {
            assert_eq!(eur(small).unwrap(), "The smallest order we can charge is €0.50.");
        }
        assert!(eur(100_000_000).unwrap().starts_with("We cannot charge more than €999,999.99 in one payment"));
        // Stripe's minimum is the currency's own.
        let gbp = Currency::parse("gbp").unwrap();
        assert!(in_currency(30, gbp).is_none() && in_currency(29, gbp).is_some());
        let sek = Currency::parse("sek").unwrap();
        assert!(in_currency(299, sek).is_some() && in_currency(300, sek).is_none());
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(in_currency(49, jpy).unwrap(), "The smallest order we can charge is ¥50.");
        let large = charge_limit(Money::new(100_000_000, Currency::EUR), Locale::Fr).unwrap();
        assert!(large.starts_with("Nous ne pouvons pas débiter plus de") && large.contains("999\u{202f}999,99\u{a0}€"), "{large}");
    }

    #[test]
    fn a_trial_charges_nothing_today_but_keeps_what_its_renewals_cannot_be_charged() {
        let text = r#"
            [[products]]
            id = "tea"
            name = "Tea"
            description = "Tea."
            unit_amount = 950
            currency = "eur"
            image = "/t.svg"
            stock = 5
            interval = "month"
            trial_days = 14
        "#;
        let teas = Catalog::parse(text, Currency::EUR).unwrap();
        let priced = |quantity| price(&teas, Currency::EUR, &[("tea".into(), quantity)], None, 0, Locale::En).unwrap();
        let trial = with_trial(priced(2), 14, Locale::En);
        assert!(trial.is_trial());
        assert_eq!((trial.subtotal.amount, trial.total.amount, trial.charge_limit.as_deref()), (1900, 0, None));
        let discount = trial.discount.clone().unwrap();
        assert_eq!((discount.label.as_str(), discount.amount.amount), ("First 14 days free", 1900));
        assert_ne!(trial.quote, priced(2).quote, "the quote covers the trial");
        // A renewal under Stripe's minimum could never be charged: still refused.
        let cheap = Catalog::parse(&text.replace("950", "30"), Currency::EUR).unwrap();
        let cheap = price(&cheap, Currency::EUR, &[("tea".into(), 1)], None, 0, Locale::En).unwrap();
        assert!(with_trial(cheap, 14, Locale::En).charge_limit.is_some());
        // A one-off cart has no trial.
        let mugs = price(&catalog(), Currency::EUR, &[("mug".into(), 1)], None, 0, Locale::En).unwrap();
        assert_eq!(with_trial(mugs.clone(), 14, Locale::En), mugs);
    }

    fn catalog() -> Catalog {
        Catalog::parse(
            r#"
            [[products]]
            id = "mug"
            name = "Mug"
            description = "A mug."
            unit_amount = 1800
            currency = "eur"
            image = "/m.svg"
            stock = 5

            [[products]]
            id = "tote"
            name = "Tote"
            description = "A tote."
            unit_amount = 2450
            currency = "eur"
            image = "/t.svg"
            stock = 5

            [[discounts]]
            code = "TEN"
            percent_off = 10
            minimum_amount = 2000

            [[discounts]]
            code = "ALL"
            percent_off = 100
            "#,
            Currency::EUR,
        )
        .unwrap()
    }

    #[test]
    fn the_subtotal_is_the_sum_of_unit_price_times_quantity() {
        let cart = price(&catalog(), Currency::EUR, &[("mug".into(), 2), ("tote".into(), 1)], None, 0, Locale::En).unwrap();
        assert_eq!(cart.subtotal, Money::new(2 * 1800 + 2450, Currency::EUR));
        assert_eq!(cart.item_count, 3);
        assert_eq!(cart.lines[0].line_total, Money::new(3600, Currency::EUR));
    }

    #[test]
    fn an_empty_cart_costs_nothing() {
        let cart = price(&catalog(), Currency::EUR, &[], None, 0, Locale::En).unwrap();
        assert_eq!((cart.subtotal.amount, cart.item_count), (0, 0));
        assert_eq!(cart.charge_limit, None);
    }

    #[test]
    fn a_priced_cart_says_why_stripe_could_not_charge_its_total() {
        let mug = [("mug".to_owned(), 1)];
        assert_eq!(price(&catalog(), Currency::EUR, &mug, None, 0, Locale::En).unwrap().charge_limit, None);
        let free = price(&catalog(), Currency::EUR, &mug, Some("ALL"), 0, Locale::Fr).unwrap();
        assert_eq!(free.total.amount, 0);
        assert_eq!(free.charge_limit, charge_limit(free.total, Locale::Fr));
        assert!(free.charge_limit.unwrap().starts_with("La plus petite commande"));
    }

    #[test]
    fn lines_for_products_no_longer_sold_are_left_out() {
        let cart = price(&catalog(), Currency::EUR, &[("gone".into(), 4), ("mug".into(), 1)], None, 0, Locale::En).unwrap();
        assert_eq!(cart.item_count, 1);
        assert_eq!(cart.subtotal.amount, 1800);
    }

    #[test]
    fn a_discount_lowers_the_total_and_is_dropped_with_a_note_when_it_no_longer_applies() {
        let cart = price(&catalog(), Currency::EUR, &[("tote".into(), 1)], Some("ten"), 0, Locale::En).unwrap();
        assert_eq!(cart.discount.as_ref().unwrap().amount.amount, 245);
        assert_eq!(cart.total.amount, 2450 - 245);
        let small = price(&catalog(), Currency::EUR, &[("mug".into(), 1)], Some("TEN"), 0, Locale::En).unwrap();
        assert!(small.discount.is_none());
        assert_eq!(small.total, small.subtotal);
        assert!(small.discount_note.unwrap().contains("at least €20.00"));
    }

    #[test]
    fn the_quote_changes_with_what_is_charged_and_only_with_that() {
        let priced = |lines: &[(&str, u32)], code: Option<&str>, locale| {
            let stored: Vec<(String, u32)> = lines.iter().map(|(id, n)| ((*id).to_owned(), *n)).collect();
            price(&catalog(), Currency::EUR, &stored, code, 0, locale).unwrap().quote
        };
        let shown = priced(&[("mug", 2), ("tote", 1)], None, Locale::En);
        assert_eq!(shown.len(), 32);
        // The same cart read again, or in the other language: the same quote.
        assert_eq!(priced(&[("mug", 2), ("tote", 1)], None, Locale::En), shown);
        assert_eq!(priced(&[("mug", 2), ("tote", 1)], None, Locale::Fr), shown);
        // Another quantity, another line, a discount: another quote.
        assert_ne!(priced(&[("mug", 3), ("tote", 1)], None, Locale::En), shown);
        assert_ne!(priced(&[("mug", 2)], None, Locale::En), shown);
        assert_ne!(priced(&[("mug", 2), ("tote", 1)], Some("TEN"), Locale::En), shown);
        // Two carts of the same total are not the same purchase.
        let (mugs, totes) = (priced(&[("mug", 49)], None, Locale::En), priced(&[("tote", 36)], None, Locale::En));
        assert_eq!(49 * 1800, 36 * 2450);
        assert_ne!(mugs, totes);
    }

    #[test]
    fn quantities_outside_one_to_ninety_nine_are_refused() {
        assert!(Quantity::new(0).is_none());
        assert!(Quantity::new(100).is_none());
        assert_eq!(Quantity::new(99).unwrap().get(), 99);
    }

    proptest! {
        #[test]
        fn pricing_is_linear_in_quantities(mugs in 1u32..=99, totes in 1u32..=99) {
            let cart = price(&catalog(), Currency::EUR, &[("mug".into(), mugs), ("tote".into(), totes)], None, 0, Locale::En).unwrap();
            prop_assert_eq!(cart.subtotal.amount, i64::from(mugs) * 1800 + i64::from(totes) * 2450);
            prop_assert_eq!(cart.item_count, mugs + totes);
        }
    }
}
