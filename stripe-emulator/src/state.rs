//! The emulated Stripe account: every object by id (stored as the JSON Stripe would
//! return), the facts Stripe keeps but does not show (which test card is behind a
//! PaymentMethod), the event log, and the account's clock.

use crate::cards::Card;
use crate::error::ApiError;
use indexmap::IndexMap;
use rand::Rng;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The API version the emulator speaks (and reports when a request names none).
pub const API_VERSION: &str = "2026-10-28.endive";

/// What a ConfirmationToken will turn into when it is used.
#[derive(Debug, Clone)]
pub enum TokenMethod {
    /// A new PaymentMethod: the token's `payment_method_preview`, and the card behind
    /// it (for cards).
    New { preview: Value, card: Option<Card> },
    /// A PaymentMethod that already exists (a saved one, or a test `pm_card_…`).
    Existing(String),
}

/// The account's data. All access goes through one lock held for the span of a
/// request's (synchronous) work.
#[derive(Default)]
pub struct Account {
    /// Every object by id, in the order they were made (an update keeps its place).
    objects: IndexMap<String, Value>,
    /// The card behind each card PaymentMethod.
    pub cards: HashMap<String, Card>,
    /// The method each unused ConfirmationToken carries.
    pub token_methods: HashMap<String, TokenMethod>,
    /// Each intent's `return_url` (Stripe keeps it without showing it on the object).
    pub return_urls: HashMap<String, String>,
    /// PaymentMethods that may not be used again: detached from their customer, or
    /// used for a payment without being attached to one.
    pub spent_methods: std::collections::HashSet<String>,
    /// The invoice each invoice's PaymentIntent pays (Stripe keeps the link on the
    /// invoice's payments; the intent no longer shows it).
    pub invoice_of_intent: HashMap<String, String>,
    /// Subscriptions already told that their trial ends soon
    /// (`customer.subscription.trial_will_end`, sent once).
    pub trials_told: std::collections::HashSet<String>,
    /// Resumption invoices of paused subscriptions (`POST /v1/subscriptions/{id}/resume`),
    /// by invoice id, and how they were resumed.
    pub resumptions: HashMap<String, Resumption>,
    /// Customer sessions (they have no id: the client secret names them).
    pub customer_sessions: Vec<Value>,
    /// Events, oldest first.
    pub events: Vec<Value>,
    /// Seconds added to the real clock (`POST /_emulator/clock`).
    pub clock_offset: i64,
    /// The account's subscription settings (`/_emulator/billing_settings`).
    pub billing: BillingSettings,
}

/// How a paused subscription was resumed, kept for its resumption invoice.
#[derive(Debug, Clone, Copy)]
pub struct Resumption {
    /// `payment_behavior=resume_on_payment_attempt`: a failed payment makes the
    /// subscription `past_due`, and is not retried.
    pub on_attempt: bool,
    /// When the resumption, still unpaid, lapses: its invoice is voided and the
    /// subscription stays `paused` (23 hours on the payment's attempt, a year on its
    /// success).
    pub expires_at: i64,
}

/// The Dashboard's settings for subscriptions that the emulator follows.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillingSettings {
    /// What becomes of a subscription once every retry of a renewal has failed.
    #[serde(default)]
    pub retries_spent: RetriesSpent,
    /// "Mark the invoice as uncollectible" once its retries are spent, rather than leave
    /// it open (past due). Either way it can still be paid.
    #[serde(default)]
    pub mark_invoice_uncollectible: bool,
}

/// "If all retries for a payment fail": the subscription is canceled (Stripe's default),
/// marked `unpaid`, or left `past_due`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetriesSpent {
    #[default]
    Cancel,
    Unpaid,
    PastDue,
}

/// A 24-character random suffix as in Stripe's ids (`pi_3Nx…`).
pub fn random_suffix(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A new id with Stripe's prefix for the kind of object.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", random_suffix(24))
}

/// The real clock, in Unix seconds.
pub fn wall_clock() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs() as i64)
}

impl Account {
    /// The account's idea of now (the real clock, possibly advanced for tests).
    pub fn now(&self) -> i64 {
        wall_clock() + self.clock_offset
    }

    pub fn get(&self, id: &str) -> Option<&Value> {
        self.objects.get(id)
    }

    /// An object of one kind (`object` field), or `None`.
    pub fn get_kind(&self, kind: &str, id: &str) -> Option<&Value> {
        self.objects.get(id).filter(|object| object["object"] == kind)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.objects.get_mut(id)
    }

    pub fn put(&mut self, object: Value) {
        if let Some(id) = object["id"].as_str() {
            self.objects.insert(id.to_owned(), object);
        }
    }

    /// Objects of a kind matching a predicate, newest first as Stripe lists them: by
    /// `created`, and those of one second the last made first.
    pub fn list(&self, kind: &str, keep: impl Fn(&Value) -> bool) -> Vec<&Value> {
        let mut found: Vec<&Value> = self.objects.values().rev().filter(|o| o["object"] == kind && keep(o)).collect();
        // Stable: a second's objects stay last made first.
        found.sort_by_key(|o| std::cmp::Reverse(o["created"].as_i64()));
        found
    }

    /// Records an event about `object` (a snapshot is taken now) and returns its id.
    pub fn emit(&mut self, kind: &str, object: &Value, previous: Option<Value>, request: &RequestInfo) -> String {
        let id = new_id("evt");
        let mut data = json!({ "object": object });
        // Stripe sends previous_attributes only with `*.updated` events.
        if let Some(previous) = previous.filter(|_| kind.ends_with(".updated")) {
            data["previous_attributes"] = previous;
        }
        self.events.push(json!({
            "id": id,
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": false,
            "pending_webhooks": 0,
            "request": { "id": request.id, "idempotency_key": request.idempotency_key },
            "type": kind,
        }));
        id
    }

    pub fn event(&self, id: &str) -> Option<&Value> {
        self.events.iter().find(|event| event["id"] == id)
    }

    pub fn event_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.events.iter_mut().find(|event| event["id"] == id)
    }

    /// Replaces `field` ids named in `expand` by the objects they refer to (one level,
    /// plus `a.b` paths, through lists), and adds the fields Stripe includes only when
    /// asked (an invoice's `payments`). A path naming what cannot be expanded (a field
    /// the object lacks, a number, a status, `metadata`, a list's `data` itself, a
    /// list's item field without `data.`) is refused as Stripe refuses it.
    /// Not `strict`: such paths are left out, for a reply to a write that is already
    /// carried out (see `api::check_expand`).
    pub fn expand(&self, object: Value, expand: &[String], strict: bool) -> Result<Value, ApiError> {
        expand.iter().try_fold(object, |object, path| match self.expand_path(object.clone(), &path.split('.').collect::<Vec<_>>()) {
            Ok(expanded) => Ok(expanded),
            Err(refused) if strict => Err(refused),
            Err(_) => Ok(object),
        })
    }

    fn expand_path(&self, mut object: Value, path: &[&str]) -> Result<Value, ApiError> {
        let Some((&first, rest)) = path.split_first() else { return Ok(object) };
        let cannot = || ApiError::invalid(format!("This property cannot be expanded ({first})."));
        if object["object"] == "list" && first != "data" {
            return Err(ApiError::invalid(format!(
                "This property cannot be expanded ({first}). You may want to try expanding 'data.{first}' instead."
            )));
        }
        if object.get(first).is_none_or(Value::is_null) {
            match self.includable(&object, first) {
                Some(included) => object[first] = included,
                None if object.get(first).is_none() => return Err(cannot()),
                None => {}
            }
        }
        let value = object[first].take();
        object[first] = match value {
            Value::Null => Value::Null,
            Value::String(id) if rest.is_empty() => match self.get(&id) {
                Some(found) => found.clone(),
                None if names_an_object(&id) => Value::String(id),
                None => return Err(cannot()),
            },
            Value::String(id) => match self.get(&id) {
                Some(found) => self.expand_path(found.clone(), rest)?,
                None if names_an_object(&id) => Value::String(id),
                None => return Err(cannot()),
            },
            Value::Array(items) if !rest.is_empty() => {
                Value::Array(items.into_iter().map(|item| self.expand_path(item, rest)).collect::<Result<_, _>>()?)
            }
            Value::Object(inner) if !rest.is_empty() => self.expand_path(Value::Object(inner), rest)?,
            // Expanded already (by an earlier path), or included when asked.
            Value::Object(inner) if inner.contains_key("object") => Value::Object(inner),
            _ => return Err(cannot()),
        };
        Ok(object)
    }
}

/// Whether a string is an object's id (`pi_3Mtw…`), as opposed to a status or another
/// word (`requires_capture`, `charge_automatically`): ids the emulator keeps no object
/// for (a balance transaction's) are left as they are.
fn names_an_object(text: &str) -> bool {
    text.split_once('_').is_some_and(|(prefix, rest)| {
        prefix.bytes().all(|b| b.is_ascii_lowercase())
            && rest.len() >= 14
            && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            && rest.bytes().any(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    })
}

impl Account {
    /// A field Stripe leaves out unless `expand` names it.
    fn includable(&self, object: &Value, field: &str) -> Option<Value> {
        if object["object"] != "invoice" || field != "payments" {
            return None;
        }
        let id = &object["id"];
        let payments: Vec<Value> = self.list("invoice_payment", |payment| payment["invoice"] == *id).into_iter().cloned().collect();
        Some(json!({ "object": "list", "data": payments, "has_more": false, "url": "/v1/invoice_payments" }))
    }
}

/// What an event records of the request that caused it.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    pub id: Option<String>,
    pub idempotency_key: Option<String>,
}
