//! PaymentMethods: create, retrieve, update, attach, detach, list.
//! <https://docs.stripe.com/api/payment_methods>

use super::{Caller, Ctx, list_object, page};
use crate::cards::{self, Card};
use crate::error::ApiError;
use crate::form::Params;
use crate::state::new_id;
use serde_json::{Value, json};

/// Payment method types the emulator supports besides cards: `ideal` redirects to a
/// bank page, `sepa_debit` is `processing` for a while before it succeeds.
pub const REDIRECT_TYPE: &str = "ideal";
pub const DELAYED_TYPE: &str = "sepa_debit";

/// Whether a payment method type can pay in `currency`: cards in every currency the
/// emulator knows, iDEAL and SEPA Debit in euros only (Stripe's payment method pages).
pub fn supports_currency(kind: &str, currency: &str) -> bool {
    match kind {
        REDIRECT_TYPE | DELAYED_TYPE => currency == "eur",
        _ => true,
    }
}

/// Whether a payment method type can be captured as `capture_method` says: iDEAL and
/// SEPA Debit are taken at once, only cards can be authorised and captured later.
pub fn supports_capture(kind: &str, capture_method: &str) -> bool {
    capture_method != "manual" || kind == "card"
}

/// The payment method types the emulator implements.
pub const TYPES: [&str; 3] = ["card", REDIRECT_TYPE, DELAYED_TYPE];

/// The types an intent offers, as Stripe derives its `payment_method_types`: those of
/// `candidates` (the allowed list, or every type) that can pay in `currency`, and no
/// redirect when redirects are not allowed.
pub fn compatible(candidates: &[&str], currency: &str, allow_redirects: bool, capture_method: &str) -> Vec<String> {
    candidates
        .iter()
        .filter(|kind| supports_currency(kind, currency) && (allow_redirects || **kind != REDIRECT_TYPE))
        .filter(|kind| supports_capture(kind, capture_method))
        .map(|kind| (*kind).to_owned())
        .collect()
}

/// `allowed_payment_method_types`: the types the intent may use (the emulator
/// implements card, iDEAL and SEPA Debit).
pub fn allowed_types(params: &Params) -> Result<Vec<String>, ApiError> {
    let allowed = params.str_list("allowed_payment_method_types")?;
    if let Some((index, kind)) = allowed.iter().enumerate().find(|(_, kind)| !TYPES.contains(&kind.as_str())) {
        return Err(ApiError::invalid_param(
            &format!("allowed_payment_method_types[{index}]"),
            format!("The emulator implements the payment method types card, ideal and sepa_debit, not {kind}."),
        ));
    }
    Ok(allowed)
}

/// Stripe's SEPA Direct Debit test IBANs whose debit fails once `processing` ends
/// (<https://docs.stripe.com/testing#sepa-direct-debit>); every other IBAN succeeds.
const FAILING_IBANS: &[&str] = &["DE62370400440532013001", "DE78370400440532013004", "AT861904300235473202", "AT981904300235473204"];

/// The `sepa_debit` hash of a PaymentMethod, from its IBAN.
fn sepa_details(iban: &str) -> Value {
    let country = iban.get(..2).unwrap_or_default();
    let bank_code = match country {
        "DE" => iban.get(4..12),
        "AT" => iban.get(4..9),
        _ => None,
    };
    json!({
        "bank_code": bank_code,
        "branch_code": null,
        "country": country,
        "fingerprint": format!("fpsepa{}", &iban[iban.len().saturating_sub(8)..]),
        "generated_from": null,
        "last4": &iban[iban.len().saturating_sub(4)..],
    })
}

/// Whether the debit of a `sepa_debit` PaymentMethod fails after `processing`.
pub fn debit_fails(pm: &Value) -> bool {
    let sepa = &pm[DELAYED_TYPE];
    FAILING_IBANS.iter().any(|iban| sepa_details(iban) == *sepa)
}

/// Refuses a PaymentMethod that may not be used again, as Stripe does.
pub fn check_reusable(ctx: &Ctx<'_>, id: &str, param: &str) -> Result<(), ApiError> {
    if ctx.account.spent_methods.contains(id) {
        return Err(ApiError::invalid_param(
            param,
            "The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.",
        ));
    }
    Ok(())
}

/// The `billing_details` object from parameters (all fields present, null when unset).
pub fn billing_details(params: Option<&Params>) -> Result<Value, ApiError> {
    let empty = Params::default();
    let params = params.unwrap_or(&empty);
    let address = params.object("address")?.unwrap_or_default();
    Ok(json!({
        "address": {
            "city": address.str("city")?, "country": address.str("country")?, "line1": address.str("line1")?,
            "line2": address.str("line2")?, "postal_code": address.str("postal_code")?, "state": address.str("state")?,
        },
        "email": params.str("email")?,
        "name": params.str("name")?,
        "phone": params.str("phone")?,
        "tax_id": null,
    }))
}

/// The `card` hash of a PaymentMethod.
fn card_details(card: &Card, exp_month: i64, exp_year: i64) -> Value {
    json!({
        "brand": card.brand,
        "checks": { "address_line1_check": null, "address_postal_code_check": null, "cvc_check": "pass" },
        "country": card.country,
        "display_brand": card.brand,
        "exp_month": exp_month,
        "exp_year": exp_year,
        "fingerprint": format!("fp{}{}", card.brand, card.last4),
        "funding": card.funding,
        "generated_from": null,
        "last4": card.last4,
        "networks": { "available": [card.brand], "preferred": null },
        "regulated_status": "unregulated",
        "three_d_secure_usage": { "supported": true },
        "wallet": null,
    })
}

/// What a new PaymentMethod is made of.
pub struct NewMethod {
    pub kind: String,
    pub card: Option<(Card, i64, i64)>,
    /// The IBAN of a `sepa_debit` method.
    pub iban: Option<String>,
    pub billing_details: Value,
    pub allow_redisplay: String,
    pub metadata: Value,
}

/// The PaymentMethod object (without id) that `method` describes: what a
/// ConfirmationToken shows as `payment_method_preview`.
pub fn preview(method: &NewMethod) -> Value {
    let mut object = json!({
        "allow_redisplay": method.allow_redisplay,
        "billing_details": method.billing_details,
        "customer": null,
        "customer_account": null,
        "type": method.kind,
    });
    match (&method.card, method.kind.as_str()) {
        (Some((card, month, year)), _) => object["card"] = card_details(card, *month, *year),
        (None, DELAYED_TYPE) => object[DELAYED_TYPE] = sepa_details(method.iban.as_deref().unwrap_or_default()),
        (None, REDIRECT_TYPE) => object[REDIRECT_TYPE] = json!({ "bank": "ing", "bic": "INGBNL2A" }),
        _ => {}
    }
    object
}

/// Stores a new PaymentMethod and returns it.
pub fn insert(ctx: &mut Ctx<'_>, method: NewMethod) -> Value {
    let object = preview(&method);
    let card = method.card.map(|(card, _, _)| card);
    insert_preview(ctx, object, card, method.metadata)
}

/// Stores a PaymentMethod made from a preview (as a ConfirmationToken carries it).
pub fn insert_preview(ctx: &mut Ctx<'_>, mut object: Value, card: Option<Card>, metadata: Value) -> Value {
    let id = new_id("pm");
    object["id"] = json!(id);
    object["object"] = json!("payment_method");
    object["created"] = json!(ctx.now());
    object["livemode"] = json!(false);
    object["metadata"] = metadata;
    if let Some(card) = card {
        ctx.account.cards.insert(id, card);
    }
    ctx.account.put(object.clone());
    object
}

/// Reads a raw card from `card[number]`, `card[exp_month]`, `card[exp_year]`,
/// `card[cvc]`, checking it as Stripe does.
pub fn card_from_params(card: &Params, now: i64) -> Result<(Card, i64, i64), ApiError> {
    let number = card.required_str("number").map_err(|_| ApiError::missing_param("card[number]"))?;
    let found = cards::by_number(number)
        .ok_or_else(|| ApiError::card("incorrect_number", None, "Your card number is incorrect.").with_param("number"))?;
    let month = card.int("exp_month")?.ok_or_else(|| ApiError::missing_param("card[exp_month]"))?;
    let year = card.int("exp_year")?.ok_or_else(|| ApiError::missing_param("card[exp_year]"))?;
    let year = if year < 100 { 2000 + year } else { year };
    if !(1..=12).contains(&month) {
        return Err(ApiError::card("invalid_expiry_month", None, "Your card's expiration month is invalid.").with_param("exp_month"));
    }
    let (current_year, current_month) = year_month(now);
    if year < current_year || (year == current_year && month < current_month) || year > current_year + 50 {
        return Err(ApiError::card("invalid_expiry_year", None, "Your card's expiration year is invalid.").with_param("exp_year"));
    }
    if let Some(cvc) = card.str("cvc")?
        && (cvc.len() != found.cvc_length() || !cvc.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::card("invalid_cvc", None, "Your card's security code is invalid.").with_param("cvc"));
    }
    Ok((found, month, year))
}

/// Calendar year and month of a Unix time (UTC).
fn year_month(unix: i64) -> (i64, i64) {
    // Civil-from-days (Howard Hinnant's algorithm).
    let days = unix.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}

/// The `payment_method_data` (or `type` + details) of a request, as a new method.
pub fn method_from_params(params: &Params, now: i64) -> Result<NewMethod, ApiError> {
    let kind = params.required_str("type")?.to_owned();
    let card = match kind.as_str() {
        "card" => {
            let card = params.object("card")?.ok_or_else(|| ApiError::missing_param("card"))?;
            Some(card_from_params(&card, now)?)
        }
        REDIRECT_TYPE | DELAYED_TYPE => None,
        other => {
            return Err(ApiError::invalid_param(
                "type",
                format!("Invalid type: the emulator supports card, {REDIRECT_TYPE} and {DELAYED_TYPE}, not {other}"),
            ));
        }
    };
    let iban = match kind.as_str() {
        DELAYED_TYPE => {
            let sepa = params.object("sepa_debit")?.ok_or_else(|| ApiError::missing_param("sepa_debit"))?;
            let iban: String = sepa
                .required_str("iban")
                .map_err(|_| ApiError::missing_param("sepa_debit[iban]"))?
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_ascii_uppercase();
            let shaped = (15..=34).contains(&iban.len())
                && iban.bytes().all(|b| b.is_ascii_alphanumeric())
                && iban.bytes().take(2).all(|b| b.is_ascii_alphabetic());
            if !shaped {
                return Err(ApiError::invalid_param("sepa_debit[iban]", "The IBAN you entered is invalid."));
            }
            Some(iban)
        }
        _ => None,
    };
    Ok(NewMethod {
        kind,
        card,
        iban,
        billing_details: billing_details(params.object("billing_details")?.as_ref())?,
        allow_redisplay: params.str("allow_redisplay")?.unwrap_or("unspecified").to_owned(),
        metadata: json!(params.string_map("metadata")?),
    })
}

/// A PaymentMethod id from a request: an existing `pm_…`, or one of Stripe's test ids
/// (`pm_card_visa`), which creates a fresh PaymentMethod as Stripe does.
pub fn resolve(ctx: &mut Ctx<'_>, id: &str, param: &str) -> Result<Value, ApiError> {
    if let Some(card) = cards::by_test_payment_method(id) {
        let now = ctx.now();
        let (year, _) = year_month(now);
        return Ok(insert(
            ctx,
            NewMethod {
                kind: "card".into(),
                card: Some((card, 12, year + 3)),
                iban: None,
                billing_details: billing_details(None)?,
                allow_redisplay: "unspecified".into(),
                metadata: json!({}),
            },
        ));
    }
    ctx.account.get_kind("payment_method", id).cloned().ok_or_else(|| ApiError::no_such_param("payment_method", id, param))
}

pub fn create(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    if ctx.caller == Caller::Publishable && (params.get("customer").is_some() || params.get("payment_method").is_some()) {
        return ctx.secret_only().map(|()| Value::Null);
    }
    let method = method_from_params(params, ctx.now())?;
    let pm = insert(ctx, method);
    ctx.expand(pm, params)
}

pub fn update(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let mut pm = ctx.account.get_kind("payment_method", id).cloned().ok_or_else(|| ApiError::no_such("payment_method", id))?;
    let previous = pm.clone();
    if let Some(value) = params.str("allow_redisplay")? {
        if !["always", "limited", "unspecified"].contains(&value) {
            return Err(ApiError::invalid_param("allow_redisplay", format!("Invalid allow_redisplay: {value}")));
        }
        pm["allow_redisplay"] = json!(value);
    }
    if let Some(details) = params.object("billing_details")? {
        pm["billing_details"] = billing_details(Some(&details))?;
    }
    super::merge_metadata(&mut pm, params)?;
    ctx.account.put(pm.clone());
    ctx.emit("payment_method.updated", &pm, Some(json!({ "allow_redisplay": previous["allow_redisplay"] })));
    ctx.expand(pm, params)
}

/// Attaches a PaymentMethod to a customer (used by attach, and by intents that save
/// the method for later).
pub fn attach_to(ctx: &mut Ctx<'_>, pm_id: &str, customer: &str, param: &str) -> Result<Value, ApiError> {
    if ctx.account.get_kind("customer", customer).is_none_or(|c| c["deleted"] == true) {
        return Err(ApiError::no_such_param("customer", customer, "customer"));
    }
    let mut pm = resolve(ctx, pm_id, param)?;
    match pm["customer"].as_str() {
        Some(owner) if owner == customer => return Ok(pm),
        Some(_) => {
            return Err(ApiError::invalid("The payment method you provided has already been attached to a customer.")
                .with_code("payment_method_unexpected_state"));
        }
        None => {}
    }
    pm["customer"] = json!(customer);
    ctx.account.put(pm.clone());
    ctx.emit("payment_method.attached", &pm, Some(json!({ "customer": null })));
    Ok(pm)
}

pub fn attach(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let customer = params.required_str("customer")?.to_owned();
    if ctx.account.get_kind("payment_method", id).is_none() && crate::cards::by_test_payment_method(id).is_none() {
        return Err(ApiError::no_such("payment_method", id));
    }
    let pm = attach_to(ctx, id, &customer, "payment_method")?;
    ctx.expand(pm, params)
}

/// Detaches a PaymentMethod from its customer; it cannot be used again.
pub fn detach_method(ctx: &mut Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    let mut pm = ctx.account.get_kind("payment_method", id).cloned().ok_or_else(|| ApiError::no_such("payment_method", id))?;
    let Some(customer) = pm["customer"].as_str().map(str::to_owned) else {
        return Err(ApiError::invalid("The payment method you provided is not attached to a customer so detachment is impossible.")
            .with_code("payment_method_unexpected_state"));
    };
    pm["customer"] = Value::Null;
    ctx.account.put(pm.clone());
    ctx.account.spent_methods.insert(id.to_owned());
    ctx.emit("payment_method.detached", &pm, Some(json!({ "customer": customer })));
    Ok(pm)
}

pub fn detach(ctx: &mut Ctx<'_>, id: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let pm = detach_method(ctx, id)?;
    ctx.expand(pm, params)
}

fn list_filtered(ctx: &Ctx<'_>, customer: &str, params: &Params, url: &str) -> Result<Value, ApiError> {
    let kind = params.str("type")?.map(str::to_owned);
    let redisplay = params.str("allow_redisplay")?.map(str::to_owned);
    let items = ctx.account.list("payment_method", |pm| {
        pm["customer"] == customer
            && kind.as_ref().is_none_or(|k| pm["type"] == k.as_str())
            && redisplay.as_ref().is_none_or(|r| pm["allow_redisplay"] == r.as_str())
    });
    let (data, has_more) = page(items, params)?;
    Ok(list_object(url, data, has_more))
}

/// `GET /v1/customers/{id}/payment_methods`.
pub fn list_for_customer(ctx: &mut Ctx<'_>, customer: &str, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    if ctx.account.get_kind("customer", customer).is_none_or(|c| c["deleted"] == true) {
        return Err(ApiError::no_such("customer", customer));
    }
    list_filtered(ctx, customer, params, &format!("/v1/customers/{customer}/payment_methods"))
}

/// `GET /v1/payment_methods?customer=…`.
pub fn list(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, ApiError> {
    ctx.secret_only()?;
    let customer = params.required_str("customer")?.to_owned();
    if ctx.account.get_kind("customer", &customer).is_none_or(|c| c["deleted"] == true) {
        return Err(ApiError::no_such_param("customer", &customer, "customer"));
    }
    list_filtered(ctx, &customer, params, "/v1/payment_methods")
}

#[cfg(test)]
mod tests {
    use super::year_month;

    #[test]
    fn calendar_month_of_unix_time() {
        assert_eq!(year_month(0), (1970, 1));
        assert_eq!(year_month(1_795_651_200), (2026, 11)); // 2026-11-26
        assert_eq!(year_month(951_782_400), (2000, 2)); // 2000-02-29
    }
}
