//! Orders and the attempts to pay them: an attempt recorded before Stripe is called
//! (with the request it sends, replayed as it is), its answer recorded after.

use super::db::{Row, ToParam, Tx};
use super::inventory::{release_stock, reserve_stock};
use super::sessions::{cart_is_empty, lock_session};
use super::{Backend, Store, StoreError, count};

/// Where an order is in its payment. Stored as its snake-case name; it only moves
/// forward (`pending` → `confirming` → `authorized`/`paid`, or `failed` and back to
/// `pending`'s next attempt; `canceled` at the end of an authorisation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Created; no payment attempt has an answer yet.
    Pending,
    /// Stripe accepted a payment that has not settled (authentication, a debit).
    Confirming,
    /// Authorised, waiting for the merchant to capture it.
    Authorized,
    Paid,
    /// The last attempt failed; the shopper may pay again.
    Failed,
    /// The authorisation was canceled (by the merchant, or it expired).
    Canceled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Pending,
        OrderStatus::Confirming,
        OrderStatus::Failed,
        OrderStatus::Authorized,
        OrderStatus::Paid,
        OrderStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Confirming => "confirming",
            OrderStatus::Authorized => "authorized",
            OrderStatus::Paid => "paid",
            OrderStatus::Failed => "failed",
            OrderStatus::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Still settling: the order page keeps watching it.
    pub fn is_settling(self) -> bool {
        matches!(self, OrderStatus::Pending | OrderStatus::Confirming)
    }
}

/// What became of a payment attempt, once known. Stored as text: Stripe's status, a
/// decline or error code, or why nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Stripe's PaymentIntent status after the confirmation.
    Succeeded,
    Processing,
    RequiresCapture,
    /// Stripe's `requires_action` waiting on something that takes days (a voucher paid
    /// in a shop, a bank transfer, micro-deposits), or recorded before `Authenticating`
    /// existed. Stripe says when it expires.
    RequiresAction,
    /// Stripe's `requires_action` waiting for the shopper to authenticate now (3-D
    /// Secure, or a bank's page after a redirect). One left so for `ABANDON_AFTER_SECS`
    /// is canceled by reconciliation.
    Authenticating,
    Canceled,
    /// Declined or refused by Stripe: its decline code, or its error code
    /// (`requires_payment_method` when a failed payment gave neither).
    Refused(String),
    /// The shop's own rules refused the card; no PaymentIntent was made.
    RefusedByShop,
    /// No PaymentIntent request was sent (the details could not be used).
    NotSent,
    /// Stripe answered with a status this flow does not expect.
    UnexpectedStatus,
}

impl AttemptOutcome {
    pub fn as_str(&self) -> &str {
        match self {
            AttemptOutcome::Succeeded => "succeeded",
            AttemptOutcome::Processing => "processing",
            AttemptOutcome::RequiresCapture => "requires_capture",
            AttemptOutcome::RequiresAction => "requires_action",
            AttemptOutcome::Authenticating => "authenticating",
            AttemptOutcome::Canceled => "canceled",
            AttemptOutcome::Refused(code) => code,
            AttemptOutcome::RefusedByShop => "refused_by_shop",
            AttemptOutcome::NotSent => "not_sent",
            AttemptOutcome::UnexpectedStatus => "unexpected_status",
        }
    }

    pub fn parse(text: &str) -> AttemptOutcome {
        match text {
            "succeeded" => AttemptOutcome::Succeeded,
            "processing" => AttemptOutcome::Processing,
            "requires_capture" => AttemptOutcome::RequiresCapture,
            "requires_action" => AttemptOutcome::RequiresAction,
            "authenticating" => AttemptOutcome::Authenticating,
            "canceled" => AttemptOutcome::Canceled,
            "refused_by_shop" => AttemptOutcome::RefusedByShop,
            "not_sent" => AttemptOutcome::NotSent,
            "unexpected_status" => AttemptOutcome::UnexpectedStatus,
            code => AttemptOutcome::Refused(code.to_owned()),
        }
    }
}

super::db::text_column!(AttemptOutcome, |text| Some(AttemptOutcome::parse(text)));

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

super::db::text_column!(OrderStatus, OrderStatus::parse);

/// A priced cart line, copied into an order.
#[derive(Debug, Clone)]
pub struct OrderLine {
    pub product_id: String,
    pub name: String,
    pub unit_amount: i64,
    pub quantity: u32,
}

/// An order to create from a priced cart.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: String,
    /// What will be charged (after any discount).
    pub amount: i64,
    pub discount_amount: i64,
    /// The code behind `discount_amount`.
    pub discount_code: Option<String>,
    pub currency: String,
    pub lines: Vec<OrderLine>,
    /// Where the order's emails go (`None`: the shopper gave none).
    pub email: Option<String>,
    /// The language the shopper paid in (its emails are written in it).
    pub locale: String,
}

/// One attempt to pay an order, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub order_id: String,
    pub number: i64,
    pub confirmation_token_id: String,
    pub idempotency_key: String,
    pub amount: i64,
    pub currency: String,
    pub payment_intent_id: Option<String>,
    /// `None` while Stripe's answer is unknown.
    pub outcome: Option<AttemptOutcome>,
    /// The Stripe Customer the payment is for (a signed-in shopper's).
    pub customer_id: Option<String>,
    /// The form body first sent to Stripe for this attempt (replayed as it is).
    pub request_body: Option<String>,
}

/// What Stripe said of an attempt, to record.
#[derive(Debug, Clone, Copy)]
pub struct AttemptResult<'a> {
    pub payment_intent_id: Option<&'a str>,
    pub outcome: &'a AttemptOutcome,
    /// Where the order goes (unless it is already paid or canceled).
    pub order_status: OrderStatus,
    /// The payment went through: the order's lines leave the cart (once).
    pub clear_cart: bool,
    pub details: Option<&'a PaymentDetails>,
}

/// What the merchant needs to know of a payment: where to ship, and what paid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentDetails {
    /// The shipping address as JSON (`{name, phone, address{line1, …}}`).
    pub shipping: Option<String>,
    pub payment_method_id: Option<String>,
    /// `card`, `sepa_debit`, …
    pub payment_method_type: Option<String>,
    pub card_brand: Option<String>,
    pub last4: Option<String>,
}

/// What `start_attempt` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptStart {
    /// A new attempt, recorded before calling Stripe.
    New(Attempt),
    /// This token was already used by this session: the same attempt again.
    Replay(Attempt),
    /// An earlier attempt's outcome is unknown; it must be resolved first.
    Unresolved(Attempt),
    /// The token was used by someone else.
    TokenUsedElsewhere,
    /// The cart is empty (it may have just become an order by a concurrent request).
    CartEmpty,
    /// Not enough of a product is left (others reserved or bought it since the cart was
    /// filled): nothing was recorded or reserved.
    OutOfStock { name: String, available: u32 },
}

/// Where a payment starts from (`Store::payment_basis`).
#[derive(Debug, Clone)]
pub struct PaymentBasis {
    /// The attempt that used the token, and whether it was this session's.
    pub token_attempt: Option<(Attempt, bool)>,
    /// The session's attempts waiting for 3-D Secure or a redirect.
    pub awaiting_action: Vec<Attempt>,
    /// The session's cart lines and discount code.
    pub cart: super::CartContents,
}

/// A line of the merchant's order list.
#[derive(Debug, Clone)]
pub struct OrderSummary {
    pub id: String,
    pub status: OrderStatus,
    pub amount: i64,
    pub currency: String,
    /// What the merchant must look at: the order's own flag (`oversold`,
    /// `amount_mismatch`), `refund_failed` once a refund of it failed (the money went
    /// back to the Stripe balance, not to the shopper), then where a dispute of its
    /// charge stands.
    pub flags: Vec<String>,
    /// The merchant was told about it and has not marked it handled since.
    pub waiting: bool,
    pub created_at: i64,
    /// What Stripe took (all of `amount` unless a capture took less).
    pub charged: i64,
    /// What went back (refunds that succeeded).
    pub refunded: i64,
}

impl OrderSummary {
    pub fn shown_status(&self) -> &'static str {
        shown_status(self.status, self.charged, self.refunded)
    }
}

/// The status the shopper and the merchant see. A paid order that money went back to
/// shows as `partially_refunded` or `refunded`: its payment status stays `paid` (the
/// payment did go through), and the refunded total, counted once per refund, says
/// the rest.
pub fn shown_status(status: OrderStatus, charged: i64, refunded: i64) -> &'static str {
    match status {
        OrderStatus::Paid if refunded > 0 && refunded >= charged => "refunded",
        OrderStatus::Paid if refunded > 0 => "partially_refunded",
        status => status.as_str(),
    }
}

/// The columns besides `flag` that [`flags_from`] reads, for `SELECT … FROM orders`: a
/// failed refund (found by `refunds_by_order`) and the dispute.
macro_rules! flag_columns {
    () => {
        "CASE WHEN EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = orders.id AND r.status = 'failed') \
         THEN 'refund_failed' END AS refund_flag, dispute"
    };
}

/// The columns of an [`OrderSummary`], for `SELECT … FROM orders`.
pub(crate) const SUMMARY_COLUMNS: &str = concat!(
    "id, status, amount, currency, flag, ",
    flag_columns!(),
    ", flagged_at, created_at, COALESCE(amount_received, amount) AS charged, amount_refunded"
);

/// Which of the merchant's orders a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderFilter {
    All,
    Status(OrderStatus),
    /// Those the merchant was told about (a dispute, a refund that failed, an order
    /// oversold or charged another amount) and has not marked handled since.
    Flagged,
    /// One subscription's (`sub_…`): its paid invoices.
    Subscription(String),
}

/// What the merchant's order page says the merchant must look at on an order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFlags {
    /// See [`OrderSummary::flags`].
    pub flags: Vec<String>,
    /// Since when the order waits for the merchant (it is in the flagged list);
    /// `None` once they marked it handled, until a new message about it.
    pub flagged_at: Option<i64>,
    /// When the merchant last marked it handled.
    pub handled_at: Option<i64>,
}

/// What came of the merchant marking an order handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// It left the flagged list.
    Done,
    /// It was not in it (handled already, by a double click or another tab).
    Already,
    /// A message about it was queued after the page the merchant read: nothing changed.
    NewsSince,
    /// The merchant was never told about it.
    NothingToHandle,
    /// No such order.
    NoOrder,
}

/// An order as its status page shows it.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub id: String,
    pub status: OrderStatus,
    pub amount: i64,
    pub currency: String,
    pub discount_amount: i64,
    pub discount_code: Option<String>,
    /// What the customer's credit with Stripe paid (an invoice's order), before `amount`.
    pub credit_amount: i64,
    pub payment_intent_id: Option<String>,
    pub created_at: i64,
    /// When its status last changed.
    pub updated_at: i64,
    /// What Stripe took (all of `amount` unless a capture took less).
    pub charged: i64,
    /// What went back (refunds that succeeded).
    pub refunded: i64,
    /// Where its emails go, and in which language (`None`: the shop's default).
    pub email: Option<String>,
    pub locale: Option<String>,
    pub lines: Vec<OrderLine>,
    pub details: PaymentDetails,
    /// For a subscription's order: the subscription and the invoice it paid.
    pub invoice: Option<(String, String)>,
    /// What opens its page to anyone holding it (the links of its emails); `None` for
    /// an order made before there were keys.
    pub view_key: Option<String>,
}

impl OrderRecord {
    pub fn shown_status(&self) -> &'static str {
        shown_status(self.status, self.charged, self.refunded)
    }
}

/// `orders o` belongs to the session bound as the last parameter: placed in it, or
/// placed by the account the session is signed in to.
pub(super) const OWNED_BY_SESSION: &str =
    "(o.session_id = $2 OR o.account_id = (SELECT account_id FROM sessions WHERE id = $2 AND ended_at IS NULL))";

pub(super) const ATTEMPT_COLUMNS: &str = "pa.order_id, pa.attempt, pa.confirmation_token_id, pa.idempotency_key, pa.amount, pa.currency, \
     pa.payment_intent_id, pa.outcome, pa.customer_id, pa.request_body";

/// The attempt that used `token`, and whether it belongs to `session_id`.
pub(super) fn token_attempt(tx: &mut Tx<'_>, token: &str, session_id: &str) -> Result<Option<(Attempt, bool)>, StoreError> {
    let row = tx.query_opt(
        &format!(
            "SELECT {ATTEMPT_COLUMNS}, o.session_id FROM payment_attempts pa JOIN orders o ON o.id = pa.order_id
         WHERE pa.confirmation_token_id = $1"
        ),
        &[&token],
    )?;
    let Some(row) = row else { return Ok(None) };
    let owner: String = row.get("session_id")?;
    Ok(Some((attempt_from(&row)?, owner == session_id)))
}

/// A session's attempts waiting for the shopper: 3-D Secure, a redirect, a voucher.
fn awaiting_action(tx: &mut Tx<'_>, session_id: &str) -> Result<Vec<Attempt>, StoreError> {
    let rows = tx.query(
        &format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts pa JOIN orders o ON o.id = pa.order_id
             WHERE o.session_id = $1 AND o.status = 'confirming' AND pa.outcome IN ('requires_action', 'authenticating')"
        ),
        &[&session_id],
    )?;
    rows.iter().map(attempt_from).collect()
}

/// A row of `SELECT {SUMMARY_COLUMNS} FROM orders`.
pub(super) fn order_summary_from(row: &Row) -> Result<OrderSummary, StoreError> {
    Ok(OrderSummary {
        id: row.get("id")?,
        status: row.get("status")?,
        amount: row.get("amount")?,
        currency: row.get("currency")?,
        flags: flags_from(row)?,
        waiting: row.get::<Option<i64>>("flagged_at")?.is_some(),
        created_at: row.get("created_at")?,
        charged: row.get("charged")?,
        refunded: row.get("amount_refunded")?,
    })
}

/// The order's flags, from a row with `flag` and the [`flag_columns`], in that order.
fn flags_from(row: &Row) -> Result<Vec<String>, StoreError> {
    let flags: [Option<String>; 3] = [row.get("flag")?, row.get("refund_flag")?, row.get("dispute")?];
    Ok(flags.into_iter().flatten().collect())
}

pub(super) fn attempt_from(row: &Row) -> Result<Attempt, StoreError> {
    Ok(Attempt {
        order_id: row.get("order_id")?,
        number: row.get("attempt")?,
        confirmation_token_id: row.get("confirmation_token_id")?,
        idempotency_key: row.get("idempotency_key")?,
        amount: row.get("amount")?,
        currency: row.get("currency")?,
        payment_intent_id: row.get("payment_intent_id")?,
        outcome: row.get("outcome")?,
        customer_id: row.get("customer_id")?,
        request_body: row.get("request_body")?,
    })
}

pub(super) fn start_attempt(
    tx: &mut Tx<'_>,
    session_id: &str,
    order: &NewOrder,
    token: &str,
    customer: Option<&str>,
    now: i64,
    request: impl FnOnce(&Attempt) -> Option<String>,
) -> Result<AttemptStart, StoreError> {
    let (amount, currency, lines) = (order.amount, order.currency.as_str(), &order.lines);
    // Two requests of one session queue here instead of both reading "no attempt in
    // flight".
    lock_session(tx, session_id)?;
    if let Some((attempt, own)) = token_attempt(tx, token, session_id)? {
        tx.abandon();
        return Ok(if own { AttemptStart::Replay(attempt) } else { AttemptStart::TokenUsedElsewhere });
    }
    if let Some(email) = &order.email {
        // Remembered for the session's next checkout.
        tx.execute("UPDATE sessions SET email = $1 WHERE id = $2", &[&email, &session_id])?;
    }
    let open: Option<String> = tx.scalar(
        "SELECT id FROM orders WHERE session_id = $1 AND status IN ('pending', 'failed') ORDER BY created_at DESC LIMIT 1",
        &[&session_id],
    )?;
    let order_id = match open {
        Some(order_id) => {
            let unresolved = tx.query_opt(
                &format!("SELECT {ATTEMPT_COLUMNS} FROM payment_attempts pa WHERE pa.order_id = $1 AND pa.outcome IS NULL"),
                &[&order_id],
            )?;
            if let Some(row) = unresolved {
                let attempt = attempt_from(&row)?;
                tx.abandon();
                return Ok(AttemptStart::Unresolved(attempt));
            }
            if cart_is_empty(tx, session_id)? {
                tx.abandon();
                return Ok(AttemptStart::CartEmpty);
            }
            tx.execute("UPDATE orders SET amount = $1, discount_amount = $2, currency = $3, updated_at = $4, discount_code = $5, email = $6, locale = $7
                     WHERE id = $8", &[&amount, &order.discount_amount, &currency, &now, &order.discount_code, &order.email, &order.locale, &order_id])?;
            release_stock(tx, &order_id)?;
            tx.execute("DELETE FROM order_lines WHERE order_id = $1", &[&order_id])?;
            order_id
        }
        None => {
            // The cart was priced before this transaction; if a concurrent payment
            // turned it into an order meanwhile, there is nothing left to pay for.
            if cart_is_empty(tx, session_id)? {
                tx.abandon();
                return Ok(AttemptStart::CartEmpty);
            }
            tx.execute("INSERT INTO orders (id, session_id, account_id, status, amount, discount_amount, discount_code, currency, created_at, updated_at,
                                         email, locale, view_key)
                     VALUES ($1, $2, (SELECT account_id FROM sessions WHERE id = $2), 'pending', $3, $4, $5, $6, $7, $8, $9, $10, $11)", &[&order.id, &session_id, &amount, &order.discount_amount, &order.discount_code, &currency, &now, &now, &order.email, &order.locale, &crate::session::new_token()])?;
            order.id.clone()
        }
    };
    for line in lines {
        tx.execute(
            "INSERT INTO order_lines (order_id, product_id, name, unit_amount, quantity) VALUES ($1, $2, $3, $4, $5)",
            &[&order_id, &line.product_id, &line.name, &line.unit_amount, &i64::from(line.quantity)],
        )?;
    }
    if let Some((name, available)) = reserve_stock(tx, &order_id, lines)? {
        tx.abandon();
        return Ok(AttemptStart::OutOfStock { name, available });
    }
    let number: i64 = tx.one("SELECT COALESCE(MAX(attempt), 0) + 1 FROM payment_attempts WHERE order_id = $1", &[&order_id])?;
    let mut attempt = Attempt {
        idempotency_key: format!("{order_id}-attempt-{number}"),
        order_id,
        number,
        confirmation_token_id: token.to_owned(),
        amount,
        currency: currency.to_owned(),
        payment_intent_id: None,
        outcome: None,
        customer_id: customer.map(str::to_owned),
        request_body: None,
    };
    attempt.request_body = request(&attempt);
    tx.execute("INSERT INTO payment_attempts (order_id, attempt, confirmation_token_id, idempotency_key, amount, currency, created_at, customer_id, request_body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", &[&attempt.order_id, &attempt.number, &attempt.confirmation_token_id, &attempt.idempotency_key, &attempt.amount, &attempt.currency, &now, &attempt.customer_id, &attempt.request_body])?;
    Ok(AttemptStart::New(attempt))
}

pub(super) fn finish_attempt(tx: &mut Tx<'_>, attempt: &Attempt, result: AttemptResult<'_>, now: i64) -> Result<(), StoreError> {
    let AttemptResult { payment_intent_id, outcome, order_status, clear_cart, details } = result;
    lock_order(tx, &attempt.order_id)?;
    tx.execute("UPDATE payment_attempts SET payment_intent_id = COALESCE($1, payment_intent_id), outcome = $2 WHERE order_id = $3 AND attempt = $4", &[&payment_intent_id, &outcome, &attempt.order_id, &attempt.number])?;
    // Only the order's latest attempt speaks for it: a late answer about an earlier
    // one (an old result page) must not undo a later one.
    let moved = tx.execute(
        "UPDATE orders SET status = $1, payment_intent_id = COALESCE($2, payment_intent_id), updated_at = $3
             WHERE id = $4 AND status IN ('pending', 'failed', 'confirming')
             AND NOT EXISTS (SELECT 1 FROM payment_attempts later WHERE later.order_id = $4 AND later.attempt > $5)",
        &[&order_status, &payment_intent_id, &now, &attempt.order_id, &attempt.number],
    )?;
    if moved == 1 && matches!(order_status, OrderStatus::Failed | OrderStatus::Canceled) {
        release_stock(tx, &attempt.order_id)?;
    }
    if let Some(details) = details {
        record_details(tx, &attempt.order_id, details)?;
    }
    if clear_cart {
        clear_ordered_lines(tx, &attempt.order_id)?;
    }
    Ok(())
}

/// An order of this session, or of the account it is signed in to.
pub(super) fn order_record(tx: &mut Tx<'_>, order_id: &str, session_id: &str) -> Result<Option<OrderRecord>, StoreError> {
    let row = tx.query_opt(
        &format!(
            "SELECT id, status, amount, currency, discount_amount, discount_code, credit_amount, payment_intent_id, created_at, updated_at,
                COALESCE(amount_received, amount) AS charged, amount_refunded, email, locale,
                shipping, payment_method_id, payment_method_type, card_brand, last4, subscription_id, invoice_id, view_key
         FROM orders o WHERE id = $1 AND {OWNED_BY_SESSION}"
        ),
        &[&order_id, &session_id],
    )?;
    let Some(row) = row else { return Ok(None) };
    let lines = tx
        .query("SELECT product_id, name, unit_amount, quantity FROM order_lines WHERE order_id = $1 ORDER BY name", &[&order_id])?
        .iter()
        .map(|line| {
            Ok(OrderLine {
                product_id: line.get("product_id")?,
                name: line.get("name")?,
                unit_amount: line.get("unit_amount")?,
                quantity: count(line.get("quantity")?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(OrderRecord {
        id: row.get("id")?,
        status: row.get("status")?,
        amount: row.get("amount")?,
        currency: row.get("currency")?,
        discount_amount: row.get("discount_amount")?,
        discount_code: row.get("discount_code")?,
        credit_amount: row.get("credit_amount")?,
        payment_intent_id: row.get("payment_intent_id")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        charged: row.get("charged")?,
        refunded: row.get("amount_refunded")?,
        email: row.get("email")?,
        locale: row.get("locale")?,
        lines,
        details: PaymentDetails {
            shipping: row.get("shipping")?,
            payment_method_id: row.get("payment_method_id")?,
            payment_method_type: row.get("payment_method_type")?,
            card_brand: row.get("card_brand")?,
            last4: row.get("last4")?,
        },
        invoice: row.get::<Option<String>>("subscription_id")?.zip(row.get::<Option<String>>("invoice_id")?),
        view_key: row.get("view_key")?,
    }))
}

/// Serializes the write transactions of one order (on SQLite they already are).
pub(super) fn lock_order(tx: &mut Tx<'_>, order_id: &str) -> Result<(), StoreError> {
    if tx.backend() == Backend::Postgres {
        tx.query_opt("SELECT id FROM orders WHERE id = $1 FOR UPDATE", &[&order_id])?;
    }
    Ok(())
}

/// An order's products and quantities, in product order (rows are then locked in one order).
pub(super) fn order_quantities(tx: &mut Tx<'_>, order_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
    let lines = tx.query("SELECT product_id, quantity FROM order_lines WHERE order_id = $1 ORDER BY product_id", &[&order_id])?;
    lines.iter().map(|line| Ok((line.get("product_id")?, line.get("quantity")?))).collect::<Result<_, StoreError>>()
}

/// Takes an order's lines out of the cart of the session that placed it, once: the
/// first payment outcome that says it went through (the confirmation, the result page,
/// the webhook) does it, and every later one finds it done. Only what the order bought
/// leaves: a line the shopper added since, or the part of a quantity raised since,
/// stays in the cart.
pub(super) fn clear_ordered_lines(tx: &mut Tx<'_>, order_id: &str) -> Result<(), StoreError> {
    let session: Option<String> =
        tx.scalar("UPDATE orders SET cart_cleared = 1 WHERE id = $1 AND cart_cleared = 0 RETURNING session_id", &[&order_id])?;
    let Some(session_id) = session else { return Ok(()) };
    for (product_id, quantity) in order_quantities(tx, order_id)? {
        tx.execute(
            "DELETE FROM cart_lines WHERE session_id = $1 AND product_id = $2 AND quantity <= $3",
            &[&session_id, &product_id, &quantity],
        )?;
        tx.execute(
            "UPDATE cart_lines SET quantity = quantity - $1 WHERE session_id = $2 AND product_id = $3",
            &[&quantity, &session_id, &product_id],
        )?;
    }
    Ok(())
}

/// Records where to ship and what paid; a detail Stripe did not send keeps what was
/// recorded before. Where it ships is remembered for the session's next checkout too.
pub(super) fn record_details(tx: &mut Tx<'_>, order_id: &str, details: &PaymentDetails) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE orders SET shipping = COALESCE($1, shipping), payment_method_id = COALESCE($2, payment_method_id),
                payment_method_type = COALESCE($3, payment_method_type), card_brand = COALESCE($4, card_brand), last4 = COALESCE($5, last4)
         WHERE id = $6",
        &[&details.shipping, &details.payment_method_id, &details.payment_method_type, &details.card_brand, &details.last4, &order_id],
    )?;
    if let Some(shipping) = &details.shipping {
        tx.execute("UPDATE sessions SET shipping = $1 WHERE id = (SELECT session_id FROM orders WHERE id = $2)", &[shipping, &order_id])?;
    }
    Ok(())
}

impl Store {
    /// Records an attempt to pay the session's open order with `token` (the open order
    /// is brought up to date with `order`, or `order` is created when there is none), in
    /// one transaction. The idempotency key is `{order}-attempt-{n}`. `token` is the
    /// ConfirmationToken (or, on the legacy path, the PaymentMethod) the attempt pays
    /// with; `customer` the signed-in shopper's Stripe Customer. `request` makes the
    /// form body the attempt will send to Stripe, recorded with it in the same
    /// transaction, so that every retry sends exactly these bytes.
    pub async fn start_attempt(
        &self,
        session_id: &str,
        order: &NewOrder,
        token: &str,
        customer: Option<&str>,
        now: i64,
        request: impl FnOnce(&Attempt) -> Option<String> + Send + 'static,
    ) -> Result<AttemptStart, StoreError> {
        let (session_id, order, token, customer) = (session_id.to_owned(), order.clone(), token.to_owned(), customer.map(str::to_owned));
        self.write(move |tx| start_attempt(tx, &session_id, &order, &token, customer.as_deref(), now, request)).await
    }
    /// Where a session's payment with `token` starts from, in one read: the attempt that
    /// used the token (and whether it was this session's), the session's attempts
    /// waiting for 3-D Secure or a redirect, and its cart.
    pub async fn payment_basis(&self, session_id: &str, token: &str) -> Result<PaymentBasis, StoreError> {
        let (session_id, token) = (session_id.to_owned(), token.to_owned());
        self.read(move |tx| {
            Ok(PaymentBasis {
                token_attempt: token_attempt(tx, &token, &session_id)?,
                awaiting_action: awaiting_action(tx, &session_id)?,
                cart: super::sessions::cart(tx, &session_id)?,
            })
        })
        .await
    }
    /// Records Stripe's answer to an attempt and moves its order to `order_status`,
    /// unless the order is already paid or canceled (states only move forward). With
    /// `clear_cart`, the order's lines leave its session's cart in the same
    /// transaction, once (see [`clear_ordered_lines`]).
    pub async fn finish_attempt(&self, attempt: &Attempt, result: AttemptResult<'_>, now: i64) -> Result<(), StoreError> {
        let attempt = attempt.clone();
        let (intent, outcome, status, details) =
            (result.payment_intent_id.map(str::to_owned), result.outcome.to_owned(), result.order_status, result.details.cloned());
        let clear_cart = result.clear_cart;
        self.write(move |tx| {
            let result = AttemptResult {
                payment_intent_id: intent.as_deref(),
                outcome: &outcome,
                order_status: status,
                clear_cart,
                details: details.as_ref(),
            };
            finish_attempt(tx, &attempt, result, now)
        })
        .await
    }
    /// An order of this session, or of the account it is signed in to (`None` for
    /// anyone else's).
    pub async fn order_of_session(&self, order_id: &str, session_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let (order_id, session_id) = (order_id.to_owned(), session_id.to_owned());
        self.read(move |tx| order_record(tx, &order_id, &session_id)).await
    }
    /// The id of this session's order paid (or being paid) by a PaymentIntent.
    pub async fn order_id_for_payment_intent(&self, payment_intent_id: &str, session_id: &str) -> Result<Option<String>, StoreError> {
        let (payment_intent_id, session_id) = (payment_intent_id.to_owned(), session_id.to_owned());
        self.read(move |tx| {
            tx.scalar(
                &format!(
                    "SELECT o.id FROM payment_attempts pa JOIN orders o ON o.id = pa.order_id
                 WHERE pa.payment_intent_id = $1 AND {OWNED_BY_SESSION}"
                ),
                &[&payment_intent_id, &session_id],
            )
        })
        .await
    }
    /// Attempts whose outcome is unknown (Stripe's reply never arrived), started
    /// before `cutoff`, with the request to replay under their key.
    pub async fn unresolved_attempts(&self, cutoff: i64) -> Result<Vec<Attempt>, StoreError> {
        self.read(move |tx| {
            let rows = tx.query(
                &format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts pa
                 WHERE pa.outcome IS NULL AND pa.request_body IS NOT NULL AND pa.created_at <= $1 ORDER BY pa.created_at LIMIT 100"
                ),
                &[&cutoff],
            )?;
            rows.iter().map(attempt_from).collect::<Result<_, _>>()
        })
        .await
    }
    /// Attempts still waiting for the shopper to authenticate (3-D Secure, a redirect)
    /// whose order has not moved since `cutoff` (the shopper left them): the oldest
    /// first, a hundred at a time. Not one waiting for a voucher or a transfer, which
    /// takes days.
    pub async fn abandoned_authentications(&self, cutoff: i64) -> Result<Vec<Attempt>, StoreError> {
        self.read(move |tx| {
            let rows = tx.query(
                &format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM orders o JOIN payment_attempts pa ON pa.order_id = o.id
                 WHERE o.status = 'confirming' AND o.updated_at <= $1 AND pa.outcome = 'authenticating'
                 ORDER BY o.updated_at LIMIT 100"
                ),
                &[&cutoff],
            )?;
            rows.iter().map(attempt_from).collect::<Result<_, _>>()
        })
        .await
    }
    /// Every attempt recorded for an order, oldest first.
    pub async fn attempts(&self, order_id: &str) -> Result<Vec<Attempt>, StoreError> {
        let order_id = order_id.to_owned();
        self.read(move |tx| {
            let rows = tx.query(
                &format!("SELECT {ATTEMPT_COLUMNS} FROM payment_attempts pa WHERE pa.order_id = $1 ORDER BY pa.attempt"),
                &[&order_id],
            )?;
            rows.iter().map(attempt_from).collect::<Result<_, _>>()
        })
        .await
    }
    /// Orders still settling (`confirming`, with a PaymentIntent) last changed before
    /// `cutoff`, and orders `authorized` before `authorized_cutoff`: `(order id,
    /// PaymentIntent id)`.
    pub async fn orders_to_reconcile(&self, cutoff: i64, authorized_cutoff: i64) -> Result<Vec<(String, String)>, StoreError> {
        self.read(move |tx| {
            let rows = tx.query(
                "SELECT id, payment_intent_id FROM orders
                 WHERE payment_intent_id IS NOT NULL
                 AND (status = 'confirming' AND updated_at <= $1 OR status = 'authorized' AND updated_at <= $2)
                 ORDER BY updated_at LIMIT 500",
                &[&cutoff, &authorized_cutoff],
            )?;
            rows.iter().map(|row| Ok((row.get("id")?, row.get("payment_intent_id")?))).collect::<Result<_, StoreError>>()
        })
        .await
    }
    /// Orders for the merchant, newest first, optionally of one status.
    pub async fn list_orders(&self, status: Option<OrderStatus>, limit: i64) -> Result<Vec<OrderSummary>, StoreError> {
        self.orders_page(status.map_or(OrderFilter::All, OrderFilter::Status), None, limit).await
    }

    /// A page of the merchant's orders that `filter` keeps, newest first: the `limit`
    /// that come after `after` (the last one of the page before: its `created_at` and
    /// id), or the first page.
    pub async fn orders_page(
        &self,
        filter: OrderFilter,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<OrderSummary>, StoreError> {
        self.read(move |tx| {
            // Each filter reads an index in order (no scan, no sort), each ending in `id`:
            // `orders_by_status`, `orders_flagged` (partial), `orders_by_subscription`
            // (partial) or `orders_by_created`.
            let mut conditions = Vec::new();
            let mut params: Vec<&dyn ToParam> = Vec::new();
            match &filter {
                OrderFilter::All => {}
                OrderFilter::Status(status) => {
                    params.push(status);
                    conditions.push(format!("status = ${}", params.len()));
                }
                OrderFilter::Flagged => conditions.push("flagged_at IS NOT NULL".to_owned()),
                OrderFilter::Subscription(id) => {
                    params.push(id);
                    conditions.push(format!("subscription_id = ${}", params.len()));
                }
            }
            if let Some((created_at, id)) = &after {
                params.extend([created_at as &dyn ToParam, id]);
                conditions.push(format!("(created_at, id) < (${}, ${})", params.len() - 1, params.len()));
            }
            params.push(&limit);
            let kept = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
            let sql = format!("SELECT {SUMMARY_COLUMNS} FROM orders {kept} ORDER BY created_at DESC, id DESC LIMIT ${}", params.len());
            tx.query(&sql, &params)?.iter().map(order_summary_from).collect::<Result<_, StoreError>>()
        })
        .await
    }
    /// Any order, for the merchant (no session check).
    pub async fn order_for_merchant(&self, order_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let order_id = order_id.to_owned();
        self.read(move |tx| match tx.scalar::<String>("SELECT session_id FROM orders WHERE id = $1", &[&order_id])? {
            Some(session) => order_record(tx, &order_id, &session),
            None => Ok(None),
        })
        .await
    }
    /// How many orders wait for the merchant (the flagged list's length), counted up to
    /// `at_most` (the partial index read no further).
    pub async fn waiting_orders(&self, at_most: i64) -> Result<i64, StoreError> {
        self.read(move |tx| {
            let sql = "SELECT COUNT(*) FROM (SELECT 1 FROM orders WHERE flagged_at IS NOT NULL LIMIT $1) AS waiting";
            Ok(tx.scalar(sql, &[&at_most])?.unwrap_or(0))
        })
        .await
    }

    /// What the merchant must look at on an order, and whether they have; none for an
    /// order that doesn't exist.
    pub async fn order_flags(&self, order_id: &str) -> Result<OrderFlags, StoreError> {
        let order_id = order_id.to_owned();
        let sql = concat!("SELECT flag, ", flag_columns!(), ", flagged_at, flag_handled_at FROM orders WHERE id = $1");
        self.read(move |tx| match tx.query_opt(sql, &[&order_id])? {
            Some(row) => {
                Ok(OrderFlags { flags: flags_from(&row)?, flagged_at: row.get("flagged_at")?, handled_at: row.get("flag_handled_at")? })
            }
            None => Ok(OrderFlags::default()),
        })
        .await
    }

    /// The merchant has dealt with what they were told about an order: it leaves the
    /// flagged list until a new message about it. `seen` is how many messages to the
    /// merchant about it their page showed: if one was queued since (a dispute lost
    /// while they read about it being opened), nothing changes, so that nothing new is
    /// marked handled unread.
    pub async fn mark_handled(&self, order_id: &str, seen: i64, now: i64) -> Result<Handled, StoreError> {
        let order_id = order_id.to_owned();
        self.write(move |tx| {
            // The order's lock first, then the count in a statement of its own: on
            // PostgreSQL a message queued meanwhile (under the same lock, see
            // `alert_merchant`) is then either counted here or flags the order again after.
            lock_order(tx, &order_id)?;
            let Some(row) = tx.query_opt(
                "SELECT flagged_at, flag_handled_at, (SELECT COUNT(*) FROM outbox WHERE order_id = $1 AND kind LIKE 'merchant.%') AS told
                 FROM orders WHERE id = $1",
                &[&order_id],
            )?
            else {
                return Ok(Handled::NoOrder);
            };
            let (flagged_at, handled_at, told): (Option<i64>, Option<i64>, i64) =
                (row.get("flagged_at")?, row.get("flag_handled_at")?, row.get("told")?);
            if told != seen {
                return Ok(Handled::NewsSince);
            }
            match (flagged_at, handled_at) {
                (Some(_), _) => {}
                (None, Some(_)) => return Ok(Handled::Already),
                (None, None) => return Ok(Handled::NothingToHandle),
            }
            tx.execute("UPDATE orders SET flagged_at = NULL, flag_handled_at = $2 WHERE id = $1", &[&order_id, &now])?;
            Ok(Handled::Done)
        })
        .await
    }
}
